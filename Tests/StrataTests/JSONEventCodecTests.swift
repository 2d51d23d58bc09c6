import Foundation
import PropertyBased
import Strata
import Testing

/// Strata's JSON decoder against Foundation's: the same values from what `JSONEncoder` writes, the same
/// refusals of what is not JSON or not the type.
@Suite struct JSONEventCodecTests {
    let codec = JSONEventCodec()

    func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try Array(json.utf8).withUnsafeBytes { try codec.decode(type, from: $0) }
    }

    func foundation<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(json.utf8))
    }

    @Test func whatJSONEncoderWritesDecodesToTheSameValueAsWithJSONDecoder() async throws {
        await propertyCheck(count: 300, input: Gen<UInt64>.value(in: 0...UInt64.max)) { seed in
            let sample = Sample.random(seed)
            let bytes = try codec.encode(sample)
            let ours = try bytes.withUnsafeBytes { try codec.decode(Sample.self, from: $0) }
            #expect(ours == sample)
            #expect(ours == (try JSONDecoder().decode(Sample.self, from: Data(bytes))))
        }
        struct Special: Codable, Equatable {
            var data: Data
            var url: URL
            var decimal: Decimal
            var date: Date
            var ints: [Int: String]
            var nothing: [String]
        }
        let special = Special(
            data: Data([0, 1, 2, 250, 255]), url: URL(string: "https://example.com/a?b=c")!, decimal: Decimal(string: "12345.678901234567890123")!,
            date: Date(timeIntervalSinceReferenceDate: 123_456.25), ints: [1: "one", -2: "minus two"], nothing: [])
        let bytes = try codec.encode(special)
        #expect(try bytes.withUnsafeBytes { try codec.decode(Special.self, from: $0) } == special)
        #expect(try decode(Tree.self, String(decoding: try codec.encode(Tree.node([.leaf, .node([])])), as: UTF8.self)) == .node([.leaf, .node([])]))
    }

    /// What Foundation's `JSONEncoder` writes with the codec's settings.
    func foundationJSON<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    func ourJSON<T: Encodable>(_ value: T) throws -> String { String(decoding: try codec.encode(value), as: UTF8.self) }

    func same<T: Encodable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (ours, theirs) = (try ourJSON(value), try foundationJSON(value))
        #expect(ours == theirs, sourceLocation: sourceLocation)
    }

    @Test func theEncoderWritesWhatJSONEncoderWritesByteForByte() async throws {
        await propertyCheck(count: 300, input: Gen<UInt64>.value(in: 0...UInt64.max)) { seed in
            let sample = Sample.random(seed)
            try same(sample)
            // Any finite Double and Float, from its bits.
            var rng = SeededGenerator(seed: seed)
            let double = Double(bitPattern: rng.next()), float = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
            if double.isFinite { try same([double]) }
            if float.isFinite { try same([float]) }
        }
        let keys = ["b", "B", "a10", "a9", "_x", "Z", "é", "e", "ß", "~", "ｆ", "1", "10", "9", "", "a b", "quote\"", "tab\t"]
        let dictionary = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, $0) })
        try same(dictionary)
        let numbers: [Double] = [1, 0.1, -0.0, 1e20, 1e21, 1e-7, 123_456_789.125, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 100, 1e16, 2.5, -3]
        try same(numbers)
        let floats: [Float] = [1, 0.1, 1e20, .greatestFiniteMagnitude, 1e-7, -0.5]
        try same(floats)
        let text = "a\"b\\c/d" + (0..<32).map { String(UnicodeScalar(UInt8($0))) }.joined() + "\u{7f}é😀\u{2028}"
        try same([text: text])
        let special = (Data([0, 1, 2, 250, 255]), URL(string: "https://example.com/a?b=c")!, Decimal(string: "-12345.678901234567890123")!)
        try same([special.0])
        try same([special.1])
        try same([special.2])
        try same([Int64.min, Int64.max, 0, -1])
        try same([UInt64.max, 0])
        try same([1: "a", -2: "b"])
        try same([Int?.none, 1])
        try same(Int?.none)
        try same("plain")
        try same([String: Int]())
        try same(Twice())
        #expect(try ourJSON(Twice()) == #"{"a":2,"n":null}"#)
        #expect(throws: EncodingError.self) { try codec.encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try codec.encode([Float.infinity]) }
    }

    /// Encodes a key twice (the last value stands, as in `JSONEncoder`) and an explicit nil.
    struct Twice: Encodable {
        enum CodingKeys: CodingKey { case a, n }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(1, forKey: .a)
            try container.encodeNil(forKey: .n)
            try container.encode(2, forKey: .a)
        }
    }

    @Test func jsonWrittenByHandReadsAsJSONDecoderReadsIt() throws {
        struct Item: Codable, Equatable {
            var name: String
            var count: Int
            var price: Double
            var note: String?
        }
        let documents = [
            #"  {"name":"tea","count":2,"price":1.5}  "#,
            "{\n\t\"count\" : -0 ,\r\n \"name\" : \"\" , \"price\" : 0 , \"note\" : null }",
            #"{"name":"a\"b\\c\/d\b\f\n\r\t","count":1e2,"price":-1.25E-3,"note":"\u00e9\u2713\ud83d\ude00"}"#,
            #"{"name":"é✓😀","count":9223372036854775807,"price":1e308,"unknown":{"deep":[1,2,{"x":null}]}}"#,
            #"{"name":"x","count":-9223372036854775808,"price":123456789012345678901234567890}"#,
            #"{"name":"x","count":3.0,"price":5,"note":"n"}"#,
            #"{"n\u0061me":"escaped key","count":1,"price":2}"#,
        ]
        for json in documents {
            let expected = try foundation(Item.self, json)
            #expect(try decode(Item.self, json) == expected, "\(json)")
        }
        #expect(try decode([Int?].self, "[1,null,3]") == [1, nil, 3])
        #expect(try decode(Int?.self, "null") == nil)
        #expect(try decode(String.self, #" "plain" "#) == "plain")
        #expect(try decode([String: [Double]].self, #"{"a":[],"b":[1,2.5]}"#) == ["a": [], "b": [1, 2.5]])
        // String-keyed dictionaries take their own path: the same values as JSONDecoder, escaped keys, nulls,
        // nesting; a duplicate key keeps its first value (as a keyed container's lookup finds it).
        let dictionaries = [
            #"{"a":1,"\u00e9\n":2,"":3}"#, #"{}"#, #" { "x" : -4 , "y" : 5e1 } "#,
        ]
        for json in dictionaries { #expect(try decode([String: Int].self, json) == (try foundation([String: Int].self, json)), "\(json)") }
        #expect(try decode([String: Int?].self, #"{"a":null,"b":2}"#) == ["a": nil, "b": 2])
        #expect(try decode([String: [String: Int]].self, #"{"t":{"coffee":2},"u":{}}"#) == ["t": ["coffee": 2], "u": [:]])
        #expect(try decode([String: Int].self, #"{"a":1,"a":2}"#) == ["a": 1])
        #expect(throws: DecodingError.self) { try decode([String: Int].self, #"{"a":null}"#) }
        #expect(throws: DecodingError.self) { try decode([String: Int].self, #"{"a":"1"}"#) }
        #expect(throws: DecodingError.self) { try decode([String: Int].self, #"[1]"#) }
        let big = Dictionary(uniqueKeysWithValues: (0..<500).map { ("key-\($0)", $0) })
        #expect(try codec.encode(big).withUnsafeBytes { try codec.decode([String: Int].self, from: $0) } == big)
    }

    @Test func whatIsNotJSONOrNotTheTypeIsRefusedLikeJSONDecoderRefusesIt() throws {
        struct Item: Codable, Equatable {
            var name: String
            var count: Int
        }
        let refused = [
            "", " ", "{", "}", "{\"name\":\"a\",\"count\":1", #"{"name":"a","count":1}}"#, #"{"name":"a","count":1} x"#,
            #"{"name":"a" "count":1}"#, #"{name:"a","count":1}"#, #"{'name':"a","count":1}"#,
            #"{"name":"a","count":01}"#, #"{"name":"a","count":+1}"#, #"{"name":"a","count":1.}"#, #"{"name":"a","count":.5}"#,
            #"{"name":"a","count":1e}"#, #"{"name":"a","count":1.5}"#, #"{"name":"a","count":9223372036854775808}"#,
            #"{"name":"a","count":"1"}"#, #"{"name":1,"count":1}"#, #"{"name":null,"count":1}"#, #"{"count":1}"#,
            #"{"name":"a\x","count":1}"#, #"{"name":"a\ud800","count":1}"#, #"{"name":"a\udc00x","count":1}"#,
            "{\"name\":\"a\u{01}\",\"count\":1}", #"{"name":"a","count":tru}"#, #"{"name":"a","count":NaN}"#, "[1,2]", "null",
        ]
        for json in refused {
            #expect(throws: DecodingError.self, "\(json)") { try decode(Item.self, json) }
            #expect(throws: (any Error).self, "Foundation accepts \(json)") { try foundation(Item.self, json) }
        }
        // Numbers a Double or Float cannot hold, as JSONDecoder refuses them: overflow, and underflow to zero
        // (subnormals are kept). Found by FuzzEventPayload.
        for number in ["1e309", "-1e309", "4.5e-400", "1e-999999999999"] {
            #expect(throws: DecodingError.self, "\(number)") { try decode(Double.self, number) }
        }
        #expect(try decode(Double.self, "5e-324") == Double.leastNonzeroMagnitude)
        #expect(try decode(Double.self, "-0").sign == .minus)
        #expect(try decode(Float.self, "-0").sign == .minus)
        #expect(try decode(Double.self, "0e-999") == 0)
        #expect(throws: DecodingError.self) { try decode(Float.self, "1e-46") }
        #expect(throws: DecodingError.self) { try decode(Float.self, "3.5e38") }
        #expect(try decode(Float.self, "1e-40") == Float("1e-40")!)
        // Stricter than Foundation, as RFC 8259 is: no trailing comma.
        #expect(throws: DecodingError.self) { try decode(Item.self, #"{"name":"a","count":1,}"#) }
        #expect(throws: DecodingError.self) { try decode([Int].self, "[1,]") }
        // What a field the type does not read holds must be JSON too (found by FuzzEventPayload).
        #expect(throws: DecodingError.self) { try decode(Item.self, #"{"name":"a","count":1,"other":"\:"}"#) }
        #expect(throws: DecodingError.self) { try decode(Item.self, #"{"name":"a","count":1,"other":["\ud800"]}"#) }
        var unknownKey = Array(#"{"name":"a","count":1,"xy":0}"#.utf8)
        unknownKey[23] = 0xE3
        #expect(throws: DecodingError.self) { try unknownKey.withUnsafeBytes { try codec.decode(Item.self, from: $0) } }
        // Invalid UTF-8 inside a string.
        var bytes = Array(#"{"name":"ab","count":1}"#.utf8)
        bytes[10] = 0xFF
        #expect(throws: DecodingError.self) { try bytes.withUnsafeBytes { try codec.decode(Item.self, from: $0) } }
    }

    @Test func aWrongTypeNamesItsCodingPath() throws {
        struct Outer: Codable { var inner: [Inner] }
        do {
            _ = try decode(Outer.self, #"{"inner":[{"a":1},{"a":"two"}]}"#)
            Issue.record("decoded a string as Int")
        } catch let DecodingError.typeMismatch(_, context) {
            #expect(context.codingPath.map(\.stringValue) == ["inner", "Index 1", "a"])
        }
        do {
            _ = try decode(Outer.self, #"{"inner":[{"b":"x"}]}"#)
            Issue.record("decoded a missing key")
        } catch let DecodingError.keyNotFound(key, context) {
            #expect(key.stringValue == "a")
            #expect(context.codingPath.map(\.stringValue) == ["inner", "Index 0"])
        }
    }

    @Test func damageNeverTrapsAndNestingIsBounded() throws {
        let good = try codec.encode(Sample.random(7))
        for cut in 0..<good.count {
            #expect(throws: (any Error).self) { try Array(good.prefix(cut)).withUnsafeBytes { try codec.decode(Sample.self, from: $0) } }
        }
        for index in good.indices {
            for flip in [0x01, 0x20, 0x80, 0xFF] as [UInt8] {
                var bad = good
                bad[index] ^= flip
                _ = try? bad.withUnsafeBytes { try codec.decode(Sample.self, from: $0) }
            }
        }
        #expect(throws: DecodingError.self) { try decode([Int].self, String(repeating: "[", count: 100_000)) }
        #expect(throws: DecodingError.self) { try decode(Tree.self, String(repeating: #"{"node":{"_0":["#, count: 300)) }
        var deep = Tree.leaf
        for _ in 0..<60 { deep = .node([deep]) }
        #expect(try decode(Tree.self, String(decoding: try codec.encode(deep), as: UTF8.self)) == deep)
    }
}
