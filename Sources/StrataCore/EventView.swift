/// A stored event, borrowed: the envelope's numbers, and every variable-length field as a view of the backend's
/// own bytes (a decompressed frame of the native engine, a SQLite row's columns, an in-memory store's arrays).
/// Reading one copies nothing and makes no string.
///
/// **Valid only inside the closure that receives it.** The buffers belong to the store, which reuses or frees
/// them once the closure returns: never keep a view, one of its buffers or a pointer into them. (Swift's
/// `~Escapable` types would let the compiler check this; until lifetime annotations are a stable language feature,
/// the rule is the closure's scope.) Copy out what outlives the closure: `record` gives the whole event as owned
/// values, `tenant`, `typeName` and the others one field each.
public struct EventView {
    /// The event's version within its stream, from 1.
    public let version: UInt64
    public let typeVersion: UInt32
    /// Microseconds since the Unix epoch.
    public let timestampMicros: Int64
    public let eventId: EventID
    public let tenantBytes: UnsafeRawBufferPointer
    public let groupBytes: UnsafeRawBufferPointer
    public let idBytes: UnsafeRawBufferPointer
    public let typeNameBytes: UnsafeRawBufferPointer
    public let correlationId: MetadataID?
    public let causationId: MetadataID?
    public let userBytes: UnsafeRawBufferPointer?
    public let payload: UnsafeRawBufferPointer

    /// A view of an event whose fields are at these places. Every text must be valid UTF-8 within
    /// `RecordLimits`; a backend checks what it read before it makes a view of it.
    @inlinable
    public init(
        version: UInt64, typeVersion: UInt32, timestampMicros: Int64, eventId: EventID, tenantBytes: UnsafeRawBufferPointer,
        groupBytes: UnsafeRawBufferPointer, idBytes: UnsafeRawBufferPointer, typeNameBytes: UnsafeRawBufferPointer,
        correlationId: MetadataID?, causationId: MetadataID?, userBytes: UnsafeRawBufferPointer?, payload: UnsafeRawBufferPointer
    ) {
        self.version = version
        self.typeVersion = typeVersion
        self.timestampMicros = timestampMicros
        self.eventId = eventId
        self.tenantBytes = tenantBytes
        self.groupBytes = groupBytes
        self.idBytes = idBytes
        self.typeNameBytes = typeNameBytes
        self.correlationId = correlationId
        self.causationId = causationId
        self.userBytes = userBytes
        self.payload = payload
    }

    public var tenant: String { String(decoding: tenantBytes, as: UTF8.self) }
    public var group: String { String(decoding: groupBytes, as: UTF8.self) }
    public var id: String { String(decoding: idBytes, as: UTF8.self) }
    public var typeName: String { String(decoding: typeNameBytes, as: UTF8.self) }
    public var key: PartitionKey { PartitionKey(tenant: tenant, group: group, id: id) }
    public var metadata: RecordMetadata {
        RecordMetadata(correlationId: correlationId?.string, causationId: causationId?.string, user: userBytes.map { String(decoding: $0, as: UTF8.self) })
    }

    /// Compares the stored partition key with `key` without allocating.
    public func hasKey(_ key: PartitionKey) -> Bool {
        equalBytes(tenantBytes, key.tenant) && equalBytes(groupBytes, key.group) && equalBytes(idBytes, key.id)
    }

    /// The event as owned values (what was appended, without the version the store gave it).
    public var record: EventRecord {
        EventRecord(
            key: key, typeName: typeName, typeVersion: typeVersion, timestampMicros: timestampMicros, eventId: eventId,
            metadata: metadata, payload: Array(payload))
    }
}

/// A correlation or causation id as stored: UTF-8 text, or a UUID kept as 16 bytes.
public struct MetadataID {
    public let text: UnsafeRawBufferPointer?
    public let uuid: EventID?

    /// An id stored as text (valid UTF-8).
    @inlinable
    public init(text: UnsafeRawBufferPointer) {
        self.text = text
        self.uuid = nil
    }

    /// An id stored as a UUID (its canonical lowercase string is the id).
    @inlinable
    public init(uuid: EventID) {
        self.text = nil
        self.uuid = uuid
    }

    /// The id as the appender gave it.
    public var string: String {
        if let uuid { return uuid.description }
        return String(decoding: text!, as: UTF8.self)
    }
}

/// Whether `bytes` are the UTF-8 of `string`, without allocating.
package func equalBytes(_ bytes: UnsafeRawBufferPointer, _ string: String) -> Bool {
    var copy = string
    return copy.withUTF8 { utf8 in
        utf8.count == bytes.count && (utf8.count == 0 || memcmpEqual(bytes.baseAddress!, utf8.baseAddress!, utf8.count))
    }
}

@inline(__always)
package func memcmpEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    var i = 0
    while i + 8 <= count {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < count {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}
