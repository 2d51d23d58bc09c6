/// Why an event store refused or failed an operation.
public enum EventStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An expected-version check failed; nothing of the batch was appended.
    case versionConflict(stream: PartitionKey, expected: ExpectedVersion, actual: UInt64)
    /// A partition key breaks the rules of `PartitionKey.validated(tenant:group:id:)`; nothing was appended.
    case invalidKey(PartitionKeyError)
    /// An event breaks a limit of the format (FORMAT.md, "Limits"); nothing was appended.
    case invalidEvent(index: Int, reason: String)
    /// The store is closed.
    case closed
    /// The backend does not do this.
    case unsupported(String)
    /// The backend failed (the native engine's `StorageError`: I/O, damage, a failed writer).
    case storage(StorageError)

    /// What went wrong.
    public var description: String {
        switch self {
        case .versionConflict(let stream, let expected, let actual):
            "version conflict on stream \(stream): expected \(expected), the stream is at version \(actual)"
        case .invalidKey(let error): "\(error)"
        case .invalidEvent(let index, let reason): "invalid event #\(index): \(reason)"
        case .closed: "the event store is closed"
        case .unsupported(let what): "unsupported: \(what)"
        case .storage(let error): "\(error)"
        }
    }

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

/// What an append committed: the global positions of its events (in batch order) and each stream's version
/// after it.
public struct AppendReceipt<Position: Sendable & Comparable>: Sendable {
    /// The position of the batch's first event.
    public var first: Position
    /// The position of the batch's last event.
    public var last: Position
    /// Each appended stream's version after the append.
    public var versions: [PartitionKey: UInt64]
}

/// The storage an event-sourced application runs on: the native engine (`NativeEventStore`), an in-memory store
/// for tests (`InMemoryEventStore`), later SQLite and PostgreSQL. Every backend passes the same conformance
/// suite (`Tests/StrataTests/EventStoreConformanceTests.swift`).
///
/// Events go in as `EventRecord`s and come out as `RecordView`s: borrowed views of the stored bytes, valid only
/// inside the closure that receives them, so loading an aggregate copies nothing it does not decode.
///
/// The methods are `nonisolated(nonsending)`: they run on the caller's executor (an actor's, the main actor's),
/// so a read costs no hop to another thread and back — with the closure run where the caller runs. (Waiting for
/// a durable append suspends the caller as any `await` does.)
///
/// `Position` is the backend's token for a place in the global order: the native engine's and the
/// in-memory store's is the 64-bit global sequence; a PostgreSQL backend's would not be.
public protocol EventStore<Position>: AnyObject, Sendable {
    associatedtype Position: Sendable & Hashable & Comparable

    /// Appends `events` atomically, in order: all or nothing. Each stream's events get the next versions of the
    /// stream, in batch order (the `version` field of an `EventRecord` is ignored). Each stream named in
    /// `expecting` is checked first (a stream may be named without events in the batch: a pure check); a failed
    /// check fails the batch with `versionConflict`. Keys are checked against the partition-key rules.
    @discardableResult
    nonisolated(nonsending) func append(
        _ events: [EventRecord], expecting: [PartitionKey: ExpectedVersion]
    ) async throws(EventStoreError) -> AppendReceipt<Position>

    /// The stream's latest version (0: no events).
    nonisolated(nonsending) func version(of stream: PartitionKey) async throws(EventStoreError) -> UInt64

    /// Calls `body` with the events of `stream` with versions `from...through`, in version order, at most `limit`,
    /// leaving out events after `asOf` (a position: "the stream as it was then"). Returns how many it delivered.
    @discardableResult
    nonisolated(nonsending) func readStream(
        _ stream: PartitionKey, from: UInt64, through: UInt64, asOf: Position?, limit: Int,
        _ body: (RecordView) throws -> Void
    ) async throws -> Int

    /// Calls `body` with up to `limit` events in global order after `position` (nil: from the start), each with
    /// its position. Returns the position of the last event delivered (nil: none).
    @discardableResult
    nonisolated(nonsending) func readAll(
        after position: Position?, limit: Int, _ body: (RecordView, Position) throws -> Void
    ) async throws -> Position?

