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
