#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StrataCore

extension SnapshotSubject {
    /// The three strings the format stores (FORMAT.md, "Snapshot files"): tenant, group, id of a stream; name,
    /// tenant or "", "" of a projection.
    var parts: (kind: UInt8, a: String, b: String, c: String) {
        switch self {
        case .stream(let key): (1, key.tenant, key.group, key.id)
        case .projection(let name, let tenant): (2, name, tenant ?? "", "")
        }
    }

    /// The hash the file's index is sorted by: the stream key hash of the three strings, xored with a constant
    /// for projections. Hashes collide; a lookup compares the subject stored in the record.
    /// 1 for a stream, 2 for a projection (the record's kind byte).
    var kind: UInt8 { if case .stream = self { 1 } else { 2 } }

    /// Whether the record's three subject strings are this subject's.
    func matches(_ a: ByteSlice, _ b: ByteSlice, _ c: ByteSlice) -> Bool {
        let (_, x, y, z) = parts
        return equalUTF8(a, x) && equalUTF8(b, y) && equalUTF8(c, z)
    }

    package var hash: UInt64 {
        let (kind, a, b, c) = parts
        let hash = StreamKeyHash.hash(PartitionKey(tenant: a, group: b, id: c))
        return kind == 1 ? hash : hash ^ SnapshotFileHeader.projectionHashSalt
    }

    /// Checks the strings against the format's limits before anything is written.
    func validate() throws(StorageError) {
        let (kind, a, b, c) = parts
        if kind == 1 {
            guard !a.isEmpty, a.utf8.count <= Limits.tenantBytesMax, !b.isEmpty, b.utf8.count <= Limits.groupBytesMax,
                !c.isEmpty, c.utf8.count <= Limits.aggregateIdBytesMax
            else { throw .invalidSnapshot("\(self): a partition key part is empty or too long") }
        } else {
            guard !a.isEmpty, a.utf8.count <= Limits.snapshotNameBytesMax else {
                throw .invalidSnapshot("projection name must be 1...\(Limits.snapshotNameBytesMax) bytes")
            }
            guard b.utf8.count <= Limits.tenantBytesMax else { throw .invalidSnapshot("\(self): tenant too long") }
        }
    }
}

/// One snapshot: a state, encoded by the layer above, with what it is the state of and how far it went.
public struct SnapshotRecord: Sendable, Equatable {
    public var subject: SnapshotSubject
    /// The identity of the fold that made the state (an aggregate projector's or a multi-projector's name).
    public var projectorName: String
    /// The fold's version: a snapshot of another version is ignored.
    public var projectorVersion: UInt32
    /// The name of the codec that encoded `state` (the layer above ignores snapshots of another codec).
    public var codecName: String
    /// The global sequence of the last event folded in.
    public var sequence: UInt64
    /// The stream version of the last event folded in (streams); 0 for projections.
    public var version: UInt64
    /// When the snapshot was taken, in microseconds since 1970.
    public var createdMicros: Int64
    /// The encoded state.
    public var state: [UInt8]

    public init(
        subject: SnapshotSubject, projectorName: String, projectorVersion: UInt32, codecName: String,
        sequence: UInt64, version: UInt64, createdMicros: Int64, state: [UInt8]
    ) {
        self.subject = subject
        self.projectorName = projectorName
        self.projectorVersion = projectorVersion
        self.codecName = codecName
        self.sequence = sequence
        self.version = version
        self.createdMicros = createdMicros
        self.state = state
    }

    /// Checks the snapshot against the format's limits (what `encode()` checks before it writes anything).
    package func validate() throws(StorageError) {
        try subject.validate()
        guard !projectorName.isEmpty, projectorName.utf8.count <= Limits.snapshotNameBytesMax,
            !codecName.isEmpty, codecName.utf8.count <= Limits.snapshotNameBytesMax
        else {
            throw .invalidSnapshot("projector and codec names must be 1...\(Limits.snapshotNameBytesMax) bytes")
        }
        guard state.count <= Limits.snapshotStateBytesMax else {
            throw .invalidSnapshot("\(subject): state of \(state.count) bytes exceeds \(Limits.snapshotStateBytesMax)")
        }
    }

    /// Bytes before the state: length, CRC, fixed fields and the five strings.
    static let fixedBytes = 4 + 4 + 32

