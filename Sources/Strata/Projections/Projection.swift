import CoreMetrics
import Logging
import Synchronization

/// A `MultiProjector`'s read model over a store, kept up to date: `catchUp()` folds every event stored so far,
/// `run()` catches up and then folds each new event as it is appended, until cancelled. Read the state with
/// `read(_:)` (or `state`), at any time and from any task; wait for your own writes with `wait(until:timeout:)`.
///
/// ```swift
/// let projection = Projection(ItemsPerProduct.self, store: store)
/// let runner = Task { try await projection.run() }
/// let receipt = try await store.append(…)
/// try await projection.wait(until: receipt.last, timeout: .seconds(1))
/// let coffee = projection.read { $0.quantities["coffee"] }
/// ```
///
/// Events are folded in global order, each exactly once; the fold runs in place (no copy of the state per
/// event). Events of types the projector has not registered are passed over without decoding their payloads.
/// A failing event (it does not decode, or `apply` throws) is reported as a `ProjectionError` naming it, then
/// handled per the `ProjectionErrorPolicy` — never silently.
public final class Projection<Projector: MultiProjector, Store: EventStore>: Sendable {
    /// The store the projection reads.
    public let store: Store
    /// Which events it reads: the projector's filter, narrowed to the tenant of a tenant projection.
    public let filter: EventFilter
    /// What it does with an event that fails.
    public let policy: ProjectionErrorPolicy
    /// The tenant of a tenant projection (nil: all tenants).
    public let tenant: String?
    /// Whether it starts from its latest usable snapshot and takes snapshots per the projector's policy.
    public let useSnapshots: Bool
    // (The fold is `@inlinable`, so a client's projection runs specialised for its projector and store: generic
    // code looked up type metadata for every event.)
    @usableFromInline let codec: any EventCodec
    @usableFromInline let matcher: EventFilter.Matcher
    @usableFromInline let events: EventTypes<Projector.Events>
    @usableFromInline let batchSize: Int
    /// Where it logs (skipped failures, a stop) and measures (`StrataMetric.projectionLag`, `projectionFailures`).
    @usableFromInline let observability: Observability
    @usableFromInline let lag: Gauge
    @usableFromInline let failuresCounted: Counter
    /// Failure kinds (type, version, kind) already logged at `warning`; repeats log at `debug`.
    let warnedFailures = Mutex<Set<String>>([])

    @usableFromInline struct Progress {
        @usableFromInline var state: Projector.State
        /// The last event read (folded, passed over, or skipped after failing).
        @usableFromInline var position: Store.Position?
        @usableFromInline var failures: [ProjectionError] = []
        @usableFromInline var failureCount = 0
        @usableFromInline var running = false

        @usableFromInline init(state: Projector.State) { self.state = state }
    }

    @usableFromInline let progress: Mutex<Progress>
    /// Wakes `wait(until:timeout:)` callers as the position advances.
    let advanced = CommitSignal<Store.Position>()

    struct SnapshotBook {
        /// Events read (folded or filtered out) since the last snapshot this projection started from or wrote.
        var passed: UInt64 = 0
        var time = ContinuousClock.now
        var restoreTried = false
        var restoredFrom: Store.Position?
        var written = 0
        var lastError: String?
        /// The projector's state is not snapshotted: stop trying.
        var disabled = false
    }

    let snapshotBook = Mutex(SnapshotBook())

    /// A projection of `projector` over `store`. `tenant` makes it a tenant projection: it never reads another
    /// tenant's events. `batchSize` bounds how many records one read takes from the store. With `useSnapshots`, it
    /// starts from its latest usable snapshot (same projector name and version, tenant and codec; see
    /// `restoredFrom`) instead of the first event, and a running projection snapshots per `snapshotPolicy`.
    public init(
        _ projector: Projector.Type, store: Store, codec: any EventCodec = JSONEventCodec(), tenant: String? = nil,
        onError policy: ProjectionErrorPolicy = .stop, batchSize: Int = 1_024, useSnapshots: Bool = true,
        observability: Observability? = nil
    ) {
        precondition(batchSize > 0, "a projection reads at least one record at a time")
        var filter = Projector.filter
        if let tenant { filter.tenants = (filter.tenants ?? [tenant]).intersection([tenant]) }
        self.store = store
        self.filter = filter
        self.policy = policy
        self.tenant = tenant
        self.useSnapshots = useSnapshots
        self.codec = codec
        self.matcher = EventFilter.Matcher(filter)
        self.events = Projector.events
        self.batchSize = batchSize
        self.progress = Mutex(Progress(state: Projector.initialState))
        let observability = observability ?? store.observability
        self.observability = observability
        let dimensions = [("projection", Projector.projectorName), ("tenant", tenant ?? "all")]
        self.lag = observability.gauge(StrataMetric.projectionLag, dimensions)
        self.failuresCounted = observability.counter(StrataMetric.projectionFailures, dimensions)
    }

