import NIOCore
import PostgresNIO
import Strata

/// A one-dimensional array parameter in PostgreSQL's binary array format, written straight from Swift values
/// (postgres-nio's own array encoding has no NULL elements, and would make a `ByteBuffer` per `bytea`).
struct ArrayParameter<Element: ArrayParameterElement>: PostgresNonThrowingEncodable, Sendable {
    var elements: [Element]

    init(_ elements: [Element]) { self.elements = elements }

    static var psqlType: PostgresDataType { Element.arrayType }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        // array_send: dimensions, has-nulls flag, element type; per dimension its size and lower bound; the elements,
        // each as its length (-1: NULL) and bytes.
        buffer.writeInteger(elements.isEmpty ? 0 : 1, as: Int32.self)
        buffer.writeInteger(elements.contains(where: \.isNull) ? 1 : 0, as: Int32.self)
        buffer.writeInteger(Element.elementType.rawValue)
        guard !elements.isEmpty else { return }
        buffer.writeInteger(Int32(elements.count))
        buffer.writeInteger(1, as: Int32.self)
        for element in elements { element.write(into: &buffer) }
    }
}

protocol ArrayParameterElement: Sendable {
    static var elementType: PostgresDataType { get }
    static var arrayType: PostgresDataType { get }
    var isNull: Bool { get }
    /// Writes the element's length (-1: NULL) and bytes.
    func write(into buffer: inout ByteBuffer)
}

/// A `text` element (nil: NULL).
struct TextElement: ArrayParameterElement {
    var value: String?
    init(_ value: String?) { self.value = value }
    static var elementType: PostgresDataType { .text }
    static var arrayType: PostgresDataType { .textArray }
    var isNull: Bool { value == nil }
    func write(into buffer: inout ByteBuffer) {
        guard let value else {
            buffer.writeInteger(-1, as: Int32.self)
            return
        }
        let lengthAt = buffer.writerIndex
        buffer.writeInteger(0, as: Int32.self)
        let count = buffer.writeString(value)
        buffer.setInteger(Int32(count), at: lengthAt)
    }
}

/// A `bytea` element.
struct ByteaElement: ArrayParameterElement {
    var value: [UInt8]
    init(_ value: [UInt8]) { self.value = value }
    static var elementType: PostgresDataType { .bytea }
    static var arrayType: PostgresDataType { .byteaArray }
    var isNull: Bool { false }
    func write(into buffer: inout ByteBuffer) {
        buffer.writeInteger(Int32(value.count))
        buffer.writeBytes(value)
    }
}

/// A `bigint` element.
struct Int64Element: ArrayParameterElement {
    var value: Int64
    init(_ value: Int64) { self.value = value }
    static var elementType: PostgresDataType { .int8 }
    static var arrayType: PostgresDataType { .int8Array }
    var isNull: Bool { false }
    func write(into buffer: inout ByteBuffer) {
        buffer.writeInteger(8, as: Int32.self)
        buffer.writeInteger(value)
    }
}

/// A `smallint` element.
struct Int16Element: ArrayParameterElement {
    var value: Int16
    init(_ value: Int16) { self.value = value }
    static var elementType: PostgresDataType { .int2 }
    static var arrayType: PostgresDataType { .int2Array }
    var isNull: Bool { false }
    func write(into buffer: inout ByteBuffer) {
        buffer.writeInteger(2, as: Int32.self)
        buffer.writeInteger(value)
    }
}

/// A `uuid` element: an event id's 16 bytes.
struct UUIDElement: ArrayParameterElement {
    var value: EventID
    init(_ value: EventID) { self.value = value }
    static var elementType: PostgresDataType { .uuid }
    static var arrayType: PostgresDataType { .uuidArray }
    var isNull: Bool { false }
    func write(into buffer: inout ByteBuffer) {
        buffer.writeInteger(16, as: Int32.self)
        buffer.writeInteger(value.high)
        buffer.writeInteger(value.low)
    }
}

/// A `bytea` parameter from bytes (without a `ByteBuffer` of its own).
struct ByteaParameter: PostgresNonThrowingEncodable, Sendable {
    var value: [UInt8]
    static var psqlType: PostgresDataType { .bytea }
    static var psqlFormat: PostgresFormat { .binary }
    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeBytes(value)
    }
}
