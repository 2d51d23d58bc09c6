/// Why a structure failed to decode: what kind of damage (decided where it was found, never parsed back out of
/// the message), the offset within the decoded buffer, and a readable reason. Callers add the file and the
/// buffer's position in it to make a `StorageError.corrupt`.
public struct DecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var kind: Corruption.Kind
    public var reason: String

    public init(offset: Int, kind: Corruption.Kind, reason: String) {
        self.offset = offset
        self.kind = kind
        self.reason = reason
    }

    public var description: String { "\(reason) at byte \(offset)" }
}

/// Bounds-checked little-endian reads over a borrowed buffer. Never traps on hostile input: every read checks
/// the remaining length first and throws `DecodeError` naming the offset.
@usableFromInline
struct ByteReader {
    @usableFromInline let buffer: UnsafeRawBufferPointer
    @usableFromInline var position: Int

    @inlinable init(_ buffer: UnsafeRawBufferPointer, position: Int = 0) {
        self.buffer = buffer
        self.position = position
    }

    @inlinable var remaining: Int { buffer.count - position }
    @inlinable var isAtEnd: Bool { position >= buffer.count }

    @inlinable func fail(_ kind: Corruption.Kind, _ reason: String) -> DecodeError {
        DecodeError(offset: position, kind: kind, reason: reason)
    }

    @inlinable mutating func need(_ n: Int, _ what: StaticString) throws(DecodeError) {
        guard n >= 0, n <= remaining else {
            throw DecodeError(offset: position, kind: .truncated, reason: "truncated \(what): need \(n) bytes, have \(remaining)")
        }
    }

    @inlinable mutating func u8(_ what: StaticString = "u8") throws(DecodeError) -> UInt8 {
        try need(1, what)
        defer { position += 1 }
        return buffer[position]
    }

    @inlinable mutating func u16(_ what: StaticString = "u16") throws(DecodeError) -> UInt16 {
        try need(2, what)
        defer { position += 2 }
        return UInt16(littleEndian: buffer.loadUnaligned(fromByteOffset: position, as: UInt16.self))
    }

    @inlinable mutating func u32(_ what: StaticString = "u32") throws(DecodeError) -> UInt32 {
        try need(4, what)
        defer { position += 4 }
        return UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: position, as: UInt32.self))
    }

    @inlinable mutating func u64(_ what: StaticString = "u64") throws(DecodeError) -> UInt64 {
        try need(8, what)
        defer { position += 8 }
        return UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: position, as: UInt64.self))
    }

    @inlinable mutating func u64BigEndian(_ what: StaticString = "u64") throws(DecodeError) -> UInt64 {
        try need(8, what)
        defer { position += 8 }
        return UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: position, as: UInt64.self))
    }

    /// LEB128, at most 10 bytes; rejects overlong encodings that would overflow 64 bits.
    @inlinable mutating func varint(_ what: StaticString = "varint") throws(DecodeError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = position
        while true {
            guard position < buffer.count else {
                throw DecodeError(offset: start, kind: .truncated, reason: "truncated \(what)")
            }
            let byte = buffer[position]
            position += 1
            if shift == 63 && byte > 1 {
                throw DecodeError(offset: start, kind: .badRecord, reason: "\(what) overflows 64 bits")
            }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    /// A slice of the buffer (no copy).
    @inlinable mutating func bytes(_ count: Int, _ what: StaticString) throws(DecodeError) -> UnsafeRawBufferPointer {
        try need(count, what)
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: buffer[position..<(position + count)])
    }
}

@inlinable func loadU32LE(_ buffer: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
    UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
}

@inlinable func loadU64LE(_ buffer: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
    UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
}

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` that keeps a typed error (the standard one rethrows untyped).
    @inlinable
    func withRawBytes<T, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> T) throws(E) -> T {
        var result: Result<T, E>?
        withUnsafeBytes { raw in
            result = Result { () throws(E) -> T in try body(raw) }
        }
        return try result!.get()
    }
}
