import StrataCore

/// The record layout inside a frame's raw body (FORMAT.md, "Records"):
///
///     record      = varint(bodyLength) body
///     body        = varint(sequenceDelta) varint(streamVersion) varint(typeVersion) varint(zigzag(timestamp))
///                   eventId[16] str8(tenant) str8(group) str8(id) str8(typeName)
///                   u8(metadataFlags) [correlationId] [causationId] [str8(user)]
///     correlationId, causationId = uuid[16] if their "is a UUID" flag is set, else str8
///                   varint(payloadLength) payload
///
/// `bodyLength` lets a reader skip a record without decoding it; the partition key comes before the payload so
/// filtering by stream never touches payload bytes.
enum RecordCodec {
    static let metadataCorrelation: UInt8 = 1
    static let metadataCausation: UInt8 = 2
    static let metadataUser: UInt8 = 4
    /// The correlation id is a canonical lowercase UUID string, stored as its 16 bytes (saves 20 bytes of
    /// incompressible hex per event).
    static let metadataCorrelationUUID: UInt8 = 8
    static let metadataCausationUUID: UInt8 = 16
    static let metadataKnownFlags: UInt8 = 31

    /// The id as 16 bytes when `value` is exactly the canonical (lowercase, hyphenated) form of a UUID, so
    /// decoding restores the same string.
    @inline(__always)
    static func compactUUID(_ value: String) -> EventID? {
        guard value.utf8.count == 36 else { return nil }
        return value.utf8.withContiguousStorageIfAvailable { EventID.parseCanonical($0) } ?? nil
    }



    /// Whether the four key fields (tenant, group, id, type name) are UTF-8, given the bytes that hold them with their
    /// length bytes (`str8` fields one after the other, already parsed). One ASCII check over the whole stretch
    /// covers the usual case (every length is below 128, so the length bytes are ASCII too); anything else goes to
    /// `keyFieldsAreUTF8Slowly`, out of line, so the hot loop keeps its registers (inlining the four-field check
    /// cost ~13% of the P4 floor: the varint accumulator spilled to the stack).
    @inline(__always)
    static func keyFieldsAreUTF8(_ stretch: UnsafeRawBufferPointer) -> Bool {
        isASCII(stretch) || keyFieldsAreUTF8Slowly(stretch)
    }

    @inline(never)
    static func keyFieldsAreUTF8Slowly(_ stretch: UnsafeRawBufferPointer) -> Bool {
        var at = 0
        while at < stretch.count {
            let n = Int(stretch[at])
            guard at + 1 + n <= stretch.count, isValidUTF8(UnsafeRawBufferPointer(rebasing: stretch[(at + 1)..<(at + 1 + n)]))
            else { return false }
            at += 1 + n
        }
        return true
    }

    /// Whether a metadata text is UTF-8: ASCII inline, anything else out of line.
    @inline(__always)
    static func textIsUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool { isASCII(bytes) || textIsUTF8Slowly(bytes) }

    @inline(never)
    static func textIsUTF8Slowly(_ bytes: UnsafeRawBufferPointer) -> Bool { isValidUTF8(bytes) }

    /// Checks every field against `Limits` (`RecordLimits`). `index` is the record's position in its batch, for the
    /// error.
    @inline(__always)
    static func validate(_ record: UnsafePointer<EventRecord>, index: Int) throws(StorageError) {
        if let reason = EventRecord.limitViolation(of: record) { throw .invalidRecord(index: index, reason: reason) }
    }

    /// Size of a varint in bytes.
    @inline(__always)
    static func varintSize(_ value: UInt64) -> Int {
        // 1 + floor(bits / 7), with 0 taking one byte.
        let bits = 64 - value.leadingZeroBitCount
        return bits == 0 ? 1 : (bits + 6) / 7
    }

    /// What the size pass learns about a record and the write pass reuses.
    struct Prepared {
        var bodySize: Int
        var correlationUUID: EventID?
        var causationUUID: EventID?
    }

    @inline(__always)
    static func prepare(_ record: UnsafePointer<EventRecord>, version: UInt64, sequenceDelta: UInt64) -> Prepared {
        let correlationUUID = record.pointee.metadata.correlationId.flatMap(compactUUID)
        let causationUUID = record.pointee.metadata.causationId.flatMap(compactUUID)
        var size = bodySize(record, version: version, sequenceDelta: sequenceDelta)
        if let value = record.pointee.metadata.correlationId { size += correlationUUID != nil ? 16 : 1 + value.utf8.count }
        if let value = record.pointee.metadata.causationId { size += causationUUID != nil ? 16 : 1 + value.utf8.count }
        return Prepared(bodySize: size, correlationUUID: correlationUUID, causationUUID: causationUUID)
    }

