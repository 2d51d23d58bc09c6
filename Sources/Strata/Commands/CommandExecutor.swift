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
    @usableFromInline let lanes = KeyedLock<PartitionKey>()
    @usableFromInline let cache: Mutex<[CacheKey: any Sendable]> = Mutex([:])

    @usableFromInline struct CacheKey: Hashable, Sendable {
        @usableFromInline var projector: ObjectIdentifier
        @usableFromInline var key: PartitionKey

        @usableFromInline init(projector: ObjectIdentifier, key: PartitionKey) {
            self.projector = projector
            self.key = key
        }
    }

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
        return try await lanes.withLock(key) { () throws(CommandError) -> CommandResult<Store.Position> in
            var attempts = 0
            while true {
                attempts += 1
                let appendOnly = command.kind == .appendOnly
                var aggregate = Aggregate<C.Projector>(key: key)
                var seen: Store.Position?
                if !appendOnly { (aggregate, seen) = try await take(C.Projector.self, key) }
                // The aggregate goes back to the cache when the iteration ends — after the command's own events were
                // folded in — unless it went stale (a conflict) or its state is unknown (a failed append).
                var keep = !appendOnly
                defer { if keep { store(aggregate, seen, CacheKey(projector: ObjectIdentifier(C.Projector.self), key: key)) } }
                switch command.kind {
                case .create where aggregate.version > 0: throw CommandError.alreadyExists(key, version: aggregate.version)
                case .update where aggregate.version == 0: throw CommandError.notFound(key)
                case .expectedVersion(let expected) where expected != aggregate.version:
                    throw CommandError.conflict(key, expected: expected, actual: aggregate.version)
                default: break
                }
                let events: [any Event]
                do { events = try command.handle(aggregate) } catch { throw CommandError.rejected(key, error) }
                guard !events.isEmpty else {
                    return CommandResult(key: key, version: aggregate.version, position: seen ?? .origin, events: [], attempts: attempts)
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
                let expected: ExpectedVersion = appendOnly ? .any : .exactly(aggregate.version)
                let receipt: AppendReceipt<Store.Position>
                do {
                    receipt = try await store.append(records, expecting: [key: expected])
                } catch {
                    keep = false
                    let error = (error as? EventStoreError) ?? .storage(error)  // (a backend that breaks the contract)
                    guard case .versionConflict(_, _, let actual) = error else { throw CommandError.store(key, error) }
                    // Another process wrote this aggregate: run again on its new state (the cached one is behind).
                    guard attempts < maxAttempts else {
                        conflictPersisted(C.self, key, attempts: attempts)
                        throw CommandError.conflict(key, expected: aggregate.version, actual: actual)
                    }
                    retrying(C.self, key, attempt: attempts)
                    continue
                }
                let version = receipt.versions[key] ?? aggregate.version
                // The cache moves on with the events just written (their bytes as stored, so the state is what a
                // load would give), and the next command reads nothing back. Events that do not fold: the next
                // command loads them from the store instead.
                if keep {
                    keep = fold(records, into: &aggregate, at: receipt.last) && aggregate.version == version
                    seen = receipt.last
                }
                return CommandResult(key: key, version: version, position: receipt.last, events: records, attempts: attempts)
            }
        }
    }

    /// The aggregate now and the position of its last event, taken out of the cache (so folding into it copies
    /// nothing): the cached state plus the events written since, or a load (its latest snapshot plus the events
    /// after it).
    @inlinable nonisolated(nonsending) func take<P: AggregateProjector>(
        _ projector: P.Type, _ key: PartitionKey
    ) async throws(CommandError) -> (Aggregate<P>, Store.Position?) {
        let cacheKey = CacheKey(projector: ObjectIdentifier(P.self), key: key)
        let codec = self.codec
        do {
            guard var (aggregate, position) = cache.withLock({ $0.removeValue(forKey: cacheKey) }) as? (Aggregate<P>, Store.Position?) else {
                return try await store.loadWithPosition(P.self, key, codec: codec)  // (from its latest snapshot, if any)
            }
            try await store.readStream(key, from: aggregate.version + 1, through: .max, asOf: nil, limit: .max) { event, at in
                try aggregate.apply(event, at: at, codec: codec)
                position = at
            }
            return (aggregate, position)
        } catch let error as AggregateLoadError {
            throw .loadFailed(key, error)
        } catch let error as EventStoreError {
            throw .store(key, error)
        } catch {
            throw .store(key, .storage(error))  // (a backend that breaks the contract)
        }
    }

    /// Folds a successful append's records (one stream, the last at `last`) into the aggregate; false when that is
    /// not possible and the aggregate must not be kept.
    @inlinable func fold<P: AggregateProjector>(_ records: [EventRecord], into aggregate: inout Aggregate<P>, at last: Store.Position) -> Bool {
        do {
            for record in records {
                try aggregate.apply(record, version: aggregate.version + 1, position: last, codec: codec)
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

    @inlinable func store<P: AggregateProjector>(_ aggregate: Aggregate<P>, _ position: Store.Position?, _ cacheKey: CacheKey) {
        guard cachedAggregatesMax > 0 else { return }
        cache.withLock { cache in
            if cache.count >= cachedAggregatesMax && cache[cacheKey] == nil {
                // Evict an eighth, arbitrarily: bounded memory without bookkeeping on the hot path.
                for key in cache.keys.prefix(max(1, cachedAggregatesMax / 8)) { cache[key] = nil }
            }
            cache[cacheKey] = (aggregate, position)
        }
    }

}
