import Foundation

/// Turns event payloads into bytes and back. The store keeps the bytes opaque; every reader of a store must use
/// the codec its writers used.
public protocol EventCodec: Sendable {
    func encode<E: Encodable>(_ value: E) throws -> [UInt8]
    /// Decodes strictly: a payload that does not match `type` throws (it never yields default values).
    func decode<E: Decodable>(_ type: E.Type, from bytes: UnsafeRawBufferPointer) throws -> E
    /// Decodes a `FieldDecodable` type through `init(fields:)`, as strictly. Both built-in codecs do; the default
    /// decodes it through `Codable` (`decode(_:from:)`).
    func decode<E: FieldDecodable>(fields type: E.Type, from bytes: UnsafeRawBufferPointer) throws -> E
}

extension EventCodec {
    /// Decodes the type through `Codable`: a codec without a field view of its payloads.
    public func decode<E: FieldDecodable>(fields type: E.Type, from bytes: UnsafeRawBufferPointer) throws -> E {
        try decode(type, from: bytes)
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

    /// The JSON of `value`.
    public func encode<E: Encodable>(_ value: E) throws -> [UInt8] {
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
