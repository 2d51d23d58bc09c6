/// A Bloom filter over 64-bit key hashes, so a lookup can skip index runs that cannot hold a stream
/// (FORMAT.md, "Index run filter"). Bit positions come from the key hash itself by double hashing:
/// `position(i) = (h + i × (rotl(h, 32) | 1)) mod bitCount` for i in 0..<hashCount.
struct BloomFilter: Sendable, Equatable {
    static let bitsPerKey = 10
    static let hashCount = 7

    private(set) var words: [UInt64]
    let hashCount: Int

    var bitCount: Int { words.count * 64 }

    /// Sized for `keys` distinct keys (at least 64 bits).
    init(keys: Int) {
        let bits = max(64, keys * Self.bitsPerKey)
        words = Array(repeating: 0, count: (bits + 63) / 64)
        hashCount = Self.hashCount
    }

    init(words: [UInt64], hashCount: Int) {
        self.words = words
        self.hashCount = hashCount
    }

    mutating func insert(_ hash: UInt64) {
        let bits = UInt64(bitCount)
        let step = ((hash << 32) | (hash >> 32)) | 1
        var position = hash
        for _ in 0..<hashCount {
            let bit = position % bits
            words[Int(bit / 64)] |= 1 << (bit % 64)
            position &+= step
        }
    }

    func mayContain(_ hash: UInt64) -> Bool {
        let bits = UInt64(bitCount)
        let step = ((hash << 32) | (hash >> 32)) | 1
        var position = hash
        for _ in 0..<hashCount {
            let bit = position % bits
            if words[Int(bit / 64)] & (1 << (bit % 64)) == 0 { return false }
            position &+= step
        }
        return true
    }
}
