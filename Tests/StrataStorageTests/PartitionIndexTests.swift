import PropertyBased
import StrataTestSupport
import Testing

@_spi(StrataInternals) @testable import StrataStorage

/// Compares every index-backed answer with a brute-force scan of the whole log.
func verifyIndexAgainstLog(
    _ store: LogStore, seed: UInt64 = 1, context: String = "", sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let all = try store.readRecords()
    var byStream: [PartitionKey: [StoredRecord]] = [:]
    for record in all { byStream[record.record.key, default: []].append(record) }
    var rng = SplitMix64(seed: seed)
    for (key, records) in byStream {
        #expect(records.map(\.version) == Array(1...UInt64(records.count)), "\(context): \(key) versions not dense", sourceLocation: sourceLocation)
        #expect(try store.readStreamRecords(key) == records, "\(context): stream \(key)", sourceLocation: sourceLocation)
        #expect(try store.streamVersion(key) == UInt64(records.count), "\(context): head of \(key)", sourceLocation: sourceLocation)
        #expect(try store.streamHead(key)?.lastSequence == records.last!.sequence, sourceLocation: sourceLocation)
        let from = 1 + rng.next() % UInt64(records.count)
        #expect(try store.readStreamRecords(key, from: from) == Array(records[Int(from - 1)...]), "\(context): \(key) from \(from)", sourceLocation: sourceLocation)
        let through = from + rng.next() % 3
        #expect(
            try store.readStreamRecords(key, from: from, through: through) == records.filter { $0.version >= from && $0.version <= through },
            sourceLocation: sourceLocation)
        let asOf = 1 + rng.next() % UInt64(max(all.count, 1))
        #expect(
            try store.readStreamRecords(key, asOfSequence: asOf) == records.filter { $0.sequence <= asOf },
            "\(context): \(key) as of \(asOf)", sourceLocation: sourceLocation)
    }
    #expect(try store.streamVersion(PartitionKey(tenant: "nobody", group: "g", id: "x")) == 0, sourceLocation: sourceLocation)
    #expect(try store.readStreamRecords(PartitionKey(tenant: "nobody", group: "g", id: "x")).isEmpty, sourceLocation: sourceLocation)
    // Listing, paged, per tenant and per tenant + group.
    let keys = byStream.keys.sorted(by: partitionKeyPrecedes)
    for tenant in Set(keys.map(\.tenant)) {
        for group in [nil] + Array(Set(keys.filter { $0.tenant == tenant }.map(\.group))) as [String?] {
            var listed: [StreamHead] = []
            var after: PartitionKey?
            while true {
                let page = try store.listStreams(tenant: tenant, group: group, after: after, limit: 3)
                listed += page
                guard page.count == 3 else { break }
                after = page.last!.key
            }
            let expected = keys.filter { $0.tenant == tenant && (group == nil || $0.group == group) }
            #expect(listed.map(\.key) == expected, "\(context): list \(tenant)/\(group ?? "*")", sourceLocation: sourceLocation)
            #expect(listed.map(\.version) == expected.map { UInt64(byStream[$0]!.count) }, sourceLocation: sourceLocation)
        }
    }
}

/// A weak hash: every key lands on one of three values, so most streams collide.
let weakHash = StreamKeyHash(name: "test-weak") { key in UInt64(key.id.utf8.reduce(0) { $0 &+ Int($1) } % 3) }

@Suite struct ExpectedVersionTests {
    let a = PartitionKey(tenant: "t", group: "Cart", id: "a")
    let b = PartitionKey(tenant: "t", group: "Cart", id: "b")

    func event(_ key: PartitionKey, _ n: Int = 0) -> EventRecord {
        EventRecord(key: key, typeName: "E", timestampMicros: Int64(n), payload: Array("{\"n\":\(n)}".utf8))
    }

    @Test func versionsAreAssignedPerStreamInBatchOrder() async throws {
        let store = try openSimulated(SimulatedFileSystem())
        let result = try await store.append([event(a), event(b), event(a)], expecting: [:])
        #expect(result.sequences == 1...3)
        #expect(result.versions == [a: 2, b: 1])
        #expect(try store.readRecords().map(\.version) == [1, 1, 2])
        let next = try await store.append([event(a)], expecting: [a: .exactly(2)])
        #expect(next.versions == [a: 3])
        try await store.close()
    }

