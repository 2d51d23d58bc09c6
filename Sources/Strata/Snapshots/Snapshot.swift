import StrataStorage

/// A snapshot as a store keeps it: the state of a subject (an aggregate's stream or a multi-projection) as a
/// projector folded it up to a position, encoded by a codec.
public struct Snapshot<Position: EventPosition>: Sendable, Equatable {
    /// What it is the state of.
    public var subject: SnapshotSubject
    /// The projector that folded it (an aggregate's `projectorName`, a multi-projector's).
    public var projectorName: String
    /// The projector's version: a snapshot of another version is passed over.
    public var projectorVersion: UInt32
    /// The codec that encoded `state` (`EventCodec.name`).
    public var codecName: String
    /// The position of the last event folded in.
    public var position: Position
    /// For an aggregate, its version (the stream version of that last event); 0 for a multi-projection.
    public var version: UInt64
    /// When it was taken, in microseconds since the Unix epoch.
    public var createdMicros: Int64
    /// The encoded state.
    public var state: [UInt8]

    /// A snapshot with these values.
    public init(
        subject: SnapshotSubject, projectorName: String, projectorVersion: UInt32, codecName: String, position: Position,
        version: UInt64, createdMicros: Int64, state: [UInt8]
    ) {
        self.subject = subject
        self.projectorName = projectorName
        self.projectorVersion = projectorVersion
        self.codecName = codecName
        self.position = position
        self.version = version
        self.createdMicros = createdMicros
        self.state = state
    }
}

/// What a snapshot lookup found: the snapshot taken (nil: none), and those passed over on the way, with why.
public struct SnapshotLookup<Position: EventPosition>: Sendable {
    public var snapshot: Snapshot<Position>?
    public var ignored: [PassedOverSnapshot]

    /// A lookup's result.
    public init(snapshot: Snapshot<Position>?, ignored: [PassedOverSnapshot]) {
        self.snapshot = snapshot
        self.ignored = ignored
    }
}

extension Snapshot {
    /// Checks the snapshot against the snapshot format's limits (names of 1 … 128 bytes, a subject within the
    /// partition-key limits, a state of at most 1 GiB), which every backend holds snapshots to.
    package func validateLimits() throws(EventStoreError) {
        do throws(StorageError) {
            try SnapshotRecord(
                subject: subject, projectorName: projectorName, projectorVersion: projectorVersion, codecName: codecName,
                sequence: 0, version: version, createdMicros: createdMicros, state: state
            ).validate()
        } catch {
            throw EventStoreError(error)
        }
    }
}
