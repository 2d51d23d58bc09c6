/// The frame format of FORMAT.md as a library, for tools that work on frames outside a store: the `strata`
/// CLI, fuzz targets and the micro-benchmarks. Every function here is the code path the store itself runs
/// (the writer's record encoder and compressor, the reader's frame validation and record walk), not a copy.
@_spi(StrataInternals) public enum FrameCoding {
    /// Encodes records into one raw (uncompressed) frame body; record `i` gets stream version `versions[i]`
    /// and sequence delta `i`. Validates every record first (field limits of FORMAT.md).
    public static func encodeBody(_ records: [EventRecord], versions: [UInt64]) throws(StorageError) -> [UInt8] {
        guard !records.isEmpty else { throw .emptyBatch }
        guard records.count <= Limits.recordsPerFrameMax, versions.count == records.count else {
            throw .batchTooLarge(records: records.count, rawBytes: 0)
        }
        try records.withUnsafeBufferPointer { (records) throws(StorageError) in
            for index in records.indices { try RecordCodec.validate(records.baseAddress! + index, index: index) }
        }
        let raw = RecordCodec.encodeBatch(records, versions: versions)
        guard raw.count <= Limits.frameRawBytesMax else { throw .batchTooLarge(records: records.count, rawBytes: raw.count) }
        return raw
    }

    /// Compresses a frame body the way the writer does: the codec actually used (`.none` when compression
    /// saves less than 1/8) and the stored bytes.
    public static func compress(_ raw: [UInt8], with compression: Compression) -> (FrameCodec, [UInt8]) {
        FrameCompressor.compress(raw, with: compression)
    }

    /// Decompresses a stored body into exactly `output.count` bytes, or throws.
    public static func decompress(
        _ codec: FrameCodec, _ stored: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws(DecodeError) {
        try FrameCompressor.decompress(codec, stored, into: output)
    }

    /// A complete frame (header, compressed body, trailer, CRC32C) for `records`, with the given first
    /// sequence; versions default to 1, 2, … in record order.
    public static func encodeFrame(
        _ records: [EventRecord], versions: [UInt64]? = nil, baseSequence: UInt64, compression: Compression
    ) throws(StorageError) -> [UInt8] {
        let raw = try encodeBody(records, versions: versions ?? records.indices.map { UInt64($0 + 1) })
        let (codec, stored) = compress(raw, with: compression)
        var out = ByteWriter(capacity: FrameHeader.byteCount + stored.count + FrameHeader.trailerByteCount)
        stored.withUnsafeBytes { body in
            FrameHeader.encode(
                codec: codec, recordCount: records.count, baseSequence: baseSequence, rawBodyBytes: raw.count,
                body: body, into: &out)
        }
        return out.bytes
    }

    /// A frame (codec none, checksum right) around arbitrary body bytes: how fuzz targets and tests reach the
    /// record decoders with bodies no encoder would write.
    package static func frame(rawBody: [UInt8], recordCount: Int, baseSequence: UInt64) -> [UInt8] {
        var out = ByteWriter(capacity: FrameHeader.byteCount + rawBody.count + FrameHeader.trailerByteCount)
        rawBody.withUnsafeBytes { body in
            FrameHeader.encode(
                codec: .none, recordCount: recordCount, baseSequence: baseSequence, rawBodyBytes: rawBody.count,
                body: body, into: &out)
        }
        return out.bytes
    }

    /// The length field of a frame starting at `bytes` (at least 4 bytes): what a reader checks against limits
    /// and the file size before reading or allocating anything else.
    public static func declaredLength(_ bytes: UnsafeRawBufferPointer) -> UInt32? {
        bytes.count >= 4 ? FrameHeader.peekLength(bytes) : nil
    }

    /// Validates a whole frame (`frame` is exactly its declared length): lengths, trailer, checksum, kind,
    /// codec and body sizes. Offsets in errors are relative to the frame start.
    public static func validate(_ frame: UnsafeRawBufferPointer) throws(DecodeError) -> FrameHeader {
        try FrameHeader.decode(frame)
    }

    /// Walks the records of validated frames. Keeps one decompression buffer, reused from frame to frame, so
    /// steady-state walking allocates nothing. Not for concurrent use: one per thread.
    public final class RecordWalker {
        private let decoder = FrameRecordDecoder()

        public init() {}

        /// Calls `body` with each record of `frame` (validated by `validate`, which returned `header`), in
        /// order. Throws on a body that does not decompress or whose records do not decode; offsets are
        /// relative to the decompressed body. Returns the number of records walked.
        @discardableResult
        public func forEachRecord(
            in frame: UnsafeRawBufferPointer, header: FrameHeader, _ body: (RecordView) -> Void
        ) throws(DecodeError) -> Int {
            var count = 0
            let result = decoder.forEachRecord(in: frame, header: header, from: 0) { record in
                body(record)
                count += 1
                return true
            }
            if case .failure(let error) = result { throw error }
            return count
        }
    }
}
