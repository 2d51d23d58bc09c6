import StrataStorage

/// A strict RFC 8259 JSON scanner over a line's bytes, for `strata import`: validates values, decodes strings and
/// integers, and hands out the exact byte range of any value (so a payload can be carried verbatim, byte for
/// byte). The tokens themselves are `JSONSyntax`'s, shared with the JSON event codec.
struct JSONScanner {
    typealias Failure = JSONSyntax.Failure

    let bytes: [UInt8]
    private(set) var position: Int

    init(_ bytes: [UInt8], position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    var isAtEnd: Bool { position >= bytes.count }

    func fail(_ reason: String) -> Failure { Failure(offset: position, reason: reason) }

    /// Runs a `JSONSyntax` reader at `position` and moves `position` past what it read.
    private mutating func syntax<T>(_ read: (UnsafeRawBufferPointer, inout Int) throws(Failure) -> T) throws(Failure) -> T {
        var at = position
        let result = bytes.withUnsafeBytes { raw in Result { () throws(Failure) in try read(raw, &at) } }
        position = at
        return try result.get()
    }

    mutating func skipWhitespace() {
        var at = position
        bytes.withUnsafeBytes { JSONSyntax.skipWhitespace($0, &at) }
        position = at
    }

    /// Consumes `byte` (after whitespace) or fails.
    mutating func expect(_ byte: UInt8, _ what: String) throws(Failure) {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == byte else { throw fail("expected \(what)") }
        position += 1
    }

    /// Consumes `byte` (after whitespace) if it is next.
    mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    mutating func peek() -> UInt8? {
        skipWhitespace()
        return position < bytes.count ? bytes[position] : nil
    }

    /// Validates one value and returns its byte range.
    mutating func skipValue() throws(Failure) -> Range<Int> {
        skipWhitespace()
        let start = position
        try syntax { raw, at throws(Failure) in try JSONSyntax.skipValue(raw, &at) }
        return start..<position
    }

    /// A JSON integer without fraction or exponent, within Int64.
    mutating func parseInteger() throws(Failure) -> Int64 {
        skipWhitespace()
        let start = position
        let range = try skipValue()
        let text = bytes[range]
        guard text.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") }),
            let value = Int64(String(decoding: text, as: UTF8.self))
        else {
            position = start
            throw fail("expected an integer")
        }
        return value
    }

    /// A string (the scanner is at its opening quote, after whitespace), escapes decoded. Control characters must
    /// be escaped and the bytes must be valid UTF-8.
    mutating func parseString() throws(Failure) -> String {
        skipWhitespace()
        return try syntax { raw, at throws(Failure) in
            let (range, escaped) = try JSONSyntax.scanString(raw, &at)
            let text = escaped ? try JSONSyntax.unescape(raw, range) : Array(raw[range])
            return String(decoding: text, as: UTF8.self)  // checked UTF-8 by the scan
        }
    }

    /// Whether `bytes` are exactly one JSON value (surrounding whitespace allowed) in valid UTF-8.
    static func isValidJSON(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { JSONSyntax.isValidDocument($0) }
    }
}
