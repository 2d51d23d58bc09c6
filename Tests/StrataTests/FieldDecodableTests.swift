import Foundation
import PropertyBased
import Strata
import StrataStorage
import Testing

// `Sample` read field by field: every kind of field `Sample` has (primitives, an optional, arrays, a dictionary,
// a nested struct, an enum with payloads, an optional `Date`, a `UUID`).
extension Sample: FieldDecodable {
    init(fields: borrowing PayloadFields) throws {
        name = try fields.decode(forKey: "name")
        count = try fields.decode(forKey: "count")
        ratio = try fields.decode(forKey: "ratio")
        flag = try fields.decode(forKey: "flag")
        small = try fields.decode(forKey: "small")
        big = try fields.decode(forKey: "big")
        single = try fields.decode(forKey: "single")
        note = try fields.decodeIfPresent(forKey: "note")
        tags = try fields.decode(forKey: "tags")
        scores = try fields.decode(forKey: "scores")
        nested = try fields.decode(forKey: "nested")
        items = try fields.decode(forKey: "items")
        shape = try fields.decode(forKey: "shape")
        when = try fields.decode(forKey: "when")  // an Optional through `decode`: absent or nil reads as nil
        id = try fields.decode(forKey: "id")
    }
}

/// An event that records which path decoded it (`viaFields` is not part of its payload).
struct Tracked: Event, FieldDecodable, Equatable {
    static let eventType = "Tracked"
    var product: String
    var quantity: Int
    var viaFields = false

    enum CodingKeys: String, CodingKey { case product, quantity }

    init(product: String, quantity: Int) {
        self.product = product
        self.quantity = quantity
    }

    init(fields: borrowing PayloadFields) throws {
        product = try fields.decode(forKey: "product")
        quantity = try fields.decode(forKey: "quantity")
        viaFields = true
    }
}

/// A codec of its own (JSON underneath) that has no field view: `FieldDecodable` types go through `Codable`.
struct PlainCodec: EventCodec {
    func encode<E: Encodable>(_ value: E) throws -> [UInt8] { try JSONEventCodec().encode(value) }
    func decode<E: Decodable>(_ type: E.Type, from bytes: UnsafeRawBufferPointer) throws -> E {
        try JSONEventCodec().decode(type, from: bytes)
    }
}

@Suite struct FieldDecodableTests {
    static let codecs: [any EventCodec] = [JSONEventCodec(), BinaryEventCodec()]

    func viaFields<T: FieldDecodable>(_ type: T.Type, _ bytes: [UInt8], _ codec: any EventCodec) throws -> T {
        try bytes.withUnsafeBytes { try codec.decode(fields: type, from: $0) }
    }

    @Test(arguments: codecs)
    func readsWhatCodableReads(codec: any EventCodec) async throws {
        await propertyCheck(count: 200, input: Gen<UInt64>.value(in: 0...UInt64.max)) { seed in
            let sample = Sample.random(seed)
            let bytes = try codec.encode(sample)
            #expect(try viaFields(Sample.self, bytes, codec) == sample)
        }
    }

