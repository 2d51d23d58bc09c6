import Carts
import Foundation
import HTTPTypes
import HummingbirdTesting
import OpenAPIKit
import Strata
import StrataHTTP
import Testing

/// The read routes (aggregates, streams, queries), the live feed's refusals, the service routes, and tenant
/// isolation on every route.
@Suite struct ReadRouteTests {
    /// Ann's cart: opened, coffee added, tea added (versions 1–3, positions 1–3).
    func annsCart(_ f: Fixture) async throws {
        _ = try await f.executor.execute(OpenCart(tenant: "acme", cart: "ann", owner: "ann"))
        _ = try await f.executor.execute(AddItem(tenant: "acme", cart: "ann", product: "coffee", quantity: 2, unitPrice: 350))
        _ = try await f.executor.execute(AddItem(tenant: "acme", cart: "ann", product: "tea", quantity: 1, unitPrice: 200))
    }

    @Test func anAggregateAnswersItsStateWithItsVersionAsETag() async throws {
        let f = try await Fixture()
        try await annsCart(f)
        try await f.test { client in
            let now = try await client.call(.get, "/tenants/acme/aggregates/Cart/ann", token: f.plain)
            #expect(now.status == .ok)
            #expect(now.headers[.eTag] == "\"3\"")
            #expect(now.object["version"] as? Int == 3)
            let open = (now.object["state"] as? [String: Any])?["open"] as? [String: Any]
            #expect((open?["lines"] as? [Any])?.count == 2)
            let then = try await client.call(.get, "/tenants/acme/aggregates/Cart/ann?asOfVersion=2", token: f.plain)
            #expect(then.object["version"] as? Int == 2)
            let asOf = try await client.call(.get, "/tenants/acme/aggregates/Cart/ann?asOf=1", token: f.plain)
            #expect(asOf.object["version"] as? Int == 1)
            let unchanged = try await client.call(.get, "/tenants/acme/aggregates/Cart/ann", token: f.plain, headers: [.ifNoneMatch: "\"3\""])
            #expect(unchanged.status == .notModified)
            try await client.call(.get, "/tenants/acme/aggregates/Cart/nobody", token: f.plain).expectProblem(.notFound, .notFound)
            try await client.call(.get, "/tenants/acme/aggregates/Boat/ann", token: f.plain).expectProblem(.notFound, .notFound)
            try await client.call(.get, "/tenants/acme/aggregates/Cart/ann?asOfVersion=0", token: f.plain).expectProblem(.badRequest, .badRequest)
            try await client.call(.get, "/tenants/acme/aggregates/Cart/ann?asOf=yesterday", token: f.plain).expectProblem(.badRequest, .badRequest)
            // Only the spelling the store writes (found by schemathesis: "000…0" parsed as position 0).
            try await client.call(.get, "/tenants/acme/aggregates/Cart/ann?asOf=01", token: f.plain).expectProblem(.badRequest, .badRequest)
            try await client.call(.get, "/tenants/acme/aggregates/Cart/%20ann", token: f.plain).expectProblem(.badRequest, .badRequest)
        }
    }

    @Test func aStreamPagesThroughItsEvents() async throws {
        let f = try await Fixture()
        try await annsCart(f)
        try await f.test { client in
            let first = try await client.call(.get, "/tenants/acme/streams/Cart/ann/events?limit=2", token: f.plain)
            #expect(first.status == .ok)
            let events = first.object["events"] as? [[String: Any]] ?? []
            #expect(events.map { $0["version"] as? Int } == [1, 2])
            #expect(events.map { $0["position"] as? String } == ["1", "2"])
            #expect(first.object["next"] as? Int == 3)
            let last = try await client.call(.get, "/tenants/acme/streams/Cart/ann/events?from=3", token: f.plain)
            #expect((last.object["events"] as? [[String: Any]])?.first?["type"] as? String == "ItemAdded")
            #expect(last.object["next"] is NSNull)
            try await client.call(.get, "/tenants/acme/streams/Cart/ann/events?limit=51", token: f.plain).expectProblem(.badRequest, .badRequest)
            try await client.call(.get, "/tenants/acme/streams/Cart/ann/events?from=0", token: f.plain).expectProblem(.badRequest, .badRequest)
        }
    }

