/// A 128-bit event id, stored as 16 bytes in RFC 4122 byte order.
public struct EventID: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// A random (version 4) UUID, from the operating system's generator (fetched in blocks, see `RandomWords`).
    public static func random() -> EventID {
        let (high, low) = RandomWords.shared.pair()
        return version4(high, low)
    }

    /// A random (version 4) UUID from `generator`.
    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> EventID {
        version4(generator.next(), generator.next())
    }

    /// The version 4 UUID of 122 random bits: version nibble 4, RFC 4122 variant.
    private static func version4(_ high: UInt64, _ low: UInt64) -> EventID {
        EventID(high: (high & ~0xF000) | 0x4000, low: (low & ~(0xC000 << 48)) | (0x8000 << 48))
    }

    /// Parses the canonical 8-4-4-4-12 hexadecimal form (either case).
    public init?(uuidString: String) {
        var digits: [UInt8] = []
        digits.reserveCapacity(32)
        let utf8 = Array(uuidString.utf8)
        guard utf8.count == 36 else { return nil }
        for (index, c) in utf8.enumerated() {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard c == UInt8(ascii: "-") else { return nil }
                continue
            }
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits.append(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digits.append(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digits.append(c - UInt8(ascii: "A") + 10)
            default: return nil
            }
        }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for i in 0..<16 { high = high << 4 | UInt64(digits[i]) }
        for i in 16..<32 { low = low << 4 | UInt64(digits[i]) }
        self.init(high: high, low: low)
    }

    /// Hex digit values of lowercase ASCII; 0xFF for anything else.
    @usableFromInline static let lowercaseHexValues: [UInt8] = (0..<256).map { c in
        switch c {
        case 0x30...0x39: UInt8(c - 0x30)
        case 0x61...0x66: UInt8(c - 0x61 + 10)
        default: 0xFF
        }
    }

    /// Parses exactly the canonical form (36 bytes, lowercase hex, hyphens at 8, 13, 18, 23) without
    /// allocating; nil for anything else, uppercase included.
    @inlinable
    public static func parseCanonical(_ utf8: UnsafeBufferPointer<UInt8>) -> EventID? {
        guard utf8.count == 36, utf8[8] == 0x2D, utf8[13] == 0x2D, utf8[18] == 0x2D, utf8[23] == 0x2D else {
            return nil
        }
        return lowercaseHexValues.withUnsafeBufferPointer { table -> EventID? in
            var words: (UInt64, UInt64) = (0, 0)
            var invalid: UInt8 = 0
            // Groups of the canonical form: 8-4-4 | 4-12.
            @inline(__always) func hex(_ from: Int, _ to: Int, _ word: inout UInt64) {
                for i in from..<to {
                    let v = table[Int(utf8[i])]
                    invalid |= v
                    word = word << 4 | UInt64(v & 0xF)
                }
            }
            hex(0, 8, &words.0)
            hex(9, 13, &words.0)
            hex(14, 18, &words.0)
            hex(19, 23, &words.1)
            hex(24, 36, &words.1)
            // Valid values are < 16; 0xFF marks a non-hex byte.
            return invalid & 0xF0 == 0 ? EventID(high: words.0, low: words.1) : nil
        }
    }

    public var description: String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for i in 0..<32 {
            if i == 8 || i == 12 || i == 16 || i == 20 { out.append(UInt8(ascii: "-")) }
            let word = i < 16 ? high : low
            let shift = UInt64(60 - (i % 16) * 4)
            out.append(hex[Int((word >> shift) & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