    @Test func noStreamExactlyAndAny() async throws {
        let store = try openSimulated(SimulatedFileSystem())
        try await store.append([event(a)], expecting: [a: .noStream])
        await #expect(throws: StorageError.versionConflict(stream: a, expected: .noStream, actual: 1)) {
            try await store.append([event(a)], expecting: [a: .noStream])
        }
        await #expect(throws: StorageError.versionConflict(stream: a, expected: .exactly(5), actual: 1)) {
            try await store.append([event(a)], expecting: [a: .exactly(5)])
        }
        try await store.append([event(a)], expecting: [a: .exactly(1)])
        try await store.append([event(a)], expecting: [a: .any])
        #expect(try store.streamVersion(a) == 3)
        try await store.append([event(b)], expecting: [b: .exactly(0)])
        #expect(try store.streamVersion(b) == 1)
        try await store.close()
    }

    /// A conflict on one stream fails the whole batch: no stream in it is written.
    @Test func aConflictFailsTheWholeMultiStreamBatch() async throws {
        let store = try openSimulated(SimulatedFileSystem())
        try await store.append([event(a), event(b)])
        await #expect(throws: StorageError.versionConflict(stream: b, expected: .exactly(0), actual: 1)) {
            try await store.append([event(a), event(b)], expecting: [a: .exactly(1), b: .exactly(0)])
        }
        #expect(store.lastSequence == 2)
        #expect(try store.streamVersion(a) == 1)
        // A check-only expectation: b must still be at 1 for a's event to be written.
        await #expect(throws: StorageError.versionConflict(stream: b, expected: .exactly(7), actual: 1)) {
            try await store.append([event(a)], expecting: [b: .exactly(7)])
        }
        try await store.append([event(a)], expecting: [b: .exactly(1)])
        #expect(try store.streamVersion(a) == 2)
        try await store.close()
    }

    /// Many tasks race for the same stream with exact expectations: each version is won exactly once and the
    /// losers see conflicts; `.any` appenders never conflict and never duplicate a version.
    @Test func concurrentWritersOnOneStream() async throws {
        let fs = SimulatedFileSystem()
        fs.setSyncDelay(microseconds: 100)
        let store = try openSimulated(fs)
        let key = a
        let wins = try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<16 {
                group.addTask {
                    var won = 0
                    var attempts = 0
                    while won < 10 && attempts < 2_000 {
                        attempts += 1
                        let seen = try store.streamVersion(key)
                        do {
                            try await store.append([EventRecord(key: key, typeName: "E", timestampMicros: 0, payload: Array("\(worker)".utf8))], expecting: [key: .exactly(seen)])
                            won += 1
                        } catch StorageError.versionConflict {
                            continue
                        }
                    }
                    return won
                }
            }
            for worker in 0..<4 {
                group.addTask {
                    for _ in 0..<10 {
                        try await store.append([EventRecord(key: key, typeName: "A", timestampMicros: 0, payload: Array("any\(worker)".utf8))])
                    }
                    return 10
                }
            }
            return try await group.reduce(0, +)
        }
        let records = try store.readStreamRecords(key)
        #expect(records.count == wins)
        #expect(records.map(\.version) == Array(1...UInt64(wins)))
        try verifyIndexAgainstLog(store)
        try await store.close()
    }

    /// Concurrent writers on many streams, reopened: every version dense, index answers equal the log.
    @Test func concurrentWritersOnManyStreams() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, segmentBytes: 8_192)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<24 {
                group.addTask {
                    for n in 0..<15 {
                        let key = PartitionKey(tenant: "t\(worker % 3)", group: "G\(n % 2)", id: "s\((worker * 7 + n) % 11)")
                        try await store.append([EventRecord(key: key, typeName: "E", timestampMicros: 0, payload: [UInt8(n)])])
                    }
                }
            }
            try await group.waitForAll()
        }
        try verifyIndexAgainstLog(store, context: "live")
        try await store.close()
        let reopened = try openSimulated(fs, segmentBytes: 8_192)
        try verifyIndexAgainstLog(reopened, context: "reopened")
        try await reopened.close()
    }
}

