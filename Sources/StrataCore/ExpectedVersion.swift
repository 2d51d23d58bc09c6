/// What an append expects of a stream's current version (optimistic concurrency).
public enum ExpectedVersion: Sendable, Hashable, CustomStringConvertible {
    /// Append after whatever the stream holds.
    case any
    /// The stream must not exist yet.
    case noStream
    /// The stream must be exactly at this version (0 means "no stream").
    case exactly(UInt64)

    public var description: String {
        switch self {
        case .any: "any"
        case .noStream: "no stream"
        case .exactly(let n): "version \(n)"
        }
    }
}
