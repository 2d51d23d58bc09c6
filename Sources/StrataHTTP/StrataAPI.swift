import Foundation
import Hummingbird
import Logging
import NIOCore
import Strata
import StrataStorage

/// An application's commands, aggregates, queries and live feed over HTTP, on any `EventStore`: register what to
/// serve, then add the routes to a Hummingbird router. The library derives the routes, the strict decoding of
/// command bodies, the status codes, the problem responses (RFC 9457) and the OpenAPI 3.1 document.
///
/// ```swift
/// var api = StrataAPI(executor: executor, authentication: BearerAuthentication(keys: keys))
/// api.command(OpenCartRequest.self) { tenant, body in OpenCart(tenant: tenant, cart: body.cart, owner: body.owner) }
/// api.aggregate(Cart.self)
/// api.query("items-per-product", projection: items, result: [ProductCount].self) { state, query in … }
/// api.liveFeed()
/// let router = Router()
/// api.addRoutes(to: router)
/// try await Application(router: router).runService()
/// ```
///
/// Routes (every one but `/health` and `/openapi.json` needs a bearer token for the tenant in its path):
/// - `POST /tenants/{tenant}/commands/{command}` — runs a command; `If-Match: "<version>"` makes it conditional.
/// - `GET /tenants/{tenant}/aggregates/{group}/{id}` — an aggregate's state (`ETag` its version); `?asOfVersion=`,
///   `?asOf=<position>`.
/// - `GET /tenants/{tenant}/streams/{group}/{id}/events?from=&limit=` — an aggregate's events, paged.
/// - `GET /tenants/{tenant}/queries/{name}?page=&pageSize=&after=<position>` — a registered query.
/// - `GET /tenants/{tenant}/events` — the live feed (Server-Sent Events; `Last-Event-ID` resumes).
/// - `GET /openapi.json`, `GET /health`.
public struct StrataAPI<Store: EventStore>: Sendable {
    /// The executor commands run on (and whose store and codec every route reads).
    public let executor: CommandExecutor<Store>
    /// How bearer tokens are checked.
    public let authentication: BearerAuthentication
    /// Sizes and times the routes hold requests to.
    public var limits: HTTPLimits
    /// The API's title and version in the OpenAPI document.
    public var title: String
    /// The API's version in the OpenAPI document.
    public var version: String

    var commands: [CommandRoute] = []
    var aggregates: [AggregateRoute<Store>] = []
    var queries: [QueryRoute] = []
    var liveFeedPolicy: AccessPolicy?

    /// An API with nothing registered yet.
    public init(
        executor: CommandExecutor<Store>, authentication: BearerAuthentication, limits: HTTPLimits = HTTPLimits(),
        title: String = "Strata API", version: String = "1"
    ) {
        self.executor = executor
        self.authentication = authentication
        self.limits = limits
        self.title = title
        self.version = version
    }

    /// The store the routes read.
    public var store: Store { executor.store }

    /// Serves a command as `POST /tenants/{tenant}/commands/{name}` (the name defaults to the command type's).
    /// The body decodes strictly into `Body` (a member it does not read, or one missing, is a 400); `make` turns
    /// the path's tenant and the body into the command — the tenant comes from the path (checked against the
    /// token), never from the body, and a command whose key names another tenant is never run.
    public mutating func command<C: Command, Body: Decodable & Sendable>(
        _ name: String? = nil, body: Body.Type, policy: AccessPolicy = .authenticated, summary: String? = nil,
        make: @escaping @Sendable (_ tenant: String, _ body: Body) throws -> C
    ) {
        let name = name ?? String(describing: C.self)
        precondition(!commands.contains { $0.name == name }, "two commands named \(name)")
        precondition(Self.isRouteName(name), "a command name is letters, digits, \"-\", \"_\" and \".\": \(name)")
        let executor = self.executor
        let shape = BodyShape.of(Body.self)
        commands.append(
            CommandRoute(
                name: name, group: C.Projector.group, bodyShape: shape, policy: policy,
                summary: summary
            ) { tenant, bytes, condition, metadata in
                let body: Body = try decodeStrictly(Body.self, from: bytes, shape: shape)
                let command: C
                do { command = try make(tenant, body) } catch { throw Problem.badRequest("the body does not make a \(name) command: \(error)") }
                guard command.key.tenant == tenant else { throw CommandRoute.Misrouted(command: name, tenant: command.key.tenant) }
                let result: CommandResult<Store.Position>
                switch condition {
                case nil: result = try await executor.execute(command, metadata: metadata)
                case .some(let kind): result = try await executor.execute(Conditional(command: command, kind: kind), metadata: metadata)
                }
                return CommandOutcome(
                    key: result.key, version: result.version, position: result.position.description, events: result.events,
                    attempts: result.attempts)
            })
    }