    /// Bytes of the record body (everything after its length varint) except the correlation and causation
    /// ids, which `prepare` adds. Fields must already be validated.
    @inline(__always)
    static func bodySize(_ record: UnsafePointer<EventRecord>, version: UInt64, sequenceDelta: UInt64) -> Int {
        var size = varintSize(sequenceDelta) + varintSize(version) + varintSize(UInt64(record.pointee.typeVersion))
            + varintSize(zigzagEncode(record.pointee.timestampMicros)) + 16
        size += 4 + record.pointee.key.tenant.utf8.count + record.pointee.key.group.utf8.count + record.pointee.key.id.utf8.count
            + record.pointee.typeName.utf8.count
        size += 1
        if let value = record.pointee.metadata.user { size += 1 + value.utf8.count }
        size += varintSize(UInt64(record.pointee.payload.count)) + record.pointee.payload.count
        return size
    }

    /// Encodes all records of a batch into one exactly-sized buffer: sizes first, then one pass of pointer
    /// writes (no per-byte appends, no per-record allocation). Record i gets stream version `versions[i]`
    /// (the store assigns versions). Fields must already be validated.
    static func encodeBatch(_ records: [EventRecord], versions: [UInt64]) -> [UInt8] {
        // Through an unsafe buffer: element access by address, no copy of any record.
        records.withUnsafeBufferPointer { records in
            var total = 0
            var prepared: [Prepared] = []
            prepared.reserveCapacity(records.count)
            for index in records.indices {
                let info = prepare(records.baseAddress! + index, version: versions[index], sequenceDelta: UInt64(index))
                total += varintSize(UInt64(info.bodySize)) + info.bodySize
                prepared.append(info)
            }
            return [UInt8](unsafeUninitializedCapacity: total) { buffer, count in
                var p = UnsafeMutableRawPointer(buffer.baseAddress!)
                for index in records.indices {
                    putVarint(UInt64(prepared[index].bodySize), &p)
                    write(
                        records.baseAddress! + index, version: versions[index], sequenceDelta: UInt64(index),
                        prepared: prepared[index], at: &p)
                }
                precondition(p - UnsafeMutableRawPointer(buffer.baseAddress!) == total, "record size mismatch")
                count = total
            }
        }
    }

    @inline(__always)
    static func write(
        _ record: UnsafePointer<EventRecord>, version: UInt64, sequenceDelta: UInt64, prepared: Prepared,
        at p: inout UnsafeMutableRawPointer
    ) {
        putVarint(sequenceDelta, &p)
        putVarint(version, &p)
        putVarint(UInt64(record.pointee.typeVersion), &p)
        putVarint(zigzagEncode(record.pointee.timestampMicros), &p)
        putUUID(record.pointee.eventId, &p)
        putStr8(record.pointee.key.tenant, &p)
        putStr8(record.pointee.key.group, &p)
        putStr8(record.pointee.key.id, &p)
        putStr8(record.pointee.typeName, &p)
        let correlation = record.pointee.metadata.correlationId
        let causation = record.pointee.metadata.causationId
        let correlationUUID = prepared.correlationUUID
        let causationUUID = prepared.causationUUID
        var flags: UInt8 = 0
        if correlation != nil { flags |= metadataCorrelation }
        if correlationUUID != nil { flags |= metadataCorrelationUUID }
        if causation != nil { flags |= metadataCausation }
        if causationUUID != nil { flags |= metadataCausationUUID }
        if record.pointee.metadata.user != nil { flags |= metadataUser }
        p.storeBytes(of: flags, as: UInt8.self)
        p += 1
        if let id = correlationUUID { putUUID(id, &p) } else if let value = correlation { putStr8(value, &p) }
        if let id = causationUUID { putUUID(id, &p) } else if let value = causation { putStr8(value, &p) }
        if let value = record.pointee.metadata.user { putStr8(value, &p) }
        putVarint(UInt64(record.pointee.payload.count), &p)
        record.pointee.payload.withUnsafeBytes { payload in
            if payload.count > 0 { p.copyMemory(from: payload.baseAddress!, byteCount: payload.count) }
        }
        p += record.pointee.payload.count
    }

    @inline(__always)
    static func putUUID(_ id: EventID, _ p: inout UnsafeMutableRawPointer) {
        p.storeBytes(of: id.high.bigEndian, toByteOffset: 0, as: UInt64.self)
        p.storeBytes(of: id.low.bigEndian, toByteOffset: 8, as: UInt64.self)
        p += 16
    }

    @inline(__always)
    static func putVarint(_ value: UInt64, _ p: inout UnsafeMutableRawPointer) {
        var v = value
        while v >= 0x80 {
            p.storeBytes(of: UInt8(truncatingIfNeeded: v) | 0x80, as: UInt8.self)
            p += 1
            v >>= 7
        }
        p.storeBytes(of: UInt8(v), as: UInt8.self)
        p += 1
    }

