import Foundation
import Synchronization

/// The path of an executable product built next to the running test bundle (e.g. `strata`), for tests that run
/// the command as a user would.
public func builtExecutable(_ name: String) throws -> String {
    let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
    for _ in 0..<3 {
        let candidate = dir.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "\(name) near \(exe)"])
}

/// What a finished process left: its exit status and both outputs.
public struct ProcessOutcome: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// Runs `executable` with `arguments` (and `input` on stdin, if given) to completion, with
/// `SWIFT_BACKTRACE=enable=no` (a crashing child must not hang on its backtrace).
public func runProcess(
    _ executable: String, _ arguments: [String], input: Data? = nil, environment extra: [String: String] = [:]
) throws -> ProcessOutcome {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["SWIFT_BACKTRACE"] = "enable=no"
    environment.merge(extra) { _, new in new }
    process.environment = environment
    let out = Pipe(), err = Pipe(), stdin = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input == nil ? FileHandle.nullDevice : stdin
    try process.run()
    if let input {
        // Feed stdin on another thread: a child that writes a lot before reading must not deadlock us. A child
        // may exit without reading everything: the write then fails with EPIPE, which must not kill the tests.
        signal(SIGPIPE, SIG_IGN)
        let writer = Thread {
            try? stdin.fileHandleForWriting.write(contentsOf: input)
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
    }
    let errData = Mutex<Data>(Data())
    let errReader = Thread { errData.withLock { $0 = err.fileHandleForReading.readDataToEndOfFile() } }
    errReader.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !errReader.isFinished { usleep(1_000) }
    return ProcessOutcome(
        status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData.withLock { $0 }, as: UTF8.self))
}

/// `runProcess` on a thread of its own, for async tests: waiting for a child never holds one of the few threads
/// Swift's concurrency runs every test's tasks on.
public func runProcessOffPool(
    _ executable: String, _ arguments: [String], input: Data? = nil, environment extra: [String: String] = [:]
) async throws -> ProcessOutcome {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try runProcess(executable, arguments, input: input, environment: extra) }) }.start()
    }
}

/// Runs `executable` with `arguments` until it has printed `afterLines` lines on stdout (or 60 s passed, or it
/// exited), kills it with SIGKILL, and returns every line it printed before it died. What crash tests use: each
/// line a child prints after an acknowledged append is on the pipe before it appends again.
public func runUntilKilled(_ executable: String, _ arguments: [String], afterLines: Int) async throws -> (lines: [String], killed: Bool) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
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
    while lines.load(ordering: .relaxed) < afterLines && ContinuousClock.now < deadline && process.isRunning {
        try await Task.sleep(for: .milliseconds(2))
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    while !readerDone.load(ordering: .acquiring) { try await Task.sleep(for: .milliseconds(2)) }
    let text = String(decoding: output.withLock { $0 }, as: UTF8.self)
    return (text.split(separator: "\n").map(String.init), process.terminationReason == .uncaughtSignal)
}
