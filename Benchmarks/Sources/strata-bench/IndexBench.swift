import ArgumentParser
import StrataStorage

/// Lines from the parent and its children share one output: each is written unbuffered, whole.
func say(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    bytes.withUnsafeMutableBytes { raw in
        var done = 0
        while done < raw.count {
            let n = Glibc.write(1, raw.baseAddress! + done, raw.count - done)
            if n <= 0 { return }
            done += n
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// The partition-index benchmark of the index issue: a store of 10M events over 1M streams, built once; then,
/// each in a fresh process, open after a clean close, open after a SIGKILLed writer, RSS after open, and
/// random reads of 100-event streams.
struct Index: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open time, RSS and stream-read latency on a 10M-event / 1M-stream store.",
        subcommands: [IndexRun.self, IndexBuild.self, IndexProbe.self, IndexCrashWriter.self],
        defaultSubcommand: IndexRun.self)
}

/// Stream layout of the benchmark store: `longStreams` streams of 100 events (read by the probe), the rest of
/// the events spread over short streams.
struct IndexLayout {
    var events: Int
    var streams: Int
    var longStreams: Int { min(10_000, streams / 10) }

    func key(_ n: Int) -> PartitionKey {
        let hex = String(UInt64(n) &* 0x9E37_79B9_7F4A_7C15, radix: 16)
        let id = String(repeating: "0", count: 16 - hex.count) + hex + "-\(n)"
        return PartitionKey(tenant: "tenant-\(n % 10)", group: n < longStreams ? "Cart" : "Order", id: id)
    }
}

/// The store's size, shared by every index subcommand (the parent passes it on to its children).
struct LayoutOptions: ParsableArguments {
    @Option var events = 10_000_000
    @Option var streams = 1_000_000

    var layout: IndexLayout { IndexLayout(events: events, streams: streams) }
    var arguments: [String] { ["--events", "\(events)", "--streams", "\(streams)"] }
}

struct IndexRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Build (once) and measure everything.")

    @Option var directory = "bench-out"
    @OptionGroup var size: LayoutOptions
    @Option var reads = 100_000
    @Option(help: "MiB the killed writer leaves in a fresh active segment (the segment target is 64).")
    var tailMiB = 56

    func run() async throws {
        let (events, streams) = (size.events, size.streams)
        let store = directory + "/index-store-\(events)-\(streams)"
        let me = try selfExecutable()
        if !PosixFileSystem().fileExists(store + "/CHECKPOINT") {
            try runChild(me, ["index", "build", store] + size.arguments)
        }
        say("store: \(store) (\(events) events, \(streams) streams)")
        say("-- open after clean close (fresh process)")
        try runChild(me, ["index", "probe", store, "--reads", "\(reads)"] + size.arguments)
        say("-- open after a SIGKILLed writer (fresh process)")
        let pid = try spawn(me, ["index", "crash-writer", store] + size.arguments)
        // The worst case: let it write most of a segment past the last flush (the index flushes and the
        // checkpoint moves at every rollover), then kill it.
        let target = Int64(tailMiB) << 20
        let deadline = ContinuousClock.now + .seconds(120)
        var tail: Int64 = 0
        var startSegment: String?
        while ContinuousClock.now < deadline {
            usleep(50_000)
            guard let last = try PosixFileSystem().listDirectory(store).filter({ $0.hasSuffix(".segment") }).last else { continue }
            if startSegment == nil { startSegment = last }
            let handle = try PosixFileSystem().open(store + "/" + last, mode: .read)
            tail = try handle.size()
            handle.close()
            if last != startSegment && tail >= target { break }
        }
        kill(pid, SIGKILL)
        say("killed the writer with \(tail >> 20) MiB in the active segment since its last rollover")
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        try runChild(me, ["index", "probe", store, "--reads", "\(reads)"] + size.arguments)
        say("-- open after that recovery (clean again)")
        try runChild(me, ["index", "probe", store, "--reads", "\(reads / 10)"] + size.arguments)
    }
}

