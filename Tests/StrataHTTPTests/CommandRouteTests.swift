import Carts
import Foundation
import HTTPTypes
import HummingbirdTesting
import Strata
@testable import StrataHTTP
import Testing

/// `POST /tenants/{tenant}/commands/{command}`: every status, and nothing appended on a refusal.
@Suite struct CommandRouteTests {
    @Test func aCommandCommitsAndAnswersWithItsVersionPositionAndEvents() async throws {
        let f = try await Fixture()
        try await f.test { client in
            let response = try await client.call(
                .post, "/tenants/acme/commands/OpenCart", token: f.clerk, json: #"{"cart":"ann-1","owner":"ann"}"#,
                headers: [HTTPField.Name("X-Correlation-ID")!: "corr-42"])
            #expect(response.status == .ok, "\(response.text)")
            #expect(response.headers[.eTag] == "\"1\"")
            #expect(response.headers[HTTPField.Name("X-Correlation-ID")!] == "corr-42")
            let body = response.object
            #expect(body["version"] as? Int == 1)
            #expect(body["position"] as? String == "1")
            let events = body["events"] as? [[String: Any]] ?? []
            #expect(events.count == 1)
            #expect(events.first?["type"] as? String == "CartOpened")
            #expect((events.first?["data"] as? [String: Any])?["owner"] as? String == "ann")
        }
        let stored = try await f.events()
        #expect(stored.count == 1)
        #expect(stored.first?.key == PartitionKey(tenant: "acme", group: "Cart", id: "ann-1"))
        #expect(stored.first?.record.metadata.user == "alice", "the token's subject is the events' user")
        #expect(stored.first?.record.metadata.correlationId == "corr-42")
    }

