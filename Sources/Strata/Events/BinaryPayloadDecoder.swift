import StrataStorage

// Decoding of BinaryEventCodec payloads (the layout is in BinaryEventCodec.swift), in place.
//
// One `BinaryPayloadReader` per decode. Every value is read from `position` without passing `limit`, and leaves
// `position` at its end: a keyed container's field is read with `position`/`limit` set to exactly the field's
// bytes (and must use them all); an unkeyed container keeps its own cursor and lends it to each element.

/// A cursor on a binary payload: the primitive reads, each from `position` without passing `limit`, leaving
/// `position` after what it read. A value, no allocation: `PayloadFields` reads a `FieldDecodable` event's
/// primitive fields with one, the reader below keeps one for everything else.
struct BinarySpan {
    let payload: UnsafeRawBufferPointer
    var position: Int
    var limit: Int

    init(_ payload: UnsafeRawBufferPointer, position: Int, limit: Int) {
        self.payload = payload
        self.position = position
        self.limit = limit
    }

    func fail(_ reason: String) -> BinaryCodecError { BinaryCodecError(offset: position, reason: reason) }

    @inline(__always) mutating func u8() throws(BinaryCodecError) -> UInt8 {
        guard position < limit else { throw fail("payload ends early") }
        defer { position += 1 }
        return payload[position]
    }

    @inline(__always) mutating func varint() throws(BinaryCodecError) -> UInt64 {
        // One byte: the common case (small integers, short strings, every key's length).
        if position < limit, payload[position] < 0x80 {
            defer { position += 1 }
            return UInt64(payload[position])
        }
        return try longVarint()
    }

    private mutating func longVarint() throws(BinaryCodecError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try u8()
            if shift == 63 && byte > 1 { throw fail("varint overflows 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw fail("varint longer than 10 bytes") }
        }
    }

    @inline(__always) mutating func length() throws(BinaryCodecError) -> Int {
        let value = try varint()
        guard value <= UInt64(limit - position) else { throw fail("length \(value) runs past the payload") }
        return Int(value)
    }

    @inline(__always) private mutating func fixed<I: FixedWidthInteger>(_: I.Type) throws(BinaryCodecError) -> I {
        guard limit - position >= MemoryLayout<I>.size else { throw fail("payload ends early") }
        defer { position += MemoryLayout<I>.size }
        return I(littleEndian: payload.loadUnaligned(fromByteOffset: position, as: I.self))
    }

    mutating func u32() throws(BinaryCodecError) -> UInt32 { try fixed(UInt32.self) }

    mutating func bool() throws(BinaryCodecError) -> Bool {
        switch try u8() {
        case 0: return false
        case 1: return true
        case let byte:
            position -= 1
            throw fail("bool byte \(byte)")
        }
    }

    mutating func string() throws(BinaryCodecError) -> String {
        let count = try length()
        guard let text = utf8String(UnsafeRawBufferPointer(start: payload.baseAddress! + position, count: count)) else {
            throw fail("string is not UTF-8")
        }
        position += count
        return text
    }

    mutating func double() throws(BinaryCodecError) -> Double { Double(bitPattern: try fixed(UInt64.self)) }
    mutating func float() throws(BinaryCodecError) -> Float { Float(bitPattern: try fixed(UInt32.self)) }
    mutating func int64() throws(BinaryCodecError) -> Int64 { unzigzag(try varint()) }
    mutating func uint64() throws(BinaryCodecError) -> UInt64 { try varint() }

    mutating func signed<I: FixedWidthInteger & SignedInteger>(_: I.Type) throws(BinaryCodecError) -> I {
        let value = try int64()
        guard let exact = I(exactly: value) else { throw fail("\(value) does not fit \(I.self)") }
        return exact
    }

    mutating func unsigned<I: FixedWidthInteger & UnsignedInteger>(_: I.Type) throws(BinaryCodecError) -> I {
        let value = try uint64()
        guard let exact = I(exactly: value) else { throw fail("\(value) does not fit \(I.self)") }
        return exact
    }

    /// Parses a keyed container's header at `position` into `fields`; leaves `position` after the container.
    /// Returns the container's fields in the table.
    mutating func openKeyed(into fields: inout FieldTable) throws(BinaryCodecError) -> Range<Int> {
        let count = try u32()
        // Each field takes at least two bytes: a count past that is damage, refused before any allocation.
        guard Int(count) <= (limit - position) / 2 else { throw fail("field count \(count) runs past the payload") }
        let first = fields.count
        for _ in 0..<count {
            let keyLength = try length()
            let keyStart = position
            position &+= keyLength
            let keyEnd = position
            switch try u8() {
            case 0: fields.append(keyStart, keyEnd, -1, -1)
            case 1:
                let length = try length()
                fields.append(keyStart, keyEnd, position, position &+ length)
                position &+= length
            case let tag:
                position -= 1
                throw fail("field presence byte \(tag)")
            }
        }
        return first..<(first + Int(count))
    }
}

/// One decode of one binary payload.
final class BinaryPayloadReader: PrimitiveReading {
    /// How deep values may nest: a recursive type must not let a hostile payload exhaust the stack.
    static let depthMax = 256

