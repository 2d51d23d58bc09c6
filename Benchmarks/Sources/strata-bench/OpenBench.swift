import ArgumentParser
import BenchData
import Foundation
import StrataStorage

#if canImport(Glibc)
import Glibc
#endif

/// P5: open a store of 10M events over 1M streams and read one stream, each open in a fresh process: after a
/// clean close, and after the writer was killed with SIGKILL. Strata and SQLite hold the same events. The two
/// base stores are built once (in child processes) and kept in the bench folder; each crash run works on
/// copies, so every run opens the same stores.
enum P5 {
    /// The P5 data: `streams` carts of `events / streams` events each, appended ~100 events (whole carts) at a
    /// time in stream order.
    static func forEachBatch(events: Int, streams: Int, _ body: ([EventRecord]) throws -> Void) rethrows {
        var data = CartsData(streamCount: streams, seed: 5)
        let perStream = max(1, events / streams)
        let streamsPerBatch = max(1, 100 / perStream)
        var batch: [EventRecord] = []
        batch.reserveCapacity(perStream * streamsPerBatch)
        for first in stride(from: 0, to: streams, by: streamsPerBatch) {
            batch.removeAll(keepingCapacity: true)
            for stream in first..<min(first + streamsPerBatch, streams) {
                for _ in 0..<perStream { batch.append(data.event(stream: stream)) }
            }
            try body(batch)
        }
    }

    /// The stream every probe reads first: the first cart of the data.
    static func firstKey(streams: Int) -> PartitionKey { CartsData(streamCount: 1, seed: 5).streams[0] }

