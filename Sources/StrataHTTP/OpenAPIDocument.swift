import Foundation
import NIOCore
import OpenAPIKit
import Strata

/// The OpenAPI 3.1 document of a `StrataAPI`: one path per registered command, aggregate group and query, with a
/// schema for every command body, response and problem.
extension StrataAPI {
    /// The document `GET /openapi.json` serves.
    public var openAPIDocument: OpenAPI.Document {
        var paths = OpenAPI.PathItem.Map()
        paths["/health"] = .pathItem(
            OpenAPI.PathItem(
                get: OpenAPI.Operation(
                    tags: ["service"], summary: "Whether the server and its store answer", operationId: "health",
                    responses: [
                        200: .response(description: "The store answers", content: Self.json(.object(properties: ["status": .string(allowedValues: ["ok"])]))),
                        503: Self.problem("The store does not answer"),
                    ], security: [])))
        paths["/openapi.json"] = .pathItem(
            OpenAPI.PathItem(
                get: OpenAPI.Operation(
                    tags: ["service"], summary: "This document", operationId: "openAPIDocument",
                    responses: [200: .response(description: "The OpenAPI document", content: Self.json(.object))], security: [])))
        for command in commands {
            var parameters: OpenAPI.Parameter.Array = [Self.tenantParameter]
            parameters.append(
                .parameter(
                    .header(
                        name: "If-Match", schema: .string(pattern: #"^(\*|"?[0-9]{1,20}"?)$"#),
                        description: "Run the command only if the aggregate is at this version (its ETag); `*`: only if it exists")))
            parameters.append(Self.correlationParameter)
            var responses: OpenAPI.Response.Map = [
                200: .response(
                    description: "The command committed (or produced no events)", headers: ["ETag": .header(.init(schema: .string))],
                    content: Self.json(Self.commandResult))
            ]
            for (status, description) in [
                (400, "The body or a header is malformed, or the command's key is invalid"), (401, "No valid bearer token"),
                (403, "The token is not for this tenant or lacks a role"), (404, "The aggregate does not exist (an update command)"),
                (409, "A version conflict (If-Match) or the aggregate exists (a create command)"), (413, "The body is too large"),
                (415, "The body is not JSON"), (422, "The command's handler refused it (a domain error)"),
                (503, "The command took longer than the server's limit; it may still commit"),
            ] {
                responses[.status(code: status)] = Self.problem(description)
            }
            paths[OpenAPI.Path(rawValue: "/tenants/{tenant}/commands/\(command.name)")] = .pathItem(
                OpenAPI.PathItem(
                    post: OpenAPI.Operation(
                        tags: ["commands"], summary: command.summary ?? "Run \(command.name) on a \(command.group) aggregate",
                        operationId: "command-\(command.name)", parameters: parameters,
                        requestBody: OpenAPI.Request(content: Self.json(.reference(.component(named: Self.bodySchemaName(command)))), required: true),
                        responses: responses)))
        }
        for aggregate in aggregates {
            let parameters: OpenAPI.Parameter.Array = [Self.tenantParameter, Self.idParameter]
            paths[OpenAPI.Path(rawValue: "/tenants/{tenant}/aggregates/\(aggregate.group)/{id}")] = .pathItem(
                OpenAPI.PathItem(
                    get: OpenAPI.Operation(
                        tags: ["aggregates"], summary: "A \(aggregate.group) aggregate's state", operationId: "aggregate-\(aggregate.group)",
                        parameters: parameters + [
                            .parameter(.query(name: "asOfVersion", schema: .integer(minimum: (1, exclusive: false)), description: "Its state at this version")),
                            .parameter(.query(name: "asOf", schema: Self.position, description: "Its state as of this position of the store")),
                            .parameter(.header(name: "If-None-Match", schema: .string, description: "The ETag the client holds")),
                        ],
                        responses: [
                            200: .response(
                                description: "Its state", headers: ["ETag": .header(.init(schema: .string))],
                                content: Self.json(
                                    .object(
                                        properties: [
                                            "tenant": .string, "group": .string, "id": .string, "version": .integer(format: .int64),
                                            "state": aggregate.stateShape.schema,
                                        ], additionalProperties: .a(false)))),
                            304: .response(description: "Not modified since the ETag in If-None-Match"),
                            400: Self.problem("A parameter is malformed"), 401: Self.problem("No valid bearer token"),
                            403: Self.problem("The token is not for this tenant or lacks a role"),
                            404: Self.problem("The aggregate has no events (as of the bound)"),
                            503: Self.problem("The read took longer than the server's limit"),
                        ])))
            paths[OpenAPI.Path(rawValue: "/tenants/{tenant}/streams/\(aggregate.group)/{id}/events")] = .pathItem(
                OpenAPI.PathItem(
                    get: OpenAPI.Operation(
                        tags: ["aggregates"], summary: "A \(aggregate.group) aggregate's events, paged", operationId: "stream-\(aggregate.group)",
                        parameters: parameters + [
                            .parameter(.query(name: "from", schema: .integer(minimum: (1, exclusive: false)), description: "The first version (default 1)")),
                            .parameter(
                                .query(
                                    name: "limit", schema: .integer(maximum: (limits.pageSizeMax, exclusive: false), minimum: (1, exclusive: false)),
                                    description: "The most events (default \(limits.pageSizeDefault))")),
                        ],
                        responses: [
                            200: .response(
                                description: "The events; `next` is the version to ask for next (null: none after)",
                                content: Self.json(
                                    .object(
                                        properties: ["events": .array(items: Self.event), "next": .integer(format: .int64, nullable: true)],
                                        additionalProperties: .a(false)))),
                            400: Self.problem("A parameter is malformed"), 401: Self.problem("No valid bearer token"),
                            403: Self.problem("The token is not for this tenant or lacks a role"),
                            503: Self.problem("The read took longer than the server's limit"),
                        ])))
        }
        for query in queries {
            var parameters: OpenAPI.Parameter.Array = [
                Self.tenantParameter,
                .parameter(.query(name: "page", schema: .integer(minimum: (1, exclusive: false)), description: "The page, from 1")),
                .parameter(
                    .query(
                        name: "pageSize", schema: .integer(maximum: (limits.pageSizeMax, exclusive: false), minimum: (1, exclusive: false)),
                        description: "Items per page (default \(limits.pageSizeDefault))")),
                .parameter(
                    .query(
                        name: "after", schema: Self.position,
                        description: "Read your writes: answer once the query's projection has read this position (a command's `position`)")),
            ]
            for parameter in query.parameters {
                let schema: JSONSchema =
                    switch parameter.kind {
                    case .string: .string
                    case .integer: .integer(format: .int64)
                    case .boolean: .boolean
                    }
                parameters.append(.parameter(.query(name: parameter.name, required: parameter.required, schema: schema, description: parameter.description)))
            }
            paths[OpenAPI.Path(rawValue: "/tenants/{tenant}/queries/\(query.name)")] = .pathItem(
                OpenAPI.PathItem(
                    get: OpenAPI.Operation(
                        tags: ["queries"], summary: query.summary ?? "Query \(query.name)", operationId: "query-\(query.name)", parameters: parameters,
                        responses: [
                            200: .response(description: "The query's result", content: Self.json(query.resultShape.schema)),
                            400: Self.problem("A parameter is malformed or out of range"), 401: Self.problem("No valid bearer token"),
                            403: Self.problem("The token is not for this tenant or lacks a role"),
                            503: Self.problem("The projection has not reached `after` in time (Retry-After), or the query took too long"),
                        ])))
        }
        if liveFeedPolicy != nil {
            paths["/tenants/{tenant}/events"] = .pathItem(
                OpenAPI.PathItem(
                    get: OpenAPI.Operation(
                        tags: ["live feed"], summary: "The tenant's events as Server-Sent Events, live", operationId: "liveFeed",
                        parameters: [
                            Self.tenantParameter,
                            .parameter(.header(name: "Last-Event-ID", schema: Self.position, description: "Resume exactly after this event (its `id:`)")),
                            .parameter(.query(name: "after", schema: Self.position, description: "Start after this position (Last-Event-ID wins)")),
                            .parameter(.query(name: "groups", schema: .string, description: "Only these aggregate groups (comma-separated)")),
                            .parameter(.query(name: "types", schema: .string, description: "Only these event types (comma-separated)")),
                        ],
                        responses: [
                            200: .response(
                                description: "An endless stream: `id: <position>` and `data: <event as JSON>` per event, comment lines as heartbeats",
                                content: [OpenAPI.ContentType(rawValue: "text/event-stream")!: .content(OpenAPI.Content(schema: .string))]),
                            400: Self.problem("Last-Event-ID or a parameter is malformed"), 401: Self.problem("No valid bearer token"),
                            403: Self.problem("The token is not for this tenant or lacks a role"),
                        ])))
        }
        var schemas = OpenAPI.ComponentDictionary<JSONSchema>()
        schemas["Problem"] = Self.problemSchema
        schemas["Event"] = Self.eventSchema
        for command in commands { schemas[OpenAPI.ComponentKey(rawValue: Self.bodySchemaName(command))!] = command.bodyShape.schema }
        return OpenAPI.Document(
            openAPIVersion: .v3_1_1, info: OpenAPI.Document.Info(title: title, version: version), servers: [], paths: paths,
            components: OpenAPI.Components(
                schemas: schemas,
                securitySchemes: ["bearer": .securityScheme(.http(scheme: "bearer", bearerFormat: "JWT", description: "A JWT naming the tenants and roles"))]),
            security: [[.component(named: "bearer"): []]])
    }

    /// The document as JSON, encoded once for the route.
    func openAPIJSON() -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return ByteBuffer(data: try encoder.encode(openAPIDocument))
        } catch {
            preconditionFailure("the OpenAPI document does not encode: \(error)")  // (built from our own values)
        }
    }

    static func bodySchemaName(_ command: CommandRoute) -> String { "\(command.name)Body" }

    static func json(_ schema: JSONSchema) -> OpenAPI.Content.Map { [.json: .content(OpenAPI.Content(schema: schema))] }

    static func problem(_ description: String) -> Either<OpenAPI.Reference<OpenAPI.Response>, OpenAPI.Response> {
        .response(
            description: description,
            content: [OpenAPI.ContentType(rawValue: Problem.mediaType)!: .content(OpenAPI.Content(schema: .reference(.component(named: "Problem"))))])
    }

    static var tenantParameter: Either<OpenAPI.Reference<OpenAPI.Parameter>, OpenAPI.Parameter> {
        .parameter(
            .path(
                name: "tenant", schema: .string(minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$"),
                description: "The tenant (one of the token's)"))
    }

    static var idParameter: Either<OpenAPI.Reference<OpenAPI.Parameter>, OpenAPI.Parameter> {
        .parameter(
            .path(
                name: "id", schema: .string(minLength: 1, maxLength: 128, pattern: idPattern),
                description: "The aggregate's id: 1 to 128 bytes of UTF-8, no control characters, no space at either end"))
    }

    /// An id: no control characters (C0, DEL, C1), no space first or last.
    static var idPattern: String { #"^[^\u0000-\u0020\u007F-\u009F](?:[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u009F])?$"# }

    /// A position token of this store, as the store writes it (`description`; no other spelling is taken): a number
    /// without leading zeros for the native, SQLite and in-memory stores, `transaction-sequence` for PostgreSQL (any
    /// non-empty text for other backends).
    static var position: JSONSchema {
        if Store.Position.self == UInt64.self { return .string(minLength: 1, maxLength: 20, pattern: "^(0|[1-9][0-9]{0,19})$") }
        return .string(minLength: 1, maxLength: 64)
    }

    static var correlationParameter: Either<OpenAPI.Reference<OpenAPI.Parameter>, OpenAPI.Parameter> {
        .parameter(
            .header(
                name: "X-Correlation-ID", schema: .string(minLength: 1, maxLength: RecordMetadata.fieldBytesMaxForSchema),
                description: "Stored as the events' correlation id (a new one when absent); echoed in the response"))
    }

    static var event: JSONSchema { .reference(.component(named: "Event")) }

    static var eventSchema: JSONSchema {
        .object(
            properties: [
                "tenant": .string, "group": .string, "id": .string, "version": .integer(format: .int64),
                "position": .string(required: false), "type": .string, "typeVersion": .integer(format: .int64), "eventId": .string,
                "timestamp": .string(format: .dateTime),
                "metadata": .object(
                    properties: ["correlationId": .string(required: false), "causationId": .string(required: false), "user": .string(required: false)],
                    additionalProperties: .a(false)),
                "data": .fragment(required: false, description: "The payload, when it is JSON"),
                "dataBase64": .string(required: false, description: "The payload's bytes, when it is not JSON"),
            ], additionalProperties: .a(false))
    }

    static var commandResult: JSONSchema {
        .object(
            properties: [
                "tenant": .string, "group": .string, "id": .string, "version": .integer(format: .int64), "position": .string,
                "attempts": .integer, "events": .array(items: event),
            ], additionalProperties: .a(false))
    }

    static var problemSchema: JSONSchema {
        .object(
            properties: [
                "type": .string(format: .uri), "title": .string, "status": .integer, "detail": .string,
                "currentVersion": .integer(format: .int64, required: false), "expectedVersion": .integer(format: .int64, required: false),
            ])
    }
}

extension RecordMetadata {
    /// The longest correlation id, in characters for the schema (the server counts UTF-8 bytes).
    static var fieldBytesMaxForSchema: Int { RecordLimits.metadataFieldBytesMax }
}
