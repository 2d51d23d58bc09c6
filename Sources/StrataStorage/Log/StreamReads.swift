import Synchronization

/// Reads by stream, through the partition index.
extension LogStore {
    /// The latest committed version of `stream` (0: no event).
    public func streamVersion(_ stream: PartitionKey) throws(StorageError) -> UInt64 {
        try streamHead(stream)?.version ?? 0
    }

    /// The latest committed version of `stream` and the sequence of its latest event (nil: no event).
    public func streamHead(_ stream: PartitionKey) throws(StorageError) -> StreamHead? {
        guard !published.withLock({ $0.closed }) else { throw .closed }
        return try repairingIndex { () throws(StorageError) in try index.committedHead(of: stream) }
    }

    /// Calls `body` for the committed events of `stream` with versions `from...through` and global sequence
    /// ≤ `asOfSequence` ("as of"), in version order, at most `limit` of them. Returns how many it delivered.
    /// Each record is confirmed against the stream's key (index hashes may collide).
    @discardableResult
    public func readStream(
        _ stream: PartitionKey, from version: UInt64 = 1, through lastVersion: UInt64 = .max,
        asOfSequence: UInt64 = .max, limit: Int = .max, _ body: (RecordView) throws -> Void
    ) throws -> Int {
        let log = published.withLock { $0 }
        guard !log.closed else { throw StorageError.closed }
        if version > 1 {
            // A tail read (a cached aggregate asking what is new) past the stream's head finds nothing: answered
            // by the head (in memory for a stream written lately) without looking through the index runs.
            let head = try repairingIndex { () throws(StorageError) in try index.committedHead(of: stream) }
            guard let head, head.version >= version else { return 0 }
        }
        let watermark = asOfSequence == .max ? log.nextSequence : min(log.nextSequence, asOfSequence + 1)
        let entries = try repairingIndex { () throws(StorageError) in try index.entries(for: stream, committedBelow: watermark) }
            .filter { $0.lastVersion >= version && $0.firstVersion <= lastVersion }
        guard !entries.isEmpty, limit > 0 else { return 0 }
        let buffers = readBuffers.take()
        defer { readBuffers.give(buffers) }
        let decoder = buffers.decoder
        let buffer = buffers.frame
        let keyBytes = PartitionKeyBytes(stream)
        var seenFrames = Set<FrameLocation>()
        var delivered = 0
        for entry in entries {
            let (segment, frameOffset) = try log.frameLocation(of: entry, fileSystem)
            guard seenFrames.insert(FrameLocation(segment: segment.file.number, offset: frameOffset)).inserted else { continue }
            let handle: any FileHandle
            do throws(IOError) { handle = try segment.file.open(fileSystem) } catch { throw StorageError.io(error) }
            let scanner = FrameScanner(
                handle: handle, from: frameOffset, to: segment.dataEnd, buffer: buffer,
                readAhead: PointReadBuffers.frameReadBytes)
            let step: FrameScanner.Step
            do throws(IOError) { step = try scanner.next() } catch { throw StorageError.io(error) }
            let header: FrameHeader
            let offset: Int64
            switch step {
            case .frame(let found, let at) where found.baseSequence <= entry.firstSequence && entry.firstSequence <= found.lastSequence:
                (header, offset) = (found, at)
            case .invalid(let at, let kind, let detail):
                // The frame the index names is damaged: report what the scanner found there (the index is right).
                throw StorageError.corrupt(
                    kind, segment.file.path, at, "\(detail) (the frame holding sequence \(entry.firstSequence), an event of stream \(stream))")
            case .frame(let found, _):
                scheduleIndexRepair(reason: "an index entry for sequence \(entry.firstSequence) points at the frame of sequences \(found.baseSequence)...\(found.lastSequence)")
                throw StorageError.corrupt(
                    .badSequence, index.directory, frameOffset,
                    "the index places sequence \(entry.firstSequence) at offset \(frameOffset) of \(fileName(of: segment.file.path)), where the frame holds sequences \(found.baseSequence)...\(found.lastSequence); the index is being rebuilt from the segments")
            case .end, .footer:
                scheduleIndexRepair(reason: "an index entry for sequence \(entry.firstSequence) points past the frames of \(segment.file.path)")
                throw StorageError.corrupt(
                    .badSequence, index.directory, frameOffset,
                    "the index places sequence \(entry.firstSequence) at offset \(frameOffset) of \(fileName(of: segment.file.path)), where no frame starts; the index is being rebuilt from the segments")
            }
            let outcome = try decoder.forEachRecord(in: scanner.frameBytes, header: header, from: 0) { record in
                guard record.sequence < watermark, record.version >= version, record.version <= lastVersion,
                    record.hasKey(keyBytes)
                else { return true }
                try body(record)
                delivered += 1
                return delivered < limit
            }
            if case .failure(let error) = outcome {
                throw StorageError.corrupt(.badRecord, segment.file.path, offset, "frame at sequence \(header.baseSequence): \(error)")
            }
            if delivered >= limit { break }
        }
        return delivered
    }

    /// The committed events of `stream` as owned records (see `readStream(_:from:through:asOfSequence:limit:_:)`).
    public func readStreamRecords(
        _ stream: PartitionKey, from version: UInt64 = 1, through lastVersion: UInt64 = .max,
        asOfSequence: UInt64 = .max, limit: Int = .max
    ) throws -> [StoredRecord] {
        var records: [StoredRecord] = []
        try readStream(stream, from: version, through: lastVersion, asOfSequence: asOfSequence, limit: limit) {
            records.append($0.materialize())
        }
        return records
    }