    /// The record as stored (FORMAT.md, "Snapshot files"):
    ///
    ///     length u32 | maskedCRC u32 | kind u8 | reserved[3] | projectorVersion u32 | sequence u64 | version u64
    ///     | createdMicros i64 | str8 a | str8 b | str8 c | str8 projectorName | str8 codecName | state
    ///
    /// `length` counts everything after itself; the CRC covers everything after itself.
    package func encode() throws(StorageError) -> [UInt8] {
        try validate()
        let (kind, a, b, c) = subject.parts
        var out = ByteWriter(capacity: Self.fixedBytes + 5 * 16 + state.count)
        out.u32(0)
        out.u32(0)
        out.u8(kind)
        out.zeros(3)
        out.u32(projectorVersion)
        out.u64(sequence)
        out.u64(version)
        out.u64(UInt64(bitPattern: createdMicros))
        for text in [a, b, c, projectorName, codecName] {
            out.u8(UInt8(text.utf8.count))
            out.raw(text.utf8)
        }
        out.raw(state)
        out.patchU32(UInt32(out.bytes.count - 4), at: 0)
        let crc = out.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[8...])) }
        out.patchU32(CRC32C.mask(crc), at: 4)
        return out.bytes
    }

    /// Decodes a whole record (`bytes` starts at its length field and holds exactly the record).
    static func decode(
        _ bytes: UnsafeRawBufferPointer, known: (subject: SnapshotSubject, projectorName: String)? = nil
    ) throws(DecodeError) -> SnapshotRecord {
        guard bytes.count >= fixedBytes else {
            throw DecodeError(offset: 0, kind: .truncated, reason: "snapshot record of \(bytes.count) bytes is shorter than \(fixedBytes)")
        }
        guard Int(loadU32LE(bytes, 0)) == bytes.count - 4 else {
            throw DecodeError(offset: 0, kind: .badRecord, reason: "snapshot record length \(loadU32LE(bytes, 0)) does not match \(bytes.count - 4)")
        }
        let stored = loadU32LE(bytes, 4)
        let actual = CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[8...])))
        guard stored == actual else {
            throw DecodeError(offset: 4, kind: .badChecksum, reason: "snapshot record checksum mismatch: stored \(stored), computed \(actual)")
        }
        var r = ByteReader(bytes, position: 8)
        let kind = try r.u8("kind")
        guard kind == 1 || kind == 2 else { throw DecodeError(offset: 8, kind: .badRecord, reason: "unknown snapshot kind \(kind)") }
        _ = try r.bytes(3, "reserved")
        let projectorVersion = try r.u32("projectorVersion")
        let sequence = try r.u64("sequence")
        let version = try r.u64("version")
        let created = Int64(bitPattern: try r.u64("createdMicros"))
        let a = try r.str8("subject")
        let b = try r.str8("subject")
        let c = try r.str8("subject")
        let projector = try r.str8("projectorName")
        let codec = try r.str8("codecName")
        // A lookup knows the subject and projector it asks for: when the record holds exactly those, their strings
        // are reused instead of made again (a load from a snapshot is a few microseconds; five strings are a
        // noticeable share of it).
        let subject: SnapshotSubject
        let projectorName: String
        if let known, kind == known.subject.kind, known.subject.matches(a, b, c), equalUTF8(projector, known.projectorName) {
            subject = known.subject
            projectorName = known.projectorName
        } else {
            let strings = try [a, b, c, projector].map { (slice) throws(DecodeError) -> String in
                guard let text = utf8String(slice.bytes) else { throw DecodeError(offset: slice.offset, kind: .badRecord, reason: "a name is not UTF-8") }
                return text
            }
            subject = kind == 1
                ? .stream(PartitionKey(tenant: strings[0], group: strings[1], id: strings[2]))
                : .projection(name: strings[0], tenant: strings[1].isEmpty ? nil : strings[1])
            projectorName = strings[3]
        }
        let codecName: String
        if equalUTF8(codec, "binary") {
            codecName = "binary"
        } else if equalUTF8(codec, "json") {
            codecName = "json"
        } else {
            guard let text = utf8String(codec.bytes) else { throw DecodeError(offset: codec.offset, kind: .badRecord, reason: "codecName is not UTF-8") }
            codecName = text
        }
        return SnapshotRecord(
            subject: subject, projectorName: projectorName, projectorVersion: projectorVersion, codecName: codecName,
            sequence: sequence, version: version, createdMicros: created,
            state: Array(UnsafeRawBufferPointer(rebasing: bytes[r.position...])))
    }
}

