import Synchronization
import Foundation
import Strata
import Testing

enum CartError: Error, Equatable { case notOpen, unknownProduct(String) }

struct CreateCart: Command {
    typealias Projector = Cart
    var key: PartitionKey
    var kind: CommandKind { .create }
    func handle(_ cart: Aggregate<Cart>) throws -> [any Event] { [ItemAdded(product: "welcome-gift", quantity: 1)] }
}

struct AddItem: Command {
    typealias Projector = Cart
    var key: PartitionKey
    var product: String
    var quantity = 1
    var kind: CommandKind = .any
    func handle(_ cart: Aggregate<Cart>) throws -> [any Event] {
        if case .checkedOut = cart.state { throw CartError.notOpen }
        return [ItemAdded(product: product, quantity: quantity)]
    }
}

struct RemoveItem: Command {
    typealias Projector = Cart
    var key: PartitionKey
    var product: String
    var kind: CommandKind { .update }
    func handle(_ cart: Aggregate<Cart>) throws -> [any Event] {
        guard case .open(let items) = cart.state else { throw CartError.notOpen }
        guard items[product] != nil else { throw CartError.unknownProduct(product) }
        return [ItemRemoved(product: product)]
    }
}

struct Note: Command {
    typealias Projector = Cart
    var key: PartitionKey
    var kind: CommandKind { .appendOnly }
    func handle(_ cart: Aggregate<Cart>) throws -> [any Event] {
        #expect(cart.version == 0, "an append-only command does not load the aggregate")
        return [ItemAdded(product: "note", quantity: 1)]
    }
}

@Suite struct CommandTests {
    @Test(arguments: Backend.allCases) func commandKindsCheckTheAggregateFirst(_ backend: Backend) async throws {
        try await backend.withStore { store in try await kinds(store) }
    }

    func kinds<S: EventStoreUnderTest>(_ store: S) async throws {
        do {
            let executor = CommandExecutor(store: store)
            let key = PartitionKey(tenant: "acme", group: "Cart", id: "c-9")
            await #expect(throws: CommandError.self) { try await executor.execute(RemoveItem(key: key, product: "tea")) }
            let created = try await executor.execute(CreateCart(key: key), metadata: RecordMetadata(user: "alice"))
            #expect(created.version == 1 && created.eventCount == 1 && created.position > 0)
            await #expect(throws: CommandError.self) { try await executor.execute(CreateCart(key: key)) }
            try await executor.execute(AddItem(key: key, product: "tea", quantity: 2))
            try await executor.execute(AddItem(key: key, product: "tea", kind: .expectedVersion(2)))
            do {
                try await executor.execute(AddItem(key: key, product: "tea", kind: .expectedVersion(2)))
                Issue.record("a stale expected version must fail")
            } catch CommandError.conflict(_, let expected, let actual) {
                #expect(expected == 2 && actual == 3)
            }
            do {
                try await executor.execute(RemoveItem(key: key, product: "milk"))
                Issue.record("a domain error must reach the caller")
            } catch CommandError.rejected(_, let error) {
                #expect(error as? CartError == .unknownProduct("milk"))
            }
            let removed = try await executor.execute(RemoveItem(key: key, product: "tea"))
            #expect(removed.version == 4)
            let noted = try await executor.execute(Note(key: key))
            #expect(noted.version == 5)
            let cart = try await store.load(Cart.self, key)
            #expect(cart.state == .open(items: ["welcome-gift": 1, "note": 1]) && cart.version == 5)
            let records = try await store.streamEvents(key)
            #expect(records[0].record.metadata.user == "alice" && records[0].record.metadata.correlationId != nil)
            await #expect(throws: CommandError.self) {
                try await executor.execute(AddItem(key: PartitionKey(tenant: "acme", group: "Order", id: "o"), product: "x"))
            }
        }
    }

    /// 64 concurrent issuers on 1,000 aggregates: every command lands once, in per-aggregate order; the final
    /// states equal a sequential replay of the commands; no version is written twice.
    @Test(arguments: Backend.allCases) func concurrentIssuersNeverLoseAnUpdate(_ backend: Backend) async throws {
        try await backend.withStore { store in try await concurrentIssuers(store) }
    }

    func concurrentIssuers<S: EventStoreUnderTest>(_ store: S) async throws {
        do {
            let executor = CommandExecutor(store: store, cachedAggregatesMax: 300)
            let perIssuer = 40
            try await withThrowingTaskGroup(of: Void.self) { group in
                for issuer in 0..<64 {
                    group.addTask {
                        var rng = SystemRandomNumberGenerator()
                        for n in 0..<perIssuer {
                            let id = Int.random(in: 0..<1_000, using: &rng)
                            let key = PartitionKey(tenant: "t\(id % 4)", group: "Cart", id: "c\(id)")
                            try await executor.execute(AddItem(key: key, product: "p\(issuer)", quantity: n + 1))
                        }
                    }
                }
                try await group.waitForAll()
            }
            // Replay: every ItemAdded folded in stream order; versions dense; every command exactly once.
            var commands = 0
            var all: [PartitionKey: [RecordedEvent<UInt64>]] = [:]
            try await store.readAll(after: nil, limit: .max) { record, position in
                all[record.key, default: []].append(RecordedEvent(record, at: position))
            }
            for (key, records) in all {
                #expect(records.map(\.version) == Array(1...UInt64(records.count)), "\(key)")
                var expected: [String: Int] = [:]
                for record in records {
                    let event = try JSONDecoder().decode(ItemAdded.self, from: Data(record.record.payload))
                    expected[event.product, default: 0] += event.quantity
                }
                let loaded = try await store.load(Cart.self, key)
                #expect(loaded.state == .open(items: expected) && loaded.version == UInt64(records.count))
                commands += records.count
            }
            #expect(commands == 64 * perIssuer)
        }
    }

    /// Two executors on one store stand for two processes: their commands on the same aggregate conflict, and
    /// each conflict is retried on the new state, so no update is lost.
    @Test(arguments: Backend.allCases) func conflictsWithAnotherWriterAreRetried(_ backend: Backend) async throws {
        try await backend.withStore { store in try await conflicts(store) }
    }

    func conflicts<S: EventStoreUnderTest>(_ store: S) async throws {
        do {
            let key = PartitionKey(tenant: "acme", group: "Cart", id: "shared")
            let executors = [CommandExecutor(store: store, maxAttempts: 1_000), CommandExecutor(store: store, maxAttempts: 1_000)]
            let attempts = try await withThrowingTaskGroup(of: Int.self) { group in
                for (i, executor) in executors.enumerated() {
                    for task in 0..<4 {
                        group.addTask {
                            var attempts = 0
                            for n in 0..<25 {
                                attempts += try await executor.execute(AddItem(key: key, product: "e\(i)t\(task)", quantity: n + 1)).attempts
                            }
                            return attempts
                        }
                    }
                }
                return try await group.reduce(0, +)
            }
            let cart = try await store.load(Cart.self, key)
            #expect(cart.version == 200)
            guard case .open(let items) = cart.state else { throw Failure("cart not open") }
            #expect(items.count == 8 && items.values.allSatisfy { $0 == (1...25).reduce(0, +) })
            #expect(attempts >= 200)
        }
    }

    /// Deterministic: another writer appends between the executor's read and its append, so the first append
    /// fails its version check; the command runs again on the new state and commits.
    @Test func aConflictIsRetriedOnTheNewState() async throws {
        let store = InterferingStore()
        let executor = CommandExecutor(store: store)
        let key = PartitionKey(tenant: "acme", group: "Cart", id: "c-1")
        let result = try await executor.execute(AddItem(key: key, product: "tea"))
        #expect(result.attempts == 2 && result.version == 2)
        #expect(try await store.load(Cart.self, key).state == .open(items: ["tea": 1, "coffee": 1]))
        let tooFew = CommandExecutor(store: InterferingStore(), maxAttempts: 1)
        await #expect(throws: CommandError.self) { try await tooFew.execute(AddItem(key: key, product: "tea")) }
    }
}

