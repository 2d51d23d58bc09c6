/// Compact binary payloads through `Codable`, decoded straight from the record's bytes (no copy, no
/// Foundation): the fast codec for events and states.
///
/// Layout (little-endian; `varint` is LEB128 as in FORMAT.md):
///
///     payload = 0xB1 value                       -- 0xB1 never starts JSON, so the two codecs cannot be confused
///     value   = bool: u8 0/1 | signed integers: zigzag varint | unsigned: varint | Float: f32 | Double: f64
///             | String: varint length, UTF-8
///             | keyed container:   u32 fieldCount, fieldCount × (varint keyLength, key UTF-8, u8 present,
///                                  [varint valueLength, value])       -- present 0: encodeNil(forKey:)
///             | unkeyed container: u32 count, count × value
///             | Optional inside an unkeyed or single-value container: u8 0 (nil) | u8 1, value
///
/// Keyed containers keep their keys, so decoding does not depend on field order, a field added later as an
/// Optional reads as nil from old payloads, and dictionaries work. Unknown fields are ignored, missing
/// non-optional fields throw, and every length is checked against the payload before it is used.
public struct BinaryEventCodec: EventCodec {
    /// The first byte of every binary payload.
    public static let magic: UInt8 = 0xB1

    /// The codec (it has no settings).
    public init() {}

    /// The payload of `value`: the magic byte, then the value.
    public func encode<E: Encodable>(_ value: E) throws -> [UInt8] {
        var out: [UInt8] = [Self.magic]
        try BinaryValueEncoder.node(value, codingPath: []).write(into: &out)
        return out
    }

    /// Decodes a payload read straight from a record; throws `BinaryCodecError` or `DecodingError`.
    public func decode<E: Decodable>(_ type: E.Type, from bytes: UnsafeRawBufferPointer) throws -> E {
        guard bytes.first == Self.magic else {
            throw BinaryCodecError(offset: 0, reason: bytes.isEmpty ? "empty payload" : "not a binary payload (first byte \(bytes[0]))")
        }
        let source = BinarySource(bytes, position: 1)
        let value = try BinaryValueDecoder(source: source, codingPath: []).decodeValue(type)
        guard source.position == bytes.count else {
            throw BinaryCodecError(offset: source.position, reason: "\(bytes.count - source.position) bytes after the value")
        }
        return value
    }
}

/// Why a binary payload did not decode (or a value could not be encoded).
public struct BinaryCodecError: Error, Sendable, CustomStringConvertible {
    /// Where in the payload.
    public var offset: Int
    /// What was wrong there.
    public var reason: String
    /// The offset and the reason.
    public var description: String { "binary payload at byte \(offset): \(reason)" }
}

// MARK: Optionals

/// Lets the codec see through `Optional` in unkeyed and single-value containers (where `Codable` itself has no
/// way to mark presence).
protocol BinaryOptional {
    static var wrappedType: Any.Type { get }
    static var absent: Self { get }
    static func wrapping(_ value: Any) -> Self
    var wrapped: Any? { get }
}

extension Optional: BinaryOptional {
    static var wrappedType: Any.Type { Wrapped.self }
    static var absent: Self { nil }
    static func wrapping(_ value: Any) -> Self { .some(value as! Wrapped) }
    var wrapped: Any? {
        switch self {
        case .some(let value): value
        case .none: nil
        }
    }
}

// MARK: Encoding

/// Encoding builds a small tree first (a container's length is known only when the caller has filled it,
/// possibly after filling others), then writes it with every length in front. Encoding is off the read path;
/// decoding reads the bytes in place.
indirect enum BinaryNode {
    case bytes([UInt8])
    case keyed(KeyedNode)
    case unkeyed(UnkeyedNode)
    /// An optional in an unkeyed or single-value container: a presence byte, then the value.
    case optional(BinaryNode?)
}

final class KeyedNode {
    /// nil value: the field is nil.
    var fields: [(key: String, value: BinarySlot)] = []
}

final class UnkeyedNode {
    var items: [BinarySlot] = []
}

/// Where a value goes once encoded (a container may be asked for before it is filled).
final class BinarySlot {
    var node: BinaryNode?
    init(_ node: BinaryNode? = nil) { self.node = node }
}

func writeVarint(_ value: UInt64, into out: inout [UInt8]) {
    var v = value
    while v >= 0x80 {
        out.append(UInt8(truncatingIfNeeded: v) | 0x80)
        v >>= 7
    }
    out.append(UInt8(v))
}

func writeU32(_ value: UInt32, into out: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
}

