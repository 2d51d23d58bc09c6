import CLZ4
import CZlib

/// How the writer compresses each frame's body. Compression is per frame, never per record
/// (FORMAT.md, "Compression").
public enum Compression: Sendable, Hashable {
    /// Store bodies as they are.
    case none
    /// LZ4 raw block format (not the LZ4 frame format): fast, ~4.5× on event JSON. The default.
    case lz4
    /// zlib (RFC 1950) at the given level 1...9: slower, smaller; meant for cold data.
    case zlib(level: Int)
}

/// The codec byte of a frame header.
@_spi(StrataInternals) public enum FrameCodec: UInt8, Sendable, CaseIterable {
    case none = 0
    case lz4 = 1
    case zlib = 2

    public var name: String {
        switch self {
        case .none: "none"
        case .lz4: "lz4"
        case .zlib: "zlib"
        }
    }
}

/// Per-frame compression and decompression over raw buffers.
enum FrameCompressor {
    /// A compressed body is kept only when it saves at least 1/8 of the raw size; otherwise the frame is
    /// stored raw, so readers never pay decompression for nothing and stored size ≤ raw size always.
    static func pays(raw: Int, compressed: Int) -> Bool { compressed <= raw - raw / 8 }

    /// Compresses a frame body. Returns the codec actually used and the stored bytes: `raw` itself (no copy)
    /// with `.none` when compression does not pay or fails.
    static func compress(_ raw: [UInt8], with compression: Compression) -> (FrameCodec, [UInt8]) {
        guard raw.count > 0 else { return (.none, raw) }
        let compressed: (FrameCodec, [UInt8])? = raw.withUnsafeBytes { source in
            switch compression {
            case .none:
                return nil
            case .lz4:
                let bound = Int(LZ4_compressBound(Int32(source.count)))
                guard bound > 0 else { return nil }
                let out = [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
                    let n = LZ4_compress_default(
                        source.baseAddress!.assumingMemoryBound(to: CChar.self),
                        UnsafeMutableRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self),
                        Int32(source.count), Int32(bound))
                    count = Int(max(n, 0))
                }
                return out.count > 0 && pays(raw: source.count, compressed: out.count) ? (.lz4, out) : nil
            case .zlib(let level):
                let capacity = Int(compressBound(uLong(source.count)))
                var status: Int32 = Z_MEM_ERROR
                let out = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
                    var destLength = uLongf(capacity)
                    status = compress2(
                        buffer.baseAddress!, &destLength, source.baseAddress!.assumingMemoryBound(to: Bytef.self),
                        uLong(source.count), Int32(min(max(level, 1), 9)))
                    count = status == Z_OK ? Int(destLength) : 0
                }
                return status == Z_OK && pays(raw: source.count, compressed: out.count) ? (.zlib, out) : nil
            }
        }
        return compressed ?? (.none, raw)
    }

    /// Compresses `raw` into `output` (replacing its contents); see `compress(_:with:)`.
    static func compress(_ raw: UnsafeRawBufferPointer, with compression: Compression, into output: inout [UInt8]) -> FrameCodec {
        let (codec, stored) = compress(Array(raw), with: compression)
        output = stored
        return codec
    }

    /// Decompresses `stored` into exactly `output.count` bytes. Any other outcome (hostile or damaged input,
    /// a size mismatch) is an error; never writes outside `output`.
    static func decompress(
        _ codec: FrameCodec, _ stored: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws(DecodeError) {
        switch codec {
        case .none:
            guard stored.count == output.count else {
                throw DecodeError(offset: 0, kind: .badCompression, reason: "raw body of \(stored.count) bytes, header says \(output.count)")
            }
            if stored.count > 0 { output.copyMemory(from: stored) }
        case .lz4:
            guard stored.count > 0, output.count > 0 else {
                throw DecodeError(offset: 0, kind: .badCompression, reason: "empty lz4 body")
            }
            let n = LZ4_decompress_safe(
                stored.baseAddress!.assumingMemoryBound(to: CChar.self),
                output.baseAddress!.assumingMemoryBound(to: CChar.self),
                Int32(stored.count), Int32(output.count))
            guard n == Int32(output.count) else {
                throw DecodeError(offset: 0, kind: .badCompression, reason: "lz4 body does not decompress to \(output.count) bytes (result \(n))")
            }
        case .zlib:
            guard stored.count > 0, output.count > 0 else {
                throw DecodeError(offset: 0, kind: .badCompression, reason: "empty zlib body")
            }
            var destLength = uLongf(output.count)
            let status = uncompress(
                output.baseAddress!.assumingMemoryBound(to: Bytef.self), &destLength,
                stored.baseAddress!.assumingMemoryBound(to: Bytef.self), uLong(stored.count))
            guard status == Z_OK, destLength == uLongf(output.count) else {
                throw DecodeError(offset: 0, kind: .badCompression, reason: "zlib body does not decompress to \(output.count) bytes (status \(status))")
            }
        }
    }
}
