import ArgumentParser
import BenchData
import Foundation
@_spi(StrataInternals) import StrataStorage

#if canImport(Glibc)
import Glibc
#endif

@main
struct StrataBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata-bench",
        abstract: "The standard workloads of Benchmarks/README.md, Strata beside SQLite (GRDB) in one run.",
        subcommands: [Run.self, P4Build.self, P4Probe.self, P5Build.self, P5Probe.self, P5CrashWriter.self],
        defaultSubcommand: Run.self)
}

/// The two sizes of Benchmarks/README.md: `quick` (a few minutes) and `full` (the published figures).
enum BenchSize: String, ExpressibleByArgument, CaseIterable, Sendable {
    case quick, full

    /// Events of P1 / P1p (100-event appends over 10,000 streams).
    var p1Events: Int { self == .full ? 1_000_000 : 100_000 }
    /// P1 alternates Strata, the disk-limit loop and SQLite in this many rounds, so drift of a shared disk
    /// hits all three alike.
    var rounds: Int { self == .full ? 10 : 5 }
    var p3Loads: Int { self == .full ? 100_000 : 10_000 }
    /// Carts of P3's interleaved layout (100 events each).
    var p3Carts: Int { self == .full ? 10_000 : 2_000 }
    var p5Events: Int { self == .full ? 10_000_000 : 1_000_000 }
    var p5Streams: Int { self == .full ? 1_000_000 : 100_000 }
    var concurrentCommits: Int { self == .full ? 100_000 : 20_000 }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run P1, P1p, P2, P3, P4, P5 and P6 with the disk limit; print the table and write the JSON file.")

    @Option(help: "quick (a few minutes) or full (the sizes of Benchmarks/README.md).")
    var size: BenchSize = .quick

    @Option(help: "Folder for the stores, on the disk under test. P5's 10M-event stores are built once and kept.")
    var directory = "bench-out"

    @Option(help: "JSON file for every figure (default: <directory>/results-<size>.json).")
    var json: String?

    @Option(help: "The PostgreSQL server of the StrataPostgres rows of P2, P3 typed and P4 (a URL; default: a throw-away server started for the run; 'none': leave those rows out).")
    var postgres: String?

    @Option(help: "Workloads to run (comma-separated: p1,p3,p1p,extra,p2,p3t,p4,http,p5).")
    var only = "p1,p3,p1p,extra,p2,p3t,p4,http,p5"

    @Option(help: "Seconds wrk sends the HTTP workload's requests.")
    var httpSeconds = 10

    @Option(help: "MiB the killed Strata writer leaves in its active segment after its last rollover (target 64).")
    var tailMiB = 56

    @Option(help: .hidden)  // "durable" or "nosync": only Strata's P1 appends, for `perf record` (no table)
    var profileP1: String?

    @Option(help: .hidden)  // "json", "binary" or "engine": only Strata's P2 commands (or the 64 engine appenders), for `perf record`
    var profileP2: String?

    func run() async throws {
        if profileP1 == "sizes" {
            try sizeBreakdown()
            return
        }
        if let profileP1 {
            var data = CartsData(streamCount: 10_000)
            let batches = (0..<(size.p1Events / 100)).map { _ in data.batch(count: 100) }
            let path = fresh(directory + "/profile-p1")
            let store = try LogStore.open(at: path, options: LogStore.Options(durability: profileP1 == "nosync" ? .never : .always))
            let elapsed = try await timed { for batch in batches { try await store.append(batch) } }
            try await store.close()
            removeTree(path)
            say("Strata P1 (\(profileP1)): \(grouped(Double(size.p1Events) / elapsed)) events/s, \(fixed(elapsed / Double(batches.count) * 1e6, 1)) µs per append")
            return
        }
        if let profileP2 {
            try await P2.profile(profileP2, commands: size.concurrentCommits, directory: directory)
            return
        }
        let started = ContinuousClock.now
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let selected = Set(only.split(separator: ",").map(String.init))
        let report = Report()
        say("strata-bench run --size \(size.rawValue): P1/P1p \(grouped(Double(size.p1Events))) events, P3 \(grouped(Double(size.p3Loads))) loads, P4/P5 \(grouped(Double(size.p5Events))) events / \(grouped(Double(size.p5Streams))) streams")
        say("ratio = how many times better Strata is (Strata/SQLite for rates, SQLite/Strata for times and sizes)")
        say("")

        var data = CartsData(streamCount: 10_000)
        let batches = (0..<(size.p1Events / 100)).map { _ in data.batch(count: 100) }
        if selected.contains("p1") || selected.contains("p3") {
            let p1 = try await P1.run(batches, directory: directory, rounds: size.rounds, report: report)
            if selected.contains("p3") {
                try await P3.run(p1: p1, batches: batches, loads: size.p3Loads, report: report)
            }
            p1.remove()
        }
        if selected.contains("p3") {
            try await P3Layout.run(carts: size.p3Carts, loads: size.p3Loads, directory: directory, report: report)
        }
        if selected.contains("p1p") {
            try await P1p.run(batches, directory: directory, report: report)
        }
        if selected.contains("extra") {
            try await Extras.run(batches, directory: directory, commits: size.concurrentCommits, report: report)
        }
        let server = postgres == "none" || selected.isDisjoint(with: ["p2", "p3t", "p4"]) ? nil : try PostgresServer.start(postgres)
        defer { server?.stop() }
        if selected.contains("p2") {
            try await P2.run(directory: directory, commands: size.concurrentCommits, postgres: server, report: report)
        }
        if selected.contains("p3t") {
            try await P3Typed.run(directory: directory, loads: size.p3Loads, postgres: server, report: report)
        }
        if selected.contains("p4") {
            try await P4.run(events: size.p5Events, streams: size.p5Streams, directory: directory, postgres: server, report: report)
        }
        if selected.contains("http") {
            try await HTTPBench.run(directory: directory, commands: size.concurrentCommits, seconds: httpSeconds, report: report)
        }
        if selected.contains("p5") {
            try await P5.run(
                events: size.p5Events, streams: size.p5Streams, directory: directory, tailMiB: tailMiB, report: report)
        }
        let elapsed = seconds(ContinuousClock.now - started)
        let path = json ?? directory + "/results-\(size.rawValue).json"
        try report.writeJSON(
            to: path, size: size.rawValue, command: CommandLine.arguments.joined(separator: " "), elapsed: elapsed)
        say("")
        say("\(Int(elapsed)) s in all; every figure, the machine and the commit: \(path)")
    }

