import Foundation
import PropertyBased
import Strata
import StrataStorage
import Testing

/// The cart's fold under a new projector version (what a team ships after changing `apply`).
enum CartV2: AggregateProjector {
    typealias State = Cart.State
    typealias Events = Cart.Events
    static let group = "Cart"
    static let projectorName = "Cart"
    static let projectorVersion = 2
    static let events = Cart.events
    static let initialState = Cart.initialState
    static func apply(_ state: State, _ event: Events) throws -> State { try Cart.apply(state, event) }
}

/// A cart event for step `step` of a random history, and what it does to the state.
func cartStep(_ step: Int, codec: any EventCodec) throws -> (EventRecord, Cart.Events) {
    let product = ["coffee", "orange", "tea"][step % 3]
    if step % 5 == 0 {
        return (try EventRecord(ItemRemoved(product: product), key: cart, codec: codec), .removed(ItemRemoved(product: product)))
    }
    let added = ItemAdded(product: product, quantity: step % 4 + 1)
    return (try EventRecord(added, key: cart, codec: codec), .added(added))
}

func fabricated(_ state: Cart.State, version: UInt64, sequence: UInt64, codec: any EventCodec = JSONEventCodec(), projectorVersion: UInt32 = 1) throws -> Snapshot<UInt64> {
    Snapshot(
        subject: .stream(cart), projectorName: "Cart", projectorVersion: projectorVersion, codecName: codec.name,
        position: sequence, version: version, createdMicros: 0, state: try codec.encode(state))
}

@Suite struct SnapshotTests {
    /// Snapshot + tail equals a full replay, at every version, with snapshots taken at random points (and as of
    /// positions: a snapshot past the position is not used).
    @Test(arguments: Backend.allCases, Codecs.allCases)
    func snapshotPlusTailEqualsFullReplay(_ backend: Backend, _ codecs: Codecs) async {
        let codec = codecs.codec
        let input = Gen.int(in: 0...999_999).array(of: 1...40)
        await propertyCheck(count: backend == .native ? 10 : 30, input: input, Gen.int(in: 0...999).array(of: 1...6)) { steps, marks in
            try await backend.withStore { store in
                var expected: [Cart.State] = [.empty]
                var state = Cart.State.empty
                let points = Set(marks.map { $0 % steps.count + 1 })
                var snapshotted: [UInt64] = []
                for (i, step) in steps.enumerated() {
                    let (record, event) = try cartStep(step, codec: codec)
                    try await store.append([record])
                    state = try Cart.apply(state, event)
                    expected.append(state)
                    if points.contains(i + 1) {
                        let written = try await store.snapshot(Cart.self, [cart], codec: codec)
                        #expect(written.map(\.version) == [UInt64(i + 1)])
                        snapshotted.append(UInt64(i + 1))
                    }
                }
                // The latest snapshot is the one a load starts from.
                #expect(try await store.loadSnapshot(Cart.self, cart, codec: codec).aggregate?.version == snapshotted.last)
                for version in 0...steps.count {
                    let loaded = try await store.load(Cart.self, cart, codec: codec, throughVersion: UInt64(version))
                    #expect(loaded.state == expected[version] && loaded.version == UInt64(version))
                    let asOf = try await store.load(Cart.self, cart, codec: codec, asOf: UInt64(version))
                    #expect(asOf.state == expected[version] && asOf.version == UInt64(version))
                    let from = try await store.loadSnapshot(Cart.self, cart, codec: codec, throughVersion: UInt64(version)).aggregate?.version
                    let latest = snapshotted.last { $0 <= UInt64(version) }
                    // (Past `SnapshotStore.filesMax` snapshot files, a merge drops the snapshots then superseded.)
                    if backend == .memory || snapshotted.count <= SnapshotStore.filesMax {
                        #expect(from == latest)
                    } else {
                        #expect(from == nil || from == latest)
                    }
                }
            }
        }
    }