    /// Runs `body` on the current state (under the projection's lock: keep it short; the fold waits for it).
    public func read<T>(_ body: (borrowing Projector.State) throws -> T) rethrows -> T {
        try progress.withLock { try body($0.state) }
    }

    /// A copy of the current state. (While the projection runs, its next event then copies the state's
    /// collections once; prefer `read(_:)` for large states.)
    public var state: Projector.State { progress.withLock { $0.state } }

    /// The position of the last event read (nil: none yet).
    @inlinable public var position: Store.Position? { progress.withLock { $0.position } }

    /// The latest failures skipped under `.skip` (at most 100), oldest first.
    public var failures: [ProjectionError] { progress.withLock { $0.failures } }

    /// How many events have failed under `.skip` in all.
    public var failureCount: Int { progress.withLock { $0.failureCount } }

    /// Folds every event stored now (and any appended while it reads); returns the position reached.
    @inlinable @discardableResult
    public func catchUp() async throws -> Store.Position? {
        try await exclusive {
            try await restoreFromSnapshot(through: nil)
            while try await foldBatch() { try await snapshotIfDue() }
            return position
        }
    }

    /// Logs why the projection stopped on an event (under `.stop`), then rethrows.
    @usableFromInline func stopped(_ failure: ProjectionError) -> ProjectionError {
        failuresCounted.increment()
        observability.logger.error(
            "projection stopped on an event it cannot fold", metadata: ["projection": "\(Projector.projectorName)", "failure": "\(failure)"])
        return failure
    }

    /// Counts a failure skipped under `.skip` and logs it (the first of each type, version and kind at `warning`, the
    /// rest at `debug`).
    @usableFromInline func skipped(_ failure: ProjectionError) {
        failuresCounted.increment()
        let first = warnedFailures.withLock { $0.insert("\(failure.typeName)/\(failure.typeVersion)/\(failure.kind)").inserted }
        let metadata: Logger.Metadata = ["projection": "\(Projector.projectorName)", "failure": "\(failure)"]
        if first {
            observability.logger.warning("projection skipped an event it cannot fold (further ones of this kind at debug)", metadata: metadata)
        } else {
            observability.logger.debug("projection skipped an event it cannot fold", metadata: metadata)
        }
    }

    /// Catches up, then folds each new event as it is appended, until the task is cancelled (throws
    /// `CancellationError`), the store is closed (`EventStoreError.closed`), or — under `.stop` — an event fails
    /// (`ProjectionError`).
    @inlinable public func run() async throws {
        try await exclusive {
            try await restoreFromSnapshot(through: nil)
            while true {
                while try await foldBatch() { try await snapshotIfDue() }
                try await snapshotIfDue()
                try await store.waitForEvents(after: position)
            }
        }
    }

