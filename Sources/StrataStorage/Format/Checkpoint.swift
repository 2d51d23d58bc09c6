/// The `CHECKPOINT` file: the segment table and the committed end of the log, replaced atomically (temporary
/// file, fsync, rename, directory fsync). Open after a clean close trusts it and reads no segment data; after a
/// crash only what follows `dataEnd` of the last segment is scanned (FORMAT.md, "Checkpoint").
///
///     offset size field
///          0    8 magic             "STRATCKP"
///          8    2 formatVersion     2 (version 1 files are still read)
///         10    2 minReaderVersion  2
///         12    4 segmentCount      N ≥ 1
///         16    8 nextSequence      sequence the next record will get
///         24 56×N segments          number u64, baseSequence u64, lastSequence u64, dataEnd u64, frameCount u64,
///                                   flags u32, tableBytes u32, lastNumber u64   (version 1: 48 bytes, without
///                                   the last two fields)
///     24+56N    4 maskedCRC         CRC32C of all preceding bytes, masked
///
/// Segment flags: bit 0 = sealed (a footer follows `dataEnd`).
package struct Checkpoint: Sendable, Equatable {
    package static let magic: [UInt8] = Array("STRATCKP".utf8)
    package static let formatVersion: UInt16 = 2
    package static let readerVersion: UInt16 = 2
    static let fixedBytes = 24
    static let entryBytes = 56
    static let entryBytesVersion1 = 48

    package struct Segment: Sendable, Equatable {
        package var number: UInt64
        package var baseSequence: UInt64
        /// `baseSequence − 1` when the segment holds no record.
        package var lastSequence: UInt64
        /// End of the last frame.
        package var dataEnd: UInt64
        /// Frames before `dataEnd` (feeds the footer when the segment is sealed).
        package var frameCount: UInt64
        package var sealed: Bool
        /// The frame table's length in a compacted segment (the footer follows it); 0 otherwise.
        package var tableBytes: UInt32 = 0
        /// The highest segment number the file stands for: `number`, or for segments merged by cold compaction
        /// the last one merged (the numbers between have no file).
        package var lastNumber: UInt64 = 0

        package init(
            number: UInt64, baseSequence: UInt64, lastSequence: UInt64, dataEnd: UInt64, frameCount: UInt64,
            sealed: Bool, tableBytes: UInt32 = 0, lastNumber: UInt64? = nil
        ) {
            self.number = number
            self.baseSequence = baseSequence
            self.lastSequence = lastSequence
            self.dataEnd = dataEnd
            self.frameCount = frameCount
            self.sealed = sealed
            self.tableBytes = tableBytes
            self.lastNumber = lastNumber ?? number
        }
    }

    package var nextSequence: UInt64
    package var segments: [Segment]

    /// The largest checkpoint a reader accepts (one of `Limits.checkpointSegmentsMax` segments).
    static var fileBytesMax: Int { byteCount(segments: Limits.checkpointSegmentsMax) }

    static func byteCount(segments: Int, entryBytes: Int = entryBytes) -> Int { fixedBytes + entryBytes * segments + 4 }

    func encode() -> [UInt8] {
        var out = ByteWriter(capacity: Self.byteCount(segments: segments.count))
        out.raw(Self.magic)
        out.u16(Self.formatVersion)
        out.u16(Self.readerVersion)
        out.u32(UInt32(segments.count))
        out.u64(nextSequence)
        for s in segments {
            out.u64(s.number)
            out.u64(s.baseSequence)
            out.u64(s.lastSequence)
            out.u64(s.dataEnd)
            out.u64(s.frameCount)
            out.u32(s.sealed ? 1 : 0)
            out.u32(s.tableBytes)
            out.u64(s.lastNumber)
        }
        let crc = out.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        out.u32(CRC32C.mask(crc))
        return out.bytes
    }

    package static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> Checkpoint {
        guard bytes.count >= fixedBytes + 4 else {
            throw DecodeError(offset: bytes.count, kind: .truncated, reason: "truncated checkpoint: \(bytes.count) bytes")
        }
        guard bytes[0..<8].elementsEqual(magic) else { throw DecodeError(offset: 0, kind: .badMagic, reason: "bad magic: not a Strata checkpoint") }
        var r = ByteReader(bytes, position: 8)
        let version = try r.u16()
        let minReader = try r.u16()
        guard minReader <= readerVersion else {
            throw DecodeError(offset: 10, kind: .unsupportedVersion, reason: "unsupported version: checkpoint needs reader version \(minReader)")
        }
        let count = Int(try r.u32())
        let entryBytes = version < 2 ? entryBytesVersion1 : entryBytes
        guard count >= 1, count <= Limits.checkpointSegmentsMax, bytes.count == byteCount(segments: count, entryBytes: entryBytes) else {
            throw DecodeError(offset: 12, kind: .truncated, reason: "segment count \(count) does not match the file size \(bytes.count)")
        }
        let stored = loadU32LE(bytes, bytes.count - 4)
        let actual = CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count - 4)])))
        guard stored == actual else {
            throw DecodeError(offset: bytes.count - 4, kind: .badChecksum, reason: "checkpoint checksum mismatch: stored \(hex(stored)), computed \(hex(actual))")
        }
        let next = try r.u64()
        var segments: [Segment] = []
        segments.reserveCapacity(count)
        for _ in 0..<count {
            var s = Segment(
                number: try r.u64(), baseSequence: try r.u64(), lastSequence: try r.u64(), dataEnd: try r.u64(),
                frameCount: try r.u64(), sealed: try r.u32() & 1 == 1)
            s.tableBytes = try r.u32()
            if version >= 2 {
                s.lastNumber = try r.u64()
                guard s.lastNumber >= s.number else {
                    throw DecodeError(offset: r.position - 8, kind: .badHeader, reason: "segment \(s.number) says it stands for segments through \(s.lastNumber)")
                }
            } else if s.tableBytes != 0 {
                throw DecodeError(offset: r.position - 4, kind: .badHeader, reason: "a version 1 checkpoint entry has a frame table")
            }
            segments.append(s)
        }
        return Checkpoint(nextSequence: next, segments: segments)
    }
}
