import Foundation
import StrataTestSupport
import Testing

@_spi(StrataInternals) @testable import StrataStorage

/// The recovery decision table (`RecoveryRule`, FORMAT.md "Recovery"): one case per row, each building the
/// situation its row names and checking that open does what the row says — applies that rule, or refuses with
/// that row's error and leaves every file as it was. The switch in `scenario(for:)` is exhaustive, so a new rule
/// does not compile without its case.
@Suite struct RecoveryTableTests {
    enum Outcome {
        /// Opens, and `RecoveryReport.decisions` holds the rule (for `file`, when given).
        case opens(file: String? = nil)
        /// Throws an error `matches` accepts, and changes nothing on disk.
        case refuses((StorageError) -> Bool)
    }

    struct Scenario {
        var fs: SimulatedFileSystem
        var outcome: Outcome
        /// Extra checks on the opened store.
        var check: (LogStore, SimulatedFileSystem) async throws -> Void = { _, _ in }
    }

    static let segmentBytes = 2_048

    /// A cleanly closed store of three or more segments (30 appends of three records).
    func closedStore() async throws -> SimulatedFileSystem {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, segmentBytes: Self.segmentBytes)
        for i in 0..<30 { try await store.append(sampleBatch(stream: i, after: 0, count: 3, payloadBytes: 100)) }
        try await store.close()
        #expect(segmentPaths(fs).count >= 3)
        return fs
    }

    /// A store that crashed after `extra` synced appends since its checkpoint (open, append, no close).
    func crashedStore(extra: Int = 4, durability: LogStore.Durability = .always, tear: SimulatedFileSystem.Tear = .dropUnsynced) async throws -> SimulatedFileSystem {
        let fs = try await closedStore()
        let store = try openSimulated(fs, durability: durability, segmentBytes: 1 << 20)
        for i in 0..<extra { try await store.append(sampleBatch(stream: 100 + i, after: 0, count: 2, payloadBytes: 60)) }
        return fs.crashed(tear: tear)
    }

    func patch(_ fs: SimulatedFileSystem, _ path: String, _ body: (inout [UInt8]) -> Void) {
        var bytes = fs.contents(of: path)!
        body(&bytes)
        fs.setContents(of: path, to: bytes)
    }

    func rename(_ fs: SimulatedFileSystem, _ path: String, number: UInt64? = nil, base: UInt64? = nil) throws {
        let parsed = try #require(SegmentFileName.parse(fileName(of: path)))
        let name = SegmentFileName.make(number: number ?? parsed.number, baseSequence: base ?? parsed.baseSequence)
        try fs.rename(path, to: simulatedStorePath + "/" + name)
    }

    /// Where the frames of the last segment start (offsets), from a walk of the file.
    func frameOffsets(_ fs: SimulatedFileSystem, _ path: String) throws -> [Int64] {
        var offsets: [Int64] = []
        try SegmentInspector.walk(path, fileSystem: fs) { step in
            if case .frame(_, let offset, _) = step { offsets.append(offset) }
            return true
        }
        return offsets
    }

    func checkpointDataEnd(_ fs: SimulatedFileSystem) throws -> Int64 {
        let bytes = try #require(fs.contents(of: simulatedStorePath + "/CHECKPOINT"))
        let checkpoint = try bytes.withRawBytes { (raw) throws(DecodeError) in try Checkpoint.decode(raw) }
        return Int64(checkpoint.segments.last!.dataEnd)
    }

    func isCorrupt(_ kind: Corruption.Kind) -> (StorageError) -> Bool {
        { error in if case .corrupt(let c) = error { c.kind == kind } else { false } }
    }

    func isDamagedLog(_ error: StorageError) -> Bool {
        if case .damagedLog(let corruption, let validAt) = error { return validAt > corruption.offset }
        return false
    }

    /// A store whose second segment was merged into the first by a compaction that stopped before removing it:
    /// the input is put back beside the merged file (under `base`, when given, instead of its own base).
    func supersededStore(base: UInt64? = nil) async throws -> SimulatedFileSystem {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, segmentBytes: Self.segmentBytes)
        try await fillForCompaction(store)
        let inputs = segmentPaths(fs)
        let second = inputs[1]
        let kept = try #require(fs.contents(of: second))
        _ = try await store.compactColdSegments(compactEverything)
        try await store.close()
        #expect(fs.contents(of: second) == nil, "the compaction merged the second segment away")
        let parsed = try #require(SegmentFileName.parse(fileName(of: second)))
        let name = SegmentFileName.make(number: parsed.number, baseSequence: base ?? parsed.baseSequence)
        fs.setContents(of: simulatedStorePath + "/" + name, to: kept)
        return fs
    }

    func scenario(for rule: RecoveryRule) async throws -> Scenario {
        switch rule {
        case .repairInterrupted:
            let fs = try await closedStore()
            fs.setContents(of: simulatedStorePath + "/REPAIRING", to: [])
            return Scenario(fs: fs, outcome: .refuses { if case .repairInterrupted = $0 { true } else { false } })
        case .createStore:
            let fs = SimulatedFileSystem()
            try fs.createDirectory(simulatedStorePath)
            return Scenario(fs: fs, outcome: .opens()) { store, fs in #expect(segmentPaths(fs).count == 1 && store.lastSequence == 0) }
        case .checkpointUnusable:
            let fs = try await closedStore()
            patch(fs, simulatedStorePath + "/CHECKPOINT") { $0[20] ^= 0xFF }
            return Scenario(fs: fs, outcome: .opens(file: "CHECKPOINT")) { store, _ in
                #expect(store.recovery.checkpointProblem != nil)
                #expect(store.recovery.decisions.contains { $0.rule == .verifySealed })
            }
        case .checkpointListsMissingSegment:
            let fs = try await closedStore()
            try fs.remove(segmentPaths(fs).last!)
            return Scenario(fs: fs, outcome: .refuses(isCorrupt(.missingSegment)))
        case .logStartsAfterOne:
            let fs = try await closedStore()
            try fs.remove(segmentPaths(fs).first!)
            return Scenario(fs: fs, outcome: .refuses(isCorrupt(.missingSegment)))
        case .supersededSegment:
            let fs = try await supersededStore()
            let leftover = segmentPaths(fs)[1]
            return Scenario(fs: fs, outcome: .opens(file: fileName(of: leftover))) { store, fs in
                #expect(store.recovery.removedSupersededSegments == [fileName(of: leftover)])
                #expect(fs.contents(of: leftover) == nil)
            }
        case .supersededOutsideItsRange:
            return Scenario(fs: try await supersededStore(base: 1_000_000), outcome: .refuses(isCorrupt(.badSequence)))
        case .segmentNumberGap:
            let fs = try await closedStore()
            try fs.remove(segmentPaths(fs)[1])
            return Scenario(fs: fs, outcome: .refuses(isCorrupt(.missingSegment)))
        case .sequenceGap:
            let fs = try await closedStore()
            let last = segmentPaths(fs).last!
            try rename(fs, last, base: SegmentFileName.parse(fileName(of: last))!.baseSequence + 1)
            return Scenario(fs: fs, outcome: .refuses(isCorrupt(.badSequence)))
        case .trustSealed:
            let fs = try await closedStore()
            return Scenario(fs: fs, outcome: .opens(file: fileName(of: segmentPaths(fs)[0]))) { store, _ in
                #expect(store.recovery.usedCheckpoint && store.recovery.bytesRead == 0)
            }
        case .verifySealed:
            let fs = try await closedStore()
            try fs.remove(simulatedStorePath + "/CHECKPOINT")
            return Scenario(fs: fs, outcome: .opens(file: fileName(of: segmentPaths(fs)[0])))
        case .trustActive:
            let fs = try await closedStore()
            return Scenario(fs: fs, outcome: .opens(file: fileName(of: segmentPaths(fs).last!))) { store, _ in
                #expect(!store.recovery.decisions.contains { $0.rule == .writeCheckpoint })
            }
        case .truncatedBelowCheckpoint:
            let fs = try await closedStore()
            patch(fs, segmentPaths(fs).last!) { $0.removeLast(10) }
            return Scenario(fs: fs, outcome: .refuses(isCorrupt(.truncated)))
        case .scanAfterCheckpoint:
            let fs = try await crashedStore()
            return Scenario(fs: fs, outcome: .opens(file: fileName(of: segmentPaths(fs).last!))) { store, _ in
                #expect(store.recovery.framesScanned == 4 && store.recovery.truncation == nil)
            }
        case .scanWholeSegment:
            let fs = try await closedStore()
            try fs.remove(simulatedStorePath + "/CHECKPOINT")
            return Scenario(fs: fs, outcome: .opens(file: fileName(of: segmentPaths(fs).last!)))
        case .verifyCompactedLast:
            // Everything sealed and compacted, then the (empty) active segment and the checkpoint gone.
            let fs = SimulatedFileSystem()
            let store = try openSimulated(fs, segmentBytes: Self.segmentBytes)
            try await fillForCompaction(store)
            try await store.sealActiveSegment()
            _ = try await store.compactColdSegments(compactEverything)
            try await store.close()
            try fs.remove(segmentPaths(fs).last!)
            try fs.remove(simulatedStorePath + "/CHECKPOINT")
            let compacted = segmentPaths(fs).last!
            return Scenario(fs: fs, outcome: .opens(file: fileName(of: compacted))) { store, _ in
                #expect(store.recovery.decisions.contains { $0.rule == .startNextSegment })
                #expect(store.recovery.truncation == nil)
            }
        case .sealedByFooter:
            // A crash between sealing a segment and creating the next: the sealed one is last, with no checkpoint.
            let fs = try await closedStore()
            try fs.remove(segmentPaths(fs).last!)
            try fs.remove(simulatedStorePath + "/CHECKPOINT")
            return Scenario(fs: fs, outcome: .opens(file: fileName(of: segmentPaths(fs).last!)))
        case .cutTornTail:
            // Unsynced appends, the last one torn in its middle.
            let base = try await closedStore()
            let store = try openSimulated(base, durability: .never, segmentBytes: 1 << 20)
            let before = base.contents(of: segmentPaths(base).last!)!.count
            for i in 0..<3 { try await store.append(sampleBatch(stream: 200 + i, after: 0, count: 2, payloadBytes: 60)) }
            let written = base.contents(of: segmentPaths(base).last!)!.count - before
            let fs = base.crashed(tear: .keepPrefix(written - 20))
            return Scenario(fs: fs, outcome: .opens(file: fileName(of: segmentPaths(fs).last!))) { store, _ in
                #expect(store.recovery.truncation != nil)
                #expect(store.recovery.framesScanned == 2)
            }
        case .refuseDamage:
            // A flipped bit in a synced frame after the checkpoint, with synced frames after it.
            let fs = try await crashedStore()
            let last = segmentPaths(fs).last!
            let start = try checkpointDataEnd(fs)
            #expect(try frameOffsets(fs, last).filter { $0 >= start }.count == 4)
            patch(fs, last) { $0[Int(start) + 40] ^= 0x04 }
            return Scenario(fs: fs, outcome: .refuses(isDamagedLog))
        case .startNextSegment:
            // The crash came after the footer and before the next segment (and the checkpoint naming it).
            let fs = try await closedStore()
            try fs.remove(segmentPaths(fs).last!)
            try fs.remove(simulatedStorePath + "/CHECKPOINT")
            return Scenario(fs: fs, outcome: .opens()) { store, fs in
                #expect(store.recovery.decisions.contains { $0.rule == .sealedByFooter })
            }
        case .removeTemporaryFiles:
            let fs = try await closedStore()
            fs.setContents(of: simulatedStorePath + "/CHECKPOINT.tmp", to: [1, 2, 3])
            return Scenario(fs: fs, outcome: .opens()) { store, fs in
                #expect(store.recovery.removedTemporaryFiles == ["CHECKPOINT.tmp"])
                #expect(fs.contents(of: simulatedStorePath + "/CHECKPOINT.tmp") == nil)
            }
        case .writeCheckpoint:
            let fs = try await crashedStore()
            return Scenario(fs: fs, outcome: .opens(file: "CHECKPOINT")) { store, fs in
                // The next open reads nothing.
                try await store.close()
                let again = try openSimulated(fs, segmentBytes: Self.segmentBytes)
                #expect(again.recovery.usedCheckpoint)
            }
        }
    }

    /// Every file's bytes, by path.
    func files(_ fs: SimulatedFileSystem) -> [String: [UInt8]] {
        Dictionary(uniqueKeysWithValues: fs.files.map { ($0, fs.contents(of: $0) ?? []) })
    }

    @Test(arguments: RecoveryRule.allCases)
    func eachRowOfTheTable(_ rule: RecoveryRule) async throws {
        let scenario = try await scenario(for: rule)
        let before = files(scenario.fs)
        switch scenario.outcome {
        case .refuses(let matches):
            #expect(rule.refuses)
            do {
                let store = try openSimulated(scenario.fs, segmentBytes: Self.segmentBytes)
                Issue.record("\(rule): opened, with decisions \(store.recovery.decisions)")
            } catch {
                #expect((error as? StorageError).map(matches) == true, "\(rule): \(error)")
            }
            #expect(files(scenario.fs) == before, "\(rule): a refusal changed files on disk")
        case .opens(let file):
            #expect(!rule.refuses)
            let store = try openSimulated(scenario.fs, segmentBytes: Self.segmentBytes)
            let decisions = store.recovery.decisions
            #expect(decisions.contains { $0.rule == rule && (file == nil || $0.file == file) }, "\(rule): \(decisions)")
            _ = try store.readRecords()
            try verifyIndexAgainstLog(store, context: "\(rule)")
            try await scenario.check(store, scenario.fs)
            try await store.close()
        }
    }

    /// FORMAT.md's recovery table is the one `RecoveryRule` renders. `STRATA_WRITE_FORMAT_TABLE=1 swift test
    /// --filter formatDocumentHoldsTheTable` writes it there after a change to the enum.
    @Test func formatDocumentHoldsTheTable() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path + "/FORMAT.md"
        var format = try String(contentsOfFile: path, encoding: .utf8)
        let begin = "<!-- recovery-table: generated from RecoveryRule.markdownTable; RecoveryTableTests checks it -->\n"
        let end = "\n<!-- recovery-table end -->"
        let start = try #require(format.range(of: begin), "FORMAT.md has no recovery-table marker")
        let stop = try #require(format.range(of: end, range: start.upperBound..<format.endIndex))
        let table = String(format[start.upperBound..<stop.lowerBound])
        if ProcessInfo.processInfo.environment["STRATA_WRITE_FORMAT_TABLE"] == "1" && table != RecoveryRule.markdownTable {
            format.replaceSubrange(start.upperBound..<stop.lowerBound, with: RecoveryRule.markdownTable)
            try format.write(toFile: path, atomically: true, encoding: .utf8)
            return
        }
        #expect(table == RecoveryRule.markdownTable, "FORMAT.md's recovery table differs from RecoveryRule; it should read:\n\(RecoveryRule.markdownTable)")
    }
}
