#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The tokens of strict RFC 8259 JSON over UTF-8 bytes, read in place: one implementation for every JSON reader
/// of the project (the `strata import` line scanner, the JSON event codec's decoder). Each function starts at
/// `position` and leaves it after what it read; failures name the byte offset.
package enum JSONSyntax {
    package struct Failure: Error, Equatable, Sendable {
        package var offset: Int
        package var reason: String
        @inlinable package init(offset: Int, reason: String) {
            self.offset = offset
            self.reason = reason
        }
    }

    /// How deep arrays and objects may nest: hostile input must not exhaust the stack.
    package static let depthMax = 256

    @inlinable @inline(__always) package static func skipWhitespace(_ bytes: UnsafeRawBufferPointer, _ position: inout Int) {
        // The common case first: no whitespace at all (what the encoders write).
        if position < bytes.count, bytes[position] > 0x20 { return }
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    /// A string token from its opening quote, checked whole (escapes, surrogate pairs, control characters, UTF-8):
    /// its content's range, and whether that content holds escapes (then `unescape` gives its text).
    @inlinable package static func scanString(_ bytes: UnsafeRawBufferPointer, _ position: inout Int) throws(Failure) -> (Range<Int>, escaped: Bool) {
        guard position < bytes.count, bytes[position] == 0x22 else { throw Failure(offset: position, reason: "expected a string") }
        position += 1
        let start = position
        var escaped = false
        var bits: UInt8 = 0
        while true {
            // Eight bytes at a time up to the first that needs a look: a quote, a backslash, a control character
            // or a non-ASCII byte.
            if bytes.count &- position >= 8 {
                let special = specialStringBytes(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self)))
                if special == 0 {
                    position &+= 8
                    continue
                }
                position &+= special.trailingZeroBitCount >> 3
            } else if position >= bytes.count {
                break
            }
            let c = bytes[position]
            if c == 0x22 {
                position += 1
                let range = start..<(position - 1)
                if escaped {
                    _ = try unescape(bytes, range)
                } else if bits & 0x80 != 0, !isValidUTF8(UnsafeRawBufferPointer(rebasing: bytes[range])) {
                    throw Failure(offset: start, reason: "invalid UTF-8 in a string")
                }
                return (range, escaped)
            }
            if c == 0x5C {
                escaped = true
                position += 2
                continue
            }
            guard c >= 0x20 else { throw Failure(offset: position, reason: "control character in a string") }
            bits |= c
            position += 1
        }
        throw Failure(offset: position, reason: "unterminated string")
    }

    /// Bit 7 of each byte of `word` (eight string bytes, the first in the low byte) set where that byte is a
    /// quote, a backslash, a control character (below 0x20) or not ASCII; exact per byte (no carries between
    /// bytes).
    @inlinable @inline(__always) package static func specialStringBytes(_ word: UInt64) -> UInt64 {
        let high: UInt64 = 0x8080_8080_8080_8080, low: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        /// Bit 7 set in each byte of `x` that is zero.
        func zeroBytes(_ x: UInt64) -> UInt64 { ~(((x & low) &+ low) | x) & high }
        return zeroBytes(word ^ 0x2222_2222_2222_2222) | zeroBytes(word ^ 0x5C5C_5C5C_5C5C_5C5C)
            | zeroBytes(word & 0xE0E0_E0E0_E0E0_E0E0) | (word & high)
    }

    /// The UTF-8 of a string's content with its escapes resolved; checks the result is valid UTF-8.
    @inlinable package static func unescape(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Failure) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var i = range.lowerBound
        func hex4(_ at: Int) throws(Failure) -> UInt32 {
            guard at + 4 <= range.upperBound else { throw Failure(offset: at, reason: "truncated \\u escape") }
            var value: UInt32 = 0
            for j in at..<(at + 4) {
                let c = bytes[j]
                let digit: UInt32
                switch c {
                case 0x30...0x39: digit = UInt32(c - 0x30)
                case 0x41...0x46: digit = UInt32(c - 0x41 + 10)
                case 0x61...0x66: digit = UInt32(c - 0x61 + 10)
                default: throw Failure(offset: j, reason: "invalid \\u escape")
                }
                value = value << 4 | digit
            }
            return value
        }
        while i < range.upperBound {
            let c = bytes[i]
            guard c == 0x5C else {
                out.append(c)
                i += 1
                continue
            }
            guard i + 1 < range.upperBound else { throw Failure(offset: i, reason: "unterminated escape") }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case 0x22, 0x5C, 0x2F: out.append(e)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                var scalar = try hex4(i)
                i += 4
                if (0xD800..<0xDC00).contains(scalar) {
                    // A high surrogate must be followed by an escaped low one.
                    guard i + 1 < range.upperBound, bytes[i] == 0x5C, bytes[i + 1] == 0x75 else {
                        throw Failure(offset: i, reason: "unpaired surrogate")
                    }
                    let low = try hex4(i + 2)
                    guard (0xDC00..<0xE000).contains(low) else { throw Failure(offset: i, reason: "unpaired surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw Failure(offset: i - 6, reason: "unpaired surrogate")
                }
                out.append(contentsOf: String(Unicode.Scalar(scalar)!).utf8)
            default: throw Failure(offset: i - 1, reason: "invalid escape")
            }
        }
        guard out.withUnsafeBytes({ isValidUTF8($0) }) else { throw Failure(offset: range.lowerBound, reason: "invalid UTF-8 in a string") }
        return out
    }

    /// A number token: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?. Returns whether it is an integer
    /// (no fraction, no exponent).
    @inlinable package static func scanNumber(_ bytes: UnsafeRawBufferPointer, _ position: inout Int) throws(Failure) -> Bool {
        func digits() -> Int {
            let first = position
            while position < bytes.count, bytes[position] &- 0x30 < 10 { position += 1 }
            return position - first
        }
        if position < bytes.count, bytes[position] == 0x2D { position += 1 }
        guard position < bytes.count, bytes[position] &- 0x30 < 10 else { throw Failure(offset: position, reason: "expected a value") }
        if bytes[position] == 0x30 {
            position += 1
        } else {
            _ = digits()
        }
        var integral = true
        if position < bytes.count, bytes[position] == 0x2E {
            position += 1
            guard digits() > 0 else { throw Failure(offset: position, reason: "expected digits after '.'") }
            integral = false
        }
        if position < bytes.count, bytes[position] == 0x65 || bytes[position] == 0x45 {
            position += 1
            if position < bytes.count, bytes[position] == 0x2B || bytes[position] == 0x2D { position += 1 }
            guard digits() > 0 else { throw Failure(offset: position, reason: "expected digits in the exponent") }
            integral = false
        }
        return integral
    }

    @inlinable package static func literal(_ bytes: UnsafeRawBufferPointer, _ position: inout Int, _ word: StaticString) throws(Failure) {
        let count = word.utf8CodeUnitCount
        guard bytes.count - position >= count, memcmp(bytes.baseAddress! + position, word.utf8Start, count) == 0 else {
            throw Failure(offset: position, reason: "expected \(word)")
        }
        position += count
    }

    /// Checks one value (whitespace before it skipped) and leaves `position` after it.
    @inlinable package static func skipValue(_ bytes: UnsafeRawBufferPointer, _ position: inout Int, depth: Int = 0) throws(Failure) {
        skipWhitespace(bytes, &position)
        guard position < bytes.count else { throw Failure(offset: position, reason: "expected a value") }
        switch bytes[position] {
        case 0x7B, 0x5B:
            guard depth < depthMax else { throw Failure(offset: position, reason: "nesting deeper than \(depthMax)") }
            let isObject = bytes[position] == 0x7B
            let close: UInt8 = isObject ? 0x7D : 0x5D
            position += 1
            skipWhitespace(bytes, &position)
            if position < bytes.count, bytes[position] == close {
                position += 1
                return
            }
            while true {
                if isObject {
                    skipWhitespace(bytes, &position)
                    guard position < bytes.count, bytes[position] == 0x22 else { throw Failure(offset: position, reason: "expected an object key") }
                    _ = try scanString(bytes, &position)
                    skipWhitespace(bytes, &position)
                    guard position < bytes.count, bytes[position] == 0x3A else { throw Failure(offset: position, reason: "expected ':'") }
                    position += 1
                }
                try skipValue(bytes, &position, depth: depth + 1)
                skipWhitespace(bytes, &position)
                guard position < bytes.count else {
                    throw Failure(offset: position, reason: isObject ? "expected ',' or '}'" : "expected ',' or ']'")
                }
                if bytes[position] == 0x2C {
                    position += 1
                    continue
                }
                guard bytes[position] == close else {
                    throw Failure(offset: position, reason: isObject ? "expected ',' or '}'" : "expected ',' or ']'")
                }
                position += 1
                return
            }
        case 0x22: _ = try scanString(bytes, &position)
        case 0x74: try literal(bytes, &position, "true")
        case 0x66: try literal(bytes, &position, "false")
        case 0x6E: try literal(bytes, &position, "null")
        default: _ = try scanNumber(bytes, &position)
        }
    }
}

