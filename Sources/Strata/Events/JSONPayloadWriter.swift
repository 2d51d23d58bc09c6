import Foundation
import StrataStorage

// Writing a payload tree (PayloadEncoding.swift) as JSON, byte for byte what Foundation's `JSONEncoder` writes with
// `[.sortedKeys, .withoutEscapingSlashes]` and its default strategies: keys sorted by their UTF-8 bytes (a key
// encoded twice keeps its last value), integers in decimal, a `Double`/`Float` as its shortest `description`
// without a trailing ".0" (non-finite ones refused), strings with `"`, `\` and control characters escaped
// (`\b \f \n \r \t`, else `\u00XX`) and everything else as UTF-8, `Data` as Base64, `URL` as its absolute
// string, `Date` as seconds since 2001, `Decimal` as its number.

extension PayloadNode {
    /// Writes the value as JSON.
    func writeJSON(into out: inout [UInt8]) throws {
        switch self {
        case .bool(let value): out.append(contentsOf: value ? JSONText.true : JSONText.false)
        case .int(let value):
            if value < 0 {
                out.append(0x2D)
                writeDecimal(value.magnitude, into: &out)
            } else {
                writeDecimal(UInt64(value), into: &out)
            }
        case .uint(let value): writeDecimal(value, into: &out)
        case .double(let value):
            guard value.isFinite else { throw nonFinite(value) }
            writeNumberText(value.description, into: &out)
        case .float(let value):
            guard value.isFinite else { throw nonFinite(value) }
            writeNumberText(value.description, into: &out)
        case .string(let value): JSONSyntax.writeString(value, into: &out)
        case .number(let text): out.append(contentsOf: text.utf8)
        case .null: out.append(contentsOf: JSONText.null)
        case .present(let node): try node.writeJSON(into: &out)
        case .slot(let slot): try filled(slot, at: out.count).writeJSON(into: &out)
        case .unkeyed(let container):
            out.append(0x5B)
            for (i, item) in container.items.enumerated() {
                if i > 0 { out.append(0x2C) }
                try item.writeJSON(into: &out)
            }
            out.append(0x5D)
        case .keyed(let container):
            out.append(0x7B)
            var first = true
            for field in sortedFields(container.fields) {
                if !first { out.append(0x2C) }
                first = false
                JSONSyntax.writeString(field.key, into: &out)
                out.append(0x3A)
                try field.node.writeJSON(into: &out)
            }
            out.append(0x7D)
        }
    }

    private func nonFinite(_ value: Any) -> EncodingError {
        .invalidValue(value, EncodingError.Context(codingPath: [], debugDescription: "\(value) is not representable in JSON"))
    }
}

enum JSONText {
    static let `true` = Array("true".utf8)
    static let `false` = Array("false".utf8)
    static let null = Array("null".utf8)
}

/// An object's fields in key order (UTF-8 bytes), each key once: the value encoded last. Sorted by each key's
/// first eight bytes as one integer, whole keys compared only when those are equal.
private func sortedFields(_ fields: [KeyedNode.Field]) -> [KeyedNode.Field] {
    guard fields.count > 1 else { return fields }
    var entries: [(prefix: UInt64, index: Int)] = []
    entries.reserveCapacity(fields.count)
    for (index, field) in fields.enumerated() {
        var key = field.key
        let prefix = key.withUTF8 { utf8 in
            var prefix: UInt64 = 0
            for i in 0..<min(8, utf8.count) { prefix |= UInt64(utf8[i]) << (56 - 8 * i) }
            return prefix
        }
        entries.append((prefix, index))
    }
    func order(_ a: (prefix: UInt64, index: Int), _ b: (prefix: UInt64, index: Int)) -> Int {
        if a.prefix != b.prefix { return a.prefix < b.prefix ? -1 : 1 }
        let (x, y) = (fields[a.index].key, fields[b.index].key)
        return x == y ? 0 : x.utf8.lexicographicallyPrecedes(y.utf8) ? -1 : 1
    }
    if entries.indices.dropFirst().allSatisfy({ order(entries[$0 - 1], entries[$0]) < 0 }) { return fields }
    entries.sort { a, b in
        let o = order(a, b)
        return o < 0 || (o == 0 && a.index < b.index)  // equal keys stay in encoding order
    }
    var result: [KeyedNode.Field] = []
    result.reserveCapacity(fields.count)
    for n in entries.indices where n + 1 == entries.count || order(entries[n], entries[n + 1]) != 0 {
        result.append(fields[entries[n].index])
    }
    return result
}

func writeDecimal(_ value: UInt64, into out: inout [UInt8]) {
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for the 20 digits, written back to front
    withUnsafeMutableBytes(of: &digits) { buffer in
        var v = value
        var i = 20
        repeat {
            i -= 1
            buffer[i] = 0x30 + UInt8(v % 10)
            v /= 10
        } while v > 0
        out.append(contentsOf: UnsafeBufferPointer(start: buffer.baseAddress!.assumingMemoryBound(to: UInt8.self) + i, count: 20 - i))
    }
}

/// A floating-point number's `description` as `JSONEncoder` writes it: without a trailing ".0".
private func writeNumberText(_ text: String, into out: inout [UInt8]) {
    var text = text
    text.withUTF8 { utf8 in
        let count = utf8.count >= 2 && utf8[utf8.count - 2] == 0x2E && utf8[utf8.count - 1] == 0x30 ? utf8.count - 2 : utf8.count
        out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[..<count]))
    }
}