    @Test func withoutACorrelationIdTheServerMakesOneAndAnswersIt() async throws {
        let f = try await Fixture()
        try await f.test { client in
            let response = try await client.call(.post, "/tenants/acme/commands/OpenCart", token: f.plain, json: #"{"cart":"c","owner":"o"}"#)
            #expect(response.status == .ok)
            let id = try #require(response.headers[HTTPField.Name("X-Correlation-ID")!])
            #expect(try await f.events().first?.record.metadata.correlationId == id)
        }
    }

    @Test func ifMatchRunsTheCommandAtThatVersionOnlyAndAConflictNamesTheCurrentVersion() async throws {
        let f = try await Fixture()
        try await f.test { client in
            _ = try await client.call(.post, "/tenants/acme/commands/OpenCart", token: f.clerk, json: #"{"cart":"c","owner":"o"}"#)
            let add = #"{"cart":"c","product":"tea","unitPrice":100}"#
            let stale = try await client.call(.post, "/tenants/acme/commands/AddItem", token: f.clerk, json: add, headers: [.ifMatch: "\"0\""])
            stale.expectProblem(.conflict, .versionConflict)
            #expect(stale.object["currentVersion"] as? Int == 1)
            #expect(stale.object["expectedVersion"] as? Int == 0)
            let current = try await client.call(.post, "/tenants/acme/commands/AddItem", token: f.clerk, json: add, headers: [.ifMatch: "\"1\""])
            #expect(current.status == .ok)
            #expect(current.headers[.eTag] == "\"2\"")
            let bare = try await client.call(.post, "/tenants/acme/commands/AddItem", token: f.clerk, json: add, headers: [.ifMatch: "2"])
            #expect(bare.status == .ok)
            let malformed = try await client.call(.post, "/tenants/acme/commands/AddItem", token: f.clerk, json: add, headers: [.ifMatch: "W/x"])
            malformed.expectProblem(.badRequest, .badRequest)
            let mustExist = try await client.call(
                .post, "/tenants/acme/commands/AddItem", token: f.clerk, json: #"{"cart":"none","product":"tea","unitPrice":1}"#,
                headers: [.ifMatch: "*"])
            mustExist.expectProblem(.notFound, .notFound)
        }
        #expect(try await f.events().count == 3)
    }

    /// Found by schemathesis: `If-Match` used to replace the command's own kind, so `OpenCart` with `If-Match: "1"`
    /// (or `*`) opened an open cart a second time — a history its aggregate cannot fold.
    @Test func ifMatchAddsToTheCommandsOwnKindInsteadOfReplacingIt() async throws {
        let f = try await Fixture()
        try await f.test { client in
            let open = #"{"cart":"c","owner":"o"}"#
            _ = try await client.call(.post, "/tenants/acme/commands/OpenCart", token: f.clerk, json: open)
            try await client.call(.post, "/tenants/acme/commands/OpenCart", token: f.clerk, json: open, headers: [.ifMatch: "\"1\""])
                .expectProblem(.conflict, .alreadyExists)
            try await client.call(.post, "/tenants/acme/commands/OpenCart", token: f.clerk, json: open, headers: [.ifMatch: "*"])
                .expectProblem(.conflict, .alreadyExists)
            try await client.call(
                .post, "/tenants/acme/commands/AddItem", token: f.clerk, json: #"{"cart":"new","product":"p","unitPrice":1}"#,
                headers: [.ifMatch: "\"0\""]
            ).expectProblem(.notFound, .notFound)
            let fresh = try await client.call(.post, "/tenants/acme/commands/OpenCart", token: f.clerk, json: #"{"cart":"d","owner":"o"}"#, headers: [.ifMatch: "\"0\""])
            #expect(fresh.status == .ok)
        }
        #expect(try await f.events().map(\.typeName) == ["CartOpened", "CartOpened"])
    }

    @Test func domainErrorsConflictsAndMissingAggregatesHaveTheirStatuses() async throws {
        let f = try await Fixture()
        try await f.test { client in
            let missing = try await client.call(.post, "/tenants/acme/commands/AddItem", token: f.clerk, json: #"{"cart":"x","product":"tea","unitPrice":1}"#)
            #expect(missing.expectProblem(.notFound, .notFound).contains("acme/Cart/x"))
            _ = try await client.call(.post, "/tenants/acme/commands/OpenCart", token: f.clerk, json: #"{"cart":"x","owner":"o"}"#)
            let again = try await client.call(.post, "/tenants/acme/commands/OpenCart", token: f.clerk, json: #"{"cart":"x","owner":"o"}"#)
            again.expectProblem(.conflict, .alreadyExists)
            #expect(again.object["currentVersion"] as? Int == 1)
            let tooMany = try await client.call(
                .post, "/tenants/acme/commands/AddItem", token: f.clerk, json: #"{"cart":"x","product":"tea","quantity":500,"unitPrice":1}"#)
            #expect(tooMany.expectProblem(.unprocessableContent, .rejected) == "a quantity of 500: 1 to 99 please")
            let emptyCheckout = try await client.call(.post, "/tenants/acme/commands/CheckOut", token: f.clerk, json: #"{"cart":"x"}"#)
            #expect(emptyCheckout.expectProblem(.unprocessableContent, .rejected) == "the cart is empty")
        }
        #expect(try await f.events().count == 1)
    }

    @Test(arguments: [
        (#"{"cart":"c","owner":"o""#, "not JSON"),
        (#"{"cart":"c","owner":"o","admin":true}"#, "$.admin"),
        (#"{"cart":"c"}"#, "$.owner is missing"),
        (#"{"cart":"c","owner":7}"#, "$.owner is not a string"),
        (#"{"cart":"c","owner":null}"#, "$.owner is null"),
        (#"["c","o"]"#, "does not decode"),
        (#"{"cart":" c","owner":"o"}"#, "starts or ends with a space"),
        (#"{"cart":"","owner":"o"}"#, "empty"),
    ])
    func malformedBodiesAreRefusedWith400AndNothingIsAppended(body: String, detail: String) async throws {
        let f = try await Fixture()
        try await f.test { client in
            let response = try await client.call(.post, "/tenants/acme/commands/OpenCart", token: f.clerk, json: body)
            #expect(response.expectProblem(.badRequest, .badRequest).contains(detail))
        }
        #expect(try await f.events().isEmpty)
    }

    @Test func unknownMembersOfNestedShapesAreNamedWithTheirPath() async throws {
        let f = try await Fixture()
        try await f.test { client in
            // AddItem's optional quantity is a number: an object there is a type error, not an unknown member.
            let response = try await client.call(
                .post, "/tenants/acme/commands/AddItem", token: f.clerk, json: #"{"cart":"c","product":"p","unitPrice":1,"quantity":{"n":1}}"#)
            response.expectProblem(.badRequest, .badRequest)
        }
    }

    @Test func badRequestsOfEveryOtherKindAppendNothing() async throws {
        let f = try await Fixture()
        let open = #"{"cart":"c","owner":"o"}"#
        try await f.test { client in
            let anonymous = try await client.call(.post, "/tenants/acme/commands/OpenCart", token: nil, json: open)
            anonymous.expectProblem(.unauthorized, .unauthorized)
            #expect(anonymous.headers[.wwwAuthenticate] == "Bearer")
            try await client.call(.post, "/tenants/acme/commands/OpenCart", token: f.expired, json: open).expectProblem(.unauthorized, .unauthorized)
            try await client.call(.post, "/tenants/acme/commands/OpenCart", token: f.forged, json: open).expectProblem(.unauthorized, .unauthorized)
            try await client.call(.post, "/tenants/acme/commands/OpenCart", token: "not.a.jwt", json: open).expectProblem(.unauthorized, .unauthorized)
            try await client.call(.post, "/tenants/acme/commands/OpenCart", token: f.otherTenant, json: open).expectProblem(.forbidden, .forbidden)
            try await client.call(.post, "/tenants/acme/commands/Nope", token: f.clerk, json: open).expectProblem(.notFound, .notFound)
            try await client.call(.post, "/tenants/bad%20tenant/commands/OpenCart", token: f.clerk, json: open).expectProblem(.badRequest, .badRequest)
            try await client.call(.post, "/tenants/_strata/commands/OpenCart", token: f.clerk, json: open).expectProblem(.forbidden, .forbidden)
            let oversized = "{\"cart\":\"c\",\"owner\":\"" + String(repeating: "o", count: 5_000) + "\"}"
            try await client.call(.post, "/tenants/acme/commands/OpenCart", token: f.clerk, json: oversized).expectProblem(.contentTooLarge, .contentTooLarge)
            try await client.call(.post, "/tenants/acme/commands/OpenCart", token: f.clerk, json: open, headers: [.contentType: "text/plain"])
                .expectProblem(.unsupportedMediaType, .unsupportedMediaType)
            let longId = String(repeating: "x", count: 300)
            try await client.call(.post, "/tenants/acme/commands/OpenCart", token: f.clerk, json: open, headers: [HTTPField.Name("X-Correlation-ID")!: longId])
                .expectProblem(.badRequest, .badRequest)
        }
        #expect(try await f.events().isEmpty)
    }

    /// Verified tokens are kept by their text until they expire: a kept token whose expiry has passed is refused
    /// (and dropped), and a token whose signature differs from a kept one's in one character is verified (and
    /// refused), not matched.
    @Test func verifiedTokensAreKeptUntilTheyExpireAndNothingElseMatchesThem() async throws {
        let f = try await Fixture()
        let parts = f.plain.split(separator: ".")
        let tampered = "\(parts[0]).\(parts[1]).\(parts[2].first == "A" ? "B" : "A")\(parts[2].dropFirst())"
        let open = #"{"cart":"c","owner":"o"}"#
        try await f.test { client in
            #expect(try await client.call(.post, "/tenants/acme/commands/OpenCart", token: f.plain, json: open).status == .ok)
            #expect(f.api.authentication.verified.count == 1)
            try await client.call(.post, "/tenants/acme/commands/OpenCart", token: tampered, json: open).expectProblem(.unauthorized, .unauthorized)
            #expect(f.api.authentication.verified.count == 1)
            // As a kept token is once its time has passed (without waiting for it in a test).
            f.api.authentication.verified.add(f.expired, AccessToken(subject: "alice", expires: Date() - 3_600, tenants: ["acme"], roles: ["clerk"]))
            try await client.call(.post, "/tenants/acme/commands/OpenCart", token: f.expired, json: open).expectProblem(.unauthorized, .unauthorized)
            #expect(f.api.authentication.verified.count == 1)
            f.api.authentication.forgetVerifiedTokens()
            #expect(f.api.authentication.verified.count == 0)
        }
        #expect(try await f.events().count == 1)
    }

    @Test func pathSegmentsArePercentDecodedAsFoundationDecodesThem() {
        let segments = ["plain", "a%20b", "%E2%82%AC%e2%82%ac", "100%25", "%", "%2", "%zz", "%FF", "%C3", "caf%C3%A9", "%00", ""]
        for segment in segments {
            #expect(Routes<InMemoryEventStore>.percentDecoded(segment) == segment.removingPercentEncoding, "\(segment)")
        }
    }

    @Test func theCacheOfVerifiedTokensHoldsAtMostItsCapacity() {
        let cache = VerifiedTokens(capacity: 3)
        let later = Date() + 60
        for index in 0..<10 { cache.add("token \(index)", AccessToken(subject: "s", expires: later, tenants: [])) }
        #expect(cache.count == 3)
        #expect(cache.token("token 9", now: Date()) != nil, "the newest is kept")
        #expect(cache.token("token 9", now: later + 1) == nil, "an expired one is not given")
        #expect(cache.count == 2, "and is dropped")
    }

    @Test func aRolePolicyRefusesTokensWithoutTheRole() async throws {
        let f = try await Fixture()
        try await f.test { client in
            _ = try await client.call(.post, "/tenants/acme/commands/OpenCart", token: f.plain, json: #"{"cart":"c","owner":"o"}"#)
            _ = try await client.call(.post, "/tenants/acme/commands/AddItem", token: f.plain, json: #"{"cart":"c","product":"p","unitPrice":1}"#)
            let refused = try await client.call(.post, "/tenants/acme/commands/CheckOut", token: f.plain, json: #"{"cart":"c"}"#)
            #expect(refused.expectProblem(.forbidden, .forbidden).contains("clerk"))
            #expect(try await f.events().count == 2)
            let allowed = try await client.call(.post, "/tenants/acme/commands/CheckOut", token: f.clerk, json: #"{"cart":"c"}"#)
            #expect(allowed.status == .ok)
        }
    }
}
