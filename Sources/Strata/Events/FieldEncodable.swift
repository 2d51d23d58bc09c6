import Foundation
import StrataStorage

/// An event (or any payload type) that writes its fields straight into the payload's bytes, without `Codable`'s
/// containers and the tree the built-in codecs otherwise build: the encoding half of `FieldDecodable`.
///
/// `@Event` generates it. By hand, `encode(fields:)` writes every stored property once, in the order the type's
/// `Encodable` conformance would (declaration order) when `fields.sortsKeys` is false and in key order (UTF-8
/// bytes) when it is true — so the bytes are exactly those `Codable` would give, and stores written either way
/// read alike:
///
/// ```swift
/// func encode(fields: inout PayloadFieldsWriter) throws {
///     if fields.sortsKeys {
///         try fields.write(item, forKey: "item")
///         try fields.writeIfPresent(note, forKey: "note")
///         try fields.write(quantity, forKey: "quantity")
///     } else {
///         try fields.write(item, forKey: "item")
///         try fields.write(quantity, forKey: "quantity")
///         try fields.writeIfPresent(note, forKey: "note")
///     }
/// }
/// ```
///
/// A codec other than the built-in ones encodes the type through `Encodable`.
public protocol FieldEncodable: Encodable {
    /// Writes the value's fields (see the protocol's description for the order).
    func encode(fields: inout PayloadFieldsWriter) throws
    /// Whether reading back what `encode(fields:)` wrote, with either built-in codec, gives an equal value, field
    /// for field. `@Event` says true when it can see that for every stored property (each a `String`, `Bool`,
    /// number, `Date` or `UUID`, or an optional of one; no `CodingKeys`); default false. A `CommandExecutor` folds
    /// the events a command returns into its cached aggregate as they are when their type says true, instead of
    /// decoding the payloads it just wrote.
    static var roundTripsExactly: Bool { get }
}

extension FieldEncodable {
    /// False: nothing says reading back gives an equal value.
    public static var roundTripsExactly: Bool { false }
}

/// Writes one keyed value's fields into a payload, for `FieldEncodable.encode(fields:)`: each `write` appends one
/// field in the codec's layout (binary: key, presence, length, value; JSON: `"key":value`).
///
/// Primitive types (`String`, `Bool`, `Double`, `Float`, the integer types) are written directly, a
/// `FieldEncodable` value as a nested object by its own `encode(fields:)`, any other `Encodable` value exactly as the
/// codec writes it through `Codable`.
public struct PayloadFieldsWriter: ~Copyable {
    private var out: [UInt8]
    private let style: EncodingStyle
    /// Binary: where the field count goes (patched when the object ends).
    private let countAt: Int
    private var count: UInt32 = 0
    /// The nesting depth of the object's fields (as the `Codable` encoder counts it).
    private let depth: Int

    /// Whether fields must be written in key order (JSON: the codec sorts keys) rather than declaration order.
    public var sortsKeys: Bool { style == .json }

    /// Starts an object at the end of `out`.
    init(out: consuming [UInt8], style: EncodingStyle, depth: Int) {
        self.out = out
        self.style = style
        self.depth = depth
        countAt = self.out.count
        switch style {
        case .binary: self.out.append(contentsOf: [0, 0, 0, 0] as [UInt8])
        case .json: self.out.append(0x7B)
        }
    }

    /// Ends the object; the bytes written.
    consuming func finish() -> [UInt8] {
        switch style {
        case .binary:
            withUnsafeBytes(of: count.littleEndian) { count in
                for i in 0..<4 { out[countAt + i] = count[i] }
            }
        case .json: out.append(0x7D)
        }
        return out
    }

