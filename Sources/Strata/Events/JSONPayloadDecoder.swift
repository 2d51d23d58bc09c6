import Foundation
import StrataStorage

// Decoding of JSON payloads (RFC 8259) in place, for `JSONEventCodec`: what Foundation's `JSONEncoder` writes
// decodes to the same values Foundation's `JSONDecoder` gives (default strategies: `Data` as Base64, `Date` as
// seconds since 2001, `URL` as its string, `Decimal` as a number), strictly (malformed JSON, a missing key or a
// wrong type throws `DecodingError` with the coding path), without copying the payload and without building a
// tree: a keyed container indexes its object's fields once, an unkeyed container its array's elements, and each
// value is parsed where it lies when asked for.

/// One decode of one JSON payload.
final class JSONPayloadReader: PrimitiveReading {
    let payload: UnsafeRawBufferPointer
    // Unchecked exclusivity: a reader belongs to one decode, run synchronously on one thread, and no access to
    // these properties overlaps another. Dynamic checks cost more than the reads they guard.
    @exclusivity(unchecked) var position = 0
    @exclusivity(unchecked) var depth = 0
    /// Object fields (key, value token) and array elements (empty key, value token) of every container opened.
    @exclusivity(unchecked) var fields: FieldTable
    /// The payload's value: where it starts, and where it ends once a container has parsed it (-1 before).
    @exclusivity(unchecked) var topStart = -1
    @exclusivity(unchecked) var topEnd = -1
    /// `Date`s as RFC 3339 strings (Foundation's `.iso8601` strategy, fractional seconds accepted too) instead of
    /// seconds since 2001: the dates of StrataHTTP's request bodies.
    @exclusivity(unchecked) var iso8601Dates = false

    init(_ payload: UnsafeRawBufferPointer) {
        self.payload = payload
        fields = FieldTable()
    }

    /// A reader whose field table starts on `buffer` (the caller's, valid as long as the reader).
    init(_ payload: UnsafeRawBufferPointer, tableOn buffer: UnsafeMutableBufferPointer<Int>) {
        self.payload = payload
        fields = FieldTable(on: buffer)
    }

    /// Decodes the whole payload as `type`: one value, nothing but whitespace around it.
    func decodePayload<T: Decodable>(_ type: T.Type) throws -> T {
        skipWhitespace()
        topStart = position
        let value = try value(type, at: topStart, path: nil)
        if topEnd < 0 {
            // No container parsed the value whole (a primitive, or a type that read nothing): check its syntax.
            position = topStart
            try skipValue()
        } else {
            position = topEnd
        }
        skipWhitespace()
        guard position == payload.count else { throw syntaxError("data after the value") }
        return value
    }

    /// Parses the payload as one object (nothing but whitespace around it) for `PayloadFields`: its fields.
    func openPayloadObject() throws -> Range<Int> {
        skipWhitespace()
        let fields = try openObject(path: nil)
        skipWhitespace()
        guard position == payload.count else { throw syntaxError("data after the value") }
        return fields
    }

    // MARK: Errors

    func syntaxError(_ reason: String, path: CodingPathNode? = nil) -> DecodingError {
        .dataCorrupted(DecodingError.Context(codingPath: CodingPathNode.path(path), debugDescription: "JSON at byte \(position): \(reason)"))
    }

    func failure(_ reason: String) -> any Error { syntaxError(reason) }

    // MARK: Tokens

    @inline(__always) var byte: UInt8 { position < payload.count ? payload[position] : 0 }

    /// A `JSONSyntax` token reader at `position`, its failure as a `DecodingError`.
    @inline(__always) private func syntax<T>(_ read: (UnsafeRawBufferPointer, inout Int) throws(JSONSyntax.Failure) -> T) throws -> T {
        do {
            return try read(payload, &position)
        } catch {
            position = error.offset
            throw syntaxError(error.reason)
        }
    }

    @inline(__always) func skipWhitespace() { JSONSyntax.skipWhitespace(payload, &position) }

