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
        out.reserveCapacity(128)
        try BinaryValueEncoder.node(value, codingPath: []).write(into: &out)
        return out
    }

    /// Decodes a payload read straight from a record; throws `BinaryCodecError` or `DecodingError`.
    public func decode<E: Decodable>(_ type: E.Type, from bytes: UnsafeRawBufferPointer) throws -> E {
        let reader = try BinaryPayloadReader(payload: bytes)
        let value = try reader.value(type, path: nil)
        guard reader.position == bytes.count else {
            throw BinaryCodecError(offset: reader.position, reason: "\(bytes.count - reader.position) bytes after the value")
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

// MARK: Encoding

/// Encoding builds a small tree first — a container may be asked for and filled after its parent has moved on —
/// then writes it with every length in front. Primitives sit in the tree as values (no buffer of their own), the
/// containers' concrete `encode(_:forKey:)` overloads take them without a dynamic cast, and a keyed field's
/// length is written in front of its value once the value is written (moved only when it needs two bytes or more).
enum BinaryNode {
    case varint(UInt64)
    case fixed32(UInt32)
    case fixed64(UInt64)
    case bool(Bool)
    case string(String)
    case keyed(KeyedNode)
    case unkeyed(UnkeyedNode)
    /// A value an encoder fills later (`superEncoder`).
    case slot(BinarySlot)
    /// An optional in an unkeyed or single-value container: a presence byte, then the value.
    indirect case optional(BinaryNode?)

    static func signed<I: FixedWidthInteger & SignedInteger>(_ value: I) -> BinaryNode { .varint(zigzag(Int64(value))) }
    static func unsigned<I: FixedWidthInteger & UnsignedInteger>(_ value: I) -> BinaryNode { .varint(UInt64(value)) }
}

// Unchecked exclusivity on the containers' storage: a tree belongs to one encode, run synchronously on one thread,
// and nothing appends to a container while its contents are read or appended to. Dynamic checks cost more than
// the appends they guard.

final class KeyedNode {
    struct Field {
        var key: String
        /// nil: the field is nil.
        var node: BinaryNode?
    }

    @exclusivity(unchecked) var fields: [Field]

    init() {
        fields = []
        fields.reserveCapacity(8)
    }
}

final class UnkeyedNode {
    @exclusivity(unchecked) var items: [BinaryNode] = []
}

/// Where a value goes once encoded (the top-level value, a super encoder's value).
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

func writeString(_ value: String, into out: inout [UInt8]) {
    var value = value
    value.withUTF8 { utf8 in
        writeVarint(UInt64(utf8.count), into: &out)
        out.append(contentsOf: utf8)
    }
}

@inline(__always) func writeLittleEndian<I: FixedWidthInteger>(_ value: I, into out: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
}

extension BinaryNode {
    func write(into out: inout [UInt8]) throws {
        switch self {
        case .varint(let value): writeVarint(value, into: &out)
        case .fixed32(let bits): writeLittleEndian(bits, into: &out)
        case .fixed64(let bits): writeLittleEndian(bits, into: &out)
        case .bool(let value): out.append(value ? 1 : 0)
        case .string(let value): writeString(value, into: &out)
        case .slot(let slot):
            guard let node = slot.node else { throw BinaryCodecError(offset: out.count, reason: "a value was never encoded") }
            try node.write(into: &out)
        case .optional(let node):
            guard let node else {
                out.append(0)
                return
            }
            out.append(1)
            try node.write(into: &out)
        case .unkeyed(let container):
            writeLittleEndian(UInt32(container.items.count), into: &out)
            for item in container.items { try item.write(into: &out) }
        case .keyed(let container):
            writeLittleEndian(UInt32(container.fields.count), into: &out)
            for field in container.fields {
                writeString(field.key, into: &out)
                let node = field.node
                guard let node else {
                    out.append(0)
                    continue
                }
                out.append(1)
                // The value's length goes in front of it: one byte reserved, more made room for when needed.
                let lengthAt = out.count
                out.append(0)
                try node.write(into: &out)
                let length = out.count - lengthAt - 1
                if length < 0x80 {
                    out[lengthAt] = UInt8(length)
                } else {
                    var prefix: [UInt8] = []
                    writeVarint(UInt64(length), into: &prefix)
                    out.replaceSubrange(lengthAt..<(lengthAt + 1), with: prefix)
                }
            }
        }
    }
}

struct BinaryValueEncoder: Encoder {
    let slot: BinarySlot
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// The node of a primitive (compared by type identity, as decoding does; `unsafeBitCast` is exact because
    /// `T` is that very type), nil for any other type.
    static func primitive<T>(_ value: T) -> BinaryNode? {
        let id = ObjectIdentifier(T.self)
        if id == ObjectIdentifier(String.self) { return .string(unsafeBitCast(value, to: String.self)) }
        if id == ObjectIdentifier(Int.self) { return .signed(unsafeBitCast(value, to: Int.self)) }
        if id == ObjectIdentifier(Bool.self) { return .bool(unsafeBitCast(value, to: Bool.self)) }
        if id == ObjectIdentifier(Double.self) { return .fixed64(unsafeBitCast(value, to: Double.self).bitPattern) }
        if id == ObjectIdentifier(Int64.self) { return .signed(unsafeBitCast(value, to: Int64.self)) }
        if id == ObjectIdentifier(UInt64.self) { return .unsigned(unsafeBitCast(value, to: UInt64.self)) }
        if id == ObjectIdentifier(Int32.self) { return .signed(unsafeBitCast(value, to: Int32.self)) }
        if id == ObjectIdentifier(UInt32.self) { return .unsigned(unsafeBitCast(value, to: UInt32.self)) }
        if id == ObjectIdentifier(UInt.self) { return .unsigned(unsafeBitCast(value, to: UInt.self)) }
        if id == ObjectIdentifier(Int16.self) { return .signed(unsafeBitCast(value, to: Int16.self)) }
        if id == ObjectIdentifier(UInt16.self) { return .unsigned(unsafeBitCast(value, to: UInt16.self)) }
        if id == ObjectIdentifier(Int8.self) { return .signed(unsafeBitCast(value, to: Int8.self)) }
        if id == ObjectIdentifier(UInt8.self) { return .unsigned(unsafeBitCast(value, to: UInt8.self)) }
        if id == ObjectIdentifier(Float.self) { return .fixed32(unsafeBitCast(value, to: Float.self).bitPattern) }
        return nil
    }

    /// The node of any value: primitives directly, optionals with presence, the rest through `Codable`.
    static func node<T: Encodable>(_ value: T, codingPath: @autoclosure () -> [any CodingKey]) throws -> BinaryNode {
        if let node = primitive(value) { return node }
        if let optional = value as? any PayloadOptional {
            guard let wrapped = optional.wrapped else { return .optional(nil) }
            guard let encodable = wrapped as? any Encodable else {
                throw EncodingError.invalidValue(wrapped, EncodingError.Context(codingPath: codingPath(), debugDescription: "not Encodable"))
            }
            return .optional(try node(encodable, codingPath: codingPath()))
        }
        let slot = BinarySlot()
        try value.encode(to: BinaryValueEncoder(slot: slot, codingPath: codingPath()))
        guard let node = slot.node else {
            throw EncodingError.invalidValue(value, EncodingError.Context(codingPath: codingPath(), debugDescription: "\(T.self) encoded nothing"))
        }
        return node
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

struct BinaryKeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: KeyedNode
    var codingPath: [any CodingKey]

    private func add(_ key: Key, _ value: BinaryNode?) { node.fields.append(KeyedNode.Field(key: key.stringValue, node: value)) }

    mutating func encodeNil(forKey key: Key) throws { add(key, nil) }

    mutating func encode(_ value: Bool, forKey key: Key) throws { add(key, .bool(value)) }
    mutating func encode(_ value: String, forKey key: Key) throws { add(key, .string(value)) }
    mutating func encode(_ value: Double, forKey key: Key) throws { add(key, .fixed64(value.bitPattern)) }
    mutating func encode(_ value: Float, forKey key: Key) throws { add(key, .fixed32(value.bitPattern)) }
    mutating func encode(_ value: Int, forKey key: Key) throws { add(key, .signed(value)) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { add(key, .signed(value)) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { add(key, .signed(value)) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { add(key, .signed(value)) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { add(key, .signed(value)) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { add(key, .unsigned(value)) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { add(key, .unsigned(value)) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { add(key, .unsigned(value)) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { add(key, .unsigned(value)) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { add(key, .unsigned(value)) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        // An optional is its field's presence: nil leaves the field nil, a value is stored as itself, so
        // `encode` and `encodeIfPresent` read back alike.
        let path = codingPath
        let node = try BinaryValueEncoder.node(value, codingPath: path + [key])
        if case .optional(let inner) = node {
            add(key, inner)
        } else {
            add(key, node)
        }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = KeyedNode()
        add(key, .keyed(nested))
        return KeyedEncodingContainer(BinaryKeyedEncoder<NestedKey>(node: nested, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = UnkeyedNode()
        add(key, .unkeyed(nested))
        return BinaryUnkeyedEncoder(node: nested, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder {
        let slot = BinarySlot()
        node.fields.append(KeyedNode.Field(key: superKey, node: .slot(slot)))
        return BinaryValueEncoder(slot: slot, codingPath: codingPath)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let slot = BinarySlot()
        add(key, .slot(slot))
        return BinaryValueEncoder(slot: slot, codingPath: codingPath + [key])
    }
}

struct BinaryUnkeyedEncoder: UnkeyedEncodingContainer {
    let node: UnkeyedNode
    var codingPath: [any CodingKey]
    var count: Int { node.items.count }

    mutating func encodeNil() throws { node.items.append(.optional(nil)) }

    mutating func encode(_ value: Bool) throws { node.items.append(.bool(value)) }
    mutating func encode(_ value: String) throws { node.items.append(.string(value)) }
    mutating func encode(_ value: Double) throws { node.items.append(.fixed64(value.bitPattern)) }
    mutating func encode(_ value: Int) throws { node.items.append(.signed(value)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = codingPath
        node.items.append(try BinaryValueEncoder.node(value, codingPath: path))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = KeyedNode()
        node.items.append(.keyed(nested))
        return KeyedEncodingContainer(BinaryKeyedEncoder<NestedKey>(node: nested, codingPath: codingPath))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = UnkeyedNode()
        node.items.append(.unkeyed(nested))
        return BinaryUnkeyedEncoder(node: nested, codingPath: codingPath)
    }

    mutating func superEncoder() -> any Encoder {
        let slot = BinarySlot()
        node.items.append(.slot(slot))
        return BinaryValueEncoder(slot: slot, codingPath: codingPath)
    }
}

struct BinarySingleValueEncoder: SingleValueEncodingContainer {
    let slot: BinarySlot
    var codingPath: [any CodingKey]

    mutating func encodeNil() throws { slot.node = .optional(nil) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = codingPath
        slot.node = try BinaryValueEncoder.node(value, codingPath: path)
    }
}
