/// An immutable sorted run of index entries (FORMAT.md, "Index runs"):
///
///     header(64) block* blockIndex filter
///
///     header:  magic "STRATIDX" | formatVersion u16 | minReaderVersion u16 | entryBytes u16 (40)
///              | entriesPerBlock u16 (64) | entryCount u64 | firstSequence u64 | lastSequence u64
///              | filterWords u32 | filterHashes u8 | reserved 3 | blockCount u32 | reserved 8 | maskedCRC u32
///     block:   up to 64 entries, sorted, then a masked CRC32C of those entries
///     blockIndex: blockCount × u64 (keyHash of each block's first entry), masked CRC32C
///     filter:  filterWords × u64 Bloom filter bits, masked CRC32C
///
/// Blocks carry their own checksums so a lookup validates exactly what it reads, and opening a run reads only
/// the header, the block index and the filter. The file size is fully determined by the header, so a
/// truncated run is detected before anything else is read.
package struct IndexRunHeader: Sendable, Equatable {
    package static let byteCount = 64
    package static let magic: [UInt8] = Array("STRATIDX".utf8)
    package static let formatVersion: UInt16 = 1
    package static let readerVersion: UInt16 = 1
    package static let entriesPerBlock = 64
    /// Entries per run; the filter and block index then stay within a few hundred MiB.
    package static let entryCountMax: UInt64 = 1 << 32

    package var entryCount: UInt64
    /// The run indexes every frame whose base sequence lies in firstSequence...lastSequence.
    package var firstSequence: UInt64
    package var lastSequence: UInt64
    package var filterWords: UInt32
    package var filterHashes: UInt8
    package var blockCount: UInt32

    var blockBytes: Int { Self.entriesPerBlock * IndexEntry.byteCount + 4 }

    func blockOffset(_ block: Int) -> Int64 { Int64(Self.byteCount) + Int64(block) * Int64(blockBytes) }

    func entriesInBlock(_ block: Int) -> Int {
        Int(min(UInt64(Self.entriesPerBlock), entryCount - UInt64(block) * UInt64(Self.entriesPerBlock)))
    }

    var blockIndexOffset: Int64 {
        guard blockCount > 0 else { return Int64(Self.byteCount) }
        let last = Int(blockCount) - 1
        return blockOffset(last) + Int64(entriesInBlock(last) * IndexEntry.byteCount + 4)
    }

    var filterOffset: Int64 { blockIndexOffset + Int64(blockCount) * 8 + 4 }
    var fileSize: Int64 { filterOffset + Int64(filterWords) * 8 + 4 }

    func encode() -> [UInt8] {
        var out = ByteWriter(capacity: Self.byteCount)
        out.raw(Self.magic)
        out.u16(Self.formatVersion)
        out.u16(1)
        out.u16(UInt16(IndexEntry.byteCount))
        out.u16(UInt16(Self.entriesPerBlock))
        out.u64(entryCount)
        out.u64(firstSequence)
        out.u64(lastSequence)
        out.u32(filterWords)
        out.u8(filterHashes)
        out.zeros(3)
        out.u32(blockCount)
        out.zeros(8)
        let crc = out.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        out.u32(CRC32C.mask(crc))
        return out.bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> IndexRunHeader {
        guard bytes.count >= byteCount else {
            throw DecodeError(offset: bytes.count, kind: .truncated, reason: "truncated index run header: \(bytes.count) of \(byteCount) bytes")
        }
        guard bytes[0..<8].elementsEqual(magic) else { throw DecodeError(offset: 0, kind: .badMagic, reason: "bad magic: not a Strata index run") }
        let stored = loadU32LE(bytes, 60)
        let actual = CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<60])))
        guard stored == actual else {
            throw DecodeError(offset: 60, kind: .badChecksum, reason: "header checksum mismatch: stored \(hex(stored)), computed \(hex(actual))")
        }
        var r = ByteReader(bytes, position: 8)
        _ = try r.u16()
        let minReader = try r.u16()
        guard minReader <= readerVersion else {
            throw DecodeError(offset: 10, kind: .unsupportedVersion, reason: "unsupported version: index run needs reader version \(minReader)")
        }
        guard try r.u16() == UInt16(IndexEntry.byteCount), try r.u16() == UInt16(entriesPerBlock) else {
            throw DecodeError(offset: 12, kind: .badHeader, reason: "unexpected entry or block size")
        }
        let entryCount = try r.u64()
        let firstSequence = try r.u64()
        let lastSequence = try r.u64()
        let filterWords = try r.u32()
        let filterHashes = try r.u8()
        r.position += 3
        let result = IndexRunHeader(
            entryCount: entryCount, firstSequence: firstSequence, lastSequence: lastSequence, filterWords: filterWords,
            filterHashes: filterHashes, blockCount: try r.u32())
        let expectedBlocks = (result.entryCount + UInt64(entriesPerBlock) - 1) / UInt64(entriesPerBlock)
        guard result.entryCount <= entryCountMax, UInt64(result.blockCount) == expectedBlocks else {
            throw DecodeError(offset: 16, kind: .badHeader, reason: "entry count \(result.entryCount) and block count \(result.blockCount) disagree")
        }
        guard result.filterHashes >= 1, result.filterHashes <= 16, result.filterWords >= 1,
            UInt64(result.filterWords) <= max(1, result.entryCount) * 16 / 64 + 1
        else {
            throw DecodeError(offset: 40, kind: .badHeader, reason: "filter of \(result.filterWords) words / \(result.filterHashes) hashes out of range")
        }
        return result
    }
}

