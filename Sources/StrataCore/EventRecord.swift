/// Who and what caused an event. All optional.
public struct RecordMetadata: Hashable, Sendable {
    public var correlationId: String?
    public var causationId: String?
    public var user: String?

    public init(correlationId: String? = nil, causationId: String? = nil, user: String? = nil) {
        self.correlationId = correlationId
        self.causationId = causationId
        self.user = user
    }
}

/// One event as every backend stores it: an opaque payload with its envelope. The stream version and the
/// position in the global order are given by the store when the batch commits.
public struct EventRecord: Hashable, Sendable {
    public var key: PartitionKey
    public var typeName: String
    public var typeVersion: UInt32
    /// Microseconds since the Unix epoch.
    public var timestampMicros: Int64
    public var eventId: EventID
    public var metadata: RecordMetadata
    public var payload: [UInt8]

    public init(
        key: PartitionKey, typeName: String, typeVersion: UInt32 = 1, timestampMicros: Int64 = wallClockMicros(),
        eventId: EventID = .random(), metadata: RecordMetadata = RecordMetadata(), payload: [UInt8]
    ) {
        self.key = key
        self.typeName = typeName
        self.typeVersion = typeVersion
        self.timestampMicros = timestampMicros
        self.eventId = eventId
        self.metadata = metadata
        self.payload = payload
    }

    /// What breaks a limit of `RecordLimits` (nil: nothing), in words naming the field.
    public var limitViolation: String? {
        withUnsafePointer(to: self) { Self.limitViolation(of: $0) }
    }

    /// `limitViolation` of the record at `record`, read in place (the engine's append path checks every record of a
    /// batch without copying it).
    @inline(__always)
    package static func limitViolation(of record: UnsafePointer<EventRecord>) -> String? {
        func check(_ value: String, _ field: String, _ max: Int, allowEmpty: Bool = false) -> String? {
            let n = value.utf8.count
            if n == 0 && !allowEmpty { return "\(field) is empty" }
            if n > max { return "\(field) is \(n) bytes; the limit is \(max)" }
            return nil
        }
        if let problem = check(record.pointee.key.tenant, "tenant", RecordLimits.tenantBytesMax)
            ?? check(record.pointee.key.group, "aggregate group", RecordLimits.groupBytesMax)
            ?? check(record.pointee.key.id, "aggregate id", RecordLimits.aggregateIdBytesMax)
            ?? check(record.pointee.typeName, "type name", RecordLimits.typeNameBytesMax)
        {
            return problem
        }
        let metadata = record.pointee.metadata
        for (value, field) in [(metadata.correlationId, "correlation id"), (metadata.causationId, "causation id"), (metadata.user, "user")] {
            if let value, let problem = check(value, field, RecordLimits.metadataFieldBytesMax, allowEmpty: true) { return problem }
        }
        if record.pointee.payload.count > RecordLimits.payloadBytesMax {
            return "payload is \(record.pointee.payload.count) bytes; the limit is \(RecordLimits.payloadBytesMax)"
        }
        return nil
    }
}

/// The limits every backend holds an event to, so that a store copies between backends without loss (the native
/// format's field sizes, FORMAT.md "Limits"). Lengths are UTF-8 bytes.
public enum RecordLimits {
    /// A tenant: 1 … 64 bytes.
    public static let tenantBytesMax = 64
    /// An aggregate group: 1 … 64 bytes.
    public static let groupBytesMax = 64
    /// An aggregate id: 1 … 128 bytes.
    public static let aggregateIdBytesMax = 128
    /// An event type name: 1 … 128 bytes.
    public static let typeNameBytesMax = 128
    /// A correlation id, causation id or user: 0 … 255 bytes.
    public static let metadataFieldBytesMax = 255
    /// A payload: at most 4 MiB.
    public static let payloadBytesMax = 4 << 20
}