    // Unchecked exclusivity: a reader belongs to one decode, run synchronously on one thread, and no access to
    // these properties overlaps another (none is passed `inout` across a call that reaches the reader again).
    // Dynamic checks cost more than the reads they guard.
    @exclusivity(unchecked) var span: BinarySpan
    @exclusivity(unchecked) var depth = 0
    @exclusivity(unchecked) var fields = FieldTable()

    var payload: UnsafeRawBufferPointer { span.payload }

    var position: Int {
        get { span.position }
        set { span.position = newValue }
    }

    var limit: Int {
        get { span.limit }
        set { span.limit = newValue }
    }

    init(_ payload: UnsafeRawBufferPointer, position: Int, limit: Int? = nil) {
        span = BinarySpan(payload, position: position, limit: limit ?? payload.count)
    }

    /// A reader of a whole payload, after its magic byte (checked, as is the payload's size: under 2 GiB).
    convenience init(payload bytes: UnsafeRawBufferPointer) throws(BinaryCodecError) {
        try Self.checkHeader(bytes)
        self.init(bytes, position: 1)
    }

    /// Checks a whole payload's magic byte and size (under 2 GiB).
    static func checkHeader(_ bytes: UnsafeRawBufferPointer) throws(BinaryCodecError) {
        guard bytes.first == BinaryEventCodec.magic else {
            throw BinaryCodecError(offset: 0, reason: bytes.isEmpty ? "empty payload" : "not a binary payload (first byte \(bytes[0]))")
        }
        guard bytes.count < 1 << 31 else { throw BinaryCodecError(offset: 0, reason: "payload of \(bytes.count) bytes (2 GiB or more)") }
    }

    func fail(_ reason: String) -> BinaryCodecError { span.fail(reason) }
    func failure(_ reason: String) -> any Error { fail(reason) }

    @inline(__always) func u8() throws(BinaryCodecError) -> UInt8 { try span.u8() }
    @inline(__always) func length() throws(BinaryCodecError) -> Int { try span.length() }
    func u32() throws(BinaryCodecError) -> UInt32 { try span.u32() }
    func bool() throws -> Bool { try span.bool() }
    func string() throws -> String { try span.string() }
    func double() throws -> Double { try span.double() }
    func float() throws -> Float { try span.float() }
    func int64() throws -> Int64 { try span.int64() }
    func uint64() throws -> UInt64 { try span.uint64() }

    /// Reads one value from `start` up to `limit`, leaving `position` at its end.
    func value<T: Decodable>(_ type: T.Type, path: CodingPathNode?) throws -> T {
        if let value = try primitive(type) { return value }
        if let optional = type as? any PayloadOptional.Type {
            switch try u8() {
            case 0: return optional.absent as! T
            case 1:
                guard let wrapped = optional.wrappedType as? any Decodable.Type else {
                    throw fail("optional of a type that is not Decodable")
                }
                return optional.wrapping(try value(wrapped, path: path)) as! T
            case let tag:
                position -= 1
                throw fail("optional presence byte \(tag)")
            }
        }
        guard depth < Self.depthMax else { throw fail("values nest deeper than \(Self.depthMax)") }
        depth += 1
        defer { depth -= 1 }
        if let dictionary = type as? any BinaryStringKeyedDictionary.Type {
            return try dictionary.decodeFields(self, path: path) as! T
        }
        return try T(from: BinaryValueDecoder(reader: self, start: position, limit: limit, path: path))
    }

