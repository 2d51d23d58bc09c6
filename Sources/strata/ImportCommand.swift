import ArgumentParser
import StrataStorage
import StrataTools

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `strata import`: appends the events of JSONL lines (the format `strata dump` writes) to a store.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Append events from JSONL (the format `strata dump` writes) in batches.",
        discussion: """
            Each line is one event (see the README, "The JSONL event format"). `sequence` is ignored; a line \
            without `version` takes its stream's next version, a line with one is an expected-version check. \
            Lines are appended in order, in batches of --batch events (each batch atomic). At the first bad line \
            the lines before it are appended, nothing after it, and the status is 1. With --acks, \
            `committed <last-sequence>` is printed on stdout after each acknowledged append (durable with \
            --sync always, the default).
            """)

    @Argument(help: "Store folder (created if missing).")
    var store: String

    @Argument(help: "JSONL file, or - for standard input.")
    var file: String = "-"

    @Option(help: "Events per append.") var batch: Int = 1_000
    @Option(help: "always (fdatasync before each acknowledgement), interval (every 50 ms), or none.")
    var sync: String = "always"
    @Flag(help: "Print `committed <last-sequence>` after each acknowledged append.") var acks = false

    func validate() throws {
        guard ["always", "interval", "none"].contains(sync) else { throw ValidationError("--sync must be always, interval or none") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    }

    func run() async throws {
        let fd: Int32 = file == "-" ? 0 : open(file, O_RDONLY)
        guard fd >= 0 else {
            throw CommandFailure(status: CommandFailure.unusable, message: "strata import: cannot open \(file): \(String(cString: strerror(errno)))")
        }
        defer { if fd != 0 { close(fd) } }
        let durability: LogStore.Durability = sync == "always" ? .always : sync == "interval" ? .interval(milliseconds: 50) : .never
        let log = try LogStore.open(at: store, options: LogStore.Options(durability: durability))
        let acks = self.acks
        let progress = Progress()
        let importer = Importer(store: log, batchSize: batch) { range in
            if acks { writeLine("committed \(range.upperBound)") }
        }
        let lines = LineReader(fileDescriptor: fd)
        let now = wallClockMicros()
        var failure: String?
        do {
            while let line = try lines.next() {
                try await importer.add(line, number: lines.lineNumber, now: now)
                progress.update("imported \(importer.summary.events) events (line \(lines.lineNumber))")
            }
            _ = try await importer.finish()
        } catch let error as Importer.Failure {
            failure = "strata import: \(file == "-" ? "stdin" : file) \(error)"
        } catch {
            failure = "strata import: \(error)"
        }
        progress.done()
        try await log.close()
        let summary = importer.summary
        writeError("imported \(summary.events) events in \(summary.appends) appends" + (summary.appends > 0 ? ", last sequence \(summary.lastSequence)" : ""))
        if let failure { throw CommandFailure(status: CommandFailure.problems, message: failure) }
    }
}
