import PropertyBased
import StrataTestSupport
import Testing

@_spi(StrataInternals) @testable import StrataStorage

@Suite struct StreamKeyHashTests {
    /// The hash is part of the on-disk format: these values must never change. They were computed by an
    /// independent implementation of FORMAT.md's definition (Python, big integers masked to 64 bits).
    @Test func frozenValues() {
        #expect(StreamKeyHash.hash(PartitionKey(tenant: "t", group: "g", id: "i")) == 0x8203_0C28_D6F1_2C45)
        #expect(
            StreamKeyHash.hash(PartitionKey(tenant: "tenant-0", group: "Cart", id: "123e4567-e89b-12d3-a456-426614174000"))
                == 0x9867_573A_2E68_567F)
        #expect(StreamKeyHash.hash(PartitionKey(tenant: "ünïcode", group: "Cart", id: "cart-1")) == 0xA477_9F00_2E52_B8BE)
    }

    @Test func lengthPrefixesKeepBoundariesApart() {
        let a = PartitionKey(tenant: "ab", group: "c", id: "d")
        let b = PartitionKey(tenant: "a", group: "bc", id: "d")
        #expect(StreamKeyHash.hash(a) != StreamKeyHash.hash(b))
    }

    @Test func noCollisionsAmongManyKeys() {
        var rng = SplitMix64(seed: 11)
        var seen = Set<UInt64>()
        for i in 0..<200_000 {
            let key = PartitionKey(tenant: "tenant-\(i % 10)", group: "Cart", id: EventID.random(using: &rng).description)
            seen.insert(StreamKeyHash.hash(key))
        }
        #expect(seen.count == 200_000)
    }
}

@Suite struct IndexRunTests {
    func writeRun(_ entries: [IndexEntry], _ fs: SimulatedFileSystem, name: String = "run-1.index") throws -> String {
        if !fs.directoryExists("/idx") { try fs.createDirectory("/idx") }
        let path = "/idx/" + name
        try IndexRunFile.write(entries, firstSequence: 1, lastSequence: 1_000_000, to: path, directory: "/idx", fileSystem: fs)
        return path
    }

    /// Entries drawn from a small hash space, so many streams share hashes (forced collisions).
    static let entriesGenerator = Generator<[IndexEntry], Shrink.None<[IndexEntry]>> { rng in
        let count = Int.random(in: 0...700, using: &rng)
        let hashSpace = UInt64.random(in: 1...200, using: &rng)
        return (0..<count).map { i in
            IndexEntry(
                keyHash: UInt64.random(in: 0..<hashSpace, using: &rng) &* 0x9E37_79B9_7F4A_7C15,
                firstVersion: UInt64.random(in: 1...1_000, using: &rng), firstSequence: UInt64(i + 1),
                frameOffset: UInt64.random(in: 64...1_000_000, using: &rng),
                segmentNumber: UInt32.random(in: 1...50, using: &rng), versionCount: UInt32.random(in: 1...100, using: &rng))
        }
    }

    @Test func lookupsMatchABruteForceScan() async {
        await propertyCheck(count: 60, input: Self.entriesGenerator) { entries in
            let fs = SimulatedFileSystem()
            let path = try writeRun(entries, fs)
            let run = try IndexRunReader.open(path, fileSystem: fs)
            #expect(run.header.entryCount == UInt64(entries.count))
            #expect(try run.allEntries() == entries.sorted())
            for hash in Set(entries.map(\.keyHash)) {
                let expected = entries.filter { $0.keyHash == hash }.sorted()
                #expect(try run.entries(for: hash) == expected)
            }
            var rng = SplitMix64(seed: UInt64(entries.count))
            for _ in 0..<50 {
                let absent = rng.next() | 1  // hashes in the generator are multiples of an odd constant times small ints
                if !entries.contains(where: { $0.keyHash == absent }) {
                    #expect(try run.entries(for: absent).isEmpty)
                }
            }
        }
    }

    /// The streaming k-way merge of several runs equals sorting their union.
    @Test func streamingMergeEqualsSortedUnion() async {
        await propertyCheck(count: 30, input: Self.entriesGenerator.array(of: 1...9)) { runs in
            let fs = SimulatedFileSystem()
            var readers: [IndexRunReader] = []
            var sequence: UInt64 = 0
            var all: [IndexEntry] = []
            for (i, entries) in runs.enumerated() {
                // Distinct sequences across runs, as in a real index.
                let shifted = entries.map { entry -> IndexEntry in
                    var e = entry
                    sequence += 1
                    e.firstSequence = sequence
                    return e
                }
                all += shifted
                readers.append(try IndexRunReader.open(try writeRun(shifted, fs, name: "r\(i)"), fileSystem: fs))
            }
            let writer = try IndexRunWriter(path: "/idx/merged", directory: "/idx", fileSystem: fs, expectedKeys: all.count)
            try mergeRuns(readers, into: writer)
            try writer.finish(firstSequence: 1, lastSequence: sequence)
            let merged = try IndexRunReader.open("/idx/merged", fileSystem: fs)
            #expect(try merged.allEntries() == all.sorted())
            for hash in Set(all.map(\.keyHash)).prefix(20) {
                #expect(try merged.entries(for: hash) == all.filter { $0.keyHash == hash }.sorted())
            }
        }
    }

