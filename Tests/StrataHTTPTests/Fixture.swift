import Carts
import CartsHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import NIOCore
import Strata
import StrataHTTP
import Testing

/// The carts API on an in-memory store, with tokens of every kind the tests send.
struct Fixture {
    let store: InMemoryEventStore
    let executor: CommandExecutor<InMemoryEventStore>
    let products: Projection<ItemsPerProduct, InMemoryEventStore>
    let carts: Projection<AggregateList<Cart>, InMemoryEventStore>
    let keys: JWTKeyCollection
    let api: StrataAPI<InMemoryEventStore>
    /// Tenant acme, role clerk, subject alice.
    let clerk: String
    /// Tenant acme, no role, subject bob.
    let plain: String
    /// Tenant other only.
    let otherTenant: String
    /// Expired an hour ago.
    let expired: String
    /// Signed with a key the server does not have.
    let forged: String

    static let secret = "a secret for the tests, long enough for HS256"

    init(limits: HTTPLimits = Fixture.limits, observability: Observability = .silent) async throws {
        store = InMemoryEventStore(observability: observability)
        executor = CommandExecutor(store: store)
        products = Projection(ItemsPerProduct.self, store: store)
        carts = Projection(AggregateList<Cart>.self, store: store)
        keys = await JWTKeyCollection().add(hmac: HMACKey(from: Fixture.secret), digestAlgorithm: .sha256)
        api = cartsAPI(executor: executor, authentication: BearerAuthentication(keys: keys), products: products, carts: carts, limits: limits)
        let hour: TimeInterval = 3_600
        clerk = try await keys.sign(AccessToken(subject: "alice", expires: Date() + hour, tenants: ["acme"], roles: ["clerk"]))
        plain = try await keys.sign(AccessToken(subject: "bob", expires: Date() + hour, tenants: ["acme"]))
        otherTenant = try await keys.sign(AccessToken(subject: "eve", expires: Date() + hour, tenants: ["other"], roles: ["clerk"]))
        expired = try await keys.sign(AccessToken(subject: "alice", expires: Date() - hour, tenants: ["acme"], roles: ["clerk"]))
        let foreign = await JWTKeyCollection().add(hmac: HMACKey(from: "another secret, not the server's one"), digestAlgorithm: .sha256)
        forged = try await foreign.sign(AccessToken(subject: "mallory", expires: Date() + hour, tenants: ["acme"], roles: ["clerk"]))
    }

    static var limits: HTTPLimits {
        var limits = HTTPLimits()
        limits.bodyBytesMax = 4_096
        limits.pageSizeMax = 50
        limits.readYourWritesTimeout = .milliseconds(200)
        return limits
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        api.addRoutes(to: router)
        return router
    }

    /// Runs `body` with a client of the router (no network).
    func test(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = Application(router: router())
        try await app.test(.router) { client in try await body(client) }
    }

    /// Every event of the store.
    func events() async throws -> [RecordedEvent<UInt64>] { try await store.allEvents() }
}

extension TestClientProtocol {
    /// A request with a bearer token (nil: none) and a JSON body.
    func call(
        _ method: HTTPRequest.Method, _ uri: String, token: String?, json: String? = nil, headers extra: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }
    /// The body as a JSON object.
    var object: [String: Any] { ((try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any]) ?? [:] }

    /// Checks the response is a problem of `status` and `kind`, and returns its detail.
    @discardableResult
    func expectProblem(_ status: HTTPResponse.Status, _ kind: Problem.Kind, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        #expect(self.status == status, "\(text)", sourceLocation: sourceLocation)
        #expect(headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
        #expect(object["type"] as? String == Problem.typeBase + kind.rawValue, "\(text)", sourceLocation: sourceLocation)
        #expect(object["status"] as? Int == Int(status.code), sourceLocation: sourceLocation)
        return object["detail"] as? String ?? ""
    }
}
