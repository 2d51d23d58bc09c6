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
    // (Every field 8-byte aligned and no optional that needs a tag byte: a view is made or passed for every event
    // read, and odd-sized fields made that copy a cluster of unaligned stores.)
    /// The event's version within its stream, from 1.
    public let version: UInt64
    /// Microseconds since the Unix epoch.
    public let timestampMicros: Int64
    public let eventId: EventID
    public let tenantBytes: UnsafeRawBufferPointer
    public let groupBytes: UnsafeRawBufferPointer
    public let idBytes: UnsafeRawBufferPointer
    public let typeNameBytes: UnsafeRawBufferPointer
    public let correlationId: MetadataID?
    public let causationId: MetadataID?
    /// The user, as text (`userBytes`).
    @usableFromInline let user: MetadataID?
    public let payload: UnsafeRawBufferPointer
    /// (Last: the one field narrower than a word.)
    public let typeVersion: UInt32

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
        self.user = userBytes.map(MetadataID.init(text:))
        self.payload = payload
    }

    /// The executing user, as stored (nil: none).
    @inlinable public var userBytes: UnsafeRawBufferPointer? { user?.text }

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

/// A correlation or causation id as stored, in the store's buffer: UTF-8 text, or a UUID's 16 bytes (RFC 4122 order)
/// when the id is a canonical UUID string. Two words, so that an optional one takes no more (views are made for
/// every event read).
public struct MetadataID {
    @usableFromInline let start: UnsafeRawPointer
    /// ≥ 0: text of this many bytes; `uuidMarker`: a UUID's 16 bytes.
    @usableFromInline let encodedCount: Int
    @usableFromInline static let uuidMarker = -1
    /// Where an empty text points (never read; a computed value: a pointer is not `Sendable`).
    @usableFromInline static var empty: UnsafeRawPointer { UnsafeRawPointer(bitPattern: 1)! }

    /// An id stored as text (valid UTF-8).
    @inlinable
    public init(text: UnsafeRawBufferPointer) {
        start = text.baseAddress ?? Self.empty
        encodedCount = text.count
    }

    /// An id stored as a UUID's 16 bytes (its canonical lowercase string is the id).
    @inlinable
    public init(uuidBytes: UnsafeRawBufferPointer) {
        precondition(uuidBytes.count == 16, "a UUID is 16 bytes")
        start = uuidBytes.baseAddress!
        encodedCount = Self.uuidMarker
    }

    /// The text, when the id is stored as text.
    @inlinable
    public var text: UnsafeRawBufferPointer? {
        encodedCount >= 0 ? UnsafeRawBufferPointer(start: encodedCount == 0 ? nil : start, count: encodedCount) : nil
    }

    /// The UUID, when the id is stored as one.
    public var uuid: EventID? {
        guard encodedCount == Self.uuidMarker else { return nil }
        return EventID(
            high: UInt64(bigEndian: start.loadUnaligned(as: UInt64.self)), low: UInt64(bigEndian: start.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
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

/// Whether `count` bytes at `a` and `b` are equal: words compared inline (short keys and names: no call to
/// `memcmp`, whose call costs more than the comparison).
@inlinable @inline(__always)
package func memcmpEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    if count >= 8 {
        var i = 0
        while i + 8 < count {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
                return false
            }
            i += 8
        }
        // The last eight bytes (overlapping the last word compared).
        return a.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
    }
    if count >= 4 {
        return a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
            && a.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self) == b.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
    }
    var i = 0
    while i < count {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}
