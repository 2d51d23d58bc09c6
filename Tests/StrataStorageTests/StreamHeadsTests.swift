import PropertyBased
import StrataTestSupport
import Testing

@_spi(StrataInternals) @testable import StrataStorage

@Suite struct StreamHeadsTests {
    static let headsGenerator = Generator<[StreamHead], Shrink.None<[StreamHead]>> { rng in
        let count = Int.random(in: 0...1_500, using: &rng)
        var seen = Set<PartitionKey>()
        var heads: [StreamHead] = []
        for _ in 0..<count {
            let key = PartitionKey(
                tenant: ["a", "acme", "b", "ünï", "z"][Int.random(in: 0..<5, using: &rng)],
                group: ["Cart", "Order", "c"][Int.random(in: 0..<3, using: &rng)],
                id: String(repeating: "x", count: Int.random(in: 0...3, using: &rng)) + "\(Int.random(in: 0...5_000, using: &rng))"
                    + (Int.random(in: 0..<20, using: &rng) == 0 ? String(repeating: "y", count: 120) : ""))
            guard seen.insert(key).inserted else { continue }
            heads.append(StreamHead(key: key, version: UInt64.random(in: 1...1_000, using: &rng), lastSequence: UInt64.random(in: 1...1_000_000, using: &rng)))
        }
        return heads
    }

    func write(_ heads: [StreamHead], _ fs: SimulatedFileSystem) throws -> String {
        if !fs.directoryExists("/idx") { try fs.createDirectory("/idx") }
        let path = "/idx/heads"
        try StreamHeadsFile.write(heads.sorted(by: { partitionKeyPrecedes($0.key, $1.key) }), coveredThrough: 99, hasher: .standard, to: path, directory: "/idx", fileSystem: fs)
        return path
    }

