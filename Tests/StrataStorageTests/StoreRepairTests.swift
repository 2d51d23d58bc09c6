import StrataTestSupport
import Testing

@_spi(StrataInternals) @testable import StrataStorage

/// Lost-range frames (FORMAT.md) and `StoreRepair`: damage inside a segment is replaced by a record of exactly the
/// sequences it held, every intact frame is kept, and the store reads, indexes, recovers and appends across it.
@Suite struct StoreRepairTests {
    @Test func lostRangeFramesRoundTripAndSplitAtTheFrameLimit() throws {
        let limit = UInt64(Limits.recordsPerFrameMax)
        let range = LostRange(
            firstSequence: 7, lastSequence: 6 + 2 * limit + 5, repairedMicros: -3, originalOffset: 64, originalLength: 999,
            quarantineFile: String(repeating: "é", count: 200), finding: "bad")
        let bytes = range.encodeFrames()
        var decoded: [LostRange] = []
        var offset = 0
        try bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let length = Int(loadU32LE(raw, offset))
                let frame = UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + length)])
                let header = try FrameHeader.decode(frame)
                #expect(header.kind == .lost && header.codec == .none)
                decoded.append(try LostRange.decode(frame, header: header))
                offset += length
            }
        }
        #expect(decoded.map(\.count) == [limit, limit, 5])
        #expect(decoded.first?.firstSequence == 7 && decoded.last?.lastSequence == range.lastSequence)
        // Strings past their limits are cut at a character boundary, never inside one.
        #expect(decoded[0].quarantineFile == String(repeating: "é", count: 127))
        #expect(decoded.allSatisfy { $0.repairedMicros == -3 && $0.originalLength == 999 && $0.finding == "bad" })
    }

    @Test func lostRangeDecodingIsStrict() throws {
        func frame(kind: FrameKind = .lost, codec: FrameCodec = .none, body: [UInt8]) -> [UInt8] {
            var out = ByteWriter(capacity: 64)
            body.withUnsafeBytes { raw in
                FrameHeader.encode(kind: kind, codec: codec, recordCount: 3, baseSequence: 10, rawBodyBytes: raw.count, body: raw, into: &out)
            }
            return out.bytes
        }
        func fields(_ name: [UInt8], _ finding: [UInt8], extra: [UInt8] = []) -> [UInt8] {
            var w = ByteWriter(capacity: 64)
            w.u64(1); w.u64(2); w.u64(3)
            w.u16(UInt16(name.count)); w.raw(name)
            w.u16(UInt16(finding.count)); w.raw(finding)
            return w.bytes + extra
        }
        func decode(_ bytes: [UInt8]) throws(DecodeError) -> LostRange {
            try bytes.withRawBytes { (raw) throws(DecodeError) in try LostRange.decode(raw, header: try FrameHeader.decode(raw)) }
        }
        #expect(try decode(frame(body: fields(Array("a".utf8), []))).count == 3)
        #expect(throws: DecodeError.self) { try decode(frame(body: fields(Array("a".utf8), [], extra: [0]))) }
        #expect(throws: DecodeError.self) { try decode(frame(body: fields([0xFF], []))) }
        #expect(throws: DecodeError.self) { try decode(frame(body: fields(Array("q/x".utf8), []))) }
        #expect(throws: DecodeError.self) { try decode(frame(body: Array(fields([], []).prefix(20)))) }
        // A lost range is never compressed; a frame that says otherwise is damage.
        let compressed = frame(codec: .lz4, body: fields([], []))
        #expect(throws: DecodeError.self) { try compressed.withRawBytes { (raw) throws(DecodeError) in try FrameHeader.decode(raw) } }
    }

    /// A store of 12 streams appended one small batch at a time over several 4 KiB segments.
    func damagedStore(sealedToo: Bool = true) async throws -> (fs: SimulatedFileSystem, all: [StoredRecord], lost: [ClosedRange<UInt64>], damaged: [[UInt8]]) {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, segmentBytes: 4_096)
        var versions = [UInt64](repeating: 0, count: 12)
        for round in 0..<6 {
            for stream in 0..<12 {
                let count = 1 + (stream + round) % 4
                try await store.append(sampleBatch(stream: stream, after: versions[stream], count: count, payloadBytes: 60))
                versions[stream] += UInt64(count)
            }
        }
        func frames(_ path: String) throws -> [(offset: Int64, sequences: ClosedRange<UInt64>)] {
            var frames: [(offset: Int64, sequences: ClosedRange<UInt64>)] = []
            try SegmentInspector.walk(path, fileSystem: fs) { step in
                if case .frame(let header, let offset, _) = step { frames.append((offset, header.baseSequence...header.lastSequence)) }
                return true
            }
            return frames
        }
        // Single-event appends, until the active segment holds a few frames (damage needs intact frames around it).
        // A lost-range frame is larger than such a small frame, so the rewritten active segment outgrows the old
        // checkpoint's data end: what an open must not scan from if a repair is interrupted.
        var singles = 0
        while try singles < 2 || frames(segmentPaths(fs).last!).count < 4 {
            singles += 1
            try await store.append(sampleBatch(stream: 5, after: versions[5], count: 1, payloadBytes: 30))
            versions[5] += 1
        }
        let all = try store.readRecords()
        try await store.close()
        let segments = segmentPaths(fs)
        #expect(segments.count >= 4)
        // A flipped bit in the second frame of a sealed segment, and one in the middle of the active segment.
        var lost: [ClosedRange<UInt64>] = []
        var originals: [[UInt8]] = []
        for (path, active) in [(segments[1], false), (segments.last!, true)] where active || sealedToo {
            let frames = try frames(path)
            try #require(frames.count >= 3, "damage needs intact frames on both sides")
            let target = frames[active ? frames.count - 2 : frames.count / 2]
            var bytes = try #require(fs.contents(of: path))
            bytes[Int(target.offset) + 40] ^= 0x04
            fs.setContents(of: path, to: bytes)
            originals.append(bytes)
            lost.append(target.sequences)
        }
        return (fs, all, lost, originals)
    }

    func expectRepaired(
        _ fs: SimulatedFileSystem, all: [StoredRecord], lost: [ClosedRange<UInt64>], sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let report = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs)
        #expect(report.problems.isEmpty, "\(report.problems)", sourceLocation: sourceLocation)
        #expect(report.lostRanges.map { $0.firstSequence...$0.lastSequence } == lost, sourceLocation: sourceLocation)
        let gone = Set(lost.flatMap { Array($0) })
        let kept = all.filter { !gone.contains($0.sequence) }
        #expect(report.events == kept.count, sourceLocation: sourceLocation)
        let store = try openSimulated(fs, segmentBytes: 4_096)
        #expect(try store.readRecords() == kept, "every intact event, with its sequence", sourceLocation: sourceLocation)
        // Reads by stream, through the rebuilt index: the stream's surviving events, heads where they were.
        for key in Set(all.map(\.record.key)) {
            let mine = kept.filter { $0.record.key == key }
            #expect(try store.readStreamRecords(key) == mine, "\(key)", sourceLocation: sourceLocation)
            let head = all.last { $0.record.key == key }!
            if !gone.contains(head.sequence) {
                #expect(try store.streamVersion(key) == head.version, sourceLocation: sourceLocation)
            }
        }
        // Appends continue after the last sequence, with the next version of the stream.
        let key = all[0].record.key
        let version = try store.streamVersion(key)
        _ = try await store.append([sampleRecord(stream: 0, version: version + 1, salt: 9)], expecting: [key: .exactly(version)])
        #expect(try store.readRecords(from: UInt64(all.count + 1)).map(\.sequence) == [UInt64(all.count + 1)], sourceLocation: sourceLocation)
        try await store.close()
    }

    @Test func repairKeepsEveryIntactFrameAndReadersSkipTheLostRanges() async throws {
        let (fs, all, lost, originals) = try await damagedStore()
        // A snapshot taken before the damage: it may hold events the repair loses, so it must not be used after.
        try SnapshotStore(storePath: simulatedStorePath, fileSystem: fs).write([SnapshotRecord(
            subject: .stream(all[0].record.key), projectorName: "Cart", projectorVersion: 1, codecName: "json",
            sequence: UInt64(all.count), version: 1, createdMicros: 0, state: [1, 2, 3])])
        let found = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs)
        #expect(found.problems.count >= 2, "\(found.problems)")
        let done = try await StoreRepair.repair(store: simulatedStorePath, problems: found.problems, fileSystem: fs, nowMicros: 1_000_000).map(\.description)
        #expect(done.contains { $0.hasPrefix("moved the snapshot files to quarantine/snapshots.fsck-1/") }, "\(done)")
        #expect(fs.files.filter { $0.contains("/snapshots/") }.isEmpty)
        #expect(fs.files.contains(simulatedStorePath + "/quarantine/snapshots.fsck-1/0000000001.snapshots"))
        #expect(done.filter { $0.hasPrefix("rewrote") }.count == 2, "\(done)")
        #expect(!done.contains { $0.hasPrefix("not repaired") }, "\(done)")
        // The segments as they were are in quarantine, byte for byte.
        let quarantined = fs.files.filter { $0.contains("/quarantine/") && $0.hasSuffix(".segment.fsck-1") }
        let kept = Set(quarantined.compactMap { fs.contents(of: $0) })
        #expect(kept.count == 2 && kept == Set(originals), "the damaged segments, as they were")
        #expect(!fs.fileExists(simulatedStorePath + "/REPAIRING"))
        // A rewritten segment with a lost range says so in its header: version 1 readers refuse it.
        for path in segmentPaths(fs) {
            let header = try fs.contents(of: path)!.withRawBytes { (raw) throws(DecodeError) in try SegmentHeader.decode(raw) }
            let rewritten = quarantined.contains { $0.hasSuffix(path.split(separator: "/").last! + ".fsck-1") }
            #expect(header.minReaderVersion == (rewritten ? 2 : 1))
        }
        try await expectRepaired(fs, all: all, lost: lost)

        // Recovery without the checkpoint scans the active segment through its lost range.
        try fs.remove(simulatedStorePath + "/CHECKPOINT")
        let store = try openSimulated(fs, segmentBytes: 4_096)
        #expect(store.recovery.truncation == nil)
        #expect(try store.readRecords().count == all.count - lost.reduce(0) { $0 + $1.count } + 1)
        try await store.close()
    }

    /// The repair stopped by a failed operation at every point in turn, then the machine crashes: the store
    /// refuses to open while the repair is unfinished (never cuts the log), and a second repair finishes it.
    @Test(arguments: [true, false]) func aRepairInterruptedAnywhereIsFinishedByTheNextOne(sealedToo: Bool) async throws {
        let (base, all, lost, _) = try await damagedStore(sealedToo: sealedToo)
        var step = 0
        var refusedOpens = 0
        while true {
            let fs = base.crashed(tear: .keepAll)
            let problems = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs).problems
            fs.injectFault(after: step)
            let finished = (try? await StoreRepair.repair(store: simulatedStorePath, problems: problems, fileSystem: fs)) != nil
            if finished && fs.operationCounts.values.reduce(0, +) <= step { break }
            let after = fs.crashed()
            if after.fileExists(simulatedStorePath + "/REPAIRING") {
                refusedOpens += 1
                #expect(throws: StorageError.repairInterrupted(path: simulatedStorePath)) { try openSimulated(after) }
            }
            let again = try StoreCheck.check(store: simulatedStorePath, fileSystem: after)
            if !again.problems.isEmpty {
                _ = try await StoreRepair.repair(store: simulatedStorePath, problems: again.problems, fileSystem: after).map(\.description)
            }
            try await expectRepaired(after, all: all, lost: lost)
            step += 1
        }
        #expect(step > 20, "the repair has many steps; each was interrupted once")
        #expect(refusedOpens > 10, "most interruptions leave the marker, and the store refuses to open")
    }

    /// A small closed store of three segments on the simulated file system.
    func threeSegments() async throws -> (fs: SimulatedFileSystem, segments: [String]) {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, segmentBytes: 1_024)
        for stream in 0..<9 { try await store.append(sampleBatch(stream: stream, after: 0, count: 3, payloadBytes: 60)) }
        try await store.close()
        let segments = segmentPaths(fs)
        try #require(segments.count >= 3)
        return (fs, segments)
    }

    func rename(_ fs: SimulatedFileSystem, _ path: String, base: UInt64) throws -> String {
        let name = path.split(separator: "/").last!
        let number = String(name.prefix(10))
        let base = String(base)
        let renamed = simulatedStorePath + "/" + number + "-" + String(repeating: "0", count: 20 - base.count) + base + ".segment"
        try fs.rename(path, to: renamed)
        return renamed
    }

    /// Found by FuzzRepair: a segment whose (damaged) header and name say it starts far past the previous
    /// segment's end. The repair must refuse, not rewrite the header to match the name (the store would then
    /// not open) nor record billions of lost sequences (which hung the repair).
    @Test func aNameThatDoesNotFollowThePreviousSegmentIsNotRepaired() async throws {
        let (fs, segments) = try await threeSegments()
        var bytes = try #require(fs.contents(of: segments[1]))
        bytes[30] ^= 0xFF  // header checksum now fails
        fs.setContents(of: segments[1], to: bytes)
        let renamed = try rename(fs, segments[1], base: 8_358_680_908_399_640_580)
        let problems = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs).problems
        let done = try await StoreRepair.repair(store: simulatedStorePath, problems: problems, fileSystem: fs).map(\.description)
        #expect(done.contains { $0.hasPrefix("not repaired: \(renamed.split(separator: "/").last!)") }, "\(done)")
        #expect(fs.contents(of: renamed) == bytes, "a refused repair changes nothing")
    }

    /// Found by FuzzRepair: the last segment's name says it starts billions of sequences after its damaged
    /// predecessor's frames end; recording that as lost would take forever and is certainly wrong.
    @Test func anAbsurdLostRangeIsRefused() async throws {
        let (fs, segments) = try await threeSegments()
        var bytes = try #require(fs.contents(of: segments[1]))
        bytes[100] ^= 0x01  // a frame of the middle segment
        fs.setContents(of: segments[1], to: bytes)
        _ = try rename(fs, segments[2], base: 1 << 62)
        let problems = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs).problems
        let done = try await StoreRepair.repair(store: simulatedStorePath, problems: problems, fileSystem: fs).map(\.description)
        #expect(done.contains { $0.contains("not repaired") }, "\(done)")
    }

    /// A store whose first segments are gone does not open (its streams would silently lack their first
    /// events); fsck names it, and a repair does not make it up.
    @Test func aStoreMissingItsFirstSegmentIsRefusedEverywhere() async throws {
        let (fs, segments) = try await threeSegments()
        try fs.remove(segments[0])
        #expect(throws: StorageError.self) { try openSimulated(fs) }
        let report = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs)
        #expect(report.problems.contains { $0.kind == .missingSegment && $0.detail.contains("not 1") }, "\(report.problems)")
        let done = try await StoreRepair.repair(store: simulatedStorePath, problems: report.problems, fileSystem: fs).map(\.description)
        #expect(done.contains { $0.hasPrefix("not repaired") }, "\(done)")
    }

    /// A lost range in a segment whose header says version 1 (which a version 1 reader would cut at) is named
    /// by fsck and fixed by a repair that rewrites just the header.
    @Test func aLostRangeUnderAVersionOneHeaderGetsItsHeaderRewritten() async throws {
        let (fs, all, lost, _) = try await damagedStore(sealedToo: false)
        let problems = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs).problems
        _ = try await StoreRepair.repair(store: simulatedStorePath, problems: problems, fileSystem: fs).map(\.description)
        let path = segmentPaths(fs).last!
        var bytes = try #require(fs.contents(of: path))
        var header = try bytes.withRawBytes { (raw) throws(DecodeError) in try SegmentHeader.decode(raw) }
        #expect(header.minReaderVersion == 2)
        header.formatVersion = 1
        header.minReaderVersion = 1
        bytes.replaceSubrange(0..<SegmentHeader.byteCount, with: header.encode())
        fs.setContents(of: path, to: bytes)
        let found = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs).problems
        #expect(found.map(\.kind) == [.badHeader], "\(found)")
        let done = try await StoreRepair.repair(store: simulatedStorePath, problems: found, fileSystem: fs, nowMicros: 2_000_000).map(\.description)
        #expect(done.contains { $0.hasPrefix("rewrote") && $0.contains("no event lost") }, "\(done)")
        let again = try fs.contents(of: path)!.withRawBytes { (raw) throws(DecodeError) in try SegmentHeader.decode(raw) }
        #expect(again.minReaderVersion == 2 && again.createdMicros == header.createdMicros)
        try await expectRepaired(fs, all: all, lost: lost)
    }

    /// Two repairs in the same second set aside different files: nothing in quarantine/ is ever overwritten.
    @Test func aSecondRepairInTheSameSecondOverwritesNothingInQuarantine() async throws {
        let (fs, segments) = try await threeSegments()
        for round in 0..<2 {
            var bytes = try #require(fs.contents(of: segments[1]))
            bytes[100 + round * 7] ^= 0x01
            fs.setContents(of: segments[1], to: bytes)
            let problems = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs).problems
            let done = try await StoreRepair.repair(store: simulatedStorePath, problems: problems, fileSystem: fs, nowMicros: 5_000_000).map(\.description)
            #expect(done.contains { $0.hasPrefix("rewrote") }, "\(done)")
        }
        let name = String(segments[1].split(separator: "/").last!)
        let kept = fs.files.filter { $0.contains("/quarantine/") }.map { String($0.split(separator: "/").last!) }
        #expect(kept.contains(name + ".fsck-5") && kept.contains(name + ".fsck-5-2"), "\(kept)")
        #expect(kept.contains("CHECKPOINT.fsck-5") && kept.contains("CHECKPOINT.fsck-5-2"), "\(kept)")
        #expect(try StoreCheck.check(store: simulatedStorePath, fileSystem: fs).problems.isEmpty)
    }
}
