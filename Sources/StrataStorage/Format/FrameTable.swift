/// The frame table of a compacted segment (FORMAT.md, "Compacted segments"): where each frame starts and the
/// sequence of its first record, between the last frame and the footer.
///
///     count u32 | count × (baseSequence u64, offset u64) | maskedCRC u32 of everything before
///
/// Cold compaction rewrites frames (zlib, several small frames as one), so the frame offsets the partition index
/// recorded when the events were appended no longer hold. Readers find a frame by sequence instead: the entry
/// with the greatest `baseSequence` ≤ the sequence wanted. Entries are in file order, both columns strictly
/// increasing.
package struct FrameTable: Sendable, Equatable {
    package var baseSequences: [UInt64]
    package var offsets: [UInt64]

    package var count: Int { baseSequences.count }

    /// Bytes of a table of `frames` entries (saturating: a hostile count gives a size no file has).
    static func byteCount(frames: UInt64) -> UInt64 {
        let (entries, overflow) = frames.multipliedReportingOverflow(by: 16)
        return overflow || entries > UInt64(UInt32.max) ? .max : entries + 8
    }

    func encode() -> [UInt8] {
        var out = ByteWriter(capacity: Int(Self.byteCount(frames: UInt64(count))))
        out.u32(UInt32(count))
        for i in 0..<count {
            out.u64(baseSequences[i])
            out.u64(offsets[i])
        }
        let crc = out.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        out.u32(CRC32C.mask(crc))
        return out.bytes
    }

    /// Decodes and checks a table read from a segment whose footer says `frames` frames in
    /// [`SegmentHeader.byteCount`, `dataEnd`), records from `firstSequence` through `lastSequence`. Offsets in
    /// errors are relative to the table's start.
    package static func decode(
        _ bytes: UnsafeRawBufferPointer, frames: UInt64, dataEnd: UInt64, firstSequence: UInt64, lastSequence: UInt64
    ) throws(DecodeError) -> FrameTable {
        guard UInt64(bytes.count) == byteCount(frames: frames) else {
            throw DecodeError(offset: 0, kind: .badFrameTable, reason: "frame table of \(bytes.count) bytes for \(frames) frames")
        }
        let stored = loadU32LE(bytes, bytes.count - 4)
        let actual = CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count - 4)])))
        guard stored == actual else {
            throw DecodeError(offset: bytes.count - 4, kind: .badChecksum, reason: "frame table checksum mismatch: stored \(hex(stored)), computed \(hex(actual))")
        }
        guard UInt64(loadU32LE(bytes, 0)) == frames else {
            throw DecodeError(offset: 0, kind: .badFrameTable, reason: "frame table counts \(loadU32LE(bytes, 0)) frames, the footer \(frames)")
        }
        var table = FrameTable(baseSequences: [], offsets: [])
        table.baseSequences.reserveCapacity(Int(frames))
        table.offsets.reserveCapacity(Int(frames))
        var previousBase = firstSequence
        var previousOffset = UInt64(SegmentHeader.byteCount)
        for i in 0..<Int(frames) {
            let base = loadU64LE(bytes, 4 + 16 * i)
            let offset = loadU64LE(bytes, 12 + 16 * i)
            let first = i == 0
            guard first ? base == firstSequence : base > previousBase, base <= lastSequence,
                first ? offset == UInt64(SegmentHeader.byteCount) : offset > previousOffset, offset < dataEnd
            else {
                throw DecodeError(
                    offset: 4 + 16 * i,
                    kind: .badFrameTable, reason: "frame table entry \(i) (sequence \(base), offset \(offset)) is out of order or outside the segment")
            }
            table.baseSequences.append(base)
            table.offsets.append(offset)
            previousBase = base
            previousOffset = offset
        }
        return table
    }

    /// The table the footer of a compacted segment describes, read from `handle` and checked; a decode failure
    /// carries offsets relative to the table's start (`footer.dataEnd`).
    static func read(from handle: any FileHandle, footer: SegmentFooter) throws(IOError) -> Result<FrameTable, DecodeError> {
        let bytes = try handle.readBytes(count: Int(footer.tableBytes), at: Int64(footer.dataEnd))
        return bytes.withUnsafeBytes { raw in
            Result { () throws(DecodeError) in
                try decode(
                    raw, frames: footer.frameCount, dataEnd: footer.dataEnd, firstSequence: footer.firstSequence,
                    lastSequence: footer.lastSequence)
            }
        }
    }

    /// Index of the frame holding `sequence`: the last entry whose base sequence is ≤ it (nil before the first).
    package func frameIndex(holding sequence: UInt64) -> Int? {
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            if baseSequences[mid] <= sequence { low = mid + 1 } else { high = mid }
        }
        return low == 0 ? nil : low - 1
    }
}
