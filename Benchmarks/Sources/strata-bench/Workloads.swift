import BenchData
import Foundation
import StrataStorage

#if canImport(Glibc)
import Glibc
#endif

/// P1: durable sequential appends of 100 events of one stream, each awaited before the next; Strata
/// (`durability: .always`, one fdatasync per commit), the disk-limit loop and SQLite (WAL, synchronous=FULL,
/// one transaction per append) take turns in rounds on the same batches. P6 (bytes on disk per payload byte)
/// is read off both stores afterwards.
struct P1 {
    let strataPath: String
    let sqlitePath: String
    let sqliteRate: Double
    let sqlite: SQLiteBaseline

    static func run(_ batches: [[EventRecord]], directory: String, rounds: Int, report: Report) async throws -> P1 {
        let events = Double(batches.count * 100)
        let payloadBytes = batches.reduce(0) { $0 + $1.reduce(0) { $0 + $1.payload.count } }
        let strataPath = fresh(directory + "/p1-strata")
        let sqlitePath = directory + "/p1-sqlite.db"
        SQLiteBaseline.remove(sqlitePath)
        let store = try LogStore.open(at: strataPath, options: LogStore.Options(durability: .always))
        var sqlite: SQLiteBaseline? = try SQLiteBaseline(path: sqlitePath)
        let limit = try DiskLimit(path: directory + "/p1-disk-limit")
        defer { limit.remove() }

        var strataTime = 0.0, sqliteTime = 0.0, limitTime = 0.0
        var strataIO: Int64 = 0, sqliteIO: Int64 = 0
        let perRound = (batches.count + rounds - 1) / rounds
        for round in 0..<rounds {
            let chunk = batches[min(round * perRound, batches.count)..<min((round + 1) * perRound, batches.count)]
            progress("P1 round \(round + 1)/\(rounds): Strata")
            let before = store.statistics
            var io = storageWriteBytes()
            strataTime += try await timed { for batch in chunk { try await store.append(batch) } }
            strataIO += storageWriteBytes() - io
            let after = store.statistics
            progress("P1 round \(round + 1)/\(rounds): disk limit")
            limitTime += try limit.run(
                writes: after.groups - before.groups, bytes: after.bytesWritten - before.bytesWritten,
                syncs: after.syncs - before.syncs)
            progress("P1 round \(round + 1)/\(rounds): SQLite")
            io = storageWriteBytes()
            sqliteTime += try timed { for batch in chunk { try sqlite!.append(batch) } }
            sqliteIO += storageWriteBytes() - io
        }
        progressDone()
        let stats = store.statistics
        try await store.close()
        try sqlite!.close()
        sqlite = nil

        let strataRate = events / strataTime, sqliteRate = events / sqliteTime, limitRate = events / limitTime
        report.record("p1.events", events)
        report.record("p1.payload_bytes", Double(payloadBytes))
        report.record("p1.strata.events_per_s", strataRate)
        report.record("p1.strata.fdatasyncs", Double(stats.syncs))
        report.record("p1.strata.stored_bytes", Double(stats.bytesWritten))
        report.record("p1.strata.storage_write_bytes", Double(strataIO))
        report.record("p1.sqlite.events_per_s", sqliteRate)
        report.record("p1.sqlite.storage_write_bytes", Double(sqliteIO))
        report.record("p1.disk_limit.events_per_s", limitRate)
        report.record("p1.ratio_sqlite", strataRate / sqliteRate)
        report.record("p1.ratio_disk_limit", strataRate / limitRate)
        report.row(
            "P1 durable appends, 100 events each (events/s)", strata: grouped(strataRate), sqlite: grouped(sqliteRate),
            ratio: strataRate / sqliteRate, goal: "≥ 3×", met: strataRate / sqliteRate >= 3, goalKey: "p1_sqlite")
        report.row(
            "P1 MB/s sent to the disk (/proc/self/io)", strata: fixed(Double(strataIO) / strataTime / 1e6, 1),
            sqlite: fixed(Double(sqliteIO) / sqliteTime / 1e6, 1))
        report.row(
            "P1 fdatasync calls", strata: "\(grouped(Double(stats.syncs))) (\(stats.frames) appends)",
            sqlite: "(one per commit with FULL)")
        report.row(
            "disk limit: same bytes, writes, fdatasyncs (ev/s)", strata: grouped(limitRate), ratio: strataRate / limitRate,
            goal: "P1 ≥ 0.90 of it", met: strataRate / limitRate >= 0.9, goalKey: "p1_disk_limit")

        // P6 after P1: every byte of the closed stores (Strata: segments, checkpoint, index files; SQLite: the
        // database file after its WAL was checkpointed on close).
        let strataBytes = Double(directoryBytes(strataPath)) / Double(payloadBytes)
        let sqliteBytes = Double(SQLiteBaseline.bytesOnDisk(sqlitePath)) / Double(payloadBytes)
        report.record("p6.strata.bytes_per_payload_byte", strataBytes)
        report.record("p6.sqlite.bytes_per_payload_byte", sqliteBytes)
        report.row(
            "P6 bytes on disk per payload byte, after P1", strata: fixed(strataBytes, 2) + " (LZ4)",
            sqlite: fixed(sqliteBytes, 2), ratio: sqliteBytes / strataBytes, goal: "≤ 0.35", met: strataBytes <= 0.35,
            goalKey: "p6")
        try await compactedP6(strataPath: strataPath, directory: directory, payloadBytes: payloadBytes, sqliteBytes: sqliteBytes, report: report)
        return P1(strataPath: strataPath, sqlitePath: sqlitePath, sqliteRate: sqliteRate, sqlite: try SQLiteBaseline(path: sqlitePath))
    }

