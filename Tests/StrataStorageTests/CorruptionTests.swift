import StrataTestSupport
import Testing

@_spi(StrataInternals) @testable import StrataStorage

/// Damaged or hostile files give typed errors naming the file and offset: never a crash, a hang or an
/// unbounded allocation.
@Suite struct CorruptionTests {
    /// A closed store with three segments; returns the file system and the segment paths.
    func makeStore() async throws -> (SimulatedFileSystem, [String]) {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, segmentBytes: 2_048)
        for i in 0..<30 { try await store.append(sampleBatch(stream: i, after: 0, count: 3, payloadBytes: 100)) }
        try await store.close()
        let segments = segmentPaths(fs)
        #expect(segments.count >= 3)
        return (fs, segments)
    }

    func patch(_ fs: SimulatedFileSystem, _ path: String, _ body: (inout [UInt8]) -> Void) {
        var bytes = fs.contents(of: path)!
        body(&bytes)
        fs.setContents(of: path, to: bytes)
    }

    func openError(_ fs: SimulatedFileSystem) -> (any Error)? {
        do {
            _ = try openSimulated(fs, segmentBytes: 2_048)
            return nil
        } catch { return error }
    }

    func readError(_ fs: SimulatedFileSystem) -> (any Error)? {
        do {
            let store = try openSimulated(fs, segmentBytes: 2_048)
            _ = try store.readRecords()
            return nil
        } catch { return error }
    }

    @Test func wrongMagicInASegmentHeader() async throws {
        let (fs, segments) = try await makeStore()
        try fs.remove(simulatedStorePath + "/CHECKPOINT")  // force verification of every segment
        patch(fs, segments[0]) { $0[0] = UInt8(ascii: "X") }
        let error = try #require(openError(fs))
        expectCorrupt(error, .badMagic, fileContains: "0000000001-")
        if case .corrupt(let c) = error as? StorageError { #expect(c.offset == 0) }
    }

    @Test func unknownFormatVersion() async throws {
        let (fs, segments) = try await makeStore()
        try fs.remove(simulatedStorePath + "/CHECKPOINT")
        patch(fs, segments[1]) { bytes in
            bytes[10] = 99  // minReaderVersion
            let crc = CRC32C.mask(CRC32C.checksum(Array(bytes[0..<60])))
            withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { bytes[60 + i] = $0[i] } }
        }
        let error = try #require(openError(fs))
        expectCorrupt(error, .unsupportedVersion, fileContains: "0000000002-")
    }

    @Test func truncatedSegmentHeader() async throws {
        let (fs, segments) = try await makeStore()
        try fs.remove(simulatedStorePath + "/CHECKPOINT")
        let last = segments.last!
        patch(fs, last) { $0 = Array($0.prefix(10)) }
        let error = try #require(openError(fs))
        expectCorrupt(error, .truncated, fileContains: last)
    }

    @Test func damagedFooterOfASealedSegment() async throws {
        let (fs, segments) = try await makeStore()
        try fs.remove(simulatedStorePath + "/CHECKPOINT")
        patch(fs, segments[0]) { $0[$0.count - 10] ^= 0xFF }
        let error = try #require(openError(fs))
        expectCorrupt(error, .badFooter, fileContains: "0000000001-")
    }

    @Test func flippedBitInACommittedFrameIsABadChecksumOnRead() async throws {
        let (fs, segments) = try await makeStore()
        patch(fs, segments[0]) { $0[SegmentHeader.byteCount + 40] ^= 0x01 }
        let error = try #require(readError(fs))
        expectCorrupt(error, .badChecksum, fileContains: "0000000001-")
    }

    /// A stream read through the index reports the damage the scanner finds in the frame the index names — its
    /// kind, file and offset, and the repair — not an index problem: the index is right, and rebuilding it would
    /// not help (none is scheduled).
    @Test func aStreamReadReportsTheDamageInTheFrameItReads() async throws {
        let (fs, segments) = try await makeStore()
        var frames: [(offset: Int64, header: FrameHeader)] = []
        try SegmentInspector.walk(segments[1], fileSystem: fs) { step in
            if case .frame(let header, let offset, _) = step { frames.append((offset, header)) }
            return true
        }
        let target = frames[1]
        patch(fs, segments[1]) { $0[Int(target.offset) + 50] ^= 0x01 }
        let store = try openSimulated(fs, segmentBytes: 2_048)
        let records = try store.readRecords(limit: Int(target.header.baseSequence) - 1)
        let stream = PartitionKey(tenant: "t\((Int(target.header.baseSequence) - 1) / 3 % 3)", group: "Cart", id: "s\((Int(target.header.baseSequence) - 1) / 3)")
        #expect(records.isEmpty == false)
        do {
            _ = try store.readStreamRecords(stream)
            Issue.record("read a damaged frame")
        } catch let error as StorageError {
            guard case .corrupt(let corruption) = error else { Issue.record("\(error)"); return }
            #expect(corruption.kind == .badChecksum && corruption.file == segments[1] && (target.offset..<target.offset + 36).contains(corruption.offset), "\(corruption)")
            #expect(error.description.contains("strata fsck --repair /store"), "\(error)")
            #expect(!error.description.contains("rebuild"), "\(error)")
        }
        let scheduled = store.index.repairScheduled.load(ordering: .acquiring)
        #expect(!scheduled && store.index.lastRepairReason.withLock { $0 } == nil)
        try await store.close()
    }

    @Test(arguments: [UInt32(0xFFFF_FFF0), UInt32(Limits.frameBytesMax + 1), 5])
    func absurdFrameLengthIsRejectedBeforeAllocating(length: UInt32) async throws {
        let (fs, segments) = try await makeStore()
        patch(fs, segments[1]) { bytes in
            withUnsafeBytes(of: length.littleEndian) { for i in 0..<4 { bytes[SegmentHeader.byteCount + i] = $0[i] } }
        }
        let error = try #require(readError(fs))
        expectCorrupt(error, .badLength, fileContains: "0000000002-")
        if case .corrupt(let c) = error as? StorageError { #expect(c.offset == Int64(SegmentHeader.byteCount)) }
    }

    @Test func frameLengthPastTheEndOfTheFile() async throws {
        let (fs, segments) = try await makeStore()
        patch(fs, segments[1]) { bytes in
            let length = UInt32(bytes.count * 2)
            withUnsafeBytes(of: length.littleEndian) { for i in 0..<4 { bytes[SegmentHeader.byteCount + i] = $0[i] } }
        }
        let error = try #require(readError(fs))
        expectCorrupt(error, .truncated, fileContains: "0000000002-")
    }

    @Test func committedDataMissingFromTheLastSegment() async throws {
        let (fs, segments) = try await makeStore()
        patch(fs, segments.last!) { $0.removeLast(10) }
        let error = try #require(openError(fs))
        expectCorrupt(error, .truncated, fileContains: segments.last!)
    }

    @Test func missingMiddleSegment() async throws {
        let (fs, segments) = try await makeStore()
        try fs.remove(segments[1])
        let error = try #require(openError(fs))
        expectCorrupt(error, .missingSegment, fileContains: "0000000003-")
    }

    @Test func damagedCheckpointIsIgnoredAndEverythingVerified() async throws {
        let (fs, _) = try await makeStore()
        patch(fs, simulatedStorePath + "/CHECKPOINT") { $0[20] ^= 0x40 }
        let store = try openSimulated(fs, segmentBytes: 2_048)
        #expect(store.recovery.checkpointProblem != nil)
        #expect(!store.recovery.usedCheckpoint)
        #expect(store.lastSequence == 90)
        #expect(try store.readRecords().count == 90)
        try await store.close()
        let again = try openSimulated(fs, segmentBytes: 2_048)
        #expect(again.recovery.usedCheckpoint)
        try await again.close()
    }

    /// Whole segment files of random bytes, or valid segments with random damage: open and read never crash, and the
    /// damage is reported — open or a read throws a typed error naming the file, or recovery cut a torn tail (and
    /// says so in its report) and what remains is the log as it was up to the cut, or the damage did not touch any
    /// byte a reader takes (then everything reads back exactly). Never different events without a word.
    @Test func randomDamageNeverCrashes() async throws {
        let (pristine, segments) = try await makeStore()
        let original = try openSimulated(pristine.crashed(tear: .keepAll), segmentBytes: 2_048).readRecords()
        var rng = SplitMix64(seed: 0x5EED)
        var outcomes: [String: Int] = [:]
        for round in 0..<200 {
            let fs = pristine.crashed(tear: .keepAll)
            if round % 3 == 0 { try fs.remove(simulatedStorePath + "/CHECKPOINT") }
            let target = segments[Int(rng.next() % UInt64(segments.count))]
            let before = fs.contents(of: target)!
            patch(fs, target) { bytes in
                if round % 10 == 0 {
                    bytes = (0..<Int(rng.next() % 4096)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                } else {
                    for _ in 0..<(1 + Int(rng.next() % 8)) {
                        bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
                    }
                }
            }
            let changed = fs.contents(of: target)! != before
            do {
                let store = try openSimulated(fs, segmentBytes: 2_048)
                let records = try store.readRecords()
                if let cut = store.recovery.truncation {
                    #expect(cut.file == target && records == Array(original.prefix(records.count)), "round \(round): \(cut)")
                    outcomes["cut", default: 0] += 1
                } else {
                    #expect(records == original, "round \(round): damage in \(target) read back as other events")
                    outcomes[changed ? "unread bytes" : "unchanged", default: 0] += 1
                }
            } catch let error as StorageError {
                switch error {
                case .corrupt(let c), .damagedLog(let c, _):
                    #expect(c.file.hasPrefix(simulatedStorePath), "round \(round): \(c)")
                    outcomes["reported", default: 0] += 1
                default:
                    Issue.record("round \(round): \(error)")
                }
            }
        }
        #expect(outcomes["reported", default: 0] > 100, "\(outcomes)")
    }
}