    /// Where P6's bytes go: per event, the payload, the whole record, and each compressed per 100-event frame;
    /// the payloads alone and the records without their payloads, compressed the same way.
    func sizeBreakdown() throws {
        var data = CartsData(streamCount: 10_000)
        var totals = [Double](repeating: 0, count: 8)
        let frames = 1_000
        for _ in 0..<frames {
            let batch = data.batch(count: 100)
            let raw = try FrameCoding.encodeBody(batch, versions: (1...UInt64(batch.count)).map { $0 })
            let payloads = batch.flatMap(\.payload)
            let empty = batch.map { var r = $0; r.payload = []; return r }
            let envelopes = try FrameCoding.encodeBody(empty, versions: (1...UInt64(batch.count)).map { $0 })
            let sizes = [
                payloads.count, raw.count, FrameCoding.compress(raw, with: .lz4).1.count,
                FrameCoding.compress(raw, with: .zlib(level: 6)).1.count, FrameCoding.compress(payloads, with: .lz4).1.count,
                FrameCoding.compress(payloads, with: .zlib(level: 6)).1.count, envelopes.count,
                FrameCoding.compress(envelopes, with: .lz4).1.count,
            ]
            for (i, size) in sizes.enumerated() { totals[i] += Double(size) }
        }
        let names = [
            "payload (JSON)", "record (envelope + payload)", "record, LZ4 per frame", "record, zlib-6 per frame",
            "payloads alone, LZ4 per frame", "payloads alone, zlib-6 per frame", "envelope alone (no payload)",
            "envelopes alone, LZ4 per frame",
        ]
        let payload = totals[0]
        for (name, total) in zip(names, totals) {
            say("\(name): \(fixed(total / Double(frames * 100), 1)) bytes per event, \(fixed(total / payload, 3)) per payload byte")
        }
        // What cold compaction can reach: frames merged (~500 events, ~122 KiB raw) at zlib 6 and 9.
        var merged = CartsData(streamCount: 10_000)
        var zlib6 = 0.0, zlib9 = 0.0, mergedPayload = 0.0
        for _ in 0..<(frames / 5) {
            let batches = (0..<5).map { _ in merged.batch(count: 100) }
            let records = batches.flatMap { $0 }
            let raw = try FrameCoding.encodeBody(records, versions: (1...UInt64(records.count)).map { $0 })
            mergedPayload += Double(records.reduce(0) { $0 + $1.payload.count })
            zlib6 += Double(FrameCoding.compress(raw, with: .zlib(level: 6)).1.count)
            zlib9 += Double(FrameCoding.compress(raw, with: .zlib(level: 9)).1.count)
        }
        say("record, zlib-6 per 500 events: \(fixed(zlib6 / mergedPayload, 3)) per payload byte; zlib-9: \(fixed(zlib9 / mergedPayload, 3))")
        say("random per event, incompressible: event id 16 + correlation id 16 bytes = \(fixed(32 / (payload / Double(frames * 100)), 3)) per payload byte")
        say("frame header + trailer: \(32 + 4) bytes per frame = \(fixed(36 / (payload / Double(frames)), 3)) per payload byte")
    }
}
