#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StrataStorage

/// Reads lines from a file descriptor in large chunks (a dump of millions of events is never held whole).
/// Lines end with `\n` (a `\r` before it is dropped); the last line may lack it.
public final class LineReader {
    /// The longest line accepted: a maximal payload in base64 with a full envelope fits with room to spare.
    public static let lineBytesMax = 16 << 20

    private let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    /// Bytes from `start` up to here hold no newline (each byte is searched once).
    private var searched = 0
    private var atEnd = false
    public private(set) var lineNumber = 0

    public init(fileDescriptor: Int32) { fd = fileDescriptor }

    /// The next line, or nil at the end of the input. A line longer than `lineBytesMax` is an error (checked
    /// before the buffer grows past it).
    public func next() throws(IOError) -> [UInt8]? {
        while true {
            let newline = buffer.withUnsafeBufferPointer { bytes -> Int? in
                var i = max(start, searched)
                while i < bytes.count {
                    if bytes[i] == 0x0A { return i }
                    i += 1
                }
                return nil
            }
            if let newline {
                var end = newline
                if end > start && buffer[end - 1] == 0x0D { end -= 1 }
                let line = Array(buffer[start..<end])
                start = newline + 1
                searched = start
                lineNumber += 1
                return line
            }
            searched = buffer.count
            if atEnd {
                guard start < buffer.count else { return nil }
                let line = Array(buffer[start...])
                start = buffer.count
                lineNumber += 1
                return line
            }
            buffer.removeFirst(start)
            searched -= start
            start = 0
            guard buffer.count <= Self.lineBytesMax else {
                throw IOError(operation: "read", path: "input", errno: EINVAL, message: "line \(lineNumber + 1) is longer than \(Self.lineBytesMax) bytes")
            }
            let chunk = 1 << 20
            let old = buffer.count
            buffer += [UInt8](repeating: 0, count: chunk)
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + old, chunk) }
            guard n >= 0 else {
                let code = errno
                throw IOError(operation: "read", path: "input", errno: code, message: String(cString: strerror(code)))
            }
            buffer.removeLast(chunk - n)
            if n == 0 { atEnd = true }
        }
    }
}

/// `strata import`: appends the events of JSONL lines (`EventLine`) in batches, in order. A line with a
/// `version` is an expected-version check for its stream; lines without one take the next version.
public final class Importer {
    /// Why an import stopped; the lines before `line` were appended (or, for a conflict, the lines before the
    /// batch that holds it).
    public struct Failure: Error, CustomStringConvertible {
        public var line: Int
        /// 1-based byte offset in the line, for lines that do not parse.
        public var column: Int?
        public var message: String
        public var description: String { "line \(line)" + (column.map { ", column \($0)" } ?? "") + ": \(message)" }

        init(line: Int, column: Int? = nil, message: String) {
            self.line = line
            self.column = column
            self.message = message
        }
    }

    public struct Summary: Sendable {
        public var lines = 0
        public var events = 0
        public var appends = 0
        public var lastSequence: UInt64 = 0
    }

    private struct StreamInBatch {
        var lastVersion: UInt64?
    }

    let store: LogStore
    let batchSize: Int
    let onCommit: (ClosedRange<UInt64>) -> Void
    private var pending: [EventRecord] = []
    private var pendingLines: [Int] = []
    private var expectations: [PartitionKey: ExpectedVersion] = [:]
    private var streams: [PartitionKey: StreamInBatch] = [:]
    public private(set) var summary = Summary()

    /// `onCommit` runs after each acknowledged append with its sequences.
    public init(store: LogStore, batchSize: Int = 100, onCommit: @escaping (ClosedRange<UInt64>) -> Void = { _ in }) {
        self.store = store
        self.batchSize = max(1, min(batchSize, Limits.recordsPerFrameMax))
        self.onCommit = onCommit
    }

    /// Decodes and queues one line; appends when a batch is full. Empty lines are skipped.
    public func add(_ line: [UInt8], number: Int, now: Int64) async throws(Failure) {
        summary.lines = number
        guard line.contains(where: { $0 != 0x20 && $0 != 0x09 }) else { return }
        let decoded: EventLine.Decoded
        do throws(EventLine.Problem) {
            decoded = try EventLine.decode(line, now: now)
        } catch {
            try await flush()  // what came before a bad line is appended; nothing after it
            throw Failure(line: number, column: error.column, message: error.reason)
        }
        let key = decoded.record.key
        if let version = decoded.version {
            // A versioned line continues its stream's batch only if the stream's lines there are versioned and
            // this is the next one; otherwise the batch so far is appended first and the check starts afresh.
            if let state = streams[key], state.lastVersion == nil || state.lastVersion! + 1 != version {
                try await flush()
            }
            if streams[key] == nil { expectations[key] = .exactly(version - 1) }
            streams[key] = StreamInBatch(lastVersion: version)
        } else if streams[key] == nil {
            streams[key] = StreamInBatch(lastVersion: nil)
        } else {
            streams[key]!.lastVersion = nil
        }
        pending.append(decoded.record)
        pendingLines.append(number)
        if pending.count >= batchSize { try await flush() }
    }

    /// Appends what is queued.
    public func finish() async throws(Failure) -> Summary {
        try await flush()
        return summary
    }

    private func flush() async throws(Failure) {
        guard !pending.isEmpty else { return }
        let records = pending, lines = pendingLines, expecting = expectations
        pending.removeAll(keepingCapacity: true)
        pendingLines.removeAll(keepingCapacity: true)
        expectations.removeAll(keepingCapacity: true)
        streams.removeAll(keepingCapacity: true)
        do throws(StorageError) {
            let result = try await store.append(records, expecting: expecting)
            summary.events += records.count
            summary.appends += 1
            summary.lastSequence = result.sequences.upperBound
            onCommit(result.sequences)
        } catch {
            if case .versionConflict(let stream, .exactly(let expected), let actual) = error {
                let line = zip(records, lines).first { $0.0.key == stream }?.1 ?? lines[0]
                throw Failure(
                    line: line,
                    message: "version conflict: stream \(stream) is at version \(actual), but the line's version \(expected + 1) needs it at \(expected) (lines \(lines[0])–\(lines[lines.count - 1]) not appended)")
            }
            throw Failure(line: lines[0], message: "\(error) (lines \(lines[0])–\(lines[lines.count - 1]) not appended)")
        }
    }
}
