import Synchronization

/// Runs commands: one at a time per aggregate in this process (different aggregates in parallel), each on the
/// aggregate's current state, appending its events with the version it saw. When another process wrote the
/// aggregate in between, the append fails its version check and the command runs again on the new state, up to
/// `maxAttempts` times.
///
/// Recently used aggregates stay in memory (at most `cachedAggregatesMax`, tagged with their version), so a
/// command on a hot aggregate reads and decodes only the events it has not seen (including those of the
/// previous command).
public final class CommandExecutor<Store: EventStore>: Sendable {
    /// The store commands read and append to.
    public let store: Store
    /// The payload codec of every event the executor reads and writes.
    public let codec: any EventCodec
    /// How many times a command runs before a conflict with other writers is returned (≥ 1).
    public let maxAttempts: Int
    /// How many aggregate states stay in memory (0: none).
    public let cachedAggregatesMax: Int
    private let lanes = KeyedLock<PartitionKey>()
    private let cache: Mutex<[CacheKey: any Sendable]> = Mutex([:])

    struct CacheKey: Hashable, Sendable {
        var projector: ObjectIdentifier
        var key: PartitionKey
    }

    /// An executor on `store`; see the properties for the parameters.
    public init(store: Store, codec: any EventCodec = JSONEventCodec(), maxAttempts: Int = 5, cachedAggregatesMax: Int = 10_000) {
        precondition(maxAttempts >= 1 && cachedAggregatesMax >= 0)
        self.store = store
        self.codec = codec
        self.maxAttempts = maxAttempts
        self.cachedAggregatesMax = cachedAggregatesMax
    }

    /// Runs `command` and returns what it committed. `metadata` (correlation and causation ids, the user) goes on
    /// each of its events, with a new UUID as correlation id when none is given. Throws `CommandError` (domain
    /// errors come back as `.rejected`) or the store's `EventStoreError`. Runs on the concurrent executor
    /// (`@concurrent`), whatever actor calls it: commands of different aggregates proceed in parallel.
    @discardableResult
    @concurrent public func execute<C: Command>(_ command: C, metadata: RecordMetadata = RecordMetadata()) async throws -> CommandResult<Store.Position> {
        let key = command.key
        guard key.group == C.Projector.group else {
            throw CommandError.invalidKey(key, "its group is not \(C.Projector.group)")
        }
        do { try key.validate() } catch { throw CommandError.invalidKey(key, "\(error)") }
        var recordMetadata = metadata
        if recordMetadata.correlationId == nil { recordMetadata.correlationId = EventID.random().description }
        return try await lanes.withLock(key) {
            var attempts = 0
            while true {
                attempts += 1
                let aggregate = command.kind == .appendOnly ? Aggregate<C.Projector>(key: key) : try await current(C.Projector.self, key)
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
                    return CommandResult(key: key, version: aggregate.version, position: nil, eventCount: 0, attempts: attempts)
                }
                let now = wallClockMicros()
                let records = try events.map { event in
                    try EventRecord(event, key: key, codec: codec, metadata: recordMetadata, timestampMicros: now)
                }
                let expected: ExpectedVersion = command.kind == .appendOnly ? .any : .exactly(aggregate.version)
                do {
                    let receipt = try await store.append(records, expecting: [key: expected])
                    let version = receipt.versions[key] ?? aggregate.version
                    // The cache keeps the state the command saw (still right at its version): the next command
                    // reads and decodes just these events.
                    return CommandResult(key: key, version: version, position: receipt.last, eventCount: records.count, attempts: attempts)
                } catch EventStoreError.versionConflict(_, _, let actual) {
                    // Another process wrote this aggregate: run again on its new state (the cache is behind).
                    forget(C.Projector.self, key)
                    guard attempts < maxAttempts else {
                        throw CommandError.conflict(key, expected: aggregate.version, actual: actual)
                    }
                }
            }
        }
    }

    /// The aggregate now: the cached state plus the events written since, or a full load.
    nonisolated(nonsending) func current<P: AggregateProjector>(_ projector: P.Type, _ key: PartitionKey) async throws -> Aggregate<P> {
        let cacheKey = CacheKey(projector: ObjectIdentifier(P.self), key: key)
        var aggregate = cache.withLock { $0[cacheKey] } as? Aggregate<P> ?? Aggregate<P>(key: key)
        let codec = self.codec
        try await store.readStream(key, from: aggregate.version + 1, through: .max, asOf: nil, limit: .max) { record in
            try aggregate.apply(record, codec: codec)
        }
        store(aggregate, cacheKey)
        return aggregate
    }

    private func store<P: AggregateProjector>(_ aggregate: Aggregate<P>, _ cacheKey: CacheKey) {
        guard cachedAggregatesMax > 0 else { return }
        cache.withLock { cache in
            if cache.count >= cachedAggregatesMax && cache[cacheKey] == nil {
                // Evict an eighth, arbitrarily: bounded memory without bookkeeping on the hot path.
                for key in cache.keys.prefix(max(1, cachedAggregatesMax / 8)) { cache[key] = nil }
            }
            cache[cacheKey] = aggregate
        }
    }

    private func forget<P: AggregateProjector>(_ projector: P.Type, _ key: PartitionKey) {
        _ = cache.withLock { $0.removeValue(forKey: CacheKey(projector: ObjectIdentifier(P.self), key: key)) }
    }
}
