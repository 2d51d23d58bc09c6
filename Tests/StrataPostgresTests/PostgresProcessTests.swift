import Foundation
import Strata
import StrataPostgres
import StrataTestSupport
import Testing

/// The PostgreSQL store shared by real processes: the built `strata` command, run as children.
@Suite struct PostgresProcessTests {
    /// Two processes × 32 tasks execute commands on the same 200 counters: every command lands exactly once, each
    /// counter's versions run 1…n, and each event saw the count before it (no lost update).
    @Test func twoProcessesThroughTheExecutorLoseNoUpdate() async throws {
        let strata = try builtExecutable("strata")
        let store = try await TestServer.store()  // (the schema made once, before the two processes start)
        let url = TestServer.url + "?schema=" + store.configuration.schema
        async let first = Task.detached { try runProcess(strata, ["command-loop", url, "--tasks", "32", "--commands", "20", "--seed", "1"]) }.value
        async let second = Task.detached { try runProcess(strata, ["command-loop", url, "--tasks", "32", "--commands", "20", "--seed", "2"]) }.value
        let outcomes = try await [first, second]
        for outcome in outcomes {
            #expect(outcome.status == 0 && outcome.stdout.contains("executed 640 commands"), "\(outcome.stdout) \(outcome.stderr.suffix(2000))")
        }
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
}