/// Captures the aggregate a command is handed (and appends nothing).
struct Look: Command {
    typealias Projector = Cart
    var key: PartitionKey
    let seen: Seen
    final class Seen: Sendable { let aggregate = Mutex<Aggregate<Cart>?>(nil) }
    func handle(_ cart: Aggregate<Cart>) throws -> [any Event] {
        seen.aggregate.withLock { $0 = cart }
        return []
    }
}

extension CommandTests {
    /// After its own append the executor folds the events it wrote into its cached aggregate: the next command
    /// reads nothing back, and sees exactly what a load from the store gives — also after another process (a
    /// second executor) wrote in between, and after events that change the state's shape.
    @Test func theCachedAggregateMovesOnWithTheExecutorsOwnEvents() async throws {
        for codec in [JSONEventCodec() as any EventCodec, BinaryEventCodec()] {
            let store = CountingStore()
            let executor = CommandExecutor(store: store, codec: codec), other = CommandExecutor(store: store, codec: codec)
            let key = PartitionKey(tenant: "acme", group: "Cart", id: "c-1")
            let seen = Look.Seen()
            // A command that writes nothing reports the position of the last event it saw.
            func look(_ executor: CommandExecutor<CountingStore>) async throws -> (Aggregate<Cart>, UInt64) {
                let result = try await executor.execute(Look(key: key, seen: seen))
                return (seen.aggregate.withLock { $0! }, result.position)
            }
            func lastPosition() async throws -> UInt64 { try await store.streamEvents(key).last!.position }
            try await executor.execute(AddItem(key: key, product: "tea", quantity: 2))
            try await executor.execute(AddItem(key: key, product: "coffee"))
            try await executor.execute(RemoveItem(key: key, product: "tea"))
            #expect(store.delivered.withLock { $0 } == 0, "the executor read back its own events")
            var (cached, position) = try await look(executor)
            var loaded = try await store.load(Cart.self, key, codec: codec)
            #expect(cached.state == loaded.state && cached.version == 3 && loaded.version == 3)
            let lastBefore = try await lastPosition()
            #expect(position == lastBefore)
            try await other.execute(AddItem(key: key, product: "milk"))
            try await executor.execute(AddItem(key: key, product: "jam"))
            (cached, position) = try await look(executor)
            loaded = try await store.load(Cart.self, key, codec: codec)
            #expect(cached.state == .open(items: ["coffee": 1, "milk": 1, "jam": 1]) && cached.state == loaded.state)
            let last = try await lastPosition()
            #expect(cached.version == 5 && position == last)
            let fresh = CommandExecutor(store: store, codec: codec)
            let afterLoad = try await fresh.execute(Look(key: key, seen: seen)).position
            #expect(afterLoad == last, "after a load too")
            let empty = try await fresh.execute(Look(key: PartitionKey(tenant: "acme", group: "Cart", id: "new"), seen: seen)).position
            #expect(empty == .origin)
        }
    }
}

