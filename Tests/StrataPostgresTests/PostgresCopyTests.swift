import Foundation
import PostgresNIO
import Strata
import StrataPostgres
import StrataTestSupport
import Testing

/// `strata copy` between a native store and PostgreSQL, both ways, and `strata stats` on a URL — run as a user runs
/// them: the built binary, a real server.
@Suite struct PostgresCopyTests {
    @Test func copyingNativeToPostgreSQLAndBackKeepsEveryEventAndWhereEachCheckpointResumes() async throws {
        let strata = try builtExecutable("strata")
        let directory = NSTemporaryDirectory() + "strata-pg-copy-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = directory + "/source", back = directory + "/back"
        let demo = try await runProcessOffPool(strata, ["demo", source, "--events", "1200", "--batch", "50"])
        try #require(demo.status == 0, "\(demo.stderr)")
        // Two durable subscriptions' checkpoints: one after the 700th event, one after the last.
        let native = try NativeEventStore(path: source)
        let events = try await native.allEvents()
        try await native.durableSubscription("middle").commit(events[699].position)
        try await native.durableSubscription("end").commit(events[1199].position)
        try await native.close()

        let schema = TestServer.freshSchema()
        let url = TestServer.url + (TestServer.url.contains("?") ? "&" : "?") + "schema=" + schema
        let there = try await runProcessOffPool(strata, ["copy", source, url])
        #expect(there.status == 0, "\(there.stderr)")
        #expect(there.stdout.contains("copied 1202 events of 152 streams"), "\(there.stdout)")
        #expect(there.stdout.contains("2 checkpoints name the destination's positions"), "\(there.stdout)")

        // On PostgreSQL: every event with its id, stream, version, type, timestamp, metadata and payload, in the
        // same order; each checkpoint names the position of the same event there, and a subscription resumes
        // after it.
        let store = try await PostgresEventStore.connect(TestServer.configuration(schema: schema))
        let copied = try await store.allEvents()
        #expect(copied.count == 1202)
        #expect(zip(events, copied).allSatisfy { $0.record == $1.record && $0.version == $1.version }, "the same events in the same order")
        #expect(try await store.checkpoint(of: "middle") == copied[699].position)
        #expect(try await store.checkpoint(of: "end") == copied[1199].position)
        var resumed: SubscribedEvent<PostgresPosition>?
        for try await event in try await store.durableSubscription("middle") {
            resumed = event
            break
        }
        #expect(resumed?.record.eventId == events[700].record.eventId, "the subscription resumes after the same event")

        // `strata stats` on the URL.
        let stats = try await runProcessOffPool(strata, ["stats", url, "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any]
        #expect(stats.status == 0 && object?["backend"] as? String == "postgres", "\(stats.stdout) \(stats.stderr)")
        #expect(object?["events"] as? Int == 1202 && object?["streams"] as? Int == 152, "\(stats.stdout)")
        #expect(object?["lastPosition"] as? String == copied.last?.position.description, "\(stats.stdout)")
        let text = try await runProcessOffPool(strata, ["stats", url])
        #expect(text.status == 0 && text.stdout.contains("events:    1202"), "\(text.stdout)")

        // Back to a native store: byte for byte what the source dumps (checkpoints name the native positions again).
        let home = try await runProcessOffPool(strata, ["copy", url, back])
        #expect(home.status == 0 && home.stdout.contains("copied 1202 events"), "\(home.stdout) \(home.stderr)")
        let original = try await runProcessOffPool(strata, ["dump", source]), roundTrip = try await runProcessOffPool(strata, ["dump", back])
        #expect(original.status == 0 && original.stdout.split(separator: "\n").count == 1202)
        #expect(roundTrip.stdout == original.stdout, "native → PostgreSQL → native: event for event the same")

        // Refusals: a destination that holds events; a source schema that does not exist (and is not created).
        let again = try await runProcessOffPool(strata, ["copy", source, url])
        #expect(again.status == 2 && again.stderr.contains("already holds events"), "\(again.stderr)")
        let missing = TestServer.freshSchema()
        let nothing = try await runProcessOffPool(strata, ["copy", TestServer.url + (TestServer.url.contains("?") ? "&" : "?") + "schema=" + missing, directory + "/x"])
        #expect(nothing.status == 2 && nothing.stderr.contains("holds no Strata event store"), "\(nothing.stderr)")
        var found = 0
        for try await _ in try await store.client.query("SELECT 1 FROM information_schema.schemata WHERE schema_name = \(missing)") { found += 1 }
        #expect(found == 0, "a source schema that was missing was created")
        try await TestServer.drop(store)
    }
}
