/// The first 64 bytes of every segment file (FORMAT.md, "Segment header").
///
///     offset size field
///          0    8 magic              "STRATSEG"
///          8    2 formatVersion      1; 2 when the segment holds a lost-range frame; 3 when compacted
///         10    2 minReaderVersion   oldest reader that can read this file (= formatVersion)
///         12    2 headerBytes        64
///         14    2 flags              bit 0: compacted (a frame table sits between the frames and the footer);
///                                    bit 1: a compacted segment holding a lost-range frame
///         16    8 segmentNumber      ≥ 1, also in the file name
///         24    8 baseSequence       sequence of the segment's first record, ≥ 1
///         32    8 createdMicros      creation time, microseconds since the Unix epoch (informational)
///         40    8 lastSegmentNumber  compacted: the highest segment number this file replaces; else 0
///         48   12 reserved           0
///         60    4 maskedCRC          CRC32C of bytes [0,60), masked
package struct SegmentHeader: Sendable, Equatable {
    package static let byteCount = 64
    package static let magic: [UInt8] = Array("STRATSEG".utf8)
    /// The segment format this build writes for ordinary segments (version 1 readers read them).
    package static let formatVersion: UInt16 = 1
    /// The format of a segment that holds a lost-range frame (`LostRange`, written only by a repair): a
    /// version 1 reader must refuse such a segment rather than cut the log at a frame kind it does not know.
    package static let formatVersionWithLostRanges: UInt16 = 2
    /// The format of a segment rewritten by cold compaction (`ColdCompactor`): it carries a frame table, which
    /// an older reader would scan as a frame and cut.
    package static let formatVersionCompacted: UInt16 = 3
    /// The newest format this build can read. A file whose `minReaderVersion` exceeds it is refused.
    package static let readerVersion: UInt16 = 3
    static let flagCompacted: UInt16 = 1
    static let flagHoldsLostRanges: UInt16 = 2

    package var formatVersion: UInt16
    package var minReaderVersion: UInt16
    package var segmentNumber: UInt64
    package var baseSequence: UInt64
    package var createdMicros: Int64
    package var flags: UInt16 = 0
    /// For a compacted segment, the highest segment number it replaces (segments merged into it keep no file
    /// of their own); 0 otherwise.
    package var lastSegmentNumber: UInt64 = 0

    package init(segmentNumber: UInt64, baseSequence: UInt64, createdMicros: Int64) {
        self.formatVersion = Self.formatVersion
        self.minReaderVersion = 1
        self.segmentNumber = segmentNumber
        self.baseSequence = baseSequence
        self.createdMicros = createdMicros
    }

    /// The header of a segment written by cold compaction, replacing segments `segmentNumber...lastSegmentNumber`.
    static func compacted(segmentNumber: UInt64, lastSegmentNumber: UInt64, baseSequence: UInt64, createdMicros: Int64) -> SegmentHeader {
        var header = SegmentHeader(segmentNumber: segmentNumber, baseSequence: baseSequence, createdMicros: createdMicros)
        header.formatVersion = formatVersionCompacted
        header.minReaderVersion = formatVersionCompacted
        header.flags = flagCompacted
        header.lastSegmentNumber = lastSegmentNumber
        return header
    }

    /// Whether a frame table sits between the frames and the footer.
    package var isCompacted: Bool { flags & Self.flagCompacted != 0 }

    /// Whether the segment may hold lost-range frames: format version 2, or a compacted segment that says so.
    package var mayHoldLostRanges: Bool {
        isCompacted ? flags & Self.flagHoldsLostRanges != 0 : formatVersion >= Self.formatVersionWithLostRanges
    }

    /// The highest segment number this file stands for (itself, unless it is a merge).
    package var coversThroughNumber: UInt64 { isCompacted ? lastSegmentNumber : segmentNumber }

    func encode() -> [UInt8] {
        var out = ByteWriter(capacity: Self.byteCount)
        out.raw(Self.magic)
        out.u16(formatVersion)
        out.u16(minReaderVersion)
        out.u16(UInt16(Self.byteCount))
        out.u16(flags)
        out.u64(segmentNumber)
        out.u64(baseSequence)
        out.u64(UInt64(bitPattern: createdMicros))
        out.u64(lastSegmentNumber)
        out.zeros(12)
        let crc = out.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        out.u32(CRC32C.mask(crc))
        assert(out.count == Self.byteCount)
        return out.bytes
    }

    /// Validates magic, checksum and versions, in that order: a file that is not a segment says "bad magic",
    /// a damaged one "bad checksum", a newer one "unsupported version".
    package static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> SegmentHeader {
        guard bytes.count >= byteCount else {
            throw DecodeError(offset: bytes.count, kind: .truncated, reason: "truncated segment header: \(bytes.count) of \(byteCount) bytes")
        }
        guard bytes[0..<8].elementsEqual(magic) else {
            throw DecodeError(offset: 0, kind: .badMagic, reason: "bad magic: not a Strata segment file")
        }
        let stored = loadU32LE(bytes, 60)
        let actual = CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<60])))
        guard stored == actual else {
            throw DecodeError(offset: 60, kind: .badChecksum, reason: "header checksum mismatch: stored \(hex(stored)), computed \(hex(actual))")
        }
        var r = ByteReader(bytes, position: 8)
        let version = try r.u16()
        let minReader = try r.u16()
        guard minReader <= readerVersion else {
            throw DecodeError(
                offset: 10,
                kind: .unsupportedVersion, reason: "unsupported version: segment format \(version) needs reader version \(minReader); this build reads \(readerVersion)")
        }
        let headerBytes = try r.u16()
        guard headerBytes == UInt16(byteCount) else {
            throw DecodeError(offset: 12, kind: .badHeader, reason: "header size \(headerBytes), expected \(byteCount)")
        }
        let flags = try r.u16()
        let number = try r.u64()
        let base = try r.u64()
        let created = Int64(bitPattern: try r.u64())
        let lastNumber = try r.u64()
        guard number >= 1, base >= 1 else {
            throw DecodeError(offset: 16, kind: .badHeader, reason: "segment number \(number) / base sequence \(base) must be ≥ 1")
        }
        guard flags & ~(flagCompacted | flagHoldsLostRanges) == 0,
            flags & flagHoldsLostRanges == 0 || flags & flagCompacted != 0
        else {
            throw DecodeError(offset: 14, kind: .badHeader, reason: "unknown segment flags \(flags)")
        }
        if flags & flagCompacted != 0 {
            guard minReader >= formatVersionCompacted, lastNumber >= number else {
                throw DecodeError(
                    offset: 40,
                    kind: .badHeader, reason: "compacted segment \(number) (reader version \(minReader)) says it replaces segments through \(lastNumber)")
            }
        } else if lastNumber != 0 {
            throw DecodeError(offset: 40, kind: .badHeader, reason: "a segment that is not compacted names a last segment number (\(lastNumber))")
        }
        var header = SegmentHeader(segmentNumber: number, baseSequence: base, createdMicros: created)
        header.formatVersion = version
        header.minReaderVersion = minReader
        header.flags = flags
        header.lastSegmentNumber = lastNumber
        return header
    }
}

