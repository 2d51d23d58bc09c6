import Foundation
import PropertyBased
import StrataTestSupport
import Testing

@_spi(StrataInternals) @testable import StrataStorage

@Suite struct SnapshotStoreTests {
    static let storePath = "/store"

    static func snapshot(
        _ subject: SnapshotSubject, sequence: UInt64, version: UInt64 = 0, projector: String = "Cart",
        projectorVersion: UInt32 = 1, stateBytes: Int = 20
    ) -> SnapshotRecord {
        SnapshotRecord(
            subject: subject, projectorName: projector, projectorVersion: projectorVersion, codecName: "json",
            sequence: sequence, version: version, createdMicros: 1_795_000_000_000_000 + Int64(sequence),
            state: (0..<stateBytes).map { UInt8(truncatingIfNeeded: Int(sequence) &* 31 &+ $0) })
    }

    static func stream(_ n: Int, tenant: String = "acme") -> SnapshotSubject {
        .stream(PartitionKey(tenant: tenant, group: "Cart", id: "cart-\(n)"))
    }

    static func makeStore(_ fs: SimulatedFileSystem) throws -> SnapshotStore {
        if !fs.directoryExists(storePath) { try fs.createDirectory(storePath) }
        return try SnapshotStore(storePath: storePath, fileSystem: fs)
    }

    static func latest(_ store: SnapshotStore, _ subject: SnapshotSubject, projector: String = "Cart", maxSequence: UInt64 = .max) -> SnapshotRecord? {
        store.latest(subject, projectorName: projector, maxSequence: maxSequence) { _ in nil }.snapshot
    }

    @Test func recordsRoundTripThroughTheirEncoding() throws {
        for subject in [Self.stream(1), .projection(name: "CartsOverview", tenant: nil), .projection(name: "P", tenant: "t-1")] {
            let record = Self.snapshot(subject, sequence: 77, version: 5, stateBytes: 300)
            let bytes = try record.encode()
            #expect(try bytes.withUnsafeBytes { try SnapshotRecord.decode($0) } == record)
        }
    }

    @Test func theLatestSnapshotIsFoundPerSubjectAndBound() throws {
        let fs = SimulatedFileSystem()
        let store = try Self.makeStore(fs)
        try store.write([Self.snapshot(Self.stream(1), sequence: 10, version: 3), Self.snapshot(Self.stream(2), sequence: 12)])
        try store.write([Self.snapshot(Self.stream(1), sequence: 40, version: 9), Self.snapshot(.projection(name: "Overview", tenant: nil), sequence: 41, projector: "Overview")])
        #expect(Self.latest(store, Self.stream(1))?.sequence == 40)
        #expect(Self.latest(store, Self.stream(1), maxSequence: 39)?.sequence == 10)
        #expect(Self.latest(store, Self.stream(1), maxSequence: 9) == nil)
        #expect(Self.latest(store, Self.stream(2))?.sequence == 12)
        #expect(Self.latest(store, Self.stream(3)) == nil)
        #expect(Self.latest(store, Self.stream(1), projector: "Other") == nil)
        #expect(Self.latest(store, .projection(name: "Overview", tenant: nil), projector: "Overview")?.sequence == 41)
        #expect(Self.latest(store, .projection(name: "Overview", tenant: "acme"), projector: "Overview") == nil)
        // Reopened: the same.
        let reopened = try Self.makeStore(fs)
        #expect(reopened.fileCount == 2)
        #expect(Self.latest(reopened, Self.stream(1)) == Self.snapshot(Self.stream(1), sequence: 40, version: 9))
    }

    @Test func aRefusedSnapshotFallsBackToAnOlderOneAndSaysWhy() throws {
        let fs = SimulatedFileSystem()
        let store = try Self.makeStore(fs)
        try store.write([Self.snapshot(Self.stream(1), sequence: 10, projectorVersion: 1)])
        try store.write([Self.snapshot(Self.stream(1), sequence: 20, projectorVersion: 2)])
        let lookup = store.latest(Self.stream(1), projectorName: "Cart") {
            $0.projectorVersion == 1 ? nil : .projectorVersion(found: $0.projectorVersion, expected: 1)
        }
        #expect(lookup.snapshot?.sequence == 10)
        #expect(lookup.ignored.map(\.reason) == [.projectorVersion(found: 2, expected: 1)] && lookup.ignored[0].position == "20")
    }

