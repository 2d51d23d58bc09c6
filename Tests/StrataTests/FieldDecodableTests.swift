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

/// More fields than the binary codec's field table holds on the stack (16): the table moves to the heap midway.
struct Wide: Event, FieldDecodable, Equatable {
    static let eventType = "Wide"
    var f0: Int
    var f1: String
    var f2: Int
    var f3: String
    var f4: Int
    var f5: String
    var f6: Int
    var f7: String
    var f8: Int
    var f9: String
    var f10: Int
    var f11: String
    var f12: Int
    var f13: String
    var f14: Int
    var f15: String
    var f16: Int
    var f17: String
    var f18: Int
    var f19: String

    init(seed: Int) {
        f0 = seed &* 1
        f1 = "v\(seed + 1)"
        f2 = seed &* 3
        f3 = "v\(seed + 3)"
        f4 = seed &* 5
        f5 = "v\(seed + 5)"
        f6 = seed &* 7
        f7 = "v\(seed + 7)"
        f8 = seed &* 9
        f9 = "v\(seed + 9)"
        f10 = seed &* 11
        f11 = "v\(seed + 11)"
        f12 = seed &* 13
        f13 = "v\(seed + 13)"
        f14 = seed &* 15
        f15 = "v\(seed + 15)"
        f16 = seed &* 17
        f17 = "v\(seed + 17)"
        f18 = seed &* 19
        f19 = "v\(seed + 19)"
    }

    // Read back to front: every lookup starts where the last one ended and wraps around.
    init(fields: borrowing PayloadFields) throws {
        f19 = try fields.decode(forKey: "f19")
        f18 = try fields.decode(forKey: "f18")
        f17 = try fields.decode(forKey: "f17")
        f16 = try fields.decode(forKey: "f16")
        f15 = try fields.decode(forKey: "f15")
        f14 = try fields.decode(forKey: "f14")
        f13 = try fields.decode(forKey: "f13")
        f12 = try fields.decode(forKey: "f12")
        f11 = try fields.decode(forKey: "f11")
        f10 = try fields.decode(forKey: "f10")
        f9 = try fields.decode(forKey: "f9")
        f8 = try fields.decode(forKey: "f8")
        f7 = try fields.decode(forKey: "f7")
        f6 = try fields.decode(forKey: "f6")
        f5 = try fields.decode(forKey: "f5")
        f4 = try fields.decode(forKey: "f4")
        f3 = try fields.decode(forKey: "f3")
        f2 = try fields.decode(forKey: "f2")
        f1 = try fields.decode(forKey: "f1")
        f0 = try fields.decode(forKey: "f0")
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
    func aPayloadWithMoreFieldsThanTheStackTableHoldsReadsWhole(codec: any EventCodec) throws {
        for seed in [0, 7, -123_456] {
            let wide = Wide(seed: seed)
            #expect(try viaFields(Wide.self, try codec.encode(wide), codec) == wide)
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
            try await store.readStream(key) { record, position in
                if case .registered(.tracked(let event)) = try types.decode(record, at: position, codec: codec) { events.append(event) }
            }
            #expect(events.map(\.product) == ["tea"] && events.map(\.quantity) == [2])
            #expect(events.map(\.viaFields) == [expected], "\(type(of: codec))")
        }
    }
}