/// The header of a snapshot file (FORMAT.md, "Snapshot files"):
///
///     magic "STRATSNP" | formatVersion u16 (1) | minReaderVersion u16 (1) | reserved[4] | fileNumber u64
///     | recordCount u64 | maxSequence u64 | createdMicros i64 | indexOffset u64 | reserved[4] | maskedCRC u32 of [0,60)
///
/// Records follow from byte 64 to `indexOffset`; then the index, `recordCount` entries of `hash u64 | sequence
/// u64 | offset u64` sorted by hash, then sequence from the highest, and the masked CRC32C of the entries. The
/// file size is `indexOffset + recordCount × 24 + 4`, so a truncated file is seen before anything is trusted.
package struct SnapshotFileHeader: Sendable, Equatable {
    package static let byteCount = 64
    package static let magic: [UInt8] = Array("STRATSNP".utf8)
    package static let formatVersion: UInt16 = 1
    package static let readerVersion: UInt16 = 1
    package static let indexEntryBytes = 24
    static let projectionHashSalt: UInt64 = 0x9E37_79B9_7F4A_7C15

    package var fileNumber: UInt64
    package var recordCount: UInt64
    /// The highest sequence of any snapshot in the file.
    package var maxSequence: UInt64
    package var createdMicros: Int64
    package var indexOffset: UInt64

    package var fileSize: UInt64 { indexOffset + recordCount * UInt64(Self.indexEntryBytes) + 4 }

    func encode() -> [UInt8] {
        var out = ByteWriter(capacity: Self.byteCount)
        out.raw(Self.magic)
        out.u16(Self.formatVersion)
        out.u16(Self.readerVersion)
        out.zeros(4)
        out.u64(fileNumber)
        out.u64(recordCount)
        out.u64(maxSequence)
        out.u64(UInt64(bitPattern: createdMicros))
        out.u64(indexOffset)
        out.zeros(4)
        let crc = out.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        out.u32(CRC32C.mask(crc))
        return out.bytes
    }

    /// Decodes and checks a header against the size of its file.
    static func decode(_ bytes: UnsafeRawBufferPointer, fileSize: Int64) throws(DecodeError) -> SnapshotFileHeader {
        guard bytes.count >= byteCount else {
            throw DecodeError(offset: 0, kind: .truncated, reason: "truncated snapshot file: \(bytes.count) bytes, shorter than its header")
        }
        guard bytes[0..<8].elementsEqual(magic) else { throw DecodeError(offset: 0, kind: .badMagic, reason: "bad magic: not a Strata snapshot file") }
        let stored = loadU32LE(bytes, 60)
        let actual = CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<60])))
        guard stored == actual else {
            throw DecodeError(offset: 60, kind: .badChecksum, reason: "snapshot file header checksum mismatch: stored \(stored), computed \(actual)")
        }
        let reader = loadU32LE(bytes, 10) & 0xFFFF
        guard reader <= UInt32(Self.readerVersion) else {
            throw DecodeError(offset: 10, kind: .unsupportedVersion, reason: "unsupported snapshot file: needs reader version \(reader), this build reads \(Self.readerVersion)")
        }
        let header = SnapshotFileHeader(
            fileNumber: loadU64LE(bytes, 16), recordCount: loadU64LE(bytes, 24), maxSequence: loadU64LE(bytes, 32),
            createdMicros: Int64(bitPattern: loadU64LE(bytes, 40)), indexOffset: loadU64LE(bytes, 48))
        // Every record takes at least `fixedBytes`, so the count is bounded by the file before any multiplication.
        guard header.indexOffset >= UInt64(byteCount), header.indexOffset <= UInt64(fileSize),
            header.recordCount <= (header.indexOffset - UInt64(byteCount)) / UInt64(SnapshotRecord.fixedBytes),
            header.fileSize == UInt64(fileSize)
        else {
            throw DecodeError(
                offset: 48,
                kind: .truncated, reason: "snapshot file header (\(header.recordCount) records, index at \(header.indexOffset)) does not match the file size \(fileSize)")
        }
        return header
    }
}

/// One entry of a snapshot file's index.
struct SnapshotIndexEntry: Sendable, Equatable {
    var hash: UInt64
    var sequence: UInt64
    var offset: UInt64

    /// Index order: by hash, then by sequence from the highest.
    static func precedes(_ a: SnapshotIndexEntry, _ b: SnapshotIndexEntry) -> Bool {
        a.hash != b.hash ? a.hash < b.hash : a.sequence > b.sequence
    }
}

/// Bytes of a record and where they start in it (for error offsets).
struct ByteSlice {
    var bytes: UnsafeRawBufferPointer
    var offset: Int
}

extension ByteReader {
    /// A `str8` field's bytes, unchecked as text.
    mutating func str8(_ what: StaticString) throws(DecodeError) -> ByteSlice {
        let count = Int(try u8(what))
        let offset = position
        return ByteSlice(bytes: try bytes(count, what), offset: offset)
    }
}

/// Whether `slice` holds exactly `text`'s UTF-8 bytes.
func equalUTF8(_ slice: ByteSlice, _ text: String) -> Bool {
    var text = text
    return text.withUTF8 { utf8 in
        utf8.count == slice.bytes.count && (utf8.isEmpty || memcmp(utf8.baseAddress!, slice.bytes.baseAddress!, utf8.count) == 0)
    }
}
