import StrataTestSupport
import Testing

@_spi(StrataInternals) @testable import StrataStorage

/// Checks a recovered log: dense sequences from 1; every acknowledged batch at its acknowledged sequences;
/// every record part of a whole batch (acknowledged or one of the `candidates` that were in flight), so no
/// partial batch is visible.
func verifyRecovered(
    _ store: LogStore, acknowledged: [(ClosedRange<UInt64>, [EventRecord])], candidates: [[EventRecord]],
    context: String, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let all = try store.readRecords()
    #expect(all.map(\.sequence) == Array(0..<UInt64(all.count)).map { $0 + 1 }, "\(context): sequences not dense", sourceLocation: sourceLocation)
    for (range, batch) in acknowledged {
        guard range.upperBound <= UInt64(all.count) else {
            Issue.record("\(context): acknowledged \(range) missing (log has \(all.count))", sourceLocation: sourceLocation)
            continue
        }
        let found = all[Int(range.lowerBound - 1)..<Int(range.upperBound)].map(\.record)
        #expect(found == batch, "\(context): acknowledged batch \(range) differs", sourceLocation: sourceLocation)
    }
    var batchOf: [EventID: (batch: Int, position: Int)] = [:]
    let batches = acknowledged.map(\.1) + candidates
    for (b, batch) in batches.enumerated() {
        for (p, record) in batch.enumerated() { batchOf[record.eventId] = (b, p) }
    }
    var i = 0
    while i < all.count {
        guard let (b, p) = batchOf[all[i].record.eventId], p == 0 else {
            Issue.record("\(context): record \(i + 1) does not start a known batch", sourceLocation: sourceLocation)
            return
        }
        let batch = batches[b]
        guard i + batch.count <= all.count, Array(all[i..<(i + batch.count)].map(\.record)) == batch else {
            Issue.record("\(context): partial batch at sequence \(i + 1)", sourceLocation: sourceLocation)
            return
        }
        i += batch.count
    }
    // The partition index recovered too: every stream read, head and listing equals the log.
    try verifyIndexAgainstLog(store, context: context, sourceLocation: sourceLocation)
}

