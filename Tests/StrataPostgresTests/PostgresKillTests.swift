import Foundation
import Strata
import StrataPostgres
import StrataTestSupport
import Testing

/// A durable subscription and a projection in a process killed with SIGKILL, then started again on the same
/// PostgreSQL schema: the subscription resumes right after its last committed checkpoint (at least once: nothing
/// before it again, nothing after it missed), the projection from its last snapshot, and both end with every event.
@Suite struct PostgresKillTests {
    @Test func aDurableSubscriptionAndAProjectionResumeAfterSIGKILL() async throws {
        let strata = try builtExecutable("strata")
        let store = try await TestServer.store()
        let url = TestServer.url + "?schema=" + store.configuration.schema
        // 300 counter events, through the executor as an application writes them.
        let filled = try await runProcessOffPool(strata, ["command-loop", url, "--tasks", "4", "--commands", "75", "--aggregates", "20"])
        try #require(filled.status == 0, "\(filled.stderr.suffix(2000))")
        try await store.waitUntilOrdered()  // (the other process's appends, in the global order)
        let all = try await store.allEvents().filter { $0.record.key.group == "Tally" }.map(\.position)
        try #require(all.count == 300)

        // First run: handles 135 events (a checkpoint every 10: the last at the 130th), says "waiting" and is killed:
        // 2 opening lines, 135 events, 13 checkpoints, "waiting".
        let first = try await runUntilKilled(strata, ["subscribe-loop", url, "--wait-after", "135"], afterLines: 151)
        #expect(first.lines.last == "waiting", "\(first.lines.suffix(3))")
        #expect(first.killed)
        let firstEvents = first.lines.filter { $0.hasPrefix("event ") }.compactMap { PostgresPosition(String($0.dropFirst(6))) }
        #expect(firstEvents == Array(all.prefix(firstEvents.count)), "the first run delivered the events in order")
        let printed = first.lines.filter { $0.hasPrefix("checkpoint ") }.compactMap { PostgresPosition(String($0.dropFirst(11))) }.last
        let stored = try #require(try await store.checkpoint(of: "kill-test"))
        #expect(stored >= printed!, "the stored checkpoint is the last one committed")

        // Second run: resumes right after the stored checkpoint and goes to the end.
        let remaining = all.filter { $0 > stored }.count
        #expect(stored == printed && remaining == 170, "killed after the 130th event's checkpoint: \(remaining) events after it")
        let second = try await runProcessOffPool(strata, ["subscribe-loop", url, "--stop-after", "\(remaining)"])
        #expect(second.status == 0, "\(second.stderr.suffix(2000))")
        let lines = second.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("subscription resumed-after \(stored)"), "\(lines.prefix(3))")
        let secondEvents = lines.filter { $0.hasPrefix("event ") }.compactMap { PostgresPosition(String($0.dropFirst(6))) }
        #expect(secondEvents == all.filter { $0 > stored }, "after the checkpoint: every event once, in order")

        // The projection: restored from a snapshot the first run wrote, and whole.
        let projectionLine = try #require(lines.first { $0.hasPrefix("projection ") })
        #expect(!projectionLine.contains("restored-from none"), "\(projectionLine)")
        #expect(projectionLine.hasSuffix("total 300"), "\(projectionLine)")
        try await TestServer.drop(store)
    }
}
