import Foundation
import PropertyBased
import Strata
import StrataStorage
import Testing

/// Every kind of field `@Event` meets: primitives, optionals, arrays, a dictionary, a nested struct, an enum with
/// payloads, an optional `Date`, a `UUID`, an optional spelled through a type alias.
@Event("MacroSample", version: 3)
struct MacroSample: Equatable {
    typealias MaybeCount = Int?
    var name: String
    var count: Int
    var ratio: Double
    var flag: Bool
    var small: Int8
    var big: UInt64
    var single: Float
    var note: String?
    var tags: [String]
    var scores: [String: Int]
    var nested: Inner
    var items: [Inner?]
    var shape: Shape
    var when: Date?
    var id: UUID
    var aliased: MaybeCount
    var unsigned: UInt32?

    static func random(_ seed: UInt64) -> MacroSample {
        let s = Sample.random(seed)
        return MacroSample(
            name: s.name, count: s.count, ratio: s.ratio, flag: s.flag, small: s.small, big: s.big, single: s.single, note: s.note,
            tags: s.tags, scores: s.scores, nested: s.nested, items: s.items, shape: s.shape, when: s.when, id: s.id,
            aliased: seed % 3 == 0 ? nil : Int(truncatingIfNeeded: seed), unsigned: seed % 2 == 0 ? nil : UInt32(truncatingIfNeeded: seed))
    }
}

/// Keys of its own (`CodingKeys`): the macro writes and reads those, and leaves out what they leave out.
@Event
struct Renamed: Equatable {
    var orderID: String
    var lineCount: Int
    var scratch: Int = 0  // not in CodingKeys: neither written nor read
    enum CodingKeys: String, CodingKey {
        case orderID = "order_id"
        case lineCount = "line\"count"
    }
}

/// CodingKeys in another order than the properties: the synthesized `encode(to:)` follows one of them, and so must
/// the macro.
@Event
struct Reordered: Equatable {
    var first: Int
    var second: String
    var third: Bool?
    enum CodingKeys: String, CodingKey {
        case third, second = "2nd", first
    }
}

/// A field whose type writes its own fields: nested by its `encode(fields:)` / `init(fields:)`.
@Event("Outer")
struct Outer: Equatable {
    var label: String
    var inner: MacroSample?
    var first: MacroSample
}

/// `E` encoded and decoded through `Codable` only (the synthesized conformance), without its field reader and
/// writer: what today's encoders write for it.
struct ViaCodable<E: Codable>: Codable {
    var value: E
    init(_ value: E) { self.value = value }
    init(from decoder: any Decoder) throws { value = try E(from: decoder) }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}

@Suite struct EventMacroTests {
    static let codecs: [any EventCodec] = [JSONEventCodec(), BinaryEventCodec()]

    @Test func theArgumentsNameTheEvent() {
        #expect(MacroSample.eventType == "MacroSample")
        #expect(MacroSample.schemaVersion == 3)
        #expect(Renamed.eventType == "Renamed")  // (no arguments: the type's name, version 1)
        #expect(Renamed.schemaVersion == 1)
    }

    @Test(arguments: codecs)
    func fieldsAreWrittenByteForByteAsCodableWritesThem(codec: any EventCodec) async throws {
        await propertyCheck(count: 200, input: Gen<UInt64>.value(in: 0...UInt64.max)) { seed in
            let sample = MacroSample.random(seed)
            let (fields, codable) = (try codec.encode(sample), try codec.encode(ViaCodable(sample)))
            #expect(fields == codable)
            let outer = Outer(label: "o\(seed)", inner: seed % 2 == 0 ? nil : sample, first: MacroSample.random(seed &+ 1))
            let (outerFields, outerCodable) = (try codec.encode(outer), try codec.encode(ViaCodable(outer)))
            #expect(outerFields == outerCodable)
        }
        let renamed = Renamed(orderID: "o-1", lineCount: 3, scratch: 9)
        let (fields, codable) = (try codec.encode(renamed), try codec.encode(ViaCodable(renamed)))
        #expect(fields == codable)
        for reordered in [Reordered(first: 1, second: "two", third: true), Reordered(first: -1, second: "", third: nil)] {
            let (fields, codable) = (try codec.encode(reordered), try codec.encode(ViaCodable(reordered)))
            #expect(fields == codable)
            #expect(try fields.withUnsafeBytes { try codec.decode(fields: Reordered.self, from: $0) } == reordered)
        }
    }