/// The last 56 bytes of a sealed segment (FORMAT.md, "Segment footer"). Its magic, read as the length field
/// of a frame, exceeds `Limits.frameBytesMax`, so a forward scan cannot mistake it for a frame.
///
///     offset size field
///          0    4 magic           "SFTR"
///          4    4 footerBytes     56
///          8    8 frameCount
///         16    8 recordCount
///         24    8 firstSequence   = header.baseSequence
///         32    8 lastSequence    firstSequence − 1 when the segment holds no record
///         40    8 dataEnd         end of the last frame
///         48    4 tableBytes      compacted segments: length of the frame table between dataEnd and the footer; else 0
///         52    4 maskedCRC       CRC32C of bytes [0,52), masked
package struct SegmentFooter: Sendable, Equatable {
    package static let byteCount = 56
    package static let magic: UInt32 = 0x5254_4653  // "SFTR" little-endian

    package var frameCount: UInt64
    package var recordCount: UInt64
    package var firstSequence: UInt64
    package var lastSequence: UInt64
    package var dataEnd: UInt64
    /// Bytes of the frame table between `dataEnd` and the footer (compacted segments only; 0 otherwise).
    package var tableBytes: UInt32

    package init(
        frameCount: UInt64, recordCount: UInt64, firstSequence: UInt64, lastSequence: UInt64, dataEnd: UInt64,
        tableBytes: UInt32 = 0
    ) {
        self.frameCount = frameCount
        self.recordCount = recordCount
        self.firstSequence = firstSequence
        self.lastSequence = lastSequence
        self.dataEnd = dataEnd
        self.tableBytes = tableBytes
    }

    /// Where the footer starts: after the frames and the frame table (wrapping on hostile values; readers check
    /// `dataEnd` against the footer's real offset by subtraction instead).
    package var footerOffset: UInt64 { dataEnd &+ UInt64(tableBytes) }

    func encode() -> [UInt8] {
        var out = ByteWriter(capacity: Self.byteCount)
        out.u32(Self.magic)
        out.u32(UInt32(Self.byteCount))
        out.u64(frameCount)
        out.u64(recordCount)
        out.u64(firstSequence)
        out.u64(lastSequence)
        out.u64(dataEnd)
        out.u32(tableBytes)
        let crc = out.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        out.u32(CRC32C.mask(crc))
        return out.bytes
    }

    static func isFooterMagic(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && loadU32LE(bytes, 0) == magic
    }

    package static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> SegmentFooter {
        guard bytes.count == byteCount else {
            throw DecodeError(offset: 0, kind: .badFooter, reason: "footer of \(bytes.count) bytes, expected \(byteCount)")
        }
        guard loadU32LE(bytes, 0) == magic else { throw DecodeError(offset: 0, kind: .badMagic, reason: "bad footer magic") }
        guard loadU32LE(bytes, 4) == UInt32(byteCount) else {
            throw DecodeError(offset: 4, kind: .badFooter, reason: "footer size \(loadU32LE(bytes, 4)), expected \(byteCount)")
        }
        let stored = loadU32LE(bytes, 52)
        let actual = CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<52])))
        guard stored == actual else {
            throw DecodeError(offset: 52, kind: .badChecksum, reason: "footer checksum mismatch: stored \(hex(stored)), computed \(hex(actual))")
        }
        let footer = SegmentFooter(
            frameCount: loadU64LE(bytes, 8), recordCount: loadU64LE(bytes, 16), firstSequence: loadU64LE(bytes, 24),
            lastSequence: loadU64LE(bytes, 32), dataEnd: loadU64LE(bytes, 40), tableBytes: loadU32LE(bytes, 48))
        guard footer.tableBytes == 0 || UInt64(footer.tableBytes) == FrameTable.byteCount(frames: footer.frameCount) else {
            throw DecodeError(offset: 48, kind: .badFooter, reason: "frame table of \(footer.tableBytes) bytes for \(footer.frameCount) frames")
        }
        guard footer.firstSequence >= 1, footer.lastSequence &+ 1 >= footer.firstSequence,
            footer.lastSequence &+ 1 &- footer.firstSequence == footer.recordCount
        else {
            throw DecodeError(offset: 16, kind: .badFooter, reason: "footer counts are inconsistent")
        }
        return footer
    }
}