    static func run(events: Int, streams: Int, directory: String, tailMiB: Int, report: Report) async throws {
        let me = try selfExecutable()
        let size = ["--events", "\(events)", "--streams", "\(streams)"]
        let name = "v\(CartsData.dataVersion)-\(events)-\(streams)"
        let strataBase = directory + "/p5-strata-" + name
        let sqliteBase = directory + "/p5-sqlite-\(name).db"
        for (engine, path) in [("strata", strataBase), ("sqlite", sqliteBase)] where !FileManager.default.fileExists(atPath: path + ".complete") {
            say("  building the P5 \(engine) store (once; kept in \(directory)/)")
            try runChild(me, ["p5-build", engine, path] + size)
            _ = FileManager.default.createFile(atPath: path + ".complete", contents: nil)
        }
        let key = firstKey(streams: streams)
        let keyArguments = ["--tenant", key.tenant, "--group", key.group, "--id", key.id]
        let resultFile = directory + "/p5-result.txt"
        func probe(_ engine: String, _ path: String) throws -> [String: Double] {
            unlink(resultFile)
            try runChild(me, ["p5-probe", engine, path, "--result", resultFile] + keyArguments)
            return try ChildResult.read(resultFile)
        }

        // After a clean close: three alternating probes each, the median reported.
        var clean: [String: [[String: Double]]] = [:]
        for round in 0..<3 {
            progress("P5 clean open, round \(round + 1)/3")
            clean["strata", default: []].append(try probe("strata", strataBase))
            clean["sqlite", default: []].append(try probe("sqlite", sqliteBase))
        }
        progressDone()
        func median(_ runs: [[String: Double]], _ field: String) -> Double {
            let values = runs.compactMap { $0[field] }.sorted()
            return values.isEmpty ? .nan : values[values.count / 2]
        }
        let s = (median(clean["strata"]!, "first_read_ms"), median(clean["strata"]!, "rss_delta_mib"))
        let q = (median(clean["sqlite"]!, "first_read_ms"), median(clean["sqlite"]!, "rss_delta_mib"))
        report.record("p5.clean.strata.first_read_ms", s.0)
        report.record("p5.clean.strata.rss_delta_mib", s.1)
        report.record("p5.clean.strata.rss_mib", median(clean["strata"]!, "rss_mib"))
        report.record("p5.clean.sqlite.first_read_ms", q.0)
        report.record("p5.clean.sqlite.rss_delta_mib", q.1)
        report.record("p5.clean.sqlite.rss_mib", median(clean["sqlite"]!, "rss_mib"))
        let sizeName = "\(events / 1_000_000)M/\(streams >= 1_000_000 ? "\(streams / 1_000_000)M" : "\(streams / 1_000)k")"
        report.row(
            "P5 open \(sizeName) after clean close: ms to 1st read", strata: fixed(s.0, 2), sqlite: fixed(q.0, 2),
            ratio: q.0 / s.0, goal: "≤ 50 ms", met: s.0 <= 50, goalKey: "p5_clean")
        report.row("P5 RSS added by open + 1st read (MiB)", strata: fixed(s.1, 1), sqlite: fixed(q.1, 1))

        // After SIGKILL: each engine's writer appends to a copy of its base store until killed. Strata's at its
        // worst point for the index (a nearly full active segment since its last rollover, so the re-indexed
        // tail is largest); SQLite's after the same time (synchronous=NORMAL, against Strata's interval sync).
        let strataCrash = directory + "/p5-strata-crash", sqliteCrash = directory + "/p5-sqlite-crash.db"
        removeTree(strataCrash)
        SQLiteBaseline.remove(sqliteCrash)
        progress("P5 copying the stores for the crash runs")
        try runChild("/bin/cp", ["-a", strataBase, strataCrash])
        try runChild("/bin/cp", ["-a", sqliteBase, sqliteCrash])
        defer {
            removeTree(strataCrash)
            SQLiteBaseline.remove(sqliteCrash)
        }
        progress("P5 Strata writer running until it is killed")
        let (writerSeconds, tail) = try killStrataWriter(me, strataCrash, tailMiB: tailMiB)
        progress("P5 SQLite writer running until it is killed")
        let sqliteWriter = try spawn(me, ["p5-crash-writer", "sqlite", sqliteCrash])
        usleep(useconds_t(writerSeconds * 1e6))
        kill(sqliteWriter, SIGKILL)
        var status: Int32 = 0
        waitpid(sqliteWriter, &status, 0)
        let walBytes = fileBytes(sqliteCrash + "-wal")
        progressDone()
        let sc = try probe("strata", strataCrash)
        let qc = try probe("sqlite", sqliteCrash)
        for (name, value) in sc { report.record("p5.crash.strata.\(name)", value) }
        for (name, value) in qc { report.record("p5.crash.sqlite.\(name)", value) }
        report.record("p5.crash.strata.tail_bytes", Double(tail))
        report.record("p5.crash.writer_seconds", writerSeconds)
        report.record("p5.crash.sqlite.wal_bytes", Double(walBytes))
        let sr = sc["first_read_ms"] ?? .nan, qr = qc["first_read_ms"] ?? .nan
        report.row(
            "P5 after SIGKILL of the writer: ms to 1st read", strata: fixed(sr, 1), sqlite: fixed(qr, 2), ratio: qr / sr,
            goal: "≤ 1000 ms", met: sr <= 1000, goalKey: "p5_crash")
        report.row(
            "P5 after SIGKILL: what recovery had to read",
            strata: "\(tail >> 20) MiB tail, \(grouped(sc["frames_reindexed"] ?? 0)) frames re-indexed",
            sqlite: "\(fixed(Double(walBytes) / 1_048_576, 1)) MiB WAL")
        report.row("P5 after SIGKILL: RSS added (MiB)", strata: fixed(sc["rss_delta_mib"] ?? .nan, 1), sqlite: fixed(qc["rss_delta_mib"] ?? .nan, 1))
    }

    /// Starts a Strata writer on `store`, kills it once its active segment holds `tailMiB` after a rollover;
    /// returns how long it ran and the tail it left.
    static func killStrataWriter(_ me: String, _ store: String, tailMiB: Int) throws -> (Double, Int64) {
        let start = ContinuousClock.now
        let pid = try spawn(me, ["p5-crash-writer", "strata", store])
        let target = Int64(tailMiB) << 20
        let deadline = ContinuousClock.now + .seconds(300)
        var tail: Int64 = 0
        var startSegment: String?
        while ContinuousClock.now < deadline {
            usleep(20_000)
            let segments = ((try? FileManager.default.contentsOfDirectory(atPath: store)) ?? []).filter { $0.hasSuffix(".segment") }.sorted()
            guard let last = segments.last else { continue }
            if startSegment == nil { startSegment = last }
            tail = fileBytes(store + "/" + last)
            if last != startSegment && tail >= target { break }
        }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return (seconds(ContinuousClock.now - start), tail)
    }
}

