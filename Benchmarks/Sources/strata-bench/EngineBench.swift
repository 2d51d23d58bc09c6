import ArgumentParser
import StrataStorage
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

@main
struct StrataBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata-bench",
        abstract: "Strata benchmarks (see BENCHMARKS.md).",
        subcommands: [Engine.self, Index.self])
}

/// Engine-level append figures: sequential durable 100-event appends (P1's unit), the same with up to 64 in
/// flight (P1p), 64 concurrent single-event appenders (group commit), and the disk limit measured the same way
/// (same bytes, same number of writes and fdatasync calls, from a plain loop).
struct Engine: AsyncParsableCommand {
    @Option(help: "Folder for the stores (on the disk under test).")
    var directory: String = "bench-out"

    @Option(help: "Events for the sequential and pipelined runs.")
    var events: Int = 100_000

    @Option(help: "Commits for the concurrent single-event run.")
    var commits: Int = 20_000

    @Option(help: "Stream loads for P3.")
    var loads: Int = 20_000

    func run() async throws {
        let fs = PosixFileSystem()
        try fs.createDirectory(directory)
        say("workload                                      | figure")
        say("----------------------------------------------|------------------------------------------")

        // 1. Sequential: each append = 100 events of one stream, awaited before the next.
        var data = CartsData(streamCount: 10_000)
        let batches = (0..<(events / 100)).map { _ in data.batch(count: 100) }
        let rawBytes = batches.reduce(0) { $0 + $1.reduce(0) { $0 + $1.payload.count } }
        let seqPath = fresh(directory + "/sequential")
        let clock = ContinuousClock()
        var start = clock.now
        var (elapsed, seqStats) = try await appendSequentially(batches, path: seqPath, durability: .always)
        let seqRate = Double(events) / elapsed
        row("sequential durable, 100-event appends", "\(int(seqRate)) events/s, \(seqStats.syncs) fdatasyncs, \(f1(Double(seqStats.bytesWritten) / elapsed / 1e6)) MB/s stored")
        row("  stored bytes per payload byte", f2(Double(seqStats.bytesWritten) / Double(rawBytes)))

        // 1a. The SQLite baseline on the same batches (synchronous=FULL, one transaction per append).
        let sqlitePath = directory + "/sqlite-p1.db"
        for suffix in ["", "-wal", "-shm"] { unlink(sqlitePath + suffix) }
        let sqlite = try SQLiteBaseline(path: sqlitePath)
        start = clock.now
        for batch in batches { try sqlite.append(batch) }
        let sqliteElapsed = seconds(clock.now - start)
        let sqliteRate = Double(events) / sqliteElapsed
        row("SQLite, same appends (WAL, synchronous=FULL)", "\(int(sqliteRate)) events/s")
        row("  P1 ratio Strata / SQLite", f2(seqRate / sqliteRate))

        // P3 (engine level): load a stream of exactly 100 events (payload bytes touched, not decoded), random
        // among the streams P1 gave one append, from both stores.
        var appendsPerStream: [PartitionKey: Int] = [:]
        for batch in batches { appendsPerStream[batch[0].key, default: 0] += 1 }
        let keys = appendsPerStream.filter { $0.value == 1 }.map(\.key).sorted(by: partitionKeyPrecedes)
        let strataStore = try LogStore.open(at: seqPath, options: LogStore.Options(createIfMissing: false))
        var rng = SplitMix64(seed: 3)
        var strataLatencies: [Double] = []
        var strataEvents = 0
        for _ in 0..<loads {
            let key = keys[Int(rng.next() % UInt64(keys.count))]
            let t0 = ContinuousClock.now
            var bytes = 0
            strataEvents += try strataStore.readStream(key) { bytes &+= $0.payload.count }
            strataLatencies.append(seconds(ContinuousClock.now - t0) * 1e6)
        }
        try await strataStore.close()
        rng = SplitMix64(seed: 3)
        var sqliteLatencies: [Double] = []
        var sqliteEvents = 0
        for _ in 0..<loads {
            let key = keys[Int(rng.next() % UInt64(keys.count))]
            let t0 = ContinuousClock.now
            sqliteEvents += try sqlite.loadStream(key)
            sqliteLatencies.append(seconds(ContinuousClock.now - t0) * 1e6)
        }
        for suffix in ["", "-wal", "-shm"] { unlink(sqlitePath + suffix) }
        strataLatencies.sort()
        sqliteLatencies.sort()
        func percentiles(_ l: [Double]) -> String {
            "p50 \(f1(l[l.count / 2])) µs, p99 \(f1(l[l.count * 99 / 100])) µs, p999 \(f1(l[l.count * 999 / 1000])) µs"
        }
        row("P3 load stream (\(strataEvents / loads) events avg)", percentiles(strataLatencies))
        row("  SQLite, same loads (\(sqliteEvents / loads) events avg)", percentiles(sqliteLatencies))
        row("  P3 p50 ratio SQLite / Strata", f2(sqliteLatencies[loads / 2] / strataLatencies[loads / 2]))

        // 1b. The same without fdatasync: the CPU cost of the commit path.
        let nosyncPath = fresh(directory + "/nosync")
        (elapsed, _) = try await appendSequentially(batches, path: nosyncPath, durability: .never)
        removeTree(nosyncPath)
        row("sequential, no fdatasync (CPU bound)", "\(int(Double(events) / elapsed)) events/s, \(int(elapsed / Double(batches.count) * 1e6)) µs per append")

        // 1c. Fixed cost of one append: single-event appends without fdatasync.
        let tinyPath = fresh(directory + "/tiny")
        let tinyBatches = batches.prefix(100).flatMap { $0 }.map { [$0] }
        (elapsed, _) = try await appendSequentially(tinyBatches, path: tinyPath, durability: .never)
        removeTree(tinyPath)
        row("single-event appends, no fdatasync", "\(int(elapsed / Double(tinyBatches.count) * 1e6)) µs per append")

        // 2. Disk limit: the same stored bytes, same number of writes and fdatasyncs, from a plain loop.
        let frameBytes = seqStats.bytesWritten / max(seqStats.frames, 1)
        let limitRate = try diskLimit(path: directory + "/disk-limit", writes: seqStats.frames, bytesPerWrite: frameBytes, eventsPerWrite: 100)
        row("disk limit (plain write+fdatasync loop)", "\(int(limitRate)) events/s")
        row("  sequential / disk limit", f2(seqRate / limitRate))

        // 3. Pipelined: up to 64 appends of 100 events in flight.
        let pipePath = fresh(directory + "/pipelined")
        let pipeStore = try LogStore.open(at: pipePath)
        start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            let next = SharedCounter()
            for _ in 0..<64 {
                group.addTask {
                    while true {
                        let i = next.take()
                        if i >= batches.count { return }
                        try await pipeStore.append(batches[i])
                    }
                }
            }
            try await group.waitForAll()
        }
        elapsed = seconds(clock.now - start)
        let pipeStats = pipeStore.statistics
        try await pipeStore.close()
        row("pipelined durable, 64 x 100-event appends", "\(int(Double(events) / elapsed)) events/s, \(f1(Double(pipeStats.frames) / Double(pipeStats.syncs))) appends per fdatasync")
        row("  P1p ratio to SQLite's P1", f2(Double(events) / elapsed / sqliteRate))

