/// What a frame holds (FORMAT.md, "Frames").
@_spi(StrataInternals) public enum FrameKind: UInt8, Sendable {
    /// The records of one append.
    case batch = 1
    /// A range of sequences whose records were lost to damage, written by `strata fsck --repair` in place of
    /// the damaged bytes so that the frames after them stay readable (format version 2; `LostRange`).
    case lost = 2
}

/// A frame: everything one append commits, or a lost range (FORMAT.md, "Frames").
///
///     offset size field
///          0    4 frameLength      total bytes, header through trailer
///          4    4 maskedCRC        CRC32C of bytes [0,4) and [8, frameLength), masked
///          8    1 kind             1 = batch, 2 = lost range
///          9    1 codec            0 none, 1 LZ4 raw block, 2 zlib (a lost range: 0)
///         10    2 reserved         0
///         12    4 recordCount      sequences the frame covers, ≥ 1
///         16    8 baseSequence     sequence of the first record
///         24    4 rawBodyBytes     body size after decompression
///         28    4 storedBodyBytes  body size on disk
///         32    …  body
///   len − 4    4 frameLength      repeated, for backward scans and torn-write detection
@_spi(StrataInternals) public struct FrameHeader: Sendable, Equatable {
    public static let byteCount = 32
    public static let trailerByteCount = 4

    public var frameLength: UInt32
    public var kind: FrameKind = .batch
    public var codec: FrameCodec
    public var recordCount: UInt32
    public var baseSequence: UInt64
    public var rawBodyBytes: UInt32
    public var storedBodyBytes: UInt32

    public var lastSequence: UInt64 { baseSequence + UInt64(recordCount) - 1 }

    /// Writes a complete frame (header, body, trailer) at the end of `out`, checksum included.
    static func encode(
        kind: FrameKind = .batch, codec: FrameCodec, recordCount: Int, baseSequence: UInt64, rawBodyBytes: Int,
        body: UnsafeRawBufferPointer, into out: inout ByteWriter
    ) {
        let start = out.count
        let frameLength = UInt32(byteCount + body.count + trailerByteCount)
        out.u32(frameLength)
        out.u32(0)  // checksum, patched below
        out.u8(kind.rawValue)
        out.u8(codec.rawValue)
        out.u16(0)
        out.u32(UInt32(recordCount))
        out.u64(baseSequence)
        out.u32(UInt32(rawBodyBytes))
        out.u32(UInt32(body.count))
        out.raw(body)
        out.u32(frameLength)
        let crc = out.bytes.withUnsafeBytes { all in
            let frame = UnsafeRawBufferPointer(rebasing: all[start..<(start + Int(frameLength))])
            return checksum(frame)
        }
        out.patchU32(CRC32C.mask(crc), at: start + 4)
    }

    /// CRC32C over the whole frame except the checksum field itself.
    static func checksum(_ frame: UnsafeRawBufferPointer) -> UInt32 {
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: frame[0..<4]))
        return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: frame[8...]), continuing: crc)
    }

    /// Reads just the length field, which must be checked before anything else is read or allocated.
    static func peekLength(_ bytes: UnsafeRawBufferPointer) -> UInt32 { loadU32LE(bytes, 0) }

    /// Validates a complete frame held in `frame` (exactly `frameLength` bytes): lengths, trailer, checksum,
    /// kind, codec and sizes. Offsets in errors are relative to the frame start.
    static func decode(_ frame: UnsafeRawBufferPointer) throws(DecodeError) -> FrameHeader {
        guard frame.count >= byteCount + trailerByteCount else {
            throw DecodeError(offset: 0, kind: .truncated, reason: "frame of \(frame.count) bytes is shorter than its header and trailer")
        }
        let length = loadU32LE(frame, 0)
        guard Int(length) == frame.count else {
            throw DecodeError(offset: 0, kind: .badLength, reason: "frame length \(length) does not match \(frame.count)")
        }
        let trailer = loadU32LE(frame, frame.count - trailerByteCount)
        guard trailer == length else {
            throw DecodeError(offset: frame.count - trailerByteCount, kind: .badLength, reason: "trailer length \(trailer), expected \(length)")
        }
        let stored = loadU32LE(frame, 4)
        let actual = CRC32C.mask(checksum(frame))
        guard stored == actual else {
            throw DecodeError(offset: 4, kind: .badChecksum, reason: "checksum mismatch: stored \(hex(stored)), computed \(hex(actual))")
        }
        guard let kind = FrameKind(rawValue: frame[8]) else {
            throw DecodeError(offset: 8, kind: .badHeader, reason: "unknown frame kind \(frame[8])")
        }
        guard let codec = FrameCodec(rawValue: frame[9]) else {
            throw DecodeError(offset: 9, kind: .badHeader, reason: "unknown codec \(frame[9])")
        }
        guard kind == .batch || codec == .none else {
            throw DecodeError(offset: 9, kind: .badHeader, reason: "a lost-range frame with codec \(codec.name); it is never compressed")
        }
        guard frame[10] == 0, frame[11] == 0 else { throw DecodeError(offset: 10, kind: .badHeader, reason: "reserved bytes are not zero") }
        let recordCount = loadU32LE(frame, 12)
        guard recordCount >= 1, recordCount <= UInt32(Limits.recordsPerFrameMax) else {
            throw DecodeError(offset: 12, kind: .badHeader, reason: "record count \(recordCount) outside 1...\(Limits.recordsPerFrameMax)")
        }
        let baseSequence = loadU64LE(frame, 16)
        guard baseSequence >= 1, baseSequence <= UInt64.max - UInt64(recordCount) else {
            throw DecodeError(offset: 16, kind: .badHeader, reason: "base sequence \(baseSequence) out of range")
        }
        let raw = loadU32LE(frame, 24)
        let storedBytes = loadU32LE(frame, 28)
        guard raw <= UInt32(Limits.frameRawBytesMax) else {
            throw DecodeError(offset: 24, kind: .badHeader, reason: "raw body of \(raw) bytes exceeds the limit \(Limits.frameRawBytesMax)")
        }
        guard Int(storedBytes) == frame.count - byteCount - trailerByteCount else {
            throw DecodeError(offset: 28, kind: .badLength, reason: "stored body of \(storedBytes) bytes does not fit frame length \(length)")
        }
        guard storedBytes <= raw, codec != .none || storedBytes == raw else {
            throw DecodeError(offset: 28, kind: .badHeader, reason: "stored body \(storedBytes) bytes vs raw \(raw) bytes with codec \(codec.name)")
        }
        return FrameHeader(
            frameLength: length, kind: kind, codec: codec, recordCount: recordCount, baseSequence: baseSequence,
            rawBodyBytes: raw, storedBodyBytes: storedBytes)
    }
}

func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