    /// A load starts from the snapshot: a state that the events would not give shows through (it is not a replay
    /// that happens to agree), and `useSnapshots: false` replays.
    @Test(arguments: Backend.allCases) func aLoadStartsFromTheSnapshot(_ backend: Backend) async throws {
        try await backend.withStore { store in
            for step in [1, 2, 3, 4] { try await store.append([try cartStep(step, codec: JSONEventCodec()).0]) }
            try await store.writeSnapshots([try fabricated(.open(items: ["planted": 7]), version: 2, sequence: 2)])
            let loaded = try await store.load(Cart.self, cart)
            #expect(loaded.state == .open(items: ["planted": 7, "coffee": 4, "orange": 1]))
            #expect(loaded.version == 4)
            let replayed = try await store.load(Cart.self, cart, useSnapshots: false)
            #expect(replayed.state == .open(items: ["orange": 3, "tea": 3, "coffee": 4]))
            try await removePlanted(store)
        }
    }

    /// A command on an aggregate that is not cached starts from the snapshot too.
    func removePlanted<S: EventStoreUnderTest>(_ store: S) async throws {
        let executor = CommandExecutor(store: store, cachedAggregatesMax: 0)
        try await executor.execute(RemoveItem(key: cart, product: "planted"))
        #expect(try await store.load(Cart.self, cart).state == .open(items: ["coffee": 4, "orange": 1]))
    }