    @Test(arguments: codecs)
    func fieldsReadWhatCodableReads(codec: any EventCodec) async throws {
        await propertyCheck(count: 200, input: Gen<UInt64>.value(in: 0...UInt64.max)) { seed in
            let sample = MacroSample.random(seed)
            // Bytes written through Codable (a store from before the macro), read both ways.
            let bytes = try codec.encode(ViaCodable(sample))
            let viaFields = try bytes.withUnsafeBytes { try codec.decode(fields: MacroSample.self, from: $0) }
            let viaCodable = try bytes.withUnsafeBytes { try codec.decode(ViaCodable<MacroSample>.self, from: $0) }.value
            #expect(viaFields == sample)
            #expect(viaFields == viaCodable)
            let outer = Outer(label: "o", inner: sample, first: sample)
            #expect(try codec.encode(outer).withUnsafeBytes { try codec.decode(fields: Outer.self, from: $0) } == outer)
        }
    }

    @Test func theJSONIsWhatJSONEncoderWrites() throws {
        let renamed = Renamed(orderID: "o/1", lineCount: 3, scratch: 9)
        #expect(String(decoding: try JSONEventCodec().encode(renamed), as: UTF8.self) == #"{"line\"count":3,"order_id":"o/1"}"#)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let sample = MacroSample.random(7)
        // (Dates: Foundation's default strategy, as the codec's.)
        #expect(try JSONEventCodec().encode(sample) == Array(try encoder.encode(sample)))
        var decoded = try JSONEventCodec().encode(renamed).withUnsafeBytes { try JSONEventCodec().decode(fields: Renamed.self, from: $0) }
        #expect(decoded.scratch == 0)
        decoded.scratch = 9
        #expect(decoded == renamed)
    }

    @Test func aNilOptionalWritesNoField() throws {
        var sample = MacroSample.random(3)
        sample.note = nil
        sample.aliased = nil
        sample.unsigned = nil
        let json = String(decoding: try JSONEventCodec().encode(sample), as: UTF8.self)
        #expect(!json.contains("\"note\"") && !json.contains("\"aliased\"") && !json.contains("\"unsigned\""))
    }

    @Test func aValueJSONCannotHoldIsRefused() throws {
        var sample = MacroSample.random(5)
        sample.ratio = .infinity
        #expect(throws: EncodingError.self) { try JSONEventCodec().encode(sample) }
        let (fields, codable) = (try BinaryEventCodec().encode(sample), try BinaryEventCodec().encode(ViaCodable(sample)))
        #expect(fields == codable)
    }

    @Test(arguments: codecs)
    func registeredMacroEventsFoldFromAStore(codec: any EventCodec) async throws {
        enum Both { case sample(MacroSample), renamed(Renamed) }
        let types = EventTypes<Both>().on(MacroSample.self, Both.sample).on(Renamed.self, Both.renamed)
        let store = InMemoryEventStore()
        let key = PartitionKey(tenant: "t", group: "g", id: "1")
        let sample = MacroSample.random(11), renamed = Renamed(orderID: "x", lineCount: 1)
        try await store.append([try EventRecord(sample, key: key, codec: codec), try EventRecord(renamed, key: key, codec: codec)])
        var seen: [String] = []
        _ = try await store.readStream(key) { event, position in
            switch try types.decode(event, at: position, codec: codec) {
            case .registered(.sample(let value)): seen.append(value == sample ? "sample" : "wrong sample")
            case .registered(.renamed(let value)): seen.append(value == renamed ? "renamed" : "wrong renamed")
            case .unregistered: seen.append("unregistered")
            }
        }
        #expect(seen == ["sample", "renamed"])
    }
}

// MARK: - @FieldCodable states and nested values, @EventSet

@FieldCodable
struct MacroLine: Equatable, Sendable {
    var product: String
    var quantity: Int
    var note: String?
}

@FieldCodable
struct MacroCartState: Equatable, Sendable {
    var owner: String
    var lines: [MacroLine]
    var primary: MacroLine?
    var total: Int
}

@Event("MacroAdded", version: 2)
struct MacroAdded: Equatable {
    var line: MacroLine
}

@Event("MacroAdded", version: 1)
struct MacroAddedV1: UpcastableEvent {
    var product: String
    func upcast() -> MacroAdded { MacroAdded(line: MacroLine(product: product, quantity: 1)) }
}

@Event("MacroOwned")
struct MacroOwned: Equatable {
    var owner: String
}

@EventSet(upcasting: MacroAddedV1.self)
enum MacroCartEvents {
    case owned(MacroOwned)
    case added(MacroAdded)
}

