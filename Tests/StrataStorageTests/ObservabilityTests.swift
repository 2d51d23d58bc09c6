import Logging
import MetricsTestKit
import StrataTestSupport
import Testing

@_spi(StrataInternals) @testable import StrataStorage

/// What the engine logs (swift-log) and measures (swift-metrics), read with a capturing logger and
/// `MetricsTestKit.TestMetrics`: recovery cuts and refusals, quarantines, index rebuilds and merges, background
/// failures, a stopped writer, and the commit path's counters and timers.
@Suite struct ObservabilityTests {
    let logs = LogCapture()
    let metrics = TestMetrics()
    var observability: Observability { Observability(logger: logs.logger, metricsFactory: metrics) }

    func open(_ fs: SimulatedFileSystem, durability: LogStore.Durability = .always, segmentBytes: Int = 64 << 20) throws -> LogStore {
        if !fs.directoryExists(simulatedStorePath) { try fs.createDirectory(simulatedStorePath) }
        return try LogStore.open(
            at: simulatedStorePath,
            options: LogStore.Options(
                durability: durability, segmentBytesTarget: segmentBytes, fileSystem: fs, observability: observability))
    }

    func logged(_ level: Logger.Level, _ fragment: String) -> [LogCapture.Entry] {
        logs.entries.filter { $0.level == level && $0.message.contains(fragment) }
    }

    @Test func appendsAreCountedAndTimed() async throws {
        let fs = SimulatedFileSystem()
        let store = try open(fs)
        var records = 0
        for i in 0..<5 {
            let batch = sampleBatch(stream: i, after: 0, count: 1 + i, payloadBytes: 50)
            records += batch.count
            try await store.append(batch)
        }
        #expect(metrics.counterTotal(label: StrataMetric.commits) == 5)
        #expect(metrics.counterTotal(label: StrataMetric.frames) == 5)
        #expect(metrics.counterTotal(label: StrataMetric.records) == Int64(records))
        #expect(metrics.counterTotal(label: StrataMetric.bytesWritten) == Int64(store.statistics.bytesWritten))
        #expect(try metrics.expectTimer(StrataMetric.appendDuration).values.count == 5)
        #expect(try metrics.expectTimer(StrataMetric.syncDuration).values.count == store.statistics.syncs)
        #expect(try metrics.expectRecorder(StrataMetric.groupCommitAppends).values.reduce(0, +) == 5)
        #expect(try metrics.expectTimer(StrataMetric.recoveryDuration).values.count == 1)
        try await store.close()
    }

    @Test func aCutTornTailIsLoggedCountedAndQuarantined() async throws {
        let fs = SimulatedFileSystem()
        let store = try open(fs, durability: .never)
        for i in 0..<3 { try await store.append(sampleBatch(stream: i, after: 0, count: 2, payloadBytes: 60)) }
        let crashed = fs.crashed(tear: .keepPrefixThenGarbage(150, seed: 3))
        let reopened = try open(crashed)
        let cut = try #require(reopened.recovery.truncation)
        let warning = try #require(logged(.warning, "cut a torn final write").first)
        #expect(warning.metadata["offset"] == "\(cut.offset)" && warning.metadata["bytes"] == "\(cut.bytesRemoved)", "\(warning)")
        #expect(warning.metadata["quarantine"] == cut.savedAs, "\(warning)")
        #expect(metrics.counterTotal(label: StrataMetric.recoveryCuts) == 1)
        #expect(metrics.counterTotal(label: StrataMetric.recoveryCutBytes) == cut.bytesRemoved)
        #expect(metrics.counterTotal(label: StrataMetric.quarantined) == 1)
        #expect(logged(.notice, "recovered the store").last?.metadata["decisions"]?.contains("cutTornTail") == true)
        try await reopened.close()
    }

    @Test func aRefusedOpenIsLoggedAndCountedByRule() async throws {
        let fs = SimulatedFileSystem()
        var store = try open(fs)
        try await store.close()
        store = try open(fs)
        for i in 0..<3 { try await store.append(sampleBatch(stream: i, after: 0, count: 2, payloadBytes: 60)) }
        let crashed = fs.crashed(tear: .dropUnsynced)
        let segment = segmentPaths(crashed).last!
        var bytes = crashed.contents(of: segment)!
        bytes[SegmentHeader.byteCount + 40] ^= 0x01
        crashed.setContents(of: segment, to: bytes)
        #expect(throws: StorageError.self) { _ = try open(crashed) }
        let error = try #require(logged(.error, "does not open").first)
        #expect(error.metadata["rule"] == "refuseDamage" && error.metadata["error"]?.contains("strata fsck --repair") == true, "\(error)")
        #expect(metrics.counterTotal(label: StrataMetric.recoveryRefusals, dimensions: [("rule", "refuseDamage")]) == 1)
    }