    @Test func aDamagedSnapshotIsPassedOverAndADamagedFileSkipped() throws {
        let fs = SimulatedFileSystem()
        let store = try Self.makeStore(fs)
        try store.write([Self.snapshot(Self.stream(1), sequence: 10)])
        try store.write([Self.snapshot(Self.stream(1), sequence: 20, stateBytes: 100), Self.snapshot(Self.stream(2), sequence: 21)])
        let newest = fs.files.filter { $0.hasSuffix(".snapshots") }.max()!
        var bytes = fs.contents(of: newest)!
        bytes[SnapshotFileHeader.byteCount + 80] ^= 0x10  // inside the first record's state
        fs.setContents(of: newest, to: bytes)
        let reopened = try Self.makeStore(fs)
        let lookup = reopened.latest(Self.stream(1), projectorName: "Cart") { _ in nil }
        #expect(lookup.snapshot?.sequence == 10)
        guard case .unreadable(let error as StorageError)? = lookup.ignored.first?.reason, case .corrupt(let damage) = error, lookup.ignored.count == 1 else {
            Issue.record("\(lookup.ignored)")
            return
        }
        #expect(damage.kind == .badChecksum && damage.file == newest, "\(damage)")
        #expect(Self.latest(reopened, Self.stream(2))?.sequence == 21)
        // A damaged header: the file is skipped on open, named with the reason.
        bytes[20] ^= 0x01
        fs.setContents(of: newest, to: bytes)
        let again = try Self.makeStore(fs)
        #expect(again.fileCount == 1)
        #expect(again.skippedFiles.map(\.file) == [newest] && again.skippedFiles[0].kind == .badChecksum)
        #expect(Self.latest(again, Self.stream(2)) == nil)
        // Cut short: skipped too (the header's sizes do not match the file).
        fs.setContents(of: newest, to: Array(fs.contents(of: newest)!.dropLast(3)))
        #expect(try Self.makeStore(fs).skippedFiles.map(\.kind) == [.badChecksum])
        var intact = bytes
        intact[20] ^= 0x01
        fs.setContents(of: newest, to: Array(intact.dropLast(3)))
        #expect(try Self.makeStore(fs).skippedFiles.map(\.kind) == [.truncated])
    }

    /// Index entries with valid checksums but hostile offsets (past the records, near 2⁶⁴): reported, no trap.
    @Test func hostileIndexOffsetsWithValidChecksumsAreRefused() throws {
        for hostile: UInt64 in [.max, .max - 16, 1 << 63, 0, 63, 10_000] {
            let fs = SimulatedFileSystem()
            let store = try Self.makeStore(fs)
            try store.write([Self.snapshot(Self.stream(1), sequence: 5)])
            let path = fs.files.first { $0.hasSuffix(".snapshots") }!
            var bytes = fs.contents(of: path)!
            let indexOffset = Int(bytes.withUnsafeBytes { loadU64LE($0, 48) })
            withUnsafeBytes(of: hostile.littleEndian) { bytes.replaceSubrange((indexOffset + 16)..<(indexOffset + 24), with: $0) }
            let crc = CRC32C.mask(bytes[indexOffset..<(indexOffset + 24)].withUnsafeBytes { CRC32C.checksum($0) })
            withUnsafeBytes(of: crc.littleEndian) { bytes.replaceSubrange((indexOffset + 24)..<(indexOffset + 28), with: $0) }
            fs.setContents(of: path, to: bytes)
            let lookup = try Self.makeStore(fs).latest(Self.stream(1), projectorName: "Cart") { _ in nil }
            #expect(lookup.snapshot == nil && lookup.ignored.count == 1, "offset \(hostile): \(lookup.ignored)")
        }
    }