    /// Serves an aggregate group's states (`GET /tenants/{tenant}/aggregates/{group}/{id}`) and histories
    /// (`GET /tenants/{tenant}/streams/{group}/{id}/events`).
    public mutating func aggregate<P: AggregateProjector>(_ projector: P.Type, policy: AccessPolicy = .authenticated) where P.State: Encodable {
        precondition(!aggregates.contains { $0.group == P.group }, "aggregate group \(P.group) registered twice")
        let stateShape = (P.State.self as? any Decodable.Type).map { shapeOf($0) } ?? .any
        aggregates.append(
            AggregateRoute(group: P.group, policy: policy, stateShape: stateShape) { store, key, codec, throughVersion, asOf in
                let aggregate = try await store.load(P.self, key, codec: codec, throughVersion: throughVersion, asOf: asOf)
                guard aggregate.version > 0 else { return nil }
                return (aggregate.version, try StrataAPI.encoder.encode(aggregate.state))
            })
    }

    /// Serves a query over a projection's state as `GET /tenants/{tenant}/queries/{name}`: `run` gets the state
    /// (under the projection's lock: keep it short) and the request — its tenant, paging and parameters — and
    /// returns what the route answers (a `QueryPage` for list queries). `run` must answer for the request's tenant
    /// only (a projection over all tenants holds every tenant's data; a tenant projection, one tenant's).
    /// `?after=<position>` waits (up to `HTTPLimits.readYourWritesTimeout`) until the projection has read that
    /// position — a command's `position` — and answers 503 with `Retry-After` when it has not.
    public mutating func query<P: MultiProjector, Result: Encodable & Sendable>(
        _ name: String, projection: Projection<P, Store>, parameters: [QueryParameter] = [], result: Result.Type,
        policy: AccessPolicy = .authenticated, summary: String? = nil,
        _ run: @escaping @Sendable (borrowing P.State, QueryRequest) throws -> Result
    ) {
        precondition(!queries.contains { $0.name == name }, "two queries named \(name)")
        precondition(Self.isRouteName(name), "a query name is letters, digits, \"-\", \"_\" and \".\": \(name)")
        let resultShape = (Result.self as? any Decodable.Type).map { shapeOf($0) } ?? .any
        queries.append(
            QueryRoute(name: name, parameters: parameters, policy: policy, summary: summary, resultShape: resultShape) { request, after, timeout in
                if let after {
                    guard let position = Store.Position(after), position.description == after else { throw Problem.badRequest("after: \(quoted(after)) is not a position of this store") }
                    do {
                        try await projection.wait(until: position, timeout: timeout)
                    } catch is ProjectionTimeout {
                        // Behind, or waiting for a position the store does not have (a client's guess): the
                        // projection has read everything when nothing follows the position it reached.
                        let reached = projection.position
                        let pending = try await projection.store.readAll(after: reached, limit: 1) { _, _ in }
                        guard pending != nil else {
                            throw Problem.badRequest("after: the store has no event at position \(after) (its last is \(reached.map { "\($0)" } ?? "none"))")
                        }
                        throw Problem(
                            .projectionBehind, status: .serviceUnavailable,
                            "the query's projection has not reached position \(after) yet; retry", retryAfterSeconds: 1)
                    }
                }
                let value = try projection.read { state in try run(state, request) }
                return try StrataAPI.encoder.encode(value)
            })
    }