/// A projector whose events are an event set (no `events` of its own) and whose state is `@FieldCodable`.
enum MacroCart: AggregateProjector {
    typealias State = MacroCartState
    typealias Events = MacroCartEvents
    static let group = "Cart"
    static let initialState = MacroCartState(owner: "", lines: [], primary: nil, total: 0)
    static func apply(_ state: consuming State, _ event: Events) -> State {
        switch event {
        case .owned(let e): state.owner = e.owner
        case .added(let e):
            state.lines.append(e.line)
            if state.primary == nil { state.primary = e.line }
            state.total += e.line.quantity
        }
        return state
    }
}

/// Stored under MacroAdded v2 like `MacroAdded`: registering both in one registry is refused.
@Event("MacroAdded", version: 2)
struct ClashingAdded {
    var other: Int
}

@Suite struct FieldCodableAndEventSetTests {
    @Test(arguments: EventMacroTests.codecs)
    func anEventSetRegistersEveryCaseAndItsUpcasters(codec: any EventCodec) async throws {
        #expect(MacroCartEvents.types.knows("MacroOwned", version: 1))
        #expect(MacroCartEvents.types.knows("MacroAdded", version: 2))
        #expect(MacroCartEvents.types.knows("MacroAdded", version: 1))
        let store = InMemoryEventStore()
        let key = PartitionKey(tenant: "t", group: "Cart", id: "c1")
        try await store.append([
            try EventRecord(MacroOwned(owner: "ann"), key: key, codec: codec),
            try EventRecord(MacroAddedV1(product: "tea"), key: key, codec: codec),
            try EventRecord(MacroAdded(line: MacroLine(product: "jam", quantity: 3, note: "big")), key: key, codec: codec),
        ])
        let cart = try await store.load(MacroCart.self, key, codec: codec)
        #expect(cart.version == 3)
        #expect(cart.state == MacroCartState(
            owner: "ann", lines: [MacroLine(product: "tea", quantity: 1), MacroLine(product: "jam", quantity: 3, note: "big")],
            primary: MacroLine(product: "tea", quantity: 1), total: 4))
    }

    @Test(arguments: EventMacroTests.codecs)
    func aFieldCodableStateSnapshotsWithCodablesBytesAndReadsBack(codec: any EventCodec) async throws {
        await propertyCheck(count: 100, input: Gen<UInt64>.value(in: 0...UInt64.max)) { seed in
            var rng = SeededGenerator(seed: seed)
            let lines = (0..<Int.random(in: 0...4, using: &rng)).map { n in
                MacroLine(product: "p\(n)-\(rng.next() % 100)", quantity: Int.random(in: -5...50, using: &rng), note: Bool.random(using: &rng) ? "n\(n)" : nil)
            }
            let state = MacroCartState(owner: "o\(seed)", lines: lines, primary: lines.first, total: Int(truncatingIfNeeded: seed))
            let bytes = try #require(try MacroCart.snapshotBytes(of: state, codec: codec))
            #expect(bytes == (try codec.encode(ViaCodable(state))))
            let read = try bytes.withUnsafeBytes { try MacroCart.state(fromSnapshot: $0, codec: codec) }
            #expect(read == state)
        }
    }

    @Test(arguments: EventMacroTests.codecs)
    func aNestedValueReadByItsFieldsNamesTheWholePathWhenItFails(codec: any EventCodec) throws {
        /// `MacroAdded` with a line that lacks its quantity.
        struct Broken: Encodable {
            struct Line: Encodable { var product: String }
            var line: Line
        }
        let bytes = try codec.encode(Broken(line: .init(product: "tea")))
        do {
            _ = try bytes.withUnsafeBytes { try codec.decode(fields: MacroAdded.self, from: $0) }
            Issue.record("a nested value without a required field was read")
        } catch DecodingError.keyNotFound(let key, let context) {
            #expect(key.stringValue == "quantity")
            #expect(context.codingPath.map(\.stringValue) == ["line"])
        }
        let notAnObject = try codec.encode(["line": 7])
        #expect(throws: DecodingError.self) { try notAnObject.withUnsafeBytes { try codec.decode(fields: MacroAdded.self, from: $0) } }
    }

    @Test func twoEventTypesUnderOneNameAndVersionAreRefusedAtRegistration() async {
        await #expect(processExitsWith: .failure) {
            _ = EventTypes<Int>().on(MacroAdded.self) { _ in 1 }.on(ClashingAdded.self) { _ in 2 }
        }
        // The same type again only replaces its registration.
        let again = EventTypes<Int>().on(MacroAdded.self) { _ in 1 }.on(MacroAdded.self) { _ in 2 }
        #expect(again.knows("MacroAdded", version: 2))
    }
}

