import CoreMetrics
import Logging
import StrataStorage
import Synchronization

/// Runs commands: one at a time per aggregate in this process (different aggregates in parallel), each on the
/// aggregate's current state, appending its events with the version it saw. When another process wrote the
/// aggregate in between, the append fails its version check and the command runs again on the new state, up to
/// `maxAttempts` times.
///
/// Recently used aggregates stay in memory (at most `cachedAggregatesMax`, tagged with their version). A command's
/// own events are folded into the cached state from the bytes it appended (what a read would return), so the next
/// command on a hot aggregate reads back only what other processes wrote since.
public final class CommandExecutor<Store: EventStore>: Sendable {
    /// The store commands read and append to.
    public let store: Store
    /// The payload codec of every event the executor reads and writes.
    public let codec: any EventCodec
    /// How many times a command runs before a conflict with other writers is returned (≥ 1).
    public let maxAttempts: Int
    /// How many aggregate states stay in memory (0: none).
    public let cachedAggregatesMax: Int
    // Internal, usable from the inlinable command path (so that it is specialized for each command and store).
    /// Where it logs (a retry after a conflict at `debug`, a command that ran out of attempts at `warning`) and
    /// measures (`StrataMetric.commandRetries`).
    public let observability: Observability
    @usableFromInline let retries: Counter
    /// One command at a time per aggregate, and the cached aggregates beside their lanes.
    @usableFromInline let lanes: AggregateLanes
    /// Whether the codec is a built-in one, which reads back exactly what an event whose type says so
    /// (`FieldEncodable.roundTripsExactly`) writes: its own events then fold as they are.
    @usableFromInline let foldsExactly: Bool

    /// How many aggregates are cached now, and how many the lane table holds (cached or running a command).
    package var cacheCounts: (cached: Int, lanes: Int) { lanes.counts }

    /// An executor on `store`; see the properties for the parameters.
    public init(
        store: Store, codec: any EventCodec = JSONEventCodec(), maxAttempts: Int = 5, cachedAggregatesMax: Int = 10_000,
        observability: Observability? = nil
    ) {
        precondition(maxAttempts >= 1 && cachedAggregatesMax >= 0)
        let observability = observability ?? store.observability
        self.observability = observability
        self.retries = observability.counter(StrataMetric.commandRetries)
        self.store = store
        self.codec = codec
        self.maxAttempts = maxAttempts
        self.cachedAggregatesMax = cachedAggregatesMax
        self.lanes = AggregateLanes(cachedMax: cachedAggregatesMax)
        self.foldsExactly = BuiltInCodec(codec) != nil
    }

    /// Runs `command` and returns what it committed. `metadata` (correlation and causation ids, the user) goes on
    /// each of its events, with a new UUID as correlation id when none is given. Throws `CommandError` only: a
    /// domain error comes back as `.rejected`, an aggregate that does not load as `.loadFailed`, the store's
    /// failure as `.store`. (Declared `throws`, not `throws(CommandError)`: Swift 6.3's compiler crashes on a
    /// caller's function with two `do`/`catch` blocks that each catch some cases of a typed error thrown by an
    /// `async` call, a pattern every application writes.) Runs on the concurrent executor (`@concurrent`), whatever actor calls it: commands of
    /// different aggregates proceed in parallel.
    @discardableResult
    @inlinable @concurrent public func execute<C: Command>(
        _ command: C, metadata: RecordMetadata = RecordMetadata()
    ) async throws -> CommandResult<Store.Position> {
        let key = command.key
        guard key.group == C.Projector.group else {
            throw CommandError.invalidKey(key, "its group is not \(C.Projector.group)")
        }
        do { try key.validate() } catch { throw CommandError.invalidKey(key, "\(error)") }
        var recordMetadata = metadata
        if recordMetadata.correlationId == nil { recordMetadata.correlationId = EventID.random().description }
        let projector = ObjectIdentifier(C.Projector.self)
        let appendOnly = command.kind == .appendOnly
        // The cached aggregate comes with the lane; what the command leaves there goes back when it ends.
        // (`AggregateLanes` keeps a `CachedAggregate<C.Projector, Store.Position>` under this projector's
        // identifier only: stored by this executor, whose `Store` is fixed, for this projector type.)
        var cached = await lanes.acquire(key, projector: projector).map {
            unsafeDowncast($0, to: CachedAggregate<C.Projector, Store.Position>.self)
        }
        var outcome = AggregateLanes.Outcome.untouched
        defer { lanes.release(key, outcome) }
        var attempts = 0
        while true {
            attempts += 1
            // The aggregate now: the cached one moved on by the events written since (by other processes), or a
            // load (its latest snapshot and the events after it). A failure leaves no cached state behind.
            let current: CachedAggregate<C.Projector, Store.Position>?
            if appendOnly {
                current = nil
            } else {
                do {
                    current = try await catchUp(cached, key)
                } catch {
                    if cached != nil { outcome = .drop(projector) }
                    throw error
                }
                cached = current
                outcome = .keep(projector, current!)
            }
            // (The state is read in place, never copied out: folding into it below must not copy its storage.)
            let seen = current?.aggregate.version ?? 0
            switch command.kind {
            case .create where seen > 0: throw CommandError.alreadyExists(key, version: seen)
            case .update where seen == 0: throw CommandError.notFound(key)
            case .expectedVersion(let expected) where expected != seen:
                throw CommandError.conflict(key, expected: expected, actual: seen)
            default: break
            }
            let events: [any Event]
            do {
                events = try command.handle(current?.aggregate ?? Aggregate<C.Projector>(key: key))
            } catch {
                throw CommandError.rejected(key, error)
            }
            guard !events.isEmpty else {
                return CommandResult(key: key, version: seen, position: current?.position ?? .origin, events: [], attempts: attempts)
            }
            let now = wallClockMicros()
            var records: [EventRecord] = []
            records.reserveCapacity(events.count)
            for (index, event) in events.enumerated() {
                do {
                    records.append(try EventRecord(event, key: key, codec: codec, metadata: recordMetadata, timestampMicros: now))
                } catch {
                    throw CommandError.store(key, .invalidEvent(index: index, reason: "it does not encode: \(error)"))
                }
            }
            let expected: ExpectedVersion = appendOnly ? .any : .exactly(seen)
            let receipt: AppendReceipt<Store.Position>
            do {
                receipt = try await store.append(records, expecting: [key: expected])
            } catch {
                let error = (error as? EventStoreError) ?? .storage(error)  // (a backend that breaks the contract)
                guard case .versionConflict(_, _, let actual) = error else {
                    // Whether the events were written is unknown: the next command loads the aggregate.
                    if !appendOnly { outcome = .drop(projector) }
                    throw CommandError.store(key, error)
                }
                // Another process wrote this aggregate: run again on its new state (the cached state is still right
                // at its version; the next attempt reads what came after).
                guard attempts < maxAttempts else {
                    conflictPersisted(C.self, key, attempts: attempts)
                    throw CommandError.conflict(key, expected: seen, actual: actual)
                }
                retrying(C.self, key, attempt: attempts)
                continue
            }
            let version = receipt.versions[key] ?? seen
            // The cached aggregate moves on with the events just written (as they are when their type reads back
            // exactly what it writes, else decoded from their bytes as stored: the state is what a load would give),
            // and the next command reads nothing back. Events that do not fold: the next command
            // loads them from the store instead.
            if let current {
                if fold(events, records, into: &current.aggregate, at: receipt.last) && current.aggregate.version == version {
                    current.position = receipt.last
                } else {
                    outcome = .drop(projector)
                }
            }
            return CommandResult(key: key, version: version, position: receipt.last, events: records, attempts: attempts)
        }
    }