    /// Serves the live feed: `GET /tenants/{tenant}/events`, Server-Sent Events of the tenant's events as they are
    /// appended, each with its position as `id`; `Last-Event-ID` (or `?after=`) resumes exactly after an event.
    public mutating func liveFeed(policy: AccessPolicy = .authenticated) {
        liveFeedPolicy = policy
    }

    /// Adds the routes to `router`, with a middleware that answers every failure of the router's routes as a
    /// problem (`application/problem+json`), including routes that do not exist.
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.add(middleware: ProblemMiddleware<Context>())
        let routes = Routes(api: self, document: openAPIJSON())
        routes.add(to: router)
    }

    /// The encoder of states and query results (dates as RFC 3339, as the OpenAPI document says).
    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }

    static func isRouteName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 128
            && name.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                    true
                default: false
                }
            }
    }
}

/// The sizes and times a `StrataAPI` holds requests to.
public struct HTTPLimits: Sendable {
    /// The largest command body (bytes); a larger one is refused with 413 before it is read to the end.
    public var bodyBytesMax = 1 << 20
    /// How long a command, read or query may take before the route answers 503 (a command that times out may still
    /// commit: read the aggregate before running it again).
    public var requestTimeout: Duration = .seconds(30)
    /// The largest page of events or query items.
    public var pageSizeMax = 1_000
    /// The page size when a request names none.
    public var pageSizeDefault = 100
    /// How long `?after=` waits for a query's projection.
    public var readYourWritesTimeout: Duration = .seconds(5)
    /// How often an idle live feed sends a comment line (keeping proxies from closing it).
    public var liveFeedHeartbeat: Duration = .seconds(15)
    /// How long one write to a live-feed client may wait (its connection full: a client that stopped reading)
    /// before the server ends the stream; the client resumes from the last id it received.
    public var liveFeedStallTimeout: Duration = .seconds(30)
    /// How many events the live feed reads from the store at a time.
    public var liveFeedBatchSize = 256

    /// The defaults.
    public init() {}
}

/// A query parameter a registered query takes (besides `page`, `pageSize` and `after`), for its validation and
/// the OpenAPI document.
public struct QueryParameter: Sendable {
    /// The value's type.
    public enum Kind: Sendable { case string, integer, boolean }
    /// The parameter's name.
    public var name: String
    /// Its type: a value of another type is a 400.
    public var kind: Kind
    /// Whether a request must give it.
    public var required: Bool
    /// What it means.
    public var description: String?

    /// A parameter; see the properties.
    public init(_ name: String, _ kind: Kind = .string, required: Bool = false, description: String? = nil) {
        self.name = name
        self.kind = kind
        self.required = required
        self.description = description
    }
}

/// What a query's handler gets: the tenant of the request, its paging and parameters, and who asked.
public struct QueryRequest: Sendable {
    /// The tenant in the path (the token's tenants include it).
    public var tenant: String
    /// The page asked for, from 1 (default 1).
    public var page: Int
    /// The page size asked for (1 … `HTTPLimits.pageSizeMax`; default `HTTPLimits.pageSizeDefault`).
    public var pageSize: Int
    /// The declared parameters the request gave, checked against their kinds.
    public var parameters: [String: String]
    /// The token's subject.
    public var user: String

    /// An integer parameter (checked by the route when declared `.integer`).
    public func integer(_ name: String) -> Int? { parameters[name].flatMap { Int($0) } }
    /// A boolean parameter (`true` or `false`).
    public func boolean(_ name: String) -> Bool? { parameters[name].flatMap { Bool($0) } }
}

/// A command run with the request's `If-Match` condition (`kind`) on top of its own: the executor checks the
/// condition, the handler checks the command's own kind first (an `OpenCart` with `If-Match: "1"` must still not open
/// a cart that exists).
struct Conditional<Inner: Command>: Command {
    typealias Projector = Inner.Projector
    var command: Inner
    var kind: CommandKind
    var key: PartitionKey { command.key }

    func handle(_ aggregate: Aggregate<Inner.Projector>) throws -> [any Event] {
        switch command.kind {
        case .create where aggregate.version > 0: throw CommandError.alreadyExists(key, version: aggregate.version)
        case .update where aggregate.version == 0: throw CommandError.notFound(key)
        case .expectedVersion(let expected) where expected != aggregate.version:
            throw CommandError.conflict(key, expected: expected, actual: aggregate.version)
        default: return try command.handle(aggregate)
        }
    }
}

