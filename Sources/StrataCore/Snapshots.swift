/// What a snapshot is the state of: one stream (an aggregate) or a multi-projection, over all tenants or one.
public enum SnapshotSubject: Hashable, Sendable, CustomStringConvertible {
    case stream(PartitionKey)
    /// A multi-projection by its name; `tenant` nil: over all tenants.
    case projection(name: String, tenant: String?)

    public var description: String {
        switch self {
        case .stream(let key): "stream \(key)"
        case .projection(let name, let tenant): "projection \(name)" + (tenant.map { " of tenant \($0)" } ?? "")
        }
    }
}

/// Why a snapshot was passed over: a load then uses the next older one, or replays from the start, so a load always
/// equals a full replay. Code that cares (a test, a metric, a log line) switches on it; `description` reads well.
public enum SnapshotRejection: Error, Sendable, Equatable, CustomStringConvertible {
    /// The snapshot could not be read, or failed its checksum: the backend's error (the native engine's
    /// `StorageError` names the file and offset).
    case unreadable(any Error & Sendable)
    /// Written by another version of the projector (its fold may differ).
    case projectorVersion(found: UInt32, expected: UInt32)
    /// Encoded by another codec than the reader's.
    case codec(found: String, expected: String)
    /// Past the end of the log: the log lost the events it folded (a repair after the snapshot was taken).
    /// Positions in their string form.
    case pastEndOfLog(position: String, logEnd: String)
    /// At a stream version past the one the reader asked for.
    case pastVersion(version: UInt64, bound: UInt64)
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
        case .pastEndOfLog(let position, let logEnd): "at position \(position), past the end of the log (position \(logEnd))"
        case .pastVersion(let version, let bound): "at version \(version), past version \(bound)"
        case .notSnapshotted(let projector): "\(projector)'s state is not snapshotted"
        case .undecodable(let reason): "the state does not decode: \(reason)"
        }
    }
}

/// A snapshot a lookup passed over: where it was, its position (nil when it could not be read), and why.
public struct PassedOverSnapshot: Sendable, Equatable, CustomStringConvertible {
    /// Where the backend keeps it (the native engine's snapshot file; empty when there is nothing to say).
    public var location: String
    /// The position of the last event it folded, in its string form (nil when the snapshot could not be read).
    public var position: String?
    /// Why it was passed over.
    public var reason: SnapshotRejection

    /// A snapshot at `location` and `position`, passed over for `reason`.
    public init(location: String, position: String?, reason: SnapshotRejection) {
        self.location = location
        self.position = position
        self.reason = reason
    }

    /// Where it was and why it was passed over.
    public var description: String {
        let at = position.map { "snapshot at position \($0)" } ?? "snapshots"
        return location.isEmpty ? "\(at): \(reason)" : "\(at) in \(location): \(reason)"
    }
}

extension SnapshotRejection {
    public static func == (a: SnapshotRejection, b: SnapshotRejection) -> Bool {
        switch (a, b) {
        case (.unreadable(let x), .unreadable(let y)): equalErrors(x, y)
        case (.projectorVersion(let f1, let e1), .projectorVersion(let f2, let e2)): f1 == f2 && e1 == e2
        case (.codec(let f1, let e1), .codec(let f2, let e2)): f1 == f2 && e1 == e2
        case (.pastEndOfLog(let p1, let l1), .pastEndOfLog(let p2, let l2)): p1 == p2 && l1 == l2
        case (.pastVersion(let v1, let b1), .pastVersion(let v2, let b2)): v1 == v2 && b1 == b2
        case (.notSnapshotted(let p1), .notSnapshotted(let p2)): p1 == p2
        case (.undecodable(let r1), .undecodable(let r2)): r1 == r2
        default: false
        }
    }
}

/// Whether two errors are equal: of one `Equatable` type and `==`. Errors of types that are not `Equatable` are
/// never equal.
package func equalErrors(_ a: any Error, _ b: any Error) -> Bool {
    func equal<E: Equatable>(_ a: E, _ b: any Error) -> Bool { (b as? E) == a }
    guard let a = a as? any Equatable else { return false }
    return equal(a, b)
}
