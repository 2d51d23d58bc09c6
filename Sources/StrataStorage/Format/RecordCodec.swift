/// The record layout inside a frame's raw body (FORMAT.md, "Records"):
///
///     record      = varint(bodyLength) body
///     body        = varint(sequenceDelta) varint(streamVersion) varint(typeVersion) varint(zigzag(timestamp))
///                   eventId[16] str8(tenant) str8(group) str8(id) str8(typeName)
///                   u8(metadataFlags) [str8(correlationId)] [str8(causationId)] [str8(user)]
///                   varint(payloadLength) payload
///
/// `bodyLength` lets a reader skip a record without decoding it; the partition key comes before the payload so
/// filtering by stream never touches payload bytes.
enum RecordCodec {
    static let metadataCorrelation: UInt8 = 1
    static let metadataCausation: UInt8 = 2
    static let metadataUser: UInt8 = 4
    static let metadataKnownFlags: UInt8 = 7

    /// Checks every field against `Limits`. `index` is the record's position in its batch, for the error.
    static func validate(_ record: EventRecord, index: Int) throws(StorageError) {
        func check(_ value: String, _ field: String, _ max: Int, allowEmpty: Bool = false) throws(StorageError) {
            let n = value.utf8.count
            if n == 0 && !allowEmpty {
                throw .invalidRecord(index: index, reason: "\(field) is empty")
            }
            if n > max {
                throw .invalidRecord(index: index, reason: "\(field) is \(n) bytes; the limit is \(max)")
            }
        }
        try check(record.key.tenant, "tenant", Limits.tenantBytesMax)
        try check(record.key.group, "aggregate group", Limits.groupBytesMax)
        try check(record.key.id, "aggregate id", Limits.aggregateIdBytesMax)
        try check(record.typeName, "type name", Limits.typeNameBytesMax)
        if let value = record.metadata.correlationId {
            try check(value, "correlation id", Limits.metadataFieldBytesMax, allowEmpty: true)
        }
        if let value = record.metadata.causationId {
            try check(value, "causation id", Limits.metadataFieldBytesMax, allowEmpty: true)
        }
        if let value = record.metadata.user {
            try check(value, "user", Limits.metadataFieldBytesMax, allowEmpty: true)
        }
        if record.payload.count > Limits.payloadBytesMax {
            throw .invalidRecord(
                index: index, reason: "payload is \(record.payload.count) bytes; the limit is \(Limits.payloadBytesMax)")
        }
        if record.version == 0 {
            throw .invalidRecord(index: index, reason: "stream version 0; versions start at 1")
        }
    }

    /// Appends one record. Fields must already be validated.
    static func encode(_ record: EventRecord, sequenceDelta: UInt64, into out: inout ByteWriter, scratch: inout ByteWriter) {
        scratch.removeAll()
        scratch.varint(sequenceDelta)
        scratch.varint(record.version)
        scratch.varint(UInt64(record.typeVersion))
        scratch.varint(zigzagEncode(record.timestampMicros))
        scratch.u64BigEndian(record.eventId.high)
        scratch.u64BigEndian(record.eventId.low)
        str8(record.key.tenant, &scratch)
        str8(record.key.group, &scratch)
        str8(record.key.id, &scratch)
        str8(record.typeName, &scratch)
        var flags: UInt8 = 0
        if record.metadata.correlationId != nil { flags |= metadataCorrelation }
        if record.metadata.causationId != nil { flags |= metadataCausation }
        if record.metadata.user != nil { flags |= metadataUser }
        scratch.u8(flags)
        if let value = record.metadata.correlationId { str8(value, &scratch) }
        if let value = record.metadata.causationId { str8(value, &scratch) }
        if let value = record.metadata.user { str8(value, &scratch) }
        scratch.varint(UInt64(record.payload.count))
        out.varint(UInt64(scratch.count + record.payload.count))
        out.raw(scratch.bytes)
        out.raw(record.payload)
    }

    @inline(__always)
    static func str8(_ value: String, _ out: inout ByteWriter) {
        var copy = value
        copy.withUTF8 { utf8 in
            out.u8(UInt8(utf8.count))
            out.raw(UnsafeRawBufferPointer(utf8))
        }
    }
}

/// A record decoded in place: every variable-length field is a view into the frame's decompressed body.
/// Valid only while the buffer it was decoded from is (inside the closure that handed it out).
public struct RecordView {
    public let sequence: UInt64
    public let version: UInt64
    public let typeVersion: UInt32
    public let timestampMicros: Int64
    public let eventId: EventID
    public let tenantBytes: UnsafeRawBufferPointer
    public let groupBytes: UnsafeRawBufferPointer
    public let idBytes: UnsafeRawBufferPointer
    public let typeNameBytes: UnsafeRawBufferPointer
    public let correlationIdBytes: UnsafeRawBufferPointer?
    public let causationIdBytes: UnsafeRawBufferPointer?
    public let userBytes: UnsafeRawBufferPointer?
    public let payload: UnsafeRawBufferPointer

    public var tenant: String { String(decoding: tenantBytes, as: UTF8.self) }
    public var group: String { String(decoding: groupBytes, as: UTF8.self) }
    public var id: String { String(decoding: idBytes, as: UTF8.self) }
    public var typeName: String { String(decoding: typeNameBytes, as: UTF8.self) }
    public var key: PartitionKey { PartitionKey(tenant: tenant, group: group, id: id) }