    @Test(arguments: codecs)
    func missingNilAndWrongFieldsThrowNamingTheField(codec: any EventCodec) throws {
        /// Writes `quantity` even when it is nil (JSON null, a binary nil field).
        struct Event1: Encodable {
            var product: String
            var quantity: Int?
            var extra: [Int]
            enum CodingKeys: CodingKey { case product, quantity, extra }
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(product, forKey: .product)
                try container.encode(quantity, forKey: .quantity)
                try container.encode(extra, forKey: .extra)
            }
        }
        struct Needs: FieldDecodable {
            var product: String
            var quantity: Int
            init(fields: borrowing PayloadFields) throws {
                product = try fields.decode(forKey: "product")
                quantity = try fields.decode(forKey: "quantity")
            }
        }
        struct Optionals: FieldDecodable, Equatable {
            var product: String?
            var quantity: Int?
            var absent: Int?
            var hasExtra: Bool
            init(product: String?, quantity: Int?, absent: Int?, hasExtra: Bool) {
                (self.product, self.quantity, self.absent, self.hasExtra) = (product, quantity, absent, hasExtra)
            }
            init(fields: borrowing PayloadFields) throws {
                product = try fields.decodeIfPresent(forKey: "product")
                quantity = try fields.decodeIfPresent(forKey: "quantity")
                absent = try fields.decodeIfPresent(forKey: "absent")
                hasExtra = fields.contains("extra")
            }
        }
        struct WrongType: FieldDecodable {
            init(fields: borrowing PayloadFields) throws { _ = try fields.decode(Int.self, forKey: "product") }
        }
        let withNil = try codec.encode(Event1(product: "tea", quantity: nil, extra: [1]))
        do {
            _ = try viaFields(Needs.self, withNil, codec)
            Issue.record("a nil field read as a value")
        } catch DecodingError.valueNotFound(_, let context) {
            #expect(context.codingPath.map(\.stringValue) == ["quantity"])
        }
        let optionals = try viaFields(Optionals.self, withNil, codec)
        #expect(optionals == Optionals(product: "tea", quantity: nil, absent: nil, hasExtra: true))
        struct Short: Codable { var product: String }
        do {
            _ = try viaFields(Needs.self, try codec.encode(Short(product: "tea")), codec)
            Issue.record("a missing field read as a value")
        } catch DecodingError.keyNotFound(let key, _) {
            #expect(key.stringValue == "quantity")
        }
        #expect(throws: (any Error).self) { try viaFields(WrongType.self, withNil, codec) }
        // Not an object at all, and an object with data after it.
        #expect(throws: (any Error).self) { try viaFields(Needs.self, try codec.encode([1, 2]), codec) }
        #expect(throws: (any Error).self) { try viaFields(Needs.self, try codec.encode("tea"), codec) }
        let good = try codec.encode(Event1(product: "tea", quantity: 2, extra: []))
        #expect(throws: (any Error).self) { try viaFields(Needs.self, good + Array("1".utf8), codec) }
    }

    @Test func everyTruncationAndByteChangeIsAnErrorOrAValueNeverATrap() throws {
        for codec in Self.codecs {
            let good = try codec.encode(Sample.random(7))
            for cut in 0..<good.count {
                #expect(throws: (any Error).self) { try viaFields(Sample.self, Array(good.prefix(cut)), codec) }
            }
            for index in good.indices {
                var bad = good
                bad[index] ^= 0x80
                _ = try? viaFields(Sample.self, bad, codec)
            }
        }
    }

    @Test func jsonIsCheckedWholeAndEscapedKeysAreFound() throws {
        struct Pair: FieldDecodable, Equatable {
            var item: String
            var n: Int
            init(item: String, n: Int) {
                self.item = item
                self.n = n
            }
            init(fields: borrowing PayloadFields) throws {
                item = try fields.decode(forKey: "item")
                n = try fields.decode(forKey: "n")
            }
        }
        let codec = JSONEventCodec()
        #expect(try viaFields(Pair.self, Array(#" {"it\u0065m": "t\u00e9a", "n": 3} "#.utf8), codec) == Pair(item: "téa", n: 3))
        // Malformed JSON in a field the type does not read, a trailing comma, invalid UTF-8: refused.
        #expect(throws: (any Error).self) { try viaFields(Pair.self, Array(#"{"item":"t","n":1,"x":[1,}"#.utf8), codec) }
        #expect(throws: (any Error).self) { try viaFields(Pair.self, Array(#"{"item":"t","n":1,}"#.utf8), codec) }
        #expect(throws: (any Error).self) { try viaFields(Pair.self, Array(#"{"item":"t","n":1,"x":""#.utf8) + [0xFF, 0x22, 0x7D], codec) }
    }

    @Test func registeringAFieldDecodableEventUsesItsFieldsWithTheBuiltInCodecs() async throws {
        enum Events { case tracked(Tracked) }
        let types = EventTypes<Events>().on(Tracked.self, Events.tracked)
        let key = PartitionKey(tenant: "t", group: "g", id: "1")
        for (codec, expected) in [(JSONEventCodec() as any EventCodec, true), (BinaryEventCodec(), true), (PlainCodec(), false)] {
            let store = InMemoryEventStore()
            try await store.append([try EventRecord(Tracked(product: "tea", quantity: 2), key: key, codec: codec, timestampMicros: 0)])
            var events: [Tracked] = []
            try await store.readStream(key) { record in
                if case .registered(.tracked(let event)) = try types.decode(record, codec: codec) { events.append(event) }
            }
            #expect(events.map(\.product) == ["tea"] && events.map(\.quantity) == [2])
            #expect(events.map(\.viaFields) == [expected], "\(type(of: codec))")
        }
    }
}