    /// A keyed field's value, the reader on exactly its bytes. An `Optional` is its field's presence (see the
    /// encoder): a field with a value holds the wrapped value itself.
    func fieldValue<T: Decodable>(_ type: T.Type, path: CodingPathNode) throws -> T {
        if let value = try primitive(type) { return value }
        if let optional = type as? any PayloadOptional.Type {
            guard let wrapped = optional.wrappedType as? any Decodable.Type else { throw fail("optional of a type that is not Decodable") }
            return optional.wrapping(try value(wrapped, path: path)) as! T
        }
        return try value(type, path: path)
    }

    /// Runs `body` with the reader on exactly `range`, which it must read whole; restores the reader after.
    @inline(__always) func within<T>(_ range: Range<Int>, _ body: () throws -> T) throws -> T {
        let (savedPosition, savedLimit) = (position, limit)
        position = range.lowerBound
        limit = range.upperBound
        defer {
            position = savedPosition
            limit = savedLimit
        }
        let value = try body()
        guard position == range.upperBound else { throw fail("\(range.upperBound - position) bytes left in the value") }
        return value
    }

    /// Parses a keyed container's header at `position` into the field table; leaves `position` after the
    /// container. Returns the container's fields in the table.
    func openKeyed() throws(BinaryCodecError) -> Range<Int> { try span.openKeyed(into: &fields) }
}

/// The `Decoder` handed to a value's `init(from:)`: where the value starts and may end. (Three words, so the
/// `any Decoder` holding it needs no allocation.)
///
/// A decoder is *attached* when its value is being read in sequence (the payload itself, a field read by
/// `decode(_:forKey:)`, an element of an unkeyed container): its containers leave the reader's position at the
/// value's end, so whoever reads next (or checks that a field was read whole) continues from there. A decoder
/// handed out for later (`nestedContainer(forKey:)`, `nestedUnkeyedContainer(forKey:)`, `superDecoder`) is
/// *detached*: its containers put the reader's position back after each read.
struct BinaryValueDecoder: Decoder {
    let reader: BinaryPayloadReader
    /// The value's start (bits 0–31), limit (bits 32–62) and whether it is detached (bit 63); payloads are under
    /// 2 GiB (checked on entry).
    let bounds: UInt64
    let path: CodingPathNode?

    init(reader: BinaryPayloadReader, start: Int, limit: Int, detached: Bool = false, path: CodingPathNode?) {
        self.reader = reader
        self.bounds = UInt64(start) | UInt64(limit) << 32 | (detached ? 1 << 63 : 0)
        self.path = path
    }