// MARK: - @FieldCodable enums

/// Every shape of case the synthesized `Codable` conformance of an enum meets: none, labelled, unlabelled, mixed,
/// optionals, a nested `@FieldCodable` value, a collection (through `Codable`), a backticked name.
@FieldCodable
enum MacroPhase: Equatable, Sendable {
    case empty
    case open(since: Int64, owner: String)
    case pair(Int, String)
    case mixed(Int, label: String?, _ extra: Bool)
    case line(MacroLine, lines: [MacroLine])
    case checkedOut(total: Int, coupon: String?)
    case `default`(zeta: Double, alpha: UInt8)

    static func random(_ seed: UInt64) -> MacroPhase {
        var rng = SeededGenerator(seed: seed)
        let text = "t\(rng.next() % 1_000)"
        switch seed % 8 {
        case 0, 1: return .empty
        case 2: return .open(since: Int64(bitPattern: rng.next()), owner: text)
        case 3: return .pair(Int(truncatingIfNeeded: rng.next()), text)
        case 4: return .mixed(-3, label: Bool.random(using: &rng) ? nil : text, Bool.random(using: &rng))
        case 5:
            let line = MacroLine(product: text, quantity: 2, note: Bool.random(using: &rng) ? "n" : nil)
            return .line(line, lines: Array(repeating: line, count: Int(rng.next() % 3)))
        case 6: return .checkedOut(total: Int(rng.next() % 10_000), coupon: Bool.random(using: &rng) ? nil : "C-\(text)")
        default: return .default(zeta: Double(rng.next() % 1_000) / 8, alpha: UInt8(truncatingIfNeeded: rng.next()))
        }
    }
}

/// A state holding enums, as an aggregate's state would.
@FieldCodable
struct MacroPhased: Equatable, Sendable {
    var phase: MacroPhase
    var previous: MacroPhase?
    var history: [MacroPhase]
}

@Suite struct FieldCodableEnumTests {
    @Test(arguments: EventMacroTests.codecs)
    func anEnumIsWrittenAndReadAsCodableDoes(codec: any EventCodec) async throws {
        await propertyCheck(count: 300, input: Gen<UInt64>.value(in: 0...UInt64.max)) { seed in
            let phase = MacroPhase.random(seed)
            let state = MacroPhased(
                phase: phase, previous: seed % 3 == 0 ? nil : MacroPhase.random(seed &+ 1),
                history: (0..<seed % 4).map { MacroPhase.random(seed &+ $0 &+ 2) })
            let (fields, codable) = (try codec.encode(state), try codec.encode(ViaCodable(state)))
            #expect(fields == codable, "\(phase)")
            // Written through Codable (a snapshot from before the macro), read by fields and by Codable alike.
            #expect(try codable.withUnsafeBytes { try codec.decode(fields: MacroPhased.self, from: $0) } == state)
            #expect(try codable.withUnsafeBytes { try codec.decode(ViaCodable<MacroPhased>.self, from: $0) }.value == state)
            let alone = try codec.encode(phase)
            #expect(alone == (try codec.encode(ViaCodable(phase))))
            #expect(try alone.withUnsafeBytes { try codec.decode(fields: MacroPhase.self, from: $0) } == phase)
        }
    }

    /// What the synthesized conformance refuses, the field reader refuses too: no known case, two cases, a case
    /// whose value is not an object, a missing associated value. Unknown fields beside the case are passed over
    /// (the synthesized conformance does not see them either).
    @Test func malformedEnumPayloadsAreRefusedAsCodableRefusesThem() throws {
        let codec = JSONEventCodec()
        let cases: [(String, Bool)] = [
            (#"{"empty":{}}"#, true), (#"{"empty":{},"other":1}"#, true), (#"{}"#, false), (#"{"unknown":{}}"#, false),
            (#"{"empty":{},"pair":{}}"#, false), (#"{"empty":1}"#, false), (#"{"open":{"since":1}}"#, false),
            (#"{"open":{"since":1,"owner":"a"}}"#, true), (#"{"pair":{"_0":1,"_1":"x"}}"#, true), (#"{"pair":{"0":1,"1":"x"}}"#, false),
        ]
        for (json, valid) in cases {
            let bytes = Array(json.utf8)
            let viaFields = bytes.withUnsafeBytes { try? codec.decode(fields: MacroPhase.self, from: $0) }
            let viaCodable = try? JSONDecoder().decode(MacroPhase.self, from: Data(bytes))
            #expect((viaFields != nil) == valid, "\(json)")
            #expect(viaFields == viaCodable, "\(json)")
        }
    }
}
