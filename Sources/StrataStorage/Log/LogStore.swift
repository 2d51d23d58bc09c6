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

        public init(
            durability: Durability = .always, compression: Compression = .lz4,
            segmentBytesTarget: Int = 64 << 20, createIfMissing: Bool = true,
            fileSystem: any FileSystem = PosixFileSystem()
        ) {
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
    let lock: any FileLock
    let counters = Counters()

    init(
        path: String, options: Options, lock: any FileLock, recovery: RecoveryReport, published: PublishedLog,
        writer: WriterState
    ) {
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

    /// The last committed sequence (0 for an empty store).
    public var lastSequence: UInt64 { nextSequence - 1 }

    public var statistics: Statistics { counters.snapshot() }

    /// Appends `records` as one atomic batch and returns their sequences once the batch is committed (durable
    /// under `.always`). The records may belong to any partitions. Validation failures throw before anything is
    /// written.
    @discardableResult
    public func append(_ records: [EventRecord]) async throws(StorageError) -> ClosedRange<UInt64> {
        let encoded = try EncodedBatch.encode(records, compression: options.compression)
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<AppendResult, Never>) in
            let accepted = intake.withLock { state in
                if state.closed { return false }
                state.pending.append(PendingAppend(batch: encoded, continuation: continuation))
                return true
            }
            if accepted {
                writerQueue.async { self.drain() }
            } else {
                continuation.resume(returning: .failure(.closed))
            }
        }
        return try result.get()
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

typealias AppendResult = Result<ClosedRange<UInt64>, StorageError>

struct PendingAppend: Sendable {
    var batch: EncodedBatch
    var continuation: CheckedContinuation<AppendResult, Never>
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

    static func encode(_ records: [EventRecord], compression: Compression) throws(StorageError) -> EncodedBatch {
        guard !records.isEmpty else { throw .emptyBatch }
        guard records.count <= Limits.recordsPerFrameMax else {
            throw .batchTooLarge(records: records.count, rawBytes: 0)
        }
        for index in records.indices { try RecordCodec.validate(records[index], index: index) }
        let raw = RecordCodec.encodeBatch(records)
        guard raw.count <= Limits.frameRawBytesMax else {
            throw .batchTooLarge(records: records.count, rawBytes: raw.count)
        }
        let (codec, stored) = FrameCompressor.compress(raw, with: compression)
        return EncodedBatch(body: stored, codec: codec, rawBytes: raw.count, recordCount: records.count)
    }
}