    @inline(__always) func expect(_ character: UInt8, _ what: String) throws {
        guard byte == character else { throw syntaxError(position < payload.count ? "expected \(what)" : "ends early, expected \(what)") }
        position += 1
    }

    /// A string token from its opening quote, checked whole: its content's range and whether it holds escapes.
    func scanString() throws -> (Range<Int>, escaped: Bool) {
        try syntax { payload, at throws(JSONSyntax.Failure) in try JSONSyntax.scanString(payload, &at) }
    }

    /// The text of a string's content with its escapes resolved.
    func unescape(_ range: Range<Int>) throws -> String {
        let text = try syntax { payload, _ throws(JSONSyntax.Failure) in try JSONSyntax.unescape(payload, range) }
        return String(decoding: text, as: UTF8.self)  // checked UTF-8 by `unescape`
    }

    /// A number token; whether it is an integer.
    func scanNumber() throws -> Bool {
        try syntax { payload, at throws(JSONSyntax.Failure) in try JSONSyntax.scanNumber(payload, &at) }
    }

    /// Checks a value's syntax from `position` and leaves `position` after it.
    func skipValue() throws {
        let depth = self.depth
        try syntax { payload, at throws(JSONSyntax.Failure) in try JSONSyntax.skipValue(payload, &at, depth: depth) }
    }

    func literal(_ word: StaticString) throws {
        try syntax { payload, at throws(JSONSyntax.Failure) in try JSONSyntax.literal(payload, &at, word) }
    }

    func isNull(at start: Int) -> Bool {
        payload.count - start >= 4 && payload[start] == 0x6E && payload[start + 1] == 0x75 && payload[start + 2] == 0x6C && payload[start + 3] == 0x6C
    }

    // MARK: Containers

    private func nest(_ path: CodingPathNode?) throws {
        guard depth < JSONSyntax.depthMax else { throw syntaxError("values nest deeper than \(JSONSyntax.depthMax)", path: path) }
        depth += 1
    }

    /// Parses the object at `position` (checking every value's syntax), records its fields, leaves `position`
    /// after it. Returns the fields' run in the table.
    func openObject(path: CodingPathNode?) throws -> Range<Int> {
        guard byte == 0x7B else { throw typeMismatch([String: Any].self, "an object", path) }
        try nest(path)
        let begin = position
        defer {
            depth -= 1
            if begin == topStart { topEnd = position }
        }
        position += 1
        let first = fields.count
        skipWhitespace()
        if byte == 0x7D {
            position += 1
            return first..<first
        }
        while true {
            skipWhitespace()
            let (key, escaped) = try scanString()
            skipWhitespace()
            try expect(0x3A, "':'")
            skipWhitespace()
            let start = position
            if byte == 0x22 {
                // A string value is checked here once; `PayloadFields` then makes its text without a second scan.
                let (_, valueEscaped) = try scanString()
                fields.append(key: key, value: start..<position, escaped: escaped, plainString: !valueEscaped)
            } else {
                try skipValue()
                fields.append(key: key, value: start..<position, escaped: escaped)
            }
            skipWhitespace()
            if byte == 0x2C {
                position += 1
                continue
            }
            try expect(0x7D, "',' or '}'")
            return first..<fields.count
        }
    }

    /// Parses the array at `position`, records its elements, leaves `position` after it.
    func openArray(path: CodingPathNode?) throws -> Range<Int> {
        guard byte == 0x5B else { throw typeMismatch([Any].self, "an array", path) }
        try nest(path)
        let begin = position
        defer {
            depth -= 1
            if begin == topStart { topEnd = position }
        }
        position += 1
        let first = fields.count
        skipWhitespace()
        if byte == 0x5D {
            position += 1
            return first..<first
        }
        while true {
            skipWhitespace()
            let start = position
            try skipValue()
            fields.append(key: start..<start, value: start..<position)
            skipWhitespace()
            if byte == 0x2C {
                position += 1
                continue
            }
            try expect(0x5D, "',' or ']'")
            return first..<fields.count
        }
    }

    /// Whether the escaped key of `field` reads `name`.
    func escapedKey(_ field: Int, equals name: String) -> Bool {
        (try? unescape(fields.key(field))) == name
    }

