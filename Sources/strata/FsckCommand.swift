import ArgumentParser
import Foundation
import StrataSQLite
import StrataStorage
import StrataTools

/// `strata fsck`: verify a store (or one segment file) without changing it; `--repair` fixes what can be fixed
/// from the data itself and moves, never deletes, what it replaces into `quarantine/`.
struct FsckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck",
        abstract: "Verify every byte of a store: segments, frames, records, sequences, checkpoint, index.",
        discussion: """
            Without --repair nothing is written. Each problem is reported with its file, offset and what was \
            expected. --repair cuts a torn tail (the cut bytes are copied to quarantine/); rewrites a segment \
            damaged inside its data, keeping every intact frame and putting a lost-range frame where the damaged \
            events were (sequences of the later events do not change; the segment as it was is copied to \
            quarantine/ first); moves a damaged or outdated checkpoint or index into quarantine/ and rebuilds it \
            from the segments; then it checks again, and lists every lost range. Nothing is ever deleted. Exit \
            status: 0 no problems (after repair, if asked), 1 problems remain, 2 not a store or segment file. An \
            SQLite store file is checked by SQLite's integrity_check, every event row read as a read checks it, and \
            each stream's versions (--repair does not apply to it).
            """)

    @Argument(help: "A store folder, a single segment file, or an SQLite store file.")
    var path: String

    @Flag(help: "Repair what can be repaired, then check again.") var repair = false
    @Flag(help: "Print the report as one JSON object.") var json = false

    /// Whether a file is checked as a segment: its name is a segment file's, or it starts with the segment magic
    /// (a damaged segment keeps its name; a copy under another name keeps its magic).
    static func mayBeSegment(_ path: String) -> Bool {
        let name = String(path.split(separator: "/").last ?? "")
        if SegmentFileName.parse(name) != nil { return true }
        guard let handle = FileHandle(forReadingAtPath: path) else { return true }  // unreadable: the check says why
        defer { try? handle.close() }
        return (try? handle.read(upToCount: SegmentHeader.magic.count)).map { Array($0) == SegmentHeader.magic } ?? true
    }

    func run() async throws {
        let fs = PosixFileSystem()
        if !fs.directoryExists(path) && SQLiteTools.isSQLiteFile(path) {
            try await checkSQLite()
            return
        }
        let progress = Progress()
        var repaired: [StoreRepair.RepairStep] = []
        var report: StoreCheck.Report
        if fs.directoryExists(path) {
            report = try StoreCheck.check(store: path, fileSystem: fs) { progress.update($0) }
            if repair && !report.problems.isEmpty {
                repaired = try await StoreRepair.repair(store: path, problems: report.problems, fileSystem: fs)
                report = try StoreCheck.check(store: path, fileSystem: fs) { progress.update($0) }
            }
        } else if fs.fileExists(path) {
            guard Self.mayBeSegment(path) else {
                throw CommandFailure(
                    status: CommandFailure.unusable,
                    message: "strata fsck: \(path) is not a store folder, a segment file (named <number>-<base sequence>.segment or starting with \"STRATSEG\") or an SQLite store file")
            }
            guard !repair else {
                throw CommandFailure(status: CommandFailure.unusable, message: "strata fsck: --repair works on a store folder, not on a single segment file")
            }
            report = try StoreCheck.check(segment: path, fileSystem: fs)
        } else {
            throw CommandFailure(status: CommandFailure.unusable, message: "strata fsck: no store or segment file at \(path)")
        }
        progress.done()
        if json {
            let object: [String: Any] = [
                "path": path, "segments": report.segments, "frames": report.frames, "events": report.events,
                "streams": report.streams, "bytes": report.bytes, "indexFiles": report.indexFiles,
                "snapshotFiles": report.snapshotFiles, "snapshots": report.snapshots,
                "problems": report.problems.map { problem -> [String: Any] in
                    var entry: [String: Any] = ["file": problem.file, "kind": problem.kind.rawValue, "detail": problem.detail]
                    if let offset = problem.offset { entry["offset"] = offset }
                    return entry
                },
                "notes": report.notes, "repaired": repaired.map(\.description), "ok": report.problems.isEmpty,
                "lostEvents": report.lostEvents,
                "lostRanges": report.lostRanges.map { range -> [String: Any] in
                    [
                        "firstSequence": range.firstSequence, "lastSequence": range.lastSequence,
                        "repairedAt": Timestamp.format(micros: range.repairedMicros), "quarantineFile": range.quarantineFile,
                        "originalOffset": range.originalOffset, "originalLength": range.originalLength, "finding": range.finding,
                    ]
                },
            ]
            try writeJSONLine(object)
        } else {
            var lines = repaired.map { $0.outcome == .notRepaired ? "\($0)" : "repaired: \($0)" }
            lines += report.problems.map { "problem: \($0)" }
            lines += report.lostRanges.map { range in
                "lost: sequences \(range.firstSequence)...\(range.lastSequence) (\(range.count) events), repaired \(Timestamp.format(micros: range.repairedMicros)): \(range.finding); the segment as it was is quarantine/\(range.quarantineFile) (bytes \(range.originalOffset) +\(range.originalLength))"
            }
            lines += report.notes.map { "note: \($0)" }
            lines.append("\(path): \(report.segments) segments, \(report.frames) frames and \(report.events) events checked, \(report.streams) streams, \(report.bytes) bytes of segments, \(report.indexFiles) index files, \(report.snapshots) snapshots in \(report.snapshotFiles) files; \(report.problems.isEmpty ? "no problems" : report.problems.count == 1 ? "1 problem" : "\(report.problems.count) problems")")
            writeAll(1, Array(lines.joined(separator: "\n").utf8) + [0x0A])
        }
        if !report.problems.isEmpty { throw ExitCode(CommandFailure.problems) }
    }

    /// An SQLite store: SQLite's integrity check, every row, every stream's versions.
    func checkSQLite() async throws {
        guard !repair else {
            throw CommandFailure(status: CommandFailure.unusable, message: "strata fsck: --repair works on a store folder, not on an SQLite file")
        }
        let store = try SQLiteEventStore(path: path)
        let report = try await SQLiteTools.check(store)
        try store.close()
        if json {
            let object: [String: Any] = ["path": path, "events": report.eventsChecked, "problems": report.problems, "ok": report.problems.isEmpty]
            try writeJSONLine(object)
        } else {
            var lines = report.problems.map { "problem: \($0)" }
            let count = report.problems.count
            lines.append("\(path): SQLite store, \(report.eventsChecked) events checked; \(count == 0 ? "no problems" : count == 1 ? "1 problem" : "\(count) problems")")
            writeAll(1, Array(lines.joined(separator: "\n").utf8) + [0x0A])
        }
        if !report.problems.isEmpty { throw ExitCode(CommandFailure.problems) }
    }
}
