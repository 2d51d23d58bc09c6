import Logging

import Synchronization

/// Takes aggregate snapshots in the background, per each registered projector's `snapshotPolicy`: it follows the
/// global stream (a durable subscription named `name`, so a restart resumes where it left off) and, when an
/// event brings an aggregate to `k × interval + after` versions, snapshots that aggregate at `k × interval`.
/// Never on the command path: commands only append; the compactor reads and writes snapshot files.
///
/// ```swift
/// let compactor = Compactor(store: store)
/// compactor.register(Cart.self)
/// let task = Task { try await compactor.run() }   // or run it in a ServiceGroup (StrataServices)
/// ```
///
/// Multi-projection snapshots are taken by each running `Projection` (its projector's `snapshotPolicy`).
public final class Compactor<Store: EventStore>: Sendable {
    /// The store it compacts.
    public let store: Store
    /// The name of its durable subscription (its checkpoint in the store).
    public let name: String
    /// Records read per batch.
    public let batchSize: Int

    struct Registration: Sendable {
        let group: String
        let policy: SnapshotPolicy
        /// Snapshots these aggregates per the policy; returns how many snapshots it wrote.
        let snapshot: @Sendable ([PartitionKey]) async throws -> Int
    }

    private let registrations = Mutex<[Registration]>([])
    private let written = Mutex(0)

    /// A compactor of `store`; `name` keeps its checkpoint (one compactor per name and store at a time).
    public init(store: Store, name: String = "strata.compactor", batchSize: Int = 1_024) {
        precondition(batchSize > 0)
        self.store = store
        self.name = name
        self.batchSize = batchSize
    }

    /// Snapshots of `projector`'s aggregates are taken per its `snapshotPolicy`, their states encoded with `codec`
    /// (the codec the application reads the store with).
    public func register<P: AggregateProjector>(_ projector: P.Type, codec: any EventCodec = JSONEventCodec()) {
        let store = self.store
        registrations.withLock {
            $0.append(Registration(group: P.group, policy: P.snapshotPolicy) { keys in
                try await store.snapshot(P.self, keys, codec: codec, followingPolicy: true).count
            })
        }
    }

    /// Snapshots written since this compactor was made.
    public var snapshotsWritten: Int { written.withLock { $0 } }

    /// Follows the store until the task is cancelled (throws `CancellationError`) or the store closes. Any other
    /// error ends it too; it is logged (and counted as a background failure, task `compactor`) before it is thrown.
    public func run() async throws {
        do {
            let subscription = try await store.durableSubscription(name)
            var position = subscription.checkpoint
            while true {
                while let next = try await step(after: position, subscription: subscription) { position = next }
                try await store.waitForEvents(after: position)
            }
        } catch let error as CancellationError {
            throw error
        } catch EventStoreError.closed {
            throw EventStoreError.closed
        } catch {
            let observability = store.observability
            observability.counter(StrataMetric.backgroundFailures, [("task", "compactor")]).increment()
            observability.logger.error("the compactor stopped", metadata: ["compactor": "\(name)", "error": "\(error)"])
            throw error
        }
    }

    /// Handles every event stored now (from the checkpoint on) and returns the snapshots it wrote.
    @discardableResult
    public func catchUp() async throws -> Int {
        let before = snapshotsWritten
        let subscription = try await store.durableSubscription(name)
        var position = subscription.checkpoint
        while let next = try await step(after: position, subscription: subscription) { position = next }
        return snapshotsWritten - before
    }

    /// One batch: the aggregates whose policy came due in it are snapshotted, then the checkpoint moves past it.
    /// Nil when there was nothing after `position`.
    private func step(after position: Store.Position?, subscription: DurableSubscription<Store>) async throws -> Store.Position? {
        try Task.checkCancellation()
        let registered = registrations.withLock { $0 }
        var due: [[PartitionKey]] = Array(repeating: [], count: registered.count)
        var seen: [Set<PartitionKey>] = Array(repeating: [], count: registered.count)
        let everything = EventFilter.Matcher(.all)  // (all but the system tenant's events)
        let groups = registered.map { [Array($0.group.utf8)] }
        var applicationEvents = false
        guard let last = try await store.readAll(after: position, limit: batchSize, { record, _ in
            guard everything.matches(record) else { return }
            applicationEvents = true
            for (i, registration) in registered.enumerated() where registration.policy.interval > 0 {
                let policy = registration.policy
                guard record.version >= policy.after + policy.interval, (record.version - policy.after) % policy.interval == 0,
                    EventFilter.Matcher.contains(groups[i], record.groupBytes)
                else { continue }
                let key = record.key
                if seen[i].insert(key).inserted { due[i].append(key) }
            }
        }) else { return nil }
        for (i, registration) in registered.enumerated() where !due[i].isEmpty {
            let count = try await registration.snapshot(due[i])
            written.withLock { $0 += count }
        }
        // The checkpoint moves after the snapshots are written: a crash in between takes them again (harmless: an
        // aggregate already snapshotted at the due version is left alone). A batch of only system events (the
        // checkpoints themselves) moves no checkpoint: committing would append another one to read, for ever.
        if applicationEvents { try await subscription.commit(last) }
        return last
    }
}