extension JSONSyntax {
    /// Whether `bytes` are exactly one JSON value (surrounding whitespace allowed) in valid UTF-8: what a reader may
    /// copy into a JSON document as it is (a stored payload, say).
    package static func isValidDocument(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard isValidUTF8(bytes) else { return false }
        var at = 0
        do throws(Failure) {
            try skipValue(bytes, &at)
        } catch {
            return false
        }
        skipWhitespace(bytes, &at)
        return at == bytes.count
    }

    /// Writes `value` as a JSON string, escaped as Foundation's `JSONEncoder` escapes (with slashes unescaped):
    /// `"` and `\` and control characters (`\b \f \n \r \t`, else `\u00XX`); everything else as its UTF-8.
    @inlinable package static func writeString(_ value: String, into out: inout [UInt8]) {
        var value = value
        value.withUTF8 { utf8 in
            out.append(0x22)
            defer { out.append(0x22) }
            guard let base = utf8.baseAddress else { return }
            var runStart = 0
            for i in 0..<utf8.count {
                let byte = base[i]
                guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
                out.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: i - runStart))
                runStart = i + 1
                switch byte {
                case 0x22: out.append(contentsOf: [0x5C, 0x22])
                case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
                case 0x08: out.append(contentsOf: [0x5C, 0x62])
                case 0x0C: out.append(contentsOf: [0x5C, 0x66])
                case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
                case 0x0D: out.append(contentsOf: [0x5C, 0x72])
                case 0x09: out.append(contentsOf: [0x5C, 0x74])
                default:
                    let low = byte & 0xF
                    out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, 0x30 + (byte >> 4), low < 10 ? 0x30 + low : 0x57 + low])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: utf8.count - runStart))
        }
    }
}