    @inline(__always)
    static func putStr8(_ value: String, _ p: inout UnsafeMutableRawPointer) {
        let n = value.utf8.count
        p.storeBytes(of: UInt8(n), as: UInt8.self)
        p += 1
        let target = p
        let copied: Void? = value.utf8.withContiguousStorageIfAvailable { utf8 in
            if n > 0 { target.copyMemory(from: utf8.baseAddress!, byteCount: n) }
        }
        if copied == nil {
            var q = target
            for byte in value.utf8 {
                q.storeBytes(of: byte, as: UInt8.self)
                q += 1
            }
        }
        p += n
    }
}

/// A record decoded in place: its global sequence and the event, a view into the frame's decompressed body.
/// Valid only while the buffer it was decoded from is (inside the closure that handed it out).
public struct RecordView {
    public let sequence: UInt64
    // (The fields in `EventView`'s order and kinds, so that `event` is a straight copy of aligned words.)
    public let version: UInt64
    public let timestampMicros: Int64
    public let eventId: EventID
    public let tenantBytes: UnsafeRawBufferPointer
    public let groupBytes: UnsafeRawBufferPointer
    public let idBytes: UnsafeRawBufferPointer
    public let typeNameBytes: UnsafeRawBufferPointer
    public let correlationId: MetadataID?
    public let causationId: MetadataID?
    @usableFromInline let user: MetadataID?
    public let payload: UnsafeRawBufferPointer
    public let typeVersion: UInt32

    /// The executing user, as stored (nil: none).
    public var userBytes: UnsafeRawBufferPointer? { user?.text }

