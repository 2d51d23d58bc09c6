import ArgumentParser
import BenchData
import Foundation
@_spi(StrataInternals) import StrataStorage

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
        report.row("P1 fdatasync calls (\(stats.frames) appends; SQLite FULL syncs each commit)", strata: grouped(Double(stats.syncs)))
        report.row(
            "P1 against the disk limit: a plain loop's \(grouped(limitRate)) ev/s (same bytes, writes, fdatasyncs)",
            strata: grouped(strataRate), ratio: strataRate / limitRate, goal: "≥ 0.85 of it", met: strataRate / limitRate >= 0.85,
            goalKey: "p1_disk_limit")

        // P6 after P1: every byte of the closed stores (Strata: segments, index files, checkpoint; SQLite: the
        // database file after its WAL was checkpointed on close), beside the entropy anchor: `xz -9` of the same
        // events' JSONL export (`strata dump`), which no lossless layout of these random ids can beat by much.
        let anchor = try xzAnchor(strataPath)
        report.record("p6.xz9_jsonl_bytes", Double(anchor.xzBytes))
        report.record("p6.jsonl_bytes", Double(anchor.jsonlBytes))
        report.record("p6.xz9.bytes_per_payload_byte", Double(anchor.xzBytes) / Double(payloadBytes))
        let sqliteBytes = Double(SQLiteBaseline.bytesOnDisk(sqlitePath))
        p6Rows(strataPath, label: "after P1 (LZ4)", key: "p6", payloadBytes: payloadBytes, xzBytes: anchor.xzBytes, sqliteBytes: sqliteBytes, report: report)
        try await compactedP6(
            strataPath: strataPath, directory: directory, payloadBytes: payloadBytes, xzBytes: anchor.xzBytes, sqliteBytes: sqliteBytes,
            report: report)
        return P1(strataPath: strataPath, sqlitePath: sqlitePath, sqliteRate: sqliteRate, sqlite: try SQLiteBaseline(path: sqlitePath))
    }

    /// The store's bytes by kind: segments, index files (runs, heads files, manifest), and the rest (checkpoint).
    static func breakdown(_ path: String) -> (segments: Int64, index: Int64, other: Int64) {
        let total = directoryBytes(path)
        let index = directoryBytes(path + "/index")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        let segments = names.filter { $0.hasSuffix(".segment") }.reduce(Int64(0)) { $0 + fileBytes(path + "/" + $1) }
        return (segments, index, total - segments - index)
    }

    /// P6's rows for one Strata store: bytes per payload byte, whole store against `xz -9` of the JSONL export (the
    /// goal), and segments and index separately.
    static func p6Rows(
        _ path: String, label: String, key: String, payloadBytes: Int, xzBytes: Int64, sqliteBytes: Double, report: Report
    ) {
        let (segments, index, other) = breakdown(path)
        let whole = Double(segments + index + other)
        let perPayload = { (bytes: Double) in bytes / Double(payloadBytes) }
        report.record("\(key).strata.bytes_per_payload_byte", perPayload(whole))
        report.record("\(key).strata.segment_bytes", Double(segments))
        report.record("\(key).strata.index_bytes", Double(index))
        report.record("\(key).strata.other_bytes", Double(other))
        report.record("\(key).sqlite.bytes_per_payload_byte", perPayload(sqliteBytes))
        report.record("\(key).strata.ratio_xz9", whole / Double(xzBytes))
        report.row(
            "P6 bytes on disk per payload byte, \(label) (xz -9 of the JSONL: \(fixed(perPayload(Double(xzBytes)), 3)))",
            strata: "\(fixed(perPayload(whole), 3)) = \(fixed(whole / Double(xzBytes), 2))× xz -9", sqlite: fixed(perPayload(sqliteBytes), 3),
            ratio: sqliteBytes / whole, goal: "≤ 1.2× xz -9", met: whole <= 1.2 * Double(xzBytes), goalKey: key == "p6" ? "p6" : "p6_compacted")
        report.row(
            "P6 \(label): segments / index / checkpoint, per payload byte",
            strata: "\(fixed(perPayload(Double(segments)), 3)) / \(fixed(perPayload(Double(index)), 3)) / \(fixed(perPayload(Double(other)), 4))")
    }

    /// `strata dump` of the store (its JSONL export, every event with its envelope) piped through `xz -9`: the
    /// bytes of each, counted.
    static func xzAnchor(_ path: String) throws -> (jsonlBytes: Int64, xzBytes: Int64) {
        let strata = URL(fileURLWithPath: try selfExecutable()).deletingLastPathComponent().appendingPathComponent("strata").path
        guard FileManager.default.isExecutableFile(atPath: strata) else {
            throw ValidationError("P6 needs the strata command beside strata-bench (make bench-build builds both): \(strata)")
        }
        guard commandOutput("command -v xz") != nil else { throw ValidationError("P6 needs xz (Debian: xz-utils)") }
        progress("P6: strata dump | xz -9")
        let jsonl = commandOutput("'\(strata)' dump '\(path)' | wc -c").flatMap { Int64($0) }
        let xz = commandOutput("'\(strata)' dump '\(path)' | xz -9 -T1 | wc -c").flatMap { Int64($0) }
        progressDone()
        guard let jsonl, let xz, jsonl > 0, xz > 0 else { throw ValidationError("P6: strata dump | xz -9 produced nothing") }
        return (jsonl, xz)
    }

    func remove() {
        removeTree(strataPath)
        SQLiteBaseline.remove(sqlitePath)
    }

    /// P6 after cold compaction, on a copy of the P1 store (later workloads read the P1 store as written): the
    /// active segment sealed, then every segment compacted with the defaults (zlib 6, frames merged up to 64 KiB,
    /// segments up to 64 MiB), and every byte of the closed store counted again.
    static func compactedP6(
        strataPath: String, directory: String, payloadBytes: Int, xzBytes: Int64, sqliteBytes: Double, report: Report
    ) async throws {
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
        report.record("p6.compacted.segments_read", Double(compaction.segmentsRead))
        report.record("p6.compacted.seconds", seconds)
        p6Rows(
            copy, label: "after zlib compaction (\(compaction.segmentsRead) → \(compaction.segmentsWritten) segments, \(fixed(seconds, 1)) s)",
            key: "p6.compacted", payloadBytes: payloadBytes, xzBytes: xzBytes, sqliteBytes: sqliteBytes, report: report)
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

/// P3 at the engine level: load every event of a 100-event stream, random among many, from both stores in
/// alternating blocks of 1,000 loads, both checksumming every payload byte in place (CRC32C: Strata over the
/// record view, SQLite over GRDB's no-copy view of the BLOB), so both do the same work per byte; the checksums must
/// agree. Two layouts: streams as an application writes them (carts interleaved, 1–5 events per append, `P3Layout`)
/// and, as a separate best-case row, streams that got their 100 events in one append (P1's).
enum P3 {
    struct Result {
        var strata: [Double]
        var sqlite: [Double]
    }

    /// Loads `order` from both, in alternating blocks; checks both delivered every event with the same bytes.
    static func measure(
        _ order: [PartitionKey], strata store: LogStore, sqlite: SQLiteBaseline, eventsPerStream: Int, label: String
    ) throws -> Result {
        var strata: [Double] = [], sqliteTimes: [Double] = []
        strata.reserveCapacity(order.count)
        sqliteTimes.reserveCapacity(order.count)
        var strataEvents = 0, sqliteEvents = 0
        var strataSum: UInt32 = 0, sqliteSum: UInt32 = 0
        let block = 1_000
        for start in stride(from: 0, to: order.count, by: block) {
            progress("P3 \(label) \(start)/\(order.count)")
            for key in order[start..<min(start + block, order.count)] {
                let t0 = ContinuousClock.now
                var checksum: UInt32 = 0
                strataEvents += try store.readStream(key) { checksum ^= CRC32C.checksum($0.payload) }
                strata.append(seconds(ContinuousClock.now - t0) * 1e6)
                strataSum ^= checksum
            }
            for key in order[start..<min(start + block, order.count)] {
                let t0 = ContinuousClock.now
                let (count, checksum) = try sqlite.loadStream(key)
                sqliteTimes.append(seconds(ContinuousClock.now - t0) * 1e6)
                sqliteEvents += count
                sqliteSum ^= checksum
            }
        }
        progressDone()
        guard strataEvents == order.count * eventsPerStream, sqliteEvents == strataEvents, strataSum == sqliteSum else {
            throw POSIXError(.EBADMSG)  // either store lost or invented events or bytes: no figure is worth printing
        }
        return Result(strata: strata.sorted(), sqlite: sqliteTimes.sorted())
    }

    static func rows(_ result: Result, key: String, label: String, goal: Bool, report: Report) {
        let (strata, sqlite) = (result.strata, result.sqlite)
        for (name, p) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999)] {
            report.record("\(key).strata.\(name)_us", percentile(strata, p))
            report.record("\(key).sqlite.\(name)_us", percentile(sqlite, p))
        }
        let s50 = percentile(strata, 0.5), q50 = percentile(sqlite, 0.5)
        report.row(
            "P3 load a 100-event stream (\(label)), p50 µs", strata: fixed(s50, 1), sqlite: fixed(q50, 1), ratio: q50 / s50,
            goal: goal ? "≤ 25 µs" : "", met: goal ? s50 <= 25 : nil, goalKey: goal ? "p3_p50" : nil)
        report.row(
            "P3 (\(label)) p99 / p999 µs", strata: "\(fixed(percentile(strata, 0.99), 1)) / \(fixed(percentile(strata, 0.999), 1))",
            sqlite: "\(fixed(percentile(sqlite, 0.99), 1)) / \(fixed(percentile(sqlite, 0.999), 1))",
            ratio: percentile(sqlite, 0.99) / percentile(strata, 0.99))
    }

    /// The best-case layout: streams P1 gave exactly one append of 100 events.
    static func run(p1: P1, batches: [[EventRecord]], loads: Int, report: Report) async throws {
        var appendsPerStream: [PartitionKey: Int] = [:]
        for batch in batches { appendsPerStream[batch[0].key, default: 0] += 1 }
        let keys = appendsPerStream.filter { $0.value == 1 }.map(\.key).sorted { $0.description < $1.description }
        let store = try LogStore.open(at: p1.strataPath, options: LogStore.Options(createIfMissing: false))
        var rng = SplitMix64(seed: 3)
        let order = (0..<loads).map { _ in keys[Int(rng.next() % UInt64(keys.count))] }
        let result = try measure(order, strata: store, sqlite: p1.sqlite, eventsPerStream: 100, label: "one append each")
        try await store.close()
        try p1.sqlite.close()
        rows(result, key: "p3.one_append", label: "written as one 100-event append, best case", goal: false, report: report)
    }
}

