import Foundation
import Synchronization
import StrataTestSupport
import Testing

@_spi(StrataInternals) @testable import StrataStorage

/// The built `strata` executable (next to the test bundle).
func strataExecutable() throws -> String { try builtExecutable("strata") }

/// Real processes, killed with SIGKILL while appending: every acknowledged batch survives, whole.
@Suite(.serialized) struct KillTests {
    /// Runs `strata append-loop` into `directory` until it has printed `acknowledgements` lines, kills it with
    /// SIGKILL, and returns the acknowledged sequence ranges.
    func appendThenKill(_ directory: String, acknowledgements: Int, segmentBytes: Int = 65_536) async throws -> [ClosedRange<UInt64>] {
        let (lines, killed) = try await runUntilKilled(
            try strataExecutable(), ["append-loop", directory, "--batch", "7", "--concurrency", "8", "--segment-bytes", "\(segmentBytes)"],
            afterLines: acknowledgements)
        #expect(killed)
        // Every line printed before the process died is an acknowledged batch.
        let acknowledged: [ClosedRange<UInt64>] = lines.compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 3, parts[0] == "committed", let upper = UInt64(parts[1]), let lower = UInt64(parts[2])
            else { return nil }
            return lower...upper
        }
        #expect(acknowledged.count >= acknowledgements)
        return acknowledged
    }

    @Test(arguments: [150, 600, 1_500])
    func sigkillWhileAppending(acknowledgementsBeforeKill: Int) async throws {
        let directory = TemporaryDirectory("strata-kill")
        let acknowledged = try await appendThenKill(directory.path, acknowledgements: acknowledgementsBeforeKill)
        let store = try LogStore.open(at: directory.path)
        let records = try store.readRecords()
        #expect(records.map(\.sequence) == Array(0..<UInt64(records.count)).map { $0 + 1 })
        let highest = acknowledged.map(\.upperBound).max() ?? 0
        #expect(UInt64(records.count) >= highest, "acknowledged up to \(highest), recovered \(records.count)")
        // Every batch (acknowledged or not) is whole: 7 records of one worker, versions 7k+1...7k+7.
        var i = 0
        while i < records.count {
            let first = records[i]
            #expect((first.version - 1) % 7 == 0, "batch starts at version \(first.version)")
            guard i + 7 <= records.count else {
                Issue.record("partial batch at the end: \(records.count - i) records")
                break
            }
            for k in 0..<7 {
                #expect(records[i + k].record.key == first.record.key)
                #expect(records[i + k].version == first.version + UInt64(k))
            }
            i += 7
        }
        for range in acknowledged where range.upperBound <= UInt64(records.count) {
            let batch = records[Int(range.lowerBound - 1)..<Int(range.upperBound)]
            #expect(Set(batch.map(\.record.key)).count == 1)
        }
        try verifyIndexAgainstLog(store, context: "after SIGKILL")
        try await store.close()
    }

    /// The report that started issue 19, as a user ran it: appends killed with SIGKILL, one bit flipped a third of
    /// the way into the segment, then one more event. The store refuses to open (the import fails, naming the
    /// repair) and no byte changes; `strata fsck` calls it damage; after `strata fsck --repair` every acknowledged
    /// event outside the damaged frame is there and the new event gets a sequence after all of them.
    @Test func damageBeforeAcknowledgedFramesIsRefusedNotCut() async throws {
        let directory = TemporaryDirectory("strata-kill-damage")
        let store = directory.path
        let acknowledged = try await appendThenKill(store, acknowledgements: 400, segmentBytes: 64 << 20)
        let segments = try FileManager.default.contentsOfDirectory(atPath: store).filter { $0.hasSuffix(".segment") }
        #expect(segments.count == 1)
        let segment = store + "/" + segments[0]
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: segment)))
        let at = bytes.count / 3
        bytes[at] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: segment))
        func snapshot() throws -> [String: Data] {
            var files: [String: Data] = [:]
            for name in try FileManager.default.subpathsOfDirectory(atPath: store) {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: store + "/" + name, isDirectory: &isDirectory), !isDirectory.boolValue {
                    files[name] = try Data(contentsOf: URL(fileURLWithPath: store + "/" + name))
                }
            }
            return files
        }
        let before = try snapshot()
        let strata = try strataExecutable()
        let event = #"{"tenant":"t","group":"g","id":"late","type":"Tick","payload":{"n":1}}"#
        let refused = try runProcess(strata, ["import", store, "-", "--acks"], input: Data(event.utf8))
        #expect(refused.status == 2, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("damaged log") && refused.stderr.contains("strata fsck --repair"), "\(refused.stderr)")
        let after = try snapshot()
        #expect(after.keys.sorted() == before.keys.sorted() && after.allSatisfy { before[$0.key] == $0.value }, "a refused open changed the store")
        #expect(throws: StorageError.self) { _ = try LogStore.open(at: store) }

        let check = try runProcess(strata, ["fsck", store])
        #expect(check.status == 1 && check.stdout.contains("damage, not a torn write"), "\(check.stdout)")
        let repair = try runProcess(strata, ["fsck", store, "--repair"])
        #expect(repair.status == 0, "\(repair.stdout)\(repair.stderr)")
        let imported = try runProcess(strata, ["import", store, "-", "--acks"], input: Data(event.utf8))
        #expect(imported.status == 0, "\(imported.stderr)")
        let highest = acknowledged.map(\.upperBound).max() ?? 0
        let committed = imported.stdout.split(separator: "\n").last.flatMap { UInt64($0.split(separator: " ").last ?? "") } ?? 0
        #expect(committed > highest, "the new event got sequence \(committed); sequences through \(highest) were acknowledged")
        let clean = try runProcess(strata, ["fsck", store])
        #expect(clean.status == 0, "\(clean.stdout)")

        let opened = try LogStore.open(at: store)
        let present = Set(try opened.readRecords().map(\.sequence))
        let report = try StoreCheck.check(store: store)
        let lost = report.lostRanges.map { $0.firstSequence...$0.lastSequence }
        #expect(lost.count == 1 && lost.allSatisfy { $0.count <= 7 }, "one frame (one batch of 7) lost: \(lost)")
        for range in acknowledged {
            for sequence in range where !present.contains(sequence) {
                #expect(lost.contains { $0.contains(sequence) }, "acknowledged sequence \(sequence) vanished")
            }
        }
        try await opened.close()
    }
}
