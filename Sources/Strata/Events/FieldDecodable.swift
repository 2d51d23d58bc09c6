import Foundation
import StrataStorage

/// An event (or any payload type) that reads its fields straight from the payload, without `Codable`'s
/// containers: the fast path of both built-in codecs.
///
/// `Codable` decoding costs a few thousand instructions per event however fast the codec is: the standard library
/// boxes every keyed container and reaches each field through generic calls. A type that also conforms to
/// `FieldDecodable` is decoded by `init(fields:)` instead, reading each field by name from the payload's own
/// bytes (JSON and binary payloads alike) — several times faster. Register it as usual (`EventTypes.on`); the
/// choice is made once, at registration.
///
/// `init(fields:)` must read what the type's `Encodable` conformance writes (the synthesized one writes each
/// stored property under its name):
///
/// ```swift
/// struct ItemAdded: Event, FieldDecodable {
///     static let eventType = "ItemAdded"
///     var item: String
///     var quantity: Int
///     var note: String?
///
///     init(fields: borrowing PayloadFields) throws {
///         item = try fields.decode(forKey: "item")
///         quantity = try fields.decode(forKey: "quantity")
///         note = try fields.decodeIfPresent(forKey: "note")
///     }
/// }
/// ```
///
/// Decoding stays as strict as the `Codable` path: the payload must be a well-formed object (a JSON payload is
/// checked whole, also the fields not read; a binary payload's framing of every field is checked, and a field's
/// own bytes when it is read, as with `Codable`), a missing field or a primitive field of the wrong type throws
/// `DecodingError` naming the field. A codec other than the built-in ones decodes the type
/// through `Codable`.
public protocol FieldDecodable: Decodable {
    /// The value from its payload's fields.
    init(fields: borrowing PayloadFields) throws
}

/// The fields of one payload's top-level object, by name, for `FieldDecodable.init(fields:)`. Valid only during
/// that call (it reads the record's bytes in place; it cannot be copied or kept).
///
/// Reading the fields in the order they were written costs one key comparison each. Primitive types (`String`,
/// `Bool`, `Double`, `Float`, the integer types), `Date` and `UUID` are read directly, a `FieldDecodable` value by its
/// own fields; any other `Decodable` value (an array, a dictionary, a plain `Codable` struct or enum) through
/// `Codable`, exactly as the codec would decode it as a field.
public struct PayloadFields: ~Copyable {
    private enum Source {
        /// A binary payload and its top-level field table (the codec's, valid for the whole call).
        case binary(UnsafeRawBufferPointer, UnsafeMutablePointer<FieldTable>)
        /// The JSON reader, unretained (the codec keeps it alive for the whole call): retaining and releasing it
        /// for every field read was ~12 % of a JSON projection's rebuild.
        case json(Unmanaged<JSONPayloadReader>)
    }

    private let source: Source
    private let fields: Range<Int>

    init(binary payload: UnsafeRawBufferPointer, table: UnsafeMutablePointer<FieldTable>, fields: Range<Int>) {
        source = .binary(payload, table)
        self.fields = fields
    }

    init(json reader: Unmanaged<JSONPayloadReader>, fields: Range<Int>) {
        source = .json(reader)
        self.fields = fields
    }

    /// Whether the payload holds its fields in key order (their UTF-8 bytes; JSON) rather than in the order they
    /// were encoded (binary): reading them in that order costs one key comparison each.
    public var sortsKeys: Bool {
        if case .json = source { true } else { false }
    }

    /// The field `key` of the table: its value's bytes (nil: absent); `isNil` when the field is present without a
    /// value (binary nil, JSON null); `plainString` when it is a JSON string already checked, without escapes.
    @inline(__always) private func lookup(_ key: StaticString) -> (range: Range<Int>, isNil: Bool, plainString: Bool)? {
        key.withUTF8Buffer { utf8 in
            let name = UnsafeRawBufferPointer(utf8)
            switch source {
            case .binary(let payload, let table):
                guard let field = table.pointee.find(name, in: fields, payload: payload) else { return nil }
                guard let range = table.pointee.value(field) else { return (0..<0, true, false) }
                return (range, false, false)
            case .json(let unmanaged):
                return unmanaged._withUnsafeGuaranteedRef { reader in
                    let found = reader.fields.find(name, in: fields, payload: reader.payload) { field in
                        reader.escapedKey(field, equals: key.description)
                    }
                    guard let field = found else { return nil }
                    let range = reader.fields.value(field)!
                    if reader.fields.isPlainString(field) { return (range, false, true) }
                    return (range, reader.isNull(at: range.lowerBound), false)
                }
            }
        }
    }

