import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The latest version of one stream.
public struct StreamHead: Sendable, Hashable {
    public var key: PartitionKey
    /// Latest stream version (≥ 1).
    public var version: UInt64
    /// Global sequence of the stream's latest event.
    public var lastSequence: UInt64

    public init(key: PartitionKey, version: UInt64, lastSequence: UInt64) {
        self.key = key
        self.version = version
        self.lastSequence = lastSequence
    }
}

/// Byte-wise order of partition keys: tenant, then group, then id, each compared as UTF-8 bytes. This is the
/// order of the stream-heads file, so the streams of a tenant (or of a tenant and group) are contiguous.
package func partitionKeyPrecedes(_ a: PartitionKey, _ b: PartitionKey) -> Bool {
    partitionKeyCompare(a, b) < 0
}

/// -1, 0 or 1 as `a` sorts before, equal to or after `b` in `partitionKeyPrecedes` order.
func partitionKeyCompare(_ a: PartitionKey, _ b: PartitionKey) -> Int {
    let tenant = utf8Compare(a.tenant, b.tenant)
    if tenant != 0 { return tenant }
    let group = utf8Compare(a.group, b.group)
    if group != 0 { return group }
    return utf8Compare(a.id, b.id)
}

/// Byte-wise comparison of two strings' UTF-8 (memcmp on native strings; no Unicode normalisation, which
/// `String`'s own `<` and `==` would apply).
@inline(__always)
func utf8Compare(_ a: String, _ b: String) -> Int {
    let fast = a.utf8.withContiguousStorageIfAvailable { x in
        b.utf8.withContiguousStorageIfAvailable { y -> Int in
            let n = min(x.count, y.count)
            if n > 0 {
                let c = memcmp(x.baseAddress!, y.baseAddress!, n)
                if c != 0 { return c < 0 ? -1 : 1 }
            }
            return x.count == y.count ? 0 : (x.count < y.count ? -1 : 1)
        }
    }
    if let result = fast ?? nil { return result }
    if a.utf8.elementsEqual(b.utf8) { return 0 }
    return a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : 1
}

/// The stream-heads file (FORMAT.md, "Stream heads"): every stream's latest version, sorted by partition key.
///
///     file   = header(64) block* blockIndex u32(maskedCRC of blockIndex) filter u32(maskedCRC of filter)
///     header = magic "STRATHDS" | formatVersion u16 | minReaderVersion u16 | blockCount u32 | streamCount u64
///              | coveredThrough u64 | indexOffset u64 | indexLength u32 | filterWords u32 | filterHashes u8
///              | reserved[11] | maskedCRC u32 of [0,60)
///     filter = filterWords × u64: a Bloom filter over the streams' `StreamKeyHash`es (as in index runs), so a
///              lookup skips the files that cannot hold a stream
///     block  = u32 entryCount, entries, masked CRC32C of the block's preceding bytes
///     entry  = str8 tenant, str8 group, str8 id, u64 version, u64 lastSequence
///     blockIndex entry = u64 offset, u32 length, str8 tenant, str8 group, str8 id (the block's first key)
enum StreamHeadsFile {
    static let magic: [UInt8] = Array("STRATHDS".utf8)
    static let headerBytes = 64
    static let blockTargetBytes = 4096
    static let formatVersion: UInt16 = 1
    static let readerVersion: UInt16 = 1
    /// Largest entry: three 255-byte strings with their lengths, version and sequence.
    static let entryBytesMax = 3 + 255 * 3 + 16
    static let blockBytesMax = blockTargetBytes + entryBytesMax + 8
    static let indexEntryBytesMax = 12 + 3 + 255 * 3

    static func putKey(_ key: PartitionKey, _ out: inout ByteWriter) {
        for part in [key.tenant, key.group, key.id] {
            let utf8 = Array(part.utf8.prefix(255))
            out.u8(UInt8(utf8.count))
            out.raw(utf8)
        }
    }

