import Foundation
import PropertyBased
import Strata
import StrataStorage
import Testing

/// A read model over lazy events (`@Event`'s `Lazy`), with an upcaster to a lazy registration.
@EventSet(upcasting: MacroAddedV1.self)
enum LazyCartEvents {
    case owned(MacroOwned.Lazy)
    case added(MacroAdded.Lazy)
}

enum LazyProducts: MultiProjector {
    struct State: Sendable, Equatable {
        var quantities: [String: Int] = [:]
        var owners: [String] = []
    }
    typealias Events = LazyCartEvents
    static let projectorName = "lazy-products"
    static let initialState = State()
    static func apply(_ state: inout State, _ event: Events, _ context: EventContext) throws {
        switch event {
        case .owned(let e): state.owners.append(try e.owner)
        case .added(let e):
            let line = try e.line
            state.quantities[line.product, default: 0] += line.quantity
        }
    }
}

/// `MacroCart` folded over lazy events.
enum LazyMacroCart: AggregateProjector {
    typealias State = MacroCartState
    typealias Events = LazyCartEvents
    static let group = "Cart"
    static let initialState = MacroCart.initialState
    static func apply(_ state: consuming State, _ event: Events) throws -> State {
        switch event {
        case .owned(let e): MacroCart.apply(state, .owned(try e.event()))
        case .added(let e): MacroCart.apply(state, .added(MacroAdded(line: try e.line)))
        }
    }
}

@Suite struct LazyEventTests {
    /// Every property of a lazy event reads what the event's own decoding reads, whichever codec wrote it — also bytes
    /// written through `Codable` (a store from before the macro) and a lazy event made from the event itself.
    @Test(arguments: EventMacroTests.codecs)
    func aLazyEventReadsWhatTheEventDecodes(codec: any EventCodec) async throws {
        await propertyCheck(count: 200, input: Gen<UInt64>.value(in: 0...UInt64.max)) { seed in
            let sample = MacroSample.random(seed)
            for bytes in [try codec.encode(sample), try codec.encode(ViaCodable(sample))] {
                let lazy = MacroSample.Lazy(lazyPayload: try bytes.withUnsafeBytes { try LazyPayload(bytes: $0, codec: codec, of: MacroSample.self) })
                try Self.expect(lazy, equals: sample)
            }
            try Self.expect(try MacroSample.Lazy(sample), equals: sample)
        }
    }

    static func expect(_ lazy: MacroSample.Lazy, equals sample: MacroSample) throws {
        #expect(try lazy.name == sample.name)
        #expect(try lazy.count == sample.count)
        #expect(try lazy.ratio == sample.ratio)
        #expect(try lazy.flag == sample.flag)
        #expect(try lazy.small == sample.small)
        #expect(try lazy.big == sample.big)
        #expect(try lazy.single == sample.single)
        #expect(try lazy.note == sample.note)
        #expect(try lazy.tags == sample.tags)
        #expect(try lazy.scores == sample.scores)
        #expect(try lazy.nested == sample.nested)
        #expect(try lazy.items == sample.items)
        #expect(try lazy.shape == sample.shape)
        #expect(try lazy.when == sample.when)
        #expect(try lazy.id == sample.id)
        #expect(try lazy.aliased == sample.aliased)
        #expect(try lazy.unsigned == sample.unsigned)
        // Read again, out of order: the same values.
        #expect(try lazy.unsigned == sample.unsigned && lazy.name == sample.name)
        #expect(try lazy.event() == sample)
    }

