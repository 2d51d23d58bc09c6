import Foundation
import StrataTestSupport
import Testing

@_spi(StrataInternals) @testable import StrataStorage

/// Golden stores: tiny stores committed as bytes. Every later version of Strata must open and read them
/// exactly (FORMAT.md). Regenerate only for a new format version, into a new folder:
/// `STRATA_WRITE_GOLDEN=1 swift test --filter GoldenFileTests`.
@Suite struct GoldenFileTests {
    static let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Golden").path
    static let v1Store = goldenDirectory + "/v1-store"
    /// The v1 store after `strata fsck --repair` of a flipped bit in the middle frame of a sealed segment: that
    /// segment is format version 2, with a lost-range frame between intact frames.
    static let v2LostRangeStore = goldenDirectory + "/v2-lost-range-store"
    /// What the v2 golden store lost (the sequences of the damaged frame), and when the repair ran.
    static let v2Lost: ClosedRange<UInt64> = 12...13
    static let v2RepairMicros: Int64 = 1_795_000_000_000_000

    /// The records of the v1 golden store; fixed forever (do not derive from helpers that may change).
    static func v1Batches() -> [(Compression, [EventRecord])] {
        var rng = SplitMix64(seed: 20_261_128)
        var batches: [(Compression, [EventRecord])] = []
        let compressions: [Compression] = [.none, .lz4, .zlib(level: 6)]
        var versions: [String: UInt64] = [:]
        for b in 0..<12 {
            var records: [EventRecord] = []
            for r in 0..<(1 + b % 4) {
                let tenant = ["acme", "globex", "ünïcode-tenant"][(b + r) % 3]
                let id = "cart-\((b * 7 + r) % 5)"
                let key = "\(tenant)/\(id)"
                let version = (versions[key] ?? 0) + 1
                versions[key] = version
                let payload = #"{"item":"coffee","quantity":\#(r + 1),"unitPrice":\#(100 + b),"note":"\#(String(repeating: "abc", count: 10 + b))"}"#
                records.append(EventRecord(
                    key: PartitionKey(tenant: tenant, group: "Cart", id: id), 
                    typeName: r % 2 == 0 ? "ItemAdded" : "ItemRemoved", typeVersion: UInt32(1 + r % 2),
                    timestampMicros: 1_795_000_000_000_000 + Int64(b * 1000 + r), eventId: .random(using: &rng),
                    metadata: RecordMetadata(
                        correlationId: b % 2 == 0 ? "corr-\(b)" : EventID.random(using: &rng).description,
                        causationId: r == 1 ? "cause-\(b)" : r == 2 ? EventID.random(using: &rng).description : nil,
                        user: b % 3 == 0 ? "alice" : nil),
                    payload: Array(payload.utf8)))
            }
            batches.append((compressions[b / 4], records))
        }
        return batches
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["STRATA_WRITE_GOLDEN"] == "1"))
    func writeGoldenStores() async throws {
        try? FileManager.default.removeItem(atPath: Self.v1Store)
        var current: Compression?
        var store: LogStore?
        for (compression, records) in Self.v1Batches() {
            if compression != current {
                try await store?.close()
                store = try LogStore.open(
                    at: Self.v1Store, options: LogStore.Options(compression: compression, segmentBytesTarget: 1_024))
                current = compression
            }
            try await store!.append(records)
        }
        try await store?.close()
        try? FileManager.default.removeItem(atPath: Self.v1Store + "/LOCK")
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["STRATA_WRITE_GOLDEN"] == "1"))
    func writeGoldenLostRangeStore() async throws {
        try? FileManager.default.removeItem(atPath: Self.v2LostRangeStore)
        try FileManager.default.copyItem(atPath: Self.v1Store, toPath: Self.v2LostRangeStore)
        let fs = PosixFileSystem()
        // The sealed segment with the most frames; its middle frame gets a flipped bit.
        var best: (path: String, frames: [(offset: Int64, sequences: ClosedRange<UInt64>)])?
        for name in try fs.listDirectory(Self.v2LostRangeStore).filter({ $0.hasSuffix(".segment") }).sorted().dropLast() {
            var frames: [(offset: Int64, sequences: ClosedRange<UInt64>)] = []
            try SegmentInspector.walk(Self.v2LostRangeStore + "/" + name, fileSystem: fs) { step in
                if case .frame(let header, let offset, _) = step { frames.append((offset, header.baseSequence...header.lastSequence)) }
                return true
            }
            if frames.count > (best?.frames.count ?? 0) { best = (Self.v2LostRangeStore + "/" + name, frames) }
        }
        let (path, frames) = try #require(best)
        try #require(frames.count >= 3)
        let target = frames[frames.count / 2]
        #expect(target.sequences == Self.v2Lost, "update v2Lost to \(target.sequences)")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[Int(target.offset) + 40] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let problems = try StoreCheck.check(store: Self.v2LostRangeStore).problems
        let done = try await StoreRepair.repair(store: Self.v2LostRangeStore, problems: problems, nowMicros: Self.v2RepairMicros).map(\.description)
        #expect(done.contains { $0.hasPrefix("rewrote") }, "\(done)")
        try? FileManager.default.removeItem(atPath: Self.v2LostRangeStore + "/LOCK")
        try? FileManager.default.removeItem(atPath: Self.v2LostRangeStore + "/quarantine")
    }

    /// The v2 lost-range store after cold compaction (segment format 3, checkpoint format 2): its sealed segments
    /// merged into compacted files (zlib, merged frames, frame tables), the lost range copied through; the index
    /// files are the ones written before the compaction.
    static let v3CompactedStore = goldenDirectory + "/v3-compacted-store"

    @Test(.enabled(if: ProcessInfo.processInfo.environment["STRATA_WRITE_GOLDEN"] == "1"))
    func writeGoldenCompactedStore() async throws {
        try? FileManager.default.removeItem(atPath: Self.v3CompactedStore)
        try FileManager.default.copyItem(atPath: Self.v2LostRangeStore, toPath: Self.v3CompactedStore)
        let store = try LogStore.open(at: Self.v3CompactedStore, options: LogStore.Options(segmentBytesTarget: 1_024))
        let report = try await store.compactColdSegments(
            LogStore.ColdCompaction(olderThan: .zero, zlibLevel: 9, mergedBytesMax: 2_000, frameBytesTarget: 600))
        #expect(report.segmentsRead > report.segmentsWritten && report.segmentsWritten >= 2, "\(report)")
        try await store.close()
        try? FileManager.default.removeItem(atPath: Self.v3CompactedStore + "/LOCK")
    }

    @Test func v3CompactedStoreOpensWithoutScanningAndReadsExactly() async throws {
        let copy = try copyOfGolden(Self.v3CompactedStore)
        let report = try StoreCheck.check(store: copy.path)
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.lostRanges.map { $0.firstSequence...$0.lastSequence } == [Self.v2Lost])
        let names = try FileManager.default.contentsOfDirectory(atPath: copy.path).filter { $0.hasSuffix(".segment") }
        #expect(names.count < 6, "\(names)")
        let store = try LogStore.open(at: copy.path, options: LogStore.Options(createIfMissing: false))
        #expect(store.recovery.usedCheckpoint && store.recovery.bytesRead == 0)
        #expect(store.recovery.indexProblem == nil && store.recovery.indexFramesScanned == 0)
        let compacted = store.published.withLock { $0.segments.filter(\.isCompacted) }
        #expect(compacted.count >= 2 && compacted.contains { $0.file.lastNumber > $0.file.number })
        try await expectLostRangeStoreReads(store, at: copy.path)
    }

    /// The reads of a store holding the v1 golden records but the lost range: the log, every stream, and both
    /// again after reopening without the checkpoint and the index (every segment verified, the index rebuilt).
    func expectLostRangeStoreReads(_ store: LogStore, at path: String) async throws {
        let expected = Array(Self.v1Batches().flatMap(\.1).enumerated())
            .filter { !Self.v2Lost.contains(UInt64($0.offset + 1)) }
        let records = try store.readRecords()
        #expect(records.map(\.record) == expected.map(\.element))
        #expect(records.map(\.sequence) == expected.map { UInt64($0.offset + 1) })
        for key in Set(records.map(\.record.key)) {
            #expect(try store.readStreamRecords(key) == records.filter { $0.record.key == key })
        }
        try await store.close()
        try FileManager.default.removeItem(atPath: path + "/CHECKPOINT")
        try FileManager.default.removeItem(atPath: path + "/index")
        let again = try LogStore.open(at: path)
        #expect(again.recovery.truncation == nil)
        #expect(try again.readRecords() == records)
        for key in Set(records.map(\.record.key)) {
            #expect(try again.readStreamRecords(key) == records.filter { $0.record.key == key })
        }
        try await again.close()
    }

    /// A copy of a golden store in a temporary folder (opening takes the lock and may write).
    func copyOfGolden(_ path: String) throws -> TemporaryDirectory {
        let directory = TemporaryDirectory("strata-golden")
        try FileManager.default.copyItem(atPath: path, toPath: directory.path)
        return directory
    }

    @Test func v1StoreOpensWithoutScanningAndReadsExactly() async throws {
        let copy = try copyOfGolden(Self.v1Store)
        let store = try LogStore.open(at: copy.path, options: LogStore.Options(createIfMissing: false))
        #expect(store.recovery.usedCheckpoint)
        #expect(store.recovery.bytesRead == 0)
        #expect(store.recovery.indexProblem == nil)
        #expect(store.recovery.indexFramesScanned == 0)
        try verifyIndexAgainstLog(store)
        let expected = Self.v1Batches().flatMap(\.1)
        let records = try store.readRecords()
        #expect(records.map(\.record) == expected)
        #expect(records.map(\.sequence) == Array(1...UInt64(expected.count)))
        try await store.close()
    }

    @Test func v1StoreVerifiesFromScratchWithoutItsCheckpoint() async throws {
        let copy = try copyOfGolden(Self.v1Store)
        try FileManager.default.removeItem(atPath: copy.path + "/CHECKPOINT")
        let store = try LogStore.open(at: copy.path)
        #expect(!store.recovery.usedCheckpoint)
        #expect(store.recovery.truncation == nil)
        #expect(try store.readRecords().map(\.record) == Self.v1Batches().flatMap(\.1))
        try await store.close()
    }

    /// A store from before the index existed (or whose index was lost) gets one built at open.
    @Test func v1StoreWithoutItsIndexIsReindexed() async throws {
        let copy = try copyOfGolden(Self.v1Store)
        try FileManager.default.removeItem(atPath: copy.path + "/index")
        let store = try LogStore.open(at: copy.path)
        #expect(store.recovery.indexProblem != nil)
        try verifyIndexAgainstLog(store)
        #expect(try store.readRecords().map(\.record) == Self.v1Batches().flatMap(\.1))
        try await store.close()
    }

    /// The golden segments exercise every codec and both sealed and active segments.
    @Test func v1StoreCoversEveryCodecAndSealedSegments() throws {
        let fs = PosixFileSystem()
        let names = try fs.listDirectory(Self.v1Store).filter { $0.hasSuffix(".segment") }
        #expect(names.count >= 3)
        var codecs: Set<FrameCodec> = []
        var sealed = 0
        for name in names {
            let handle = try fs.open(Self.v1Store + "/" + name, mode: .read)
            defer { handle.close() }
            let size = try handle.size()
            let scanner = FrameScanner(handle: handle, from: Int64(SegmentHeader.byteCount), to: size)
            scan: while true {
                switch try scanner.next() {
                case .frame(let header, _): codecs.insert(header.codec)
                case .footer(let offset):
                    if case .success = try scanner.readFooter(at: offset, fileSize: size) { sealed += 1 }
                    break scan
                case .end: break scan
                case .invalid(let offset, let kind, let detail):
                    Issue.record("\(name) at \(offset): \(kind) \(detail)")
                    break scan
                }
            }
        }
        #expect(codecs == Set(FrameCodec.allCases))
        #expect(sealed >= 2)
    }

    @Test func v2LostRangeStoreOpensWithoutScanningAndReadsEveryIntactEvent() async throws {
        let copy = try copyOfGolden(Self.v2LostRangeStore)
        let report = try StoreCheck.check(store: copy.path)
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.lostRanges.map { $0.firstSequence...$0.lastSequence } == [Self.v2Lost])
        #expect(report.lostRanges.first?.repairedMicros == Self.v2RepairMicros)
        let store = try LogStore.open(at: copy.path, options: LogStore.Options(createIfMissing: false))
        #expect(store.recovery.usedCheckpoint && store.recovery.bytesRead == 0)
        #expect(store.recovery.indexProblem == nil && store.recovery.indexFramesScanned == 0)
        try await expectLostRangeStoreReads(store, at: copy.path)
    }

    /// The snapshot file of format version 1: a folder holding only `snapshots/0000000001.snapshots`.
    static let v1SnapshotStore = goldenDirectory + "/v1-snapshot-store"

    /// Its snapshots; fixed forever.
    static func v1Snapshots() -> [SnapshotRecord] {
        var rng = SplitMix64(seed: 20_261_129)
        let subjects: [SnapshotSubject] = [
            .stream(PartitionKey(tenant: "acme", group: "Cart", id: "cart-1")),
            .stream(PartitionKey(tenant: "ünïcode-tenant", group: "Cart", id: "cart-2")),
            .projection(name: "CartsOverview", tenant: nil),
            .projection(name: "CartsOverview", tenant: "acme"),
            .stream(PartitionKey(tenant: "acme", group: "Cart", id: "cart-1")),
        ]
        return subjects.enumerated().map { i, subject in
            let version: UInt64 = if case .stream = subject { UInt64(3 + i) } else { 0 }
            return SnapshotRecord(
                subject: subject, projectorName: i == 2 || i == 3 ? "CartsOverview" : "Cart", projectorVersion: UInt32(1 + i % 2),
                codecName: i % 2 == 0 ? "json" : "binary", sequence: UInt64(10 * (i + 1)), version: version,
                createdMicros: 1_795_000_000_000_000 + Int64(i),
                state: (0..<(i * 37)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["STRATA_WRITE_GOLDEN"] == "1"))
    func writeGoldenSnapshotFile() throws {
        try? FileManager.default.removeItem(atPath: Self.v1SnapshotStore)
        try FileManager.default.createDirectory(atPath: Self.v1SnapshotStore, withIntermediateDirectories: true)
        let store = try SnapshotStore(storePath: Self.v1SnapshotStore, fileSystem: PosixFileSystem())
        try store.write(Self.v1Snapshots(), createdMicros: 1_795_000_000_000_000)
    }

    @Test func v1SnapshotFileReadsExactlyAndIsWhatThisBuildWrites() throws {
        let store = try SnapshotStore(storePath: Self.v1SnapshotStore, fileSystem: PosixFileSystem())
        #expect(store.skippedFiles.isEmpty)
        #expect(store.fileCount == 1 && store.snapshotCount == 5)
        let snapshots = Self.v1Snapshots()
        func latest(_ i: Int) -> SnapshotRecord? {
            store.latest(snapshots[i].subject, projectorName: snapshots[i].projectorName) { _ in nil }.snapshot
        }
        #expect(latest(0) == snapshots[4])  // the same stream, later
        for i in 1...4 { #expect(latest(i) == snapshots[i]) }
        #expect(store.latest(snapshots[0].subject, projectorName: "Cart", maxSequence: 49) { _ in nil }.snapshot == snapshots[0])
        // Byte for byte what this build writes from the same snapshots.
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/store")
        try SnapshotStore(storePath: "/store", fileSystem: fs).write(snapshots, createdMicros: 1_795_000_000_000_000)
        let golden = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.v1SnapshotStore + "/snapshots/0000000001.snapshots")))
        #expect(fs.contents(of: "/store/snapshots/0000000001.snapshots") == golden)
    }
}