/// What a command route's run returns.
struct CommandOutcome: Sendable {
    var key: PartitionKey
    var version: UInt64
    var position: String
    var events: [EventRecord]
    var attempts: Int
}

struct CommandRoute: Sendable {
    /// A command whose `make` gave a key of another tenant: a bug in the application, never run.
    struct Misrouted: Error { var command: String, tenant: String }

    var name: String
    var group: String
    var bodyShape: BodyShape
    var policy: AccessPolicy
    var summary: String?
    var run: @Sendable (_ tenant: String, _ body: ByteBuffer, _ condition: CommandKind?, _ metadata: RecordMetadata) async throws -> CommandOutcome
}

struct AggregateRoute<Store: EventStore>: Sendable {
    var group: String
    var policy: AccessPolicy
    var stateShape: BodyShape
    /// The state's version and JSON; nil when the aggregate has no events (as of the bound).
    var load: @Sendable (Store, PartitionKey, any EventCodec, UInt64, Store.Position?) async throws -> (UInt64, Data)?
}

struct QueryRoute: Sendable {
    var name: String
    var parameters: [QueryParameter]
    var policy: AccessPolicy
    var summary: String?
    var resultShape: BodyShape
    var run: @Sendable (QueryRequest, _ after: String?, _ timeout: Duration) async throws -> Data
}

/// The shape of a type known only as `Decodable`.
func shapeOf(_ type: any Decodable.Type) -> BodyShape { BodyShape.of(type) }

/// `value` quoted, with control characters escaped (for details that name what a client sent).
func quoted(_ value: some StringProtocol) -> String { quotedForMessage(String(value)) }

/// `T` from a JSON body: the body must parse, have no member `shape` does not have (nor one twice), and decode —
/// one walk over the bytes for the members, then Strata's own decoder (no tree, no `Data` copy; dates as RFC 3339).
func decodeStrictly<T: Decodable>(_ type: T.Type, from bytes: ByteBuffer, shape: BodyShape) throws(Problem) -> T {
    let result: Result<T, Problem> = bytes.withUnsafeReadableBytes { document in
        let stray: BodyShape.Stray?
        do throws(JSONSyntax.Failure) {
            stray = try shape.stray(in: document)
        } catch {
            return .failure(.badRequest("the body is not JSON (byte \(error.offset): \(error.reason))"))
        }
        switch stray {
        case .unknown(let path): return .failure(.badRequest("the body has a member the command does not take: \(path)"))
        case .duplicate(let path): return .failure(.badRequest("the body has the member \(path) twice"))
        case nil: break
        }
        do {
            return .success(try decodeJSONDocument(T.self, from: document, iso8601Dates: true))
        } catch let error as DecodingError {
            return .failure(.badRequest("the body does not decode: \(describe(error))"))
        } catch {
            return .failure(.badRequest("the body does not decode"))
        }
    }
    return try result.get()
}

/// A decoding error in words naming the member (`$.lines[0].quantity`).
func describe(_ error: DecodingError) -> String {
    func path(_ codingPath: [any CodingKey]) -> String {
        codingPath.reduce("$") { path, key in key.intValue.map { "\(path)[\($0)]" } ?? "\(path).\(key.stringValue)" }
    }
    switch error {
    case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])) is missing"
    case .valueNotFound(_, let context): return "\(path(context.codingPath)) is null"
    case .typeMismatch(let type, let context): return "\(path(context.codingPath)) is not \(typeWord(type))"
    case .dataCorrupted(let context): return "\(path(context.codingPath)): \(context.debugDescription)"
    @unknown default: return "it does not match the command's body"
    }
}

private func typeWord(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: "a string"
    case is Bool.Type: "a boolean"
    case is Int.Type, is Int64.Type, is Int32.Type, is UInt64.Type, is UInt32.Type, is UInt.Type: "an integer in range"
    case is Double.Type, is Float.Type: "a number"
    default: "of the expected type"
    }
}
