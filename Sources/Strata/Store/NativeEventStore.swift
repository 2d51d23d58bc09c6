import StrataStorage
import Synchronization

/// The event store on Strata's own storage engine (`LogStore`, in `StrataStorage`): positions are global
/// sequences.
public final class NativeEventStore: EventStore {
    /// The engine's global sequence.
    public typealias Position = UInt64
    /// How the engine is opened (`LogStore.Options`: durability, compression, segment sizes, observability).
    public typealias Options = LogStore.Options

    /// The engine underneath (for tools, statistics and what the protocol does not cover; `import StrataStorage`
    /// to use it).
    public let log: LogStore
    /// Readers `readAll` used last, by where they stand: a reader made afresh scans its segment from the start
    /// to reach its position, so the next batch of a subscription or projection goes on with the reader the last
    /// one left (a few, each with its read-ahead buffer).
    private let readers = Mutex<[PooledReader]>([])
    private static let pooledReadersMax = 8

    /// Opens (or creates) the store in the folder at `path`.
    public init(path: String, options: Options = Options()) throws(EventStoreError) {
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
    public func close() async throws {
        readers.withLock { $0.removeAll() }
        do throws(StorageError) { try await log.close() } catch { throw EventStoreError(error) }
    }

    @discardableResult
    public nonisolated(nonsending) func append(
        _ events: [EventRecord], expecting: [PartitionKey: ExpectedVersion]
    ) async throws -> AppendReceipt<UInt64> {
        try validateBatch(events, expecting, limits: false)  // (the engine checks the limits as it encodes)
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

    public nonisolated(nonsending) func version(of stream: PartitionKey) async throws -> UInt64 {
        do throws(StorageError) { return try log.streamVersion(stream) } catch { throw EventStoreError(error) }
    }

    @discardableResult
    public nonisolated(nonsending) func readStream(
        _ stream: PartitionKey, from: UInt64, through: UInt64, asOf: UInt64?, limit: Int,
        _ body: (EventView, UInt64) throws -> Void
    ) async throws -> Int {
        try Self.translatingErrors {
            try log.readStream(stream, from: from, through: through, asOfSequence: asOf ?? .max, limit: limit) { record in
                do { try body(record.event, record.sequence) } catch { throw ReaderError(error: error) }
            }
        }
    }

    @discardableResult
    public nonisolated(nonsending) func readAll(
        after position: UInt64?, limit: Int, _ body: (EventView, UInt64) throws -> Void
    ) async throws -> UInt64? {
        let start = (position ?? 0) + 1
        let pooled = readers.withLock { pool in
            pool.firstIndex { $0.reader.position == start }.map { pool.remove(at: $0) }
        }
        let reader = pooled?.reader ?? log.makeReader(from: start)
        var last: UInt64?
        _ = try Self.translatingErrors {
            try reader.read(maxRecords: limit) { record in
                do { try body(record.event, record.sequence) } catch { throw ReaderError(error: error) }
                last = record.sequence
            }
        }
        // Only a reader that finished its read goes back (one that threw may have stopped inside a frame).
        readers.withLock { pool in
            if pool.count == Self.pooledReadersMax { pool.removeFirst() }
            pool.append(PooledReader(reader: reader))
        }
        return last
    }

    /// Runs an engine read: the engine's errors come out as `EventStoreError`, the reader's own (wrapped in
    /// `ReaderError` by the closure) as they were thrown.
    private static func translatingErrors<T>(_ read: () throws -> T) throws -> T {
        do {
            return try read()
        } catch let error as ReaderError {
            throw error.error
        } catch let error as StorageError {
            throw EventStoreError(error)
        }
    }
}

/// An error the reader's closure threw, on its way out through the engine.
private struct ReaderError: Error {
    let error: any Error
}

extension NativeEventStore {
    /// Snapshots past the end of the log (the log lost events to a repair after the snapshot was taken) are
    /// passed over too.
    public nonisolated(nonsending) func latestSnapshot(
        of subject: SnapshotSubject, projectorName: String, atOrBefore bound: UInt64?,
        accept: (Snapshot<UInt64>) -> SnapshotRejection?
    ) async throws -> SnapshotLookup<UInt64> {
        guard !log.isClosed else { throw EventStoreError.closed }
        let last = log.lastSequence
        let lookup = log.snapshots.latest(subject, projectorName: projectorName, maxSequence: bound ?? .max) { record in
            record.sequence > last ? .pastEndOfLog(position: "\(record.sequence)", logEnd: "\(last)") : accept(Snapshot(record))
        }
        return SnapshotLookup(snapshot: lookup.snapshot.map(Snapshot.init), ignored: lookup.ignored)
    }

    /// Writes the snapshots as one snapshot file (synchronously, on the caller's thread).
    public nonisolated(nonsending) func writeSnapshots(_ snapshots: [Snapshot<UInt64>]) async throws {
        // After close the store's lock is gone: another process may be writing snapshot files of its own.
        guard !log.isClosed else { throw EventStoreError.closed }
        do throws(StorageError) { try log.snapshots.write(snapshots.map(SnapshotRecord.init)) } catch { throw EventStoreError(error) }
    }
}

extension Snapshot<UInt64> {
    /// The engine's snapshot record as Strata's snapshot.
    init(_ record: SnapshotRecord) {
        self.init(
            subject: record.subject, projectorName: record.projectorName, projectorVersion: record.projectorVersion,
            codecName: record.codecName, position: record.sequence, version: record.version, createdMicros: record.createdMicros,
            state: record.state)
    }
}

extension SnapshotRecord {
    /// Strata's snapshot as the engine's snapshot record.
    init(_ snapshot: Snapshot<UInt64>) {
        self.init(
            subject: snapshot.subject, projectorName: snapshot.projectorName, projectorVersion: snapshot.projectorVersion,
            codecName: snapshot.codecName, sequence: snapshot.position, version: snapshot.version,
            createdMicros: snapshot.createdMicros, state: snapshot.state)
    }
}

extension EventStoreError {
    /// The engine's error in the event store's terms: what the caller can act on (a conflict, a refused event, a
    /// closed store) as its own case, everything else as `.storage`.
    init(_ error: StorageError) {
        switch error {
        case .versionConflict(let stream, let expected, let actual):
            self = .versionConflict(stream: stream, expected: expected, actual: actual)
        case .invalidRecord(let index, let reason): self = .invalidEvent(index: index, reason: reason)
        case .emptyBatch: self = .invalidEvent(index: 0, reason: "an empty batch")
        case .batchTooLarge: self = .invalidEvent(index: 0, reason: "\(error)")
        case .closed: self = .closed
        default: self = .storage(error)
        }
    }
}

/// A `LogReader` in `NativeEventStore`'s pool. `@unchecked Sendable`: a reader is not thread-safe, but a pooled
/// one is used by one caller at a time — taken out of the pool under its lock before use and put back only after
/// its read returned — so no two threads ever touch it at once.
private struct PooledReader: @unchecked Sendable {
    let reader: LogReader
}