@Suite struct PartitionIndexTests {
    enum Step: Sendable {
        case append([Int], [Int: Int])   // stream numbers (one record each), expected versions by stream (-1: noStream)
        case reopen
        case crash
    }

    static func key(_ n: Int) -> PartitionKey {
        PartitionKey(tenant: "tenant-\(n % 3)", group: n % 2 == 0 ? "Cart" : "Order", id: "stream-\(n)")
    }

    static let workload = Generator<[Step], Shrink.None<[Step]>> { rng in
        (0..<Int.random(in: 5...60, using: &rng)).map { _ in
            switch Int.random(in: 0..<20, using: &rng) {
            case 0: return .reopen
            case 1: return .crash
            default:
                let streams = (0..<Int.random(in: 1...6, using: &rng)).map { _ in Int.random(in: 0..<12, using: &rng) }
                return .append(streams, [:])
            }
        }
    }

    /// Randomized workloads with reopens and crashes (losing unsynced data): every index answer equals a
    /// brute-force scan, with the standard hash and with a weak one that makes most streams collide.
    @Test(arguments: [false, true])
    func indexMatchesBruteForce(weak: Bool) async {
        await propertyCheck(count: 25, input: Self.workload) { steps in
            var fs = SimulatedFileSystem()
            func open() throws -> LogStore {
                if !fs.directoryExists(simulatedStorePath) { try fs.createDirectory(simulatedStorePath) }
                var options = LogStore.Options(durability: .never, segmentBytesTarget: 1_500, fileSystem: fs)
                options.streamKeyHash = weak ? weakHash : .standard
                return try LogStore.open(at: simulatedStorePath, options: options)
            }
            var store = try open()
            for step in steps {
                switch step {
                case .append(let streams, _):
                    let records = streams.enumerated().map { i, n in
                        EventRecord(key: Self.key(n), typeName: "E\(i)", timestampMicros: Int64(i), payload: Array(repeating: UInt8(n), count: 30))
                    }
                    try await store.append(records)
                case .reopen:
                    try await store.close()
                    store = try open()
                case .crash:
                    fs = fs.crashed(tear: .dropUnsynced)
                    store = try open()
                }
                try verifyIndexAgainstLog(store, context: "\(step)")
            }
            try await store.close()
        }
    }