enum IndexRunFile {
    /// Writes `entries` (any order) as a run covering frames with base sequences in `firstSequence...lastSequence`,
    /// atomically (temporary file, fsync, rename, folder fsync).
    static func write(
        _ entries: [IndexEntry], firstSequence: UInt64, lastSequence: UInt64, to path: String, directory: String,
        fileSystem: any FileSystem
    ) throws(IOError) {
        let sorted = entries.sorted()
        var distinct = 0
        var previous: UInt64?
        for entry in sorted where entry.keyHash != previous {
            distinct += 1
            previous = entry.keyHash
        }
        let writer = try IndexRunWriter(path: path, directory: directory, fileSystem: fileSystem, expectedKeys: distinct)
        for entry in sorted { try writer.append(entry) }
        try writer.finish(firstSequence: firstSequence, lastSequence: lastSequence)
    }
}

/// Writes an index run as its entries arrive (in index order), a block at a time: merging runs of millions of
/// entries needs memory for the pending blocks, the block index and the filter only. The file appears
/// atomically on `finish`. Not `Sendable`: one writer per merge.
final class IndexRunWriter {
    let path: String
    let directory: String
    let fileSystem: any FileSystem
    private let handle: any FileHandle
    private var filter: BloomFilter
    private var pending = ByteWriter(capacity: 1 << 20)
    private var blockStart = 0
    private var inBlock = 0
    private var firstHashes: [UInt64] = []
    private var written = Int64(IndexRunHeader.byteCount)
    private var count: UInt64 = 0
    private var last: IndexEntry?

    /// `expectedKeys` sizes the Bloom filter: the number of distinct key hashes, or any upper bound up to the
    /// number of entries.
    init(path: String, directory: String, fileSystem: any FileSystem, expectedKeys: Int) throws(IOError) {
        self.path = path
        self.directory = directory
        self.fileSystem = fileSystem
        filter = BloomFilter(keys: expectedKeys)
        handle = try fileSystem.open(path + StoreFileName.temporarySuffix, mode: .create)
    }

    deinit { handle.close() }

    func append(_ entry: IndexEntry) throws(IOError) {
        precondition(last.map { !(entry < $0) } ?? true, "index entries must arrive in index order")
        last = entry
        if inBlock == 0 {
            blockStart = pending.count
            firstHashes.append(entry.keyHash)
        }
        entry.encode(into: &pending)
        filter.insert(entry.keyHash)
        inBlock += 1
        count += 1
        if inBlock == IndexRunHeader.entriesPerBlock { try finishBlock() }
    }

