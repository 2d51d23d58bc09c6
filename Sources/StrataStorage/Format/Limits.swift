import StrataCore

/// Every limit the engine enforces, in one place, with its reason (an event's fields are held to `RecordLimits`,
/// which every backend shares). Writers validate against these before
/// anything reaches the disk; readers check them before trusting or allocating anything (FORMAT.md, "Limits").
public enum Limits {
    /// Tenant name, UTF-8 bytes. Short: it is repeated in every record and every index key.
    public static let tenantBytesMax = RecordLimits.tenantBytesMax
    /// Aggregate group name, UTF-8 bytes.
    public static let groupBytesMax = RecordLimits.groupBytesMax
    /// Aggregate id, UTF-8 bytes. Room for a UUID string or a composite natural key.
    public static let aggregateIdBytesMax = RecordLimits.aggregateIdBytesMax
    /// Event type name, UTF-8 bytes.
    public static let typeNameBytesMax = RecordLimits.typeNameBytesMax
    /// Each metadata string (correlation id, causation id, user), UTF-8 bytes; one length byte on disk.
    public static let metadataFieldBytesMax = RecordLimits.metadataFieldBytesMax
    /// One event's payload. Events are facts, not blobs; 4 MiB leaves room for unusual ones.
    public static let payloadBytesMax = RecordLimits.payloadBytesMax
    /// A frame's uncompressed body: everything one append commits. Also bounds what a reader allocates for
    /// one frame (it stores raw when compression does not pay, so the stored body is never larger).
    public static let frameRawBytesMax = 32 << 20
    /// Records in one frame (one append call).
    public static let recordsPerFrameMax = 1 << 20
    /// A whole frame on disk: header + body + trailer. Readers reject larger lengths before allocating.
    public static let frameBytesMax = FrameHeader.byteCount + frameRawBytesMax + FrameHeader.trailerByteCount
    /// A projector's, projection's or codec's name in a snapshot file (one length byte on disk).
    public static let snapshotNameBytesMax = 128
    /// One snapshot's encoded state. A read model can be large, but one snapshot is read and written whole.
    public static let snapshotStateBytesMax = 1 << 30
    /// Segments listed in one checkpoint (64 MiB segments: 64 TiB of log).
    public static let checkpointSegmentsMax = 1 << 20
}