@Suite struct CrashRecoveryTests {
    /// Acknowledged batches survive a crash that loses everything unsynced.
    @Test func acknowledgedBatchesSurviveLosingUnsyncedData() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, segmentBytes: 2_048)
        var acked: [(ClosedRange<UInt64>, [EventRecord])] = []
        for i in 0..<30 {
            let batch = sampleBatch(stream: i, after: 0, count: 1 + i % 4, payloadBytes: 80)
            acked.append((try await store.append(batch), batch))
        }
        let recovered = try openSimulated(fs.crashed(tear: .dropUnsynced), segmentBytes: 2_048)
        try verifyRecovered(recovered, acknowledged: acked, candidates: [], context: "drop unsynced")
        #expect(recovered.lastSequence == acked.last!.0.upperBound)
        try await recovered.close()
    }

    /// The last write is torn at every byte offset of the final frames, and the rest of the unsynced range is
    /// lost, zero-filled or garbage: reopen recovers exactly the durable batches plus whole in-flight ones.
    @Test(arguments: [false, true])
    func tornFinalFramesAtEveryByteOffset(afterCheckpoint: Bool) async throws {
        let base = SimulatedFileSystem()
        var acked: [(ClosedRange<UInt64>, [EventRecord])] = []
        var store = try openSimulated(base)
        for i in 0..<4 {
            let batch = sampleBatch(stream: i, after: 0, count: 3)
            acked.append((try await store.append(batch), batch))
        }
        if afterCheckpoint {
            // A clean close puts a checkpoint mid-segment; recovery then scans only what follows it.
            try await store.close()
            store = try openSimulated(base, durability: .never)
        } else {
            try await store.close()
            // No checkpoint: recovery validates the segment from its header.
            try base.remove(simulatedStorePath + "/CHECKPOINT")
            store = try openSimulated(base, durability: .never)
        }
        let durableBytes = base.contents(of: segmentPaths(base).last!)!.count
        // Unsynced: several frames written without fdatasync.
        var inFlight: [[EventRecord]] = []
        for i in 0..<3 {
            let batch = sampleBatch(stream: 100 + i, after: 0, count: 2 + i, payloadBytes: 60)
            try await store.append(batch)
            inFlight.append(batch)
        }
        let unsyncedBytes = base.contents(of: segmentPaths(base).last!)!.count - durableBytes
        #expect(unsyncedBytes > 100)
        var tears: [SimulatedFileSystem.Tear] = [.dropUnsynced, .keepAll]
        for n in 0...unsyncedBytes {
            tears.append(.keepPrefix(n))
            tears.append(.keepPrefixThenZeros(n))
            tears.append(.keepPrefixThenGarbage(n, seed: UInt64(n)))
        }
        for tear in tears {
            let crashed = base.crashed(tear: tear)
            let recovered = try openSimulated(crashed)
            try verifyRecovered(recovered, acknowledged: acked, candidates: inFlight, context: "\(tear)")
            let kept = recovered.lastSequence - acked.last!.0.upperBound
            if case .keepAll = tear { #expect(kept == 9) }
            if case .dropUnsynced = tear { #expect(kept == 0) }
            // The recovered store accepts appends, and they survive another reopen.
            let extra = sampleBatch(stream: 999, after: 0, count: 2)
            let range = try await recovered.append(extra)
            try await recovered.close()
            let again = try openSimulated(crashed)
            #expect(again.recovery.usedCheckpoint, "\(tear)")
            try verifyRecovered(again, acknowledged: acked + [(range, extra)], candidates: inFlight, context: "\(tear) reopened")
            try await again.close()
        }
        try await store.close()
    }

    /// A failed fdatasync fails the appends it covered and every later one, and recovery after the crash
    /// keeps only whole batches.
    @Test func failedSyncStopsTheWriter() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs)
        var acked: [(ClosedRange<UInt64>, [EventRecord])] = []
        for i in 0..<5 {
            let batch = sampleBatch(stream: i, after: 0, count: 2)
            acked.append((try await store.append(batch), batch))
        }
        fs.failNextSync()
        let failing = sampleBatch(stream: 50, after: 0, count: 4)
        await #expect(throws: StorageError.self) { try await store.append(failing) }
        let later = sampleBatch(stream: 51, after: 0, count: 1)
        do {
            try await store.append(later)
            Issue.record("append after a failed sync succeeded")
        } catch {
            guard case .writerFailed(let failure) = error else { Issue.record("unexpected \(error)"); return }
            #expect(failure.step == .commit && failure.error.operation == "sync", "\(failure)")
        }
        for tear in [SimulatedFileSystem.Tear.dropUnsynced, .keepAll, .keepPrefix(30)] {
            let recovered = try openSimulated(fs.crashed(tear: tear))
            try verifyRecovered(recovered, acknowledged: acked, candidates: [failing], context: "\(tear)")
            try await recovered.close()
        }
        await #expect(throws: StorageError.self) { try await store.close() }
    }

    /// Crash at every mutating file operation of a workload that rolls segments: each time, the store reopens
    /// with every acknowledged batch and only whole batches.
    @Test func crashAtEveryFileOperationWhileRollingSegments() async throws {
        // Count the operations of a clean run first.
        func workload(_ fs: SimulatedFileSystem) async -> (acked: [(ClosedRange<UInt64>, [EventRecord])], all: [[EventRecord]]) {
            var acked: [(ClosedRange<UInt64>, [EventRecord])] = []
            var all: [[EventRecord]] = []
            guard let store = try? openSimulated(fs, segmentBytes: 1_024) else { return ([], []) }
            for i in 0..<24 {
                let batch = sampleBatch(stream: i, after: 0, count: 1 + i % 3, payloadBytes: 90)
                all.append(batch)
                if let range = try? await store.append(batch) { acked.append((range, batch)) } else { break }
            }
            try? await store.close()
            return (acked, all)
        }
        let probe = SimulatedFileSystem()
        _ = await workload(probe)
        let total = probe.operationCounts.values.reduce(0, +)
        #expect(total > 50)
        #expect(segmentPaths(probe).count > 4)
        for step in 0..<total {
            let fs = SimulatedFileSystem()
            fs.injectFault(after: step)
            let (acked, all) = await workload(fs)
            for tear in [SimulatedFileSystem.Tear.dropUnsynced, .keepAll] {
                let crashed = fs.crashed(tear: tear)
                let recovered: LogStore
                do {
                    recovered = try openSimulated(crashed, segmentBytes: 1_024)
                } catch {
                    Issue.record("step \(step) \(tear): reopen failed: \(error)")
                    continue
                }
                try verifyRecovered(recovered, acknowledged: acked, candidates: all, context: "fault at step \(step), \(tear)")
                try await recovered.append(sampleBatch(stream: 500, after: 0, count: 1))
                try await recovered.close()
            }
        }
    }
}

@Suite struct RecoveryReportTests {
    /// What recovery cuts off is saved under quarantine/ (unless it is all zeros), never destroyed.
    @Test func cutBytesAreQuarantined() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs)
        try await store.append(sampleBatch(stream: 1, after: 0, count: 3))
        try await store.close()
        let segment = segmentPaths(fs).last!
        let committed = fs.contents(of: segment)!
        let garbage: [UInt8] = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
        fs.setContents(of: segment, to: committed + garbage)
        let recovered = try openSimulated(fs)
        let truncation = try #require(recovered.recovery.truncation)
        #expect(truncation.offset == Int64(committed.count))
        #expect(truncation.bytesRemoved == 300)
        let saved = try #require(truncation.savedAs)
        #expect(saved.hasPrefix(simulatedStorePath + "/quarantine/"))
        #expect(fs.contents(of: saved) == garbage)
        #expect(fs.contents(of: segment) == committed)
        #expect(recovered.lastSequence == 3)
        try await recovered.close()

        fs.setContents(of: segment, to: committed + [UInt8](repeating: 0, count: 4096))
        let again = try openSimulated(fs)
        #expect(again.recovery.truncation?.bytesRemoved == 4096)
        #expect(again.recovery.truncation?.savedAs == nil)
        try await again.close()
    }

    @Test func readsAfterCloseFailWithClosed() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs)
        try await store.append(sampleBatch(stream: 1, after: 0, count: 3))
        let reader = store.makeReader()
        try await store.close()
        #expect(throws: StorageError.closed) { try reader.read { _ in } }
    }
}
