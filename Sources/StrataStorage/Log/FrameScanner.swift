/// A heap buffer with a stable address, grown on demand, freed on deinit. Not `Sendable`: one per reader.
final class ScratchBuffer {
    private(set) var memory: UnsafeMutableRawBufferPointer

    init(capacity: Int) {
        memory = .allocate(byteCount: max(capacity, 64), alignment: 16)
    }

    deinit { memory.deallocate() }

    /// Grows to at least `capacity` bytes, keeping the first `preserving` bytes.
    func reserve(_ capacity: Int, preserving: Int = 0) {
        guard capacity > memory.count else { return }
        let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: max(capacity, memory.count * 2), alignment: 16)
        if preserving > 0 {
            grown.copyMemory(from: UnsafeRawBufferPointer(rebasing: memory[0..<preserving]))
        }
        memory.deallocate()
        memory = grown
    }
}

/// Walks the frames of one segment file from a start offset to an end offset, reading ahead in large chunks.
/// Every frame it returns has passed `FrameHeader.decode` (lengths, trailer, checksum). Lengths are checked
/// against `Limits.frameBytesMax` and the end offset before the buffer grows, so hostile lengths cannot make
/// it allocate. Not `Sendable`: one scanner per reader.
final class FrameScanner {
    enum Step {
        /// A valid frame; its bytes are `frameBytes` until the next call.
        case frame(FrameHeader, offset: Int64)
        /// A footer magic at a frame boundary (validate it with `readFooter`).
        case footer(offset: Int64)
        /// Reached `end` exactly at a frame boundary.
        case end
        /// The frame starting at `offset` is not valid (`detail` names the failing byte's offset when it is
        /// inside the frame).
        case invalid(offset: Int64, kind: Corruption.Kind, detail: String)
    }

    static let readAheadBytes = 1 << 20

    let handle: any FileHandle
    private(set) var offset: Int64
    let end: Int64
    private let buffer: ScratchBuffer
    private var bufferStart: Int64 = 0
    private var bufferCount = 0
    private(set) var frameBytes = UnsafeRawBufferPointer(start: nil, count: 0)
    /// Bytes read from the file so far (for recovery reports and tests).
    private(set) var bytesRead: Int64 = 0

    /// Bytes read at once beyond what the next frame needs (sequential scans read ahead; point reads of one
    /// frame do not).
    let readAhead: Int

    init(handle: any FileHandle, from offset: Int64, to end: Int64, buffer: ScratchBuffer? = nil, readAhead: Int = readAheadBytes) {
        self.handle = handle
        self.offset = offset
        self.end = end
        self.readAhead = readAhead
        self.buffer = buffer ?? ScratchBuffer(capacity: max(readAhead, 4096))
    }

    /// Makes bytes [offset, offset + count) available in the buffer. `count` must already be checked against
    /// `end` and the limits. Returns false when the file is shorter than expected.
    private func fill(_ count: Int) throws(IOError) -> Bool {
        let have = offset >= bufferStart && offset + Int64(count) <= bufferStart + Int64(bufferCount)
        if have { return true }
        // Keep what we have from `offset` on, then read ahead.
        var kept = 0
        if offset >= bufferStart && offset < bufferStart + Int64(bufferCount) {
            kept = Int(bufferStart + Int64(bufferCount) - offset)
            let from = Int(offset - bufferStart)
            buffer.memory.baseAddress!.copyMemory(from: buffer.memory.baseAddress! + from, byteCount: kept)
        }
        let want = Int(min(Int64(max(count, readAhead)), end - offset))
        buffer.reserve(want, preserving: kept)
        bufferStart = offset
        let target = UnsafeMutableRawBufferPointer(rebasing: buffer.memory[kept..<want])
        let n = try handle.read(into: target, at: offset + Int64(kept))
        bytesRead += Int64(n)
        bufferCount = kept + n
        return bufferCount >= count
    }

    private var available: UnsafeRawBufferPointer {
        let from = Int(offset - bufferStart)
        return UnsafeRawBufferPointer(rebasing: buffer.memory[from..<bufferCount])
    }

    func next() throws(IOError) -> Step {
        if offset == end { return .end }
        let remaining = end - offset
        guard remaining >= 4 else {
            return .invalid(offset: offset, kind: .truncated, detail: "\(remaining) bytes at the end are too short for a frame")
        }
        guard try fill(4) else {
            return .invalid(offset: offset, kind: .truncated, detail: "file ends before the frame length")
        }
        let head = available
        if SegmentFooter.isFooterMagic(head) { return .footer(offset: offset) }
        let length = Int64(FrameHeader.peekLength(head))
        let minimum = Int64(FrameHeader.byteCount + FrameHeader.trailerByteCount)
        guard length >= minimum, length <= Int64(Limits.frameBytesMax) else {
            return .invalid(
                offset: offset, kind: .badLength,
                detail: "frame length \(length) outside \(minimum)...\(Limits.frameBytesMax)")
        }
        guard length <= remaining else {
            return .invalid(
                offset: offset, kind: .truncated,
                detail: "frame length \(length) runs past the end (\(remaining) bytes left)")
        }
        guard try fill(Int(length)) else {
            return .invalid(offset: offset, kind: .truncated, detail: "file ends inside a frame of \(length) bytes")
        }
        let frame = UnsafeRawBufferPointer(rebasing: available[0..<Int(length)])
        do {
            let header = try FrameHeader.decode(frame)
            frameBytes = frame
            let at = offset
            offset += length
            return .frame(header, offset: at)
        } catch {
            // The frame's start, not the byte that failed: a search for the next valid frame starts after it (a
            // damaged length can put the failing byte past the start of the next, intact frame).
            let inner = error.offset == 0 ? "" : " (at offset \(offset + Int64(error.offset)))"
            return .invalid(offset: offset, kind: error.kind, detail: error.reason + inner)
        }
    }

    /// Moves back to `offset` (a frame boundary between the scanner's start and its current offset). Bytes still in
    /// the read-ahead buffer are not read again.
    func rewind(to offset: Int64) {
        precondition(offset <= self.offset, "a scanner rewinds, it does not skip")
        self.offset = offset
    }

    /// Reads and validates a footer at `offset`; the file must end right after it, and the footer's data end (plus
    /// its frame table, in a compacted segment) must lead to it.
    func readFooter(at offset: Int64, fileSize: Int64) throws(IOError) -> Result<SegmentFooter, DecodeError> {
        guard fileSize - offset == Int64(SegmentFooter.byteCount) else {
            return .failure(DecodeError(offset: 0, kind: .badFooter, reason: "footer at \(offset) is not the last \(SegmentFooter.byteCount) bytes of the file (size \(fileSize))"))
        }
        let bytes = try handle.readBytes(count: SegmentFooter.byteCount, at: offset)
        bytesRead += Int64(bytes.count)
        return bytes.withUnsafeBytes { raw in
            do throws(DecodeError) {
                let footer = try SegmentFooter.decode(raw)
                guard footer.dataEnd <= UInt64(offset), UInt64(offset) - footer.dataEnd == UInt64(footer.tableBytes) else {
                    return .failure(DecodeError(
                        offset: 40,
                        kind: .badFooter, reason: "footer says data ends at \(footer.dataEnd) (frame table: \(footer.tableBytes) bytes), found at \(offset)"))
                }
                return .success(footer)
            } catch { return .failure(error) }
        }
    }
}