    func keyText(_ field: Int) -> String {
        fields.isEscaped(field)
            ? ((try? unescape(fields.key(field))) ?? "")
            : String(decoding: UnsafeRawBufferPointer(rebasing: payload[fields.key(field)]), as: UTF8.self)
    }

    // MARK: Values

    func typeMismatch(_ type: Any.Type, _ expected: String, _ path: CodingPathNode?) -> DecodingError {
        let found: String =
            switch byte {
            case 0x22: "a string"
            case 0x7B: "an object"
            case 0x5B: "an array"
            case 0x74, 0x66: "a bool"
            case 0x6E: "null"
            default: "a number"
            }
        return .typeMismatch(
            type, DecodingError.Context(codingPath: CodingPathNode.path(path), debugDescription: "expected \(expected), found \(found) at byte \(position)"))
    }

    func bool() throws -> Bool {
        switch byte {
        case 0x74:
            try literal("true")
            return true
        case 0x66:
            try literal("false")
            return false
        default: throw typeMismatch(Bool.self, "a bool", nil)
        }
    }

    func string() throws -> String {
        guard byte == 0x22 else { throw typeMismatch(String.self, "a string", nil) }
        let (range, escaped) = try scanString()
        if escaped { return try unescape(range) }
        // `scanString` checked the bytes are UTF-8: decoding them repairs nothing.
        return String(decoding: UnsafeRawBufferPointer(rebasing: payload[range]), as: UTF8.self)
    }

    /// The text of the number token at `position` (moved past it), and whether it is an integer.
    private func numberToken(_ type: Any.Type) throws -> (Range<Int>, integral: Bool) {
        let c = byte
        guard c == 0x2D || c &- 0x30 < 10 else { throw typeMismatch(type, "a number", nil) }
        let start = position
        let integral = try scanNumber()
        return (start..<position, integral)
    }

    private func parseDouble(_ range: Range<Int>) -> Double? { Double(text(range)) }

    /// Whether a number's digits before its exponent are not all zero: such a number read as 0 underflowed, and
    /// is refused as `JSONDecoder` refuses it.
    private func hasNonZeroDigit(_ range: Range<Int>) -> Bool {
        for i in range {
            switch payload[i] {
            case 0x31...0x39: return true
            case 0x65, 0x45: return false
            default: continue
            }
        }
        return false
    }

    func double() throws -> Double {
        let (range, integral) = try numberToken(Double.self)
        if integral && range.count <= 15 {
            // Up to 15 digits: exact as an integer, and as a Double ("-0" is -0.0, as JSONDecoder reads it).
            let value = parseInteger(range)
            return value == 0 && payload[range.lowerBound] == 0x2D ? -0.0 : Double(value)
        }
        guard let value = parseDouble(range), value.isFinite, value != 0 || !hasNonZeroDigit(range) else {
            throw syntaxError("number does not fit Double")
        }
        return value
    }

    func float() throws -> Float {
        let (range, integral) = try numberToken(Float.self)
        // Up to 7 digits: exact as an integer, and as a Float.
        if integral && range.count <= 7 {
            let value = parseInteger(range)
            return value == 0 && payload[range.lowerBound] == 0x2D ? -0.0 : Float(value)
        }
        guard let value = Float(text(range)), value.isFinite, value != 0 || !hasNonZeroDigit(range) else {
            throw syntaxError("number does not fit Float")
        }
        return value
    }

    /// The magnitude of an integer token of at most 19 digits (and its sign).
    private func parseInteger(_ range: Range<Int>) -> Int64 {
        var i = range.lowerBound
        let negative = payload[i] == 0x2D
        if negative { i += 1 }
        var value: Int64 = 0
        while i < range.upperBound {
            value = value * 10 + Int64(payload[i] &- 0x30)
            i += 1
        }
        return negative ? -value : value
    }

