import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Strata
import StrataStorage

/// The route handlers of a `StrataAPI`.
struct Routes<Store: EventStore>: Sendable {
    let api: StrataAPI<Store>
    /// The OpenAPI document, encoded once.
    let document: ByteBuffer

    var limits: HTTPLimits { api.limits }
    var jsonPayloads: Bool { api.executor.codec.name == JSONEventCodec().name }

    func add<Context: RequestContext>(to router: Router<Context>) {
        router.get("health") { _, _ in try await health() }
        router.get("openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: document))
        }
        router.post("tenants/{tenant}/commands/{command}") { request, context in try await command(request, context) }
        router.get("tenants/{tenant}/aggregates/{group}/{id}") { request, context in try await aggregate(request, context) }
        router.get("tenants/{tenant}/streams/{group}/{id}/events") { request, context in try await stream(request, context) }
        router.get("tenants/{tenant}/queries/{name}") { request, context in try await query(request, context) }
        router.get("tenants/{tenant}/events") { request, context in try await liveFeed(request, context) }
        // Other methods on these paths: 405 with the method the path takes.
        let paths: [(String, HTTPRequest.Method)] = [
            ("health", .get), ("openapi.json", .get), ("tenants/{tenant}/commands/{command}", .post),
            ("tenants/{tenant}/aggregates/{group}/{id}", .get), ("tenants/{tenant}/streams/{group}/{id}/events", .get),
            ("tenants/{tenant}/queries/{name}", .get), ("tenants/{tenant}/events", .get),
        ]
        for (path, allowed) in paths {
            for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch, .options, .trace] where method != allowed {
                router.on(RouterPath(path), method: method) { request, _ -> Response in
                    var response = Problem(
                        .methodNotAllowed, status: .methodNotAllowed, "\(request.uri.path) takes \(allowed), not \(request.method)"
                    ).response
                    response.headers[.allow] = allowed.rawValue
                    return response
                }
            }
        }
    }

    // MARK: Routes

    func health() async throws -> Response {
        do {
            _ = try await within(limits.requestTimeout, "the health check") {
                try await api.store.version(of: PartitionKey(tenant: systemTenant, group: "health", id: "health"))
            }
        } catch let problem as Problem {
            throw problem
        } catch {
            throw Problem(.unavailable, status: .serviceUnavailable, "the store does not answer")
        }
        return json(#"{"status":"ok"}"#)
    }

    func command<Context: RequestContext>(_ request: Request, _ context: Context) async throws -> Response {
        let tenant = try pathTenant(context)
        let token = try await authorize(request, tenant: tenant)
        let name = try pathPart("command", context)
        guard let route = api.commands.first(where: { $0.name == name }) else { throw Problem.notFound("no command \(quoted(name))") }
        if let refusal = route.policy.refusal(of: token, operation: "command \(name)") { throw refusal }
        if let type = request.headers[.contentType], !Self.isJSON(type) {
            throw Problem(.unsupportedMediaType, status: .unsupportedMediaType, "the body must be application/json, not \(quoted(type))")
        }
        let condition = try ifMatch(request)
        let correlationId = try self.correlationId(request)
        let tooLarge = Problem(.contentTooLarge, status: .contentTooLarge, "the body is larger than \(limits.bodyBytesMax) bytes")
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limits.bodyBytesMax { throw tooLarge }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limits.bodyBytesMax)
        } catch is NIOTooManyBytesError {
            throw tooLarge
        }
        let metadata = RecordMetadata(correlationId: correlationId, user: token.sub.value)
        let outcome: CommandOutcome
        do {
            outcome = try await within(limits.requestTimeout, "the command (it may still commit: read the aggregate before running it again)") {
                try await route.run(tenant, body, condition, metadata)
            }
        } catch let error as CommandError {
            throw problem(error, context)
        } catch let error as CommandRoute.Misrouted {
            context.logger.error(
                "a command route made a command for another tenant; not run",
                metadata: ["command": "\(error.command)", "path tenant": "\(tenant)", "command tenant": "\(error.tenant)"])
            throw Problem.internalError()
        }
        var writer = JSONWriter(capacity: 512)
        writer.object { o in
            o.field("tenant") { $0.string(outcome.key.tenant) }
            o.field("group") { $0.string(outcome.key.group) }
            o.field("id") { $0.string(outcome.key.id) }
            o.field("version") { $0.integer(outcome.version) }
            o.field("position") { $0.string(outcome.position) }
            o.field("attempts") { $0.integer(outcome.attempts) }
            let first = outcome.version - UInt64(outcome.events.count)
            o.field("events") { w in
                w.array(outcome.events.enumerated()) { w, item in
                    w.event(item.element, version: first + UInt64(item.offset) + 1, position: nil, jsonPayloads: jsonPayloads)
                }
            }
        }
        return Response(
            status: .ok,
            headers: [.contentType: "application/json", .eTag: "\"\(outcome.version)\"", .correlationID: correlationId],
            body: ResponseBody(byteBuffer: writer.buffer))
    }

    func aggregate<Context: RequestContext>(_ request: Request, _ context: Context) async throws -> Response {
        let (route, key) = try await aggregateKey(request, context, reading: "aggregates")
        let query = request.uri.queryParameters
        let throughVersion = try version(query["asOfVersion"], "asOfVersion")
        let asOf = try query["asOf"].map { try position(String($0), "asOf") }
        let store = api.store
        let codec = api.executor.codec
        let loaded = try await read(context, "the aggregate") {
            try await route.load(store, key, codec, throughVersion ?? .max, asOf)
        }
        guard let (version, state) = loaded else {
            throw Problem.notFound("aggregate \(key) has no events\(throughVersion == nil && asOf == nil ? "" : " as of that bound")")
        }
        let etag = "\"\(version)\""
        if let match = request.headers[.ifNoneMatch], match.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == etag }) {
            return Response(status: .notModified, headers: [.eTag: etag])
        }
        var writer = JSONWriter(capacity: state.count + 128)
        writer.object { o in
            o.field("tenant") { $0.string(key.tenant) }
            o.field("group") { $0.string(key.group) }
            o.field("id") { $0.string(key.id) }
            o.field("version") { $0.integer(version) }
            o.field("state") { $0.raw(state) }
        }
        return Response(status: .ok, headers: [.contentType: "application/json", .eTag: etag], body: ResponseBody(byteBuffer: writer.buffer))
    }

    func stream<Context: RequestContext>(_ request: Request, _ context: Context) async throws -> Response {
        let (_, key) = try await aggregateKey(request, context, reading: "streams")
        let query = request.uri.queryParameters
        let from = try version(query["from"], "from") ?? 1
        let limit = try pageSize(query["limit"], "limit")
        let store = api.store
        let jsonPayloads = self.jsonPayloads
        let (body, next) = try await read(context, "the stream") { () async throws -> (ByteBuffer, UInt64?) in
            var writer = JSONWriter(capacity: 1_024)
            var count = 0
            var next: UInt64?
            writer.buffer.writeStaticString(#"{"events":["#)
            try await store.readStream(key, from: from, through: .max, asOf: nil, limit: limit + 1) { view, position in
                count += 1
                guard count <= limit else {
                    next = view.version
                    return
                }
                if count > 1 { writer.buffer.writeInteger(UInt8(ascii: ",")) }
                writer.event(view.record, version: view.version, position: position.description, jsonPayloads: jsonPayloads)
            }
            writer.buffer.writeStaticString("]")
            return (writer.buffer, next)
        }
        var buffer = body
        buffer.writeStaticString(#","next":"#)
        buffer.writeString(next.map { String($0) } ?? "null")
        buffer.writeStaticString("}")
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: buffer))
    }

    func query<Context: RequestContext>(_ request: Request, _ context: Context) async throws -> Response {
        let tenant = try pathTenant(context)
        let token = try await authorize(request, tenant: tenant)
        let name = try pathPart("name", context)
        guard let route = api.queries.first(where: { $0.name == name }) else { throw Problem.notFound("no query \(quoted(name))") }
        if let refusal = route.policy.refusal(of: token, operation: "query \(name)") { throw refusal }
        let query = request.uri.queryParameters
        let page = try query["page"].map { text -> Int in
            guard let page = Int(text), page >= 1 else { throw Problem.badRequest("page: \(quoted(text)) is not a page number (1 or more)") }
            return page
        } ?? 1
        let pageSize = try self.pageSize(query["pageSize"], "pageSize")
        var parameters: [String: String] = [:]
        for parameter in route.parameters {
            guard let value = query[parameter.name[...]].map(String.init) else {
                if parameter.required { throw Problem.badRequest("the query needs the parameter \(parameter.name)") }
                continue
            }
            switch parameter.kind {
            case .string: break
            case .integer where Int(value) == nil: throw Problem.badRequest("\(parameter.name): \(quoted(value)) is not an integer")
            case .boolean where Bool(value) == nil: throw Problem.badRequest("\(parameter.name): \(quoted(value)) is not true or false")
            default: break
            }
            parameters[parameter.name] = value
        }
        let queryRequest = QueryRequest(tenant: tenant, page: page, pageSize: pageSize, parameters: parameters, user: token.sub.value)
        let after = query["after"].map(String.init)
        let timeout = limits.readYourWritesTimeout
        let result: Data
        do {
            result = try await within(limits.requestTimeout, "the query") { try await route.run(queryRequest, after, timeout) }
        } catch let problem as Problem {
            throw problem
        } catch let error as QueryError {
            throw Problem.badRequest("\(error)")
        } catch {
            context.logger.error("a query failed", metadata: ["query": "\(name)", "error": "\(error)"])
            throw Problem.internalError()
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: result)))
    }

    func liveFeed<Context: RequestContext>(_ request: Request, _ context: Context) async throws -> Response {
        let tenant = try pathTenant(context)
        let token = try await authorize(request, tenant: tenant)
        guard let policy = api.liveFeedPolicy else { throw Problem.notFound("this server has no live feed") }
        if let refusal = policy.refusal(of: token, operation: "the live feed") { throw refusal }
        let query = request.uri.queryParameters
        let resumeText = request.headers[.lastEventID] ?? query["after"].map(String.init)
        let after = try resumeText.map { try position($0, request.headers[.lastEventID] != nil ? "Last-Event-ID" : "after") }
        func names(_ parameter: String) throws -> Set<String>? {
            let values = query.getAll(parameter).flatMap { $0.split(separator: ",").map(String.init) }
            return values.isEmpty ? nil : Set(values)
        }
        let filter = EventFilter(tenants: [tenant], groups: try names("groups"), eventTypes: try names("types"))
        let feed = LiveFeed(store: api.store, filter: filter, after: after, limits: limits, jsonPayloads: jsonPayloads, logger: context.logger)
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", .accelBuffering: "no"],
            body: ResponseBody { writer in try await feed.run(&writer) })
    }

    // MARK: Parts of requests

    func pathPart<Context: RequestContext>(_ name: String, _ context: Context) throws(Problem) -> String {
        guard let raw = context.parameters.get(name), let value = Self.percentDecoded(raw) else {
            throw Problem.badRequest("the path's \(name) is not percent-encoded text")
        }
        return value
    }

    /// A path segment with its `%XX` escapes resolved; nil when an escape is malformed or the result is not UTF-8
    /// (as Foundation's `removingPercentEncoding`, without its bridging for the common segment that has none).
    static func percentDecoded(_ segment: String) -> String? {
        let utf8 = segment.utf8
        guard utf8.contains(UInt8(ascii: "%")) else { return segment }
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let byte = utf8[index]
            index = utf8.index(after: index)
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard index != utf8.endIndex, let high = hex(utf8[index]) else { return nil }
            index = utf8.index(after: index)
            guard index != utf8.endIndex, let low = hex(utf8[index]) else { return nil }
            index = utf8.index(after: index)
            bytes.append(high << 4 | low)
        }
        return bytes.withUnsafeBytes { utf8String($0) }
    }

    /// The path's tenant, checked against the partition-key rules (and never Strata's own).
    func pathTenant<Context: RequestContext>(_ context: Context) throws(Problem) -> String {
        let tenant = try pathPart("tenant", context)
        do {
            _ = try PartitionKey.validated(tenant: tenant, group: "g", id: "i")
        } catch {
            throw Problem.badRequest("\(error)")
        }
        guard tenant != systemTenant else { throw Problem.forbidden("tenant \(systemTenant) is Strata's own") }
        return tenant
    }

    func pathKey<Context: RequestContext>(tenant: String, group: String, _ context: Context) throws(Problem) -> PartitionKey {
        let id = try pathPart("id", context)
        do {
            return try PartitionKey.validated(tenant: tenant, group: group, id: id)
        } catch {
            throw Problem.badRequest("\(error)")
        }
    }

    /// The registered group and the key of an aggregate route's path, once the token may read it.
    func aggregateKey<Context: RequestContext>(
        _ request: Request, _ context: Context, reading what: String
    ) async throws(Problem) -> (AggregateRoute<Store>, PartitionKey) {
        let tenant = try pathTenant(context)
        let token = try await authorize(request, tenant: tenant)
        let group = try pathPart("group", context)
        guard let route = api.aggregates.first(where: { $0.group == group }) else { throw Problem.notFound("no aggregate group \(quoted(group))") }
        if let refusal = route.policy.refusal(of: token, operation: "reading \(group) \(what)") { throw refusal }
        return (route, try pathKey(tenant: tenant, group: group, context))
    }

    /// A version parameter (1 or more), when given.
    func version(_ text: Substring?, _ name: String) throws(Problem) -> UInt64? {
        guard let text else { return nil }
        guard let version = UInt64(text), version >= 1 else { throw Problem.badRequest("\(name): \(quoted(text)) is not a version (1 or more)") }
        return version
    }

    /// The request's verified token, which must name `tenant`.
    func authorize(_ request: Request, tenant: String) async throws(Problem) -> AccessToken {
        let token = try await api.authentication.authenticate(request)
        guard token.tenants.contains(tenant) else { throw Problem.forbidden("the token is not for tenant \(tenant)") }
        return token
    }

    func position(_ text: String, _ name: String) throws(Problem) -> Store.Position {
        guard let position = Store.Position(text), position.description == text else {
            throw Problem.badRequest("\(name): \(quoted(text)) is not a position of this store")
        }
        return position
    }

    func pageSize(_ text: Substring?, _ name: String) throws(Problem) -> Int {
        guard let text else { return limits.pageSizeDefault }
        guard let size = Int(text), (1...limits.pageSizeMax).contains(size) else {
            throw Problem.badRequest("\(name): \(quoted(text)) is not a page size from 1 to \(limits.pageSizeMax)")
        }
        return size
    }

    /// The condition of `If-Match: "<version>"` (a bare number too; `*`: the aggregate must exist).
    func ifMatch(_ request: Request) throws(Problem) -> CommandKind? {
        guard let header = request.headers[.ifMatch] else { return nil }
        let value = header.trimmingCharacters(in: .whitespaces)
        if value == "*" { return .update }
        let digits = value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 ? String(value.dropFirst().dropLast()) : value
        guard let version = UInt64(digits) else { throw Problem.badRequest("If-Match: \(quoted(header)) is not an aggregate version (\"3\")") }
        return .expectedVersion(version)
    }

    /// `X-Correlation-ID` when the request has one (checked against the metadata limit), else a new one.
    func correlationId(_ request: Request) throws(Problem) -> String {
        guard let id = request.headers[.correlationID] else { return EventID.random().description }
        guard !id.isEmpty, id.utf8.count <= RecordLimits.metadataFieldBytesMax else {
            throw Problem.badRequest("X-Correlation-ID is empty or longer than \(RecordLimits.metadataFieldBytesMax) bytes")
        }
        return id
    }

    static func isJSON(_ contentType: String) -> Bool {
        if contentType.utf8.elementsEqual("application/json".utf8) { return true }  // (what nearly every client sends)
        let mediaType = contentType.split(separator: ";", maxSplits: 1)[0].trimmingCharacters(in: .whitespaces).lowercased()
        return mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
    }

    // MARK: Answers

    func json(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// Runs a read under the request timeout; the store's failures become problems (logged).
    func read<T: Sendable, Context: RequestContext>(_ context: Context, _ what: String, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        do {
            return try await within(limits.requestTimeout, what, work)
        } catch let problem as Problem {
            throw problem
        } catch let error as EventStoreError {
            throw storeProblem(error, context)
        } catch {
            context.logger.error("a read failed", metadata: ["read": "\(what)", "error": "\(error)"])
            throw Problem.internalError()
        }
    }

    func storeProblem<Context: RequestContext>(_ error: EventStoreError, _ context: Context) -> Problem {
        switch error {
        case .closed: return Problem(.unavailable, status: .serviceUnavailable, "the event store is closed")
        case .invalidKey(let error): return .badRequest("\(error)")
        case .invalidEvent(let index, let reason): return .badRequest("event \(index) of the command: \(reason)")
        case .versionConflict(let stream, _, let actual):
            return Problem(
                .versionConflict, status: .conflict, "aggregate \(stream) is at version \(actual)",
                extensions: [("currentVersion", .integer(actual))])
        case .unsupported, .storage:
            context.logger.error("the event store failed", metadata: ["error": "\(error)"])
            return .internalError()
        }
    }

    func problem<Context: RequestContext>(_ error: CommandError, _ context: Context) -> Problem {
        switch error {
        case .alreadyExists(let key, let version):
            return Problem(.alreadyExists, status: .conflict, "aggregate \(key) already exists", extensions: [("currentVersion", .integer(version))])
        case .notFound(let key):
            return .notFound("aggregate \(key) does not exist")
        case .conflict(let key, let expected, let actual):
            return Problem(
                .versionConflict, status: .conflict, "aggregate \(key) is at version \(actual), not \(expected)",
                extensions: [("currentVersion", .integer(actual)), ("expectedVersion", .integer(expected))])
        case .rejected(_, let error as CommandError):
            return problem(error, context)  // (the command's own kind, checked under an If-Match condition)
        case .rejected(_, let error):
            return Problem(.rejected, status: .unprocessableContent, "\(error)")
        case .invalidKey(_, let reason):
            return .badRequest(reason)
        case .loadFailed(let key, let error):
            context.logger.error("an aggregate did not load for a command", metadata: ["stream": "\(key)", "error": "\(error)"])
            return .internalError()
        case .store(_, let error):
            return storeProblem(error, context)
        }
    }
}

/// Runs `work` for at most `limit`; then a 503 naming `what`. The work is cancelled then; a store call that does
/// not stop at once goes on in the background, its result dropped.
func within<T: Sendable>(_ limit: Duration, _ what: String, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
    guard let value = try await Answer.within(limit, work) else {
        throw Problem(.timeout, status: .serviceUnavailable, "\(what) took longer than the server's limit of \(limit)")
    }
    return value
}

extension HTTPField.Name {
    static let correlationID = HTTPField.Name("X-Correlation-ID")!
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
    static let accelBuffering = HTTPField.Name("X-Accel-Buffering")!
}
