import Synchronization
/// The event store on Strata's own storage engine (`LogStore`): positions are global sequences.
public final class NativeEventStore: EventStore {
    /// The engine's global sequence.
    public typealias Position = UInt64

    /// The engine underneath (for tools, statistics and what the protocol does not cover).
    public let log: LogStore
    /// Readers `readAll` used last, by where they stand: a reader made afresh scans its segment from the start
    /// to reach its position, so the next batch of a subscription or projection goes on with the reader the last
    /// one left (a few, each with its read-ahead buffer).
    private let readers = Mutex<[PooledReader]>([])
    private static let pooledReadersMax = 8

    /// Opens (or creates) the store in the folder at `path`.
    public init(path: String, options: LogStore.Options = LogStore.Options()) throws(EventStoreError) {
        do throws(StorageError) {
            log = try LogStore.open(at: path, options: options)
        } catch {
            throw EventStoreError(error)
        }
    }

    /// Wraps an open engine.
    public init(log: LogStore) { self.log = log }

    /// The engine's (`LogStore.Options.observability`).
    public var observability: Observability { log.options.observability }

    /// Flushes and closes the engine (see `LogStore.close()`).
    public func close() async throws(EventStoreError) {
        readers.withLock { $0.removeAll() }
        do throws(StorageError) { try await log.close() } catch { throw EventStoreError(error) }
    }

    @discardableResult
    public nonisolated(nonsending) func append(
        _ events: [EventRecord], expecting: [PartitionKey: ExpectedVersion]
    ) async throws(EventStoreError) -> AppendReceipt<UInt64> {
        try validateBatch(events, expecting)
        do throws(StorageError) {
            let result = try await log.append(events, expecting: expecting)
            return AppendReceipt(first: result.sequences.lowerBound, last: result.sequences.upperBound, versions: result.versions)
        } catch {
            throw EventStoreError(error)
        }
    }

    public nonisolated(nonsending) func waitForEvents(after position: UInt64?) async throws {
        do {
            try await log.waitForCommit(after: position ?? 0)
        } catch let error as StorageError {
            throw EventStoreError(error)
        }
    }

    public nonisolated(nonsending) func version(of stream: PartitionKey) async throws(EventStoreError) -> UInt64 {
        do throws(StorageError) { return try log.streamVersion(stream) } catch { throw EventStoreError(error) }
    }

    @discardableResult
    public nonisolated(nonsending) func readStream(
        _ stream: PartitionKey, from: UInt64, through: UInt64, asOf: UInt64?, limit: Int,
        _ body: (RecordView) throws -> Void
    ) async throws -> Int {
        try log.readStream(stream, from: from, through: through, asOfSequence: asOf ?? .max, limit: limit, body)
    }

    @discardableResult
    public nonisolated(nonsending) func readAll(
        after position: UInt64?, limit: Int, _ body: (RecordView, UInt64) throws -> Void
    ) async throws -> UInt64? {
        let start = (position ?? 0) + 1
        let pooled = readers.withLock { pool in
            pool.firstIndex { $0.reader.position == start }.map { pool.remove(at: $0) }
        }
        let reader = pooled?.reader ?? log.makeReader(from: start)
        var last: UInt64?
        try reader.read(maxRecords: limit) { record in
            try body(record, record.sequence)
            last = record.sequence
        }
        // Only a reader that finished its read goes back (one that threw may have stopped inside a frame).
        readers.withLock { pool in
            if pool.count == Self.pooledReadersMax { pool.removeFirst() }
            pool.append(PooledReader(reader: reader))
        }
        return last
    }
}

extension NativeEventStore {
    /// Snapshots past the end of the log (the log lost events to a repair after the snapshot was taken) are
    /// passed over too.
    public nonisolated(nonsending) func latestSnapshot(
        of subject: SnapshotSubject, projectorName: String, maxSequence: UInt64, accept: (SnapshotRecord) -> SnapshotRejection?
    ) async throws -> SnapshotStore.Lookup {
        guard !log.isClosed else { throw EventStoreError.closed }
        let last = log.lastSequence
        return log.snapshots.latest(subject, projectorName: projectorName, maxSequence: maxSequence) { record in
            record.sequence > last ? .pastEndOfLog(sequence: record.sequence, logEnd: last) : accept(record)
        }
    }

    /// Writes the snapshots as one snapshot file (synchronously, on the caller's thread).
    public nonisolated(nonsending) func writeSnapshots(_ snapshots: [SnapshotRecord]) async throws {
        // After close the store's lock is gone: another process may be writing snapshot files of its own.
        guard !log.isClosed else { throw EventStoreError.closed }
        do throws(StorageError) { try log.snapshots.write(snapshots) } catch { throw EventStoreError(error) }
    }
}

/// A `LogReader` in `NativeEventStore`'s pool. `@unchecked Sendable`: a reader is not thread-safe, but a pooled
/// one is used by one caller at a time — taken out of the pool under its lock before use and put back only after
/// its read returned — so no two threads ever touch it at once.
private struct PooledReader: @unchecked Sendable {
    let reader: LogReader
}