    /// Hostile bytes where a snapshot file should be: never a crash, never an allocation past the file's size.
    @Test func garbageFilesNeverCrashTheOpenOrALookup() throws {
        let fs = SimulatedFileSystem()
        let store = try Self.makeStore(fs)
        try store.write((1...20).map { Self.snapshot(Self.stream($0), sequence: UInt64($0) * 3) })
        let path = fs.files.first { $0.hasSuffix(".snapshots") }!
        let good = fs.contents(of: path)!
        var rng = SplitMix64(seed: 7)
        for round in 0..<300 {
            var bytes = good
            for _ in 0..<(1 + round % 4) {
                let at = Int(rng.next() % UInt64(bytes.count))
                bytes[at] = UInt8(truncatingIfNeeded: rng.next())
            }
            if round % 5 == 0 { bytes.removeLast(Int(rng.next() % UInt64(bytes.count))) }
            fs.setContents(of: path, to: bytes)
            let opened = try Self.makeStore(fs)
            for n in 1...20 {
                if let found = Self.latest(opened, Self.stream(n)) {
                    #expect(found == Self.snapshot(Self.stream(n), sequence: UInt64(n) * 3))
                }
            }
        }
    }

    @Test func writingPastTheFileLimitMergesAndDropsSupersededSnapshots() throws {
        let fs = SimulatedFileSystem()
        let store = try Self.makeStore(fs)
        for round in 1...SnapshotStore.filesMax {
            try store.write((1...5).map { Self.snapshot(Self.stream($0), sequence: UInt64(round * 10 + $0)) })
        }
        #expect(store.fileCount == SnapshotStore.filesMax)
        #expect(store.snapshotCount == UInt64(5 * SnapshotStore.filesMax))
        try store.write([Self.snapshot(Self.stream(1), sequence: 100), Self.snapshot(Self.stream(9), sequence: 101)])
        #expect(store.fileCount == 1)
        #expect(store.snapshotCount == 6)
        #expect(fs.files.filter { $0.hasSuffix(".snapshots") }.count == 1)
        #expect(Self.latest(store, Self.stream(1))?.sequence == 100)
        #expect(Self.latest(store, Self.stream(2))?.sequence == UInt64(SnapshotStore.filesMax * 10 + 2))
        #expect(Self.latest(store, Self.stream(2), maxSequence: 30) == nil)  // superseded: dropped
        let reopened = try Self.makeStore(fs)
        #expect(reopened.snapshotCount == 6)
        #expect(Self.latest(reopened, Self.stream(9))?.sequence == 101)
    }

