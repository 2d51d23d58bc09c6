import Foundation

/// Turns event payloads into bytes and back. The store keeps the bytes opaque; every reader of a store must use
/// the codec its writers used.
public protocol EventCodec: Sendable {
    func encode<E: Encodable>(_ value: E) throws -> [UInt8]
    /// Decodes strictly: a payload that does not match `type` throws (it never yields default values).
    func decode<E: Decodable>(_ type: E.Type, from bytes: UnsafeRawBufferPointer) throws -> E
}

/// JSON payloads (the default): what `strata dump` shows as JSON. Uses Foundation's coders for now — correct
/// and strict about missing keys and types, but it copies the payload once and runs at a few hundred thousand
/// small events per second per core; the binary codec is the fast path.
public struct JSONEventCodec: EventCodec {
    /// The codec (sorted keys, slashes unescaped).
    public init() {}

    /// The JSON of `value`.
    public func encode<E: Encodable>(_ value: E) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    /// Decodes JSON; throws `DecodingError` for malformed JSON, missing keys or wrong types.
    public func decode<E: Decodable>(_ type: E.Type, from bytes: UnsafeRawBufferPointer) throws -> E {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}
