/// The hot path of record decoding: raw pointer reads with one bounds check per field and no error values.
/// It accepts exactly what `RecordView.decode` accepts; on anything unexpected it returns nil and the caller
/// re-decodes with `RecordView.decode` to report the precise error (FORMAT.md, "Records").
extension RecordView {
    /// A varint (FORMAT.md, "Conventions"), accepting exactly what `ByteReader.varint` accepts. With eight bytes
    /// left, a varint of up to eight bytes (every timestamp of this century) is decoded from one word with no loop:
    /// the loop kept its accumulator on the stack once the record decoder grew (a store-to-load chain per byte).
    @inline(__always)
    static func fastVarint(_ p: inout UnsafeRawPointer, _ end: UnsafeRawPointer) -> UInt64? {
        guard p < end else { return nil }
        let first = p.load(as: UInt8.self)
        if first < 0x80 {
            p += 1
            return UInt64(first)
        }
        if end - p >= 8 {
            let word = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
            let stops = ~word & 0x8080_8080_8080_8080  // bit 7 of each byte that ends the varint
            if stops != 0 {
                let count = (stops.trailingZeroBitCount &+ 1) >> 3  // 2...8 bytes
                var x = count == 8 ? word : word & ((1 &<< UInt64(count &* 8)) &- 1)
                x &= 0x7F7F_7F7F_7F7F_7F7F
                x = ((x & 0x7F00_7F00_7F00_7F00) >> 1) | (x & 0x007F_007F_007F_007F)  // 14 bits per 16
                x = ((x & 0x3FFF_0000_3FFF_0000) >> 2) | (x & 0x0000_3FFF_0000_3FFF)  // 28 bits per 32
                x = ((x & 0x0FFF_FFFF_0000_0000) >> 4) | (x & 0x0000_0000_0FFF_FFFF)  // 56 bits
                p += count
                return x
            }
        }
        p += 1
        var result = UInt64(first & 0x7F)
        var shift: UInt64 = 7
        while p < end {
            let byte = p.load(as: UInt8.self)
            p += 1
            if shift == 63 && byte > 1 { return nil }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }

    @inline(__always)
    static func fastStr8(
        _ p: inout UnsafeRawPointer, _ end: UnsafeRawPointer, _ max: Int, allowEmpty: Bool
    ) -> UnsafeRawBufferPointer? {
        guard p < end else { return nil }
        let n = Int(p.load(as: UInt8.self))
        guard n <= max, allowEmpty || n > 0, end - p - 1 >= n else { return nil }
        let bytes = UnsafeRawBufferPointer(start: p + 1, count: n)
        p += 1 + n
        return bytes
    }

    @inline(__always)
    static func fastMetadataID(
        _ p: inout UnsafeRawPointer, _ end: UnsafeRawPointer, _ flags: UInt8, present: UInt8, uuid: UInt8
    ) -> MetadataID?? {
        guard flags & present != 0 else { return flags & uuid == 0 ? .some(nil) : nil }
        if flags & uuid != 0 {
            guard end - p >= 16 else { return nil }
            let id = MetadataID(uuidBytes: UnsafeRawBufferPointer(start: p, count: 16))
            p += 16
            return .some(id)
        }
        guard let text = fastStr8(&p, end, Limits.metadataFieldBytesMax, allowEmpty: true), RecordCodec.textIsUTF8(text) else { return nil }
        return .some(MetadataID(text: text))
    }

    /// Decodes the record at `position` of `body`; returns it and the position after it, or nil if anything
    /// is out of place (then `decode(_:baseSequence:)` names the problem).
    @inline(__always)
    static func decodeFast(
        _ body: UnsafeRawBufferPointer, at position: Int, baseSequence: UInt64
    ) -> (RecordView, Int)? {
        guard let base = body.baseAddress, position < body.count else { return nil }
        let bufferEnd = base + body.count
        var p = base + position
        guard let bodyLength = fastVarint(&p, bufferEnd), bodyLength <= UInt64(bufferEnd - p) else { return nil }
        let end = p + Int(bodyLength)
        guard let delta = fastVarint(&p, end), let version = fastVarint(&p, end), version >= 1,
            let typeVersion = fastVarint(&p, end), typeVersion <= UInt64(UInt32.max),
            let timestamp = fastVarint(&p, end), end - p >= 16
        else { return nil }
        let eventId = EventID(
            high: UInt64(bigEndian: p.loadUnaligned(as: UInt64.self)),
            low: UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        p += 16
        let keyStart = p
        guard let tenant = fastStr8(&p, end, Limits.tenantBytesMax, allowEmpty: false),
            let group = fastStr8(&p, end, Limits.groupBytesMax, allowEmpty: false),
            let id = fastStr8(&p, end, Limits.aggregateIdBytesMax, allowEmpty: false),
            let typeName = fastStr8(&p, end, Limits.typeNameBytesMax, allowEmpty: false),
            p < end,
            RecordCodec.keyFieldsAreUTF8(UnsafeRawBufferPointer(start: keyStart, count: p - keyStart))
        else { return nil }
        let flags = p.load(as: UInt8.self)
        p += 1
        guard flags & ~RecordCodec.metadataKnownFlags == 0,
            let correlation = fastMetadataID(
                &p, end, flags, present: RecordCodec.metadataCorrelation, uuid: RecordCodec.metadataCorrelationUUID),
            let causation = fastMetadataID(
                &p, end, flags, present: RecordCodec.metadataCausation, uuid: RecordCodec.metadataCausationUUID)
        else { return nil }
        var user: UnsafeRawBufferPointer? = nil
        if flags & RecordCodec.metadataUser != 0 {
            guard let value = fastStr8(&p, end, Limits.metadataFieldBytesMax, allowEmpty: true), RecordCodec.textIsUTF8(value) else { return nil }
            user = value
        }
        guard let payloadLength = fastVarint(&p, end), payloadLength == UInt64(end - p),
            payloadLength <= UInt64(Limits.payloadBytesMax)
        else { return nil }
        let (sequence, overflow) = baseSequence.addingReportingOverflow(delta)
        guard !overflow else { return nil }
        let record = RecordView(
            sequence: sequence, version: version, typeVersion: UInt32(typeVersion),
            timestampMicros: zigzagDecode(timestamp), eventId: eventId, tenantBytes: tenant, groupBytes: group,
            idBytes: id, typeNameBytes: typeName, correlationId: correlation, causationId: causation, userBytes: user,
            payload: UnsafeRawBufferPointer(start: p, count: Int(payloadLength)))
        return (record, end - base)
    }
}

/// A partition key's UTF-8 bytes, prepared once so checking many records against it allocates nothing.
package struct PartitionKeyBytes: Sendable {
    package let tenant: [UInt8]
    package let group: [UInt8]
    package let id: [UInt8]

    package init(_ key: PartitionKey) {
        tenant = Array(key.tenant.utf8)
        group = Array(key.group.utf8)
        id = Array(key.id.utf8)
    }
}

extension RecordView {
    /// Whether the record belongs to the stream with these key bytes.
    @inline(__always)
    package func hasKey(_ key: PartitionKeyBytes) -> Bool {
        Self.equal(idBytes, key.id) && Self.equal(groupBytes, key.group) && Self.equal(tenantBytes, key.tenant)
    }

    @inline(__always)
    static func equal(_ bytes: UnsafeRawBufferPointer, _ other: [UInt8]) -> Bool {
        guard bytes.count == other.count else { return false }
        return other.withUnsafeBytes { o in bytes.count == 0 || memcmpEqual(bytes.baseAddress!, o.baseAddress!, bytes.count) }
    }
}