    /// Waits until the projection has read every event up to `target` (an append's `AppendReceipt.last`, say:
    /// read-your-writes). Throws `ProjectionTimeout` after `timeout` — also when the projection is not running or
    /// has stopped on a failing event before `target`.
    public func wait(until target: Store.Position, timeout: Duration) async throws {
        let reached = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { try await self.advanced.wait(after: target, reaching: true) { self.position } }
            group.addTask {
                try await Task.sleep(for: timeout)
                return false
            }
            defer { group.cancelAll() }
            return try await group.next() ?? false
        }
        guard reached else { throw ProjectionTimeout(projection: Projector.projectorName, waitedFor: "\(target)", reached: position.map { "\($0)" }) }
    }

    /// Runs `body` as the projection's only reader of the store (two concurrent `run`/`catchUp` calls would fold
    /// events twice: the second throws `ProjectionAlreadyRunning`).
    @inlinable func exclusive<T>(_ body: () async throws -> T) async throws -> T {
        let first = progress.withLock { progress in
            defer { progress.running = true }
            return !progress.running
        }
        guard first else { throw ProjectionAlreadyRunning(projection: Projector.projectorName) }
        defer { progress.withLock { $0.running = false } }
        return try await body()
    }

    /// Reads and folds the next batch, up to `bound` (nil: no bound); false when there was nothing after the
    /// position to fold.
    @inlinable func foldBatch(through bound: Store.Position? = nil) async throws -> Bool {
        try Task.checkCancellation()  // (a long catch-up stops between batches when cancelled)
        let start = position
        if let bound, let start, start >= bound { return false }
        var passedBound = false
        var lastTimestamp: Int64?
        var read: UInt64 = 0
        let last = try await store.readAll(after: start, limit: batchSize) { event, at in
            if let bound, at > bound {
                passedBound = true
                return
            }
            try fold(event, at: at)
            lastTimestamp = event.timestampMicros
            read += 1
        }
        if read > 0 { countRead(read) }
        if last != nil, let reached = position { published(reached) }
        // Lag: how old the last event folded is while there is more to read; nothing once caught up.
        if let lastTimestamp, last != nil {
            lag.record(Double(max(0, wallClockMicros() - lastTimestamp)) / 1e6)
        } else if last == nil {
            lag.record(0)
        }
        return last != nil && !passedBound
    }

    @usableFromInline func published(_ position: Store.Position) { advanced.published(position) }

    /// Counts events read towards the snapshot policy.
    @usableFromInline func countRead(_ events: UInt64) { snapshotBook.withLock { $0.passed += events } }

    /// Folds one record (or passes it over), then moves the position past it.
    @inlinable func fold(_ event: EventView, at position: Store.Position) throws {
        let value: Projector.Events?
        do {
            value = matcher.matches(event) ? try events.decodeIfRegistered(event, at: position, codec: codec) : nil
        } catch {
            // (the codec's reason, or the versions the projector knows: the failure names the event)
            let kind: ProjectionError.Kind
            switch error.kind {
            case .undecodable, .otherType: kind = .undecodable
            case .unknownVersion(let known): kind = .unknownVersion(known: known)
            }
            try failed(event, at: position, kind: kind, reason: error.reason)
            return
        }
        let skipped = try progress.withLock { progress -> ProjectionError? in
            var skipped: ProjectionError?
            if let value {
                do {
                    try Projector.apply(&progress.state, value, EventContext(event: event, position: position))
                } catch {
                    // A lazy event's field that does not decode is the event's failure, not the projector's.
                    let kind: ProjectionError.Kind = error is LazyEventError ? .undecodable : .projectorFailed
                    let failure = ProjectionError(event, at: position, projection: Projector.projectorName, kind: kind, reason: "\(error)")
                    guard policy == .skip else { throw stopped(failure) }
                    progress.skip(failure)
                    skipped = failure
                }
            }
            progress.position = position
            return skipped
        }
        if let skipped { self.skipped(skipped) }
    }

    @usableFromInline func failed(_ event: EventView, at position: Store.Position, kind: ProjectionError.Kind, reason: String) throws {
        let failure = ProjectionError(event, at: position, projection: Projector.projectorName, kind: kind, reason: reason)
        guard policy == .skip else { throw stopped(failure) }
        progress.withLock { progress in
            progress.skip(failure)
            progress.position = position
        }
        skipped(failure)
    }
}

extension Projection.Progress {
    @usableFromInline mutating func skip(_ failure: ProjectionError) {
        if failures.count == 100 { failures.removeFirst() }
        failures.append(failure)
        failureCount += 1
    }
}

extension Projection {
    /// The projection's state as of `position` (nil: everything stored now): what the read model was right after
    /// that event, from the latest usable snapshot at or before it plus the events after. Independent of any
    /// running projection.
    public static func state(
        of projector: Projector.Type, store: Store, asOf position: Store.Position?, codec: any EventCodec = JSONEventCodec(),
        tenant: String? = nil
    ) async throws -> Projector.State {
        let projection = Projection(projector, store: store, codec: codec, tenant: tenant)
        try await projection.exclusive {
            try await projection.restoreFromSnapshot(through: position)
            while try await projection.foldBatch(through: position) {}
        }
        return projection.state
    }
}

extension ProjectionError {
    @usableFromInline init<P: EventPosition>(_ event: EventView, at position: P, projection: String, kind: Kind, reason: String) {
        self.init(
            projection: projection, position: position.description, stream: event.key, typeName: event.typeName,
            typeVersion: event.typeVersion, kind: kind, reason: reason)
    }
}


/// `Projection.wait(until:timeout:)` ran out of time.
public struct ProjectionTimeout: Error, Sendable, CustomStringConvertible {
    /// The projection's name.
    public var projection: String
    /// The position waited for.
    public var waitedFor: String
    /// The position the projection had reached (nil: none).
    public var reached: String?