func writeString(_ value: String, into out: inout [UInt8]) {
    var value = value
    value.withUTF8 { utf8 in
        writeVarint(UInt64(utf8.count), into: &out)
        out.append(contentsOf: utf8)
    }
}

extension BinaryNode {
    func write(into out: inout [UInt8]) throws {
        switch self {
        case .bytes(let bytes): out += bytes
        case .optional(let node):
            guard let node else {
                out.append(0)
                return
            }
            out.append(1)
            try node.write(into: &out)
        case .unkeyed(let container):
            writeU32(UInt32(container.items.count), into: &out)
            for item in container.items {
                guard let node = item.node else { throw BinaryCodecError(offset: out.count, reason: "an unkeyed element was never encoded") }
                try node.write(into: &out)
            }
        case .keyed(let container):
            writeU32(UInt32(container.fields.count), into: &out)
            for (key, slot) in container.fields {
                writeString(key, into: &out)
                guard let node = slot.node else {
                    out.append(0)
                    continue
                }
                out.append(1)
                var value: [UInt8] = []
                try node.write(into: &value)
                writeVarint(UInt64(value.count), into: &out)
                out += value
            }
        }
    }
}

struct BinaryValueEncoder: Encoder {
    let slot: BinarySlot
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// The node of any value: primitives directly, optionals with presence, the rest through `Codable`.
    static func node<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws -> BinaryNode {
        if let optional = value as? any BinaryOptional {
            guard let wrapped = optional.wrapped else { return .optional(nil) }
            guard let encodable = wrapped as? any Encodable else {
                throw EncodingError.invalidValue(wrapped, EncodingError.Context(codingPath: codingPath, debugDescription: "not Encodable"))
            }
            return .optional(try node(encodable, codingPath: codingPath))
        }
        var out: [UInt8] = []
        switch value {
        case let v as String: writeString(v, into: &out)
        case let v as Bool: out.append(v ? 1 : 0)
        case let v as Int: writeVarint(zigzag(Int64(v)), into: &out)
        case let v as Int64: writeVarint(zigzag(v), into: &out)
        case let v as Int32: writeVarint(zigzag(Int64(v)), into: &out)
        case let v as Int16: writeVarint(zigzag(Int64(v)), into: &out)
        case let v as Int8: writeVarint(zigzag(Int64(v)), into: &out)
        case let v as UInt: writeVarint(UInt64(v), into: &out)
        case let v as UInt64: writeVarint(v, into: &out)
        case let v as UInt32: writeVarint(UInt64(v), into: &out)
        case let v as UInt16: writeVarint(UInt64(v), into: &out)
        case let v as UInt8: writeVarint(UInt64(v), into: &out)
        case let v as Double: withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) }
        case let v as Float: withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) }
        default:
            let slot = BinarySlot()
            try value.encode(to: BinaryValueEncoder(slot: slot, codingPath: codingPath))
            guard let node = slot.node else {
                throw EncodingError.invalidValue(value, EncodingError.Context(codingPath: codingPath, debugDescription: "\(T.self) encoded nothing"))
            }
            return node
        }
        return .bytes(out)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .keyed(let existing)? = slot.node {
            return KeyedEncodingContainer(BinaryKeyedEncoder<Key>(node: existing, codingPath: codingPath))
        }
        let node = KeyedNode()
        slot.node = .keyed(node)
        return KeyedEncodingContainer(BinaryKeyedEncoder<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .unkeyed(let existing)? = slot.node { return BinaryUnkeyedEncoder(node: existing, codingPath: codingPath) }
        let node = UnkeyedNode()
        slot.node = .unkeyed(node)
        return BinaryUnkeyedEncoder(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { BinarySingleValueEncoder(slot: slot, codingPath: codingPath) }
}

@inline(__always) func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }
@inline(__always) func unzigzag(_ value: UInt64) -> Int64 { Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1) }

/// The field name `superEncoder()` / `superDecoder()` use, as `JSONEncoder` does.
let binarySuperKey = "super"