    private func path(_ key: StaticString) -> CodingPathNode { CodingPathNode(nil, PayloadKey(key.description)) }

    /// Reads the value of a present, non-nil field.
    @inline(__always) private func read<T: Decodable>(_ type: T.Type, _ key: StaticString, _ range: Range<Int>) throws -> T {
        switch source {
        case .binary(let payload, _):
            let reader = BinaryPayloadReader(payload, position: range.lowerBound, limit: range.upperBound)
            return try reader.within(range) { try reader.fieldValue(type, path: path(key)) }
        case .json(let unmanaged):
            return try unmanaged._withUnsafeGuaranteedRef { reader in try reader.value(type, at: range.lowerBound, path: path(key)) }
        }
    }

    /// A primitive field read by `binary` (a cursor on exactly its bytes, which it must read whole) or `json` (the
    /// reader at its value), or made by `text` from the bytes of a JSON string checked already; nil when absent or
    /// nil and not `required`.
    @inline(__always) private func primitive<T>(
        _ key: StaticString, required: Bool, _ binary: (inout BinarySpan) throws -> T, _ json: (JSONPayloadReader) throws -> T,
        text: ((UnsafeRawBufferPointer) -> T)? = nil
    ) throws -> T? {
        guard let (range, isNil, plainString) = lookup(key) else {
            if required { throw missing(key) }
            return nil
        }
        if isNil {
            if required { throw nilValue(T.self, key) }
            return nil
        }
        switch source {
        case .binary(let payload, _):
            var span = BinarySpan(payload, position: range.lowerBound, limit: range.upperBound)
            do {
                let value = try binary(&span)
                guard span.position == range.upperBound else { throw span.fail("\(range.upperBound - span.position) bytes left in the value") }
                return value
            } catch {
                throw Self.failure(error, key)
            }
        case .json(let unmanaged):
            return try unmanaged._withUnsafeGuaranteedRef { reader in
                if plainString, let text {
                    return text(UnsafeRawBufferPointer(start: reader.payload.baseAddress! + range.lowerBound + 1, count: range.count - 2))
                }
                reader.position = range.lowerBound
                do {
                    return try json(reader)
                } catch {
                    throw Self.failure(error, key)
                }
            }
        }
    }

    /// A primitive field's error, with the field in its coding path. (Not inlined: the casts would cost every
    /// read a stack slot for the error.)
    @inline(never) private static func failure(_ error: any Error, _ key: StaticString) -> any Error {
        switch error {
        case let error as BinaryCodecError:
            DecodingError.dataCorrupted(DecodingError.Context(codingPath: [PayloadKey(key.description)], debugDescription: "\(error)"))
        case let error as DecodingError: error.at(CodingPathNode(nil, PayloadKey(key.description)))
        default: error
        }
    }