    /// A number with a fraction or an exponent that is exactly an integer (Foundation accepts those for integer
    /// types), through `Decimal`'s exact parsing.
    private func exactInteger(_ range: Range<Int>) throws -> Decimal {
        guard let value = Decimal(string: text(range), locale: nil), value.isFinite else { throw syntaxError("bad number") }
        var rounded = Decimal()
        var copy = value
        NSDecimalRound(&rounded, &copy, 0, .plain)
        guard rounded == value else { throw syntaxError("number is not an integer") }
        return value
    }

    private func text(_ range: Range<Int>) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: payload[range]), as: UTF8.self) }

    func int64() throws -> Int64 {
        let (range, integral) = try numberToken(Int64.self)
        let digits = range.count - (payload[range.lowerBound] == 0x2D ? 1 : 0)
        if integral && digits <= 18 { return parseInteger(range) }
        if integral, let value = Int64(text(range)) { return value }
        if !integral, let value = Int64(try exactInteger(range).description) { return value }
        throw syntaxError("number does not fit Int64")
    }

    func uint64() throws -> UInt64 {
        let (range, integral) = try numberToken(UInt64.self)
        if integral && range.count <= 18 {
            let value = parseInteger(range)
            guard value >= 0 else { throw syntaxError("\(value) does not fit UInt64") }
            return UInt64(value)
        }
        if integral, let value = UInt64(text(range)) { return value }
        if !integral, let value = UInt64(try exactInteger(range).description) { return value }
        throw syntaxError("number does not fit UInt64")
    }

    /// Reads the value at `start` (a whole token, as the container recorded it).
    func value<T: Decodable>(_ type: T.Type, at start: Int, path: CodingPathNode?) throws -> T {
        position = start
        do {
            if let value = try primitive(type) { return value }
        } catch let error as DecodingError {
            throw error.at(path)
        }
        if iso8601Dates, type == Date.self {
            let text = try string()
            let date = (try? Date.ISO8601FormatStyle().parse(text)) ?? (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
            guard let date else { throw syntaxError("string is not an RFC 3339 date-time", path: path) }
            return date as! T
        }
        // The types `JSONEncoder` writes its own way (its default strategies).
        if type == Data.self {
            guard let data = Data(base64Encoded: try string()) else { throw syntaxError("string is not Base64", path: path) }
            return data as! T
        }
        if type == URL.self {
            guard let url = URL(string: try string()) else { throw syntaxError("string is not a URL", path: path) }
            return url as! T
        }
        if type == Decimal.self {
            let (range, _) = try numberToken(Decimal.self)
            guard let value = Decimal(string: text(range), locale: nil) else {
                throw syntaxError("bad number", path: path)
            }
            return value as! T
        }
        if let dictionary = type as? any JSONStringKeyedDictionary.Type {
            return try dictionary.decodeObject(self, at: start, path: path) as! T
        }
        return try T(from: JSONValueDecoder(reader: self, start: start, path: path))
    }
}

/// A whole JSON document (one value, whitespace around it) decoded as `T`, strictly, as `JSONPayloadReader`
/// decodes payloads — with `iso8601Dates`, `Date`s as RFC 3339 strings (what Foundation's `JSONDecoder` with
/// `.iso8601` reads). A malformed document, a missing key or a wrong type throws `DecodingError` with the coding
/// path. For StrataHTTP's request bodies.
package func decodeJSONDocument<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer, iso8601Dates: Bool) throws -> T {
    let reader = JSONPayloadReader(bytes)
    reader.iso8601Dates = iso8601Dates
    return try reader.decodePayload(type)
}

/// A dictionary with `String` keys, read straight from its object's field table: the standard library's
/// `init(from:)` asks for `allKeys` (a `CodingKey` made per key) and then looks each key up again. The result is
/// the same: each value decoded as `decode(_:forKey:)` would, the first of duplicate keys winning (as a keyed
/// container's lookup does).
protocol JSONStringKeyedDictionary {
    static func decodeObject(_ reader: JSONPayloadReader, at start: Int, path: CodingPathNode?) throws -> Self
}