    /// Writes a field's key (and the separator before it, or the binary presence byte); then `value` writes the
    /// value in the layout it is given (binary: behind its length).
    /// `value: false`: a binary field without a value (presence 0, nothing after it).
    @inline(__always) private mutating func field(
        _ key: StaticString, value present: Bool = true, _ value: (inout [UInt8], EncodingStyle) throws -> Void
    ) rethrows {
        count += 1
        let style = style
        switch style {
        case .binary:
            key.withUTF8Buffer { utf8 in
                writeVarint(UInt64(utf8.count), into: &out)
                out.append(contentsOf: utf8)
            }
            guard present else { return out.append(0) }
            out.append(1)
            try writeLengthPrefixed(into: &out) { try value(&$0, style) }
        case .json:
            if count > 1 { out.append(0x2C) }
            key.withUTF8Buffer { utf8 in
                if utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x22 && $0 != 0x5C }) {
                    out.append(0x22)
                    out.append(contentsOf: utf8)
                    out.append(0x22)
                } else {
                    JSONSyntax.writeString(key.description, into: &out)
                }
            }
            out.append(0x3A)
            try value(&out, style)
        }
    }

    @inline(__always) private mutating func integer(_ value: Int64, _ key: StaticString) {
        field(key) { out, style in
            switch style {
            case .binary: writeVarint(zigzag(value), into: &out)
            case .json:
                if value < 0 { out.append(0x2D) }
                writeDecimal(value.magnitude, into: &out)
            }
        }
    }

    @inline(__always) private mutating func unsigned(_ value: UInt64, _ key: StaticString) {
        field(key) { out, style in
            switch style {
            case .binary: writeVarint(value, into: &out)
            case .json: writeDecimal(value, into: &out)
            }
        }
    }

    // The primitives, written without generic dispatch.

    /// Writes field `key`.
    public mutating func write(_ value: String, forKey key: StaticString) throws {
        field(key) { out, style in
            switch style {
            case .binary: writeString(value, into: &out)
            case .json: JSONSyntax.writeString(value, into: &out)
            }
        }
    }
    /// Writes field `key`.
    public mutating func write(_ value: Bool, forKey key: StaticString) throws {
        field(key) { out, style in
            switch style {
            case .binary: out.append(value ? 1 : 0)
            case .json: out.append(contentsOf: value ? JSONText.true : JSONText.false)
            }
        }
    }
    /// Writes field `key`; throws for a value JSON cannot hold (infinite, NaN).
    public mutating func write(_ value: Double, forKey key: StaticString) throws {
        try field(key) { out, style in try PayloadNode.double(value).write(style, into: &out) }
    }
    /// Writes field `key`; throws for a value JSON cannot hold (infinite, NaN).
    public mutating func write(_ value: Float, forKey key: StaticString) throws {
        try field(key) { out, style in try PayloadNode.float(value).write(style, into: &out) }
    }
    /// Writes field `key`.
    public mutating func write(_ value: Int, forKey key: StaticString) throws { integer(Int64(value), key) }
    /// Writes field `key`.
    public mutating func write(_ value: Int8, forKey key: StaticString) throws { integer(Int64(value), key) }
    /// Writes field `key`.
    public mutating func write(_ value: Int16, forKey key: StaticString) throws { integer(Int64(value), key) }
    /// Writes field `key`.
    public mutating func write(_ value: Int32, forKey key: StaticString) throws { integer(Int64(value), key) }
    /// Writes field `key`.
    public mutating func write(_ value: Int64, forKey key: StaticString) throws { integer(value, key) }
    /// Writes field `key`.
    public mutating func write(_ value: UInt, forKey key: StaticString) throws { unsigned(UInt64(value), key) }
    /// Writes field `key`.
    public mutating func write(_ value: UInt8, forKey key: StaticString) throws { unsigned(UInt64(value), key) }
    /// Writes field `key`.
    public mutating func write(_ value: UInt16, forKey key: StaticString) throws { unsigned(UInt64(value), key) }
    /// Writes field `key`.
    public mutating func write(_ value: UInt32, forKey key: StaticString) throws { unsigned(UInt64(value), key) }
    /// Writes field `key`.
    public mutating func write(_ value: UInt64, forKey key: StaticString) throws { unsigned(value, key) }

    /// Writes field `key` as `Date` encodes itself (seconds since 2001, a `Double`), without `Codable`.
    public mutating func write(_ value: Date, forKey key: StaticString) throws { try write(value.timeIntervalSinceReferenceDate, forKey: key) }
    /// Writes field `key` as `UUID` encodes itself (its string), without `Codable`.
    public mutating func write(_ value: UUID, forKey key: StaticString) throws { try write(value.uuidString, forKey: key) }

    /// Writes field `key` as a nested object, by the value's own `encode(fields:)`.
    public mutating func write<T: FieldEncodable>(_ value: T, forKey key: StaticString) throws {
        guard depth + 1 < encodingDepthMax else { throw Self.tooDeep(value, key) }
        try writeNested(forKey: key) { try value.encode(fields: &$0) }
    }

    /// Writes field `key` as a nested object whose fields `body` writes (an enum case's associated values; what
    /// `@FieldCodable` generates for an enum).
    public mutating func writeNested(forKey key: StaticString, _ body: (inout PayloadFieldsWriter) throws -> Void) throws {
        let depth = depth + 1
        guard depth < encodingDepthMax else { throw Self.tooDeep(key.description, key) }
        try field(key) { out, style in
            var bytes: [UInt8] = []
            swap(&bytes, &out)  // (`nested` owns the bytes while it writes: no copy)
            var nested = PayloadFieldsWriter(out: bytes, style: style, depth: depth)
            try body(&nested)
            out = nested.finish()
        }
    }

    /// Writes field `key` as the codec writes `value` through `Codable` (an array, a dictionary, a `Date`, an enum,
    /// …). An `Optional` without a value writes no field, as `encodeIfPresent` does.
    public mutating func write<T: Encodable>(_ value: T, forKey key: StaticString) throws {
        if let optional = value as? any PayloadOptional, optional.wrapped == nil { return }
        var node = try PayloadEncoder.node(value, style: style, depth: depth, codingPath: [PayloadKey(key.description)])
        // As a keyed container writes a field: a value is stored as itself (no presence byte of its own); a nil one
        // as a binary field without a value (JSON: null).
        if case .present(let wrapped) = node { node = wrapped }
        if style == .binary, case .null = node {
            field(key, value: false) { _, _ in }
            return
        }
        try field(key) { out, style in try node.write(style, into: &out) }
    }

    // Optionals: nothing written when nil (what the synthesized `Encodable` does with `encodeIfPresent`).

    /// Writes field `key` when `value` is not nil.
    public mutating func writeIfPresent(_ value: String?, forKey key: StaticString) throws { if let value { try write(value, forKey: key) } }
    /// Writes field `key` when `value` is not nil.
    public mutating func writeIfPresent(_ value: Bool?, forKey key: StaticString) throws { if let value { try write(value, forKey: key) } }
    /// Writes field `key` when `value` is not nil.
    public mutating func writeIfPresent(_ value: Double?, forKey key: StaticString) throws { if let value { try write(value, forKey: key) } }
    /// Writes field `key` when `value` is not nil.
    public mutating func writeIfPresent(_ value: Float?, forKey key: StaticString) throws { if let value { try write(value, forKey: key) } }
    /// Writes field `key` when `value` is not nil.
    public mutating func writeIfPresent(_ value: Int?, forKey key: StaticString) throws { if let value { try write(value, forKey: key) } }
    /// Writes field `key` when `value` is not nil.
    public mutating func writeIfPresent(_ value: Int8?, forKey key: StaticString) throws { if let value { try write(value, forKey: key) } }
    /// Writes field `key` when `value` is not nil.
    public mutating func writeIfPresent(_ value: Int16?, forKey key: StaticString) throws { if let value { try write(value, forKey: key) } }
    /// Writes field `key` when `value` is not nil.
    public mutating func writeIfPresent(_ value: Int32?, forKey key: StaticString) throws { if let value { try write(value, forKey: key) } }
    /// Writes field `key` when `value` is not nil.
    public mutating func writeIfPresent(_ value: Int64?, forKey key: StaticString) throws { if let value { try write(value, forKey: key) } }
    /// Writes field `key` when `value` is not nil.
    public mutating func writeIfPresent(_ value: UInt?, forKey key: StaticString) throws { if let value { try write(value, forKey: key) } }
    /// Writes field `key` when `value` is not nil.
    public mutating func writeIfPresent(_ value: UInt8?, forKey key: StaticString) throws { if let value { try write(value, forKey: key) } }
    /// Writes field `key` when `value` is not nil.
    public mutating func writeIfPresent(_ value: UInt16?, forKey key: StaticString) throws { if let value { try write(value, forKey: key) } }
    /// Writes field `key` when `value` is not nil.
    public mutating func writeIfPresent(_ value: UInt32?, forKey key: StaticString) throws { if let value { try write(value, forKey: key) } }
    /// Writes field `key` when `value` is not nil.
    public mutating func writeIfPresent(_ value: UInt64?, forKey key: StaticString) throws { if let value { try write(value, forKey: key) } }
    /// Writes field `key` when `value` is not nil.
    public mutating func writeIfPresent(_ value: Date?, forKey key: StaticString) throws { if let value { try write(value, forKey: key) } }
    /// Writes field `key` when `value` is not nil.
    public mutating func writeIfPresent(_ value: UUID?, forKey key: StaticString) throws { if let value { try write(value, forKey: key) } }
    /// Writes field `key` when `value` is not nil, as a nested object.
    public mutating func writeIfPresent<T: FieldEncodable>(_ value: T?, forKey key: StaticString) throws {
        if let value { try write(value, forKey: key) }
    }
    /// Writes field `key` when `value` is not nil, through `Codable`.
    public mutating func writeIfPresent<T: Encodable>(_ value: T?, forKey key: StaticString) throws {
        if let value { try write(value, forKey: key) }
    }

    @inline(never) private static func tooDeep(_ value: Any, _ key: StaticString) -> EncodingError {
        .invalidValue(value, EncodingError.Context(
            codingPath: [PayloadKey(key.description)], debugDescription: "values nest deeper than \(encodingDepthMax): no decoder would read them"))
    }
}

