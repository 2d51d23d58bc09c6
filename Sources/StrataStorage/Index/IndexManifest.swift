/// `index/MANIFEST`: which index files are current and how far they reach (FORMAT.md, "Index manifest").
/// Replaced atomically after the files it names are durable. Any file in `index/` it does not name is
/// left over from an interrupted flush and is removed on open.
///
///     magic "STRATIMF" | formatVersion u16 | minReaderVersion u16 | runCount u32 | indexedThrough u64
///     | str16 hashName | u32 headsCount | headsCount × str16 headsFile (oldest first)
///     | runCount × (str16 runFile, u64 firstSequence, u64 lastSequence) | maskedCRC u32
package struct IndexManifest: Sendable, Equatable {
    static let magic: [UInt8] = Array("STRATIMF".utf8)
    static let readerVersion: UInt16 = 1
    static let runsMax = 4096
    /// The largest manifest a reader accepts.
    static let fileBytesMax = 1 << 24

    struct Run: Sendable, Equatable {
        var file: String
        var firstSequence: UInt64
        var lastSequence: UInt64
    }

    /// Every event with a sequence ≤ this is in the runs and the heads file.
    var indexedThrough: UInt64
    /// `StreamKeyHash.name` of the hash the files are sorted by.
    var hashName: String
    /// Stream-heads files, oldest first: each holds the heads of the streams written in its flush interval
    /// (or, once merged, of all streams up to it); a newer file's head wins.
    var headsFiles: [String]
    var runs: [Run]

    func encode() -> [UInt8] {
        var out = ByteWriter()
        out.raw(Self.magic)
        out.u16(1)
        out.u16(1)
        out.u32(UInt32(runs.count))
        out.u64(indexedThrough)
        Self.str16(hashName, &out)
        out.u32(UInt32(headsFiles.count))
        for name in headsFiles { Self.str16(name, &out) }
        for run in runs {
            Self.str16(run.file, &out)
            out.u64(run.firstSequence)
            out.u64(run.lastSequence)
        }
        let crc = out.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        out.u32(CRC32C.mask(crc))
        return out.bytes
    }

    static func str16(_ value: String, _ out: inout ByteWriter) {
        let utf8 = Array(value.utf8)
        out.u16(UInt16(utf8.count))
        out.raw(utf8)
    }

    package static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> IndexManifest {
        guard bytes.count >= 28, bytes[0..<8].elementsEqual(magic) else {
            throw DecodeError(offset: 0, kind: .badMagic, reason: "bad magic: not a Strata index manifest")
        }
        let body = UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count - 4)])
        guard loadU32LE(bytes, bytes.count - 4) == CRC32C.mask(CRC32C.checksum(body)) else {
            throw DecodeError(offset: bytes.count - 4, kind: .badChecksum, reason: "index manifest checksum mismatch")
        }
        var r = ByteReader(body, position: 8)
        _ = try r.u16()
        guard try r.u16() <= readerVersion else { throw DecodeError(offset: 10, kind: .unsupportedVersion, reason: "unsupported version of the index manifest") }
        let count = Int(try r.u32())
        guard count <= runsMax else { throw DecodeError(offset: 12, kind: .badHeader, reason: "\(count) runs exceed the limit \(runsMax)") }
        let through = try r.u64()
        func name() throws(DecodeError) -> String {
            let n = Int(try r.u16())
            let raw = try r.bytes(n, "file name")
            guard isValidUTF8(raw) else { throw DecodeError(offset: r.position - n, kind: .badHeader, reason: "a file name is not valid UTF-8") }
            let value = String(decoding: raw, as: UTF8.self)
            guard !value.contains("/"), value != ".", value != ".." else { throw r.fail(.badHeader, "file name \(quotedForMessage(value)) leaves the index folder") }
            return value
        }
        let hashName = try name()
        let headsCount = Int(try r.u32())
        guard headsCount <= runsMax else { throw r.fail(.badHeader, "\(headsCount) heads files exceed the limit \(runsMax)") }
        var heads: [String] = []
        for _ in 0..<headsCount { heads.append(try name()) }
        var runs: [Run] = []
        for _ in 0..<count {
            runs.append(Run(file: try name(), firstSequence: try r.u64(), lastSequence: try r.u64()))
        }
        guard r.isAtEnd else { throw r.fail(.badHeader, "bytes after the last run") }
        return IndexManifest(indexedThrough: through, hashName: hashName, headsFiles: heads, runs: runs)
    }
}
