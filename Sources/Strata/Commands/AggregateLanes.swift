import StrataStorage
import Synchronization

/// The command executor's aggregates in one table: one command at a time per aggregate (waiters served in arrival
/// order, suspended, never blocking a thread) and the aggregate's cached state beside its lane — so a command on a
/// cached aggregate costs two lookups in all (acquire and release), not a lock table and a cache each taken,
/// emptied and refilled.
///
/// A lane is free and without a cached state → not in the table. At most `cachedMax` cached states; past that, an
/// eighth of the free lanes go (arbitrarily: bounded memory without bookkeeping on the hot path).
@usableFromInline final class AggregateLanes: Sendable {
    @usableFromInline struct Lane: Sendable {
        @usableFromInline var held = false
        @usableFromInline var waiters: [CheckedContinuation<Void, Never>] = []
        /// The cached state (a `CachedAggregate`) and the projector it belongs to.
        @usableFromInline var cached: (projector: ObjectIdentifier, state: any AnyObject & Sendable)?

        @usableFromInline init() {}
    }

    @usableFromInline struct Table: Sendable {
        @usableFromInline var lanes: [PartitionKey: Lane] = [:]
        /// How many lanes hold a cached state.
        @usableFromInline var cachedCount = 0

        @usableFromInline init() {}
    }

    /// What a command that held a lane leaves in its cache.
    @usableFromInline enum Outcome {
        /// Nothing changes (a command that does not load its aggregate).
        case untouched
        /// `state` is the projector's cached state now (the one taken, moved on, or a new one).
        case keep(ObjectIdentifier, any AnyObject & Sendable)
        /// The projector's cached state is no longer valid.
        case drop(ObjectIdentifier)
    }

    @usableFromInline let table = Mutex(Table())
    @usableFromInline let cachedMax: Int

    @usableFromInline init(cachedMax: Int) {
        self.cachedMax = cachedMax
    }

    /// Waits for `key`'s lane and returns the cached state `projector` left there (or nil). The caller owns that
    /// state until `release`: nobody else reads or writes it while the lane is held.
    @usableFromInline nonisolated(nonsending) func acquire(_ key: PartitionKey, projector: ObjectIdentifier) async -> (any AnyObject & Sendable)? {
        // A free lane: taken here, one hash lookup, no continuation and no suspension (the common case).
        let (taken, cached) = table.withLock { table in
            Self.take(&table.lanes[key, default: Lane()], projector)
        }
        if taken { return cached }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = table.withLock { table -> Bool in
                if Self.take(&table.lanes[key, default: Lane()], projector).taken { return true }
                table.lanes[key]!.waiters.append(continuation)
                return false
            }
            if acquired { continuation.resume() }  // (released in between)
        }
        // Handed over by `release` (held, so its entry is there).
        return table.withLock { table in
            guard let cached = table.lanes[key]?.cached, cached.projector == projector else { return nil }
            return cached.state
        }
    }

    /// Marks `lane` held (false when it was held already) and returns the cached state `projector` left there.
    @inline(__always) @usableFromInline static func take(
        _ lane: inout Lane, _ projector: ObjectIdentifier
    ) -> (taken: Bool, cached: (any AnyObject & Sendable)?) {
        if lane.held { return (false, nil) }
        lane.held = true
        guard let cached = lane.cached, cached.projector == projector else { return (true, nil) }
        return (true, cached.state)
    }

    /// Hands `key`'s lane to its next waiter (or frees it), leaving `outcome` in its cache.
    @usableFromInline func release(_ key: PartitionKey, _ outcome: Outcome) {
        let next = table.withLock { table -> CheckedContinuation<Void, Never>? in
            guard let index = table.lanes.index(forKey: key) else { preconditionFailure("release of an aggregate lane that is not held") }
            let (next, cachedChange, free) = Self.release(&table.lanes.values[index], outcome, caching: cachedMax > 0)
            table.cachedCount += cachedChange
            if free {
                table.lanes.remove(at: index)
            } else if next == nil && table.cachedCount > cachedMax {
                Self.evict(&table, count: max(1, cachedMax / 8), sparing: key)
            }
            return next
        }
        next?.resume()
    }

    /// `release` on the lane itself (one access to the table's entry): the next waiter (the lane stays held), the
    /// change of the cached count, and whether the lane is free without a cached state (to be removed).
    @inline(__always) @usableFromInline static func release(
        _ lane: inout Lane, _ outcome: Outcome, caching: Bool
    ) -> (next: CheckedContinuation<Void, Never>?, cachedChange: Int, free: Bool) {
        precondition(lane.held, "release of an aggregate lane that is not held")
        let hadCache = lane.cached != nil
        switch outcome {
        case .untouched: break
        case .keep(let projector, let state): lane.cached = caching ? (projector, state) : nil
        case .drop(let projector): if lane.cached?.projector == projector { lane.cached = nil }
        }
        let hasCache = lane.cached != nil
        let change = hasCache == hadCache ? 0 : hasCache ? 1 : -1
        if !lane.waiters.isEmpty { return (lane.waiters.removeFirst(), change, false) }  // still held: it passes on
        lane.held = false
        return (nil, change, !hasCache)
    }

    /// Removes up to `count` free lanes (with their cached states), not `sparing` (the one just used).
    @usableFromInline static func evict(_ table: inout Table, count: Int, sparing: PartitionKey) {
        var victims: [PartitionKey] = []
        victims.reserveCapacity(count)
        for (key, lane) in table.lanes where !lane.held && key != sparing {
            victims.append(key)
            if victims.count == count { break }
        }
        for key in victims where table.lanes.removeValue(forKey: key)?.cached != nil { table.cachedCount -= 1 }
    }

    /// How many aggregates have a cached state, and how many lanes the table holds (for tests).
    var counts: (cached: Int, lanes: Int) { table.withLock { ($0.cachedCount, $0.lanes.count) } }
}

/// An aggregate in the executor's cache: its state and the position of its last event. Mutated in place by the
/// command that holds its lane.
///
/// `@unchecked Sendable`: its stored properties are read and written only by the task holding the aggregate's lane
/// in `AggregateLanes` — `acquire` hands it out, `release` takes it back, both under the table's mutex, so one
/// holder's writes happen before the next holder's reads and no two tasks ever touch it at once.
@usableFromInline final class CachedAggregate<P: AggregateProjector, Position: Sendable>: @unchecked Sendable {
    @usableFromInline var aggregate: Aggregate<P>
    @usableFromInline var position: Position?

    @usableFromInline init(_ aggregate: Aggregate<P>, _ position: Position?) {
        self.aggregate = aggregate
        self.position = position
    }
}