extension FieldEncodable {
    /// The payload of this value in `style`'s layout (the binary codec's magic byte in front), written field by
    /// field.
    func payload(style: EncodingStyle) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(style == .binary ? 128 : 256)
        if style == .binary { out.append(BinaryEventCodec.magic) }
        var writer = PayloadFieldsWriter(out: out, style: style, depth: 1)
        try encode(fields: &writer)
        return writer.finish()
    }
}

extension PayloadNode {
    /// Writes the value in `style`'s layout.
    func write(_ style: EncodingStyle, into out: inout [UInt8]) throws {
        switch style {
        case .binary: try writeBinary(into: &out)
        case .json: try writeJSON(into: &out)
        }
    }
}

/// Runs `value` to write a value at the end of `out`, then puts its length (a varint) in front of it: one byte is
/// reserved, more made room for when needed.
@inline(__always) func writeLengthPrefixed(into out: inout [UInt8], _ value: (inout [UInt8]) throws -> Void) rethrows {
    let lengthAt = out.count
    out.append(0)
    try value(&out)
    let length = out.count - lengthAt - 1
    if length < 0x80 {
        out[lengthAt] = UInt8(length)
    } else {
        var prefix: [UInt8] = []
        writeVarint(UInt64(length), into: &prefix)
        out.replaceSubrange(lengthAt..<(lengthAt + 1), with: prefix)
    }
}

extension PayloadFieldsWriter {
    /// Whether the property at `path` is of a type that reads back equal from what the built-in codecs write: a
    /// `String`, `Bool`, number, `Date` or `UUID`, or an optional of one (what `@Event`'s `roundTripsExactly` asks of
    /// each stored property: the property's real type, not the name it is written with).
    public static func readsBackExactly<Root, Value>(_ path: KeyPath<Root, Value>) -> Bool {
        exactlyCoded.contains(ObjectIdentifier(Value.self))
    }

    private static let exactlyCoded: Set<ObjectIdentifier> = {
        let types: [Any.Type] = [
            String.self, Bool.self, Double.self, Float.self, Int.self, Int8.self, Int16.self, Int32.self, Int64.self, UInt.self,
            UInt8.self, UInt16.self, UInt32.self, UInt64.self, Date.self, UUID.self,
            String?.self, Bool?.self, Double?.self, Float?.self, Int?.self, Int8?.self, Int16?.self, Int32?.self, Int64?.self,
            UInt?.self, UInt8?.self, UInt16?.self, UInt32?.self, UInt64?.self, Date?.self, UUID?.self,
        ]
        return Set(types.map { ObjectIdentifier($0) })
    }()
}