    /// Steps over an encoded key, checking what `decodeKey` checks, without making strings.
    static func skipKey(_ r: inout ByteReader) throws(DecodeError) {
        for what: StaticString in ["tenant", "group", "id"] {
            let n = Int(try r.u8(what))
            guard n >= 1 else { throw r.fail(.badHeader, "empty \(what)") }
            _ = try r.bytes(n, what)
        }
    }

    /// Orders the key (tenant, group, id) against the key `putKey` encoded at `offset` of `keys` (already
    /// checked by `skipKey`), as `partitionKeyPrecedes` does: part by part, bytes lexicographically.
    /// Negative, zero or positive.
    static func compare(
        _ tenant: UnsafeBufferPointer<UInt8>, _ group: UnsafeBufferPointer<UInt8>, _ id: UnsafeBufferPointer<UInt8>,
        withKeyAt offset: Int, in keys: UnsafeRawBufferPointer
    ) -> Int {
        var p = offset
        var order = comparePart(tenant, keys, &p)
        if order == 0 { order = comparePart(group, keys, &p) }
        if order == 0 { order = comparePart(id, keys, &p) }
        return order
    }

    /// Compares `part` with the length-prefixed part at `p`, moving `p` past it.
    @inline(__always)
    private static func comparePart(_ part: UnsafeBufferPointer<UInt8>, _ keys: UnsafeRawBufferPointer, _ p: inout Int) -> Int {
        let n = Int(keys[p])
        let stored = keys.baseAddress! + p + 1
        p += 1 + n
        for i in 0..<min(part.count, n) {
            let (a, b) = (part[i], stored.load(fromByteOffset: i, as: UInt8.self))
            if a != b { return Int(a) - Int(b) }
        }
        return part.count - n
    }

    static func decodeKey(_ r: inout ByteReader) throws(DecodeError) -> PartitionKey {
        func part(_ what: StaticString) throws(DecodeError) -> String {
            let n = Int(try r.u8(what))
            guard n >= 1 else { throw r.fail(.badHeader, "empty \(what)") }
            let bytes = try r.bytes(n, what)
            guard isValidUTF8(bytes) else { throw DecodeError(offset: r.position - n, kind: .badRecord, reason: "\(what) is not valid UTF-8") }
            return String(decoding: bytes, as: UTF8.self)
        }
        return PartitionKey(tenant: try part("tenant"), group: try part("group"), id: try part("id"))
    }

    /// Writes `heads` (sorted by `partitionKeyPrecedes`, one per key) atomically.
    static func write(
        _ heads: [StreamHead], coveredThrough: UInt64, hasher: StreamKeyHash, to path: String, directory: String,
        fileSystem: any FileSystem
    ) throws(IOError) {
        let writer = try StreamHeadsWriter(
            path: path, directory: directory, fileSystem: fileSystem, hasher: hasher, expectedStreams: heads.count)
        for head in heads { try writer.append(head) }
        try writer.finish(coveredThrough: coveredThrough)
    }
}

/// Writes a stream-heads file as its heads arrive (sorted, one per key), a block at a time, so merging files
/// of millions of streams needs memory for one block, the block index and the filter only. The file appears
/// atomically on `finish` (temporary name, fsync, rename, folder fsync). Not `Sendable`: one writer per merge.
final class StreamHeadsWriter {
    let path: String
    let directory: String
    let fileSystem: any FileSystem
    let hasher: StreamKeyHash
    private let handle: any FileHandle
    private var filter: BloomFilter
    private var pending = ByteWriter(capacity: 1 << 20)
    private var block = ByteWriter(capacity: StreamHeadsFile.blockBytesMax)
    private var blockFirstKey: PartitionKey?
    private var blockEntries: UInt32 = 0
    private var index = ByteWriter()
    private var written = Int64(StreamHeadsFile.headerBytes)
    private var blocks = 0
    private var streams = 0
    private var last: PartitionKey?

    /// `expectedStreams` sizes the Bloom filter (an upper bound is fine).
    init(
        path: String, directory: String, fileSystem: any FileSystem, hasher: StreamKeyHash, expectedStreams: Int
    ) throws(IOError) {
        self.path = path
        self.directory = directory
        self.fileSystem = fileSystem
        self.hasher = hasher
        filter = BloomFilter(keys: expectedStreams)
        handle = try fileSystem.open(path + StoreFileName.temporarySuffix, mode: .create)
        try handle.write([UInt8](repeating: 0, count: StreamHeadsFile.headerBytes), at: 0)
    }