    @Test func lookupsAndListingsMatchABruteForceScan() async {
        await propertyCheck(count: 40, input: Self.headsGenerator) { heads in
            let fs = SimulatedFileSystem()
            let reader = try StreamHeadsReader.open(try write(heads, fs), fileSystem: fs)
            let sorted = heads.sorted(by: { partitionKeyPrecedes($0.key, $1.key) })
            #expect(reader.streamCount == UInt64(heads.count))
            #expect(reader.coveredThrough == 99)
            #expect(try reader.allHeads() == sorted)
            for head in heads.prefix(200) { #expect(try reader.head(of: head.key) == head) }
            #expect(try reader.head(of: PartitionKey(tenant: "acme", group: "Cart", id: "absent")) == nil)
            #expect(try reader.head(of: PartitionKey(tenant: "0", group: "0", id: "0")) == nil)
            #expect(try reader.head(of: PartitionKey(tenant: "zz", group: "0", id: "0")) == nil)
            for (tenant, group) in [("acme", "Cart"), ("acme", nil), ("ünï", "c"), ("z", nil), ("nobody", nil)] as [(String, String?)] {
                let expected = sorted.filter { $0.key.tenant == tenant && (group == nil || $0.key.group == group) }
                var paged: [StreamHead] = []
                var after: PartitionKey?
                while true {
                    let page = try reader.list(tenant: tenant, group: group, after: after, limit: 37)
                    paged += page
                    guard page.count == 37 else { break }
                    after = page.last!.key
                }
                #expect(paged == expected, "\(tenant)/\(group ?? "*")")
            }
        }
    }

    /// The streaming k-way merge of several files (newest wins) equals folding them pairwise in memory.
    @Test func streamingMergeEqualsInMemoryMerge() async {
        await propertyCheck(count: 25, input: Gen.int(in: 1...9), Gen<UInt64>.value(in: 0...UInt64.max)) { files, seed in
            let fs = SimulatedFileSystem()
            try fs.createDirectory("/idx")
            var rng = SplitMix64(seed: seed)
            var readers: [StreamHeadsReader] = []
            var expected: [StreamHead] = []
            for f in 0..<files {
                var keys = Set<PartitionKey>()
                for _ in 0..<Int(rng.next() % 400) {
                    keys.insert(PartitionKey(tenant: "t\(rng.next() % 3)", group: "g", id: "s\(rng.next() % 600)"))
                }
                let heads = keys.map { StreamHead(key: $0, version: UInt64(f + 1), lastSequence: rng.next() % 1_000 + 1) }
                    .sorted { partitionKeyPrecedes($0.key, $1.key) }
                try StreamHeadsFile.write(heads, coveredThrough: UInt64(f), hasher: .standard, to: "/idx/h\(f)", directory: "/idx", fileSystem: fs)
                readers.append(try StreamHeadsReader.open("/idx/h\(f)", fileSystem: fs))
                expected = PartitionIndex.mergeHeads(expected, heads)
            }
            let writer = try StreamHeadsWriter(path: "/idx/merged", directory: "/idx", fileSystem: fs, hasher: .standard, expectedStreams: 5_000)
            try mergeHeadsFiles(readers, into: writer)
            try writer.finish(coveredThrough: 9)
            let merged = try StreamHeadsReader.open("/idx/merged", fileSystem: fs)
            #expect(try merged.allHeads() == expected)
            for head in expected.prefix(50) { #expect(try merged.head(of: head.key) == head) }
        }
    }

    func readAll(_ path: String, _ fs: SimulatedFileSystem) -> Result<[StreamHead], StorageError> {
        Result { () throws(StorageError) -> [StreamHead] in
            try StreamHeadsReader.open(path, fileSystem: fs).allHeads()
        }
    }

    @Test func damageIsDetected() throws {
        var rng = SplitMix64(seed: 4)
        let heads = (0..<400).map { i in
            StreamHead(key: PartitionKey(tenant: "t", group: "g", id: "s\(i)"), version: rng.next() % 100 + 1, lastSequence: UInt64(i + 1))
        }
        for round in 0..<200 {
            let fs = SimulatedFileSystem()
            let path = try write(heads, fs)
            var bytes = fs.contents(of: path)!
            if round % 9 == 0 { bytes.removeLast(1 + Int(rng.next() % 40)) }
            bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(1 + rng.next() % 255)
            fs.setContents(of: path, to: bytes)
            // Either open or the read of the damaged block reports it; never a wrong answer without an error.
            switch readAll(path, fs) {
            case .success(let all):
                #expect(all == heads.sorted(by: { partitionKeyPrecedes($0.key, $1.key) }), "round \(round): damage went unnoticed")
            case .failure(let error):
                if case .corrupt(let c) = error { #expect(c.file == path) } else { Issue.record("\(error)") }
            }
            // Point lookups too: the right head, or damage reported.
            guard let reader = try? StreamHeadsReader.open(path, fileSystem: fs) else { continue }
            for i in stride(from: Int(rng.next() % 7), to: heads.count, by: 7) {
                do {
                    let found = try reader.head(of: heads[i].key)
                    #expect(found == heads[i], "round \(round): damage went unnoticed")
                } catch {
                    if case .corrupt(let c) = error { #expect(c.file == path) } else { Issue.record("\(error)") }
                }
            }
        }
    }

    /// A block read for a lookup is kept (checked once): looking up a stream of it again reads nothing.
    @Test func lookupsOfAHotBlockReadNoFile() throws {
        let heads = (0..<2_000).map { i in StreamHead(key: PartitionKey(tenant: "t", group: "g", id: "s\(i)"), version: 1, lastSequence: UInt64(i + 1)) }
        let fs = SimulatedFileSystem()
        let reader = try StreamHeadsReader.open(try write(heads, fs), fileSystem: fs)
        fs.resetReadCounts()
        #expect(try reader.head(of: heads[1_000].key) == heads[1_000])
        let first = fs.readCounts.values.reduce(0, +)
        #expect(first == 1)
        for _ in 0..<10 { #expect(try reader.head(of: heads[1_000].key) == heads[1_000]) }
        #expect(fs.readCounts.values.reduce(0, +) == first)
        // Every block once, then none again (2,000 streams is far fewer blocks than the cache holds).
        for head in heads { #expect(try reader.head(of: head.key) == head) }
        let all = fs.readCounts.values.reduce(0, +)
        for head in heads { #expect(try reader.head(of: head.key) == head) }
        #expect(fs.readCounts.values.reduce(0, +) == all)
        // More blocks than the cache holds: evicted blocks are read again, every answer stays right.
        let many = (0..<60_000).map { i in StreamHead(key: PartitionKey(tenant: "t", group: "g", id: "stream-\(i)"), version: UInt64(i % 9 + 1), lastSequence: UInt64(i + 1)) }
        let other = SimulatedFileSystem()
        let big = try StreamHeadsReader.open(try write(many, other), fileSystem: other)
        #expect(big.blocks.count > StreamHeadsReader.cachedBlocksMax)
        for _ in 0..<2 { for head in many where head.lastSequence % 13 == 0 { #expect(try big.head(of: head.key) == head) } }
    }
}
