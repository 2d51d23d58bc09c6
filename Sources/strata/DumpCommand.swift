import ArgumentParser
import StrataSQLite
import StrataStorage
import StrataTools

/// `strata dump`: one event per line, from a store or from a single segment file.
struct DumpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Write events as JSONL (what `strata import` reads) or as a table.",
        discussion: """
            STORE is a store folder (opened like an application opens it: a torn tail left by a crash is recovered \
            first; use `strata fsck` to inspect damage without changing anything), an SQLite store file, or a \
            single segment file (read only). An SQLite store's sequence is its position. With --tenant, --group and --id together the stream is read through the index; other filters \
            scan the log. Exit status 1 when the walk stopped at damage (the events before it are written).
            """)

    @Argument(help: "A store folder, an SQLite store file or a segment file.")
    var path: String

    @Option(help: "Only this tenant.") var tenant: String?
    @Option(help: "Only this aggregate group.") var group: String?
    @Option(help: "Only this aggregate id.") var id: String?
    @Option(help: "First global sequence.") var from: UInt64 = 1
    @Option(help: "Last global sequence.") var to: UInt64 = .max
    @Option(help: "At most this many events.") var limit: Int = .max
    @Option(help: "jsonl or table.") var format: String = "jsonl"

    func validate() throws {
        guard DumpFormat(rawValue: format) != nil else { throw ValidationError("--format must be jsonl or table") }
        guard limit >= 0 else { throw ValidationError("--limit must not be negative") }
        guard from <= to else { throw ValidationError("--from must not be after --to") }
    }

    func run() async throws {
        let filter = DumpFilter(tenant: tenant, group: group, id: id, from: from, through: to, limit: limit)
        let format = DumpFormat(rawValue: format)!
        let output = OutputBuffer()
        let progress = Progress()
        var count = 0
        func emit(_ line: [UInt8]) {
            output.line(line)
            count += 1
            progress.update("dumped \(count) events")
        }
        let fs = PosixFileSystem()
        if fs.directoryExists(path) {
            let store = try LogStore.open(at: path, options: LogStore.Options(createIfMissing: false))
            do {
                try Dump.store(store, filter: filter, format: format, output: emit)
            } catch {
                output.flush()
                progress.done()
                try? await store.close()
                throw CommandFailure(status: CommandFailure.problems, message: "strata dump: stopped after \(count) events: \(error)")
            }
            output.flush()
            progress.done()
            try await store.close()
        } else if SQLiteTools.isSQLiteFile(path) {
            let store = try SQLiteEventStore(path: path)
            do {
                try await SQLiteTools.dump(store, filter: filter, format: format, output: emit)
            } catch {
                output.flush()
                progress.done()
                try? store.close()
                throw CommandFailure(status: CommandFailure.problems, message: "strata dump: stopped after \(count) events: \(error)")
            }
            output.flush()
            progress.done()
            try store.close()
        } else if fs.fileExists(path) {
            let (_, problem) = try Dump.segment(path, filter: filter, format: format, output: emit)
            output.flush()
            progress.done()
            if let problem {
                throw CommandFailure(status: CommandFailure.problems, message: "strata dump: stopped after \(count) events: \(problem)")
            }
        } else {
            throw CommandFailure(status: CommandFailure.unusable, message: "strata dump: no store or segment file at \(path)")
        }
    }
}