    private func finishBlock() throws(IOError) {
        guard inBlock > 0 else { return }
        let crc = pending.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[blockStart...])) }
        pending.u32(CRC32C.mask(crc))
        inBlock = 0
        if pending.count >= 1 << 20 {
            try handle.write(pending.bytes, at: written)
            written += Int64(pending.count)
            pending.removeAll()
        }
    }

    func finish(firstSequence: UInt64, lastSequence: UInt64) throws(IOError) {
        try finishBlock()
        let header = IndexRunHeader(
            entryCount: count, firstSequence: firstSequence, lastSequence: lastSequence,
            filterWords: UInt32(filter.words.count), filterHashes: UInt8(filter.hashCount),
            blockCount: UInt32(firstHashes.count))
        var start = pending.count
        for hash in firstHashes { pending.u64(hash) }
        var crc = pending.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start...])) }
        pending.u32(CRC32C.mask(crc))
        start = pending.count
        for word in filter.words { pending.u64(word) }
        crc = pending.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start...])) }
        pending.u32(CRC32C.mask(crc))
        try handle.write(pending.bytes, at: written)
        written += Int64(pending.count)
        pending.removeAll()
        precondition(written == header.fileSize, "index run size mismatch")
        try handle.write(header.encode(), at: 0)
        try handle.sync()
        try fileSystem.rename(path + StoreFileName.temporarySuffix, to: path)
        try fileSystem.syncDirectory(directory)
    }
}

/// Merges runs into one, streaming, in index order.
func mergeRuns(_ runs: [IndexRunReader], into writer: IndexRunWriter) throws(StorageError) {
    var buffers: [[IndexEntry]] = Array(repeating: [], count: runs.count)
    var positions = [Int](repeating: 0, count: runs.count)
    var blocks = [Int](repeating: 0, count: runs.count)
    func current(_ i: Int) throws(StorageError) -> IndexEntry? {
        while positions[i] >= buffers[i].count {
            guard blocks[i] < Int(runs[i].header.blockCount) else { return nil }
            buffers[i] = try runs[i].entries(ofBlock: blocks[i])
            blocks[i] += 1
            positions[i] = 0
        }
        return buffers[i][positions[i]]
    }
    while true {
        var best: (run: Int, entry: IndexEntry)?
        for i in runs.indices {
            guard let entry = try current(i) else { continue }
            if best == nil || entry < best!.entry { best = (i, entry) }
        }
        guard let (run, entry) = best else { return }
        do throws(IOError) { try writer.append(entry) } catch { throw .io(error) }
        positions[run] += 1
    }
}