    /// Compares the stored partition key with `key` without allocating.
    public func hasKey(_ key: PartitionKey) -> Bool {
        Self.equal(tenantBytes, key.tenant) && Self.equal(groupBytes, key.group) && Self.equal(idBytes, key.id)
    }

    static func equal(_ bytes: UnsafeRawBufferPointer, _ string: String) -> Bool {
        var copy = string
        return copy.withUTF8 { utf8 in
            utf8.count == bytes.count && (utf8.count == 0 || memcmpEqual(bytes.baseAddress!, utf8.baseAddress!, utf8.count))
        }
    }

    /// Copies everything out into an owned `StoredRecord`.
    public func materialize() -> StoredRecord {
        func string(_ b: UnsafeRawBufferPointer?) -> String? { b.map { String(decoding: $0, as: UTF8.self) } }
        return StoredRecord(
            sequence: sequence,
            record: EventRecord(
                key: key, version: version, typeName: typeName, typeVersion: typeVersion,
                timestampMicros: timestampMicros, eventId: eventId,
                metadata: RecordMetadata(
                    correlationId: string(correlationIdBytes), causationId: string(causationIdBytes),
                    user: string(userBytes)),
                payload: Array(payload)))
    }

    /// Decodes the record at the reader's position; `baseSequence` is the frame's. Validates every length
    /// against the record's own declared length, so a damaged record cannot reach into its neighbour.
    static func decode(_ reader: inout ByteReader, baseSequence: UInt64) throws(DecodeError) -> RecordView {
        let bodyLength = try reader.varint("record length")
        guard bodyLength <= UInt64(reader.remaining) else {
            throw reader.fail("record length \(bodyLength) exceeds the \(reader.remaining) bytes left in the frame")
        }
        let bodyStart = reader.position
        var r = ByteReader(UnsafeRawBufferPointer(rebasing: reader.buffer[bodyStart..<(bodyStart + Int(bodyLength))]))
        do throws(DecodeError) {
            let delta = try r.varint("sequence delta")
            let version = try r.varint("stream version")
            let typeVersion = try r.varint("type version")
            guard typeVersion <= UInt64(UInt32.max) else { throw r.fail("type version \(typeVersion) out of range") }
            let timestamp = zigzagDecode(try r.varint("timestamp"))
            let idHigh = try r.u64BigEndian("event id")
            let idLow = try r.u64BigEndian("event id")
            let tenant = try str8(&r, "tenant", Limits.tenantBytesMax, allowEmpty: false)
            let group = try str8(&r, "aggregate group", Limits.groupBytesMax, allowEmpty: false)
            let id = try str8(&r, "aggregate id", Limits.aggregateIdBytesMax, allowEmpty: false)
            let typeName = try str8(&r, "type name", Limits.typeNameBytesMax, allowEmpty: false)
            let flags = try r.u8("metadata flags")
            guard flags & ~RecordCodec.metadataKnownFlags == 0 else { throw r.fail("unknown metadata flags \(flags)") }
            let correlation = flags & RecordCodec.metadataCorrelation != 0
                ? try str8(&r, "correlation id", Limits.metadataFieldBytesMax, allowEmpty: true) : nil
            let causation = flags & RecordCodec.metadataCausation != 0
                ? try str8(&r, "causation id", Limits.metadataFieldBytesMax, allowEmpty: true) : nil
            let user = flags & RecordCodec.metadataUser != 0
                ? try str8(&r, "user", Limits.metadataFieldBytesMax, allowEmpty: true) : nil
            let payloadLength = try r.varint("payload length")
            guard payloadLength == UInt64(r.remaining) else {
                throw r.fail("payload length \(payloadLength) does not fill the record's remaining \(r.remaining) bytes")
            }
            let payload = try r.bytes(Int(payloadLength), "payload")
            guard version >= 1 else { throw DecodeError(offset: 0, reason: "stream version 0") }
            let (sequence, overflow) = baseSequence.addingReportingOverflow(delta)
            guard !overflow else { throw DecodeError(offset: 0, reason: "sequence overflows") }
            reader.position = bodyStart + Int(bodyLength)
            return RecordView(
                sequence: sequence, version: version, typeVersion: UInt32(typeVersion), timestampMicros: timestamp,
                eventId: EventID(high: idHigh, low: idLow), tenantBytes: tenant, groupBytes: group, idBytes: id,
                typeNameBytes: typeName, correlationIdBytes: correlation, causationIdBytes: causation,
                userBytes: user, payload: payload)
        } catch {
            throw DecodeError(offset: bodyStart + error.offset, reason: error.reason)
        }
    }

    @inline(__always)
    private static func str8(
        _ r: inout ByteReader, _ what: StaticString, _ max: Int, allowEmpty: Bool
    ) throws(DecodeError) -> UnsafeRawBufferPointer {
        let length = Int(try r.u8(what))
        guard length <= max else { throw r.fail("\(what) of \(length) bytes exceeds the limit \(max)") }
        guard allowEmpty || length > 0 else { throw r.fail("empty \(what)") }
        return try r.bytes(length, what)
    }
}

@inline(__always)
func memcmpEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
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