    deinit { handle.close() }

    func append(_ head: StreamHead) throws(IOError) {
        precondition(last.map { partitionKeyPrecedes($0, head.key) } ?? true, "stream heads must arrive sorted, one per key")
        last = head.key
        if blockEntries == 0 {
            block.removeAll()
            block.u32(0)
            blockFirstKey = head.key
        }
        StreamHeadsFile.putKey(head.key, &block)
        block.u64(head.version)
        block.u64(head.lastSequence)
        blockEntries += 1
        streams += 1
        filter.insert(hasher(head.key))
        if block.count >= StreamHeadsFile.blockTargetBytes { try finishBlock() }
    }

    private func finishBlock() throws(IOError) {
        guard blockEntries > 0, let firstKey = blockFirstKey else { return }
        block.patchU32(blockEntries, at: 0)
        let crc = block.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        block.u32(CRC32C.mask(crc))
        index.u64(UInt64(written + Int64(pending.count)))
        index.u32(UInt32(block.count))
        StreamHeadsFile.putKey(firstKey, &index)
        pending.raw(block.bytes)
        blocks += 1
        blockEntries = 0
        if pending.count >= 1 << 20 { try flushPending() }
    }

    private func flushPending() throws(IOError) {
        guard pending.count > 0 else { return }
        try handle.write(pending.bytes, at: written)
        written += Int64(pending.count)
        pending.removeAll()
    }

    func finish(coveredThrough: UInt64) throws(IOError) {
        try finishBlock()
        let indexOffset = written + Int64(pending.count)
        pending.raw(index.bytes)
        let indexCRC = index.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        pending.u32(CRC32C.mask(indexCRC))
        let filterStart = pending.count
        for word in filter.words { pending.u64(word) }
        let filterCRC = pending.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[filterStart...])) }
        pending.u32(CRC32C.mask(filterCRC))
        try flushPending()
        var header = ByteWriter(capacity: StreamHeadsFile.headerBytes)
        header.raw(StreamHeadsFile.magic)
        header.u16(StreamHeadsFile.formatVersion)
        header.u16(1)
        header.u32(UInt32(blocks))
        header.u64(UInt64(streams))
        header.u64(coveredThrough)
        header.u64(UInt64(indexOffset))
        header.u32(UInt32(index.count))
        header.u32(UInt32(filter.words.count))
        header.u8(UInt8(filter.hashCount))
        header.zeros(11)
        let headerCRC = header.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        header.u32(CRC32C.mask(headerCRC))
        try handle.write(header.bytes, at: 0)
        try handle.sync()
        try fileSystem.rename(path + StoreFileName.temporarySuffix, to: path)
        try fileSystem.syncDirectory(directory)
    }
}

/// Reads a stream-heads file's heads in key order, one block at a time.
struct StreamHeadsCursor {
    let reader: StreamHeadsReader
    private var block = 0
    private var buffered: [StreamHead] = []
    private var position = 0
    /// The current head (nil at the end), valid after `load()`.
    private(set) var head: StreamHead?

    init(_ reader: StreamHeadsReader) { self.reader = reader }

    /// Reads the next block when the current one is used up, and sets `head`.
    mutating func load() throws(StorageError) {
        while position >= buffered.count {
            guard block < reader.blocks.count else {
                head = nil
                return
            }
            buffered = try reader.entries(ofBlock: block)
            block += 1
            position = 0
        }
        head = buffered[position]
    }

    mutating func advance() throws(StorageError) {
        position += 1
        try load()
    }
}

/// Merges stream-heads files (oldest first) into one, streaming: a newer file's head wins.
func mergeHeadsFiles(
    _ readers: [StreamHeadsReader], into writer: StreamHeadsWriter
) throws(StorageError) {
    try forEachMergedHead(readers) { (head) throws(StorageError) in
        do throws(IOError) { try writer.append(head) } catch { throw .io(error) }
    }
}

