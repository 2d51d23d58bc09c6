import ArgumentParser
import Strata
import StrataSQLite
import StrataStorage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Appends batches forever (or `--batches` times), printing `committed <last-sequence>` after each
/// acknowledged append. Crash tests run it as a child process and kill it with SIGKILL.
struct AppendLoop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append-loop",
        abstract: "Append deterministic test batches, printing each acknowledgement (for crash tests).",
        shouldDisplay: false)

    @Argument(help: "Store folder (or an SQLite file with --sqlite).")
    var path: String

    @Flag(help: "Append to an SQLite store file (through SQLiteEventStore) instead of a native store folder.")
    var sqlite = false

    @Option(help: "Records per batch.")
    var batch: Int = 10

    @Option(help: "Stop after this many batches (0: never).")
    var batches: Int = 0

    @Option(help: "Concurrent appenders.")
    var concurrency: Int = 4

    @Option(help: "Segment size target in bytes (small values exercise rollover).")
    var segmentBytes: Int = 64 << 20

    func run() async throws {
        if sqlite {
            try await runSQLite()
            return
        }
        let store = try LogStore.open(at: path, options: LogStore.Options(segmentBytesTarget: segmentBytes))
        let batch = self.batch
        let limit = batches
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var n = 0
                    while limit == 0 || n < limit {
                        let records = (0..<batch).map { i in
                            EventRecord(
                                key: PartitionKey(tenant: "t", group: "g", id: "w\(worker)"),
                                typeName: "Tick",
                                timestampMicros: wallClockMicros(),
                                payload: Array("{\"worker\":\(worker),\"n\":\(n),\"i\":\(i)}".utf8))
                        }
                        let range = try await store.append(records)
                        writeLine("committed \(range.upperBound) \(range.lowerBound)")
                        n += 1
                    }
                }
            }
            try await group.waitForAll()
        }
        try await store.close()
    }
}

extension AppendLoop {
    /// The same batches into an SQLite store: `committed <last> <first>` positions after each acknowledged append.
    func runSQLite() async throws {
        let store = try SQLiteEventStore(path: path)
        let batch = self.batch
        let limit = batches
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var n = 0
                    while limit == 0 || n < limit {
                        let records = (0..<batch).map { i in
                            EventRecord(
                                key: PartitionKey(tenant: "t", group: "g", id: "w\(worker)"), typeName: "Tick",
                                payload: Array("{\"worker\":\(worker),\"n\":\(n),\"i\":\(i)}".utf8))
                        }
                        let receipt = try await store.append(records)
                        writeLine("committed \(receipt.last) \(receipt.first)")
                        n += 1
                    }
                }
            }
            try await group.waitForAll()
        }
        try store.close()
    }
}

/// One unbuffered write(2) per line: the line is on the pipe before the next append starts, and a SIGKILL
/// cannot lose it in a stdio buffer.
func writeLine(_ line: String) {
    writeAll(1, Array((line + "\n").utf8))
}
