/// Appends little-endian integers, LEB128 varints and raw bytes to a growable byte array.
/// Used by every encoder; the buffer is reused across frames by the commit path.
@usableFromInline
struct ByteWriter: Sendable {
    @usableFromInline var bytes: [UInt8]

    @inlinable init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inlinable var count: Int { bytes.count }

    @inlinable mutating func removeAll(keepingCapacity: Bool = true) {
        bytes.removeAll(keepingCapacity: keepingCapacity)
    }

    @inlinable mutating func u8(_ value: UInt8) { bytes.append(value) }

    @inlinable mutating func u16(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
    }

    @inlinable mutating func u32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inlinable mutating func u64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Big-endian, for UUID bytes (RFC 4122 order).
    @inlinable mutating func u64BigEndian(_ value: UInt64) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    @inlinable mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    @inlinable mutating func raw(_ source: UnsafeRawBufferPointer) { bytes.append(contentsOf: source) }

    @inlinable mutating func raw<C: Collection<UInt8>>(_ source: C) { bytes.append(contentsOf: source) }

    @inlinable mutating func zeros(_ count: Int) { bytes.append(contentsOf: repeatElement(0, count: count)) }

    /// Overwrites a little-endian UInt32 at `offset` (used to patch lengths and checksums in place).
    @inlinable mutating func patchU32(_ value: UInt32, at offset: Int) {
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self) }
    }

}

/// Zigzag mapping so small negative numbers stay short as varints.
@inlinable func zigzagEncode(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }
@inlinable func zigzagDecode(_ value: UInt64) -> Int64 { Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1) }
