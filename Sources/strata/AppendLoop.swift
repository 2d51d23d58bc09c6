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
            let store = try SQLiteEventStore(path: path)
            try await appendBatches { records in
                let receipt = try await store.append(records)
                return (receipt.first, receipt.last)
            }
            try store.close()
        } else {
            let store = try LogStore.open(at: path, options: LogStore.Options(segmentBytesTarget: segmentBytes))
            try await appendBatches { records in
                let range = try await store.append(records)
                return (range.lowerBound, range.upperBound)
            }
            try await store.close()
        }
    }

    /// The batches of every worker, each handed to `append`, with `committed <last> <first>` after each
    /// acknowledged one.
    func appendBatches(_ append: @escaping @Sendable ([EventRecord]) async throws -> (first: UInt64, last: UInt64)) async throws {
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
                                timestampMicros: wallClockMicros(),
                                payload: Array("{\"worker\":\(worker),\"n\":\(n),\"i\":\(i)}".utf8))
                        }
                        let (first, last) = try await append(records)
                        writeLine("committed \(last) \(first)")
                        n += 1
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}

/// One unbuffered write(2) per line: the line is on the pipe before the next append starts, and a SIGKILL
/// cannot lose it in a stdio buffer.
func writeLine(_ line: String) {
    writeAll(1, Array((line + "\n").utf8))
}