    /// The text of a JSON string value checked already (valid UTF-8, no escapes): nothing to repair.
    private static func plainText(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: bytes, as: UTF8.self) }

    private func missing(_ key: StaticString) -> DecodingError {
        .keyNotFound(PayloadKey(key.description), DecodingError.Context(codingPath: [], debugDescription: "no field \"\(key)\" in the payload"))
    }

    private func nilValue(_ type: Any.Type, _ key: StaticString) -> DecodingError {
        .valueNotFound(type, DecodingError.Context(codingPath: [PayloadKey(key.description)], debugDescription: "field is nil"))
    }

    // The primitives, read without generic dispatch (what `decode<T>` would reach through `T`'s metadata).

    /// The `Bool` in field `key`; throws when the field is absent, nil or not a `Bool`.
    public func decode(_ type: Bool.Type = Bool.self, forKey key: StaticString) throws -> Bool { try primitive(key, required: true, { try $0.bool() }, { try $0.bool() })! }
    /// The `String` in field `key`; throws when the field is absent, nil or not a `String`.
    public func decode(_ type: String.Type = String.self, forKey key: StaticString) throws -> String { try primitive(key, required: true, { try $0.string() }, { try $0.string() }, text: Self.plainText)! }
    /// The `Double` in field `key`; throws when the field is absent, nil or not a `Double`.
    public func decode(_ type: Double.Type = Double.self, forKey key: StaticString) throws -> Double { try primitive(key, required: true, { try $0.double() }, { try $0.double() })! }
    /// The `Float` in field `key`; throws when the field is absent, nil or not a `Float`.
    public func decode(_ type: Float.Type = Float.self, forKey key: StaticString) throws -> Float { try primitive(key, required: true, { try $0.float() }, { try $0.float() })! }
    /// The `Int` in field `key`; throws when the field is absent, nil or not a `Int`.
    public func decode(_ type: Int.Type = Int.self, forKey key: StaticString) throws -> Int { try primitive(key, required: true, { try $0.signed(Int.self) }, { try $0.signed(Int.self) })! }
    /// The `Int8` in field `key`; throws when the field is absent, nil or not a `Int8`.
    public func decode(_ type: Int8.Type = Int8.self, forKey key: StaticString) throws -> Int8 { try primitive(key, required: true, { try $0.signed(Int8.self) }, { try $0.signed(Int8.self) })! }
    /// The `Int16` in field `key`; throws when the field is absent, nil or not a `Int16`.
    public func decode(_ type: Int16.Type = Int16.self, forKey key: StaticString) throws -> Int16 { try primitive(key, required: true, { try $0.signed(Int16.self) }, { try $0.signed(Int16.self) })! }
    /// The `Int32` in field `key`; throws when the field is absent, nil or not a `Int32`.
    public func decode(_ type: Int32.Type = Int32.self, forKey key: StaticString) throws -> Int32 { try primitive(key, required: true, { try $0.signed(Int32.self) }, { try $0.signed(Int32.self) })! }
    /// The `Int64` in field `key`; throws when the field is absent, nil or not a `Int64`.
    public func decode(_ type: Int64.Type = Int64.self, forKey key: StaticString) throws -> Int64 { try primitive(key, required: true, { try $0.int64() }, { try $0.int64() })! }
    /// The `UInt` in field `key`; throws when the field is absent, nil or not a `UInt`.
    public func decode(_ type: UInt.Type = UInt.self, forKey key: StaticString) throws -> UInt { try primitive(key, required: true, { try $0.unsigned(UInt.self) }, { try $0.unsigned(UInt.self) })! }
    /// The `UInt8` in field `key`; throws when the field is absent, nil or not a `UInt8`.
    public func decode(_ type: UInt8.Type = UInt8.self, forKey key: StaticString) throws -> UInt8 { try primitive(key, required: true, { try $0.unsigned(UInt8.self) }, { try $0.unsigned(UInt8.self) })! }
    /// The `UInt16` in field `key`; throws when the field is absent, nil or not a `UInt16`.
    public func decode(_ type: UInt16.Type = UInt16.self, forKey key: StaticString) throws -> UInt16 { try primitive(key, required: true, { try $0.unsigned(UInt16.self) }, { try $0.unsigned(UInt16.self) })! }
    /// The `UInt32` in field `key`; throws when the field is absent, nil or not a `UInt32`.
    public func decode(_ type: UInt32.Type = UInt32.self, forKey key: StaticString) throws -> UInt32 { try primitive(key, required: true, { try $0.unsigned(UInt32.self) }, { try $0.unsigned(UInt32.self) })! }
    /// The `UInt64` in field `key`; throws when the field is absent, nil or not a `UInt64`.
    public func decode(_ type: UInt64.Type = UInt64.self, forKey key: StaticString) throws -> UInt64 { try primitive(key, required: true, { try $0.uint64() }, { try $0.uint64() })! }

    /// The `Bool` in field `key`, nil when the field is absent or nil; throws when it is not a `Bool`.
    public func decodeIfPresent(_ type: Bool.Type = Bool.self, forKey key: StaticString) throws -> Bool? { try primitive(key, required: false, { try $0.bool() }, { try $0.bool() }) }
    /// The `String` in field `key`, nil when the field is absent or nil; throws when it is not a `String`.
    public func decodeIfPresent(_ type: String.Type = String.self, forKey key: StaticString) throws -> String? { try primitive(key, required: false, { try $0.string() }, { try $0.string() }, text: Self.plainText) }
    /// The `Double` in field `key`, nil when the field is absent or nil; throws when it is not a `Double`.
    public func decodeIfPresent(_ type: Double.Type = Double.self, forKey key: StaticString) throws -> Double? { try primitive(key, required: false, { try $0.double() }, { try $0.double() }) }
    /// The `Float` in field `key`, nil when the field is absent or nil; throws when it is not a `Float`.
    public func decodeIfPresent(_ type: Float.Type = Float.self, forKey key: StaticString) throws -> Float? { try primitive(key, required: false, { try $0.float() }, { try $0.float() }) }
    /// The `Int` in field `key`, nil when the field is absent or nil; throws when it is not a `Int`.
    public func decodeIfPresent(_ type: Int.Type = Int.self, forKey key: StaticString) throws -> Int? { try primitive(key, required: false, { try $0.signed(Int.self) }, { try $0.signed(Int.self) }) }
    /// The `Int8` in field `key`, nil when the field is absent or nil; throws when it is not a `Int8`.
    public func decodeIfPresent(_ type: Int8.Type = Int8.self, forKey key: StaticString) throws -> Int8? { try primitive(key, required: false, { try $0.signed(Int8.self) }, { try $0.signed(Int8.self) }) }
    /// The `Int16` in field `key`, nil when the field is absent or nil; throws when it is not a `Int16`.
    public func decodeIfPresent(_ type: Int16.Type = Int16.self, forKey key: StaticString) throws -> Int16? { try primitive(key, required: false, { try $0.signed(Int16.self) }, { try $0.signed(Int16.self) }) }
    /// The `Int32` in field `key`, nil when the field is absent or nil; throws when it is not a `Int32`.
    public func decodeIfPresent(_ type: Int32.Type = Int32.self, forKey key: StaticString) throws -> Int32? { try primitive(key, required: false, { try $0.signed(Int32.self) }, { try $0.signed(Int32.self) }) }
    /// The `Int64` in field `key`, nil when the field is absent or nil; throws when it is not a `Int64`.
    public func decodeIfPresent(_ type: Int64.Type = Int64.self, forKey key: StaticString) throws -> Int64? { try primitive(key, required: false, { try $0.int64() }, { try $0.int64() }) }
    /// The `UInt` in field `key`, nil when the field is absent or nil; throws when it is not a `UInt`.
    public func decodeIfPresent(_ type: UInt.Type = UInt.self, forKey key: StaticString) throws -> UInt? { try primitive(key, required: false, { try $0.unsigned(UInt.self) }, { try $0.unsigned(UInt.self) }) }
    /// The `UInt8` in field `key`, nil when the field is absent or nil; throws when it is not a `UInt8`.
    public func decodeIfPresent(_ type: UInt8.Type = UInt8.self, forKey key: StaticString) throws -> UInt8? { try primitive(key, required: false, { try $0.unsigned(UInt8.self) }, { try $0.unsigned(UInt8.self) }) }
    /// The `UInt16` in field `key`, nil when the field is absent or nil; throws when it is not a `UInt16`.
    public func decodeIfPresent(_ type: UInt16.Type = UInt16.self, forKey key: StaticString) throws -> UInt16? { try primitive(key, required: false, { try $0.unsigned(UInt16.self) }, { try $0.unsigned(UInt16.self) }) }
    /// The `UInt32` in field `key`, nil when the field is absent or nil; throws when it is not a `UInt32`.
    public func decodeIfPresent(_ type: UInt32.Type = UInt32.self, forKey key: StaticString) throws -> UInt32? { try primitive(key, required: false, { try $0.unsigned(UInt32.self) }, { try $0.unsigned(UInt32.self) }) }
    /// The `UInt64` in field `key`, nil when the field is absent or nil; throws when it is not a `UInt64`.
    public func decodeIfPresent(_ type: UInt64.Type = UInt64.self, forKey key: StaticString) throws -> UInt64? { try primitive(key, required: false, { try $0.uint64() }, { try $0.uint64() }) }

    // `Date` and `UUID` as their `Codable` conformances write them (a `Double` of seconds since 2001; the UUID's
    // string), read without `Codable`'s containers.

    /// The `Date` in field `key` (seconds since 2001, as `Date` encodes itself); throws when the field is absent, nil
    /// or not a number.
    public func decode(_ type: Date.Type = Date.self, forKey key: StaticString) throws -> Date {
        Date(timeIntervalSinceReferenceDate: try decode(Double.self, forKey: key))
    }
    /// The `Date` in field `key`, nil when the field is absent or nil.
    public func decodeIfPresent(_ type: Date.Type = Date.self, forKey key: StaticString) throws -> Date? {
        try decodeIfPresent(Double.self, forKey: key).map(Date.init(timeIntervalSinceReferenceDate:))
    }
    /// The `UUID` in field `key` (its string, as `UUID` encodes itself); throws when the field is absent, nil or not
    /// a UUID string.
    public func decode(_ type: UUID.Type = UUID.self, forKey key: StaticString) throws -> UUID {
        try Self.uuid(try decode(String.self, forKey: key), key)
    }
    /// The `UUID` in field `key`, nil when the field is absent or nil.
    public func decodeIfPresent(_ type: UUID.Type = UUID.self, forKey key: StaticString) throws -> UUID? {
        try decodeIfPresent(String.self, forKey: key).map { try Self.uuid($0, key) }
    }

    private static func uuid(_ text: String, _ key: StaticString) throws -> UUID {
        guard let uuid = UUID(uuidString: text) else {
            throw DecodingError.dataCorrupted(DecodingError.Context(
                codingPath: [PayloadKey(key.description)], debugDescription: "Attempted to decode UUID from invalid UUID string."))
        }
        return uuid
    }

    /// The value of field `key`; throws `DecodingError.keyNotFound` when the payload has no such field and
    /// `valueNotFound` when it is nil (unless `T` is an `Optional`, which then reads as nil).
    public func decode<T: Decodable>(_ type: T.Type = T.self, forKey key: StaticString) throws -> T {
        guard let (range, isNil, _) = lookup(key) else {
            if let optional = type as? any PayloadOptional.Type { return optional.absent as! T }
            throw missing(key)
        }
        if isNil {
            if let optional = type as? any PayloadOptional.Type { return optional.absent as! T }
            throw nilValue(type, key)
        }
        return try read(type, key, range)
    }

    /// The value of field `key`, nil when the payload has no such field or it is nil.
    public func decodeIfPresent<T: Decodable>(_ type: T.Type = T.self, forKey key: StaticString) throws -> T? {
        guard let (range, isNil, _) = lookup(key), !isNil else { return nil }
        return try read(type, key, range)
    }

    /// Whether the payload has field `key` (with a value or nil).
    public func contains(_ key: StaticString) -> Bool { lookup(key) != nil }

    // Nested values that read their own fields: a view of the nested object, no `Codable`.

    /// The value of field `key`, read by its own fields (a nested object); throws as `decode(_:forKey:)` does.
    public func decode<T: FieldDecodable>(_ type: T.Type = T.self, forKey key: StaticString) throws -> T {
        try withNestedFields(forKey: key) { try T(fields: $0) }
    }

    /// The value of field `key` read by its own fields, nil when the payload has no such field or it is nil.
    public func decodeIfPresent<T: FieldDecodable>(_ type: T.Type = T.self, forKey key: StaticString) throws -> T? {
        guard let (range, isNil, _) = lookup(key), !isNil else { return nil }
        return try nested(key, range) { try T(fields: $0) }
    }

    /// `body` on the fields of the nested object at `range` (the value of field `key`); errors name the field in
    /// front of their own path.
    private func nested<T>(_ key: StaticString, _ range: Range<Int>, _ body: (borrowing PayloadFields) throws -> T) throws -> T {
        do {
            switch source {
            case .binary(let payload, _):
                return try withBinaryFields(of: payload, in: range, body)
            case .json(let unmanaged):
                let fields = try unmanaged._withUnsafeGuaranteedRef { reader in
                    reader.position = range.lowerBound
                    return try reader.openObject(path: nil)
                }
                return try body(PayloadFields(json: unmanaged, fields: fields))
            }
        } catch {
            throw Self.nestedFailure(error, key)
        }
    }

    // Enums with associated values, as the synthesized `Codable` conformance writes them: an object with one field
    // named after the case, whose value is an object of the associated values (labels, or `_0`, `_1`, … where
    // unlabelled). What `@FieldCodable` generates for an enum.

    /// The position in `cases` of the one case name the payload has a field for (fields of other names are passed
    /// over, as the synthesized conformance does); throws `DecodingError.typeMismatch` naming `type` when there is
    /// none or more than one.
    public func enumCase(of type: Any.Type, _ cases: StaticString...) throws -> Int {
        var found: Int?
        for (index, name) in cases.enumerated() where lookup(name) != nil {
            guard found == nil else { throw Self.caseCount(type, "more than one") }
            found = index
        }
        guard let found else { throw Self.caseCount(type, "none") }
        return found
    }

    @inline(never) private static func caseCount(_ type: Any.Type, _ count: String) -> DecodingError {
        .typeMismatch(type, DecodingError.Context(codingPath: [], debugDescription: "an enum value has exactly one case's field; found \(count)"))
    }

    /// `body` on the fields of the object in field `key` (an enum case's associated values); throws
    /// `DecodingError` when the field is absent, nil or not an object.
    public func withNestedFields<T>(forKey key: StaticString, _ body: (borrowing PayloadFields) throws -> T) throws -> T {
        guard let (range, isNil, _) = lookup(key) else { throw missing(key) }
        if isNil { throw nilValue(T.self, key) }
        return try nested(key, range, body)
    }

    @inline(never) private static func nestedFailure(_ error: any Error, _ key: StaticString) -> any Error {
        func prefixed(_ context: DecodingError.Context) -> DecodingError.Context {
            DecodingError.Context(codingPath: [PayloadKey(key.description)] + context.codingPath, debugDescription: context.debugDescription)
        }
        switch error {
        case is BinaryCodecError: return failure(error, key)
        case DecodingError.keyNotFound(let missing, let context): return DecodingError.keyNotFound(missing, prefixed(context))
        case DecodingError.valueNotFound(let type, let context): return DecodingError.valueNotFound(type, prefixed(context))
        case DecodingError.typeMismatch(let type, let context): return DecodingError.typeMismatch(type, prefixed(context))
        case DecodingError.dataCorrupted(let context): return DecodingError.dataCorrupted(prefixed(context))
        default: return error
        }
    }
}

