/// Why an event store refused or failed an operation. Every `EventStore` method reports its own failures as
/// this type, reads included; what a read's closure throws comes back unchanged.
public enum EventStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An expected-version check failed; nothing of the batch was appended.
    case versionConflict(stream: PartitionKey, expected: ExpectedVersion, actual: UInt64)
    /// A partition key breaks the rules of `PartitionKey.validated(tenant:group:id:)`; nothing was appended.
    case invalidKey(PartitionKeyError)
    /// An event breaks a limit (`RecordLimits`), or the batch is empty; nothing was appended.
    case invalidEvent(index: Int, reason: String)
    /// The store is closed.
    case closed
    /// The backend does not do this.
    case unsupported(String)
    /// The backend failed: its own error, as it reported it — the native engine's `StorageError` (I/O, damage
    /// found on a read, a failed writer), SQLite's `DatabaseError`, … Catch this case to handle damage and I/O
    /// failures of any backend alike; cast the error to look closer.
    case storage(any Error & Sendable)

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

    /// Equal cases with equal values; two `storage` errors are equal when they are of one `Equatable` type and equal.
    public static func == (a: EventStoreError, b: EventStoreError) -> Bool {
        switch (a, b) {
        case (.versionConflict(let s1, let e1, let a1), .versionConflict(let s2, let e2, let a2)): s1 == s2 && e1 == e2 && a1 == a2
        case (.invalidKey(let x), .invalidKey(let y)): x == y
        case (.invalidEvent(let i1, let r1), .invalidEvent(let i2, let r2)): i1 == i2 && r1 == r2
        case (.closed, .closed): true
        case (.unsupported(let x), .unsupported(let y)): x == y
        case (.storage(let x), .storage(let y)): equalErrors(x, y)
        default: false
        }
    }
}

/// A place in a store's global order: the backend's token. The native engine, SQLite and the in-memory store use
/// a 64-bit sequence (`UInt64`); a PostgreSQL backend's token is a pair. Positions of one store compare in the
/// order `readAll` delivers events. Every position has a stable string form (`description`, parsed back by
/// `init?(_:)`) for checkpoints, HTTP cursors and logs: `Position(position.description) == position`.
public protocol EventPosition: Sendable, Hashable, Comparable, LosslessStringConvertible {
    /// The position before the first event: reading after it reads everything.
    static var origin: Self { get }
}

extension UInt64: EventPosition {
    /// 0: global sequences start at 1.
    public static var origin: UInt64 { 0 }
}

/// What an append committed: the global positions of its first and last events and each stream's version after
/// it.
public struct AppendReceipt<Position: EventPosition>: Sendable {
    /// The position of the batch's first event.
    public var first: Position
    /// The position of the batch's last event.
    public var last: Position
    /// Each appended stream's version after the append.
    public var versions: [PartitionKey: UInt64]

    /// A receipt (backends make these).
    public init(first: Position, last: Position, versions: [PartitionKey: UInt64]) {
        self.first = first
        self.last = last
        self.versions = versions
    }
}

/// The storage an event-sourced application runs on: the native engine (`NativeEventStore`), an in-memory store
/// for tests (`InMemoryEventStore`), SQLite (`StrataSQLite`). Every backend passes the same conformance suite
/// (the `StrataConformance` library), which a third party's backend can run too.
///
/// The protocol speaks Strata's own types, so a backend hands out events from its own bytes: events go in as
/// `EventRecord`s and come out as `EventView`s — borrowed views of the stored bytes, valid only inside the closure
/// that receives them, so loading an aggregate copies nothing it does not decode — each with its `Position`.
///
/// Errors: every method reports the store's failures as `EventStoreError` (damage found on a read is
/// `.storage`); a read rethrows what its closure throws, unchanged; `waitForEvents` also throws
/// `CancellationError`. The methods are declared `throws`, not `throws(EventStoreError)`: Swift 6.3's compiler
/// crashes on a caller's function with two `do`/`catch` blocks that each catch some cases of a typed error thrown
/// by an `async` call — a pattern every application writes.
///
/// The methods are `nonisolated(nonsending)`: they run on the caller's executor (an actor's, the main actor's),
/// so a read costs no hop to another thread and back — with the closure run where the caller runs. (Waiting for
/// a durable append suspends the caller as any `await` does.)
public protocol EventStore<Position>: AnyObject, Sendable {
    /// The backend's token for a place in the global order.
    associatedtype Position: EventPosition

    /// Appends `events` atomically, in order: all or nothing. Each stream's events get the next versions of the
    /// stream, in batch order. Each stream named in `expecting` is checked first (a stream may be named without
    /// events in the batch: a pure check); a failed check fails the batch with `versionConflict`. Keys are checked
    /// against the partition-key rules and events against `RecordLimits`.
    @discardableResult
    nonisolated(nonsending) func append(
        _ events: [EventRecord], expecting: [PartitionKey: ExpectedVersion]
    ) async throws -> AppendReceipt<Position>

    /// The stream's latest version (0: no events).
    nonisolated(nonsending) func version(of stream: PartitionKey) async throws -> UInt64

    /// Calls `body` with the events of `stream` with versions `from...through`, in version order, at most `limit`,
    /// each with its position, leaving out events after `asOf` (a position: "the stream as it was then"). Returns
    /// how many it delivered.
    @discardableResult
    nonisolated(nonsending) func readStream(
        _ stream: PartitionKey, from: UInt64, through: UInt64, asOf: Position?, limit: Int,
        _ body: (EventView, Position) throws -> Void
    ) async throws -> Int