        // 4. 64 concurrent single-event appenders (the commit shape of P2, without loading aggregates).
        var singles = CartsData(streamCount: 10_000, seed: 7)
        let singleEvents = (0..<commits).map { _ in singles.batch(count: 1) }
        let concPath = fresh(directory + "/concurrent")
        let concStore = try LogStore.open(at: concPath)
        let latencies = SharedLatencies()
        start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            let next = SharedCounter()
            for _ in 0..<64 {
                group.addTask {
                    var mine: [Double] = []
                    while true {
                        let i = next.take()
                        if i >= singleEvents.count { break }
                        let t0 = ContinuousClock.now
                        try await concStore.append(singleEvents[i])
                        mine.append(seconds(ContinuousClock.now - t0) * 1e6)
                    }
                    let collected = mine
                    latencies.values.withLock { $0 += collected }
                }
            }
            try await group.waitForAll()
        }
        elapsed = seconds(clock.now - start)
        let concStats = concStore.statistics
        try await concStore.close()
        let sorted = latencies.values.withLock { $0 }.sorted()
        row("64 concurrent single-event appenders", "\(int(Double(commits) / elapsed)) commits/s, \(f1(Double(concStats.frames) / Double(concStats.syncs))) commits per fdatasync")
        row("  commit latency", "p50 \(int(sorted[sorted.count / 2])) µs, p99 \(int(sorted[sorted.count * 99 / 100])) µs")
        for path in [seqPath, pipePath, concPath, directory + "/disk-limit"] { removeTree(path) }
    }

    /// Appends each batch and awaits it before the next; returns seconds and the store's counters.
    func appendSequentially(
        _ batches: [[EventRecord]], path: String, durability: LogStore.Durability
    ) async throws -> (Double, LogStore.Statistics) {
        let store = try LogStore.open(at: path, options: LogStore.Options(durability: durability))
        let start = ContinuousClock.now
        for batch in batches { try await store.append(batch) }
        let elapsed = seconds(ContinuousClock.now - start)
        let statistics = store.statistics
        try await store.close()
        return (elapsed, statistics)
    }

    func diskLimit(path: String, writes: Int, bytesPerWrite: Int, eventsPerWrite: Int) throws -> Double {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0)
        defer { close(fd); unlink(path) }
        var rng = SplitMix64(seed: 1)
        let buffer = (0..<bytesPerWrite).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let clock = ContinuousClock()
        let start = clock.now
        var offset = 0
        for _ in 0..<writes {
            let n = buffer.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
            precondition(n == bytesPerWrite)
            offset += n
            precondition(fdatasync(fd) == 0)
        }
        return Double(writes * eventsPerWrite) / seconds(clock.now - start)
    }
}

func fresh(_ path: String) -> String {
    removeTree(path)
    return path
}

func removeTree(_ path: String) {
    let fs = PosixFileSystem()
    for name in (try? fs.listDirectory(path)) ?? [] { try? fs.remove(path + "/" + name) }
    rmdir(path)
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func int(_ x: Double) -> String { String(Int(x.rounded())) }
func f1(_ x: Double) -> String { String(Double(Int((x * 10).rounded())) / 10) }
func f2(_ x: Double) -> String { String(Double(Int((x * 100).rounded())) / 100) }
func row(_ name: String, _ value: String) {
    say(name + String(repeating: " ", count: max(0, 46 - name.count)) + "| " + value)
}

final class SharedCounter: Sendable {
    private let value = Atomic<Int>(0)
    /// Returns the next index, from 0.
    func take() -> Int { value.add(1, ordering: .relaxed).oldValue }
}

final class SharedLatencies: Sendable {
    let values = Mutex<[Double]>([])
}
