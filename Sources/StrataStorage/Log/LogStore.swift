import Dispatch
import Synchronization

/// The storage engine: an append-only log of event records in segment files, with group commit and crash
/// recovery. One `LogStore` per store folder per process; a lock file keeps other processes out.
///
/// - Appends are atomic batches: all records of one `append` call share one frame, get consecutive global
///   sequences, and become visible to readers together, once durable (per `Durability`).
/// - Any number of tasks may append concurrently; the writer commits everything pending with one write and one
///   `fdatasync` (group commit).
/// - Reads never see a frame beyond the committed watermark.
public final class LogStore: Sendable {
    /// When an append is acknowledged.
    public enum Durability: Sendable, Hashable {
        /// After `fdatasync` (default). Concurrent appenders share one sync.
        case always
        /// After `write`; the file is synced at most this often and on close. A crash loses at most the last
        /// interval's appends, never part of a batch.
        case interval(milliseconds: Int)
        /// After `write`; synced only on close and when segments roll. For tests and bulk loads.
        case never
    }

    public struct Options: Sendable {
        public var durability: Durability
        public var compression: Compression
        /// A segment is sealed and a new one started once the next frame would take it past this size.
        public var segmentBytesTarget: Int
        /// Create the folder (and an empty log) when missing.
        public var createIfMissing: Bool
        /// The file layer; tests pass a fault-injecting one.
        public var fileSystem: any FileSystem
        /// The partition-key hash of the index files. Only tests change it (to force collisions). The index
        /// manifest records the hash's name; opening with another hash rebuilds the index.
        package var streamKeyHash: StreamKeyHash = .standard
        /// Where the store logs (recovery decisions, cuts and refusals, quarantines, index rebuilds and merges,
        /// background failures, a stopped writer) and what it measures (``StrataMetric``).
        public var observability: Observability
        /// Segment files kept open for reading at once (the least recently read are closed beyond it), besides the
        /// active segment: a store of any number of segments stays within the process's descriptor limit.
        public var openSegmentFilesMax: Int

        public init(
            durability: Durability = .always, compression: Compression = .lz4,
            segmentBytesTarget: Int = 64 << 20, createIfMissing: Bool = true,
            fileSystem: any FileSystem = PosixFileSystem(),
            observability: Observability = .standard, openSegmentFilesMax: Int = 128
        ) {
            self.openSegmentFilesMax = max(1, openSegmentFilesMax)
            self.observability = observability
            self.durability = durability
            self.compression = compression
            self.segmentBytesTarget = segmentBytesTarget
            self.createIfMissing = createIfMissing
            self.fileSystem = fileSystem
        }
    }

    /// Counters since open.
    public struct Statistics: Sendable, Equatable {
        /// `fdatasync` calls on segment files by the commit path.
        public var syncs: Int
        /// Write groups: each is one `write` of one or more frames.
        public var groups: Int
        public var frames: Int
        public var records: Int
        public var bytesWritten: Int
    }

    public let path: String
    public let options: Options
    /// What opening the store found and did.
    public let recovery: RecoveryReport

    let fileSystem: any FileSystem
    let published: Mutex<PublishedLog>
    let intake = Mutex(Intake())
    let writer: Mutex<WriterState>
    let writerQueue: DispatchQueue
    /// Runs cold compactions, one at a time, off the writer (`compactColdSegments`).
    let coldCompactionQueue = DispatchQueue(label: "strata.cold-compaction", qos: .utility)
    let lock: any FileLock
    let counters = Counters()
    /// Wakes `waitForCommit` callers after each published commit.
    let commits = CommitSignal<UInt64>()
    let index: PartitionIndex
    let readBuffers = ReadBufferPool()
    /// Logs and metrics (`Options.observability`).
    let metrics: StorageMetrics
    /// The segment files holding a read handle (`Options.openSegmentFilesMax`).
    let segmentHandles: SegmentHandleCache
    /// The store's snapshot files (written by the compactor, never by the command path).
    public let snapshots: SnapshotStore

    init(
        path: String, options: Options, lock: any FileLock, recovery: RecoveryReport, published: PublishedLog,
        writer: WriterState, index: PartitionIndex, snapshots: SnapshotStore, metrics: StorageMetrics,
        segmentHandles: SegmentHandleCache
    ) {
        self.metrics = metrics
        self.segmentHandles = segmentHandles
        self.index = index
        self.snapshots = snapshots
        self.path = path
        self.options = options
        self.fileSystem = options.fileSystem
        self.lock = lock
        self.recovery = recovery
        self.published = Mutex(published)
        self.writer = Mutex(writer)
        self.writerQueue = DispatchQueue(label: "strata.writer", qos: .userInitiated)
    }