extension Dictionary: JSONStringKeyedDictionary where Key == String, Value: Decodable {
    static func decodeObject(_ reader: JSONPayloadReader, at start: Int, path: CodingPathNode?) throws -> [String: Value] {
        reader.position = start
        let fields = try reader.openObject(path: path)
        let end = reader.position
        var result: [String: Value] = [:]
        result.reserveCapacity(fields.count)
        for field in fields {
            let key = reader.keyText(field)
            guard result.index(forKey: key) == nil else { continue }
            result[key] = try reader.value(Value.self, at: reader.fields.value(field)!.lowerBound, path: CodingPathNode(path, PayloadKey(key)))
        }
        reader.position = end
        return result
    }
}

extension DecodingError {
    /// The same error with `path` as its coding path (primitive reads do not know where they are).
    func at(_ path: CodingPathNode?) -> DecodingError {
        guard let path else { return self }
        switch self {
        case .typeMismatch(let type, let context):
            return .typeMismatch(type, DecodingError.Context(codingPath: CodingPathNode.path(path), debugDescription: context.debugDescription))
        case .dataCorrupted(let context):
            return .dataCorrupted(DecodingError.Context(codingPath: CodingPathNode.path(path), debugDescription: context.debugDescription))
        default: return self
        }
    }
}

/// The `Decoder` handed to a value's `init(from:)`: the value's first byte. (Three words: the `any Decoder`
/// holding it needs no allocation.)
struct JSONValueDecoder: Decoder {
    let reader: JSONPayloadReader
    let start: Int
    let path: CodingPathNode?

    var codingPath: [any CodingKey] { CodingPathNode.path(path) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        reader.position = start
        return KeyedDecodingContainer(JSONKeyedDecoder<Key>(reader: reader, fields: try reader.openObject(path: path), path: path))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        reader.position = start
        return JSONUnkeyedDecoder(reader: reader, elements: try reader.openArray(path: path), path: path)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { JSONSingleValueDecoder(decoder: self) }
}

struct JSONKeyedDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let reader: JSONPayloadReader
    let fields: Range<Int>
    let path: CodingPathNode?

    var codingPath: [any CodingKey] { CodingPathNode.path(path) }

    var allKeys: [Key] { fields.compactMap { Key(stringValue: reader.keyText($0)) } }

    private func find(_ name: String) -> Int? {
        let reader = self.reader
        return reader.fields.find(name, in: fields, payload: reader.payload) { reader.escapedKey($0, equals: $1) }
    }

    func contains(_ key: Key) -> Bool { find(key.stringValue) != nil }

    private func missing(_ key: Key) -> DecodingError {
        .keyNotFound(key, DecodingError.Context(codingPath: codingPath, debugDescription: "no field \"\(key.stringValue)\" in the JSON object"))
    }

    /// Where the value of `key` starts; throws when the field is absent.
    private func start(_ key: Key) throws -> Int {
        guard let field = find(key.stringValue) else { throw missing(key) }
        return reader.fields.value(field)!.lowerBound
    }

    func decodeNil(forKey key: Key) throws -> Bool { reader.isNull(at: try start(key)) }

    /// A field that must hold a value (not null), read by `body` at its start.
    @inline(__always) private func required<T>(_ key: Key, _ body: (JSONPayloadReader) throws -> T) throws -> T {
        let start = try start(key)
        guard !reader.isNull(at: start) else {
            throw DecodingError.valueNotFound(T.self, DecodingError.Context(codingPath: codingPath + [key], debugDescription: "field is null"))
        }
        reader.position = start
        do {
            return try body(reader)
        } catch let error as DecodingError {
            throw error.at(CodingPathNode(path, key))
        }
    }