struct P5Size: ParsableArguments {
    @Option var events = 10_000_000
    @Option var streams = 1_000_000
}

/// Child: builds a P5 base store (not measured; Strata without fdatasync, SQLite with synchronous=OFF and
/// 10,000 events per transaction).
struct P5Build: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "p5-build", shouldDisplay: false)
    @Argument var engine: String
    @Argument var path: String
    @OptionGroup var size: P5Size

    func run() async throws {
        var written = 0
        let start = ContinuousClock.now
        func tick() {
            if written % 100_000 < 100 { progress("P5 \(engine) store: \(grouped(Double(written))) of \(grouped(Double(size.events))) events") }
        }
        if engine == "strata" {
            removeTree(path)
            let store = try LogStore.open(at: path, options: LogStore.Options(durability: .never))
            var batches: [[EventRecord]] = []
            P5.forEachBatch(events: size.events, streams: size.streams) { batches.append($0) }
            for batch in batches {
                try await store.append(batch)
                written += batch.count
                tick()
            }
            try await store.close()
        } else {
            SQLiteBaseline.remove(path)
            let sqlite = try SQLiteBaseline(path: path, sync: .off)
            var pending: [[EventRecord]] = []
            try P5.forEachBatch(events: size.events, streams: size.streams) { batch in
                pending.append(batch)
                written += batch.count
                if pending.count == 100 {
                    try sqlite.appendInOneTransaction(pending)
                    pending.removeAll(keepingCapacity: true)
                    tick()
                }
            }
            if !pending.isEmpty { try sqlite.appendInOneTransaction(pending) }
            try sqlite.close()
        }
        progressDone()
        say("  built \(grouped(Double(written))) events for \(engine) in \(Int(seconds(ContinuousClock.now - start))) s")
    }
}

/// Child: opens a store in a fresh process, reads one stream, reports times and RSS.
struct P5Probe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "p5-probe", shouldDisplay: false)
    @Argument var engine: String
    @Argument var path: String
    @Option var result: String
    @Option var tenant: String
    @Option var group: String
    @Option var id: String

    func run() async throws {
        let key = PartitionKey(tenant: tenant, group: group, id: id)
        let rssBefore = residentMiB()
        let start = ContinuousClock.now
        var values: [String: Double] = [:]
        var events = 0
        if engine == "strata" {
            let store = try LogStore.open(at: path, options: LogStore.Options(createIfMissing: false))
            values["open_ms"] = seconds(ContinuousClock.now - start) * 1000
            var bytes = 0
            events = try store.readStream(key) { bytes &+= $0.payload.count }
            values["first_read_ms"] = seconds(ContinuousClock.now - start) * 1000
            let report = store.recovery
            values["segment_bytes_read"] = Double(report.bytesRead)
            values["frames_reindexed"] = Double(report.indexFramesScanned)
            values["index_rebuilt"] = report.indexProblem == nil ? 0 : 1
            values["rss_mib"] = residentMiB()
            try await store.close()
        } else {
            let sqlite = try SQLiteBaseline(path: path)
            values["open_ms"] = seconds(ContinuousClock.now - start) * 1000
            events = try sqlite.loadStream(key).count
            values["first_read_ms"] = seconds(ContinuousClock.now - start) * 1000
            values["rss_mib"] = residentMiB()
            try sqlite.close()
        }
        values["rss_delta_mib"] = values["rss_mib"]! - rssBefore
        values["events_read"] = Double(events)
        guard events > 0 else { throw ValidationError("\(engine) probe read no events of \(key)") }
        try ChildResult.write(values, to: result)
    }
}

/// Child: appends 100-event batches to new carts until it is killed (Strata: fdatasync every 50 ms; SQLite:
/// synchronous=NORMAL, one transaction per append).
struct P5CrashWriter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "p5-crash-writer", shouldDisplay: false)
    @Argument var engine: String
    @Argument var path: String

    func run() async throws {
        var data = CartsData(streamCount: 100_000, seed: UInt64(getpid()))
        if engine == "strata" {
            let store = try LogStore.open(at: path, options: LogStore.Options(durability: .interval(milliseconds: 50)))
            while true { try await store.append(data.batch(count: 100)) }
        } else {
            let sqlite = try SQLiteBaseline(path: path, sync: .normal)
            while true { try sqlite.append(data.batch(count: 100)) }
        }
    }
}