    /// Snapshots a load must not use: another projector version, another codec, a state that does not decode,
    /// past the end of the log. Each is passed over, named, and the load equals a full replay.
    @Test(arguments: Backend.allCases) func unusableSnapshotsAreIgnoredAndTheLoadReplays(_ backend: Backend) async throws {
        try await backend.withStore { store in
            for step in [1, 2, 3] { try await store.append([try cartStep(step, codec: JSONEventCodec()).0]) }
            let replay = try await store.load(Cart.self, cart, useSnapshots: false)
            var undecodable = try fabricated(.empty, version: 2, sequence: 2)
            undecodable.state = Array(#"{"open":{"items":"not a dictionary"}}"#.utf8)
            try await store.writeSnapshots([
                try fabricated(.open(items: ["planted": 1]), version: 1, sequence: 1, projectorVersion: 3),
                try fabricated(.open(items: ["planted": 1]), version: 1, sequence: 1, codec: BinaryEventCodec()),
                undecodable,
                try fabricated(.open(items: ["planted": 1]), version: 9, sequence: 9),
            ])
            let lookup = try await store.loadSnapshot(Cart.self, cart)
            #expect(lookup.aggregate == nil)
            let reasons = lookup.ignored.map(\.reason)
            #expect(reasons.count == 4, "\(reasons)")
            #expect(reasons.contains(.pastEndOfLog(position: "9", logEnd: "3")), "\(reasons)")
            #expect(reasons.contains(.projectorVersion(found: 3, expected: 1)), "\(reasons)")
            #expect(reasons.contains(.codec(found: "binary", expected: "json")), "\(reasons)")
            #expect(reasons.contains { if case .undecodable = $0 { true } else { false } }, "\(reasons)")
            #expect(try await store.load(Cart.self, cart).state == replay.state)
            // The new projector version ignores the old version's snapshots (and finds its own).
            try await store.snapshot(Cart.self, [cart])
            #expect(try await store.loadSnapshot(CartV2.self, cart).aggregate == nil)
            #expect(try await store.load(CartV2.self, cart).state == replay.state)
            try await store.snapshot(CartV2.self, [cart])
            #expect(try await store.loadSnapshot(CartV2.self, cart).aggregate?.version == 3)
        }
    }

    @Test func theBuiltInCodecsHaveShortStableNames() {
        #expect(JSONEventCodec().name == "json" && BinaryEventCodec().name == "binary")
        let codec: any EventCodec = JSONEventCodec()
        #expect(codec.name == "json")
    }

    @Test func thePolicyIsEvery80Versions15Past() {
        let policy = Cart.snapshotPolicy
        #expect(policy == .every(80, after: 15))
        #expect(policy.dueVersion(at: 94, snapshotted: 0) == nil)
        #expect(policy.dueVersion(at: 95, snapshotted: 0) == 80)
        #expect(policy.dueVersion(at: 174, snapshotted: 80) == nil)
        #expect(policy.dueVersion(at: 175, snapshotted: 80) == 160)
        #expect(policy.dueVersion(at: 400, snapshotted: 0) == 320)
        #expect(SnapshotPolicy.never.dueVersion(at: 1_000, snapshotted: 0) == nil)
        #expect(SnapshotPolicy.every(1).dueVersion(at: 1, snapshotted: 0) == 1)
    }

    @Test(arguments: Backend.allCases) func snapshotsFollowingThePolicyAreOfTheDueVersion(_ backend: Backend) async throws {
        try await backend.withStore { store in
            let other = PartitionKey(tenant: "acme", group: "Cart", id: "c-2")
            for step in 1...94 { try await store.append([try cartStep(step, codec: JSONEventCodec()).0]) }
            try await store.append([try EventRecord(ItemAdded(product: "tea", quantity: 1), key: other)])
            #expect(try await store.snapshot(Cart.self, [cart, other], followingPolicy: true).isEmpty)
            try await store.append([try cartStep(95, codec: JSONEventCodec()).0])
            let written = try await store.snapshot(Cart.self, [cart, other], followingPolicy: true)
            #expect(written.map(\.version) == [80] && written.map(\.subject) == [.stream(cart)])
            #expect(try await store.snapshot(Cart.self, [cart], followingPolicy: true).isEmpty)  // (already there)
            #expect(try await store.load(Cart.self, cart).state == (try await store.load(Cart.self, cart, useSnapshots: false)).state)
            // Taken now, whatever the policy: the current version.
            #expect(try await store.snapshot(Cart.self, [cart, other]).map(\.version) == [95, 1])
        }
    }

    @Test func aStateThatIsNotCodableIsNotSnapshotted() async throws {
        let store = InMemoryEventStore()
        try await store.append([try EventRecord(ItemAdded(product: "tea", quantity: 2), key: cart)])
        await #expect(throws: SnapshotError.self) { try await store.snapshot(Counter.self, [cart]) }
        #expect(try await store.load(Counter.self, cart).state.box.count == 2)
    }

    /// On the native store: snapshots survive a reopen, and a damaged snapshot file makes the load replay.
    @Test func nativeSnapshotsSurviveReopenAndDamageMeansReplay() async throws {
        let folder = NSTemporaryDirectory() + "strata-snapshots-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var store = try NativeEventStore(path: folder)
        for step in 1...10 { try await store.append([try cartStep(step, codec: JSONEventCodec()).0]) }
        try await store.writeSnapshots([try fabricated(.open(items: ["planted": 1]), version: 10, sequence: 10)])
        try await store.close()
        store = try NativeEventStore(path: folder)
        #expect(try await store.load(Cart.self, cart).state == .open(items: ["planted": 1]))
        try await store.close()
        let file = folder + "/snapshots/0000000001.snapshots"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[bytes.count / 2] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        store = try NativeEventStore(path: folder)
        let lookup = try await store.loadSnapshot(Cart.self, cart)
        #expect(lookup.aggregate == nil && !lookup.ignored.isEmpty)
        #expect(try await store.load(Cart.self, cart).state == (try await store.load(Cart.self, cart, useSnapshots: false)).state)
        try await store.close()
        await #expect(throws: EventStoreError.closed) { try await store.writeSnapshots([try fabricated(.empty, version: 1, sequence: 1)]) }
        await #expect(throws: EventStoreError.closed) { try await store.loadSnapshot(Cart.self, cart) }
    }
}
