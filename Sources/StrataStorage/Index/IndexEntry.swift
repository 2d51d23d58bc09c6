/// Where the records of one stream inside one frame are: the unit of the partition index (FORMAT.md, "Index
/// entries"). One append of 100 events to one stream is one entry, not 100.
///
///     offset size field
///          0    8 keyHash        `StreamKeyHash` of the partition key
///          8    8 firstVersion   stream version of the stream's first record in the frame
///         16    8 firstSequence  global sequence of that record
///         24    8 frameOffset    offset of the frame in its segment
///         32    4 segmentNumber
///         36    4 versionCount   the stream's records in the frame: versions firstVersion ..< firstVersion + count
package struct IndexEntry: Sendable, Hashable, Comparable {
    package static let byteCount = 40

    package var keyHash: UInt64
    package var firstVersion: UInt64
    package var firstSequence: UInt64
    package var frameOffset: UInt64
    package var segmentNumber: UInt32
    package var versionCount: UInt32

    package init(
        keyHash: UInt64, firstVersion: UInt64, firstSequence: UInt64, frameOffset: UInt64, segmentNumber: UInt32,
        versionCount: UInt32
    ) {
        self.keyHash = keyHash
        self.firstVersion = firstVersion
        self.firstSequence = firstSequence
        self.frameOffset = frameOffset
        self.segmentNumber = segmentNumber
        self.versionCount = versionCount
    }

    package var lastVersion: UInt64 { firstVersion + UInt64(versionCount) - 1 }

    /// Index order: by hash, then version, then sequence (streams whose hashes collide interleave).
    package static func < (a: IndexEntry, b: IndexEntry) -> Bool {
        (a.keyHash, a.firstVersion, a.firstSequence) < (b.keyHash, b.firstVersion, b.firstSequence)
    }

    func encode(into out: inout ByteWriter) {
        out.u64(keyHash)
        out.u64(firstVersion)
        out.u64(firstSequence)
        out.u64(frameOffset)
        out.u32(segmentNumber)
        out.u32(versionCount)
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> IndexEntry {
        IndexEntry(
            keyHash: loadU64LE(bytes, offset), firstVersion: loadU64LE(bytes, offset + 8),
            firstSequence: loadU64LE(bytes, offset + 16), frameOffset: loadU64LE(bytes, offset + 24),
            segmentNumber: loadU32LE(bytes, offset + 32), versionCount: loadU32LE(bytes, offset + 36))
    }
}