    /// `cached` moved on by the events after its version (in place), or the aggregate loaded (from its latest
    /// snapshot, if any) when nothing is cached. On a failure `cached` is no longer valid.
    @inlinable nonisolated(nonsending) func catchUp<P: AggregateProjector>(
        _ cached: CachedAggregate<P, Store.Position>?, _ key: PartitionKey
    ) async throws(CommandError) -> CachedAggregate<P, Store.Position> {
        let codec = self.codec
        do {
            guard let cached else {
                let (aggregate, position) = try await store.loadWithPosition(P.self, key, codec: codec)
                return CachedAggregate(aggregate, position)
            }
            try await store.readStream(key, from: cached.aggregate.version + 1, through: .max, asOf: nil, limit: .max) { event, at in
                try cached.aggregate.apply(event, at: at, codec: codec)
                cached.position = at
            }
            return cached
        } catch let error as AggregateLoadError {
            throw .loadFailed(key, error)
        } catch let error as EventStoreError {
            throw .store(key, error)
        } catch {
            throw .store(key, .storage(error))  // (a backend that breaks the contract)
        }
    }

    /// Folds a successful append's events (one stream, the last at `last`; `records` as written) into the aggregate:
    /// an event whose type reads back exactly what it writes through the executor's (built-in) codec as it is, any
    /// other decoded from its record (what a load would read). False when that is not possible and the aggregate must not be kept.
    @inlinable func fold<P: AggregateProjector>(
        _ events: [any Event], _ records: [EventRecord], into aggregate: inout Aggregate<P>, at last: Store.Position
    ) -> Bool {
        do {
            for (event, record) in zip(events, records) {
                if foldsExactly, let value = try P.events.exactValue(of: event) {
                    try aggregate.fold(
                        .registered(value), version: aggregate.version + 1, position: last.description, stream: record.key,
                        typeName: record.typeName)
                } else {
                    try aggregate.apply(record, version: aggregate.version + 1, position: last, codec: codec)
                }
            }
            return true
        } catch {
            return false
        }
    }

    /// Counts and logs (at `debug`) a retry after a version conflict.
    @usableFromInline func retrying<C: Command>(_ command: C.Type, _ key: PartitionKey, attempt: Int) {
        retries.increment()
        observability.logger.debug(
            "another writer got there first: running the command again on the new state",
            metadata: ["command": "\(C.self)", "stream": "\(key)", "attempt": "\(attempt)"])
    }

    /// Logs (at `warning`) a command that met a conflict on every attempt.
    @usableFromInline func conflictPersisted<C: Command>(_ command: C.Type, _ key: PartitionKey, attempts: Int) {
        observability.logger.warning(
            "a command met a version conflict on every attempt",
            metadata: ["command": "\(C.self)", "stream": "\(key)", "attempts": "\(attempts)"])
    }

}
