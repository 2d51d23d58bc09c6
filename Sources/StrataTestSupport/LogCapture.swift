import Logging
import StrataStorage
import Synchronization

/// Collects what a `Logger` made from it logs, for tests that read the engine's logs (every level, `trace` on).
public final class LogCapture: Sendable {
    public struct Entry: Sendable, CustomStringConvertible {
        public var level: Logger.Level
        public var message: String
        public var metadata: [String: String]

        public var description: String { "[\(level)] \(message) \(metadata.sorted { $0.key < $1.key })" }
    }

    private let captured = Mutex<[Entry]>([])

    public init() {}

    /// A logger whose every entry lands here.
    public var logger: Logger {
        var logger = Logger(label: "strata.test") { _ in Handler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    /// Everything logged so far, oldest first.
    public var entries: [Entry] { captured.withLock { $0 } }

    /// Entries at `level` or more severe.
    public func entries(atLeast level: Logger.Level) -> [Entry] { entries.filter { $0.level >= level } }

    func append(_ entry: Entry) { captured.withLock { $0.append(entry) } }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var merged = metadata
            for (key, value) in event.metadata ?? [:] { merged[key] = value }
            capture.append(Entry(level: event.level, message: "\(event.message)", metadata: merged.mapValues { "\($0)" }))
        }
    }
}