    func remove() {
        removeTree(strataPath)
        SQLiteBaseline.remove(sqlitePath)
    }

    /// P6 after cold compaction, on a copy of the P1 store (later workloads read the P1 store as written): the
    /// active segment sealed, then every segment compacted with the defaults (zlib 6, frames merged up to 64 KiB,
    /// segments up to 64 MiB), and every byte of the closed store counted again.
    static func compactedP6(strataPath: String, directory: String, payloadBytes: Int, sqliteBytes: Double, report: Report) async throws {
        let copy = fresh(directory + "/p6-strata-compacted")
        defer { removeTree(copy) }
        try FileManager.default.copyItem(atPath: strataPath, toPath: copy)
        progress("P6: cold compaction of a copy of the P1 store")
        let store = try LogStore.open(at: copy, options: LogStore.Options(createIfMissing: false))
        try await store.sealActiveSegment()
        var compaction = LogStore.ColdCompactionReport()
        let seconds = try await timed {
            compaction = try await store.compactColdSegments(LogStore.ColdCompaction(olderThan: .zero))
        }
        try await store.close()
        progressDone()
        let bytes = Double(directoryBytes(copy)) / Double(payloadBytes)
        report.record("p6.strata.compacted.bytes_per_payload_byte", bytes)
        report.record("p6.strata.compacted.segments_read", Double(compaction.segmentsRead))
        report.record("p6.strata.compacted.segment_bytes_ratio", Double(compaction.bytesAfter) / Double(max(compaction.bytesBefore, 1)))
        report.record("p6.strata.compacted.seconds", seconds)
        report.row(
            "P6 after zlib compaction", strata: fixed(bytes, 2) + " (zlib 6, \(compaction.segmentsRead) → \(compaction.segmentsWritten) segments, \(fixed(seconds, 1)) s)",
            sqlite: fixed(sqliteBytes, 2), ratio: sqliteBytes / bytes, goal: "≤ 0.2", met: bytes <= 0.2, goalKey: "p6_compacted")
    }
}

/// What no engine can beat on this disk: the same stored bytes in the same number of `pwrite`s with the same
/// number of `fdatasync`s, appended to one file from a plain loop.
final class DiskLimit {
    let path: String
    let fd: Int32
    var offset: off_t = 0
    var buffer: [UInt8] = []