    var start: Int { Int(truncatingIfNeeded: bounds & 0xFFFF_FFFF) }
    var limit: Int { Int(truncatingIfNeeded: (bounds >> 32) & 0x7FFF_FFFF) }
    var detached: Bool { bounds >> 63 != 0 }
    var codingPath: [any CodingKey] { CodingPathNode.path(path) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// Runs `body` with the reader at this value (a type may ask for its container more than once); a detached
    /// decoder puts the reader back afterwards.
    func reading<T>(_ body: () throws -> T) rethrows -> T {
        let (savedPosition, savedLimit) = (reader.position, reader.limit)
        reader.position = start
        reader.limit = limit
        defer {
            if detached { reader.position = savedPosition }
            reader.limit = savedLimit
        }
        return try body()
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(BinaryKeyedDecoder<Key>(reader: reader, fields: try reading { try reader.openKeyed() }, path: path))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try reading { try BinaryUnkeyedDecoder(reader: reader, detached: detached, path: path) }
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { BinarySingleValueDecoder(decoder: self) }
}

struct BinaryKeyedDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let reader: BinaryPayloadReader
    let fields: Range<Int>
    let path: CodingPathNode?

    var codingPath: [any CodingKey] { CodingPathNode.path(path) }

    var allKeys: [Key] {
        fields.compactMap { field in
            Key(stringValue: String(decoding: UnsafeRawBufferPointer(rebasing: reader.payload[reader.fields.key(field)]), as: UTF8.self))
        }
    }

    private func find(_ name: String) -> Int? { reader.fields.find(name, in: fields, payload: reader.payload) }

    func contains(_ key: Key) -> Bool { find(key.stringValue) != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let field = find(key.stringValue) else { throw missing(key) }
        return reader.fields.value(field) == nil
    }

    private func missing(_ key: Key) -> DecodingError {
        .keyNotFound(key, DecodingError.Context(codingPath: codingPath, debugDescription: "no field \"\(key.stringValue)\" in the binary payload"))
    }

    private func nilValue(_ type: Any.Type, _ key: Key) -> DecodingError {
        .valueNotFound(type, DecodingError.Context(codingPath: codingPath + [key], debugDescription: "field is nil"))
    }

    /// The value of a field that must be present and not nil, read by `body` from exactly its bytes.
    @inline(__always) private func required<T>(_ key: Key, _ body: (BinaryPayloadReader) throws -> T) throws -> T {
        guard let field = find(key.stringValue) else { throw missing(key) }
        guard let range = reader.fields.value(field) else { throw nilValue(T.self, key) }
        return try reader.within(range) { try body(reader) }
    }

    /// The value of a field, nil when it is absent or nil.
    @inline(__always) private func optional<T>(_ key: Key, _ body: (BinaryPayloadReader) throws -> T) throws -> T? {
        guard let field = find(key.stringValue), let range = reader.fields.value(field) else { return nil }
        return try reader.within(range) { try body(reader) }
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

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        // An optional is its field's presence (see the encoder): absent or nil reads as nil.
        let field = find(key.stringValue)
        guard let field, let range = reader.fields.value(field) else {
            if let optional = type as? any PayloadOptional.Type { return optional.absent as! T }
            throw field == nil ? missing(key) : nilValue(T.self, key)
        }
        return try reader.within(range) { try reader.fieldValue(type, path: CodingPathNode(path, key)) }
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        try optional(key) { try $0.value(type, path: CodingPathNode(path, key)) }
    }

    /// A decoder over one field's bytes, read later (nested containers, super decoders).
    private func fieldDecoder(_ key: any CodingKey) throws -> BinaryValueDecoder {
        guard let field = find(key.stringValue), let range = reader.fields.value(field) else {
            throw DecodingError.keyNotFound(key, DecodingError.Context(codingPath: codingPath, debugDescription: "no field \"\(key.stringValue)\" with a value"))
        }
        return BinaryValueDecoder(reader: reader, start: range.lowerBound, limit: range.upperBound, detached: true, path: CodingPathNode(path, key))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try fieldDecoder(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try fieldDecoder(key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { try fieldDecoder(PayloadKey(superKey)) }
    func superDecoder(forKey key: Key) throws -> any Decoder { try fieldDecoder(key) }
}

/// Where an unkeyed container reads next (shared with an unkeyed container nested in it, which reads on).
final class BinaryCursor {
    var position: Int
    init(_ position: Int) { self.position = position }
}

/// An unkeyed container: its own cursor and limit, lent to the reader for each element.
struct BinaryUnkeyedDecoder: UnkeyedDecodingContainer {
    let reader: BinaryPayloadReader
    let path: CodingPathNode?
    let total: Int
    let cursor: BinaryCursor
    let limit: Int
    let detached: Bool
    var currentIndex = 0

    var codingPath: [any CodingKey] { CodingPathNode.path(path) }
    var count: Int? { total }
    var isAtEnd: Bool { currentIndex >= total }

    /// Reads the element count at the reader's position.
    init(reader: BinaryPayloadReader, cursor: BinaryCursor? = nil, detached: Bool, path: CodingPathNode?) throws {
        self.reader = reader
        self.path = path
        self.detached = detached
        let count = try reader.u32()
        // Every element takes at least one byte.
        guard Int(count) <= reader.limit - reader.position else { throw reader.fail("element count \(count) runs past the payload") }
        total = Int(count)
        self.cursor = cursor ?? BinaryCursor(reader.position)
        self.cursor.position = reader.position
        limit = reader.limit
    }

    /// Reads the next element with the reader on this container's cursor; an attached container leaves the
    /// reader after the element.
    private mutating func next<T>(_ body: (BinaryPayloadReader, CodingPathNode) throws -> T) throws -> T {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(T.self, DecodingError.Context(codingPath: codingPath, debugDescription: "no more elements"))
        }
        let (savedPosition, savedLimit) = (reader.position, reader.limit)
        reader.position = cursor.position
        reader.limit = limit
        defer {
            if detached { reader.position = savedPosition }
            reader.limit = savedLimit
        }
        let value = try body(reader, CodingPathNode(path, PayloadKey(index: currentIndex)))
        cursor.position = reader.position
        currentIndex += 1
        return value
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, cursor.position < limit, reader.payload[cursor.position] == 0 else { return false }
        cursor.position += 1
        if !detached { reader.position = cursor.position }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try next { reader, path in try reader.value(type, path: path) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next { reader, path in KeyedDecodingContainer(BinaryKeyedDecoder<NestedKey>(reader: reader, fields: try reader.openKeyed(), path: path)) }
    }

    /// The nested container reads on with this one's cursor: this one's next element follows the nested one's
    /// last.
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (cursor, detached) = (self.cursor, self.detached)
        return try next { reader, path in try BinaryUnkeyedDecoder(reader: reader, cursor: cursor, detached: detached, path: path) }
    }

    mutating func superDecoder() throws -> any Decoder {
        BinaryValueDecoder(reader: reader, start: cursor.position, limit: limit, detached: true, path: path)
    }
}

struct BinarySingleValueDecoder: SingleValueDecodingContainer {
    let decoder: BinaryValueDecoder

    var codingPath: [any CodingKey] { decoder.codingPath }

    func decodeNil() -> Bool {
        guard decoder.start < decoder.limit, decoder.reader.payload[decoder.start] == 0 else { return false }
        decoder.reading { decoder.reader.position += 1 }
        return true
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try decoder.reading { try decoder.reader.value(type, path: decoder.path) }
    }
}

/// A dictionary with `String` keys, read straight from its keyed container's field table: the standard
/// library's `init(from:)` asks for `allKeys` (a `CodingKey` made per key) and then looks each key up again. The
/// result is the same (an absent or nil value is nil for an optional value type, an error otherwise; the first of
/// duplicate keys wins, as a keyed container's lookup finds it).
protocol BinaryStringKeyedDictionary {
    static func decodeFields(_ reader: BinaryPayloadReader, path: CodingPathNode?) throws -> Self
}

extension Dictionary: BinaryStringKeyedDictionary where Key == String, Value: Decodable {
    static func decodeFields(_ reader: BinaryPayloadReader, path: CodingPathNode?) throws -> [String: Value] {
        let fields = try reader.openKeyed()
        var result: [String: Value] = [:]
        result.reserveCapacity(fields.count)
        for field in fields {
            let key = String(decoding: UnsafeRawBufferPointer(rebasing: reader.payload[reader.fields.key(field)]), as: UTF8.self)
            guard result.index(forKey: key) == nil else { continue }  // (the first of duplicate keys, as a lookup finds)
            guard let range = reader.fields.value(field) else {
                guard let optional = Value.self as? any PayloadOptional.Type else {
                    throw DecodingError.valueNotFound(Value.self, DecodingError.Context(
                        codingPath: CodingPathNode.path(path) + [PayloadKey(key)], debugDescription: "field is nil"))
                }
                result[key] = (optional.absent as! Value)
                continue
            }
            result[key] = try reader.within(range) {
                if let value = try reader.primitive(Value.self) { return value }
                return try reader.fieldValue(Value.self, path: CodingPathNode(path, PayloadKey(key)))
            }
        }
        return result
    }
}
