import Foundation
import Synchronization
import StrataTestSupport
import Testing

@testable import StrataStorage

/// The built `strata` executable (next to the test bundle).
func strataExecutable() throws -> String { try builtExecutable("strata") }

/// Real processes, killed with SIGKILL while appending: every acknowledged batch survives, whole.
@Suite(.serialized) struct KillTests {
    @Test(arguments: [150, 600, 1_500])
    func sigkillWhileAppending(acknowledgementsBeforeKill: Int) async throws {
        let directory = TemporaryDirectory("strata-kill")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try strataExecutable())
        process.arguments = [
            "append-loop", directory.path, "--batch", "7", "--concurrency", "8", "--segment-bytes", "65536",
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()

        let output = Mutex<[UInt8]>([])
        let lines = Atomic<Int>(0)
        let readerDone = Atomic<Bool>(false)
        let handle = pipe.fileHandleForReading
        Thread.detachNewThread {
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                output.withLock { $0.append(contentsOf: data) }
                lines.add(data.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }, ordering: .relaxed)
            }
            readerDone.store(true, ordering: .releasing)
        }
        let deadline = ContinuousClock.now + .seconds(60)
        while lines.load(ordering: .relaxed) < acknowledgementsBeforeKill && ContinuousClock.now < deadline
            && process.isRunning
        {
            try await Task.sleep(for: .milliseconds(2))
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        while !readerDone.load(ordering: .acquiring) { try await Task.sleep(for: .milliseconds(2)) }
        #expect(process.terminationReason == .uncaughtSignal)

        // Every line printed before the process died is an acknowledged batch.
        let text = String(decoding: output.withLock { $0 }, as: UTF8.self)
        let acknowledged: [ClosedRange<UInt64>] = text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 3, parts[0] == "committed", let upper = UInt64(parts[1]), let lower = UInt64(parts[2])
            else { return nil }
            return lower...upper
        }
        #expect(acknowledged.count >= acknowledgementsBeforeKill)

        let store = try LogStore.open(at: directory.path)
        let records = try store.readRecords()
        #expect(records.map(\.sequence) == Array(0..<UInt64(records.count)).map { $0 + 1 })
        let highest = acknowledged.map(\.upperBound).max() ?? 0
        #expect(UInt64(records.count) >= highest, "acknowledged up to \(highest), recovered \(records.count)")
        // Every batch (acknowledged or not) is whole: 7 records of one worker, versions 7k+1...7k+7.
        var i = 0
        while i < records.count {
            let first = records[i].record
            #expect((first.version - 1) % 7 == 0, "batch starts at version \(first.version)")
            guard i + 7 <= records.count else {
                Issue.record("partial batch at the end: \(records.count - i) records")
                break
            }
            for k in 0..<7 {
                #expect(records[i + k].record.key == first.key)
                #expect(records[i + k].record.version == first.version + UInt64(k))
            }
            i += 7
        }
        for range in acknowledged where range.upperBound <= UInt64(records.count) {
            let batch = records[Int(range.lowerBound - 1)..<Int(range.upperBound)]
            #expect(Set(batch.map(\.record.key)).count == 1)
        }
        try verifyIndexAgainstLog(store, context: "after SIGKILL")
        try await store.close()
    }
}