    func populated() async throws -> (SimulatedFileSystem, [StoredRecord]) {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, segmentBytes: 2_048)
        for i in 0..<60 {
            try await store.append((0..<3).map { j in
                EventRecord(key: Self.key((i + j) % 9), typeName: "E", timestampMicros: 0, payload: Array(repeating: 7, count: 40))
            })
        }
        let records = try store.readRecords()
        try await store.close()
        return (fs, records)
    }

    @Test func deletedIndexIsRebuiltWithTheSameAnswers() async throws {
        let (fs, records) = try await populated()
        for file in fs.files where file.hasPrefix(simulatedStorePath + "/index/") { try fs.remove(file) }
        let store = try openSimulated(fs, segmentBytes: 2_048)
        #expect(store.recovery.indexProblem != nil)
        #expect(try store.readRecords() == records)
        try verifyIndexAgainstLog(store)
        try await store.close()
        let again = try openSimulated(fs, segmentBytes: 2_048)
        #expect(again.recovery.indexProblem == nil)
        #expect(again.recovery.indexFramesScanned == 0)
        try verifyIndexAgainstLog(again)
        try await again.close()
    }

    /// Damage anywhere in an index file is found — when the file is opened (header, block index, filter) or
    /// when a lookup reads the damaged block (each block's CRC) — never answered around; the index is then
    /// rebuilt from the segments and gives the same answers as the log.
    @Test func corruptIndexFilesAreDetectedAndRebuilt() async throws {
        let (pristine, _) = try await populated()
        let indexFiles = pristine.files.filter { $0.hasPrefix(simulatedStorePath + "/index/") && !$0.hasSuffix(".tmp") }
        #expect(indexFiles.count >= 2)
        for file in indexFiles {
            for damage in 0..<3 {
                let fs = pristine.crashed(tear: .keepAll)
                var bytes = fs.contents(of: file)!
                switch damage {
                case 0: bytes[bytes.count / 2] ^= 0x20
                case 1: bytes.removeLast(bytes.count / 3)
                default: bytes[0] ^= 0xFF
                }
                fs.setContents(of: file, to: bytes)
                let store = try openSimulated(fs, segmentBytes: 2_048)
                var detected = store.recovery.indexProblem != nil
                do {
                    try verifyIndexAgainstLog(store, context: "\(file) damage \(damage), before repair")
                } catch StorageError.corrupt(let corruption) {
                    #expect(corruption.file == file, "\(corruption)")
                    detected = true
                }
                await store.waitForIndexRepair()
                try verifyIndexAgainstLog(store, context: "\(file) damage \(damage), after repair")
                // Damage in a block no lookup reads stays unnoticed until one does; every other damage is found.
                if file.hasSuffix("MANIFEST") || damage != 0 { #expect(detected, "\(file) damage \(damage) went unnoticed") }
                try await store.close()
                let reopened = try openSimulated(fs, segmentBytes: 2_048)
                try verifyIndexAgainstLog(reopened, context: "\(file) damage \(damage), reopened")
                try await reopened.close()
            }
        }
    }

    @Test func rebuildIndexGivesTheSameAnswers() async throws {
        let (fs, _) = try await populated()
        let store = try openSimulated(fs, segmentBytes: 2_048)
        try await store.rebuildIndex()
        try verifyIndexAgainstLog(store)
        try await store.append([EventRecord(key: Self.key(1), typeName: "E", timestampMicros: 0, payload: [1])])
        try verifyIndexAgainstLog(store)
        try await store.close()
        let again = try openSimulated(fs, segmentBytes: 2_048)
        #expect(again.recovery.indexProblem == nil)
        try verifyIndexAgainstLog(again)
        try await again.close()
    }

    /// Many rollovers make many runs and heads files; background merges keep their number bounded while
    /// appends and reads go on, and every answer stays equal to the log.
    @Test func backgroundMergesBoundTheFilesAndKeepAnswersExact() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, segmentBytes: 1_024)
        for i in 0..<150 {
            try await store.append((0..<2).map { j in
                EventRecord(key: Self.key((i * 3 + j) % 40), typeName: "E", timestampMicros: 0, payload: Array(repeating: UInt8(i % 200), count: 120))
            })
            if i % 25 == 0 { try verifyIndexAgainstLog(store, context: "during, after \(i)") }
        }
        store.index.waitForMerges()
        // A merge may have been scheduled by the last flush only.
        store.index.scheduleMergeIfNeeded()
        store.index.waitForMerges()
        let (runs, heads) = store.index.state.withLock { ($0.runs.count, $0.heads.count) }
        #expect(runs <= PartitionIndex.runsBeforeMerge)
        #expect(heads <= PartitionIndex.headsFilesBeforeMerge)
        #expect(store.index.lastMergeError.withLock { $0 } == nil)
        #expect(segmentPaths(fs).count > 20)
        try verifyIndexAgainstLog(store, context: "merged")
        try await store.close()
        let indexFiles = fs.files.filter { $0.hasPrefix(simulatedStorePath + "/index/") }
        #expect(indexFiles.count <= PartitionIndex.runsBeforeMerge + PartitionIndex.headsFilesBeforeMerge + 3)
        let reopened = try openSimulated(fs, segmentBytes: 1_024)
        #expect(reopened.recovery.indexProblem == nil)
        try verifyIndexAgainstLog(reopened, context: "reopened")
        try await reopened.close()
    }

    /// After a crash only the frames after the index's last flush are read again.
    @Test func crashReindexesOnlyTheTail() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, segmentBytes: 2_048)
        for i in 0..<60 {
            try await store.append([EventRecord(key: Self.key(i % 5), typeName: "E", timestampMicros: 0, payload: Array(repeating: 1, count: 60))])
        }
        let totalFrames = 60
        let crashed = fs.crashed(tear: .dropUnsynced)
        let recovered = try openSimulated(crashed, segmentBytes: 2_048)
        #expect(recovered.recovery.indexProblem == nil)
        #expect(recovered.recovery.indexFramesScanned > 0)
        #expect(recovered.recovery.indexFramesScanned < totalFrames / 2)
        try verifyIndexAgainstLog(recovered)
        try await recovered.close()
    }
}