struct IndexBuild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "build")
    @Argument var store: String
    @OptionGroup var size: LayoutOptions

    func run() async throws {
        let layout = size.layout
        let log = try LogStore.open(at: store, options: LogStore.Options(durability: .never))
        let start = ContinuousClock.now
        var rng = SplitMix64(seed: 42)
        func payload(_ n: Int) -> [UInt8] {
            Array(#"{"item":"product-\#(rng.next() % 50)","quantity":\#(1 + rng.next() % 5),"unitPrice":\#(100 + rng.next() % 9900),"n":\#(n)}"#.utf8)
        }
        func record(_ stream: Int, _ n: Int) -> EventRecord {
            EventRecord(
                key: layout.key(stream), version: 0, typeName: "ItemAdded", timestampMicros: 1_795_000_000_000_000 + Int64(n),
                eventId: EventID.random(using: &rng), metadata: RecordMetadata(correlationId: EventID.random(using: &rng).description, user: "user-\(n % 1000)"),
                payload: payload(n))
        }
        // Long streams: one 100-event append each (P1's shape).
        var written = 0
        for stream in 0..<layout.longStreams {
            try await log.append((0..<100).map { record(stream, $0) })
            written += 100
        }
        // Short streams share the rest, appended 100 events at a time across consecutive streams.
        let shortStreams = layout.streams - layout.longStreams
        let remaining = layout.events - written
        let perStream = remaining / shortStreams
        let extra = remaining - perStream * shortStreams
        var batch: [EventRecord] = []
        batch.reserveCapacity(128)
        for s in 0..<shortStreams {
            let count = perStream + (s < extra ? 1 : 0)
            for n in 0..<count { batch.append(record(layout.longStreams + s, n)) }
            if batch.count >= 100 {
                try await log.append(batch)
                written += batch.count
                batch.removeAll(keepingCapacity: true)
            }
            if s % 100_000 == 0 { FileHandleStderr.write("built \(written) events\n") }
        }
        if !batch.isEmpty {
            try await log.append(batch)
            written += batch.count
        }
        try await log.close()
        say("built \(written) events over \(layout.streams) streams in \(seconds(ContinuousClock.now - start)) s")
    }
}

struct IndexProbe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "probe")
    @Argument var store: String
    @Option var reads = 100_000
    @OptionGroup var size: LayoutOptions

    func run() async throws {
        let layout = size.layout
        let rssBefore = residentMiB()
        let start = ContinuousClock.now
        let log = try LogStore.open(at: store, options: LogStore.Options(createIfMissing: false))
        let openMs = seconds(ContinuousClock.now - start) * 1000
        let rssAfter = residentMiB()
        var first = 0
        try log.readStream(layout.key(0), limit: 1) { _ in first += 1 }
        let firstReadMs = seconds(ContinuousClock.now - start) * 1000
        let report = log.recovery
        row("open", "\(f1(openMs)) ms (first stream read at \(f1(firstReadMs)) ms); used checkpoint \(report.usedCheckpoint), segment bytes read \(report.bytesRead), frames re-indexed \(report.indexFramesScanned)\(report.indexProblem.map { ", index rebuilt: \($0)" } ?? "")")
        row("RSS", "\(f1(rssAfter)) MiB after open (\(f1(rssBefore)) MiB before)")
        var rng = SplitMix64(seed: 9)
        var latencies: [Double] = []
        latencies.reserveCapacity(reads)
        var total = 0
        for _ in 0..<reads {
            let key = layout.key(Int(rng.next() % UInt64(layout.longStreams)))
            let t0 = ContinuousClock.now
            var n = 0
            var bytes = 0
            try log.readStream(key) { record in
                n += 1
                bytes &+= record.payload.count
            }
            latencies.append(seconds(ContinuousClock.now - t0) * 1e6)
            total += n
            precondition(n == 100, "stream \(key) has \(n) events")
        }
        latencies.sort()
        row("read 100-event stream", "p50 \(f1(latencies[reads / 2])) µs, p99 \(f1(latencies[reads * 99 / 100])) µs, \(total / reads) events each, \(reads) reads")
        try await log.close()
    }
}

struct IndexCrashWriter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "crash-writer")
    @Argument var store: String
    @OptionGroup var size: LayoutOptions

    func run() async throws {
        let layout = size.layout
        let log = try LogStore.open(at: store, options: LogStore.Options(durability: .interval(milliseconds: 50)))
        var rng = SplitMix64(seed: UInt64(getpid()))
        var n = 0
        while true {
            let stream = layout.longStreams + Int(rng.next() % UInt64(layout.streams - layout.longStreams))
            try await log.append((0..<100).map { i in
                EventRecord(
                    key: layout.key(stream), version: 0, typeName: "ItemAdded", timestampMicros: Int64(n + i),
                    eventId: EventID.random(using: &rng), payload: Array(#"{"item":"crash","n":\#(n + i)}"#.utf8))
            })
            n += 100
        }
    }
}

func residentMiB() -> Double {
    guard let file = fopen("/proc/self/status", "r") else { return -1 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, 256, file) != nil {
        let text = String(decoding: line.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix("VmRSS:") {
            let digits = text.filter(\.isNumber)
            return (Double(digits) ?? -1) / 1024
        }
    }
    return -1
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
    guard status == 0 else { throw ValidationError("posix_spawn failed: \(status)") }
    return pid
}

func runChild(_ executable: String, _ arguments: [String]) throws {
    let pid = try spawn(executable, arguments)
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    guard status == 0 else { throw ValidationError("\(arguments.prefix(2).joined(separator: " ")) failed (status \(status))") }
}

enum FileHandleStderr {
    static func write(_ text: String) {
        guard isatty(2) != 0 else { return }
        var bytes = Array(text.utf8)
        _ = Glibc.write(2, &bytes, bytes.count)
    }
}