    init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw POSIXError(.EIO) }
    }

    /// Seconds for `writes` writes of `bytes` in all, with `syncs` fdatasyncs spread evenly among them.
    func run(writes: Int, bytes: Int, syncs: Int) throws -> Double {
        guard writes > 0 else { return 0 }
        let perWrite = bytes / writes
        if buffer.count != perWrite {
            var rng = SplitMix64(seed: 1)
            buffer = (0..<perWrite).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        }
        return try timed {
            for i in 0..<writes {
                let n = buffer.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, offset) }
                guard n == perWrite else { throw POSIXError(.EIO) }
                offset += off_t(n)
                if (i + 1) * syncs / writes > i * syncs / writes {
                    guard fdatasync(fd) == 0 else { throw POSIXError(.EIO) }
                }
            }
        }
    }

    func remove() {
        close(fd)
        unlink(path)
    }
}

/// P3 at the engine level: load every event of a stream of exactly 100 events (the streams P1 gave one
/// append), random among them, from both stores, in alternating blocks. Both touch every payload byte; neither
/// decodes JSON yet (aggregates and their codecs come with the event-sourcing layer).
enum P3 {
    static func run(p1: P1, batches: [[EventRecord]], loads: Int, report: Report) async throws {
        var appendsPerStream: [PartitionKey: Int] = [:]
        for batch in batches { appendsPerStream[batch[0].key, default: 0] += 1 }
        let keys = appendsPerStream.filter { $0.value == 1 }.map(\.key).sorted { $0.description < $1.description }
        let store = try LogStore.open(at: p1.strataPath, options: LogStore.Options(createIfMissing: false))
        var rng = SplitMix64(seed: 3)
        let order = (0..<loads).map { _ in keys[Int(rng.next() % UInt64(keys.count))] }
        var strata: [Double] = [], sqlite: [Double] = []
        strata.reserveCapacity(loads)
        sqlite.reserveCapacity(loads)
        var strataEvents = 0, sqliteEvents = 0
        let block = 1_000
        for start in stride(from: 0, to: loads, by: block) {
            progress("P3 \(start)/\(loads)")
            for key in order[start..<min(start + block, loads)] {
                let t0 = ContinuousClock.now
                var bytes = 0
                strataEvents += try store.readStream(key) { bytes &+= $0.payload.count }
                strata.append(seconds(ContinuousClock.now - t0) * 1e6)
            }
            for key in order[start..<min(start + block, loads)] {
                let t0 = ContinuousClock.now
                sqliteEvents += try p1.sqlite.loadStream(key)
                sqlite.append(seconds(ContinuousClock.now - t0) * 1e6)
            }
        }
        progressDone()
        try await store.close()
        try p1.sqlite.close()
        guard strataEvents == loads * 100, sqliteEvents == loads * 100 else {
            throw POSIXError(.EBADMSG)  // either store lost or invented events: no figure is worth printing
        }
        strata.sort()
        sqlite.sort()
        for (name, p) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999)] {
            report.record("p3.strata.\(name)_us", percentile(strata, p))
            report.record("p3.sqlite.\(name)_us", percentile(sqlite, p))
        }
        let s50 = percentile(strata, 0.5), q50 = percentile(sqlite, 0.5)
        report.row(
            "P3 load a 100-event stream, p50 µs", strata: fixed(s50, 1), sqlite: fixed(q50, 1), ratio: q50 / s50,
            goal: "≤ 25 µs", met: s50 <= 25, goalKey: "p3_p50")
        report.row(
            "P3 p99 / p999 µs", strata: "\(fixed(percentile(strata, 0.99), 1)) / \(fixed(percentile(strata, 0.999), 1))",
            sqlite: "\(fixed(percentile(sqlite, 0.99), 1)) / \(fixed(percentile(sqlite, 0.999), 1))",
            ratio: percentile(sqlite, 0.99) / percentile(strata, 0.99))
    }
}

/// P1p: the P1 batches with up to 64 appends in flight (group commit), against SQLite's P1.
enum P1p {
    static func run(_ batches: [[EventRecord]], directory: String, sqliteP1Rate: Double?, report: Report) async throws {
        let path = fresh(directory + "/p1p-strata")
        let store = try LogStore.open(at: path)
        progress("P1p")
        let elapsed = try await timed { try await appendConcurrently(batches, to: store, inFlight: 64) }
        progressDone()
        let stats = store.statistics
        try await store.close()
        removeTree(path)
        let rate = Double(batches.count * 100) / elapsed
        let perSync = Double(stats.frames) / Double(max(stats.syncs, 1))
        report.record("p1p.strata.events_per_s", rate)
        report.record("p1p.strata.appends_per_fdatasync", perSync)
        let ratio = sqliteP1Rate.map { rate / $0 }
        if let ratio { report.record("p1p.ratio_sqlite_p1", ratio) }
        report.row(
            "P1p 64 appends in flight (events/s)", strata: grouped(rate), sqlite: "P1 figure above", ratio: ratio,
            goal: "≥ 1.5M and ≥ 20×", met: ratio.map { rate >= 1_500_000 && $0 >= 20 }, goalKey: "p1p")
        report.row("P1p appends per fdatasync", strata: fixed(perSync, 1))
    }
}