/// P3 on streams laid out as an application writes them: `carts` carts get their 100 events in appends of 1–5
/// events, the carts interleaved at random (so a cart's events lie in ~34 frames spread over the log, and its SQLite
/// rows over as many pages). Both stores are built the same way, an append per transaction, without syncing (a
/// read benchmark: how the bytes were made durable does not change where they lie).
enum P3Layout {
    static func run(carts: Int, loads: Int, directory: String, report: Report) async throws {
        var data = CartsData(streamCount: carts, seed: 31)
        let strataPath = fresh(directory + "/p3-layout-strata")
        let sqlitePath = directory + "/p3-layout-sqlite.db"
        SQLiteBaseline.remove(sqlitePath)
        var store = try LogStore.open(at: strataPath, options: LogStore.Options(durability: .never))
        let sqlite = try SQLiteBaseline(path: sqlitePath, sync: .off)
        var open = Array(0..<carts)
        var appends = 0
        progress("P3 layout: building the stores")
        while !open.isEmpty {
            let slot = Int(data.rng.next() % UInt64(open.count))
            let cart = open[slot]
            let count = min(1 + Int(data.rng.next() % 5), 100 - Int(data.versions[cart]))
            let batch = (0..<count).map { _ in data.event(stream: cart) }
            try await store.append(batch)
            try sqlite.append(batch)
            appends += 1
            if data.versions[cart] == 100 {
                open.swapAt(slot, open.count - 1)
                open.removeLast()
            }
        }
        try await store.close()
        store = try LogStore.open(at: strataPath, options: LogStore.Options(createIfMissing: false))
        var rng = SplitMix64(seed: 33)
        let order = (0..<loads).map { _ in data.streams[Int(rng.next() % UInt64(carts))] }
        let result = try P3.measure(order, strata: store, sqlite: sqlite, eventsPerStream: 100, label: "interleaved")
        try await store.close()
        try sqlite.close()
        removeTree(strataPath)
        SQLiteBaseline.remove(sqlitePath)
        report.record("p3.interleaved.carts", Double(carts))
        report.record("p3.interleaved.appends", Double(appends))
        P3.rows(
            result, key: "p3", label: "carts interleaved, 1–5 events per append; \(grouped(Double(carts))) carts", goal: true,
            report: report)
    }
}

