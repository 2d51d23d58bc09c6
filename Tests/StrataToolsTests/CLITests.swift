import Foundation
@_spi(StrataInternals) import StrataStorage
import StrataTestSupport
import Testing

/// The `strata` command run as a user runs it: the built binary, real folders, exit statuses and outputs.
@Suite(.serialized) struct CLITests {
    let strata: String
    let directory: String

    init() throws {
        strata = try builtExecutable("strata")
        directory = NSTemporaryDirectory() + "strata-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func run(_ arguments: String..., input: String? = nil) throws -> ProcessOutcome {
        try runProcess(strata, arguments, input: input.map { Data($0.utf8) })
    }

    /// A store with three tenants, several carts each, some events with binary payloads, written by the demo.
    func demoStore() throws -> String {
        let path = directory + "/demo"
        let outcome = try run("demo", path, "--events", "1200", "--batch", "50")
        #expect(outcome.status == 0, "\(outcome.stderr)")
        return path
    }

    /// native → SQLite → native with `strata copy`: the dumps (every field of every event, sequences included) are
    /// byte for byte the same; `fsck`, `stats` and `dump` read the SQLite file too; a copy into a store that holds
    /// events, or from nothing, is refused.
    @Test func copyingNativeToSQLiteAndBackKeepsEveryEvent() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = try demoStore()
        let sqlite = directory + "/copy.sqlite", back = directory + "/back"
        let there = try run("copy", source, sqlite)
        #expect(there.status == 0 && there.stdout.contains("copied 1200 events") && there.stdout.contains("every event kept its position"), "\(there.stdout) \(there.stderr)")
        let home = try run("copy", sqlite, back)
        #expect(home.status == 0 && home.stdout.contains("copied 1200 events"), "\(home.stdout) \(home.stderr)")
        let original = try run("dump", source), viaSQLite = try run("dump", sqlite), roundTrip = try run("dump", back)
        #expect(original.status == 0 && viaSQLite.status == 0 && roundTrip.status == 0)
        #expect(original.stdout.split(separator: "\n").count == 1_200)
        #expect(viaSQLite.stdout == original.stdout, "the SQLite copy dumps the same lines")
        #expect(roundTrip.stdout == original.stdout, "native → SQLite → native: event for event the same")
        let fsck = try run("fsck", sqlite)
        #expect(fsck.status == 0 && fsck.stdout.contains("1200 events checked; no problems"), "\(fsck.stdout) \(fsck.stderr)")
        let stats = try run("stats", sqlite, "--json")
        let object = try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any]
        #expect(stats.status == 0 && object?["events"] as? Int == 1_200 && object?["backend"] as? String == "sqlite", "\(stats.stdout)")
        let again = try run("copy", source, sqlite)
        #expect(again.status == 2 && again.stderr.contains("already holds events"), "\(again.stderr)")
        let nothing = try run("copy", directory + "/none", directory + "/x.sqlite")
        #expect(nothing.status == 2 && nothing.stderr.contains("no store at"), "\(nothing.stderr)")
    }

    @Test func dumpThenImportIntoAnEmptyStoreGivesTheSameEvents() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = try demoStore()
        let dump = try run("dump", source)
        #expect(dump.status == 0, "\(dump.stderr)")
        let lines = dump.stdout.split(separator: "\n")
        #expect(lines.count == 1_200)
        let tenants = Set(lines.compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["tenant"] as? String
        })
        #expect(tenants.count >= 2, "the demo store should span several tenants: \(tenants)")

        let copy = directory + "/copy"
        let imported = try run("import", copy, "-", "--batch", "64", "--acks", input: dump.stdout)
        #expect(imported.status == 0, "\(imported.stderr)")
        let acks = imported.stdout.split(separator: "\n")
        #expect(acks.count == (1_200 + 63) / 64)
        #expect(acks.last == "committed 1200")
        let again = try run("dump", copy)
        #expect(again.status == 0)
        #expect(again.stdout == dump.stdout, "same events, versions, sequences and payloads after dump | import")
    }

    @Test func dumpFiltersAndReadsASegmentFileWithoutAStore() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = try demoStore()
        let all = try run("dump", source).stdout.split(separator: "\n").map(String.init)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(all[0].utf8)) as? [String: Any])
        let (tenant, group, id) = (first["tenant"] as! String, first["group"] as! String, first["id"] as! String)
        let stream = try run("dump", source, "--tenant", tenant, "--group", group, "--id", id)
        let expected = all.filter { $0.contains(#""tenant":"\#(tenant)","group":"\#(group)","id":"\#(id)""#) }
        #expect(stream.stdout.split(separator: "\n").map(String.init) == expected)
        let window = try run("dump", source, "--from", "10", "--to", "19", "--format", "table")
        #expect(window.stdout.split(separator: "\n").count == 11)  // header + 10 events
        #expect(try run("dump", source, "--limit", "7").stdout.split(separator: "\n").count == 7)

        let segment = try #require(try FileManager.default.contentsOfDirectory(atPath: source).filter { $0.hasSuffix(".segment") }.sorted().first)
        let fromSegment = try run("dump", source + "/" + segment)
        #expect(fromSegment.status == 0, "\(fromSegment.stderr)")
        #expect(fromSegment.stdout.split(separator: "\n").map(String.init) == Array(all.prefix(fromSegment.stdout.split(separator: "\n").count)))
    }

    @Test func statsFromMetadataAgreeWithADeepScan() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try demoStore()
        // More events after the index's last flush, so the fast path must read the active segment too.
        let more = (0..<30).map { #"{"tenant":"late","group":"Cart","id":"l\#($0)","type":"T","payload":{}}"# }.joined(separator: "\n")
        #expect(try run("import", store, "-", input: more).status == 0)
        func stats(_ extra: String...) throws -> [String: Any] {
            let outcome = try runProcess(strata, ["stats", store, "--json"] + extra)
            #expect(outcome.status == 0, "\(outcome.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        }
        let fast = try stats(), deep = try stats("--deep")
        #expect(fast["events"] as? Int == 1_230 && deep["events"] as? Int == 1_230)
        #expect(fast["streams"] as? Int == deep["streams"] as? Int)
        let fastTenants = try #require(fast["tenants"] as? [String: [String: Int]])
        let deepTenants = try #require(deep["tenants"] as? [String: [String: Int]])
        #expect(fastTenants.mapValues { $0["streams"] } == deepTenants.mapValues { $0["streams"] })
        #expect(deepTenants.values.reduce(0) { $0 + ($1["events"] ?? 0) } == 1_230)
        #expect(deepTenants["late"]?["streams"] == 30)
        #expect((deep["storedPerRawByte"] as? Double).map { $0 > 0 && $0 < 1 } == true)
    }

    /// Snapshot files as an operator sees them: counted by stats, checked by fsck, merged by compact.
    @Test func compactMergesSnapshotFilesAndStatsCountsThem() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try demoStore()
        let snapshots = try SnapshotStore(storePath: store, fileSystem: PosixFileSystem())
        for round in 1...3 {
            try snapshots.write((0..<2).map { n in
                SnapshotRecord(
                    subject: .projection(name: "overview", tenant: n == 0 ? nil : "acme"), projectorName: "overview",
                    projectorVersion: 1, codecName: "json", sequence: UInt64(100 * round + n), version: 0, createdMicros: 0,
                    state: Array(#"{"round":\#(round)}"#.utf8))
            })
        }
        func counts(_ arguments: String...) throws -> [String: Any] {
            let outcome = try runProcess(strata, arguments + ["--json"])
            #expect(outcome.status == 0, "\(outcome.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        }
        var stats = try counts("stats", store)
        #expect(stats["snapshots"] as? Int == 6 && stats["snapshotFiles"] as? Int == 3, "\(stats)")
        #expect((stats["snapshotBytes"] as? Int ?? 0) > 0)
        #expect(try counts("fsck", store)["snapshots"] as? Int == 6)
        let compacted = try counts("compact", store)
        #expect(compacted["snapshotsBefore"] as? Int == 6 && compacted["snapshots"] as? Int == 2 && compacted["snapshotFiles"] as? Int == 1, "\(compacted)")
        stats = try counts("stats", store)
        #expect(stats["snapshots"] as? Int == 2 && stats["snapshotFiles"] as? Int == 1)
        #expect(try run("fsck", store).status == 0)
        let text = try run("compact", store)
        #expect(text.status == 0 && text.stdout.contains("snapshots: 2 in 1 file(s) -> 2 in 1"), "\(text.stdout)")
        #expect(try run("compact", directory + "/none").status == 2)
    }

    /// Cold compaction from the command line: segments rewritten smaller, every event still there (dump before
    /// and after), fsck clean, stats counting the compacted segments.
    @Test func compactRewritesColdSegmentsSmaller() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = directory + "/cold"
        #expect(try run("demo", store, "--events", "3000", "--batch", "10", "--segment-bytes", "16384").status == 0)
        let dumped = try run("dump", store)
        #expect(dumped.status == 0)
        func object(_ outcome: ProcessOutcome) throws -> [String: Any] {
            #expect(outcome.status == 0, "\(outcome.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        }
        // Nothing is a day old yet.
        #expect(try object(run("compact", store, "--json"))["segmentsRead"] as? Int == 0)
        let report = try object(run("compact", store, "--cold-after", "0", "--json"))
        let read = report["segmentsRead"] as? Int ?? 0
        let written = report["segmentsWritten"] as? Int ?? 0
        #expect(read >= 4 && written >= 1 && written < read, "\(report)")
        let before = report["segmentBytesBefore"] as? Int ?? 0
        let after = report["segmentBytesAfter"] as? Int ?? 0
        #expect(after > 0 && after < before, "\(report)")
        #expect(try run("dump", store).stdout == dumped.stdout)
        let fsck = try run("fsck", store)
        #expect(fsck.status == 0, "\(fsck.stdout)")
        let stats = try object(run("stats", store, "--json"))
        #expect(stats["compactedSegments"] as? Int == written, "\(stats)")
        let text = try run("compact", store, "--cold-after", "0")
        #expect(text.status == 0 && text.stdout.contains("no cold segments"), "\(text.stdout)")
    }

    @Test func importStopsAtTheFirstBadLineAndKeepsWhatCameBefore() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let good = { (n: Int) in #"{"tenant":"acme","group":"Cart","id":"c1","type":"ItemAdded","payload":{"n":\#(n)}}"# }
        let input = [good(1), good(2), #"{"tenant":"acme","group":"Cart","id":"c1","type":"ItemAdded","payload":{"n":3},"colour":"red"}"#, good(4)]
            .joined(separator: "\n")
        let store = directory + "/s"
        let outcome = try run("import", store, "-", "--batch", "10", input: input)
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("line 3, column"), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("unknown key \"colour\""), "\(outcome.stderr)")
        let dump = try run("dump", store)
        #expect(dump.stdout.split(separator: "\n").count == 2)
        #expect(dump.stdout.contains(#""payload":{"n":2}"#) && !dump.stdout.contains(#""payload":{"n":4}"#))
    }

    @Test func importRefusesALineLongerThanTheLimitBeforeBufferingIt() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let outcome = try run("import", directory + "/s", "-", input: String(repeating: "a", count: 17 << 20))
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("line 1 is longer than 16777216 bytes"), "\(outcome.stderr)")
    }

    @Test func importChecksVersionsThatLinesCarry() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let line = { (version: Int) in #"{"tenant":"t","group":"g","id":"s","version":\#(version),"type":"T","payload":[\#(version)]}"# }
        let store = directory + "/s"
        #expect(try run("import", store, "-", input: [line(1), line(2)].joined(separator: "\n")).status == 0)
        let conflict = try run("import", store, "-", input: line(2))
        #expect(conflict.status == 1)
        #expect(conflict.stderr.contains("line 1: version conflict: stream t/g/s is at version 2, but the line's version 2 needs it at 1"), "\(conflict.stderr)")
        #expect(try run("import", store, "-", input: line(3)).status == 0)
        #expect(try run("dump", store).stdout.split(separator: "\n").count == 3)
    }

    @Test func usageErrorsAndMissingStoresExitWithTwo() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try run("dump", directory + "/nothing-here").status == 2)
        #expect(try run("dump", directory, "--format", "xml").status == 2)
        #expect(try run("import", directory + "/s", directory + "/no-such-file.jsonl").status == 2)
        #expect(try run("no-such-command").status == 2)
        let help = try run("dump", "--help")
        #expect(help.status == 0)
        #expect(help.stdout.contains("--tenant"))
    }

    /// A store of several segments (800 events of two streams, 16 KiB segments), closed cleanly.
    func segmentedStore(_ name: String = "seg", segmentBytes: Int = 16_384) throws -> (path: String, segments: [String]) {
        let path = directory + "/" + name
        let outcome = try run("append-loop", path, "--batches", "40", "--concurrency", "2", "--segment-bytes", "\(segmentBytes)")
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let segments = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".segment") }.sorted()
        #expect(segments.count >= 2)
        return (path, segments)
    }

    func edit(_ file: String, _ change: (inout [UInt8]) -> Void) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        change(&bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
    }

    @Test func fsckPassesACleanStoreAndNamesEachKindOfDamage() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (store, segments) = try segmentedStore()
        let clean = try run("fsck", store)
        #expect(clean.status == 0, "\(clean.stdout)\(clean.stderr)")
        #expect(clean.stdout.contains("800 events") && clean.stdout.contains("no problems"), "\(clean.stdout)")
        #expect(try run("fsck", store + "/" + segments[0]).status == 0)
        // A segment copied under another name is still checked (its magic); a file that is neither a segment nor an
        // SQLite store is not input fsck can read (status 2), not a "truncated segment" (status 1).
        try FileManager.default.copyItem(atPath: store + "/" + segments[0], toPath: directory + "/renamed.bin")
        #expect(try run("fsck", directory + "/renamed.bin").status == 0)
        try Data("not a store at all".utf8).write(to: URL(fileURLWithPath: directory + "/junk.sqlite"))
        let junk = try run("fsck", directory + "/junk.sqlite")
        #expect(junk.status == 2 && junk.stderr.contains("is not a store folder, a segment file"), "\(junk.stdout) \(junk.stderr)")

        func damaged(_ name: String, _ damage: (String) throws -> Void) throws -> ProcessOutcome {
            let copy = directory + "/" + name
            try FileManager.default.copyItem(atPath: store, toPath: copy)
            try damage(copy)
            return try run("fsck", copy)
        }
        let flipped = try damaged("flipped") { try edit($0 + "/" + segments[0]) { $0[3_000] ^= 0x10 } }
        #expect(flipped.status == 1)
        #expect(flipped.stdout.contains("problem: \(segments[0]) at offset") && flipped.stdout.contains("badChecksum"), "\(flipped.stdout)")

        let torn = try damaged("torn") { copy in try edit(copy + "/" + segments.last!) { $0 += Array(repeating: 0x41, count: 100) } }
        #expect(torn.status == 1)
        #expect(torn.stdout.contains("problem: \(segments.last!) at offset") && torn.stdout.contains("tornTail"), "\(torn.stdout)")

        let run0 = try #require(try FileManager.default.contentsOfDirectory(atPath: store + "/index").first { $0.hasPrefix("run-") })
        let index = try damaged("index") { try FileManager.default.removeItem(atPath: $0 + "/index/" + run0) }
        #expect(index.status == 1)
        #expect(index.stdout.contains("problem: index/\(run0): missingFile"), "\(index.stdout)")

        let header = try damaged("header") { copy in try edit(copy + "/" + segments[1]) { $0 = Array($0.prefix(30)) } }
        #expect(header.status == 1)
        #expect(header.stdout.contains("problem: \(segments[1]) at offset 0: truncated"), "\(header.stdout)")

        let json = try run("fsck", directory + "/flipped", "--json")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["ok"] as? Bool == false)
        #expect((object["problems"] as? [[String: Any]])?.first?["file"] as? String == segments[0])
    }

    @Test func fsckRepairCutsATornTailAndRebuildsTheIndexKeepingEveryEvent() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (store, segments) = try segmentedStore()
        let before = try run("dump", store).stdout
        try edit(store + "/" + segments.last!) { $0 += Array(repeating: 0x41, count: 100) }
        let run0 = try #require(try FileManager.default.contentsOfDirectory(atPath: store + "/index").first { $0.hasPrefix("run-") })
        try FileManager.default.removeItem(atPath: store + "/index/" + run0)
        #expect(try run("fsck", store).status == 1)
        let repair = try run("fsck", store, "--repair")
        #expect(repair.status == 0, "\(repair.stdout)\(repair.stderr)")
        #expect(repair.stdout.contains("repaired: cut 100 bytes"), "\(repair.stdout)")
        #expect(repair.stdout.contains("repaired: moved the index files to quarantine/"), "\(repair.stdout)")
        #expect(try run("fsck", store).status == 0)
        #expect(try run("dump", store).stdout == before, "every intact event is still there")
        let quarantined = try FileManager.default.contentsOfDirectory(atPath: store + "/quarantine")
        #expect(quarantined.contains { $0.hasSuffix(".tail") } && quarantined.contains { $0.hasPrefix("index.fsck-") })
    }

    /// The engine's log reaches the command's stderr from warning up: a clean open says nothing, a torn tail cut at
    /// open is logged (file, bytes, quarantine), STRATA_LOG_LEVEL=notice adds what recovery decided.
    @Test func theEngineLogsWarningsOnStderrAndMoreOnRequest() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try demoStore()
        let clean = try run("dump", store)
        #expect(clean.status == 0 && clean.stderr.isEmpty, "\(clean.stderr)")
        let segment = try #require(try FileManager.default.contentsOfDirectory(atPath: store).filter { $0.hasSuffix(".segment") }.max())
        try edit(store + "/" + segment) { $0 += Array(repeating: 0x41, count: 100) }
        let torn = try run("dump", store)
        #expect(torn.status == 0, "\(torn.stderr)")
        #expect(torn.stderr.contains("warning") && torn.stderr.contains("cut a torn final write"), "\(torn.stderr)")
        #expect(torn.stderr.contains("bytes=100") && torn.stderr.contains("quarantine"), "\(torn.stderr)")
        #expect(!torn.stderr.contains("recovered the store"), "notices stay out by default: \(torn.stderr)")
        let verbose = try runProcess(strata, ["dump", store], environment: ["STRATA_LOG_LEVEL": "debug"])
        #expect(verbose.status == 0 && verbose.stderr.contains("opened the store from its checkpoint"), "\(verbose.stderr)")
    }

    /// The sequences of the frame of `segment` that holds byte `offset` (read from the file before the damage).
    func frameSequences(_ segment: String, holding offset: Int64) throws -> ClosedRange<UInt64> {
        var found: ClosedRange<UInt64>?
        try SegmentInspector.walk(segment, fileSystem: PosixFileSystem()) { step in
            if case .frame(let header, let at, let bytes) = step, at <= offset, offset < at + Int64(bytes.count) {
                found = header.baseSequence...header.lastSequence
            }
            return found == nil
        }
        return try #require(found)
    }

    /// The events of a dump by sequence.
    func eventsBySequence(_ dump: String) throws -> [UInt64: String] {
        var events: [UInt64: String] = [:]
        for line in dump.split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            events[try #require(object["sequence"] as? UInt64)] = String(line)
        }
        return events
    }

    /// Repairs `store`, then checks: fsck exits 0; exactly the sequences `lost` are reported lost and missing; every
    /// other event is still there byte for byte; the store takes appends and stays clean.
    func expectRepairKeepsEveryIntactEvent(_ store: String, before: String, lost: ClosedRange<UInt64>) throws {
        let repair = try run("fsck", store, "--repair")
        #expect(repair.status == 0, "\(repair.stdout)\(repair.stderr)")
        #expect(repair.stdout.contains("repaired: rewrote"), "\(repair.stdout)")
        let check = try run("fsck", store, "--json")
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any])
        let ranges = try #require(report["lostRanges"] as? [[String: Any]])
        #expect(ranges.count == 1)
        #expect(ranges.first?["firstSequence"] as? UInt64 == lost.lowerBound && ranges.first?["lastSequence"] as? UInt64 == lost.upperBound, "\(ranges)")
        var expected = try eventsBySequence(before)
        for sequence in lost { #expect(expected.removeValue(forKey: sequence) != nil) }
        let after = try eventsBySequence(try run("dump", store).stdout)
        #expect(after == expected, "every event outside the lost range is kept, unchanged")
        let stats = try run("stats", store, "--json")
        let counts = try #require(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any])
        #expect(counts["events"] as? Int == expected.count && counts["lostEvents"] as? Int == lost.count, "\(stats.stdout)")
        let more = #"{"tenant":"after","group":"Cart","id":"r1","type":"T","payload":{}}"#
        #expect(try run("import", store, "-", input: more).status == 0)
        #expect(try run("fsck", store).status == 0)
        // The new event continues after every sequence ever acknowledged (the lost ones included): none is reused.
        let afterMore = try eventsBySequence(try run("dump", store).stdout)
        #expect(afterMore.count == expected.count + 1)
        let acknowledgedMax = try eventsBySequence(before).keys.max() ?? 0
        #expect(Set(afterMore.keys).subtracting(expected.keys) == [acknowledgedMax + 1])
        let quarantined = try FileManager.default.contentsOfDirectory(atPath: store + "/quarantine")
        #expect(quarantined.contains { $0.contains(".segment.fsck-") }, "\(quarantined)")
    }

    @Test func fsckRepairReplacesAFlippedBitInASealedSegmentWithALostRange() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (store, segments) = try segmentedStore()
        let before = try run("dump", store).stdout
        let lost = try frameSequences(store + "/" + segments[0], holding: 3_000)
        try edit(store + "/" + segments[0]) { $0[3_000] ^= 0x10 }
        try expectRepairKeepsEveryIntactEvent(store, before: before, lost: lost)
    }

    @Test func fsckRepairReplacesATruncatedSegmentHeaderWithALostRange() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (store, segments) = try segmentedStore(segmentBytes: 4_096)
        try #require(segments.count >= 3)
        let before = try run("dump", store).stdout
        let base = { (name: String) in UInt64(name.split(separator: "-")[1].split(separator: ".")[0])! }
        try edit(store + "/" + segments[1]) { $0 = Array($0.prefix(30)) }
        try expectRepairKeepsEveryIntactEvent(store, before: before, lost: base(segments[1])...(base(segments[2]) - 1))
    }

    @Test func fsckRepairKeepsTheFramesAfterDamageInTheActiveSegment() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (store, segments) = try segmentedStore()
        let before = try run("dump", store).stdout
        let active = store + "/" + segments.last!
        let lost = try frameSequences(active, holding: 200)
        try edit(active) { $0[200] ^= 0x01 }
        let check = try run("fsck", store)
        #expect(check.status == 1 && check.stdout.contains("valid data follows"), "\(check.stdout)")
        try expectRepairKeepsEveryIntactEvent(store, before: before, lost: lost)
    }
}
