/// What an append committed.
public struct AppendResult: Sendable, Equatable {
    /// Global sequences of the batch's records, in batch order.
    public var sequences: ClosedRange<UInt64>
    /// Each appended stream's version after the append.
    public var versions: [PartitionKey: UInt64]
}

/// One stream's part of a batch, worked out by the appending task and checked by the writer.
struct StreamPlan: Sendable {
    var key: PartitionKey
    var hash: UInt64
    var expected: ExpectedVersion
    /// The version the batch was encoded against: its records get assumedHead + 1, + 2, …
    var assumedHead: UInt64
    /// Positions of the stream's first and last record in the batch (count 0: a check-only expectation).
    var firstIndex: Int
    var lastIndex: Int
    var count: Int
}
