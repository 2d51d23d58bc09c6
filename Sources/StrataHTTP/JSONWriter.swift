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

    /// A JSON string of UTF-8 text, written in one reservation of the buffer: the characters JSON escapes escaped
    /// (`\"`, `\\`, `\n`, `\r`, `\t`, else `\u00XX` below 0x20), every other byte as it is.
    mutating func string(_ utf8: UnsafeRawBufferPointer) {
        var escapes = 0
        for byte in utf8 where Self.needsEscape(byte) { escapes += 1 }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: utf8.count + 5 * escapes + 2) { out in
            let base = out.baseAddress!
            base.storeBytes(of: UInt8(ascii: "\""), as: UInt8.self)
            var at = 1
            guard escapes > 0 else {
                if let source = utf8.baseAddress { (base + 1).copyMemory(from: source, byteCount: utf8.count) }
                base.storeBytes(of: UInt8(ascii: "\""), toByteOffset: utf8.count + 1, as: UInt8.self)
                return utf8.count + 2
            }
            func put(_ byte: UInt8) {
                base.storeBytes(of: byte, toByteOffset: at, as: UInt8.self)
                at += 1
            }
            for byte in utf8 {
                guard Self.needsEscape(byte) else {
                    put(byte)
                    continue
                }
                put(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): put(byte)
                case 0x0A: put(UInt8(ascii: "n"))
                case 0x0D: put(UInt8(ascii: "r"))
                case 0x09: put(UInt8(ascii: "t"))
                default:
                    let hex: StaticString = "0123456789abcdef"
                    put(UInt8(ascii: "u"))
                    put(UInt8(ascii: "0"))
                    put(UInt8(ascii: "0"))
                    put(hex.utf8Start[Int(byte >> 4)])
                    put(hex.utf8Start[Int(byte & 0x0F)])
                }
            }
            put(UInt8(ascii: "\""))
            return at
        }
    }

    @inline(__always) static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
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
