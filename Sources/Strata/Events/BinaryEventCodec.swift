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
        if let optional = value as? any PayloadOptional {
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

    mutating func superEncoder() -> any Encoder { BinaryValueEncoder(slot: field(superKey), codingPath: codingPath) }

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
