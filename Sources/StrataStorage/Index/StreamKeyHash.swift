/// The 64-bit hash of a partition key that index files are sorted by (FORMAT.md, "Stream key hash").
///
/// The hash is part of the on-disk format: changing it invalidates every index file (they are derived data
/// and would be rebuilt, but silently different hashes would make lookups miss). Hashes collide: every reader
/// confirms the partition key stored in the record (or, for stream heads, stored beside the hash).
///
/// Input: `u8(len) tenant u8(len) group u8(len) id` (lengths make the encoding unambiguous), read as
/// little-endian 64-bit words, the last one zero-padded:
///
///     h = byteLength × P1
///     for each word w:  k = rotl(w × P2, 31) × P1;  h = rotl(h ^ k, 27) × P1 + P3
///     return fmix64(h)      (MurmurHash3's finaliser)
package struct StreamKeyHash: Sendable {
    /// Recorded in the index manifest: an index built with another hash is rebuilt.
    package let name: String
    /// The hash function; tests substitute a weak one to force collisions.
    package let function: @Sendable (PartitionKey) -> UInt64

    package init(name: String, _ function: @escaping @Sendable (PartitionKey) -> UInt64) {
        self.name = name
        self.function = function
    }

    /// The format's hash.
    package static let standard = StreamKeyHash(name: "strata-key-hash-1") { StreamKeyHash.hash($0) }

    @inlinable package func callAsFunction(_ key: PartitionKey) -> UInt64 { function(key) }

    static let p1: UInt64 = 0x9E37_79B9_7F4A_7C15
    static let p2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    static let p3: UInt64 = 0x1656_67B1_9E37_79F9

    package static func hash(_ key: PartitionKey) -> UInt64 {
        // At most 3 + 64 + 64 + 128 bytes: hash from a stack buffer.
        withUnsafeTemporaryAllocation(byteCount: 3 + Limits.tenantBytesMax + Limits.groupBytesMax + Limits.aggregateIdBytesMax + 8, alignment: 8) { buffer in
            var n = 0
            func put(_ part: String) {
                let count = min(part.utf8.count, 255, buffer.count - 8 - n - 1)
                buffer[n] = UInt8(count)
                n += 1
                for byte in part.utf8.prefix(count) {
                    buffer[n] = byte
                    n += 1
                }
            }
            put(key.tenant)
            put(key.group)
            put(key.id)
            return hash(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }

    /// The hash of the already-encoded key bytes (`u8(len) tenant u8(len) group u8(len) id`).
    package static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h = UInt64(bytes.count) &* p1
        var i = 0
        while i < bytes.count {
            var w: UInt64 = 0
            let take = min(8, bytes.count - i)
            for j in 0..<take { w |= UInt64(bytes[i + j]) << (8 * UInt64(j)) }
            var k = w &* p2
            k = (k << 31) | (k >> 33)
            k = k &* p1
            h ^= k
            h = ((h << 27) | (h >> 37)) &* p1 &+ p3
            i += 8
        }
        return fmix64(h)
    }

    @inline(__always) static func fmix64(_ value: UInt64) -> UInt64 {
        var h = value
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h = h &* 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 33
        return h
    }
}
