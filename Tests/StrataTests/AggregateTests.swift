import PropertyBased
import Strata
import Testing

// The shopping cart of the Sekiban talk, with an event that changed shape (ItemAdded v1 had no quantity).
struct ItemAddedV1: UpcastableEvent {
    static let eventType = "ItemAdded"
    static let schemaVersion: UInt32 = 1
    var product: String
    func upcast() -> ItemAdded { ItemAdded(product: product, quantity: 1) }
}

struct ItemAdded: Event, Equatable {
    static let eventType = "ItemAdded"
    static let schemaVersion: UInt32 = 2
    var product: String
    var quantity: Int
}

struct ItemRemoved: Event, Equatable {
    static let eventType = "ItemRemoved"
    var product: String
}

struct CheckedOut: Event, Equatable {
    static let eventType = "CheckedOut"
}

enum Cart: AggregateProjector {
    enum State: Sendable, Equatable, Codable {
        case empty
        case open(items: [String: Int])
        case checkedOut(items: [String: Int])
    }

    enum Events {
        case added(ItemAdded)
        case removed(ItemRemoved)
        case checkedOut(CheckedOut)
    }

    struct AlreadyCheckedOut: Error {}

    static let group = "Cart"
    static let events = EventTypes<Events>()
        .on(ItemAdded.self, Events.added)
        .on(ItemRemoved.self, Events.removed)
        .on(CheckedOut.self, Events.checkedOut)
        .upcasting(ItemAddedV1.self)
    static let initialState = State.empty

    static func apply(_ state: State, _ event: Events) throws -> State {
        switch (state, event) {
        case (.checkedOut, _): throw AlreadyCheckedOut()
        case (.empty, .added(let e)): return .open(items: [e.product: e.quantity])
        case (.open(var items), .added(let e)):
            items[e.product, default: 0] += e.quantity
            return .open(items: items)
        case (.open(var items), .removed(let e)):
            items[e.product] = nil
            return .open(items: items)
        case (.open(let items), .checkedOut): return .checkedOut(items: items)
        case (.empty, _): return .empty
        }
    }
}

let cart = PartitionKey(tenant: "acme", group: "Cart", id: "c-1")

/// The payload codecs every typed test runs with.
enum Codecs: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case json, binary
    var testDescription: String { rawValue }
    var codec: any EventCodec { self == .json ? JSONEventCodec() : BinaryEventCodec() }
    var other: any EventCodec { self == .json ? BinaryEventCodec() : JSONEventCodec() }
}

/// An event of the cart written with any type name, version and payload, as another program might have.
func raw(type: String, version: UInt32, payload: String) -> EventRecord {
    EventRecord(
        key: cart, typeName: type, typeVersion: version, timestampMicros: 0, eventId: .random(),
        metadata: RecordMetadata(), payload: Array(payload.utf8))
}

@Suite struct AggregateTests {
    @Test(arguments: Backend.allCases, Codecs.allCases)
    func aCartLoadsFromItsEventsOldSchemaVersionsIncluded(_ backend: Backend, _ codecs: Codecs) async throws {
        let codec = codecs.codec
        try await backend.withStore { store in
            try await store.append([
                try EventRecord(ItemAddedV1(product: "coffee"), key: cart, codec: codec),
                try EventRecord(ItemAdded(product: "orange", quantity: 3), key: cart, codec: codec),
                try EventRecord(ItemAdded(product: "tea", quantity: 2), key: cart, codec: codec),
                try EventRecord(ItemRemoved(product: "orange"), key: cart, codec: codec),
            ])
            let loaded = try await store.load(Cart.self, cart, codec: codec)
            #expect(loaded.state == .open(items: ["coffee": 1, "tea": 2]))
            #expect(loaded.version == 4)
            // As of a version, and as of a position: the orange is still in the cart.
            #expect(try await store.load(Cart.self, cart, codec: codec, throughVersion: 3).state == .open(items: ["coffee": 1, "orange": 3, "tea": 2]))
            #expect(try await store.load(Cart.self, cart, codec: codec, asOf: 2).state == .open(items: ["coffee": 1, "orange": 3]))
            #expect(try await store.load(Cart.self, PartitionKey(tenant: "acme", group: "Cart", id: "none"), codec: codec).version == 0)
            // Read with the other codec, a payload is an error naming the event, never a wrong value.
            await #expect(throws: AggregateLoadError.self) { try await store.load(Cart.self, cart, codec: codecs.other) }
        }
    }