    /// The projection, the position waited for and the one reached.
    public var description: String {
        "projection \(projection) did not reach position \(waitedFor) in time (it is at \(reached ?? "the start"))"
    }
}

/// `Projection.run()` or `catchUp()` was called while another call of them was still running on the projection.
public struct ProjectionAlreadyRunning: Error, Sendable, CustomStringConvertible {
    /// The projection's name.
    public var projection: String

    @usableFromInline init(projection: String) { self.projection = projection }

    /// What happened.
    public var description: String { "projection \(projection) is already catching up or running" }
}

// MARK: Snapshots

extension Projection {
    /// The snapshot's subject: this projection, over its tenant or all.
    public var snapshotSubject: SnapshotSubject { .projection(name: Projector.projectorName, tenant: tenant) }

    /// The position of the snapshot the projection started from (nil: it started from the first event).
    public var restoredFrom: Store.Position? { snapshotBook.withLock { $0.restoredFrom } }

    /// Snapshots this projection has written.
    public var snapshotsWritten: Int { snapshotBook.withLock { $0.written } }

    /// Why the last automatic snapshot failed, if it did (a failed snapshot does not stop the projection: it only
    /// means a restart replays more; the next attempt comes after another policy interval).
    public var lastSnapshotError: String? { snapshotBook.withLock { $0.lastError } }

    /// Before the first event is read: the state and position of the latest usable snapshot at or before `bound`.
    @usableFromInline func restoreFromSnapshot(through bound: Store.Position?) async throws {
        guard useSnapshots, position == nil else { return }
        let first = snapshotBook.withLock { book in
            defer { book.restoreTried = true }
            return !book.restoreTried
        }
        guard first else { return }
        var state: Projector.State?
        let codec = self.codec
        let lookup = try await store.latestSnapshot(of: snapshotSubject, projectorName: Projector.projectorName, atOrBefore: bound) { snapshot in
            snapshot.decodeState(
                projectorName: Projector.projectorName, projectorVersion: Projector.projectorVersion, codec: codec,
                Projector.state(fromSnapshot:codec:), into: &state)
        }
        store.observability.passedOver(lookup.ignored, subject: "\(snapshotSubject)", projector: Projector.projectorName)
        guard let snapshot = lookup.snapshot, let state else { return }
        progress.withLock { progress in
            progress.state = state
            progress.position = snapshot.position
        }
        snapshotBook.withLock { book in
            book.passed = 0
            book.restoredFrom = snapshot.position
            book.time = .now
        }
        published(snapshot.position)
    }

    /// Takes a snapshot when the projector's policy says one is due (a failure is kept in `lastSnapshotError`).
    @usableFromInline func snapshotIfDue() async throws {
        guard useSnapshots, position != nil else { return }
        let due = snapshotBook.withLock { book in
            !book.disabled && Projector.snapshotPolicy.isDue(passed: book.passed, elapsed: Double((ContinuousClock.now - book.time).components.seconds))
        }
        guard due else { return }
        do {
            try await snapshot()
        } catch let error as SnapshotError {
            snapshotBook.withLock { $0.disabled = true; $0.lastError = "\(error)" }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            // Try again after another policy interval (events or time), not at every batch (a full disk, say).
            snapshotBook.withLock { book in
                book.lastError = "\(error)"
                book.time = .now
                book.passed = 0
            }
        }
    }

    /// Snapshots the state now (at the position it has reached); returns what was written, nil when it has read
    /// nothing yet. Throws `SnapshotError.notSnapshotted` when the projector's state is not snapshotted, and what
    /// the store throws (`EventStoreError`).
    @discardableResult
    public func snapshot() async throws -> Snapshot<Store.Position>? {
        // A copy of the state (its storage is shared until the fold next changes it), encoded outside the lock.
        let (state, position) = progress.withLock { ($0.state, $0.position) }
        guard let position else { return nil }
        guard let bytes = try Projector.snapshotBytes(of: state, codec: codec) else {
            throw SnapshotError.notSnapshotted(projector: Projector.projectorName)
        }
        let snapshot = Snapshot(
            subject: snapshotSubject, projectorName: Projector.projectorName,
            projectorVersion: UInt32(truncatingIfNeeded: Projector.projectorVersion), codecName: codec.name,
            position: position, version: 0, createdMicros: wallClockMicros(), state: bytes)
        try await store.writeSnapshots([snapshot])
        snapshotBook.withLock { book in
            book.passed = 0
            book.time = .now
            book.written += 1
            book.lastError = nil
        }
        return snapshot
    }
}
