/// Makes a struct an ``Event`` stored under `name` (default: the type's own name) at schema `version` (default
/// 1), read and written field by field by both built-in codecs.
///
/// ```swift
/// @Event("ItemAdded", version: 2)
/// struct ItemAdded {
///     var item: String
///     var quantity: Int
///     var note: String?
/// }
/// ```
///
/// The macro adds the conformances to ``Event``, ``FieldDecodable`` and ``FieldEncodable``: `eventType`,
/// `schemaVersion`, `init(fields:)` and `encode(fields:)`, generated from the stored properties. They read and
/// write exactly what the type's synthesized `Codable` conformance would (the same keys, `CodingKeys` included, the
/// same bytes through either codec), so stores written before the macro was added read alike, and the type stays
/// `Codable` for any other codec. Each property's value is read and written directly when it is a `String`, a
/// `Bool`, a number or an optional of one; as a nested object when its type is ``FieldDecodable``/``FieldEncodable``;
/// through `Codable` otherwise (arrays, dictionaries, dates, enums, …).
///
/// The macro refuses at compile time what would fail or disagree at run time: a type name that is not a string
/// literal of 1 to 128 bytes, a version below 1, a hand-written `init(from:)` or `encode(to:)`, property wrappers,
/// lazy or tuple-pattern properties, a declared `eventType` or `schemaVersion`.
@attached(
    extension, conformances: Event, FieldDecodable, FieldEncodable,
    names: named(eventType), named(schemaVersion), named(init(fields:)), named(encode(fields:)))
public macro Event(_ name: String? = nil, version: UInt32 = 1) = #externalMacro(module: "StrataMacros", type: "EventMacro")