    @inline(__always)
    init(
        sequence: UInt64, version: UInt64, typeVersion: UInt32, timestampMicros: Int64, eventId: EventID,
        tenantBytes: UnsafeRawBufferPointer, groupBytes: UnsafeRawBufferPointer, idBytes: UnsafeRawBufferPointer,
        typeNameBytes: UnsafeRawBufferPointer, correlationId: MetadataID?, causationId: MetadataID?,
        userBytes: UnsafeRawBufferPointer?, payload: UnsafeRawBufferPointer
    ) {
        self.sequence = sequence
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

    /// The event, as every backend hands it to the event-sourcing layer. (Made from the fields on demand: a
    /// record nesting the view was copied whole on every read, ~8% of a bare scan.)
    @inlinable @inline(__always)
    public var event: EventView {
        EventView(
            version: version, typeVersion: typeVersion, timestampMicros: timestampMicros, eventId: eventId,
            tenantBytes: tenantBytes, groupBytes: groupBytes, idBytes: idBytes, typeNameBytes: typeNameBytes,
            correlationId: correlationId, causationId: causationId, userBytes: userBytes, payload: payload)
    }

    public var tenant: String { String(decoding: tenantBytes, as: UTF8.self) }
    public var group: String { String(decoding: groupBytes, as: UTF8.self) }
    public var id: String { String(decoding: idBytes, as: UTF8.self) }
    public var typeName: String { String(decoding: typeNameBytes, as: UTF8.self) }
    public var key: PartitionKey { PartitionKey(tenant: tenant, group: group, id: id) }

    /// Compares the stored partition key with `key` without allocating.
    public func hasKey(_ key: PartitionKey) -> Bool {
        equalBytes(tenantBytes, key.tenant) && equalBytes(groupBytes, key.group) && equalBytes(idBytes, key.id)
    }

    /// Copies everything out into an owned `StoredRecord`.
    public func materialize() -> StoredRecord {
        StoredRecord(sequence: sequence, version: version, record: event.record)
    }

    /// Decodes the record at the reader's position; `baseSequence` is the frame's. Validates every length
    /// against the record's own declared length, so a damaged record cannot reach into its neighbour.
    static func decode(_ reader: inout ByteReader, baseSequence: UInt64) throws(DecodeError) -> RecordView {
        let bodyLength = try reader.varint("record length")
        guard bodyLength <= UInt64(reader.remaining) else {
            throw reader.fail(.badRecord, "record length \(bodyLength) exceeds the \(reader.remaining) bytes left in the frame")
        }
        let bodyStart = reader.position
        var r = ByteReader(UnsafeRawBufferPointer(rebasing: reader.buffer[bodyStart..<(bodyStart + Int(bodyLength))]))
        do throws(DecodeError) {
            let delta = try r.varint("sequence delta")
            let version = try r.varint("stream version")
            let typeVersion = try r.varint("type version")
            guard typeVersion <= UInt64(UInt32.max) else { throw r.fail(.badRecord, "type version \(typeVersion) out of range") }
            let timestamp = zigzagDecode(try r.varint("timestamp"))
            let idHigh = try r.u64BigEndian("event id")
            let idLow = try r.u64BigEndian("event id")
            let keyStart = r.position
            let tenant = try str8(&r, "tenant", Limits.tenantBytesMax, allowEmpty: false)
            let group = try str8(&r, "aggregate group", Limits.groupBytesMax, allowEmpty: false)
            let id = try str8(&r, "aggregate id", Limits.aggregateIdBytesMax, allowEmpty: false)
            let typeName = try str8(&r, "type name", Limits.typeNameBytesMax, allowEmpty: false)
            let stretch = UnsafeRawBufferPointer(rebasing: r.buffer[keyStart..<r.position])
            if !RecordCodec.keyFieldsAreUTF8(stretch) {
                for (field, what) in [(tenant, "tenant"), (group, "aggregate group"), (id, "aggregate id"), (typeName, "type name")]
                where !isValidUTF8(field) {
                    throw DecodeError(offset: field.baseAddress! - r.buffer.baseAddress!, kind: .badRecord, reason: "\(what) is not valid UTF-8")
                }
            }
            let flags = try r.u8("metadata flags")
            guard flags & ~RecordCodec.metadataKnownFlags == 0 else { throw r.fail(.badRecord, "unknown metadata flags \(flags)") }
            let correlation = try metadataID(
                &r, flags, present: RecordCodec.metadataCorrelation, uuid: RecordCodec.metadataCorrelationUUID,
                "correlation id")
            let causation = try metadataID(
                &r, flags, present: RecordCodec.metadataCausation, uuid: RecordCodec.metadataCausationUUID,
                "causation id")
            let user = flags & RecordCodec.metadataUser != 0
                ? try utf8Str8(&r, "user", Limits.metadataFieldBytesMax, allowEmpty: true) : nil
            let payloadLength = try r.varint("payload length")
            guard payloadLength == UInt64(r.remaining) else {
                throw r.fail(.badRecord, "payload length \(payloadLength) does not fill the record's remaining \(r.remaining) bytes")
            }
            guard payloadLength <= UInt64(Limits.payloadBytesMax) else {
                throw r.fail(.badRecord, "payload of \(payloadLength) bytes exceeds the limit \(Limits.payloadBytesMax)")
            }
            let payload = try r.bytes(Int(payloadLength), "payload")
            guard version >= 1 else { throw DecodeError(offset: 0, kind: .badRecord, reason: "stream version 0") }
            let (sequence, overflow) = baseSequence.addingReportingOverflow(delta)
            guard !overflow else { throw DecodeError(offset: 0, kind: .badRecord, reason: "sequence overflows") }
            reader.position = bodyStart + Int(bodyLength)
            return RecordView(
                sequence: sequence, version: version, typeVersion: UInt32(typeVersion), timestampMicros: timestamp,
                eventId: EventID(high: idHigh, low: idLow), tenantBytes: tenant, groupBytes: group, idBytes: id,
                typeNameBytes: typeName, correlationId: correlation, causationId: causation,
                userBytes: user, payload: payload)
        } catch {
            throw DecodeError(offset: bodyStart + error.offset, kind: error.kind, reason: error.reason)
        }
    }

    @inline(__always)
    private static func metadataID(
        _ r: inout ByteReader, _ flags: UInt8, present: UInt8, uuid: UInt8, _ what: StaticString
    ) throws(DecodeError) -> MetadataID? {
        guard flags & present != 0 else {
            guard flags & uuid == 0 else { throw r.fail(.badRecord, "\(what) marked as UUID but absent") }
            return nil
        }
        if flags & uuid != 0 {
            return MetadataID(uuidBytes: try r.bytes(16, what))
        }
        return MetadataID(text: try utf8Str8(&r, what, Limits.metadataFieldBytesMax, allowEmpty: true))
    }

    @inline(__always)
    private static func str8(
        _ r: inout ByteReader, _ what: StaticString, _ max: Int, allowEmpty: Bool
    ) throws(DecodeError) -> UnsafeRawBufferPointer {
        let length = Int(try r.u8(what))
        guard length <= max else { throw r.fail(.badRecord, "\(what) of \(length) bytes exceeds the limit \(max)") }
        guard allowEmpty || length > 0 else { throw r.fail(.badRecord, "empty \(what)") }
        return try r.bytes(length, what)
    }

    /// `str8` and checked as UTF-8 (metadata texts; the key and type name are checked together by `decode`).
    @inline(__always)
    private static func utf8Str8(
        _ r: inout ByteReader, _ what: StaticString, _ max: Int, allowEmpty: Bool
    ) throws(DecodeError) -> UnsafeRawBufferPointer {
        let bytes = try str8(&r, what, max, allowEmpty: allowEmpty)
        guard isValidUTF8(bytes) else {
            throw DecodeError(offset: r.position - bytes.count, kind: .badRecord, reason: "\(what) is not valid UTF-8")
        }
        return bytes
    }
}

