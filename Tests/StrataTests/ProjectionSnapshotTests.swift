import Foundation
import PropertyBased
import Strata
import StrataStorage
import Testing

/// `ProductQuantities`, snapshotted every 40 events of the global stream.
enum SnappedQuantities: MultiProjector {
    typealias State = ProductQuantities.State
    typealias Events = ProductQuantities.Events
    static let projectorName = "product-quantities-snapped"
    static let events = ProductQuantities.events
    static let initialState = State()
    static let snapshotPolicy = ProjectionSnapshotPolicy.every(events: 40)
    static func apply(_ state: inout State, _ event: Events, _ context: EventContext) throws {
        try ProductQuantities.apply(&state, event, context)
    }
}

/// The same fold under its next version: snapshots of version 1 are not its own.
enum SnappedQuantitiesV2: MultiProjector {
    typealias State = ProductQuantities.State
    typealias Events = ProductQuantities.Events
    static let projectorName = "product-quantities-snapped"
    static let projectorVersion = 2
    static let events = ProductQuantities.events
    static let initialState = State()
    static func apply(_ state: inout State, _ event: Events, _ context: EventContext) throws {
        try ProductQuantities.apply(&state, event, context)
    }
}

/// A projector whose state is not `Codable`: never snapshotted, and a projection of it still runs.
enum Tally: MultiProjector {
    final class Box: @unchecked Sendable {  // only touched by the fold that owns it, one event at a time
        var count = 0
    }
    struct State: Sendable { var box = Box() }
    typealias Events = ItemAdded
    static let projectorName = "tally"
    static let events = EventTypes<ItemAdded>().on(ItemAdded.self) { $0 }
    static var initialState: State { State() }
    static let snapshotPolicy = ProjectionSnapshotPolicy.every(events: 1)
    static func apply(_ state: inout State, _ event: ItemAdded, _ context: EventContext) { state.box.count += 1 }
}

@Suite struct ProjectionSnapshotTests {
    /// A projection snapshots as it catches up; a new one starts from the latest snapshot and equals the
    /// brute-force fold — whole, per tenant, and as of random positions.
    @Test(arguments: Backend.allCases) func aProjectionFromItsSnapshotEqualsTheBruteForceFold(_ backend: Backend) async throws {
        await propertyCheck(count: 8, input: Gen<UInt64>.value(in: 0...UInt64.max)) { seed in
            try await backend.withStore { store in try await Self.fromSnapshot(store, seed: seed) }
        }
    }

    static func fromSnapshot(_ store: some EventStoreUnderTest, seed: UInt64) async throws {
        let history = try randomHistory(seed, events: 200)
        var rng = SplitMix64(seed: seed)
        try await appendInRandomBatches(history, to: store, rng: &rng)
        let records = try await store.readAllRecords()
        let first = Projection(SnappedQuantities.self, store: store, batchSize: Int(8 + rng.next() % 40))
        try await first.catchUp()
        #expect(first.restoredFrom == nil && first.snapshotsWritten >= 3, "\(first.snapshotsWritten) snapshots")
        #expect(first.state == (try ProductQuantities.bruteForce(records)))
        let second = Projection(SnappedQuantities.self, store: store)
        try await second.catchUp()
        let restored = try #require(second.restoredFrom)
        #expect(restored >= 100, "started from the latest snapshot, at \(restored)")
        #expect(second.state == (try ProductQuantities.bruteForce(records)))
        for tenant in ["acme", "globex"] {
            let own = Projection(SnappedQuantities.self, store: store, tenant: tenant, batchSize: 16)
            try await own.catchUp()
            let again = Projection(SnappedQuantities.self, store: store, tenant: tenant)
            try await again.catchUp()
            #expect(again.restoredFrom != nil, "a tenant projection has its own snapshots")
            #expect(again.state == (try ProductQuantities.bruteForce(records, tenant: tenant)))
            #expect(again.state.tenants.isSubset(of: [tenant]))
        }
        try await ProjectionTests.expectAsOfEqualsBruteForce(
            SnappedQuantities.self, store, records, at: [0, 1, UInt64(1 + rng.next() % 199), UInt64(history.count)])
    }

    /// It really starts from the snapshot (a planted state shows through); another projector version, or
    /// `useSnapshots: false`, replays from the first event.
    @Test(arguments: Backend.allCases) func aProjectionStartsFromItsSnapshot(_ backend: Backend) async throws {
        try await backend.withStore { store in try await Self.startsFromSnapshot(store) }
    }

