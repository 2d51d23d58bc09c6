@_spi(StrataInternals) import StrataStorage
import Testing

/// `JSONSyntax.scanString` skips eight plain bytes at a time: the word test must flag exactly the bytes the scan
/// has to look at, and the scan must stop at them wherever they fall in a word.
@Suite struct JSONSyntaxTests {
    static func isSpecial(_ byte: UInt8) -> Bool { byte == 0x22 || byte == 0x5C || byte < 0x20 || byte >= 0x80 }

    @Test func theWordTestFlagsExactlyTheSpecialBytes() {
        var wrong = 0
        for position in 0..<8 {
            for value in 0...255 {
                let shift = UInt64(8 * position)
                let word = 0x6161_6161_6161_6161 & ~(0xFF << shift) | UInt64(value) << shift
                let expected: UInt64 = Self.isSpecial(UInt8(value)) ? 0x80 << shift : 0
                if JSONSyntax.specialStringBytes(word) != expected { wrong += 1 }
            }
        }
        // Two neighbouring bytes of every value: no carry or borrow from one byte changes the other's flag.
        for low in [0, 6] {
            for a in 0...255 {
                for b in 0...255 {
                    let word = 0x6161_6161_6161_6161 & ~(0xFFFF << UInt64(8 * low)) | UInt64(a | b << 8) << UInt64(8 * low)
                    let expected = (Self.isSpecial(UInt8(a)) ? UInt64(0x80) : 0) << UInt64(8 * low)
                        | (Self.isSpecial(UInt8(b)) ? UInt64(0x80) : 0) << UInt64(8 * low + 8)
                    if JSONSyntax.specialStringBytes(word) != expected { wrong += 1 }
                }
            }
        }
        #expect(wrong == 0)
    }

    /// `"aaa…X…aaa"` followed by more JSON, with X (an escape, a two-byte character, a control character) at every
    /// offset of strings up to 24 bytes.
    @Test func theScanStopsAtSpecialBytesAtEveryOffset() throws {
        for count in 0...24 {
            for offset in 0...count {
                for (insert, escaped) in [(Array(#"\""#.utf8), true), (Array("é".utf8), false), ([], false)] {
                    let content = Array(repeating: UInt8(ascii: "a"), count: offset) + insert + Array(repeating: UInt8(ascii: "a"), count: count - offset)
                    let json = [0x22] + content + Array(#"",1]"#.utf8)
                    var position = 0
                    let (range, wasEscaped) = try json.withUnsafeBytes { bytes in try JSONSyntax.scanString(bytes, &position) }
                    #expect(range == 1..<(1 + content.count) && wasEscaped == escaped && position == content.count + 2)
                }
                let control = [0x22] + Array(repeating: UInt8(ascii: "a"), count: offset) + [0x0A] + Array(repeating: UInt8(ascii: "a"), count: count) + [0x22]
                var position = 0
                #expect(throws: JSONSyntax.Failure.self) { try control.withUnsafeBytes { bytes in try JSONSyntax.scanString(bytes, &position) } }
                #expect(position == 1 + offset)
            }
            // Unterminated: the scan runs off the end by words and by bytes without reading past it.
            let open = [0x22] + Array(repeating: UInt8(ascii: "a"), count: count)
            var position = 0
            #expect(throws: JSONSyntax.Failure.self) { try open.withUnsafeBytes { bytes in try JSONSyntax.scanString(bytes, &position) } }
        }
    }
}

/// `memcmpEqual` compares words (and overlapping tails): every length up to 40, a difference at every position,
/// unaligned starts — the same answer as a byte-by-byte comparison.
@Suite struct BytesEqualTests {
    @Test func wordComparisonsAgreeWithBytes() {
        var wrong = 0
        let a = (0..<48).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        a.withUnsafeBytes { base in
            for offset in 0..<3 {
                for count in 0...40 {
                    var b = Array(a[offset..<(offset + count)])
                    if !b.withUnsafeBytes({ memcmpEqual(base.baseAddress! + offset, $0.baseAddress ?? base.baseAddress!, count) }) { wrong += 1 }
                    for position in 0..<count {
                        b[position] ^= 0x40
                        if b.withUnsafeBytes({ memcmpEqual(base.baseAddress! + offset, $0.baseAddress!, count) }) { wrong += 1 }
                        b[position] ^= 0x40
                    }
                }
            }
        }
        #expect(wrong == 0)
    }
}
