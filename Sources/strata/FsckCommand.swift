import ArgumentParser
import Foundation
import StrataStorage

/// `strata fsck`: verify a store (or one segment file) without changing it; `--repair` fixes what can be fixed
/// from the data itself and moves, never deletes, what it replaces into `quarantine/`.
struct FsckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck",
        abstract: "Verify every byte of a store: segments, frames, records, sequences, checkpoint, index.",
        discussion: """
            Without --repair nothing is written. Each problem is reported with its file, offset and what was \
            expected. --repair cuts a torn tail (the cut bytes are copied to quarantine/), and moves a damaged \
            checkpoint or index into quarantine/ and rebuilds it from the segments; then it checks again. Damage \
            inside segment data (other than a torn final write) is reported and left alone: the store is not even \
            opened, since recovery would cut the log there and drop the intact frames after it. Exit status: 0 no problems \
            (after repair, if asked), 1 problems remain, 2 not a store or segment file.
            """)

    @Argument(help: "A store folder or a single segment file.")
    var path: String

    @Flag(help: "Repair what can be repaired, then check again.") var repair = false
    @Flag(help: "Print the report as one JSON object.") var json = false

    func run() async throws {
        let fs = PosixFileSystem()
        let progress = Progress()
        var repaired: [String] = []
        var report: StoreCheck.Report
        if fs.directoryExists(path) {
            report = try StoreCheck.check(store: path, fileSystem: fs) { progress.update($0) }
            if repair && !report.problems.isEmpty {
                repaired = try await Repair.run(store: path, problems: report.problems)
                report = try StoreCheck.check(store: path, fileSystem: fs) { progress.update($0) }
            }
        } else if fs.fileExists(path) {
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
                "problems": report.problems.map { problem -> [String: Any] in
                    var entry: [String: Any] = ["file": problem.file, "kind": problem.kind, "detail": problem.detail]
                    if let offset = problem.offset { entry["offset"] = offset }
                    return entry
                },
                "notes": report.notes, "repaired": repaired, "ok": report.problems.isEmpty,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            writeAll(1, Array(data) + [0x0A])
        } else {
            var lines = repaired.map { $0.hasPrefix("not repaired") ? $0 : "repaired: \($0)" }
            lines += report.problems.map { "problem: \($0)" }
            lines += report.notes.map { "note: \($0)" }
            lines.append("\(path): \(report.segments) segments, \(report.frames) frames, \(report.events) events, \(report.streams) streams, \(report.bytes) bytes of segments, \(report.indexFiles) index files; \(report.problems.isEmpty ? "no problems" : report.problems.count == 1 ? "1 problem" : "\(report.problems.count) problems")")
            writeAll(1, Array(lines.joined(separator: "\n").utf8) + [0x0A])
        }
        if !report.problems.isEmpty { throw ExitCode(CommandFailure.problems) }
    }
}

/// What `fsck --repair` does with the problems a check found.
enum Repair {
    static func run(store: String, problems: [StoreCheck.Problem]) async throws -> [String] {
        var done: [String] = []
        // Damage inside segment data (not a torn final write) is left alone: opening the store would let recovery
        // cut the log at the damage and drop the intact frames after it. That needs a person (or a later version
        // that can keep a gap).
        let segmentDamage = problems.filter { $0.file.hasSuffix(".segment") && $0.kind != "tornTail" }
        if !segmentDamage.isEmpty {
            return segmentDamage.map { "not repaired: \($0.file) at offset \($0.offset ?? 0): \($0.kind) (damage inside segment data; restore the file from a copy, or move it and everything after it aside)" }
        }
        let stamp = Int(Date().timeIntervalSince1970)
        let quarantine = store + "/quarantine"
        func moveToQuarantine(_ relative: String) throws {
            try FileManager.default.createDirectory(atPath: quarantine, withIntermediateDirectories: true)
            let target = quarantine + "/" + relative.replacingOccurrences(of: "/", with: "-") + ".fsck-\(stamp)"
            try FileManager.default.moveItem(atPath: store + "/" + relative, toPath: target)
            done.append("moved \(relative) to quarantine/\(target.split(separator: "/").last!)")
        }
        if problems.contains(where: { $0.file == "CHECKPOINT" }) && FileManager.default.fileExists(atPath: store + "/CHECKPOINT") {
            try moveToQuarantine("CHECKPOINT")
        }
        if problems.contains(where: { $0.file == "index" || $0.file.hasPrefix("index/") }),
            FileManager.default.fileExists(atPath: store + "/index")
        {
            try moveToQuarantine("index")
        }
        // Opening runs recovery: a torn tail is cut (and copied to quarantine/), a missing index is rebuilt from
        // the segments, a missing checkpoint is written again on close.
        let log = try LogStore.open(at: store, options: LogStore.Options(createIfMissing: false))
        if let cut = log.recovery.truncation {
            done.append("cut \(cut.bytesRemoved) bytes from \(cut.file) at offset \(cut.offset) (\(cut.reason))" + (cut.savedAs.map { ", saved as \($0)" } ?? ""))
        }
        await log.waitForIndexRepair()
        try await log.close()
        return done
    }
}