extension CommandTests {
    /// The cache keeps at most `cachedAggregatesMax` aggregates (a free lane without a cached state leaves the
    /// table), and what it keeps is what a load gives — also for aggregates evicted and loaded again.
    @Test(arguments: [0, 1, 16]) func theCacheStaysWithinItsBound(_ max: Int) async throws {
        let store = InMemoryEventStore()
        let executor = CommandExecutor(store: store, cachedAggregatesMax: max)
        let keys = (0..<100).map { PartitionKey(tenant: "acme", group: "Cart", id: "c-\($0)") }
        for round in 0..<3 {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (i, key) in keys.enumerated() {
                    group.addTask { try await executor.execute(AddItem(key: key, product: "p\(i % 7)", quantity: round + 1)) }
                }
                try await group.waitForAll()
            }
            let counts = executor.cacheCounts
            #expect(counts.cached <= max && counts.lanes == counts.cached, "round \(round): \(counts)")
            if max > 0 { #expect(counts.cached > 0) }
        }
        let seen = Look.Seen()
        for (i, key) in keys.enumerated() {
            try await executor.execute(Look(key: key, seen: seen))
            let cached = try #require(seen.aggregate.withLock { $0 })
            let loaded = try await store.load(Cart.self, key)
            #expect(cached.version == 3 && cached.state == loaded.state && loaded.state == .open(items: ["p\(i % 7)": 6]))
        }
    }

    /// Checks the cart out and adds an item after that (which the cart's fold refuses).
    struct CheckOutAndAdd: Command {
        typealias Projector = Cart
        var key: PartitionKey
        func handle(_ cart: Aggregate<Cart>) throws -> [any Event] { [CheckedOut(), ItemAdded(product: "late", quantity: 1)] }
    }

    /// A command whose own event does not fold (the projector throws on it) leaves no cached state: the next
    /// command loads the aggregate and fails as a load, never runs on a half-folded state.
    @Test func anAggregateThatFailsToFoldIsNotKept() async throws {
        let store = InMemoryEventStore()
        let executor = CommandExecutor(store: store)
        let key = PartitionKey(tenant: "acme", group: "Cart", id: "c-1")
        try await executor.execute(AddItem(key: key, product: "tea"))
        #expect(executor.cacheCounts == (1, 1))
        try await executor.execute(CheckOutAndAdd(key: key))  // (stored; the cart's fold throws on its second event)
        #expect(executor.cacheCounts == (0, 0))
        await #expect(throws: CommandError.self) { try await executor.execute(AddItem(key: key, product: "tea")) }
        #expect(executor.cacheCounts == (0, 0))
    }
}

/// An in-memory store that counts the events its stream reads deliver, and its snapshot writes (it keeps no
/// snapshots: each write throws `unsupported`).
final class CountingStore: ForwardingStore {
    let inner = InMemoryEventStore()
    let delivered = Mutex(0)
    let snapshotWrites = Mutex(0)

    func writeSnapshots(_ snapshots: [Snapshot<UInt64>]) async throws {
        snapshotWrites.withLock { $0 += 1 }
        throw EventStoreError.unsupported("CountingStore keeps no snapshots")
    }

    func readStream(
        _ stream: PartitionKey, from: UInt64, through: UInt64, asOf: UInt64?, limit: Int, _ body: (EventView, UInt64) throws -> Void
    ) async throws -> Int {
        let count = try await inner.readStream(stream, from: from, through: through, asOf: asOf, limit: limit, body)
        delivered.withLock { $0 += count }
        return count
    }
}

/// An in-memory store where, before the first append, "another process" appends an ItemAdded(coffee) to the
/// same stream.
final class InterferingStore: ForwardingStore {
    let inner = InMemoryEventStore()
    let interfered = Mutex(false)

    func append(_ events: [EventRecord], expecting: [PartitionKey: ExpectedVersion]) async throws -> AppendReceipt<UInt64> {
        if !interfered.withLock({ let was = $0; $0 = true; return was }), let key = events.first?.key {
            try await inner.append([try! EventRecord(ItemAdded(product: "coffee", quantity: 1), key: key)])
        }
        return try await inner.append(events, expecting: expecting)
    }
}
