import StrataCore

/// A committed record: its global sequence, its stream version, and the event.
public struct StoredRecord: Hashable, Sendable {
    public var sequence: UInt64
    /// The event's version within its stream.
    public var version: UInt64
    public var record: EventRecord

    public init(sequence: UInt64, version: UInt64, record: EventRecord) {
        self.sequence = sequence
        self.version = version
        self.record = record
    }
}