    /// Suspends until the store holds an event after `position` (nil: any event) that `readAll` delivers;
    /// returns at once when it already does. What live subscriptions and projections wait on. Throws
    /// `EventStoreError.closed` when the store is or gets closed and `CancellationError` when the calling task is
    /// cancelled.
    nonisolated(nonsending) func waitForEvents(after position: Position?) async throws

    /// The latest snapshot of `subject` by projector `projectorName` at or before global sequence `maxSequence` that
    /// `accept` takes (it returns why not, or nil to take it); what was passed over, and why, comes back too.
    /// Backends without snapshots find none (the default).
    nonisolated(nonsending) func latestSnapshot(
        of subject: SnapshotSubject, projectorName: String, maxSequence: UInt64, accept: (SnapshotRecord) -> SnapshotRejection?
    ) async throws -> SnapshotStore.Lookup

    /// Stores snapshots (all or none). Never called on the command path. Backends without snapshots throw
    /// `EventStoreError.unsupported` (the default).
    nonisolated(nonsending) func writeSnapshots(_ snapshots: [SnapshotRecord]) async throws

    /// Where the store and the event-sourcing work on it (snapshot loads, by default projections, the compactor and
    /// command executors) log and measure. The default follows the application's swift-log and swift-metrics
    /// bootstrap (`Observability.standard`).
    var observability: Observability { get }
}

extension EventStore {
    public var observability: Observability { .standard }
}

extension EventStore {
    public nonisolated(nonsending) func latestSnapshot(
        of subject: SnapshotSubject, projectorName: String, maxSequence: UInt64, accept: (SnapshotRecord) -> SnapshotRejection?
    ) async throws -> SnapshotStore.Lookup {
        SnapshotStore.Lookup(snapshot: nil, ignored: [])
    }

    public nonisolated(nonsending) func writeSnapshots(_ snapshots: [SnapshotRecord]) async throws {
        throw EventStoreError.unsupported("\(Self.self) keeps no snapshots")
    }
}

extension EventStore {
    /// Appends with no expectations.
    @discardableResult
    public nonisolated(nonsending) func append(_ events: [EventRecord]) async throws(EventStoreError) -> AppendReceipt<Position> {
        try await append(events, expecting: [:])
    }

    /// The whole stream, in version order.
    @discardableResult
    public nonisolated(nonsending) func readStream(_ stream: PartitionKey, _ body: (RecordView) throws -> Void) async throws -> Int {
        try await readStream(stream, from: 1, through: .max, asOf: nil, limit: .max, body)
    }

    /// The stream's events as owned values (for tests and tools; hot paths read views).
    public nonisolated(nonsending) func streamRecords(
        _ stream: PartitionKey, from: UInt64 = 1, through: UInt64 = .max, asOf: Position? = nil, limit: Int = .max
    ) async throws -> [StoredRecord] {
        var records: [StoredRecord] = []
        try await readStream(stream, from: from, through: through, asOf: asOf, limit: limit) { records.append($0.materialize()) }
        return records
    }

    /// Checks a batch before any backend touches it: every key against the partition-key rules, then that it
    /// is not empty.
    func validateBatch(_ events: [EventRecord], _ expecting: [PartitionKey: ExpectedVersion]) throws(EventStoreError) {
        try validateKeys(events, expecting)
        guard !events.isEmpty else { throw .invalidEvent(index: 0, reason: "an empty batch") }
    }

    /// Checks every key of a batch against the partition-key rules.
    func validateKeys(_ events: [EventRecord], _ expecting: [PartitionKey: ExpectedVersion]) throws(EventStoreError) {
        do throws(PartitionKeyError) {
            var previous: PartitionKey?
            for event in events where event.key != previous {  // a batch is usually one stream's
                try event.key.validate()
                previous = event.key
            }
            for key in expecting.keys { try key.validate() }
        } catch {
            throw .invalidKey(error)
        }
    }
}
