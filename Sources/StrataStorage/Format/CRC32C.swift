import CStrataSupport

/// CRC32C (Castagnoli), the checksum of every on-disk structure. Hardware-accelerated (SSE4.2) when the CPU
/// has it, chosen at run time by `CStrataSupport`.
@_spi(StrataInternals) public enum CRC32C {
    /// The CRC32C of `bytes`, continuing from `crc` (0 to start).
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress else { return crc }
        return strata_crc32c_extend(crc, base, bytes.count)
    }

    public static func checksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }

    /// Whether the SSE4.2 path is in use on this machine.
    public static var isHardwareAccelerated: Bool { strata_crc32c_is_hardware() != 0 }

    /// The constant LevelDB and RocksDB use. Masking keeps a CRC stored inside checksummed data (or data that
    /// itself contains CRCs, such as a frame copied into another file) from being trivially self-consistent.
    public static let maskDelta: UInt32 = 0xA282_EAD8

    /// Rotate right by 15 bits and add a constant (FORMAT.md, "Checksums").
    @inlinable public static func mask(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ maskDelta
    }

    @inlinable public static func unmask(_ masked: UInt32) -> UInt32 {
        let rotated = masked &- maskDelta
        return (rotated >> 17) | (rotated << 15)
    }
}