    @Test func queriesPageAndWaitForTheirProjectionWhenAskedTo() async throws {
        let f = try await Fixture()
        try await annsCart(f)
        try await f.test { client in
            // The projections are not running: a read-your-writes query cannot be answered in time.
            let behind = try await client.call(.get, "/tenants/acme/queries/products?after=3", token: f.plain)
            behind.expectProblem(.serviceUnavailable, .projectionBehind)
            #expect(behind.headers[.retryAfter] == "1")
            try await f.products.catchUp()
            let products = try await client.call(.get, "/tenants/acme/queries/products?after=3&pageSize=1", token: f.plain)
            #expect(products.status == .ok, "\(products.text)")
            #expect((products.object["items"] as? [[String: Any]])?.first?["product"] as? String == "coffee")
            #expect(products.object["totalPages"] as? Int == 2)
            try await client.call(.get, "/tenants/acme/queries/products?after=99", token: f.plain).expectProblem(.badRequest, .badRequest)
            try await client.call(.get, "/tenants/acme/queries/products?page=0", token: f.plain).expectProblem(.badRequest, .badRequest)
            try await client.call(.get, "/tenants/acme/queries/products?pageSize=51", token: f.plain).expectProblem(.badRequest, .badRequest)
            try await client.call(.get, "/tenants/acme/queries/nothing", token: f.plain).expectProblem(.notFound, .notFound)
            try await f.carts.catchUp()
            let open = try await client.call(.get, "/tenants/acme/queries/carts?status=open", token: f.plain)
            #expect((open.object["items"] as? [[String: Any]])?.first?["total"] as? Int == 900)
            let checkedOut = try await client.call(.get, "/tenants/acme/queries/carts?status=checkedOut", token: f.plain)
            #expect(checkedOut.object["totalCount"] as? Int == 0)
        }
    }

    @Test func theLiveFeedRefusesBadRequestsBeforeItStreams() async throws {
        let f = try await Fixture()
        try await f.test { client in
            try await client.call(.get, "/tenants/acme/events", token: nil).expectProblem(.unauthorized, .unauthorized)
            try await client.call(.get, "/tenants/acme/events", token: f.otherTenant).expectProblem(.forbidden, .forbidden)
            try await client.call(.get, "/tenants/acme/events", token: f.plain, headers: [HTTPField.Name("Last-Event-ID")!: "x"])
                .expectProblem(.badRequest, .badRequest)
        }
    }

    @Test func healthAndTheDocumentNeedNoToken() async throws {
        let f = try await Fixture()
        try await f.test { client in
            let health = try await client.call(.get, "/health", token: nil)
            #expect(health.status == .ok)
            #expect(health.object["status"] as? String == "ok")
            let document = try await client.call(.get, "/openapi.json", token: nil)
            #expect(document.status == .ok)
            let decoded = try JSONDecoder().decode(OpenAPI.Document.self, from: Data(buffer: document.body))
            try decoded.validate()
            #expect(decoded.openAPIVersion == .v3_1_1)
            for command in ["OpenCart", "AddItem", "RemoveItem", "CheckOut"] {
                #expect(decoded.paths[OpenAPI.Path(rawValue: "/tenants/{tenant}/commands/\(command)")] != nil)
                #expect(decoded.components.schemas[OpenAPI.ComponentKey(rawValue: "\(command)Body")!] != nil)
            }
            let addItem = try #require(decoded.components.schemas[OpenAPI.ComponentKey(rawValue: "AddItemBody")!])
            #expect(addItem.objectContext?.requiredProperties.sorted() == ["cart", "product", "unitPrice"])
            #expect(addItem.objectContext?.optionalProperties == ["quantity"])
            try await client.call(.get, "/no/such/route", token: nil).expectProblem(.notFound, .notFound)
        }
    }

    /// Every route that names a tenant, with a valid token for another tenant: 403, nothing read or written.
    @Test(arguments: [
        (HTTPRequest.Method.post, "/tenants/acme/commands/OpenCart", #"{"cart":"c","owner":"o"}"#),
        (.post, "/tenants/acme/commands/AddItem", #"{"cart":"ann","product":"p","unitPrice":1}"#),
        (.post, "/tenants/acme/commands/RemoveItem", #"{"cart":"ann","product":"tea"}"#),
        (.post, "/tenants/acme/commands/CheckOut", #"{"cart":"ann"}"#),
        (.get, "/tenants/acme/aggregates/Cart/ann", nil),
        (.get, "/tenants/acme/streams/Cart/ann/events", nil),
        (.get, "/tenants/acme/queries/products", nil),
        (.get, "/tenants/acme/queries/carts", nil),
        (.get, "/tenants/acme/events", nil),
    ] as [(HTTPRequest.Method, String, String?)])
    func aTokenForAnotherTenantNeverReachesThisOne(method: HTTPRequest.Method, path: String, body: String?) async throws {
        let f = try await Fixture()
        try await annsCart(f)
        try await f.test { client in
            let response = try await client.call(method, path, token: f.otherTenant, json: body)
            response.expectProblem(.forbidden, .forbidden)
            #expect(!response.text.contains("coffee"))
        }
        #expect(try await f.events().count == 3)
    }
}