struct BinaryKeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: KeyedNode
    var codingPath: [any CodingKey]

    private func field(_ key: String) -> BinarySlot {
        let slot = BinarySlot()
        node.fields.append((key, slot))
        return slot
    }

    mutating func encodeNil(forKey key: Key) throws { _ = field(key.stringValue) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        // An optional is its field's presence: nil leaves the field nil, a value is stored as itself, so
        // `encode` and `encodeIfPresent` read back alike.
        let node = try BinaryValueEncoder.node(value, codingPath: codingPath + [key])
        if case .optional(let inner) = node {
            field(key.stringValue).node = inner
        } else {
            field(key.stringValue).node = node
        }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = KeyedNode()
        field(key.stringValue).node = .keyed(nested)
        return KeyedEncodingContainer(BinaryKeyedEncoder<NestedKey>(node: nested, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = UnkeyedNode()
        field(key.stringValue).node = .unkeyed(nested)
        return BinaryUnkeyedEncoder(node: nested, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { BinaryValueEncoder(slot: field(binarySuperKey), codingPath: codingPath) }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        BinaryValueEncoder(slot: field(key.stringValue), codingPath: codingPath + [key])
    }
}

struct BinaryUnkeyedEncoder: UnkeyedEncodingContainer {
    let node: UnkeyedNode
    var codingPath: [any CodingKey]
    var count: Int { node.items.count }

    mutating func encodeNil() throws { node.items.append(BinarySlot(.optional(nil))) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        node.items.append(BinarySlot(try BinaryValueEncoder.node(value, codingPath: codingPath)))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = KeyedNode()
        node.items.append(BinarySlot(.keyed(nested)))
        return KeyedEncodingContainer(BinaryKeyedEncoder<NestedKey>(node: nested, codingPath: codingPath))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = UnkeyedNode()
        node.items.append(BinarySlot(.unkeyed(nested)))
        return BinaryUnkeyedEncoder(node: nested, codingPath: codingPath)
    }

    mutating func superEncoder() -> any Encoder {
        let slot = BinarySlot()
        node.items.append(slot)
        return BinaryValueEncoder(slot: slot, codingPath: codingPath)
    }
}

struct BinarySingleValueEncoder: SingleValueEncodingContainer {
    let slot: BinarySlot
    var codingPath: [any CodingKey]

    mutating func encodeNil() throws { slot.node = .optional(nil) }
    mutating func encode<T: Encodable>(_ value: T) throws { slot.node = try BinaryValueEncoder.node(value, codingPath: codingPath) }
}

// MARK: Decoding

final class BinarySource {
    /// How deep values may nest: a recursive type must not let a hostile payload exhaust the stack.
    static let depthMax = 256

    /// The bytes a read may touch: the payload, narrowed to one field's value while that value is decoded.
    var bytes: UnsafeRawBufferPointer
    var position: Int
    var depth = 0

    init(_ bytes: UnsafeRawBufferPointer, position: Int) {
        self.bytes = bytes
        self.position = position
    }

    func fail(_ reason: String) -> BinaryCodecError { BinaryCodecError(offset: position, reason: reason) }

    func u8() throws -> UInt8 {
        guard position < bytes.count else { throw fail("payload ends early") }
        defer { position += 1 }
        return bytes[position]
    }

    func varint() throws -> UInt64 {
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

    func length() throws -> Int {
        let value = try varint()
        guard value <= UInt64(bytes.count - position) else { throw fail("length \(value) runs past the payload") }
        return Int(value)
    }

    func u32() throws -> UInt32 {
        guard bytes.count - position >= 4 else { throw fail("payload ends early") }
        var value: UInt32 = 0
        for i in 0..<4 { value |= UInt32(bytes[position + i]) << (8 * UInt32(i)) }
        position += 4
        return value
    }

    func fixed64() throws -> UInt64 {
        guard bytes.count - position >= 8 else { throw fail("payload ends early") }
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += 8
        return value
    }

    func string() throws -> String {
        let count = try length()
        let slice = UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
        guard let text = String(validating: slice, as: UTF8.self) else { throw fail("string is not UTF-8") }
        position += count
        return text
    }
}

struct BinaryValueDecoder: Decoder {
    let source: BinarySource
    /// The coding path is built only when asked for (errors): `pathPrefix` plus `key`.
    let pathPrefix: [any CodingKey]
    let key: String?
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(source: BinarySource, codingPath: [any CodingKey], key: String? = nil) {
        self.source = source
        self.pathPrefix = codingPath
        self.key = key
    }

    var codingPath: [any CodingKey] { key.map { pathPrefix + [BinaryKey($0)] } ?? pathPrefix }

    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        // Primitives first, by type identity (a pointer compare; `unsafeBitCast` is exact: T is that very type).
        let id = ObjectIdentifier(type)
        func integer<I: FixedWidthInteger & SignedInteger>(_: I.Type) throws -> T {
            let value = unzigzag(try source.varint())
            guard let exact = I(exactly: value) else { throw source.fail("\(value) does not fit \(I.self)") }
            return unsafeBitCast(exact, to: T.self)
        }
        func natural<I: FixedWidthInteger & UnsignedInteger>(_: I.Type) throws -> T {
            let value = try source.varint()
            guard let exact = I(exactly: value) else { throw source.fail("\(value) does not fit \(I.self)") }
            return unsafeBitCast(exact, to: T.self)
        }
        if id == ObjectIdentifier(String.self) { return unsafeBitCast(try source.string(), to: T.self) }
        if id == ObjectIdentifier(Int.self) { return try integer(Int.self) }
        if id == ObjectIdentifier(Bool.self) {
            switch try source.u8() {
            case 0: return unsafeBitCast(false, to: T.self)
            case 1: return unsafeBitCast(true, to: T.self)
            case let byte: throw source.fail("bool byte \(byte)")
            }
        }
        if id == ObjectIdentifier(Double.self) { return unsafeBitCast(Double(bitPattern: try source.fixed64()), to: T.self) }
        if id == ObjectIdentifier(Int64.self) { return try integer(Int64.self) }
        if id == ObjectIdentifier(UInt64.self) { return try natural(UInt64.self) }
        if id == ObjectIdentifier(Int32.self) { return try integer(Int32.self) }
        if id == ObjectIdentifier(UInt32.self) { return try natural(UInt32.self) }
        if id == ObjectIdentifier(UInt.self) { return try natural(UInt.self) }
        if id == ObjectIdentifier(Int16.self) { return try integer(Int16.self) }
        if id == ObjectIdentifier(UInt16.self) { return try natural(UInt16.self) }
        if id == ObjectIdentifier(Int8.self) { return try integer(Int8.self) }
        if id == ObjectIdentifier(UInt8.self) { return try natural(UInt8.self) }
        if id == ObjectIdentifier(Float.self) { return unsafeBitCast(Float(bitPattern: try source.u32()), to: T.self) }
        if let optional = type as? any BinaryOptional.Type {
            switch try source.u8() {
            case 0: return optional.absent as! T
            case 1:
                guard let wrapped = optional.wrappedType as? any Decodable.Type else {
                    throw source.fail("optional of a type that is not Decodable")
                }
                return optional.wrapping(try decodeValue(wrapped)) as! T
            case let tag: throw source.fail("optional presence byte \(tag)")
            }
        }
        guard source.depth < BinarySource.depthMax else { throw source.fail("values nest deeper than \(BinarySource.depthMax)") }
        source.depth += 1
        defer { source.depth -= 1 }
        return try T(from: self)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(try BinaryKeyedDecoder<Key>(decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { try BinaryUnkeyedDecoder(decoder: self) }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { BinarySingleValueDecoder(decoder: self) }
}

struct BinaryKeyedDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    struct Field {
        var key: Range<Int>
        /// nil: encoded as nil.
        var value: Range<Int>?
    }

    let decoder: BinaryValueDecoder
    let fields: [Field]
    var codingPath: [any CodingKey] { decoder.codingPath }

    init(decoder: BinaryValueDecoder) throws {
        self.decoder = decoder
        let source = decoder.source
        let count = try source.u32()
        // Each field takes at least two bytes: a count past that is damage, refused before any allocation.
        guard Int(count) <= (source.bytes.count - source.position) / 2 else { throw source.fail("field count \(count) runs past the payload") }
        var fields: [Field] = []
        fields.reserveCapacity(Int(count))
        for _ in 0..<count {
            let keyLength = try source.length()
            let key = source.position..<(source.position + keyLength)
            source.position += keyLength
            switch try source.u8() {
            case 0: fields.append(Field(key: key, value: nil))
            case 1:
                let length = try source.length()
                fields.append(Field(key: key, value: source.position..<(source.position + length)))
                source.position += length
            case let tag: throw source.fail("field presence byte \(tag)")
            }
        }
        self.fields = fields
    }

    private func find(_ key: some CodingKey) -> Field? {
        var name = key.stringValue
        let bytes = decoder.source.bytes
        return name.withUTF8 { (wanted: UnsafeBufferPointer<UInt8>) -> Field? in
            for field in fields where field.key.count == wanted.count {
                if UnsafeRawBufferPointer(rebasing: bytes[field.key]).elementsEqual(UnsafeRawBufferPointer(wanted)) { return field }
            }
            return nil
        }
    }

    var allKeys: [Key] {
        fields.compactMap { Key(stringValue: String(decoding: UnsafeRawBufferPointer(rebasing: decoder.source.bytes[$0.key]), as: UTF8.self)) }
    }

    func contains(_ key: Key) -> Bool { find(key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let field = find(key) else { throw missing(key) }
        return field.value == nil
    }

    private func missing(_ key: Key) -> DecodingError {
        .keyNotFound(key, DecodingError.Context(codingPath: codingPath, debugDescription: "no field \"\(key.stringValue)\" in the binary payload"))
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        // An optional is its field's presence (see the encoder).
        if let optional = type as? any BinaryOptional.Type {
            guard let field = find(key), let range = field.value else { return optional.absent as! T }
            guard let wrapped = optional.wrappedType as? any Decodable.Type else {
                throw decoder.source.fail("optional of a type that is not Decodable")
            }
            return optional.wrapping(try value(wrapped, range, key.stringValue)) as! T
        }
        guard let field = find(key) else { throw missing(key) }
        guard let range = field.value else {
            throw DecodingError.valueNotFound(type, DecodingError.Context(codingPath: codingPath + [key], debugDescription: "field is nil"))
        }
        return try value(type, range, key.stringValue)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let field = find(key), let range = field.value else { return nil }
        return try value(type, range, key.stringValue)
    }

    /// A decoder with a source of its own over exactly one field's bytes (for containers and decoders handed
    /// out to be read later, interleaved with this container's reads).
    private func fieldDecoder(_ range: Range<Int>, _ key: String) -> BinaryValueDecoder {
        let source = BinarySource(UnsafeRawBufferPointer(rebasing: decoder.source.bytes[..<range.upperBound]), position: range.lowerBound)
        source.depth = decoder.source.depth
        return BinaryValueDecoder(source: source, codingPath: codingPath, key: key)
    }

    /// Decodes a field's value from exactly its bytes. The value is read whole within this call, so it shares
    /// the payload's source, narrowed to the field and restored afterwards (no allocation per field).
    private func value<T: Decodable>(_ type: T.Type, _ range: Range<Int>, _ key: String) throws -> T {
        let source = decoder.source
        let (bytes, position) = (source.bytes, source.position)
        source.bytes = UnsafeRawBufferPointer(rebasing: bytes[..<range.upperBound])
        source.position = range.lowerBound
        defer {
            source.bytes = bytes
            source.position = position
        }
        let value = try BinaryValueDecoder(source: source, codingPath: decoder.key == nil ? decoder.pathPrefix : codingPath, key: key)
            .decodeValue(type)
        guard source.position == range.upperBound else {
            throw source.fail("\(range.upperBound - source.position) bytes left in field \"\(key)\"")
        }
        return value
    }

    private func present(_ key: String) throws -> Range<Int> {
        guard let field = find(BinaryKey(key)), let range = field.value else {
            throw DecodingError.keyNotFound(BinaryKey(key), DecodingError.Context(codingPath: codingPath, debugDescription: "no field \"\(key)\" with a value"))
        }
        return range
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try fieldDecoder(try present(key.stringValue), key.stringValue).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try fieldDecoder(try present(key.stringValue), key.stringValue).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { fieldDecoder(try present(binarySuperKey), binarySuperKey) }
    func superDecoder(forKey key: Key) throws -> any Decoder { fieldDecoder(try present(key.stringValue), key.stringValue) }
}

/// A key made from a string (for coding paths and lookups by name).
struct BinaryKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

struct BinaryUnkeyedDecoder: UnkeyedDecodingContainer {
    let decoder: BinaryValueDecoder
    let total: Int
    var currentIndex = 0
    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { total }
    var isAtEnd: Bool { currentIndex >= total }

    init(decoder: BinaryValueDecoder) throws {
        self.decoder = decoder
        let count = try decoder.source.u32()
        // Every element takes at least one byte.
        guard Int(count) <= decoder.source.bytes.count - decoder.source.position else {
            throw decoder.source.fail("element count \(count) runs past the payload")
        }
        total = Int(count)
    }

    private mutating func next<T>(_ body: () throws -> T) throws -> T {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(T.self, DecodingError.Context(codingPath: codingPath, debugDescription: "no more elements"))
        }
        let value = try body()
        currentIndex += 1
        return value
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { return false }
        let source = decoder.source
        guard source.position < source.bytes.count, source.bytes[source.position] == 0 else { return false }
        source.position += 1
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let decoder = self.decoder
        return try next { try decoder.decodeValue(type) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let decoder = self.decoder
        return try next { try decoder.container(keyedBy: type) }
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let decoder = self.decoder
        return try next { try decoder.unkeyedContainer() }
    }

    mutating func superDecoder() throws -> any Decoder { decoder }
}

struct BinarySingleValueDecoder: SingleValueDecodingContainer {
    let decoder: BinaryValueDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }

    func decodeNil() -> Bool {
        let source = decoder.source
        guard source.position < source.bytes.count, source.bytes[source.position] == 0 else { return false }
        source.position += 1
        return true
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decodeValue(type) }
}
