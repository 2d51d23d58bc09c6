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
        buffer.writeInteger(UInt8(ascii: "\""))
        var start = value.utf8.startIndex
        let utf8 = value.utf8
        var index = start
        while index != utf8.endIndex {
            let byte = utf8[index]
            if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                buffer.writeBytes(utf8[start..<index])
                switch byte {
                case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case 0x0A: buffer.writeStaticString("\\n")
                case 0x0D: buffer.writeStaticString("\\r")
                case 0x09: buffer.writeStaticString("\\t")
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    buffer.writeStaticString("\\u00")
                    buffer.writeInteger(hex[Int(byte >> 4)])
                    buffer.writeInteger(hex[Int(byte & 0x0F)])
                }
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        buffer.writeBytes(utf8[start..<utf8.endIndex])
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
