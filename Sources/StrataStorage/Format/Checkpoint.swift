/// The `CHECKPOINT` file: the segment table and the committed end of the log, replaced atomically (temporary
/// file, fsync, rename, directory fsync). Open after a clean close trusts it and reads no segment data; after a
/// crash only what follows `dataEnd` of the last segment is scanned (FORMAT.md, "Checkpoint").
///
///     offset size field
///          0    8 magic             "STRATCKP"
///          8    2 formatVersion     1
///         10    2 minReaderVersion  1
///         12    4 segmentCount      N ≥ 1
///         16    8 nextSequence      sequence the next record will get
///         24 40×N segments          number u64, baseSequence u64, lastSequence u64, dataEnd u64, flags u32, reserved u32
///     24+40N    4 maskedCRC         CRC32C of all preceding bytes, masked
///
/// Segment flags: bit 0 = sealed (a footer follows `dataEnd`).
public struct Checkpoint: Sendable, Equatable {
    public static let magic: [UInt8] = Array("STRATCKP".utf8)
    public static let formatVersion: UInt16 = 1
    public static let readerVersion: UInt16 = 1
    static let fixedBytes = 24
    static let entryBytes = 48

    public struct Segment: Sendable, Equatable {
        public var number: UInt64
        public var baseSequence: UInt64
        /// `baseSequence − 1` when the segment holds no record.
        public var lastSequence: UInt64
        /// End of the last frame.
        public var dataEnd: UInt64
        /// Frames before `dataEnd` (feeds the footer when the segment is sealed).
        public var frameCount: UInt64
        public var sealed: Bool
    }

    public var nextSequence: UInt64
    public var segments: [Segment]

    /// The largest checkpoint a reader accepts (one of `Limits.checkpointSegmentsMax` segments).
    static var fileBytesMax: Int { byteCount(segments: Limits.checkpointSegmentsMax) }

    static func byteCount(segments: Int) -> Int { fixedBytes + entryBytes * segments + 4 }

    func encode() -> [UInt8] {
        var out = ByteWriter(capacity: Self.byteCount(segments: segments.count))
        out.raw(Self.magic)
        out.u16(Self.formatVersion)
        out.u16(1)
        out.u32(UInt32(segments.count))
        out.u64(nextSequence)
        for s in segments {
            out.u64(s.number)
            out.u64(s.baseSequence)
            out.u64(s.lastSequence)
            out.u64(s.dataEnd)
            out.u64(s.frameCount)
            out.u32(s.sealed ? 1 : 0)
            out.u32(0)
        }
        let crc = out.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        out.u32(CRC32C.mask(crc))
        return out.bytes
    }

    package static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> Checkpoint {
        guard bytes.count >= fixedBytes + 4 else {
            throw DecodeError(offset: bytes.count, reason: "truncated checkpoint: \(bytes.count) bytes")
        }
        guard bytes[0..<8].elementsEqual(magic) else { throw DecodeError(offset: 0, reason: "bad magic: not a Strata checkpoint") }
        var r = ByteReader(bytes, position: 8)
        _ = try r.u16()
        let minReader = try r.u16()
        guard minReader <= readerVersion else {
            throw DecodeError(offset: 10, reason: "unsupported version: checkpoint needs reader version \(minReader)")
        }
        let count = Int(try r.u32())
        guard count >= 1, count <= Limits.checkpointSegmentsMax, bytes.count == byteCount(segments: count) else {
            throw DecodeError(offset: 12, reason: "segment count \(count) does not match the file size \(bytes.count)")
        }
        let stored = loadU32LE(bytes, bytes.count - 4)
        let actual = CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count - 4)])))
        guard stored == actual else {
            throw DecodeError(offset: bytes.count - 4, reason: "checkpoint checksum mismatch: stored \(hex(stored)), computed \(hex(actual))")
        }
        let next = try r.u64()
        var segments: [Segment] = []
        segments.reserveCapacity(count)
        for _ in 0..<count {
            let s = Segment(
                number: try r.u64(), baseSequence: try r.u64(), lastSequence: try r.u64(), dataEnd: try r.u64(),
                frameCount: try r.u64(), sealed: try r.u32() & 1 == 1)
            _ = try r.u32()
            segments.append(s)
        }
        return Checkpoint(nextSequence: next, segments: segments)
    }
}