/// Whether `bytes` are valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF), without
/// allocating: ASCII a word at a time, anything else by its leading byte's sequence rules.
@inlinable package func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
    if isASCII(bytes) { return true }
    let n = bytes.count
    var i = 0
    @inline(__always) func continuation(_ at: Int) -> Bool { at < n && bytes[at] & 0xC0 == 0x80 }
    while i < n {
        let b0 = bytes[i]
        if b0 < 0x80 {
            i += 1
        } else if b0 < 0xC2 {
            return false  // a continuation byte first, or an overlong two-byte form
        } else if b0 < 0xE0 {
            guard continuation(i + 1) else { return false }
            i += 2
        } else if b0 < 0xF0 {
            guard i + 2 < n else { return false }
            let b1 = bytes[i + 1]
            let low: UInt8 = b0 == 0xE0 ? 0xA0 : 0x80  // (overlong)
            let high: UInt8 = b0 == 0xED ? 0x9F : 0xBF  // (surrogates)
            guard b1 >= low, b1 <= high, continuation(i + 2) else { return false }
            i += 3
        } else if b0 < 0xF5 {
            guard i + 3 < n else { return false }
            let b1 = bytes[i + 1]
            let low: UInt8 = b0 == 0xF0 ? 0x90 : 0x80  // (overlong)
            let high: UInt8 = b0 == 0xF4 ? 0x8F : 0xBF  // (past U+10FFFF)
            guard b1 >= low, b1 <= high, continuation(i + 2), continuation(i + 3) else { return false }
            i += 4
        } else {
            return false
        }
    }
    return true
}

/// The string whose UTF-8 is `bytes`; nil when they are not valid UTF-8. (`String(validating:as:)` is generic
/// and several times slower on the short strings events are made of.)
@inlinable package func utf8String(_ bytes: UnsafeRawBufferPointer) -> String? {
    let units = bytes.assumingMemoryBound(to: UInt8.self)
    let text = String(decoding: units, as: UTF8.self)
    if isASCII(bytes) { return text }
    var copy = text
    return copy.withUTF8 { $0.count == units.count && memcmp($0.baseAddress!, units.baseAddress!, units.count) == 0 } ? text : nil
}

@inlinable @inline(__always) package func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
    guard let base = bytes.baseAddress else { return true }
    let n = bytes.count
    var bits: UInt64 = 0
    if n >= 8 {
        // Whole words, then the last eight bytes (overlapping the last word): no byte-by-byte tail.
        var i = 0
        while i + 8 <= n {
            bits |= base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i += 8
        }
        bits |= base.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
    } else if n >= 4 {
        bits = UInt64(base.loadUnaligned(as: UInt32.self) | base.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))
    } else {
        for i in 0..<n { bits |= UInt64(base.load(fromByteOffset: i, as: UInt8.self)) }
    }
    return bits & 0x8080_8080_8080_8080 == 0
}
