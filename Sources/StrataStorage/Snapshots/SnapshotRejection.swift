/// Why a snapshot was passed over: a load then uses the next older one, or replays from the start, so a load always
/// equals a full replay. Code that cares (a test, a metric, a log line) switches on it; `description` reads well.
public enum SnapshotRejection: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file or the record could not be read, or failed its checksum (the error names the file and offset).
    case unreadable(StorageError)
    /// Written by another version of the projector (its fold may differ).
    case projectorVersion(found: UInt32, expected: UInt32)
    /// Encoded by another codec than the reader's.
    case codec(found: String, expected: String)
    /// Past the end of the log: the log lost the events it folded (a repair after the snapshot was taken).
    case pastEndOfLog(sequence: UInt64, logEnd: UInt64)
    /// At a stream version past the one the reader asked for.
    case pastVersion(version: UInt64, bound: UInt64)
    /// Its sequence is not a position of this store (a backend whose positions are not global sequences).
    case notAPosition(sequence: UInt64)
    /// The projector's state is not snapshotted (not `Codable`, no encoder of its own).
    case notSnapshotted(projector: String)
    /// The state does not decode (the reason is the decoder's).
    case undecodable(String)

    /// Why, in words.
    public var description: String {
        switch self {
        case .unreadable(let error): "unreadable: \(error)"
        case .projectorVersion(let found, let expected): "projector version \(found), this one is \(expected)"
        case .codec(let found, let expected): "encoded by codec \(found), not \(expected)"
        case .pastEndOfLog(let sequence, let logEnd): "at sequence \(sequence), past the end of the log (sequence \(logEnd))"
        case .pastVersion(let version, let bound): "at version \(version), past version \(bound)"
        case .notAPosition(let sequence): "its sequence \(sequence) is not a position of this store"
        case .notSnapshotted(let projector): "\(projector)'s state is not snapshotted"
        case .undecodable(let reason): "the state does not decode: \(reason)"
        }
    }
}

/// A snapshot a lookup passed over: where it was, its sequence (nil when the file's index could not be read), and
/// why.
public struct PassedOverSnapshot: Sendable, Equatable, CustomStringConvertible {
    /// The snapshot file (empty for a backend that keeps snapshots elsewhere).
    public var file: String
    /// The snapshot's global sequence (nil when the file's index could not be read).
    public var sequence: UInt64?
    /// Why it was passed over.
    public var reason: SnapshotRejection

    /// A snapshot of `file` at `sequence`, passed over for `reason`.
    public init(file: String, sequence: UInt64?, reason: SnapshotRejection) {
        self.file = file
        self.sequence = sequence
        self.reason = reason
    }

    /// Where it was and why it was passed over.
    public var description: String {
        let at = sequence.map { "snapshot at sequence \($0)" } ?? "snapshots"
        return file.isEmpty ? "\(at): \(reason)" : "\(at) in \(file): \(reason)"
    }
}
