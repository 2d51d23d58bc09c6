import Foundation
import GRDB
import Strata
import StrataSQLite
import StrataTestSupport
import Testing

/// The SQLite store shared by real processes: the built `strata` command, run as children.
@Suite(.serialized) struct SQLiteProcessTests {
    /// Two processes × 32 tasks execute commands on the same 200 counters: every command lands exactly once, each
    /// counter's versions run 1…n, and each event saw the count before it (no lost update).
    @Test func twoProcessesThroughTheExecutorLoseNoUpdate() async throws {
        let strata = try builtExecutable("strata")
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/shared.sqlite"
        try SQLiteEventStore(path: path).close()  // (created once, so the two processes do not race to migrate)
        async let first = Task.detached { try runProcess(strata, ["command-loop", path, "--tasks", "32", "--commands", "20", "--seed", "1"]) }.value
        async let second = Task.detached { try runProcess(strata, ["command-loop", path, "--tasks", "32", "--commands", "20", "--seed", "2"]) }.value
        let outcomes = try await [first, second]
        for outcome in outcomes {
            #expect(outcome.status == 0 && outcome.stdout.contains("executed 640 commands"), "\(outcome.stdout) \(outcome.stderr)")
        }
        let store = try SQLiteEventStore(path: path)
        let events = try await store.allEvents()
        #expect(events.count == 2 * 32 * 20, "every command once: \(events.count)")
        var byStream: [PartitionKey: [RecordedEvent<UInt64>]] = [:]
        for event in events { byStream[event.key, default: []].append(event) }
        for (key, stream) in byStream {
            #expect(stream.map(\.version) == Array(1...UInt64(stream.count)), "\(key): dense versions")
            let seen = stream.compactMap { try? JSONSerialization.jsonObject(with: Data($0.record.payload)) as? [String: Int] }.map { $0["before"] }
            #expect(seen == (0..<stream.count).map { Optional($0) }, "\(key): each command saw the count before it")
        }
        try store.close()
    }

    /// A process appending 7-event batches from 8 tasks is killed with SIGKILL: every acknowledged batch is there,
    /// and every batch there is whole.
    @Test func aProcessKilledMidAppendLeavesNoPartialBatch() async throws {
        let strata = try builtExecutable("strata")
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/killed.sqlite"
        let (acknowledged, killed) = try await runUntilKilled(
            strata, ["append-loop", path, "--sqlite", "--batch", "7", "--concurrency", "8"], afterLines: 60)
        #expect(killed, "the child was killed, not finished")
        let store = try SQLiteEventStore(path: path)
        let events = try await store.allEvents()
        let highest = acknowledged.compactMap { $0.split(separator: " ").dropFirst().first.flatMap { UInt64($0) } }.max() ?? 0
        #expect(highest > 0 && events.count >= Int(highest), "acknowledged through position \(highest), \(events.count) events there")
        #expect(events.count % 7 == 0, "whole batches only: \(events.count) events")
        var byStream: [PartitionKey: [UInt64]] = [:]
        for event in events { byStream[event.key, default: []].append(event.version) }
        for (key, versions) in byStream {
            #expect(versions == Array(1...UInt64(versions.count)) && versions.count % 7 == 0, "\(key): \(versions.count) events")
        }
        let check = try runProcess(strata, ["fsck", path])
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
        try store.close()
    }
}
