import NIOCore

/// Writes JSON text straight into a `ByteBuffer`: the responses' envelopes (events, results, problems) without an
/// intermediate tree or `JSONEncoder`, with stored JSON payloads copied in as they are.
struct JSONWriter {
    var buffer: ByteBuffer

    init(capacity: Int = 256) { buffer = ByteBufferAllocator().buffer(capacity: capacity) }

    /// An object: `body` writes its members.
    mutating func object(_ body: (inout ObjectWriter) throws -> Void) rethrows {
        buffer.writeInteger(UInt8(ascii: "{"))
        var members = ObjectWriter(writer: self)
        buffer = ByteBuffer()  // (the members own the buffer while they write: no copy on write)
        try body(&members)
        self = members.writer
        buffer.writeInteger(UInt8(ascii: "}"))
    }

    /// An array of `elements`, each written by `element`.
    mutating func array<S: Sequence>(_ elements: S, _ element: (inout JSONWriter, S.Element) throws -> Void) rethrows {
        buffer.writeInteger(UInt8(ascii: "["))
        var first = true
        for item in elements {
            if !first { buffer.writeInteger(UInt8(ascii: ",")) }
            first = false
            try element(&self, item)
        }
        buffer.writeInteger(UInt8(ascii: "]"))
    }

    mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in string(UnsafeRawBufferPointer(utf8)) }
    }

    /// A JSON string of UTF-8 text: runs of plain bytes copied whole, the characters JSON escapes escaped.
    mutating func string(_ utf8: UnsafeRawBufferPointer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        var start = 0
        for index in 0..<utf8.count {
            let byte = utf8[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: utf8[start..<index]))
            switch byte {
            case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case 0x0A: buffer.writeStaticString("\\n")
            case 0x0D: buffer.writeStaticString("\\r")
            case 0x09: buffer.writeStaticString("\\t")
            default:
                let hex: StaticString = "0123456789abcdef"
                buffer.writeStaticString("\\u00")
                buffer.writeInteger(hex.utf8Start[Int(byte >> 4)])
                buffer.writeInteger(hex.utf8Start[Int(byte & 0x0F)])
            }
            start = index + 1
        }
        buffer.writeBytes(UnsafeRawBufferPointer(rebasing: utf8[start...]))
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    mutating func integer<I: BinaryInteger>(_ value: I) { buffer.writeString(String(value)) }

    mutating func bool(_ value: Bool) { buffer.writeStaticString(value ? "true" : "false") }

    mutating func null() { buffer.writeStaticString("null") }

    /// JSON text written as it is (the caller vouches for it).
    mutating func raw(_ json: String) { buffer.writeString(json) }

    /// JSON bytes written as they are (the caller vouches for them).
    mutating func raw(_ json: some Collection<UInt8>) { buffer.writeBytes(json) }

    /// The members of an object being written.
    struct ObjectWriter {
        var writer: JSONWriter
        var first = true

        mutating func field(_ name: String, _ value: (inout JSONWriter) throws -> Void) rethrows {
            if !first { writer.buffer.writeInteger(UInt8(ascii: ",")) }
            first = false
            writer.string(name)
            writer.buffer.writeInteger(UInt8(ascii: ":"))
            try value(&writer)
        }
    }
}