/// Appends every batch with `inFlight` tasks taking the next one, each awaiting its own acknowledgement.
func appendConcurrently(_ batches: [[EventRecord]], to store: LogStore, inFlight: Int, latencies: SharedLatencies? = nil) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        let next = SharedCounter()
        for _ in 0..<inFlight {
            group.addTask {
                var mine: [Double] = []
                while true {
                    let i = next.take()
                    if i >= batches.count { break }
                    let t0 = ContinuousClock.now
                    try await store.append(batches[i])
                    if latencies != nil { mine.append(seconds(ContinuousClock.now - t0) * 1e6) }
                }
                let collected = mine
                latencies?.values.withLock { $0 += collected }
            }
        }
        try await group.waitForAll()
    }
}

/// Strata-only figures that explain the others: the commit path without fdatasync (CPU), the fixed cost of one
/// append, and 64 concurrent single-event appenders (the commit shape of P2, without loading aggregates).
enum Extras {
    static func run(_ batches: [[EventRecord]], directory: String, commits: Int, report: Report) async throws {
        progress("CPU-bound appends")
        var path = fresh(directory + "/nosync")
        var elapsed = try await sequentially(batches, path: path)
        report.record("extra.nosync.events_per_s", Double(batches.count * 100) / elapsed)
        report.row(
            "(Strata) P1 without fdatasync: CPU (events/s)", strata: grouped(Double(batches.count * 100) / elapsed),
            sqlite: "\(fixed(elapsed / Double(batches.count) * 1e6, 1)) µs per append")
        let singles = batches.prefix(100).flatMap { $0 }.map { [$0] }
        path = fresh(directory + "/tiny")
        elapsed = try await sequentially(singles, path: path)
        report.record("extra.single_event_append_us", elapsed / Double(singles.count) * 1e6)
        report.row("(Strata) one-event append, no fdatasync (µs)", strata: fixed(elapsed / Double(singles.count) * 1e6, 1))

        var data = CartsData(streamCount: 10_000, seed: 7)
        let events = (0..<commits).map { _ in data.batch(count: 1) }
        path = fresh(directory + "/concurrent")
        let store = try LogStore.open(at: path)
        let latencies = SharedLatencies()
        progress("64 concurrent single-event appenders")
        elapsed = try await timed { try await appendConcurrently(events, to: store, inFlight: 64, latencies: latencies) }
        progressDone()
        let stats = store.statistics
        try await store.close()
        removeTree(path)
        let sorted = latencies.values.withLock { $0 }.sorted()
        report.record("extra.concurrent.commits_per_s", Double(commits) / elapsed)
        report.record("extra.concurrent.commits_per_fdatasync", Double(stats.frames) / Double(max(stats.syncs, 1)))
        report.record("extra.concurrent.p50_us", percentile(sorted, 0.5))
        report.record("extra.concurrent.p99_us", percentile(sorted, 0.99))
        report.row(
            "(Strata) 64 concurrent 1-event appends (commits/s)", strata: grouped(Double(commits) / elapsed),
            sqlite: "\(fixed(Double(stats.frames) / Double(max(stats.syncs, 1)), 1)) per fdatasync, p50 \(Int(percentile(sorted, 0.5))) µs")
    }

    static func sequentially(_ batches: [[EventRecord]], path: String) async throws -> Double {
        let store = try LogStore.open(at: path, options: LogStore.Options(durability: .never))
        let elapsed = try await timed { for batch in batches { try await store.append(batch) } }
        try await store.close()
        removeTree(path)
        return elapsed
    }
}
