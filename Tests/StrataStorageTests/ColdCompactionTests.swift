import StrataTestSupport
import Testing

@_spi(StrataInternals) @testable import StrataStorage

/// Every cold segment at once, merged two or three to a file, frames merged up to 2 KiB.
let compactEverything = LogStore.ColdCompaction(olderThan: .zero, zlibLevel: 6, mergedBytesMax: 10_000, frameBytesTarget: 2_048)

/// A store of many small segments: 60 appends of 1–7 records over 12 streams, batches of several streams too.
func fillForCompaction(_ store: LogStore, appends: Int = 60, seed: UInt64 = 7) async throws {
    var rng = SplitMix64(seed: seed)
    var versions: [Int: UInt64] = [:]
    for _ in 0..<appends {
        var batch: [EventRecord] = []
        for _ in 0..<(1 + Int(rng.next() % 3)) {
            let stream = Int(rng.next() % 12)
            let count = 1 + Int(rng.next() % 3)
            batch += sampleBatch(stream: stream, after: versions[stream, default: 0], count: count, payloadBytes: 60 + Int(rng.next() % 80))
            versions[stream, default: 0] += UInt64(count)
        }
        try await store.append(batch)
    }
}

@Suite struct ColdCompactionTests {
    /// Compaction rewrites and merges segments; the log, every stream read and the index answer exactly as
    /// before, after reopening (with and without the checkpoint) too.
    @Test func compactedStoreReadsTheSame() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, segmentBytes: 2_048)
        try await fillForCompaction(store)
        let before = try store.readRecords()
        let segmentsBefore = segmentPaths(fs).count
        #expect(segmentsBefore > 8)
        // A reader half way through keeps its place across the swap.
        let reader = store.makeReader()
        var streamed: [StoredRecord] = []
        try reader.read(maxRecords: before.count / 3) { streamed.append($0.materialize()) }

        let report = try await store.compactColdSegments(compactEverything)
        #expect(report.segmentsRead == segmentsBefore - 1)
        #expect(report.segmentsWritten < report.segmentsRead)
        #expect(report.framesAfter < report.framesBefore)
        #expect(report.bytesAfter < report.bytesBefore, "\(report)")
        #expect(segmentPaths(fs).count == report.segmentsWritten + 1)
        #expect(try store.readRecords() == before)
        try verifyIndexAgainstLog(store, context: "compacted")
        // A reader placed anywhere starts at the frame the frame table names.
        for start in stride(from: 1, through: before.count, by: 7) {
            #expect(try store.readRecords(from: UInt64(start), limit: 3) == Array(before[(start - 1)..<min(start + 2, before.count)]))
        }
        while try reader.read(maxRecords: 5, { streamed.append($0.materialize()) }) > 0 {}
        #expect(streamed == before)

        // Appends go on (into the active segment, then new ones), and a second compaction finds the rest.
        try await fillForCompaction(store, appends: 20, seed: 8)
        let grown = try store.readRecords()
        _ = try await store.compactColdSegments(compactEverything)
        #expect(try store.readRecords() == grown)
        try verifyIndexAgainstLog(store, context: "compacted twice")
        try await store.close()

        // Reopened from the checkpoint: nothing read, same answers.
        fs.resetReadCounts()
        let reopened = try openSimulated(fs, segmentBytes: 2_048)
        #expect(reopened.recovery.usedCheckpoint)
        #expect(reopened.recovery.bytesRead == 0)
        #expect(try reopened.readRecords() == grown)
        try verifyIndexAgainstLog(reopened, context: "reopened")
        try await reopened.close()

        // Without the checkpoint every sealed segment is verified (the compacted ones by header and footer).
        try fs.remove(simulatedStorePath + "/CHECKPOINT")
        let verified = try openSimulated(fs, segmentBytes: 2_048)
        #expect(!verified.recovery.usedCheckpoint)
        #expect(try verified.readRecords() == grown)
        try verifyIndexAgainstLog(verified, context: "verified")
        // The index rebuilt from compacted segments answers the same.
        try await verified.rebuildIndex()
        try verifyIndexAgainstLog(verified, context: "index rebuilt")
        try await verified.close()
    }

    /// Segments younger than the threshold, and the active segment, are left alone; a compacted file alone is
    /// not rewritten again.
    @Test func onlyColdSealedSegmentsAreRewritten() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, segmentBytes: 2_048)
        try await fillForCompaction(store)
        let untouched = try await store.compactColdSegments(LogStore.ColdCompaction(olderThan: .seconds(3600)))
        #expect(untouched == LogStore.ColdCompactionReport())
        // Durations past what microseconds hold mean "nothing is that old" (no trap).
        for huge in [Duration.seconds(Int64.max), .seconds(Int64.max / 1_000)] {
            #expect(try await store.compactColdSegments(LogStore.ColdCompaction(olderThan: huge)) == LogStore.ColdCompactionReport())
        }
        // Later than now by an hour: all cold. One file per segment (no merging), so a second run finds nothing.
        let hourLater = wallClockMicros() + 3_600_000_000
        let alone = LogStore.ColdCompaction(olderThan: .seconds(3600), mergedBytesMax: 1)
        let first = try await store.compactColdSegments(alone, now: hourLater)
        #expect(first.segmentsRead > 0 && first.segmentsRead == first.segmentsWritten)
        let second = try await store.compactColdSegments(alone, now: hourLater)
        #expect(second == LogStore.ColdCompactionReport())
        let active = store.published.withLock { $0.segments.last! }
        #expect(!active.sealed && !active.isCompacted)
        try verifyIndexAgainstLog(store)
        try await store.close()
    }

    /// Sealing the active segment on demand makes everything written cold-compactable; appends go on after it.
    @Test func sealingTheActiveSegmentLetsEverythingBeCompacted() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs)
        try await fillForCompaction(store, appends: 30)
        #expect(try await store.compactColdSegments(compactEverything) == LogStore.ColdCompactionReport())
        try await store.sealActiveSegment()
        try await store.sealActiveSegment()  // nothing new: no empty segment is sealed
        #expect(segmentPaths(fs).count == 2)
        let report = try await store.compactColdSegments(LogStore.ColdCompaction(olderThan: .zero))
        #expect(report.segmentsRead == 1 && report.segmentsWritten == 1 && report.bytesAfter < report.bytesBefore, "\(report)")
        try await fillForCompaction(store, appends: 5, seed: 9)
        try verifyIndexAgainstLog(store)
        let all = try store.readRecords()
        try await store.close()
        let reopened = try openSimulated(fs)
        #expect(reopened.recovery.usedCheckpoint)
        #expect(try reopened.readRecords() == all)
        try await reopened.close()
    }

    /// A fault at every file operation of a compaction, then a crash (losing unsynced data, or keeping it all):
    /// the store reopens with every event, the index agrees, and it takes appends and another compaction.
    @Test func crashAtEveryStepOfACompaction() async throws {
        let base = SimulatedFileSystem()
        let store = try openSimulated(base, segmentBytes: 2_048)
        try await fillForCompaction(store, appends: 30)
        let expected = try store.readRecords()
        try await store.close()

        func run(_ fs: SimulatedFileSystem, faultAfter step: Int?) async throws -> Bool {
            let store = try openSimulated(fs, segmentBytes: 2_048)
            if let step { fs.injectFault(after: step) }
            let failed: Bool
            do {
                _ = try await store.compactColdSegments(compactEverything)
                failed = false
            } catch { failed = true }
            if !failed { #expect(try store.readRecords() == expected) }
            return failed
        }
        // Count the operations of a clean compaction.
        let probe = base.crashed(tear: .keepAll)
        let opened = try openSimulated(probe, segmentBytes: 2_048)
        let counted = probe.operationCounts.values.reduce(0, +)
        try await opened.close()
        let clean = base.crashed(tear: .keepAll)
        #expect(try await run(clean, faultAfter: nil) == false)
        let total = clean.operationCounts.values.reduce(0, +) - counted
        #expect(total > 10)
        var failures = 0
        var supersededRemoved = 0
        for step in 0..<(total + 2) {
            let fs = base.crashed(tear: .keepAll)
            if try await run(fs, faultAfter: step) { failures += 1 }
            for tear in [SimulatedFileSystem.Tear.dropUnsynced, .keepAll] {
                let crashed = fs.crashed(tear: tear)
                let context = "fault after \(step) operations, \(tear)"
                let recovered: LogStore
                do { recovered = try openSimulated(crashed, segmentBytes: 2_048) } catch {
                    Issue.record("\(context): reopen failed: \(error)")
                    continue
                }
                #expect(try recovered.readRecords() == expected, "\(context)")
                try verifyIndexAgainstLog(recovered, context: context)
                if !recovered.recovery.removedSupersededSegments.isEmpty { supersededRemoved += 1 }
                // No file is left that the log does not use.
                let listed = Set(recovered.published.withLock { $0.segments.map(\.file.path) })
                #expect(Set(segmentPaths(crashed)) == listed, "\(context)")
                _ = try await recovered.compactColdSegments(compactEverything)
                #expect(try recovered.readRecords() == expected, "\(context), compacted after")
                try await recovered.append(sampleBatch(stream: 99, after: 0, count: 2))
                try await recovered.close()
            }
        }
        #expect(failures > 0)
        // Some crashes came after a merged file was in place and before the files it replaced were removed.
        #expect(supersededRemoved > 0)
    }

    /// Appends, log readers and stream readers run while compactions rewrite the segments under them.
    @Test func readsAndAppendsDuringCompaction() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, segmentBytes: 2_048)
        try await fillForCompaction(store, appends: 40)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for round in 0..<8 {
                    _ = try await store.compactColdSegments(compactEverything)
                    try await fillForCompaction(store, appends: 5, seed: UInt64(100 + round))
                }
            }
            for r in 0..<2 {
                group.addTask {
                    let reader = store.makeReader()
                    var previous: UInt64 = 0
                    for pass in 0..<300 {
                        try reader.read(maxRecords: 7) { record in
                            #expect(record.sequence == previous + 1)
                            previous = record.sequence
                        }
                        let stream = PartitionKey(tenant: "t\(pass % 3)", group: "Cart", id: "s\((pass + r) % 12)")
                        let events = try store.readStreamRecords(stream)
                        #expect(events.map(\.version) == Array(0..<UInt64(events.count)).map { $0 + 1 })
                        await Task.yield()
                    }
                }
            }
            try await group.waitForAll()
        }
        try verifyIndexAgainstLog(store, context: "after concurrent compactions")
        try await store.close()
    }

    /// `strata fsck` reads compacted segments (frames, frame table, footer), accepts the index entries written
    /// before the compaction, and finds damage to a compacted frame, to the frame table and to the index.
    @Test func fsckChecksCompactedSegments() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, segmentBytes: 2_048)
        try await fillForCompaction(store)
        _ = try await store.compactColdSegments(compactEverything)
        let compacted = store.published.withLock { $0.segments.first! }
        #expect(compacted.isCompacted && compacted.file.lastNumber > compacted.file.number)
        let events = try store.readRecords().count
        try await store.close()
        let clean = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs)
        #expect(clean.problems.isEmpty, "\(clean.problems)")
        #expect(clean.events == events)

        let path = compacted.file.path
        let original = fs.contents(of: path)!
        func damaged(at offset: Int, _ expectKind: StoreCheck.Problem.Kind) throws {
            var bytes = original
            bytes[offset] ^= 0x40
            fs.setContents(of: path, to: bytes)
            let report = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs)
            #expect(report.problems.contains { $0.file.hasSuffix(".segment") && $0.kind == expectKind }, "byte \(offset): \(report.problems)")
            fs.setContents(of: path, to: original)
        }
        try damaged(at: 64 + 40, .badChecksum)                                   // inside the first frame
        try damaged(at: Int(compacted.dataEnd) + 8, .badChecksum)               // the frame table
        try damaged(at: original.count - 10, .badFooter)                         // the footer

        // A repair rewrites a damaged compacted segment as a compacted segment again: the damaged frame's events
        // become a lost range, every other event stays, and fsck finds nothing more to repair.
        let everything = try await {
            let s = try openSimulated(fs, segmentBytes: 2_048)
            let records = try s.readRecords()
            try await s.close()
            return records
        }()
        let table = try FrameTable.decode(
            UnsafeRawBufferPointer(rebasing: original.withUnsafeBytes { $0 }[Int(compacted.dataEnd)..<(original.count - SegmentFooter.byteCount)]),
            frames: compacted.frameCount, dataEnd: UInt64(compacted.dataEnd), firstSequence: compacted.file.baseSequence,
            lastSequence: compacted.lastSequence)
        #expect(table.count >= 2)
        var bytes = original
        bytes[Int(table.offsets[1]) + 40] ^= 0x40  // inside the second frame
        fs.setContents(of: path, to: bytes)
        let problems = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs).problems
        let done = try await StoreRepair.repair(store: simulatedStorePath, problems: problems, fileSystem: fs).map(\.description)
        #expect(done.contains { $0.hasPrefix("rewrote") && $0.contains("events lost") }, "\(done)")
        let lost = table.baseSequences[1]...(table.baseSequences[2] - 1)
        let after = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs)
        #expect(after.problems.isEmpty, "\(after.problems)")
        #expect(after.lostRanges.map { $0.firstSequence...$0.lastSequence } == [lost])
        let repaired = try openSimulated(fs, segmentBytes: 2_048)
        let kept = everything.filter { !lost.contains($0.sequence) }
        #expect(try repaired.readRecords() == kept)
        #expect(repaired.published.withLock { $0.segments.first!.isCompacted })
        // Stream reads through the rebuilt index (versions in the lost range are gaps).
        for key in Set(kept.map(\.record.key)) {
            #expect(try repaired.readStreamRecords(key) == kept.filter { $0.record.key == key })
        }
        let lastNumber = repaired.published.withLock { $0.segments.first!.file.lastNumber }
        try await repaired.close()

        // A damaged header of a merged compacted segment: rewritten from the name, the footer's frame table and
        // the next file's number; nothing more is lost.
        var header = fs.contents(of: path)!
        header[20] ^= 0x01
        fs.setContents(of: path, to: header)
        let headerProblems = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs).problems
        #expect(!headerProblems.isEmpty)
        let fixed = try await StoreRepair.repair(store: simulatedStorePath, problems: headerProblems, fileSystem: fs).map(\.description)
        #expect(fixed.contains { $0.hasPrefix("rewrote") }, "\(fixed)")
        #expect(try StoreCheck.check(store: simulatedStorePath, fileSystem: fs).problems.isEmpty)
        let again = try openSimulated(fs, segmentBytes: 2_048)
        #expect(try again.readRecords() == kept)
        #expect(again.published.withLock { $0.segments.first!.file.lastNumber } == lastNumber)
        try await again.close()
    }

    /// Hostile sizes in a checkpoint entry or a footer (with their checksums recomputed, which a fuzzer cannot do)
    /// are reported or passed over, never trapped on: the old comparisons added them up as Int64.
    @Test func hostileDataEndsInCheckpointAndFooterDoNotTrap() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, segmentBytes: 2_048)
        try await fillForCompaction(store, appends: 20)
        let expected = try store.readRecords()
        try await store.close()
        let checkpointPath = simulatedStorePath + "/CHECKPOINT"
        let original = try fs.contents(of: checkpointPath).map { bytes in
            try bytes.withUnsafeBytes { try Checkpoint.decode($0) }
        }!
        for hostile in [UInt64.max, UInt64.max - 55, UInt64(Int64.max) + 1] {
            var checkpoint = original
            for i in checkpoint.segments.indices.dropLast() { checkpoint.segments[i].dataEnd = hostile }
            fs.setContents(of: checkpointPath, to: checkpoint.encode())
            // Every sealed entry disagrees with its file: each is verified instead.
            let reopened = try openSimulated(fs, segmentBytes: 2_048)
            #expect(!reopened.recovery.usedCheckpoint)
            #expect(try reopened.readRecords() == expected)
            try await reopened.close()
            // The active segment's entry past the file: committed data would be missing, which is refused.
            var last = try fs.contents(of: checkpointPath).map { bytes in try bytes.withUnsafeBytes { try Checkpoint.decode($0) } }!
            let saved = last
            last.segments[last.segments.count - 1].dataEnd = hostile
            fs.setContents(of: checkpointPath, to: last.encode())
            do {
                _ = try openSimulated(fs, segmentBytes: 2_048)
                Issue.record("a checkpoint past the active segment's end was accepted")
            } catch {
                expectCorrupt(error, .truncated, fileContains: ".segment")
            }
            fs.setContents(of: checkpointPath, to: saved.encode())
        }
        // A sealed segment whose footer claims a data end near 2^64 and a frame table: refused as a bad footer.
        let first = segmentPaths(fs)[0]
        var bytes = fs.contents(of: first)!
        let footerAt = bytes.count - SegmentFooter.byteCount
        let footer = try bytes[footerAt...].withUnsafeBytes { try SegmentFooter.decode($0) }
        var forged = footer
        forged.dataEnd = .max - 7
        forged.tableBytes = UInt32(FrameTable.byteCount(frames: footer.frameCount))
        bytes.replaceSubrange(footerAt..., with: forged.encode())
        fs.setContents(of: first, to: bytes)
        try fs.remove(checkpointPath)
        #expect(throws: StorageError.self) { try openSimulated(fs, segmentBytes: 2_048) }
    }

    /// A compacted segment that is the last file (its active successor gone): damage in it is damage, not a torn
    /// tail (it was written whole), and a repair rewrites it. (FuzzRepair found fsck calling such damage a torn
    /// tail, which a repair leaves to recovery, so the repaired store still failed fsck.)
    /// A compacted segment that stands for several segment numbers, with its header and its footer both damaged:
    /// nothing in the file says which numbers it stands for any more, but its frames run up to the next file's base
    /// sequence, so the gap in the numbers is segments merged into it, not a deleted file. fsck reports the damage,
    /// not a missing segment, and a repair rewrites it losing nothing (it used to refuse: "segment 2 is missing
    /// before this one; restore the missing segments from a copy" — the random acknowledged-data test, seed
    /// 17444459876916230126).
    @Test func aCompactedSegmentWithDamagedHeaderAndFooterIsRepairedWithoutLoss() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, segmentBytes: 2_048)
        try await fillForCompaction(store, appends: 20)
        try await store.sealActiveSegment()
        _ = try await store.compactColdSegments(LogStore.ColdCompaction(olderThan: .zero, mergedBytesMax: 1 << 20))
        try await fillForCompaction(store, appends: 3, seed: 8)
        let expected = try store.readRecords()
        try await store.close()
        let paths = segmentPaths(fs).sorted()
        #expect(paths.count == 2)
        let numbers = paths.compactMap { SegmentFileName.parse(String($0.split(separator: "/").last!))?.number }
        #expect(numbers.count == 2 && numbers[1] > numbers[0] + 1, "the compacted file stands for several numbers: \(paths)")
        var bytes = fs.contents(of: paths[0])!
        bytes[20] ^= 0x01  // the header
        bytes[bytes.count - 8] ^= 0x01  // the footer
        fs.setContents(of: paths[0], to: bytes)
        let problems = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs).problems
        #expect(!problems.isEmpty && !problems.contains { $0.kind == .missingSegment || $0.kind == .tornTail }, "\(problems)")
        let done = try await StoreRepair.repair(store: simulatedStorePath, problems: problems, fileSystem: fs).map(\.description)
        #expect(done.contains { $0.hasPrefix("rewrote") && $0.contains("no event lost") }, "\(done)")
        #expect(!done.contains { $0.hasPrefix("not repaired") }, "\(done)")
        #expect(try StoreCheck.check(store: simulatedStorePath, fileSystem: fs).problems.isEmpty)
        let reopened = try openSimulated(fs, segmentBytes: 2_048)
        #expect(try reopened.readRecords() == expected)
        try await reopened.close()
    }

    @Test func damageInACompactedLastSegmentIsRepaired() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, segmentBytes: 2_048)
        try await fillForCompaction(store, appends: 20)
        try await store.sealActiveSegment()
        _ = try await store.compactColdSegments(LogStore.ColdCompaction(olderThan: .zero, mergedBytesMax: 1 << 20))
        let expected = try store.readRecords()
        try await store.close()
        let paths = segmentPaths(fs)
        #expect(paths.count == 2)
        try fs.remove(paths[1])  // the empty active segment
        try fs.remove(simulatedStorePath + "/CHECKPOINT")
        var bytes = fs.contents(of: paths[0])!
        bytes[bytes.count - SegmentFooter.byteCount - 6] ^= 0x20  // inside the frame table
        fs.setContents(of: paths[0], to: bytes)
        let problems = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs).problems
        #expect(problems.contains { $0.kind == .badChecksum } && !problems.contains { $0.kind == .tornTail }, "\(problems)")
        let done = try await StoreRepair.repair(store: simulatedStorePath, problems: problems, fileSystem: fs).map(\.description)
        #expect(done.contains { $0.hasPrefix("rewrote") && $0.contains("no event lost") }, "\(done)")
        #expect(try StoreCheck.check(store: simulatedStorePath, fileSystem: fs).problems.isEmpty)
        let reopened = try openSimulated(fs, segmentBytes: 2_048)
        #expect(try reopened.readRecords() == expected)
        try await reopened.close()
    }
}