    @Test func aStoppedWriterIsCriticalAndCounted() async throws {
        let fs = SimulatedFileSystem()
        let store = try open(fs)
        try await store.append(sampleBatch(stream: 1, after: 0, count: 1))
        fs.failNextSync()
        await #expect(throws: StorageError.self) { try await store.append(sampleBatch(stream: 2, after: 0, count: 1)) }
        await #expect(throws: StorageError.self) { try await store.append(sampleBatch(stream: 3, after: 0, count: 1)) }
        #expect(logged(.critical, "writer stopped").count == 1)
        #expect(logged(.critical, "writer stopped").first?.metadata["step"] == "commit")
        #expect(metrics.counterTotal(label: StrataMetric.writerFailures, dimensions: [("step", "commit")]) == 1)
    }

    @Test func indexRebuildsAndMergesAreLoggedAndCounted() async throws {
        let fs = SimulatedFileSystem()
        var store = try open(fs, segmentBytes: 2_048)
        for i in 0..<120 { try await store.append(sampleBatch(stream: i % 17, after: UInt64(i / 17) * 2, count: 2, payloadBytes: 90)) }
        store.index.waitForMerges()
        #expect(metrics.counterTotal(label: StrataMetric.indexMerges) >= 1)
        #expect(!logs.entries.filter { $0.level == .debug && $0.message.contains("merged index files") }.isEmpty)
        try await store.close()
        try fs.remove(simulatedStorePath + "/index/MANIFEST")
        store = try open(fs, segmentBytes: 2_048)
        #expect(logged(.warning, "rebuilding the partition index").first?.metadata["reason"] == "index manifest missing")
        #expect(metrics.counterTotal(label: StrataMetric.indexRebuilds) == 1)
        try await store.close()
    }

    @Test func aFailedBackgroundMergeIsLoggedAndCounted() async throws {
        let fs = SimulatedFileSystem()
        let store = try open(fs, segmentBytes: 2_048)
        // Hold merges back (as if one were running) until there are more runs than a merge waits for.
        store.index.mergeRunning.store(true, ordering: .releasing)
        var i = 0
        while store.index.state.withLock({ $0.runs.count }) <= PartitionIndex.runsBeforeMerge {
            try await store.append(sampleBatch(stream: i % 5, after: UInt64(i / 5) * 2, count: 2, payloadBytes: 90))
            i += 1
        }
        store.index.mergeRunning.store(false, ordering: .releasing)
        fs.injectFault(after: 0, on: [.create])
        store.index.scheduleMergeIfNeeded()
        store.index.waitForMerges()
        #expect(metrics.counterTotal(label: StrataMetric.backgroundFailures, dimensions: [("task", "index_merge")]) == 1)
        let error = try #require(logged(.error, "background index_merge failed").first)
        #expect(error.metadata["error"]?.contains("injected") == true, "\(error)")
        #expect(store.index.state.withLock { $0.runs.count } > PartitionIndex.runsBeforeMerge, "the files stay as they were")
        // The next flush tries again, and succeeds.
        store.index.scheduleMergeIfNeeded()
        store.index.waitForMerges()
        #expect(metrics.counterTotal(label: StrataMetric.indexMerges) == 1)
        try await store.close()
    }

    @Test func aRepairLogsEachStepAndCountsWhatItSetAside() async throws {
        let fs = SimulatedFileSystem()
        let store = try open(fs, segmentBytes: 2_048)
        for i in 0..<30 { try await store.append(sampleBatch(stream: i, after: 0, count: 3, payloadBytes: 100)) }
        try await store.close()
        let first = segmentPaths(fs)[0]
        var bytes = fs.contents(of: first)!
        bytes[SegmentHeader.byteCount + 50] ^= 0x08
        fs.setContents(of: first, to: bytes)
        let problems = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs).problems
        let steps = try await StoreRepair.repair(store: simulatedStorePath, problems: problems, fileSystem: fs, observability: observability)
        #expect(steps.allSatisfy { $0.outcome == .repaired }, "\(steps)")
        #expect(logged(.notice, "repair: rewrote").count == 1)
        // The segment's original copy, the checkpoint and the index folder.
        #expect(metrics.counterTotal(label: StrataMetric.quarantined) == 3)
    }
}
