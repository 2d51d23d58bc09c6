import Foundation
import PostgresNIO
import Strata
import StrataPostgres
import StrataTestSupport
import Synchronization
import Testing

/// The PostgreSQL store shared by real processes: the built `strata` command, run as children.
@Suite struct PostgresProcessTests {
    /// Two processes × 32 tasks execute commands on the same 200 counters: every command lands exactly once, each
    /// counter's versions run 1…n, and each event saw the count before it (no lost update).
    @Test func twoProcessesThroughTheExecutorLoseNoUpdate() async throws {
        let strata = try builtExecutable("strata")
        let store = try await TestServer.store()  // (the schema made once, before the two processes start)
        let url = TestServer.url + "?schema=" + store.configuration.schema
        async let first = Task { try await runProcessOffPool(strata, ["command-loop", url, "--tasks", "32", "--commands", "20", "--seed", "1"]) }.value
        async let second = Task { try await runProcessOffPool(strata, ["command-loop", url, "--tasks", "32", "--commands", "20", "--seed", "2"]) }.value
        let outcomes = try await [first, second]
        for outcome in outcomes {
            #expect(outcome.status == 0 && outcome.stdout.contains("executed 640 commands"), "\(outcome.stdout) \(outcome.stderr.suffix(2000))")
        }
        try await store.waitUntilOrdered()  // (the other processes' appends, in the global order)
        let events = try await store.allEvents()
        #expect(events.count == 2 * 32 * 20, "every command once: \(events.count)")
        var byStream: [PartitionKey: [RecordedEvent<PostgresPosition>]] = [:]
        for event in events { byStream[event.key, default: []].append(event) }
        for (key, stream) in byStream {
            #expect(stream.map(\.version) == Array(1...UInt64(stream.count)), "\(key): dense versions, in global order")
            let seen = stream.compactMap { try? JSONSerialization.jsonObject(with: Data($0.record.payload)) as? [String: Int] }.map { $0["before"] }
            #expect(seen == (0..<stream.count).map { Optional($0) }, "\(key): each command saw the count before it")
        }
        try await TestServer.drop(store)
    }

    /// 4 writer processes execute commands while a subscriber in this process reads the global order live, and
    /// this process holds one append in a transaction that commits after the writers' later ones: the subscriber
    /// gets every event exactly once, in order, the held-back one included.
    @Test func fourWriterProcessesAndALiveSubscriberGetEveryEventOnceInOrder() async throws {
        let strata = try builtExecutable("strata")
        let store = try await TestServer.store()
        let url = TestServer.url + "?schema=" + store.configuration.schema
        let reader = try await PostgresEventStore.connect(TestServer.configuration(schema: store.configuration.schema))
        final class Received: Sendable { let events = Mutex<[SubscribedEvent<PostgresPosition>]>([]) }
        let received = Received()
        let total = 4 * 8 * 25 + 1
        let subscriber = Task {
            for try await event in reader.subscribe() {
                if received.events.withLock({ $0.append(event); return $0.count }) == total { return }
            }
        }
        let writers = (0..<4).map { n in
            Task { try await runProcessOffPool(strata, ["command-loop", url, "--tasks", "8", "--commands", "25", "--seed", "\(n + 10)"]) }
        }
        // The held-back append: its transaction begins (and takes its id) while the writers run, and commits after
        // they have committed later ones.
        try await Task.sleep(for: .milliseconds(300))
        let held = PartitionKey(tenant: "t", group: "Held", id: "h")
        _ = try await store.client.withTransaction(logger: Logger(label: "test")) { connection in
            try await store.append([EventRecord(key: held, typeName: "E", payload: [1])], in: connection)
            try await Task.sleep(for: .milliseconds(500))
        }
        for writer in writers {
            let outcome = try await writer.value
            #expect(outcome.status == 0, "\(outcome.stderr.suffix(2000))")
        }
        let deadline = ContinuousClock.now + .seconds(120)
        while received.events.withLock({ $0.count }) < total && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        subscriber.cancel()
        let events = received.events.withLock { $0 }
        #expect(events.count == total)
        #expect(zip(events, events.dropFirst()).allSatisfy { $0.position < $1.position }, "in order, none twice")
        #expect(events.contains { $0.record.key == held }, "the held-back event was delivered")
        try await store.waitUntilOrdered()
        let stored = try await store.allEvents()
        #expect(events.map(\.position) == stored.map(\.position), "what the store holds, in its order")
        await reader.close()
        try await TestServer.drop(store)
    }
}
