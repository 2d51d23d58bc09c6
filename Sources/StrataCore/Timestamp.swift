/// RFC 3339 timestamps in UTC with microseconds (`2026-11-28T13:40:52.123456Z`) for every `Int64` of
/// microseconds since the Unix epoch. Years outside 0000–9999, which RFC 3339 cannot write, use ISO 8601's
/// expanded form with a sign and at least five digits (`+292277-…`, `-000001-…`), so every value round-trips.
package enum Timestamp {
    /// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's civil_from_days).
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = Int(doy - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// (year, month, day) → days since 1970-01-01 (days_from_civil).
    static func days(year: Int64, month: Int, day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64(month > 2 ? month - 3 : month + 9)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    package static func format(micros: Int64) -> String {
        // Floor division (times before the epoch keep a positive time of day), without overflow at the ends.
        let perDay: Int64 = 86_400_000_000
        var days = micros / perDay
        var inDay = micros % perDay
        if inDay < 0 {
            days -= 1
            inDay += perDay
        }
        let (year, month, day) = civil(fromDays: days)
        let seconds = inDay / 1_000_000
        let fraction = inDay % 1_000_000
        // Written digit by digit into the string's own storage (one allocation; an HTTP response writes one per event).
        return String(unsafeUninitializedCapacity: 34) { out in
            var at = 0
            func put(_ value: Int64, width: Int) {
                var value = value
                for index in stride(from: at + width - 1, through: at, by: -1) {
                    out[index] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
                at += width
            }
            func put(_ byte: Unicode.Scalar) {
                out[at] = UInt8(ascii: byte)
                at += 1
            }
            if (0...9_999).contains(year) {
                put(year, width: 4)
            } else {
                put(year < 0 ? "-" : "+")
                put(abs(year), width: 6)
            }
            put("-")
            put(Int64(month), width: 2)
            put("-")
            put(Int64(day), width: 2)
            put("T")
            put(seconds / 3_600, width: 2)
            put(":")
            put(seconds / 60 % 60, width: 2)
            put(":")
            put(seconds % 60, width: 2)
            put(".")
            put(fraction, width: 6)
            put("Z")
            return at
        }
    }

    /// Parses RFC 3339 (`T` or `t` or space, fraction of 0–9 digits truncated to microseconds, `Z` or an
    /// offset) and the expanded-year form `format` writes. Nil when malformed or out of range.
    package static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        var i = 0
        func number(_ count: Int) -> Int64? {
            guard i + count <= b.count else { return nil }
            var value: Int64 = 0
            for k in 0..<count {
                let c = b[i + k]
                guard c >= 0x30 && c <= 0x39 else { return nil }
                value = value * 10 + Int64(c - 0x30)
            }
            i += count
            return value
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        var year: Int64
        if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            let negative = b[i] == UInt8(ascii: "-")
            i += 1
            var count = 0
            while i + count < b.count, b[i + count] >= 0x30, b[i + count] <= 0x39 { count += 1 }
            guard count >= 5, count <= 9, let value = number(count) else { return nil }
            year = negative ? -value : value
        } else {
            guard let value = number(4) else { return nil }
            year = value
        }
        guard expect(UInt8(ascii: "-")), let month = number(2), expect(UInt8(ascii: "-")), let day = number(2),
            i < b.count, b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == UInt8(ascii: " ")
        else { return nil }
        i += 1
        guard let hour = number(2), expect(UInt8(ascii: ":")), let minute = number(2), expect(UInt8(ascii: ":")),
            let second = number(2)
        else { return nil }
        var micros: Int64 = 0
        if expect(UInt8(ascii: ".")) {
            var count = 0
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                if count < 6 { micros = micros * 10 + Int64(b[i] - 0x30) }
                count += 1
                i += 1
            }
            guard count >= 1, count <= 9 else { return nil }
            for _ in count..<max(count, 6) { micros *= 10 }
        }
        var offsetSeconds: Int64 = 0
        if expect(UInt8(ascii: "Z")) || expect(UInt8(ascii: "z")) {
        } else if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            let sign: Int64 = b[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let oh = number(2), expect(UInt8(ascii: ":")), let om = number(2), oh < 24, om < 60 else { return nil }
            offsetSeconds = sign * (oh * 3_600 + om * 60)
        } else {
            return nil
        }
        guard i == b.count, (1...12).contains(month), day >= 1, hour < 24, minute < 60, second < 60 else { return nil }
        let monthDays: [Int64] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        guard day <= monthDays[Int(month) - 1] + (month == 2 && leap ? 1 : 0) else { return nil }
        // In 128 bits: the seconds of the earliest representable time overflow 64 bits before its fraction is added.
        let seconds = Int128(days(year: year, month: Int(month), day: Int(day))) * 86_400
            + Int128(hour * 3_600 + minute * 60 + second - offsetSeconds)
        let result = seconds * 1_000_000 + Int128(micros)
        return result >= Int128(Int64.min) && result <= Int128(Int64.max) ? Int64(result) : nil
    }
}