    /// Size-tiered: small new files are merged among themselves while together they are smaller than the big old
    /// file, which is rewritten only once they have grown as large; lookups stay right throughout.
    @Test func mergesLeaveALargeOldFileAloneUntilTheNewerOnesAreAsLarge() throws {
        let fs = SimulatedFileSystem()
        let store = try Self.makeStore(fs)
        try store.write((1...200).map { Self.snapshot(Self.stream($0), sequence: UInt64($0), stateBytes: 100) })
        let big = fs.files.first { $0.hasSuffix(".snapshots") }!
        var sequence: UInt64 = 1_000
        var latest: [Int: UInt64] = Dictionary(uniqueKeysWithValues: (1...200).map { ($0, UInt64($0)) })
        var rewritten = false
        for round in 0..<400 {
            // An update of an old subject (superseding its snapshot in the big file) and a new subject.
            let n = 1 + round % 7
            latest[n] = sequence + 1
            latest[1_000 + round] = sequence + 2
            try store.write([
                Self.snapshot(Self.stream(n), sequence: sequence + 1, stateBytes: 100),
                Self.snapshot(Self.stream(1_000 + round), sequence: sequence + 2, stateBytes: 100),
            ])
            sequence += 2
            #expect(store.fileCount <= SnapshotStore.filesMax)
            if !fs.fileExists(big) {
                rewritten = true
                #expect(round > 100, "the big file was rewritten after \(round) small writes")
                #expect(store.snapshotCount == UInt64(latest.count), "the full merge dropped every superseded snapshot")
                break
            }
        }
        #expect(rewritten)
        for (n, expected) in latest { #expect(Self.latest(store, Self.stream(n))?.sequence == expected) }
        let reopened = try Self.makeStore(fs)
        for (n, expected) in latest { #expect(Self.latest(reopened, Self.stream(n))?.sequence == expected) }
    }

    /// A fault at every mutating step of a write and of a merge, then a crash: the store reopens with each
    /// subject's latest snapshot from before the write, or from after it — never nothing, never a damaged one.
    @Test func aCrashAtAnyStepOfAWriteOrMergeLeavesTheOldOrTheNewSnapshots() throws {
        func prepare() throws -> SimulatedFileSystem {
            let fs = SimulatedFileSystem()
            let store = try Self.makeStore(fs)
            for round in 1...SnapshotStore.filesMax {
                try store.write([Self.snapshot(Self.stream(1), sequence: UInt64(round)), Self.snapshot(Self.stream(round + 1), sequence: UInt64(round))])
            }
            return fs
        }
        let before: [Int: UInt64] = [1: 4, 2: 1, 3: 2, 4: 3, 5: 4]
        var step = 0
        while true {
            let fs = try prepare()
            let store = try Self.makeStore(fs)
            fs.injectFault(after: step)
            let failed = (try? store.write([Self.snapshot(Self.stream(1), sequence: 50)])) == nil
            for tear in [SimulatedFileSystem.Tear.dropUnsynced, .keepAll] {
                let reopened = try Self.makeStore(fs.crashed(tear: tear))
                #expect(reopened.skippedFiles.isEmpty)
                let one = Self.latest(reopened, Self.stream(1))?.sequence
                #expect(one == 4 || one == 50, "step \(step): stream 1 at \(String(describing: one))")
                for n in 2...5 { #expect(Self.latest(reopened, Self.stream(n))?.sequence == before[n], "step \(step), stream \(n)") }
            }
            if !failed { break }
            step += 1
        }
        #expect(step > 5)
    }

    /// Random writes (and merges), checked against a model of what must be found.
    @Test func lookupsMatchAModelOfTheWrites() async {
        let write = Gen.int(in: 0...7).array(of: 1...6)
        await propertyCheck(count: 40, input: write.array(of: 1...12), Gen<UInt64>.value(in: 0...200)) { writes, bound in
            let fs = SimulatedFileSystem()
            let store = try Self.makeStore(fs)
            var model: [Int: [UInt64]] = [:]
            var sequence: UInt64 = 0
            for streams in writes {
                var batch: [SnapshotRecord] = []
                for n in Set(streams) {
                    sequence += 1
                    batch.append(Self.snapshot(Self.stream(n), sequence: sequence))
                    model[n, default: []].append(sequence)
                }
                try store.write(batch)
            }
            let merged = store.fileCount < writes.count
            let reopened = try Self.makeStore(fs)
            for n in 0...7 {
                let all = model[n] ?? []
                #expect(Self.latest(reopened, Self.stream(n))?.sequence == all.last)
                // A bound finds the latest at or before it, unless a merge dropped it (superseded).
                let bounded = Self.latest(reopened, Self.stream(n), maxSequence: bound)?.sequence
                if let bounded { #expect(all.contains(bounded) && bounded <= bound && !all.contains { $0 > bounded && $0 <= bound }) }
                else if !merged { #expect(!all.contains { $0 <= bound }) }
            }
        }
    }

    @Test func invalidSnapshotsAreRefusedBeforeAnythingIsWritten() throws {
        let fs = SimulatedFileSystem()
        let store = try Self.makeStore(fs)
        var bad = Self.snapshot(Self.stream(1), sequence: 1)
        bad.projectorName = ""
        #expect(throws: StorageError.self) { try store.write([Self.snapshot(Self.stream(2), sequence: 2), bad]) }
        bad = Self.snapshot(.projection(name: String(repeating: "p", count: 129), tenant: nil), sequence: 1)
        #expect(throws: StorageError.self) { try store.write([bad]) }
        #expect(store.fileCount == 0)
        #expect(!fs.files.contains { $0.contains("snapshots/") })
    }
}