    @Test func filterSkipsMostAbsentKeys() throws {
        var rng = SplitMix64(seed: 5)
        let entries = (0..<10_000).map { i in
            IndexEntry(keyHash: rng.next(), firstVersion: 1, firstSequence: UInt64(i + 1), frameOffset: 64, segmentNumber: 1, versionCount: 1)
        }
        let fs = SimulatedFileSystem()
        let run = try IndexRunReader.open(try writeRun(entries, fs), fileSystem: fs)
        for entry in entries.prefix(1000) { #expect(run.mayContain(entry.keyHash)) }
        let falsePositives = (0..<10_000).filter { _ in run.mayContain(rng.next()) }.count
        #expect(falsePositives < 300, "\(falsePositives) false positives in 10,000")
    }

    @Test func emptyRunOpensAndFindsNothing() throws {
        let fs = SimulatedFileSystem()
        let run = try IndexRunReader.open(try writeRun([], fs), fileSystem: fs)
        #expect(try run.entries(for: 42).isEmpty)
        #expect(try run.allEntries().isEmpty)
    }

    func damaged(_ mutate: (inout [UInt8], IndexRunHeader) -> Void) throws -> (SimulatedFileSystem, String) {
        var rng = SplitMix64(seed: 9)
        let entries = (0..<500).map { i in
            IndexEntry(keyHash: rng.next() % 50, firstVersion: UInt64(i), firstSequence: UInt64(i + 1), frameOffset: 64, segmentNumber: 1, versionCount: 1)
        }
        let fs = SimulatedFileSystem()
        let path = try writeRun(entries, fs)
        var bytes = fs.contents(of: path)!
        let header = try bytes.withRawBytes { (raw) throws(DecodeError) in try IndexRunHeader.decode(raw) }
        mutate(&bytes, header)
        fs.setContents(of: path, to: bytes)
        return (fs, path)
    }

    @Test func truncatedRunIsDetectedOnOpen() throws {
        let (fs, path) = try damaged { bytes, _ in bytes.removeLast(7) }
        #expect(throws: StorageError.self) { _ = try IndexRunReader.open(path, fileSystem: fs) }
        do { _ = try IndexRunReader.open(path, fileSystem: fs) } catch { expectCorrupt(error, .truncated, fileContains: path) }
    }

    @Test func damagedHeaderMagicAndSections() throws {
        for (mutation, kind) in [
            ({ (b: inout [UInt8], _: IndexRunHeader) in b[20] ^= 1 }, Corruption.Kind.badChecksum),
            ({ (b: inout [UInt8], _: IndexRunHeader) in b[0] = 0 }, .badMagic),
            ({ (b: inout [UInt8], h: IndexRunHeader) in b[Int(h.blockIndexOffset) + 3] ^= 0x80 }, .badChecksum),
            ({ (b: inout [UInt8], h: IndexRunHeader) in b[Int(h.filterOffset) + 5] ^= 0x02 }, .badChecksum),
        ] as [((inout [UInt8], IndexRunHeader) -> Void, Corruption.Kind)] {
            let (fs, path) = try damaged(mutation)
            do {
                _ = try IndexRunReader.open(path, fileSystem: fs)
                Issue.record("damaged run opened")
            } catch { expectCorrupt(error, kind, fileContains: path) }
        }
    }

    @Test func damagedBlockIsReportedByTheLookupThatReadsIt() throws {
        let (fs, path) = try damaged { bytes, header in bytes[Int(header.blockOffset(2)) + 9] ^= 0x10 }
        let run = try IndexRunReader.open(path, fileSystem: fs)
        do {
            _ = try run.allEntries()
            Issue.record("damaged block read without error")
        } catch {
            expectCorrupt(error, .badChecksum, fileContains: path)
            if case .corrupt(let c) = error {
                #expect(c.offset == IndexRunHeader(entryCount: 500, firstSequence: 1, lastSequence: 1, filterWords: 1, filterHashes: 7, blockCount: 8).blockOffset(2))
            }
        }
    }

    /// Random damage to a run (bytes changed, the file cut short): opening or reading reports it — every byte is
    /// under a checksum or checked against the header — or, when the damage changed nothing a reader takes, every
    /// answer is the undamaged run's. Never other entries without a word.
    @Test func randomDamageNeverCrashes() throws {
        var rng = SplitMix64(seed: 77)
        var reported = 0
        for round in 0..<300 {
            var changed = false
            let (fs, path) = try damaged { bytes, _ in
                let before = bytes
                if round % 7 == 0 { bytes.removeLast(Int(rng.next() % UInt64(bytes.count))) }
                for _ in 0..<(1 + Int(rng.next() % 6)) {
                    guard !bytes.isEmpty else { break }
                    bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
                changed = bytes != before
            }
            let (intactFS, intactPath) = try damaged { _, _ in }
            let intact = try IndexRunReader.open(intactPath, fileSystem: intactFS)
            do {
                let run = try IndexRunReader.open(path, fileSystem: fs)
                #expect(try run.allEntries() == intact.allEntries(), "round \(round)")
                for _ in 0..<5 {
                    let hash = rng.next() % 50
                    #expect(try run.entries(for: hash) == intact.entries(for: hash), "round \(round)")
                }
                #expect(!changed, "round \(round): a changed run read back without a word")
            } catch {
                guard case .corrupt(let corruption) = error else { Issue.record("round \(round): \(error)"); continue }
                #expect(corruption.file == path, "round \(round): \(corruption)")
                reported += 1
            }
        }
        #expect(reported > 250)
    }
}