    @Test(arguments: Backend.allCases) func anUnregisteredEventIsSurfacedNotSkipped(_ backend: Backend) async throws {
        try await backend.withStore { store in
            try await store.append([
                try EventRecord(ItemAdded(product: "coffee", quantity: 1), key: cart),
                raw(type: "GiftWrapped", version: 1, payload: #"{"paper":"red"}"#),
            ])
            do {
                _ = try await store.load(Cart.self, cart)
                Issue.record("an unregistered event must not be skipped silently")
            } catch AggregateLoadError.unregisteredEvent(let event) {
                #expect(event == UnregisteredEvent(typeName: "GiftWrapped", typeVersion: 1, payload: Array(#"{"paper":"red"}"#.utf8)))
            }
            // The registry says so explicitly, with the bytes.
            var decoded: [DecodedEvent<Cart.Events>] = []
            try await store.readStream(cart) { decoded.append(try Cart.events.decode($0, at: $1, codec: JSONEventCodec())) }
            guard case .unregistered(let event) = decoded[1] else { throw Failure("expected an unregistered event") }
            #expect(event.typeName == "GiftWrapped")
            // An unknown schema version of a known type is unregistered too.
            #expect(!Cart.events.knows("ItemAdded", version: 3) && Cart.events.knows("ItemAdded", version: 1))
        }
    }

    @Test(arguments: Backend.allCases) func aPayloadThatDoesNotMatchItsTypeIsAnErrorNamingTheEvent(_ backend: Backend) async throws {
        try await backend.withStore { store in
            try await store.append([
                try EventRecord(ItemAdded(product: "coffee", quantity: 1), key: cart),
                raw(type: "ItemAdded", version: 2, payload: #"{"product":"tea"}"#),  // no quantity
            ])
            do {
                _ = try await store.load(Cart.self, cart)
                Issue.record("a half-empty event must not load")
            } catch AggregateLoadError.undecodable(let error) {
                #expect(error.position == "2" && error.stream == cart && error.typeName == "ItemAdded" && error.typeVersion == 2)
                #expect(error.description.contains("quantity"), "\(error)")
            }
        }
    }

    @Test(arguments: Backend.allCases) func aProjectorErrorNamesTheEvent(_ backend: Backend) async throws {
        try await backend.withStore { store in
            try await store.append([
                try EventRecord(ItemAdded(product: "coffee", quantity: 1), key: cart),
                try EventRecord(CheckedOut(), key: cart),
                try EventRecord(ItemAdded(product: "tea", quantity: 1), key: cart),
            ])
            await #expect(throws: AggregateLoadError.self) { try await store.load(Cart.self, cart) }
            do { _ = try await store.load(Cart.self, cart) } catch AggregateLoadError.applyFailed(let position, _, let typeName, _) {
                #expect(position == "3" && typeName == "ItemAdded")
            }
            await #expect(throws: AggregateLoadError.self) {
                try await store.load(Cart.self, PartitionKey(tenant: "acme", group: "Order", id: "o-1"))
            }
        }
    }

    @Test(arguments: Backend.allCases) func theFoldHandsTheStateOverWithoutCopyingIt(_ backend: Backend) async throws {
        try await backend.withStore { store in
            try await store.append((1...20).map { try EventRecord(ItemAdded(product: "tea", quantity: $0), key: cart) })
            let loaded = try await store.load(Counter.self, cart)
            #expect(loaded.state.box.count == 210)
            #expect(loaded.state.sharedWhenApplied == 0)
        }
    }

    /// Loading equals folding the stream's events read one by one, for random histories, at every version.
    @Test(arguments: Backend.allCases) func loadingEqualsABruteForceFold(_ backend: Backend) async throws {
        await propertyCheck(count: backend == .native ? 15 : 40, input: Gen.int(in: 0...999_999).array(of: 1...40)) { steps in
            try await backend.withStore { store in
                var expected: [Cart.State] = [.empty]
                var state = Cart.State.empty
                for step in steps {
                    let product = ["coffee", "orange", "tea"][step % 3]
                    let record: EventRecord
                    let event: Cart.Events
                    if step % 5 == 0 {
                        record = try EventRecord(ItemRemoved(product: product), key: cart)
                        event = .removed(ItemRemoved(product: product))
                    } else if step % 7 == 0 {
                        record = try EventRecord(ItemAddedV1(product: product), key: cart)
                        event = .added(ItemAdded(product: product, quantity: 1))
                    } else {
                        record = try EventRecord(ItemAdded(product: product, quantity: step % 4 + 1), key: cart)
                        event = .added(ItemAdded(product: product, quantity: step % 4 + 1))
                    }
                    try await store.append([record])
                    state = try Cart.apply(state, event)
                    expected.append(state)
                }
                for version in 0...steps.count {
                    let loaded = try await store.load(Cart.self, cart, throughVersion: UInt64(version))
                    #expect(loaded.state == expected[version] && loaded.version == UInt64(version))
                }
            }
        }
    }
}

/// A projector whose state holds a class instance, to see whether `apply` gets the state's only reference (then
/// a dictionary or array in a state changes in place instead of being copied for every event).
enum Counter: AggregateProjector {
    final class Box: @unchecked Sendable {  // only touched by the fold that owns it, one event at a time
        var count = 0
    }
    struct State: Sendable {
        var box = Box()
        var sharedWhenApplied = 0
    }
    typealias Events = ItemAdded
    static let group = "Cart"
    static let events = EventTypes<ItemAdded>().on(ItemAdded.self) { $0 }
    static var initialState: State { State() }

    static func apply(_ state: consuming State, _ event: ItemAdded) -> State {
        if !isKnownUniquelyReferenced(&state.box) { state.sharedWhenApplied += 1 }
        state.box.count += event.quantity
        return state
    }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