/// Calls `body` with every stream's head across stream-heads files (oldest first), in key order, once per
/// stream (a newer file's head wins). Streams a block at a time: memory stays one block per file.
func forEachMergedHead(
    _ readers: [StreamHeadsReader], _ body: (StreamHead) throws(StorageError) -> Void
) throws(StorageError) {
    var cursors = readers.map(StreamHeadsCursor.init)
    for i in cursors.indices { try cursors[i].load() }
    var holding: [Int] = []  // the cursors at the smallest key, oldest file first
    while true {
        holding.removeAll(keepingCapacity: true)
        for i in cursors.indices where cursors[i].head != nil {
            guard let first = holding.first else {
                holding.append(i)
                continue
            }
            let order = partitionKeyCompare(cursors[i].head!.key, cursors[first].head!.key)
            if order < 0 {
                holding.removeAll(keepingCapacity: true)
                holding.append(i)
            } else if order == 0 {
                holding.append(i)
            }
        }
        guard let newest = holding.last else { return }
        try body(cursors[newest].head!)  // a newer file's head wins
        for i in holding { try cursors[i].advance() }
    }
}

/// An open stream-heads file: header and block index in memory; blocks read and checked on demand.
package final class StreamHeadsReader: Sendable {
    struct Block: Sendable {
        var offset: Int64
        var length: Int
        /// Where the block's first key (encoded as `putKey` writes it) starts in `blockKeys`.
        var firstKeyAt: Int
    }

    package let path: String
    package let streamCount: UInt64
    /// The heads reflect every event with a sequence ≤ this.
    package let coveredThrough: UInt64
    let handle: any FileHandle
    let blocks: [Block]
    /// The block index as read (checked) from the file: the blocks' first keys stay encoded, so opening a file
    /// of a million streams decodes no key and allocates no string.
    let blockKeys: [UInt8]
    let filter: BloomFilter
    let hasher: StreamKeyHash
    /// Blocks read lately, kept after their CRC was checked (a hot stream's version check reads no file).
    let cache = Mutex(BlockCache())
    static let cachedBlocksMax = 256

    struct BlockCache {
        var blocks: [Int: [UInt8]] = [:]
        /// Insertion order, for eviction (oldest first).
        var order: [Int] = []
        var next = 0
    }

    init(
        path: String, streamCount: UInt64, coveredThrough: UInt64, handle: any FileHandle, blocks: [Block],
        blockKeys: [UInt8], filter: BloomFilter, hasher: StreamKeyHash
    ) {
        self.blockKeys = blockKeys
        self.path = path
        self.streamCount = streamCount
        self.coveredThrough = coveredThrough
        self.handle = handle
        self.blocks = blocks
        self.filter = filter
        self.hasher = hasher
    }

    struct Header {
        var blockCount: Int
        var streamCount: UInt64
        var coveredThrough: UInt64
        var indexOffset: Int64
        var indexLength: Int
        var filterWords: Int
        var filterHashes: Int
        var filterOffset: Int64 { indexOffset + Int64(indexLength) + 4 }
    }

    static func decodeHeader(_ raw: UnsafeRawBufferPointer, fileSize: Int64) throws(DecodeError) -> Header {
        guard raw.count >= StreamHeadsFile.headerBytes else {
            throw DecodeError(offset: raw.count, kind: .truncated, reason: "truncated stream-heads header")
        }
        guard raw[0..<8].elementsEqual(StreamHeadsFile.magic) else {
            throw DecodeError(offset: 0, kind: .badMagic, reason: "bad magic: not a Strata stream-heads file")
        }
        guard loadU32LE(raw, 60) == CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<60]))) else {
            throw DecodeError(offset: 60, kind: .badChecksum, reason: "header checksum mismatch")
        }
        var r = ByteReader(raw, position: 8)
        _ = try r.u16()
        guard try r.u16() <= StreamHeadsFile.readerVersion else {
            throw DecodeError(offset: 10, kind: .unsupportedVersion, reason: "unsupported version of the stream-heads file")
        }
        let header = Header(
            blockCount: Int(try r.u32()), streamCount: try r.u64(), coveredThrough: try r.u64(),
            indexOffset: Int64(bitPattern: try r.u64()), indexLength: Int(try r.u32()), filterWords: Int(try r.u32()),
            filterHashes: Int(try r.u8()))
        // The filter's size is bounded by the file's (checked below, before anything is allocated).
        guard header.filterHashes >= 1, header.filterHashes <= 16, header.filterWords >= 1,
            Int64(header.filterWords) <= fileSize / 8
        else {
            throw DecodeError(offset: 48, kind: .badHeader, reason: "filter of \(header.filterWords) words / \(header.filterHashes) hashes out of range")
        }
        guard header.indexOffset >= Int64(StreamHeadsFile.headerBytes),
            header.filterOffset + Int64(header.filterWords) * 8 + 4 == fileSize,
            header.indexLength <= header.blockCount * StreamHeadsFile.indexEntryBytesMax,
            UInt64(header.blockCount) <= header.streamCount, header.streamCount <= UInt64(fileSize)
        else {
            throw DecodeError(offset: 12, kind: .truncated, reason: "header sizes do not match a file of \(fileSize) bytes")
        }
        return header
    }

    package static func open(
        _ path: String, fileSystem: any FileSystem, hasher: StreamKeyHash = .standard
    ) throws(StorageError) -> StreamHeadsReader {
        let handle = try io { () throws(IOError) in try fileSystem.open(path, mode: .read) }
        let size = try io { () throws(IOError) in try handle.size() }
        let headerBytes = try io { () throws(IOError) in try handle.readBytes(count: StreamHeadsFile.headerBytes, at: 0) }
        let header: Header
        do throws(DecodeError) {
            header = try headerBytes.withRawBytes { (raw) throws(DecodeError) in try decodeHeader(raw, fileSize: size) }
        } catch {
            throw .corrupt(error.kind, path, Int64(error.offset), error.reason)
        }
        let indexBytes = try io { () throws(IOError) in
            try handle.readBytes(count: header.indexLength + 4, at: header.indexOffset)
        }
        var blocks: [Block] = []
        blocks.reserveCapacity(header.blockCount)
        do throws(DecodeError) {
            try indexBytes.withRawBytes { (raw) throws(DecodeError) in
                guard raw.count == header.indexLength + 4 else { throw DecodeError(offset: 0, kind: .truncated, reason: "block index cut short") }
                let body = UnsafeRawBufferPointer(rebasing: raw[0..<header.indexLength])
                guard loadU32LE(raw, header.indexLength) == CRC32C.mask(CRC32C.checksum(body)) else {
                    throw DecodeError(offset: 0, kind: .badChecksum, reason: "block index checksum mismatch")
                }
                var r = ByteReader(body)
                var expectedOffset = Int64(StreamHeadsFile.headerBytes)
                for _ in 0..<header.blockCount {
                    let offset = Int64(bitPattern: try r.u64())
                    let length = Int(try r.u32())
                    guard offset == expectedOffset, length >= 8, length <= StreamHeadsFile.blockBytesMax else {
                        throw r.fail(.badRecord, "block at \(offset) of \(length) bytes does not follow the previous one")
                    }
                    expectedOffset += Int64(length)
                    let keyAt = r.position
                    try StreamHeadsFile.skipKey(&r)
                    blocks.append(Block(offset: offset, length: length, firstKeyAt: keyAt))
                }
                guard r.isAtEnd, expectedOffset == header.indexOffset else {
                    throw r.fail(.badRecord, "block index does not cover the blocks exactly")
                }
            }
        } catch {
            throw .corrupt(error.kind, path, header.indexOffset + Int64(error.offset), error.reason)
        }
        let filterBytes = try io { () throws(IOError) in
            try handle.readBytes(count: header.filterWords * 8 + 4, at: header.filterOffset)
        }
        let words: [UInt64]? = filterBytes.withUnsafeBytes { raw in
            guard raw.count == header.filterWords * 8 + 4 else { return nil }
            let body = UnsafeRawBufferPointer(rebasing: raw[0..<(raw.count - 4)])
            guard loadU32LE(raw, body.count) == CRC32C.mask(CRC32C.checksum(body)) else { return nil }
            return (0..<header.filterWords).map { loadU64LE(body, $0 * 8) }
        }
        guard let words else { throw .corrupt(.badChecksum, path, header.filterOffset, "stream-heads filter checksum mismatch") }
        return StreamHeadsReader(
            path: path, streamCount: header.streamCount, coveredThrough: header.coveredThrough, handle: handle,
            blocks: blocks, blockKeys: indexBytes, filter: BloomFilter(words: words, hashCount: header.filterHashes), hasher: hasher)
    }

    /// Reads and checks one block.
    func entries(ofBlock index: Int) throws(StorageError) -> [StreamHead] {
        try withCheckedBlock(index) { (r) throws(DecodeError) -> [StreamHead] in
            var heads: [StreamHead] = []
            heads.reserveCapacity(r.count)
            for _ in 0..<r.count {
                let key = try StreamHeadsFile.decodeKey(&r.reader)
                heads.append(StreamHead(key: key, version: try r.reader.u64("version"), lastSequence: try r.reader.u64("last sequence")))
            }
            guard r.reader.isAtEnd else { throw r.reader.fail(.badRecord, "bytes after the last entry") }
            return heads
        }
    }

    /// A block's entries, checked: the entry count and a reader positioned at the first entry.
    struct CheckedBlock {
        var count: Int
        var reader: ByteReader
    }

    /// Reads block `index`, checks its length and CRC, and hands `body` its entries; any decoding error is
    /// reported as damage to this file at the block's offset.
    private func withCheckedBlock<T>(
        _ index: Int, _ body: (inout CheckedBlock) throws(DecodeError) -> T
    ) throws(StorageError) -> T {
        let block = blocks[index]
        let cached = cache.withLock { $0.blocks[index] }
        let bytes: [UInt8]
        if let cached {
            bytes = cached
        } else {
            bytes = try io { () throws(IOError) in try handle.readBytes(count: block.length, at: block.offset) }
        }
        do throws(DecodeError) {
            return try bytes.withRawBytes { (raw) throws(DecodeError) -> T in
                let content = UnsafeRawBufferPointer(rebasing: raw[0..<max(0, min(raw.count, block.length - 4))])
                if cached == nil {
                    guard raw.count == block.length else { throw DecodeError(offset: raw.count, kind: .truncated, reason: "block cut short") }
                    guard loadU32LE(raw, block.length - 4) == CRC32C.mask(CRC32C.checksum(content)) else {
                        throw DecodeError(offset: block.length - 4, kind: .badChecksum, reason: "block checksum mismatch")
                    }
                    remember(bytes, as: index)
                }
                var reader = ByteReader(content)
                let count = Int(try reader.u32("entry count"))
                guard count >= 1, count <= content.count / 19 else { throw DecodeError(offset: 0, kind: .badRecord, reason: "entry count \(count)") }
                var checked = CheckedBlock(count: count, reader: reader)
                return try body(&checked)
            }
        } catch {
            throw .corrupt(.badChecksum, path, block.offset + Int64(error.offset), "stream-heads block \(index): \(error.reason)")
        }
    }

    /// Keeps a checked block, evicting the oldest past `cachedBlocksMax`.
    private func remember(_ bytes: [UInt8], as index: Int) {
        cache.withLock { cache in
            guard cache.blocks[index] == nil else { return }
            if cache.order.count < Self.cachedBlocksMax {
                cache.order.append(index)
            } else {
                cache.blocks[cache.order[cache.next]] = nil
                cache.order[cache.next] = index
                cache.next = (cache.next + 1) % Self.cachedBlocksMax
            }
            cache.blocks[index] = bytes
        }
    }

    /// Index of the last block whose first key is ≤ `key` (nil when `key` precedes every block).
    func blockIndex(for key: PartitionKey) -> Int? {
        var (tenant, group, id) = (key.tenant, key.group, key.id)
        return tenant.withUTF8 { tenant in
            group.withUTF8 { group in
                id.withUTF8 { id in
                    blockKeys.withUnsafeBytes { keys in
                        var low = 0
                        var high = blocks.count
                        while low < high {
                            let mid = (low + high) / 2
                            let order = StreamHeadsFile.compare(tenant, group, id, withKeyAt: blocks[mid].firstKeyAt, in: keys)
                            if order < 0 { high = mid } else { low = mid + 1 }
                        }
                        return low == 0 ? nil : low - 1
                    }
                }
            }
        }
    }

    /// The head of `key`, or nil if the stream is not in the file.
    package func head(of key: PartitionKey) throws(StorageError) -> StreamHead? {
        try head(of: key, hash: hasher(key))
    }

    /// The head of `key` (whose `StreamKeyHash` is `hash`): skipped by the filter when the file cannot hold it,
    /// else one block read, its entries compared as bytes (only a match is decoded).
    func head(of key: PartitionKey, hash: UInt64) throws(StorageError) -> StreamHead? {
        guard filter.mayContain(hash), let index = blockIndex(for: key) else { return nil }
        // An entry's key as stored: str8 tenant, str8 group, str8 id — compared whole, in one memcmp.
        var wanted: [UInt8] = []
        wanted.reserveCapacity(3 + key.tenant.utf8.count + key.group.utf8.count + key.id.utf8.count)
        for part in [key.tenant, key.group, key.id] {
            wanted.append(UInt8(truncatingIfNeeded: part.utf8.count))
            wanted.append(contentsOf: part.utf8)
        }
        return try withCheckedBlock(index) { (r) throws(DecodeError) -> StreamHead? in
            let bytes = r.reader.buffer
            var p = r.reader.position
            let end = bytes.count
            for _ in 0..<r.count {
                // Each length is checked against the block before it is used (the block's CRC passed, but its
                // contents are still only as good as whoever wrote them).
                guard p < end else { throw DecodeError(offset: p, kind: .truncated, reason: "stream-heads entry runs past the block") }
                let tenant = Int(bytes[p])
                guard p + 1 + tenant < end else { throw DecodeError(offset: p, kind: .truncated, reason: "stream-heads entry runs past the block") }
                let group = Int(bytes[p + 1 + tenant])
                guard p + 2 + tenant + group < end else { throw DecodeError(offset: p, kind: .truncated, reason: "stream-heads entry runs past the block") }
                let keyBytes = 3 + tenant + group + Int(bytes[p + 2 + tenant + group])
                guard p + keyBytes + 16 <= end else { throw DecodeError(offset: p, kind: .truncated, reason: "stream-heads entry runs past the block") }
                if keyBytes == wanted.count, wanted.withUnsafeBytes({ memcmpEqual(bytes.baseAddress! + p, $0.baseAddress!, keyBytes) }) {
                    return StreamHead(key: key, version: loadU64LE(bytes, p + keyBytes), lastSequence: loadU64LE(bytes, p + keyBytes + 8))
                }
                p += keyBytes + 16
            }
            return nil
        }
    }

    /// Every head in key order (for merging and verification).
    package func allHeads() throws(StorageError) -> [StreamHead] {
        var all: [StreamHead] = []
        all.reserveCapacity(Int(min(streamCount, 1 << 24)))
        for index in blocks.indices { all += try entries(ofBlock: index) }
        return all
    }

    /// Up to `limit` heads of `tenant` (and `group`, if given) in key order, strictly after `after`.
    package func list(tenant: String, group: String?, after: PartitionKey?, limit: Int) throws(StorageError) -> [StreamHead] {
        let start = after ?? PartitionKey(tenant: tenant, group: group ?? "", id: "")
        var index = blockIndex(for: start) ?? 0
        var found: [StreamHead] = []
        while index < blocks.count && found.count < limit {
            for head in try entries(ofBlock: index) {
                if let after, !partitionKeyPrecedes(after, head.key) { continue }
                if partitionKeyPrecedes(head.key, start) { continue }
                guard head.key.tenant == tenant, group == nil || head.key.group == group else {
                    if partitionKeyPrecedes(start, head.key) { return found }
                    continue
                }
                found.append(head)
                if found.count == limit { return found }
            }
            index += 1
        }
        return found
    }
}