    /// The streams of `tenant` (of one `group`, if given) with their committed heads, in key order: up to
    /// `limit` streams after `after` (the last key of the previous page).
    public func listStreams(
        tenant: String, group: String? = nil, after: PartitionKey? = nil, limit: Int = 100
    ) throws(StorageError) -> [StreamHead] {
        guard !published.withLock({ $0.closed }) else { throw .closed }
        return try repairingIndex { () throws(StorageError) in try index.list(tenant: tenant, group: group, after: after, limit: limit) }
    }

    /// Runs an index lookup; if it finds an index file damaged (every block's checksum is checked as it is
    /// read), schedules a rebuild of the index from the segments and rethrows. The index is derived data: once
    /// the rebuild is done (`waitForIndexRepair`), the same call answers.
    func repairingIndex<T>(_ body: () throws(StorageError) -> T) throws(StorageError) -> T {
        do throws(StorageError) {
            return try body()
        } catch {
            if case .corrupt(let corruption) = error, corruption.file.hasPrefix(index.directory) {
                scheduleIndexRepair(reason: corruption.description)
            }
            throw error
        }
    }

    /// Rebuilds the index on the writer queue (once, however many lookups saw the damage).
    func scheduleIndexRepair(reason: String) {
        guard index.repairScheduled.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        index.lastRepairReason.withLock { $0 = reason }
        metrics.logger.warning("a lookup found the partition index damaged: rebuilding it", metadata: ["store": "\(path)", "damage": "\(reason)"])
        writerQueue.async {
            self.writer.withLock { w in
                guard !w.closed else { return }
                do throws(StorageError) {
                    try self.index.rebuild(log: self.published.withLock { $0 })
                } catch {
                    self.index.lastRepairReason.withLock { $0 = "rebuild failed: \(error)" }
                    self.metrics.backgroundFailure("index_repair", error, ["store": "\(self.path)"])
                }
            }
            self.index.repairScheduled.store(false, ordering: .releasing)
        }
    }

    /// Waits for a scheduled index repair (and anything else queued for the writer) to finish.
    public func waitForIndexRepair() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            writerQueue.async { continuation.resume() }
        }
    }

    /// Deletes the index files and rebuilds them from the segments (for `strata fsck --repair`). Appends wait
    /// while it runs.
    public func rebuildIndex() async throws(StorageError) {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, StorageError>, Never>) in
            writerQueue.async {
                self.drain()
                let result = self.writer.withLock { w -> Result<Void, StorageError> in
                    if w.closed { return .failure(.closed) }
                    do throws(StorageError) {
                        try self.index.rebuild(log: self.published.withLock { $0 })
                        return .success(())
                    } catch { return .failure(error) }
                }
                continuation.resume(returning: result)
            }
        }
        try result.get()
    }
}

struct FrameLocation: Hashable {
    var segment: UInt64
    var offset: Int64
}

extension PublishedLog {
    /// The segment and offset of the frame an index entry describes. Segments are found by sequence, so entries
    /// stay valid when cold compaction rewrites and merges segments; in a compacted segment the frame table says
    /// where the frame holding the entry's first sequence now starts (its frames were rewritten, several small
    /// ones as one), elsewhere the entry's own segment number and offset hold.
    func frameLocation(of entry: IndexEntry, _ fileSystem: any FileSystem) throws(StorageError) -> (PublishedSegment, Int64) {
        let segment = segments[segmentIndex(for: entry.firstSequence)]
        guard entry.firstSequence <= segment.lastSequence else {
            throw StorageError.corrupt(
                .missingSegment, segment.file.path, 0, "the index points to sequence \(entry.firstSequence), past the log")
        }
        if let start = try segment.frameStart(holding: entry.firstSequence, fileSystem) { return (segment, start.offset) }
        guard UInt64(entry.segmentNumber) == segment.file.number else {
            throw StorageError.corrupt(
                .missingSegment, segment.file.path, 0,
                "the index places sequence \(entry.firstSequence) in segment \(entry.segmentNumber); this segment holds it")
        }
        return (segment, Int64(entry.frameOffset))
    }
}

/// Buffers for one point read (a stream read): reused across calls so a read allocates nothing but its result.
///
/// `@unchecked Sendable`: a `PointReadBuffers` is only ever used by the one caller that took it from the pool
/// (`ReadBufferPool.take`) until it gives it back; the pool's mutex hands each instance to one caller at a time,
/// so its non-thread-safe buffers are never shared.
final class PointReadBuffers: @unchecked Sendable {
    /// One read covers a typical frame (a 100-event append of ~150-byte events compresses to ~15 KiB).
    static let frameReadBytes = 16 << 10
    let decoder = FrameRecordDecoder()
    let frame = ScratchBuffer(capacity: frameReadBytes)
}

final class ReadBufferPool: Sendable {
    private let pool = Mutex<[PointReadBuffers]>([])
    /// Buffers kept for reuse (one per concurrently reading thread is plenty).
    static let keptMax = 16

    func take() -> PointReadBuffers {
        pool.withLock { $0.popLast() } ?? PointReadBuffers()
    }

    func give(_ buffers: PointReadBuffers) {
        pool.withLock { if $0.count < Self.keptMax { $0.append(buffers) } }
    }
}