/// Runs `body` on the fields of the binary keyed value that spans exactly `range` of `payload`, after checking the
/// framing of all its fields. The field table lives on the stack (up to 16 fields; it moves to the heap beyond).
func withBinaryFields<T>(of payload: UnsafeRawBufferPointer, in range: Range<Int>, _ body: (borrowing PayloadFields) throws -> T) throws -> T {
    try withUnsafeTemporaryAllocation(of: Int.self, capacity: 4 * 16) { buffer in
        try withUnsafeTemporaryAllocation(of: FieldTable.self, capacity: 1) { place in
            let table = place.baseAddress!
            table.initialize(to: FieldTable(on: buffer))
            defer { table.deinitialize(count: 1) }
            var span = BinarySpan(payload, position: range.lowerBound, limit: range.upperBound)
            let fields = try span.openKeyed(into: &table.pointee)
            guard span.position == range.upperBound else { throw span.fail("\(range.upperBound - span.position) bytes after the value") }
            return try body(PayloadFields(binary: payload, table: table, fields: fields))
        }
    }
}

extension BinaryEventCodec {
    /// Runs `body` on the fields of the payload's top-level keyed value (a struct or class with a keyed `Codable`
    /// form), after checking the framing of all its fields. Nothing is allocated for it: the field table lives on
    /// the stack (up to 16 fields) and primitive fields are read by a cursor; a reader is made only for a field of
    /// another type.
    public func withFields(of bytes: UnsafeRawBufferPointer, _ body: (borrowing PayloadFields) throws -> Void) throws -> Bool {
        try BinaryPayloadReader.checkHeader(bytes)
        try withBinaryFields(of: bytes, in: 1..<bytes.count, body)
        return true
    }
}

extension JSONEventCodec {
    /// Runs `body` on the fields of the payload's JSON object (checked whole, with nothing but whitespace around
    /// it).
    public func withFields(of bytes: UnsafeRawBufferPointer, _ body: (borrowing PayloadFields) throws -> Void) throws -> Bool {
        let reader = JSONPayloadReader(bytes)
        let fields = try reader.openPayloadObject()
        try withExtendedLifetime(reader) { try body(PayloadFields(json: Unmanaged.passUnretained(reader), fields: fields)) }
        return true
    }
}
