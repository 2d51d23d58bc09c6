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

    public var name: String { "binary" }

    /// The payload of `value`: the magic byte, then the value.
    public func encode<E: Encodable>(_ value: E) throws -> [UInt8] {
        // Field by field when the type writes its own fields (`@Event`, `FieldEncodable`): the same bytes, no tree.
        if let value = value as? any FieldEncodable { return try value.payload(style: .binary) }
        var out: [UInt8] = [Self.magic]
        out.reserveCapacity(128)
        try PayloadEncoder.tree(value, style: .binary).writeBinary(into: &out)
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

@inline(__always) func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }
@inline(__always) func unzigzag(_ value: UInt64) -> Int64 { Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1) }

extension PayloadNode {
    /// Writes the value in the binary layout (see `BinaryEventCodec`).
    func writeBinary(into out: inout [UInt8]) throws {
        switch self {
        case .bool(let value): out.append(value ? 1 : 0)
        case .int(let value): writeVarint(zigzag(value), into: &out)
        case .uint(let value): writeVarint(value, into: &out)
        case .double(let value): writeLittleEndian(value.bitPattern, into: &out)
        case .float(let value): writeLittleEndian(value.bitPattern, into: &out)
        case .string(let value), .number(let value): writeString(value, into: &out)
        case .null: out.append(0)
        case .present(let node):
            out.append(1)
            try node.writeBinary(into: &out)
        case .slot(let slot): try filled(slot, at: out.count).writeBinary(into: &out)
        case .unkeyed(let container):
            writeLittleEndian(UInt32(container.items.count), into: &out)
            for item in container.items { try item.writeBinary(into: &out) }
        case .keyed(let container):
            writeLittleEndian(UInt32(container.fields.count), into: &out)
            for field in container.fields {
                writeString(field.key, into: &out)
                // An optional is its field's presence: nil leaves the field nil, a value is stored as itself, so
                // `encode` and `encodeIfPresent` read back alike.
                var node = field.node
                switch node {
                case .null:
                    out.append(0)
                    continue
                case .present(let value): node = value
                default: break
                }
                out.append(1)
                try writeLengthPrefixed(into: &out) { try node.writeBinary(into: &$0) }
            }
        }
    }
}
