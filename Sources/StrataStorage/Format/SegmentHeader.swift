/// The first 64 bytes of every segment file (FORMAT.md, "Segment header").
///
///     offset size field
///          0    8 magic              "STRATSEG"
///          8    2 formatVersion      1; 2 when the segment holds a lost-range frame
///         10    2 minReaderVersion   oldest reader that can read this file (= formatVersion)
///         12    2 headerBytes        64
///         14    2 flags              0
///         16    8 segmentNumber      ≥ 1, also in the file name
///         24    8 baseSequence       sequence of the segment's first record, ≥ 1
///         32    8 createdMicros      creation time, microseconds since the Unix epoch (informational)
///         40   20 reserved           0
///         60    4 maskedCRC          CRC32C of bytes [0,60), masked
public struct SegmentHeader: Sendable, Equatable {
    public static let byteCount = 64
    public static let magic: [UInt8] = Array("STRATSEG".utf8)
    /// The segment format this build writes for ordinary segments (version 1 readers read them).
    public static let formatVersion: UInt16 = 1
    /// The format of a segment that holds a lost-range frame (`LostRange`, written only by a repair): a
    /// version 1 reader must refuse such a segment rather than cut the log at a frame kind it does not know.
    public static let formatVersionWithLostRanges: UInt16 = 2
    /// The newest format this build can read. A file whose `minReaderVersion` exceeds it is refused.
    public static let readerVersion: UInt16 = 2

    public var formatVersion: UInt16
    public var minReaderVersion: UInt16
    public var segmentNumber: UInt64
    public var baseSequence: UInt64
    public var createdMicros: Int64

    public init(segmentNumber: UInt64, baseSequence: UInt64, createdMicros: Int64) {
        self.formatVersion = Self.formatVersion
        self.minReaderVersion = 1
        self.segmentNumber = segmentNumber
        self.baseSequence = baseSequence
        self.createdMicros = createdMicros
    }

    func encode() -> [UInt8] {
        var out = ByteWriter(capacity: Self.byteCount)
        out.raw(Self.magic)
        out.u16(formatVersion)
        out.u16(minReaderVersion)
        out.u16(UInt16(Self.byteCount))
        out.u16(0)
        out.u64(segmentNumber)
        out.u64(baseSequence)
        out.u64(UInt64(bitPattern: createdMicros))
        out.zeros(20)
        let crc = out.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        out.u32(CRC32C.mask(crc))
        assert(out.count == Self.byteCount)
        return out.bytes
    }

    /// Validates magic, checksum and versions, in that order: a file that is not a segment says "bad magic",
    /// a damaged one "bad checksum", a newer one "unsupported version".
    package static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> SegmentHeader {
        guard bytes.count >= byteCount else {
            throw DecodeError(offset: bytes.count, reason: "truncated segment header: \(bytes.count) of \(byteCount) bytes")
        }
        guard bytes[0..<8].elementsEqual(magic) else {
            throw DecodeError(offset: 0, reason: "bad magic: not a Strata segment file")
        }
        let stored = loadU32LE(bytes, 60)
        let actual = CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<60])))
        guard stored == actual else {
            throw DecodeError(offset: 60, reason: "header checksum mismatch: stored \(hex(stored)), computed \(hex(actual))")
        }
        var r = ByteReader(bytes, position: 8)
        let version = try r.u16()
        let minReader = try r.u16()
        guard minReader <= readerVersion else {
            throw DecodeError(
                offset: 10,
                reason: "unsupported version: segment format \(version) needs reader version \(minReader); this build reads \(readerVersion)")
        }
        let headerBytes = try r.u16()
        guard headerBytes == UInt16(byteCount) else {
            throw DecodeError(offset: 12, reason: "header size \(headerBytes), expected \(byteCount)")
        }
        _ = try r.u16()
        let number = try r.u64()
        let base = try r.u64()
        let created = Int64(bitPattern: try r.u64())
        guard number >= 1, base >= 1 else {
            throw DecodeError(offset: 16, reason: "segment number \(number) / base sequence \(base) must be ≥ 1")
        }
        var header = SegmentHeader(segmentNumber: number, baseSequence: base, createdMicros: created)
        header.formatVersion = version
        header.minReaderVersion = minReader
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
///         40    8 dataEnd         offset where the footer starts (end of the last frame)
///         48    4 reserved        0
///         52    4 maskedCRC       CRC32C of bytes [0,52), masked
public struct SegmentFooter: Sendable, Equatable {
    public static let byteCount = 56
    public static let magic: UInt32 = 0x5254_4653  // "SFTR" little-endian

    public var frameCount: UInt64
    public var recordCount: UInt64
    public var firstSequence: UInt64
    public var lastSequence: UInt64
    public var dataEnd: UInt64

    public init(frameCount: UInt64, recordCount: UInt64, firstSequence: UInt64, lastSequence: UInt64, dataEnd: UInt64) {
        self.frameCount = frameCount
        self.recordCount = recordCount
        self.firstSequence = firstSequence
        self.lastSequence = lastSequence
        self.dataEnd = dataEnd
    }

    func encode() -> [UInt8] {
        var out = ByteWriter(capacity: Self.byteCount)
        out.u32(Self.magic)
        out.u32(UInt32(Self.byteCount))
        out.u64(frameCount)
        out.u64(recordCount)
        out.u64(firstSequence)
        out.u64(lastSequence)
        out.u64(dataEnd)
        out.u32(0)
        let crc = out.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        out.u32(CRC32C.mask(crc))
        return out.bytes
    }

    static func isFooterMagic(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && loadU32LE(bytes, 0) == magic
    }

    package static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> SegmentFooter {
        guard bytes.count == byteCount else {
            throw DecodeError(offset: 0, reason: "footer of \(bytes.count) bytes, expected \(byteCount)")
        }
        guard loadU32LE(bytes, 0) == magic else { throw DecodeError(offset: 0, reason: "bad footer magic") }
        guard loadU32LE(bytes, 4) == UInt32(byteCount) else {
            throw DecodeError(offset: 4, reason: "footer size \(loadU32LE(bytes, 4)), expected \(byteCount)")
        }
        let stored = loadU32LE(bytes, 52)
        let actual = CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<52])))
        guard stored == actual else {
            throw DecodeError(offset: 52, reason: "footer checksum mismatch: stored \(hex(stored)), computed \(hex(actual))")
        }
        let footer = SegmentFooter(
            frameCount: loadU64LE(bytes, 8), recordCount: loadU64LE(bytes, 16), firstSequence: loadU64LE(bytes, 24),
            lastSequence: loadU64LE(bytes, 32), dataEnd: loadU64LE(bytes, 40))
        guard footer.firstSequence >= 1, footer.lastSequence &+ 1 >= footer.firstSequence,
            footer.lastSequence &+ 1 &- footer.firstSequence == footer.recordCount
        else {
            throw DecodeError(offset: 16, reason: "footer counts are inconsistent")
        }
        return footer
    }
}