/// An open index run: header, block index and filter in memory; blocks read (and checked) on demand.
package final class IndexRunReader: Sendable {
    package let path: String
    package let header: IndexRunHeader
    let handle: any FileHandle
    let blockFirstHashes: [UInt64]
    let filter: BloomFilter

    init(path: String, header: IndexRunHeader, handle: any FileHandle, blockFirstHashes: [UInt64], filter: BloomFilter) {
        self.path = path
        self.header = header
        self.handle = handle
        self.blockFirstHashes = blockFirstHashes
        self.filter = filter
    }

    /// Opens and validates a run: header, exact file size, block index and filter checksums.
    package static func open(_ path: String, fileSystem: any FileSystem) throws(StorageError) -> IndexRunReader {
        let handle = try io { () throws(IOError) in try fileSystem.open(path, mode: .read) }
        let size = try io { () throws(IOError) in try handle.size() }
        let headerBytes = try io { () throws(IOError) in try handle.readBytes(count: IndexRunHeader.byteCount, at: 0) }
        let header: IndexRunHeader
        do throws(DecodeError) {
            header = try headerBytes.withRawBytes { (raw) throws(DecodeError) in try IndexRunHeader.decode(raw) }
        } catch {
            throw .corrupt(error.kind, path, Int64(error.offset), error.reason)
        }
        guard size == header.fileSize else {
            throw .corrupt(.truncated, path, min(size, header.fileSize), "index run is \(size) bytes; its header describes \(header.fileSize)")
        }
        let indexBytes = try io { () throws(IOError) in
            try handle.readBytes(count: Int(header.blockCount) * 8 + 4, at: header.blockIndexOffset)
        }
        let filterBytes = try io { () throws(IOError) in
            try handle.readBytes(count: Int(header.filterWords) * 8 + 4, at: header.filterOffset)
        }
        guard let firstHashes = checkedWords(indexBytes), let words = checkedWords(filterBytes) else {
            let which = checkedWords(indexBytes) == nil ? header.blockIndexOffset : header.filterOffset
            throw .corrupt(.badChecksum, path, which, "index run section checksum mismatch")
        }
        return IndexRunReader(
            path: path, header: header, handle: handle, blockFirstHashes: firstHashes,
            filter: BloomFilter(words: words, hashCount: Int(header.filterHashes)))
    }

    /// The u64 words of a section, or nil if its trailing checksum does not match.
    private static func checkedWords(_ bytes: [UInt8]) -> [UInt64]? {
        bytes.withUnsafeBytes { raw -> [UInt64]? in
            guard raw.count >= 4, (raw.count - 4) % 8 == 0 else { return nil }
            let body = UnsafeRawBufferPointer(rebasing: raw[0..<(raw.count - 4)])
            guard loadU32LE(raw, raw.count - 4) == CRC32C.mask(CRC32C.checksum(body)) else { return nil }
            return (0..<(body.count / 8)).map { loadU64LE(body, $0 * 8) }
        }
    }

    /// Whether the run may hold entries for `keyHash` (false: it certainly does not).
    package func mayContain(_ keyHash: UInt64) -> Bool { filter.mayContain(keyHash) }

    /// Every entry with `keyHash`, in index order. Reads only the blocks that can hold them.
    package func entries(for keyHash: UInt64) throws(StorageError) -> [IndexEntry] {
        guard header.entryCount > 0, filter.mayContain(keyHash) else { return [] }
        // First block whose first hash is ≥ keyHash; matches may start in the block before it.
        var low = 0
        var high = blockFirstHashes.count
        while low < high {
            let mid = (low + high) / 2
            if blockFirstHashes[mid] < keyHash { low = mid + 1 } else { high = mid }
        }
        var block = max(0, low - 1)
        var found: [IndexEntry] = []
        while block < Int(header.blockCount) {
            if block > low, blockFirstHashes[block] > keyHash { break }
            var done = false
            try readBlock(block) { entry in
                if entry.keyHash == keyHash { found.append(entry) } else if entry.keyHash > keyHash { done = true }
            }
            if done { break }
            block += 1
        }
        return found
    }

    /// Every entry of the run, in order (for merging runs and verification).
    package func allEntries() throws(StorageError) -> [IndexEntry] {
        var all: [IndexEntry] = []
        all.reserveCapacity(Int(header.entryCount))
        for block in 0..<Int(header.blockCount) { try readBlock(block) { all.append($0) } }
        return all
    }

    /// The entries of one block (checked).
    func entries(ofBlock block: Int) throws(StorageError) -> [IndexEntry] {
        var entries: [IndexEntry] = []
        entries.reserveCapacity(IndexRunHeader.entriesPerBlock)
        try readBlock(block) { entries.append($0) }
        return entries
    }

    private func readBlock(_ block: Int, _ visit: (IndexEntry) -> Void) throws(StorageError) {
        let count = header.entriesInBlock(block)
        let offset = header.blockOffset(block)
        let bytes: [UInt8]
        do throws(IOError) {
            bytes = try handle.readBytes(count: count * IndexEntry.byteCount + 4, at: offset)
        } catch { throw .io(error) }
        guard bytes.count == count * IndexEntry.byteCount + 4 else {
            throw .corrupt(.truncated, path, offset, "index block \(block) is cut short")
        }
        let valid = bytes.withUnsafeBytes { raw -> Bool in
            let body = UnsafeRawBufferPointer(rebasing: raw[0..<(count * IndexEntry.byteCount)])
            guard loadU32LE(raw, body.count) == CRC32C.mask(CRC32C.checksum(body)) else { return false }
            for i in 0..<count { visit(IndexEntry.decode(body, at: i * IndexEntry.byteCount)) }
            return true
        }
        guard valid else { throw .corrupt(.badChecksum, path, offset, "index block \(block) checksum mismatch") }
    }
}
