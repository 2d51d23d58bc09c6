import ArgumentParser
import Foundation
import Logging
import Strata
import StrataStorage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct StrataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "Operate on Strata stores.",
        discussion: """
            Exit status of every subcommand: 0 ok, 1 problems found, 2 usage error or unreadable input. The engine's \
            log goes to stderr from level warning up (a torn tail cut at open, an index rebuilt, a refusal); set \
            STRATA_LOG_LEVEL (trace, debug, info, notice, warning, error, critical) to see more or less.
            """,
        version: StrataVersion.string,
        subcommands: [FsckCommand.self, DumpCommand.self, ImportCommand.self, StatsCommand.self, CompactCommand.self, CopyCommand.self, Demo.self, AppendLoop.self, CommandLoop.self, SubscribeLoop.self]
    )

    /// Parses and runs, mapping outcomes onto the exit statuses above (ArgumentParser's own usage status, 64,
    /// becomes 2).
    static func main() async {
        bootstrapLogging()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CommandFailure {
            if !failure.message.isEmpty { writeError(failure.message) }
            terminate(failure.status)
        } catch let code as ExitCode {
            terminate(code.rawValue)
        } catch let error as StorageError {
            writeError("strata: \(error)")
            terminate(CommandFailure.unusable)
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }  // --help, --version
            writeError(fullMessage(for: error))
            terminate(CommandFailure.unusable)
        }
    }
}

/// The engine's log on stderr, from STRATA_LOG_LEVEL (default warning: what the commands print already says what
/// they did, so the engine's notices would repeat it). An unknown level is reported and the default kept.
func bootstrapLogging() {
    let name = getenv("STRATA_LOG_LEVEL").map { String(cString: $0) }
    let level = name.flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .warning
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
    if let name, Logger.Level(rawValue: name.lowercased()) == nil {
        writeError("strata: STRATA_LOG_LEVEL=\(name) is not a level (trace, debug, info, notice, warning, error, critical); using warning")
    }
}

/// Ends a subcommand with a status and a message for stderr.
struct CommandFailure: Error {
    static let problems: Int32 = 1
    static let unusable: Int32 = 2

    var status: Int32
    var message: String
}

/// One write(2) per call on standard error.
func writeError(_ line: String) {
    writeAll(2, Array((line + "\n").utf8))
}

/// One JSON object (keys sorted) and a newline on standard output: what `--json` prints.
func writeJSONLine(_ object: [String: Any]) throws {
    writeAll(1, Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) + [0x0A])
}

func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { raw in
        var done = 0
        while done < raw.count {
            let n = write(fd, raw.baseAddress! + done, raw.count - done)
            if n <= 0 { return }
            done += n
        }
    }
}

/// Buffered standard output for bulk lines (dump): one write(2) per ~256 KiB.
final class OutputBuffer {
    private var bytes: [UInt8] = []
    private let fd: Int32

    init(fd: Int32 = 1) {
        self.fd = fd
        bytes.reserveCapacity(300 << 10)
    }

    func line(_ line: [UInt8]) {
        bytes += line
        bytes.append(0x0A)
        if bytes.count >= 256 << 10 { flush() }
    }

    func flush() {
        writeAll(fd, bytes)
        bytes.removeAll(keepingCapacity: true)
    }
}

/// Progress of a long run on stderr, only when stderr is a terminal, at most a few times a second.
final class Progress {
    private let enabled = isatty(2) != 0
    private var last = ContinuousClock.now

    func update(_ text: @autoclosure () -> String) {
        guard enabled, ContinuousClock.now - last > .milliseconds(200) else { return }
        last = ContinuousClock.now
        writeAll(2, Array(("\r\u{1B}[K" + text()).utf8))
    }

    func done() {
        if enabled { writeAll(2, Array("\r\u{1B}[K".utf8)) }
    }
}

/// Ends the process with `status` (the C library's `exit`; inside a command type `exit` names ArgumentParser's).
func terminate(_ status: Int32) -> Never { exit(status) }