    /// A field's value, nil when the field is absent or null.
    @inline(__always) private func optional<T>(_ key: Key, _ body: (JSONPayloadReader) throws -> T) throws -> T? {
        guard let field = find(key.stringValue) else { return nil }
        let start = reader.fields.value(field)!.lowerBound
        guard !reader.isNull(at: start) else { return nil }
        reader.position = start
        do {
            return try body(reader)
        } catch let error as DecodingError {
            throw error.at(CodingPathNode(path, key))
        }
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try required(key) { try $0.bool() } }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try required(key) { try $0.string() } }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try required(key) { try $0.double() } }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try required(key) { try $0.float() } }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try required(key) { try $0.signed(Int.self) } }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try required(key) { try $0.signed(Int8.self) } }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try required(key) { try $0.signed(Int16.self) } }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try required(key) { try $0.signed(Int32.self) } }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try required(key) { try $0.int64() } }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try required(key) { try $0.unsigned(UInt.self) } }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try required(key) { try $0.unsigned(UInt8.self) } }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try required(key) { try $0.unsigned(UInt16.self) } }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try required(key) { try $0.unsigned(UInt32.self) } }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try required(key) { try $0.uint64() } }

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try optional(key) { try $0.bool() } }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try optional(key) { try $0.string() } }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try optional(key) { try $0.double() } }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { try optional(key) { try $0.float() } }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try optional(key) { try $0.signed(Int.self) } }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try optional(key) { try $0.signed(Int8.self) } }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try optional(key) { try $0.signed(Int16.self) } }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try optional(key) { try $0.signed(Int32.self) } }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try optional(key) { try $0.int64() } }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try optional(key) { try $0.unsigned(UInt.self) } }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try optional(key) { try $0.unsigned(UInt8.self) } }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try optional(key) { try $0.unsigned(UInt16.self) } }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try optional(key) { try $0.unsigned(UInt32.self) } }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try optional(key) { try $0.uint64() } }

    /// Any other type, `Optional`s included (an `Optional` reads null itself, as with `JSONDecoder`).
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try reader.value(type, at: try start(key), path: CodingPathNode(path, key))
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let field = find(key.stringValue) else { return nil }
        let start = reader.fields.value(field)!.lowerBound
        guard !reader.isNull(at: start) else { return nil }
        return try reader.value(type, at: start, path: CodingPathNode(path, key))
    }

    private func fieldDecoder(_ key: any CodingKey) throws -> JSONValueDecoder {
        guard let field = find(key.stringValue) else {
            throw DecodingError.keyNotFound(key, DecodingError.Context(codingPath: codingPath, debugDescription: "no field \"\(key.stringValue)\" in the JSON object"))
        }
        return JSONValueDecoder(reader: reader, start: reader.fields.value(field)!.lowerBound, path: CodingPathNode(path, key))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try fieldDecoder(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try fieldDecoder(key).unkeyedContainer() }

    func superDecoder() throws -> any Decoder { try fieldDecoder(PayloadKey(superKey)) }
    func superDecoder(forKey key: Key) throws -> any Decoder { try fieldDecoder(key) }
}

struct JSONUnkeyedDecoder: UnkeyedDecodingContainer {
    let reader: JSONPayloadReader
    let elements: Range<Int>
    let path: CodingPathNode?
    var currentIndex = 0

    var codingPath: [any CodingKey] { CodingPathNode.path(path) }
    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    /// The next element's start, and its path.
    private mutating func next(_ type: Any.Type) throws -> (Int, CodingPathNode) {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, DecodingError.Context(codingPath: codingPath, debugDescription: "no more elements"))
        }
        defer { currentIndex += 1 }
        return (reader.fields.value(elements.lowerBound + currentIndex)!.lowerBound, CodingPathNode(path, PayloadKey(index: currentIndex)))
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, reader.isNull(at: reader.fields.value(elements.lowerBound + currentIndex)!.lowerBound) else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (start, path) = try next(type)
        return try reader.value(type, at: start, path: path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let (start, path) = try next([String: Any].self)
        return try JSONValueDecoder(reader: reader, start: start, path: path).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (start, path) = try next([Any].self)
        return try JSONValueDecoder(reader: reader, start: start, path: path).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let (start, path) = try next(Any.self)
        return JSONValueDecoder(reader: reader, start: start, path: path)
    }
}

struct JSONSingleValueDecoder: SingleValueDecodingContainer {
    let decoder: JSONValueDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }

    func decodeNil() -> Bool { decoder.reader.isNull(at: decoder.start) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.reader.value(type, at: decoder.start, path: decoder.path) }
}