    /// Calls `body` with up to `limit` events in global order after `position` (nil: from the start), each with
    /// its position. Returns the position of the last event delivered (nil: none). Events are never skipped or
    /// delivered twice by reads that go on from the last position.
    @discardableResult
    nonisolated(nonsending) func readAll(
        after position: Position?, limit: Int, _ body: (EventView, Position) throws -> Void
    ) async throws -> Position?

    /// Suspends until the store holds an event after `position` (nil: any event) that `readAll` delivers;
    /// returns at once when it already does. What live subscriptions and projections wait on. Throws
    /// `EventStoreError.closed` when the store is or gets closed and `CancellationError` when the calling task is
    /// cancelled. (A backend shared by several processes documents how soon it sees another process's append.)
    nonisolated(nonsending) func waitForEvents(after position: Position?) async throws

    /// The latest snapshot of `subject` by projector `projectorName` at or before `bound` (nil: any) that
    /// `accept` takes (it returns why not, or nil to take it); what was passed over, and why, comes back too.
    /// Backends without snapshots find none (the default).
    nonisolated(nonsending) func latestSnapshot(
        of subject: SnapshotSubject, projectorName: String, atOrBefore bound: Position?,
        accept: (Snapshot<Position>) -> SnapshotRejection?
    ) async throws -> SnapshotLookup<Position>

    /// Stores snapshots (all or none). Never called on the command path. Backends without snapshots throw
    /// `EventStoreError.unsupported` (the default).
    nonisolated(nonsending) func writeSnapshots(_ snapshots: [Snapshot<Position>]) async throws

    /// Where the store and the event-sourcing work on it (snapshot loads, by default projections, the compactor and
    /// command executors) log and measure. The default follows the application's swift-log and swift-metrics
    /// bootstrap (`Observability.standard`).
    var observability: Observability { get }
}

extension EventStore {
    public var observability: Observability { .standard }
}

extension EventStore {
    /// Finds none.
    public nonisolated(nonsending) func latestSnapshot(
        of subject: SnapshotSubject, projectorName: String, atOrBefore bound: Position?,
        accept: (Snapshot<Position>) -> SnapshotRejection?
    ) async throws -> SnapshotLookup<Position> {
        SnapshotLookup(snapshot: nil, ignored: [])
    }

    /// Throws `EventStoreError.unsupported`.
    public nonisolated(nonsending) func writeSnapshots(_ snapshots: [Snapshot<Position>]) async throws {
        throw EventStoreError.unsupported("\(Self.self) keeps no snapshots")
    }
}

extension EventStore {
    /// Appends with no expectations.
    @discardableResult
    public nonisolated(nonsending) func append(_ events: [EventRecord]) async throws -> AppendReceipt<Position> {
        try await append(events, expecting: [:])
    }

    /// The whole stream, in version order.
    @discardableResult
    public nonisolated(nonsending) func readStream(_ stream: PartitionKey, _ body: (EventView, Position) throws -> Void) async throws -> Int {
        try await readStream(stream, from: 1, through: .max, asOf: nil, limit: .max, body)
    }

    /// The stream's events as owned values (for tests and tools; hot paths read views).
    public nonisolated(nonsending) func streamEvents(
        _ stream: PartitionKey, from: UInt64 = 1, through: UInt64 = .max, asOf: Position? = nil, limit: Int = .max
    ) async throws -> [RecordedEvent<Position>] {
        var events: [RecordedEvent<Position>] = []
        do {
            try await readStream(stream, from: from, through: through, asOf: asOf, limit: limit) { events.append(RecordedEvent($0, at: $1)) }
        } catch {
            throw (error as? EventStoreError) ?? .storage(error)  // (the closure throws nothing)
        }
        return events
    }

    /// Up to `limit` events in global order after `position` (nil: from the start), as owned values.
    public nonisolated(nonsending) func allEvents(after position: Position? = nil, limit: Int = .max) async throws -> [RecordedEvent<Position>] {
        var events: [RecordedEvent<Position>] = []
        do {
            try await readAll(after: position, limit: limit) { events.append(RecordedEvent($0, at: $1)) }
        } catch {
            throw (error as? EventStoreError) ?? .storage(error)  // (the closure throws nothing)
        }
        return events
    }

    /// Checks a batch before any backend touches it: every key against the partition-key rules, that it is not
    /// empty, and every event against `RecordLimits`.
    package func validateBatch(_ events: [EventRecord], _ expecting: [PartitionKey: ExpectedVersion], limits: Bool = true) throws(EventStoreError) {
        try validateKeys(events, expecting)
        guard !events.isEmpty else { throw .invalidEvent(index: 0, reason: "an empty batch") }
        guard limits else { return }
        try events.withUnsafeBufferPointer { (events) throws(EventStoreError) in
            for index in events.indices {
                if let reason = EventRecord.limitViolation(of: events.baseAddress! + index) { throw .invalidEvent(index: index, reason: reason) }
            }
        }
    }

    /// Checks every key of a batch against the partition-key rules.
    func validateKeys(_ events: [EventRecord], _ expecting: [PartitionKey: ExpectedVersion]) throws(EventStoreError) {
        do throws(PartitionKeyError) {
            var previous: PartitionKey?
            for event in events where event.key != previous {  // a batch is usually one stream's
                try event.key.validate()
                previous = event.key
            }
            for key in expecting.keys where key != previous { try key.validate() }  // (the batch's stream: checked)
        } catch {
            throw .invalidKey(error)
        }
    }
}