/// P1p: the P1 batches with up to 64 appends in flight, each awaiting its own durable acknowledgement — Strata's
/// group commit against SQLite driven by the same 64 appenders in its best configuration (WAL, synchronous=FULL,
/// the one writer connection all 64 share, a transaction per append, as GRDB applications write).
enum P1p {
    static func run(_ batches: [[EventRecord]], directory: String, report: Report) async throws {
        let path = fresh(directory + "/p1p-strata")
        let store = try LogStore.open(at: path)
        progress("P1p Strata")
        let elapsed = try await timed { try await appendConcurrently(batches, to: store, inFlight: 64) }
        let stats = store.statistics
        try await store.close()
        removeTree(path)
        let sqlitePath = directory + "/p1p-sqlite.db"
        SQLiteBaseline.remove(sqlitePath)
        let sqlite = try SQLiteBaseline(path: sqlitePath, sync: .full)
        progress("P1p SQLite")
        let sqliteElapsed = try await timed {
            try await withThrowingTaskGroup(of: Void.self) { group in
                let next = SharedCounter()
                for _ in 0..<64 {
                    group.addTask {
                        while true {
                            let i = next.take()
                            if i >= batches.count { break }
                            try await sqlite.appendAsync(batches[i])
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        progressDone()
        try sqlite.close()
        SQLiteBaseline.remove(sqlitePath)
        let events = Double(batches.count * 100)
        let rate = events / elapsed, sqliteRate = events / sqliteElapsed
        let perSync = Double(stats.frames) / Double(max(stats.syncs, 1))
        report.record("p1p.strata.events_per_s", rate)
        report.record("p1p.strata.appends_per_fdatasync", perSync)
        report.record("p1p.sqlite.events_per_s", sqliteRate)
        report.record("p1p.ratio_sqlite", rate / sqliteRate)
        report.row(
            "P1p 64 appenders, 100 events each, durable (events/s)", strata: grouped(rate), sqlite: grouped(sqliteRate),
            ratio: rate / sqliteRate, goal: "≥ 20×", met: rate / sqliteRate >= 20, goalKey: "p1p")
        report.row("P1p appends per fdatasync (Strata's group commit)", strata: fixed(perSync, 1))
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
            "(Strata only) P1 without fdatasync: CPU, events/s (\(fixed(elapsed / Double(batches.count) * 1e6, 1)) µs per append)",
            strata: grouped(Double(batches.count * 100) / elapsed))
        let singles = batches.prefix(100).flatMap { $0 }.map { [$0] }
        path = fresh(directory + "/tiny")
        elapsed = try await sequentially(singles, path: path)
        report.record("extra.single_event_append_us", elapsed / Double(singles.count) * 1e6)
        report.row("(Strata only) one-event append, no fdatasync (µs)", strata: fixed(elapsed / Double(singles.count) * 1e6, 1))

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
            "(Strata only) 64 concurrent 1-event appends, commits/s (\(fixed(Double(stats.frames) / Double(max(stats.syncs, 1)), 1)) per fdatasync, p50 \(Int(percentile(sorted, 0.5))) µs)",
            strata: grouped(Double(commits) / elapsed))
    }

    static func sequentially(_ batches: [[EventRecord]], path: String) async throws -> Double {
        let store = try LogStore.open(at: path, options: LogStore.Options(durability: .never))
        let elapsed = try await timed { for batch in batches { try await store.append(batch) } }
        try await store.close()
        removeTree(path)
        return elapsed
    }
}
