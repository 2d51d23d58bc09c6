import ArgumentParser
import Foundation
import StrataStorage
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Lines from the parent and its children share one output: each is written unbuffered, whole.
func say(_ line: String) { writeAll(1, line + "\n") }

/// Progress of a long phase, on stderr and only when stderr is a terminal (so logs and CI stay clean).
func progress(_ line: String) {
    guard isatty(2) != 0 else { return }
    writeAll(2, "\r\u{1B}[K" + line)
}

func progressDone() {
    guard isatty(2) != 0 else { return }
    writeAll(2, "\r\u{1B}[K")
}

private func writeAll(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)
    bytes.withUnsafeMutableBytes { raw in
        var done = 0
        while done < raw.count {
            let n = systemWrite(fd, raw.baseAddress! + done, raw.count - done)
            if n <= 0 { return }
            done += n
        }
    }
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// Seconds `body` took.
func timed(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    return seconds(ContinuousClock.now - start)
}

func timed(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    return seconds(ContinuousClock.now - start)
}

/// Thousands separated, no decimals.
func grouped(_ x: Double) -> String {
    let n = Int(x.rounded())
    let digits = String(abs(n))
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return (n < 0 ? "-" : "") + out
}

func fixed(_ x: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", x) }

func removeTree(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

func fresh(_ path: String) -> String {
    removeTree(path)
    return path
}

/// Sum of the sizes of the regular files under `path` (the store's bytes on disk, index files included).
func directoryBytes(_ path: String) -> Int64 {
    guard let names = try? FileManager.default.subpathsOfDirectory(atPath: path) else { return 0 }
    var total: Int64 = 0
    for name in names {
        var info = stat()
        if stat(path + "/" + name, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG { total += Int64(info.st_size) }
    }
    return total
}

func fileBytes(_ path: String) -> Int64 {
    var info = stat()
    return stat(path, &info) == 0 ? Int64(info.st_size) : 0
}

/// The process's resident set in MiB (VmRSS of /proc/self/status).
func residentMiB() -> Double {
    procField("/proc/self/status", "VmRSS:").map { $0 / 1024 } ?? -1
}

/// The process's peak resident set so far in MiB (VmHWM of /proc/self/status).
func peakResidentMiB() -> Double {
    procField("/proc/self/status", "VmHWM:").map { $0 / 1024 } ?? -1
}

/// Bytes this process (all threads) caused to be sent to the storage layer (`write_bytes` of /proc/self/io).
func storageWriteBytes() -> Int64 {
    Int64(procField("/proc/self/io", "write_bytes:") ?? 0)
}

private func procField(_ file: String, _ name: String) -> Double? {
    guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(name) {
        return Double(line.dropFirst(name.count).filter(\.isNumber))
    }
    return nil
}

func selfExecutable() throws -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, 4095)
    guard n > 0 else { throw ValidationError("cannot find my own executable") }
    return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func spawn(_ executable: String, _ arguments: [String]) throws -> pid_t {
    var pid: pid_t = 0
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    let status = posix_spawn(&pid, executable, nil, nil, argv, environ)
    guard status == 0 else { throw ValidationError("posix_spawn \(executable) failed: \(status)") }
    return pid
}

func runChild(_ executable: String, _ arguments: [String]) throws {
    let pid = try spawn(executable, arguments)
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    guard status == 0 else {
        throw ValidationError("\(([executable] + arguments).joined(separator: " ")) failed (status \(status))")
    }
}

/// The first line a shell command prints, or nil.
func commandOutput(_ command: String) -> String? {
    guard let pipe = popen(command + " 2>/dev/null", "r") else { return nil }
    defer { pclose(pipe) }
    var line = [CChar](repeating: 0, count: 1024)
    guard fgets(&line, 1024, pipe) != nil else { return nil }
    let text = String(decoding: line.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    return trimmed.isEmpty ? nil : trimmed
}

/// Results a child process hands back to its parent: `key=value` lines in a file.
enum ChildResult {
    static func write(_ values: [String: Double], to path: String) throws {
        let text = values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func read(_ path: String) throws -> [String: Double] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Double(parts[1]) { values[String(parts[0])] = value }
        }
        return values
    }
}

final class SharedCounter: Sendable {
    private let value = Atomic<Int>(0)
    /// Returns the next index, from 0.
    func take() -> Int { value.add(1, ordering: .relaxed).oldValue }
}

final class SharedLatencies: Sendable {
    let values = Mutex<[Double]>([])
}

/// Sorted latencies → percentile.
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

/// `write(2)` (the C library's; Glibc on Linux, Darwin on macOS).
func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }
