/// A range of sequences whose records were lost to damage (FORMAT.md, "Lost-range frames"). `strata fsck
/// --repair` writes it, as one or more frames of kind 2, in place of the damaged bytes of a segment, so that
/// sequences stay dense and every intact frame after the damage stays readable. Readers deliver no records
/// for it; the damaged bytes are kept in `quarantine/`.
///
/// Body (codec 0, never compressed):
///
///     u64   repairedMicros   when the repair wrote it, µs since the Unix epoch
///     u64   originalOffset   where the damaged bytes started in the segment as it was
///     u64   originalLength   how many damaged bytes the repair replaced
///     str16 quarantineFile   the copy of the segment as it was, in quarantine/ (0 … 255 bytes, no "/")
///     str16 finding          what the check found there (0 … 1,024 bytes)
package struct LostRange: Sendable, Equatable {
    package static let quarantineFileBytesMax = 255
    package static let findingBytesMax = 1_024

    /// First lost sequence (the frame's base sequence).
    package var firstSequence: UInt64
    /// Last lost sequence.
    package var lastSequence: UInt64
    package var repairedMicros: Int64
    package var originalOffset: UInt64
    package var originalLength: UInt64
    package var quarantineFile: String
    package var finding: String

    package var count: UInt64 { lastSequence - firstSequence + 1 }

    package init(
        firstSequence: UInt64, lastSequence: UInt64, repairedMicros: Int64, originalOffset: UInt64,
        originalLength: UInt64, quarantineFile: String, finding: String
    ) {
        precondition(firstSequence >= 1 && lastSequence >= firstSequence)
        self.firstSequence = firstSequence
        self.lastSequence = lastSequence
        self.repairedMicros = repairedMicros
        self.originalOffset = originalOffset
        self.originalLength = originalLength
        self.quarantineFile = quarantineFile
        self.finding = finding
    }

    /// The frames that record this range: one per 1,048,576 sequences (the per-frame limit). Strings longer
    /// than their limits are shortened at a character boundary.
    package func encodeFrames() -> [UInt8] {
        var body = ByteWriter(capacity: 64 + quarantineFile.utf8.count + finding.utf8.count)
        body.u64(UInt64(bitPattern: repairedMicros))
        body.u64(originalOffset)
        body.u64(originalLength)
        for (text, limit) in [(quarantineFile, Self.quarantineFileBytesMax), (finding, Self.findingBytesMax)] {
            let utf8 = Self.prefix(text, bytes: limit)
            body.u16(UInt16(utf8.count))
            body.raw(utf8)
        }
        var out = ByteWriter(capacity: 128)
        var first = firstSequence
        while first <= lastSequence {
            let count = min(lastSequence - first + 1, UInt64(Limits.recordsPerFrameMax))
            body.bytes.withUnsafeBytes { raw in
                FrameHeader.encode(
                    kind: .lost, codec: .none, recordCount: Int(count), baseSequence: first, rawBodyBytes: raw.count,
                    body: raw, into: &out)
            }
            guard first <= UInt64.max - count else { break }
            first += count
        }
        return out.bytes
    }

    /// Reads the body of a validated lost-range frame.
    package static func decode(_ frame: UnsafeRawBufferPointer, header: FrameHeader) throws(DecodeError) -> LostRange {
        let body = UnsafeRawBufferPointer(
            rebasing: frame[FrameHeader.byteCount..<(FrameHeader.byteCount + Int(header.storedBodyBytes))])
        var reader = ByteReader(body)
        let repaired = Int64(bitPattern: try reader.u64("repairedMicros"))
        let offset = try reader.u64("originalOffset")
        let length = try reader.u64("originalLength")
        var strings: [String] = []
        for (what, limit) in [("quarantine file name", quarantineFileBytesMax), ("finding", findingBytesMax)] {
            let count = Int(try reader.u16("string length"))
            guard count <= limit else { throw reader.fail(.badRecord, "\(what) of \(count) bytes exceeds \(limit)") }
            let bytes = try reader.bytes(count, "string")
            guard let text = String(validating: bytes, as: UTF8.self) else { throw reader.fail(.badRecord, "\(what) is not UTF-8") }
            strings.append(text)
        }
        guard reader.isAtEnd else { throw reader.fail(.badRecord, "\(reader.remaining) bytes follow the lost range's fields") }
        guard !strings[0].contains("/") else { throw DecodeError(offset: 24, kind: .badRecord, reason: "quarantine file name contains \"/\"") }
        return LostRange(
            firstSequence: header.baseSequence, lastSequence: header.lastSequence, repairedMicros: repaired,
            originalOffset: offset, originalLength: length, quarantineFile: strings[0], finding: strings[1])
    }

    private static func prefix(_ text: String, bytes limit: Int) -> [UInt8] {
        var result: [UInt8] = []
        for character in text {
            let utf8 = Array(String(character).utf8)
            guard result.count + utf8.count <= limit else { break }
            result += utf8
        }
        return result
    }
}