    /// Opens (or creates) the store in folder `path`, recovering after a crash. See FORMAT.md, "Recovery".
    public static func open(at path: String, options: Options = Options()) throws(StorageError) -> LogStore {
        try Recovery.open(path: path, options: options)
    }

    /// The sequence the next committed record will get. Records 1..<nextSequence are committed.
    public var nextSequence: UInt64 { published.withLock { $0.nextSequence } }

    /// Whether `close()` was called (its lock is released: another process may have the store open now).
    public var isClosed: Bool { published.withLock { $0.closed } }

    /// The last committed sequence (0 for an empty store).
    public var lastSequence: UInt64 { nextSequence - 1 }

    public var statistics: Statistics { counters.snapshot() }

    /// Suspends until a record after `sequence` is committed and readable; returns at once if one is. Throws
    /// `StorageError.closed` when the store is (or gets) closed, `CancellationError` when the task is cancelled.
    public func waitForCommit(after sequence: UInt64) async throws {
        guard try await commits.wait(after: sequence, head: { lastSequence }) else { throw StorageError.closed }
    }

    /// Appends `records` as one atomic batch and returns their sequences once the batch is committed (durable
    /// under `.always`). The records may belong to any streams; each stream's records get the next versions
    /// in batch order (`EventRecord.version` is assigned by the store). Validation failures throw before
    /// anything is written.
    @discardableResult
    public func append(_ records: [EventRecord]) async throws(StorageError) -> ClosedRange<UInt64> {
        try await append(records, expecting: [:]).sequences
    }

    /// Appends `records` as one atomic batch after checking `expecting` for each stream it names (streams
    /// not named expect `.any`). A named stream with no record in the batch is only checked. If any check
    /// fails, nothing is written and the error names the stream, the expected and the actual version.
    /// Concurrent appenders to one stream with exact expectations: exactly one wins each version.
    @discardableResult
    public func append(
        _ records: [EventRecord], expecting: [PartitionKey: ExpectedVersion]
    ) async throws(StorageError) -> AppendResult {
        guard !records.isEmpty else { throw .emptyBatch }
        guard records.count <= Limits.recordsPerFrameMax else { throw .batchTooLarge(records: records.count, rawBytes: 0) }
        let started = ContinuousClock.now
        try records.withUnsafeBufferPointer { (records) throws(StorageError) in
            for index in records.indices { try RecordCodec.validate(records.baseAddress! + index, index: index) }
        }
        var plans: [StreamPlan] = []
        var planOf: [PartitionKey: Int] = [:]
        var planOfRecord = [Int](repeating: 0, count: records.count)
        records.withUnsafeBufferPointer { records in
            // Records of one stream usually come together: look the dictionary up only when the key changes.
            var current = -1
            for i in records.indices {
                let record = records.baseAddress! + i
                if current >= 0 && record.pointee.key == plans[current].key {
                    plans[current].count += 1
                    plans[current].lastIndex = i
                } else if let p = planOf[record.pointee.key] {
                    current = p
                    plans[p].count += 1
                    plans[p].lastIndex = i
                } else {
                    let key = record.pointee.key
                    current = plans.count
                    planOf[key] = current
                    plans.append(StreamPlan(
                        key: key, hash: index.hasher(key), expected: expecting[key] ?? .any, assumedHead: 0,
                        firstIndex: i, lastIndex: i, count: 1))
                }
                planOfRecord[i] = current
            }
        }
        for (key, expected) in expecting where planOf[key] == nil {
            plans.append(StreamPlan(key: key, hash: index.hasher(key), expected: expected, assumedHead: 0, firstIndex: 0, lastIndex: 0, count: 0))
        }
        var versions = [UInt64](repeating: 0, count: records.count)
        // Under `.any` the versions are chosen from the latest head the appender can see; if another append
        // gets there first the writer asks for a retry with fresh heads.
        for _ in 0..<Self.anyRetriesMax {
            for p in plans.indices {
                switch plans[p].expected {
                case .exactly(let n): plans[p].assumedHead = n
                case .noStream: plans[p].assumedHead = 0
                case .any:
                    let (key, hash) = (plans[p].key, plans[p].hash)
                    plans[p].assumedHead = try repairingIndex { () throws(StorageError) in
                        try index.pendingVersion(of: key, hash: hash)
                    }
                }
            }
            var ordinal = [UInt64](repeating: 0, count: plans.count)
            for i in records.indices {
                let p = planOfRecord[i]
                ordinal[p] += 1
                versions[i] = plans[p].assumedHead + ordinal[p]
            }
            let encoded = try EncodedBatch.encode(records, versions: versions, compression: options.compression)
            let outcome = await submit(PendingWork(batch: encoded, plans: plans))
            switch outcome {
            case .committed(let range):
                metrics.appendDuration.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
                var after: [PartitionKey: UInt64] = [:]
                for plan in plans where plan.count > 0 { after[plan.key] = plan.assumedHead + UInt64(plan.count) }
                return AppendResult(sequences: range, versions: after)
            case .retry:
                continue
            case .failed(let error):
                throw error
            }
        }
        let stream = plans.first { $0.expected == .any }!.key
        throw .versionConflict(stream: stream, expected: .any, actual: try index.pendingVersion(of: stream))
    }