    /// Decoding a lazy event checks the payload's framing (malformed JSON, a binary field running past the payload) at
    /// once; a field that is missing or of the wrong type throws `LazyEventError` from its property only, naming the
    /// event and the field.
    @Test func aBadFieldThrowsFromItsPropertyAndBadFramingAtOnce() throws {
        let json = JSONEventCodec()
        let wrongType = Array(#"{"owner":5}"#.utf8)
        let lazy = MacroOwned.Lazy(lazyPayload: try wrongType.withUnsafeBytes { try LazyPayload(bytes: $0, codec: json, of: MacroOwned.self) })
        do {
            _ = try lazy.owner
            Issue.record("a number read as the owner's string")
        } catch let error as LazyEventError {
            #expect(error.eventType == "MacroOwned" && error.schemaVersion == 1)
            #expect("\(error)".contains("owner"), "\(error)")
        }
        let missing = Array("{}".utf8)
        let empty = MacroOwned.Lazy(lazyPayload: try missing.withUnsafeBytes { try LazyPayload(bytes: $0, codec: json, of: MacroOwned.self) })
        #expect(throws: LazyEventError.self) { try empty.owner }
        #expect(throws: LazyEventError.self) { try empty.event() }

        for malformed in [#"{"owner":"a""#, #"{"owner":"a"} x"#, "[1]"] {
            #expect(throws: (any Error).self, "\(malformed)") {
                try Array(malformed.utf8).withUnsafeBytes { try LazyPayload(bytes: $0, codec: json, of: MacroOwned.self) }
            }
        }
        let binary = BinaryEventCodec()
        let good = try binary.encode(MacroOwned(owner: "ann"))
        for cut in 0..<good.count {
            #expect(throws: (any Error).self, "cut at \(cut)") {
                try Array(good[..<cut]).withUnsafeBytes { try LazyPayload(bytes: $0, codec: binary, of: MacroOwned.self) }
            }
        }
        var huge = good
        huge[1] = 0xFF  // a field count far past the payload: refused before any table is made
        #expect(throws: (any Error).self) { try huge.withUnsafeBytes { try LazyPayload(bytes: $0, codec: binary, of: MacroOwned.self) } }
    }

    /// A projection over lazy events folds what it would over the events (an older version upcast, then made lazy);
    /// an event whose field does not decode is reported as undecodable, not as the projector's failure.
    @Test(arguments: EventMacroTests.codecs)
    func aProjectionFoldsLazyEventsAndReportsTheirBadFields(codec: any EventCodec) async throws {
        let store = InMemoryEventStore()
        let key = PartitionKey(tenant: "t", group: "Cart", id: "c1")
        try await store.append([
            try EventRecord(MacroOwned(owner: "ann"), key: key, codec: codec),
            try EventRecord(MacroAddedV1(product: "tea"), key: key, codec: codec),
            try EventRecord(MacroAdded(line: MacroLine(product: "jam", quantity: 3, note: "big")), key: key, codec: codec),
            try EventRecord(MacroAdded(line: MacroLine(product: "tea", quantity: 2)), key: key, codec: codec),
        ])
        // A MacroOwned whose owner is a number (a well-formed payload of the wrong shape).
        let wrong = try codec.encode(WrongOwned(owner: 7))
        try await store.append([
            EventRecord(
                key: key, typeName: "MacroOwned", typeVersion: 1, timestampMicros: 0, eventId: .random(), metadata: RecordMetadata(),
                payload: wrong)
        ])
        let projection = Projection(LazyProducts.self, store: store, codec: codec, onError: .skip)
        try await projection.catchUp()
        #expect(projection.state == LazyProducts.State(quantities: ["tea": 3, "jam": 3], owners: ["ann"]))
        #expect(projection.failures.map(\.kind) == [.undecodable])
        #expect(projection.failures.first?.reason.contains("owner") == true, "\(projection.failures)")
    }

    /// An aggregate over lazy events loads the state it loads over the events; a field that does not decode fails the
    /// load as an undecodable event naming it.
    @Test(arguments: EventMacroTests.codecs)
    func anAggregateFoldsLazyEvents(codec: any EventCodec) async throws {
        let store = InMemoryEventStore()
        let key = PartitionKey(tenant: "t", group: "Cart", id: "c1")
        try await store.append([
            try EventRecord(MacroOwned(owner: "ann"), key: key, codec: codec),
            try EventRecord(MacroAddedV1(product: "tea"), key: key, codec: codec),
            try EventRecord(MacroAdded(line: MacroLine(product: "jam", quantity: 3, note: "big")), key: key, codec: codec),
        ])
        let lazy = try await store.load(LazyMacroCart.self, key, codec: codec)
        let eager = try await store.load(MacroCart.self, key, codec: codec)
        #expect(lazy.state == eager.state && lazy.version == 3)

        try await store.append([
            EventRecord(
                key: key, typeName: "MacroOwned", typeVersion: 1, timestampMicros: 0, eventId: .random(), metadata: RecordMetadata(),
                payload: try codec.encode(WrongOwned(owner: 7)))
        ])
        do {
            _ = try await store.load(LazyMacroCart.self, key, codec: codec)
            Issue.record("a number read as the owner's string")
        } catch AggregateLoadError.undecodable(let error) {
            #expect(error.typeName == "MacroOwned" && error.position == "4" && error.reason.contains("owner"), "\(error)")
        }
    }

    /// One registry cannot hold an event and its lazy form (which would decode that name and version?).
    @Test func anEventAndItsLazyFormInOneRegistryAreRefused() async {
        await #expect(processExitsWith: .failure) {
            _ = EventTypes<Int>().on(MacroOwned.self) { _ in 1 }.on(MacroOwned.Lazy.self) { _ in 2 }
        }
    }
}

/// MacroOwned's name with a number for the owner.
private struct WrongOwned: Codable {
    var owner: Int
}
