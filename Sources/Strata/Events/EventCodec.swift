import Foundation

/// Turns event payloads into bytes and back. The store keeps the bytes opaque; every reader of a store must use
/// the codec its writers used.
public protocol EventCodec: Sendable {
    func encode<E: Encodable>(_ value: E) throws -> [UInt8]
    /// Decodes strictly: a payload that does not match `type` throws (it never yields default values).
    func decode<E: Decodable>(_ type: E.Type, from bytes: UnsafeRawBufferPointer) throws -> E
    /// Runs `body` on the fields of the payload's top-level keyed value and returns true; or returns false without
    /// calling it when the codec has no field view of its payloads (the default). Throws when the payload is not a
    /// well-formed keyed value, and what `body` throws. Both built-in codecs read fields; `FieldDecodable` types
    /// are decoded through this (`decode(fields:from:)`).
    func withFields(of bytes: UnsafeRawBufferPointer, _ body: (borrowing PayloadFields) throws -> Void) throws -> Bool
    /// The codec's name, recorded with the snapshots it encodes (a snapshot written by another codec is not read).
    /// Default: the codec type's name. The built-in codecs are `json` and `binary`.
    var name: String { get }
}

extension EventCodec {
    public var name: String { String(reflecting: Self.self) }

    /// No field view: `FieldDecodable` types are decoded through `Codable`.
    public func withFields(of bytes: UnsafeRawBufferPointer, _ body: (borrowing PayloadFields) throws -> Void) throws -> Bool {
        false
    }

    /// Decodes a `FieldDecodable` type through `init(fields:)` (`withFields(of:_:)`), as strictly as `Codable`
    /// would; through `decode(_:from:)` when the codec has no field view.
    @inlinable public func decode<E: FieldDecodable>(fields type: E.Type, from bytes: UnsafeRawBufferPointer) throws -> E {
        guard let value = try E.decoded(fieldsOf: bytes, codec: self) else { return try decode(type, from: bytes) }
        return value
    }
}

/// Which built-in codec a codec is (nil: another one), told by its type: a metatype comparison, cheaper than a
/// dynamic cast of the existential.
enum BuiltInCodec {
    case json, binary

    init?(_ codec: any EventCodec) {
        let type = type(of: codec)
        if type == JSONEventCodec.self {
            self = .json
        } else if type == BinaryEventCodec.self {
            self = .binary
        } else {
            return nil
        }
    }
}

extension FieldDecodable {
    /// The value from `bytes` read through `init(fields:)`; nil when `codec` has no field view. Generic only over
    /// `Self`, so a caller that knows the type (also one that holds an `any EventCodec`) gets it specialised: no
    /// generic type is built per call.
    @inlinable static func decoded(fieldsOf bytes: UnsafeRawBufferPointer, codec: any EventCodec) throws -> Self? {
        var value: Self? = nil
        guard try codec.withFields(of: bytes, { value = try Self(fields: $0) }) else { return nil }
        return value
    }
}

/// JSON payloads (the default): what `strata dump` shows as JSON. Written byte for byte as Foundation's
/// `JSONEncoder` writes them with sorted keys and unescaped slashes, and read as `JSONDecoder` reads them (strictly:
/// malformed JSON, missing keys and wrong types throw `DecodingError`), with its default strategies (`Data` as
/// Base64, `Date` as seconds since 2001, `URL` as its string, `Decimal` as a number) — by Strata's own encoder and
/// decoder, several times faster, decoding straight from the record's bytes.
public struct JSONEventCodec: EventCodec {
    /// The codec (sorted keys, slashes unescaped).
    public init() {}

    public var name: String { "json" }

    /// The JSON of `value`.
    public func encode<E: Encodable>(_ value: E) throws -> [UInt8] {
        // Field by field when the type writes its own fields (`@Event`, `FieldEncodable`): the same bytes, no tree.
        if let value = value as? any FieldEncodable { return try value.payload(style: .json) }
        var out: [UInt8] = []
        out.reserveCapacity(256)
        try PayloadEncoder.tree(value, style: .json).writeJSON(into: &out)
        return out
    }

    /// Decodes JSON; throws `DecodingError` for malformed JSON, missing keys or wrong types.
    public func decode<E: Decodable>(_ type: E.Type, from bytes: UnsafeRawBufferPointer) throws -> E {
        try JSONPayloadReader(bytes).decodePayload(type)
    }
}