    /// Retries of an `.any` append that keeps losing races (each retry means another append committed).
    static let anyRetriesMax = 1_000

    private func submit(_ work: PendingWork) async -> WriterOutcome {
        await withCheckedContinuation { (continuation: CheckedContinuation<WriterOutcome, Never>) in
            let accepted = intake.withLock { state in
                if state.closed { return false }
                state.pending.append(PendingAppend(work: work, continuation: continuation))
                return true
            }
            if accepted {
                writerQueue.async { self.drain() }
            } else {
                continuation.resume(returning: .failed(.closed))
            }
        }
    }

    /// Flushes and syncs everything, writes the checkpoint (so the next open scans nothing) and releases the
    /// lock. Appends after this fail with `.closed`. Safe to call more than once.
    public func close() async throws(StorageError) {
        let first = intake.withLock { state in
            defer { state.closed = true }
            return !state.closed
        }
        guard first else { return }
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, StorageError>, Never>) in
            writerQueue.async {
                self.drain()
                let result = self.writer.withLock { self.finish(&$0) }
                continuation.resume(returning: result)
            }
        }
        // Readers may still hold segment handles from their last snapshot: each descriptor closes when its
        // last user lets go (never under a reader's feet, never reused for another file while read).
        published.withLock { log in
            log.segments = []
            log.closed = true
        }
        commits.close()
        lock.release()
        try result.get()
    }

    /// A reader positioned at `sequence`. Readers are cheap; use one per task.
    public func makeReader(from sequence: UInt64 = 1) -> LogReader {
        LogReader(store: self, from: sequence)
    }

    /// Materialises up to `limit` committed records from `sequence` on. For tests and tools; hot paths use
    /// `LogReader` and `RecordView`.
    public func readRecords(from sequence: UInt64 = 1, limit: Int = .max) throws -> [StoredRecord] {
        var records: [StoredRecord] = []
        let reader = makeReader(from: sequence)
        while records.count < limit {
            let n = try reader.read(maxRecords: limit - records.count) { records.append($0.materialize()) }
            if n == 0 { break }
        }
        return records
    }
}

/// What the writer did with one append.
enum WriterOutcome: Sendable {
    case committed(ClosedRange<UInt64>)
    /// An `.any` stream moved since the appender chose versions: choose again.
    case retry
    case failed(StorageError)
}

struct PendingWork: Sendable {
    var batch: EncodedBatch
    var plans: [StreamPlan]
}

struct PendingAppend: Sendable {
    var work: PendingWork
    var continuation: CheckedContinuation<WriterOutcome, Never>
}

struct Intake: Sendable {
    var pending: [PendingAppend] = []
    var closed = false
}

final class Counters: Sendable {
    let syncs = Atomic<Int>(0)
    let groups = Atomic<Int>(0)
    let frames = Atomic<Int>(0)
    let records = Atomic<Int>(0)
    let bytes = Atomic<Int>(0)

    func snapshot() -> LogStore.Statistics {
        LogStore.Statistics(
            syncs: syncs.load(ordering: .relaxed), groups: groups.load(ordering: .relaxed),
            frames: frames.load(ordering: .relaxed), records: records.load(ordering: .relaxed),
            bytesWritten: bytes.load(ordering: .relaxed))
    }
}

/// A batch validated, encoded and compressed by the appending task, before it reaches the writer; the writer
/// only adds the frame header (base sequence, checksum).
struct EncodedBatch: Sendable {
    var body: [UInt8]
    var codec: FrameCodec
    var rawBytes: Int
    var recordCount: Int

    /// Encodes validated records with the given stream versions.
    static func encode(_ records: [EventRecord], versions: [UInt64], compression: Compression) throws(StorageError) -> EncodedBatch {
        let raw = RecordCodec.encodeBatch(records, versions: versions)
        guard raw.count <= Limits.frameRawBytesMax else {
            throw .batchTooLarge(records: records.count, rawBytes: raw.count)
        }
        let (codec, stored) = FrameCompressor.compress(raw, with: compression)
        return EncodedBatch(body: stored, codec: codec, rawBytes: raw.count, recordCount: records.count)
    }
}
