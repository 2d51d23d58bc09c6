import StrataTestSupport
import Testing

@_spi(StrataInternals) @testable import StrataStorage

/// fsck and stats on the simulated file system: hostile metadata with valid checksums must be reported, never
/// crash, and neither tool may change a file.
@Suite struct StoreCheckTests {
    @Test func checkpointWithOutOfRangeValuesIsReportedNotTrapped() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs)
        try await store.append(sampleBatch(stream: 1, after: 0, count: 20))
        try await store.close()
        let segment = try #require(fs.files.first { $0.hasSuffix(".segment") })
        let number = try #require(SegmentFileName.parse(String(segment.split(separator: "/").last!))?.number)
        let hostile = Checkpoint(
            nextSequence: 0,
            segments: [Checkpoint.Segment(number: number, baseSequence: 1, lastSequence: .max, dataEnd: .max, frameCount: .max, sealed: true)])
        fs.setContents(of: simulatedStorePath + "/CHECKPOINT", to: hostile.encode())
        let before = fs.files.map { fs.contents(of: $0) }

        let report = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs)
        #expect(report.problems.contains { $0.file == "CHECKPOINT" && $0.kind == .badCheckpoint }, "\(report.problems)")
        #expect(report.events == 20)
        let stats = try StoreStats.collect(store: simulatedStorePath, deep: true, fileSystem: fs)
        #expect(stats.events == 20)
        #expect(fs.files.map { fs.contents(of: $0) } == before, "fsck and stats must not write")
    }

    /// fsck reads every snapshot and checks each against the log; a repair moves the snapshot files aside.
    @Test func snapshotsAreCheckedAgainstTheLogAndARepairSetsBadOnesAside() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs)
        for stream in 0..<3 { try await store.append(sampleBatch(stream: stream, after: 0, count: 5)) }  // sequences 1...15
        func snapshot(_ stream: Int, version: UInt64, sequence: UInt64) -> SnapshotRecord {
            SnapshotRecord(
                subject: .stream(sampleRecord(stream: stream, version: 1).key), projectorName: "Cart", projectorVersion: 1,
                codecName: "json", sequence: sequence, version: version, createdMicros: 0, state: Array(repeating: 7, count: 50))
        }
        try store.snapshots.write([snapshot(0, version: 5, sequence: 5), snapshot(1, version: 2, sequence: 7)])
        try store.snapshots.write([SnapshotRecord(
            subject: .projection(name: "Overview", tenant: nil), projectorName: "Overview", projectorVersion: 1,
            codecName: "json", sequence: 15, version: 0, createdMicros: 0, state: [1])])
        try await store.close()
        var report = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs)
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.snapshotFiles == 2 && report.snapshots == 3)
        // Wrong version for its sequence, past the log's end, and a damaged record.
        let reopened = try openSimulated(fs)
        try reopened.snapshots.write([snapshot(2, version: 4, sequence: 13), snapshot(2, version: 16, sequence: 16)])
        try await reopened.close()
        let first = simulatedStorePath + "/snapshots/0000000001.snapshots"
        var bytes = try #require(fs.contents(of: first))
        bytes[SnapshotFileHeader.byteCount + 60] ^= 1
        fs.setContents(of: first, to: bytes)
        let before = fs.files.map { fs.contents(of: $0) }
        report = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs)
        #expect(fs.files.map { fs.contents(of: $0) } == before, "fsck must not write")
        let found = report.problems.map { "\($0.file) \($0.kind)" }.sorted()
        #expect(found == [
            "snapshots/0000000001.snapshots badChecksum",
            "snapshots/0000000003.snapshots snapshotMismatch", "snapshots/0000000003.snapshots snapshotMismatch",
        ], "\(report.problems)")
        let done = try await StoreRepair.repair(store: simulatedStorePath, problems: report.problems, fileSystem: fs, nowMicros: 2_000_000).map(\.description)
        #expect(done.contains { $0.hasPrefix("moved the snapshot files to quarantine/snapshots.fsck-2/") }, "\(done)")
        report = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs)
        #expect(report.problems.isEmpty && report.snapshots == 0, "\(report.problems)")
        #expect(report.events == 15)
    }

    @Test func aCleanStoreHasNoProblemsAndEveryFileIsCounted() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, segmentBytes: 4_096)
        for stream in 0..<12 { try await store.append(sampleBatch(stream: stream, after: 0, count: 15, payloadBytes: 80)) }
        try await store.close()
        let report = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs)
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.segments > 1)
        #expect(report.events == 180)
        #expect(report.streams == 12)
        #expect(report.indexFiles >= 3)

        // Files that are not the store's are named; a misnamed segment is a problem (the store would ignore it).
        fs.setContents(of: simulatedStorePath + "/notes.txt", to: Array("hello".utf8))
        fs.setContents(of: simulatedStorePath + "/1-1.segment", to: [])
        let again = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs)
        #expect(again.notes.contains { $0.hasPrefix("notes.txt: not a store file") }, "\(again.notes)")
        #expect(again.problems.map(\.file) == ["1-1.segment"], "\(again.problems)")
    }

    /// Stats without a readable index must scan every segment, not just the active one.
    @Test func fastStatsWithoutAnIndexStillCountEveryStream() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, segmentBytes: 4_096)
        for stream in 0..<12 { try await store.append(sampleBatch(stream: stream, after: 0, count: 15, payloadBytes: 80)) }
        try await store.close()
        for file in fs.files where file.contains("/index/") { try fs.remove(file) }
        let fast = try StoreStats.collect(store: simulatedStorePath, deep: false, fileSystem: fs)
        let deep = try StoreStats.collect(store: simulatedStorePath, deep: true, fileSystem: fs)
        #expect(fast.segments > 1)
        #expect(fast.streams == 12 && deep.streams == 12)
        #expect(fast.events == 180 && deep.events == 180)
        #expect(fast.tenants.mapValues(\.streams) == deep.tenants.mapValues(\.streams))
    }

    /// Fast stats merge the index's heads files (several, overlapping) and add the streams of frames the index
    /// has not taken in, each stream once: the same counts as a full scan.
    @Test func fastStatsMergeOverlappingHeadsFilesAndTheUnindexedTail() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, segmentBytes: 2_048)
        var versions: [Int: UInt64] = [:]
        for round in 0..<5 {
            for stream in 0..<10 where (stream + round) % 3 != 0 {
                try await store.append(sampleBatch(stream: stream, after: versions[stream] ?? 0, count: 3, payloadBytes: 60))
                versions[stream, default: 0] += 3
            }
        }
        let written = fs.files.filter { $0.contains("/index/heads-") }.count
        // Streams that only the active segment holds (the index has not flushed them).
        // Streams that only the active segment holds: the machine stops before the index flushes them.
        for stream in 20..<23 { try await store.append(sampleBatch(stream: stream, after: 0, count: 1)) }
        let crashed = fs.crashed()
        try await store.close()
        #expect(written >= 2, "the test needs several heads files")
        let fast = try StoreStats.collect(store: simulatedStorePath, deep: false, fileSystem: crashed)
        let deep = try StoreStats.collect(store: simulatedStorePath, deep: true, fileSystem: crashed)
        #expect(fast.problems.isEmpty && deep.problems.isEmpty)
        #expect(fast.streams == 13 && deep.streams == 13)
        #expect(fast.tenants.mapValues(\.streams) == deep.tenants.mapValues(\.streams))
    }
}
