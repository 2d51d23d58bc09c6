import Foundation
import PropertyBased
import Strata
import Testing

/// The cart, snapshotted every 10 versions once 3 past (small numbers, so histories stay short).
enum FrequentCart: AggregateProjector {
    typealias State = Cart.State
    typealias Events = Cart.Events
    static let group = "Cart"
    static let projectorName = "FrequentCart"
    static let events = Cart.events
    static let initialState = Cart.initialState
    static let snapshotPolicy = SnapshotPolicy.every(10, after: 3)
    static func apply(_ state: State, _ event: Events) throws -> State { try Cart.apply(state, event) }
}

@Suite struct CompactorTests {
    /// Random carts written in interleaved batches: after a catch-up, each cart's latest snapshot is at the version
    /// its policy says (or there is none), loads equal replays, and more events bring more snapshots.
    @Test(arguments: Backend.allCases) func snapshotsFollowThePolicyAsEventsArrive(_ backend: Backend) async throws {
        await propertyCheck(count: backend == .native ? 4 : 10, input: Gen.int(in: 0...60).array(of: 1...8)) { lengths in
            try await backend.withStore { store in try await Self.followsPolicy(store, lengths: lengths) }
        }
    }

    static func followsPolicy(_ store: some EventStoreUnderTest, lengths: [Int]) async throws {
        let keys = lengths.indices.map { PartitionKey(tenant: "acme", group: "Cart", id: "c\($0)") }
        let other = PartitionKey(tenant: "acme", group: "Order", id: "o1")  // not registered: never snapshotted
        let compactor = Compactor(store: store, batchSize: 7)
        compactor.register(FrequentCart.self)
        for round in 0..<2 {
            var versions = try await keys.asyncMap { try await store.version(of: $0) }
            var remaining = lengths
            var step = 0
            while remaining.contains(where: { $0 > 0 }) {
                for (i, key) in keys.enumerated() where remaining[i] > 0 {
                    let n = min(remaining[i], 1 + step % 4)
                    try await store.append(try (0..<n).map { j in try cartStep(Int(versions[i]) + j + 1, codec: JSONEventCodec()).0.rekeyed(key) })
                    versions[i] += UInt64(n)
                    remaining[i] -= n
                }
                try await store.append([try EventRecord(ItemAdded(product: "x", quantity: 1), key: other)])
                step += 1
            }
            try await compactor.catchUp()
            for (i, key) in keys.enumerated() {
                let expected = FrequentCart.snapshotPolicy.dueVersion(at: versions[i], snapshotted: 0)
                let found = try await store.loadSnapshot(FrequentCart.self, key).aggregate?.version
                #expect(found == expected, "round \(round), \(key) at version \(versions[i])")
                #expect(try await store.load(FrequentCart.self, key).state == (try await store.load(FrequentCart.self, key, useSnapshots: false)).state)
            }
            #expect(try await store.loadSnapshot(FrequentCart.self, other).aggregate == nil)
        }
        #expect(try await compactor.catchUp() == 0, "nothing new: nothing to do")
    }

    /// The compactor keeps its place in the store: after a reopen it goes on after its checkpoint.
    @Test func aRestartedCompactorResumesAfterItsCheckpoint() async throws {
        let folder = NSTemporaryDirectory() + "strata-compactor-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var store = try NativeEventStore(path: folder)
        for n in 1...14 { try await store.append([try cartStep(n, codec: JSONEventCodec()).0]) }
        var compactor = Compactor(store: store)
        compactor.register(FrequentCart.self)
        #expect(try await compactor.catchUp() == 1)
        try await store.close()
        store = try NativeEventStore(path: folder)
        compactor = Compactor(store: store)
        compactor.register(FrequentCart.self)
        #expect(try await store.checkpoint(of: compactor.name) != nil)
        #expect(try await compactor.catchUp() == 0)
        for n in 15...23 { try await store.append([try cartStep(n, codec: JSONEventCodec()).0]) }
        #expect(try await compactor.catchUp() == 1)
        #expect(try await store.loadSnapshot(FrequentCart.self, cart).aggregate?.version == 20)
        try await store.close()
    }

    /// Running in the background, it snapshots as commands append, until cancelled.
    @Test func aRunningCompactorSnapshotsAsEventsArrive() async throws {
        let store = InMemoryEventStore()
        let compactor = Compactor(store: store)
        compactor.register(FrequentCart.self)
        let running = Task { try await compactor.run() }
        let executor = CommandExecutor(store: store)
        for n in 1...13 { try await executor.execute(AddItem(key: cart, product: "p\(n % 3)")) }
        // (Generous: the loop ends as soon as the snapshot is there; under the whole suite's load on two cores the
        // compactor's task has waited more than 10 s for a thread.)
        let deadline = ContinuousClock.now + .seconds(120)
        while try await store.loadSnapshot(FrequentCart.self, cart).aggregate == nil && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(try await store.loadSnapshot(FrequentCart.self, cart).aggregate?.version == 10)
        running.cancel()
        await #expect(throws: CancellationError.self) { try await running.value }
        #expect(compactor.snapshotsWritten == 1)
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}

extension EventRecord {
    /// The same event on another stream.
    func rekeyed(_ key: PartitionKey) -> EventRecord {
        var copy = self
        copy.key = key
        return copy
    }
}
