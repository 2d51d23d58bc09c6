/// A strict RFC 8259 JSON scanner over UTF-8 bytes: validates values, decodes strings and integers, and hands
/// out the exact byte range of any value (so a payload can be carried verbatim, byte for byte). Nesting is
/// limited, so hostile input cannot exhaust the stack.
struct JSONScanner {
    struct Failure: Error, Equatable {
        var offset: Int
        var reason: String
    }

    static let depthMax = 256

    let bytes: [UInt8]
    private(set) var position: Int

    init(_ bytes: [UInt8], position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    var isAtEnd: Bool { position >= bytes.count }

    func fail(_ reason: String) -> Failure { Failure(offset: position, reason: reason) }

    mutating func skipWhitespace() {
        while position < bytes.count, bytes[position] == 0x20 || bytes[position] == 0x09 || bytes[position] == 0x0A || bytes[position] == 0x0D {
            position += 1
        }
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
    mutating func skipValue(depth: Int = 0) throws(Failure) -> Range<Int> {
        guard depth < Self.depthMax else { throw fail("nesting deeper than \(Self.depthMax)") }
        guard let first = peek() else { throw fail("expected a value") }
        let start = position
        switch first {
        case UInt8(ascii: "{"):
            position += 1
            if !consume(UInt8(ascii: "}")) {
                repeat {
                    guard peek() == UInt8(ascii: "\"") else { throw fail("expected an object key") }
                    _ = try parseString()
                    try expect(UInt8(ascii: ":"), "':'")
                    _ = try skipValue(depth: depth + 1)
                } while consume(UInt8(ascii: ","))
                try expect(UInt8(ascii: "}"), "',' or '}'")
            }
        case UInt8(ascii: "["):
            position += 1
            if !consume(UInt8(ascii: "]")) {
                repeat { _ = try skipValue(depth: depth + 1) } while consume(UInt8(ascii: ","))
                try expect(UInt8(ascii: "]"), "',' or ']'")
            }
        case UInt8(ascii: "\""):
            _ = try parseString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default:
            try skipNumber()
        }
        return start..<position
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw fail("expected \(word)") }
        for i in 0..<count where bytes[position + i] != word.utf8Start[i] { throw fail("expected \(word)") }
        position += count
    }

    private mutating func digits() -> Int {
        let start = position
        while position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39 { position += 1 }
        return position - start
    }

    /// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
    private mutating func skipNumber() throws(Failure) {
        if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39 else { throw fail("expected a value") }
        if bytes[position] == 0x30 {
            position += 1
        } else {
            _ = digits()
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard digits() > 0 else { throw fail("expected digits after '.'") }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard digits() > 0 else { throw fail("expected digits in the exponent") }
        }
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

    /// A string (the scanner is at its opening quote), escapes decoded. Control characters must be escaped and
    /// the bytes must be valid UTF-8.
    mutating func parseString() throws(Failure) -> String {
        try expect(UInt8(ascii: "\""), "a string")
        var out: [UInt8] = []
        var runStart = position
        while true {
            guard position < bytes.count else { throw fail("unterminated string") }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                out += bytes[runStart..<position]
                position += 1
                break
            }
            if byte < 0x20 { throw fail("control character in a string") }
            if byte != UInt8(ascii: "\\") {
                position += 1
                continue
            }
            out += bytes[runStart..<position]
            position += 1
            guard position < bytes.count else { throw fail("unterminated escape") }
            let escape = bytes[position]
            position += 1
            switch escape {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                        throw fail("unpaired surrogate")
                    }
                    position += 2
                    let low = try hex4()
                    guard low >= 0xDC00 && low < 0xE000 else { throw fail("unpaired surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    throw fail("unpaired surrogate")
                }
                out += Array(String(Character(Unicode.Scalar(scalar)!)).utf8)
            default:
                throw fail("invalid escape")
            }
            runStart = position
        }
        guard let string = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8 in a string") }
        return string
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard position + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[position]
            let digit: UInt32
            switch c {
            case 0x30...0x39: digit = UInt32(c - 0x30)
            case 0x41...0x46: digit = UInt32(c - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(c - 0x61 + 10)
            default: throw fail("invalid \\u escape")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    /// Whether `bytes` are exactly one JSON value (surrounding whitespace allowed) in valid UTF-8.
    static func isValidJSON(_ bytes: [UInt8]) -> Bool {
        guard String(validating: bytes, as: UTF8.self) != nil else { return false }
        var scanner = JSONScanner(bytes)
        do {
            _ = try scanner.skipValue()
        } catch {
            return false
        }
        scanner.skipWhitespace()
        return scanner.isAtEnd
    }
}

/// JSON string escaping for output: quotes, backslashes and control characters; everything else as UTF-8.
func appendJSONString(_ value: some StringProtocol, to out: inout [UInt8]) {
    out.append(0x22)
    for byte in value.utf8 {
        switch byte {
        case 0x22: out += [0x5C, 0x22]
        case 0x5C: out += [0x5C, 0x5C]
        case 0x0A: out += [0x5C, UInt8(ascii: "n")]
        case 0x0D: out += [0x5C, UInt8(ascii: "r")]
        case 0x09: out += [0x5C, UInt8(ascii: "t")]
        case 0..<0x20:
            let hex = Array("0123456789abcdef".utf8)
            out += [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
        default: out.append(byte)
        }
    }
    out.append(0x22)
}