    static func startsFromSnapshot(_ store: some EventStoreUnderTest) async throws {
        do {
            let key = PartitionKey(tenant: "acme", group: "Cart", id: "1")
            for n in 1...6 { try await store.append([try EventRecord(ItemAdded(product: "tea", quantity: n), key: key)]) }
            var planted = ProductQuantities.State()
            planted.quantities["acme"] = ["planted": 99]
            planted.folded = 100
            try await store.writeSnapshots([Snapshot(
                subject: .projection(name: SnappedQuantities.projectorName, tenant: nil), projectorName: SnappedQuantities.projectorName,
                projectorVersion: 1, codecName: "json", position: 4, version: 0, createdMicros: 0,
                state: try JSONEventCodec().encode(planted))])
            let projection = Projection(SnappedQuantities.self, store: store)
            try await projection.catchUp()
            #expect(projection.restoredFrom == 4)
            #expect(projection.state.quantities["acme"] == ["planted": 99, "tea": 11] && projection.state.folded == 102)
            let replayed = Projection(SnappedQuantities.self, store: store, useSnapshots: false)
            try await replayed.catchUp()
            #expect(replayed.restoredFrom == nil && replayed.state.quantities["acme"] == ["tea": 21])
            let newVersion = Projection(SnappedQuantitiesV2.self, store: store)
            try await newVersion.catchUp()
            #expect(newVersion.restoredFrom == nil && newVersion.state == replayed.state)
            // Another codec's snapshot is not read either.
            let binary = Projection(SnappedQuantities.self, store: store, codec: BinaryEventCodec())
            _ = try? await binary.catchUp()  // (the events are JSON: what matters is where it started)
            #expect(binary.restoredFrom == nil)
            // A manual snapshot, then a fresh projection starts there.
            #expect(try await replayed.snapshot()?.position == 6)
            let latest = Projection(SnappedQuantities.self, store: store)
            try await latest.catchUp()
            #expect(latest.restoredFrom == 6 && latest.state == replayed.state)
        }
    }

    @Test func aStateThatIsNotCodableIsNeverSnapshottedAndTheProjectionRuns() async throws {
        let store = InMemoryEventStore()
        let key = PartitionKey(tenant: "acme", group: "Cart", id: "1")
        for _ in 1...5 { try await store.append([try EventRecord(ItemAdded(product: "tea", quantity: 1), key: key)]) }
        let projection = Projection(Tally.self, store: store, batchSize: 2)
        try await projection.catchUp()
        #expect(projection.read { $0.box.count } == 5)
        #expect(projection.snapshotsWritten == 0 && projection.lastSnapshotError?.contains("not snapshotted") == true)
        await #expect(throws: SnapshotError.self) { try await projection.snapshot() }
    }

    /// A store that cannot write snapshots: the projection folds on, says why, and tries again only after another
    /// policy interval (not at every batch).
    @Test func aFailingSnapshotWriteIsRetriedAfterAnIntervalNotEveryBatch() async throws {
        let store = CountingStore()
        var rng = SplitMix64(seed: 7)
        try await appendInRandomBatches(try randomHistory(7, events: 200), to: store.inner, rng: &rng)
        let projection = Projection(SnappedQuantities.self, store: store, batchSize: 1)
        try await projection.catchUp()
        #expect(projection.state == (try ProductQuantities.bruteForce(try await store.inner.readAllRecords())))
        #expect(projection.snapshotsWritten == 0 && projection.lastSnapshotError?.contains("keeps no snapshots") == true, "\(projection.lastSnapshotError ?? "")")
        #expect(store.snapshotWrites.withLock { $0 } == 5, "one attempt per 40 events, not one per batch after the first 40")
    }

    @Test func thePolicyCountsEventsOrTime() {
        let policy = ProjectionSnapshotPolicy.every(events: 100, seconds: 30)
        #expect(!policy.isDue(passed: 99, elapsed: 29))
        #expect(policy.isDue(passed: 100, elapsed: 0))
        #expect(policy.isDue(passed: 1, elapsed: 30))
        #expect(!policy.isDue(passed: 0, elapsed: 1_000), "nothing new: no snapshot")
        #expect(!ProjectionSnapshotPolicy.never.isDue(passed: 1_000_000, elapsed: 1_000_000))
    }
}
