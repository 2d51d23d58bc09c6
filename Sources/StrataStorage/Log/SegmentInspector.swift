/// Walks one segment file read-only, the way recovery sees it (header, frames, footer), for tools that must
/// not change a store: `strata dump` of a segment file, `strata fsck`. Every frame handed out has passed the
/// checks of FORMAT.md (lengths against the limits and the file size first, then trailer and checksum).
package enum SegmentInspector {
    package enum Step {
        case header(SegmentHeader)
        /// A valid frame; `bytes` are valid only inside the callback.
        case frame(FrameHeader, offset: Int64, bytes: UnsafeRawBufferPointer)
        case footer(SegmentFooter, offset: Int64)
        /// The walk stops at the first problem: the header, a frame or the footer is not what FORMAT.md says.
        case problem(offset: Int64, kind: Corruption.Kind, detail: String)
    }

    /// Calls `body` for each step until the end of the file, a problem, or `body` returning false.
    package static func walk(
        _ path: String, fileSystem: any FileSystem, _ body: (Step) throws -> Bool
    ) throws {
        let handle = try io { () throws(IOError) in try fileSystem.open(path, mode: .read) }
        defer { handle.close() }
        let size = try io { () throws(IOError) in try handle.size() }
        guard size >= Int64(SegmentHeader.byteCount) else {
            _ = try body(.problem(offset: 0, kind: .truncated, detail: "\(size) bytes, shorter than the \(SegmentHeader.byteCount)-byte segment header"))
            return
        }
        let headerBytes = try io { () throws(IOError) in try handle.readBytes(count: SegmentHeader.byteCount, at: 0) }
        let header: SegmentHeader
        do throws(DecodeError) {
            header = try headerBytes.withRawBytes { (raw) throws(DecodeError) in try SegmentHeader.decode(raw) }
        } catch {
            _ = try body(.problem(offset: Int64(error.offset), kind: error.kind, detail: error.reason))
            return
        }
        guard try body(.header(header)) else { return }
        if header.isCompacted {
            try walkCompacted(handle, header: header, size: size, body)
            return
        }
        let scanner = FrameScanner(handle: handle, from: Int64(SegmentHeader.byteCount), to: size)
        while true {
            let step = try io { () throws(IOError) in try scanner.next() }
            switch step {
            case .end:
                return
            case .frame(let frame, let offset):
                guard try body(.frame(frame, offset: offset, bytes: scanner.frameBytes)) else { return }
            case .footer(let offset):
                switch try io({ () throws(IOError) in try scanner.readFooter(at: offset, fileSize: size) }) {
                case .success(let footer):
                    _ = try body(.footer(footer, offset: offset))
                case .failure(let error):
                    _ = try body(.problem(offset: offset + Int64(error.offset), kind: .badFooter, detail: error.reason))
                }
                return
            case .invalid(let offset, let kind, let detail):
                _ = try body(.problem(offset: offset, kind: kind, detail: detail))
                return
            }
        }
    }

    /// What a compacted segment's header says of it — or, when the header is damaged, its footer (a frame table
    /// that fits the file) and the next file's number (the numbers between were merged into it). Nil for a segment
    /// that is not compacted (or whose header and footer are both unreadable).
    package static func compaction(
        of file: String, number: UInt64, nextNumber: UInt64?, nextBase: UInt64? = nil, fileSystem fs: any FileSystem
    ) throws(IOError) -> (lastNumber: UInt64, footer: SegmentFooter?)? {
        let handle = try fs.open(file, mode: .read)
        defer { handle.close() }
        let size = try handle.size()
        var footer: SegmentFooter?
        if size >= Int64(SegmentHeader.byteCount + SegmentFooter.byteCount) {
            let bytes = try handle.readBytes(count: SegmentFooter.byteCount, at: size - Int64(SegmentFooter.byteCount))
            let decoded = try? bytes.withRawBytes { (raw) throws(DecodeError) in try SegmentFooter.decode(raw) }
            // Only a footer that fits the file: its frames and table end where it starts.
            let footerAt = UInt64(size) - UInt64(SegmentFooter.byteCount)
            if let decoded, decoded.tableBytes > 0, decoded.dataEnd <= footerAt, footerAt - decoded.dataEnd == UInt64(decoded.tableBytes) {
                footer = decoded
            }
        }
        let header = try handle.readBytes(count: SegmentHeader.byteCount, at: 0)
        if let decoded = try? header.withRawBytes({ (raw) throws(DecodeError) in try SegmentHeader.decode(raw) }),
            decoded.segmentNumber == number
        {
            return decoded.isCompacted ? (decoded.lastSegmentNumber, footer) : nil
        }
        guard footer != nil else {
            // Header and footer both unusable. A gap in the segment numbers after this file is still explained when
            // its frames run up to the next file's base sequence: no sequence is missing between them, so the
            // segments of the gap were merged into this one by a compaction (it is not a deleted file).
            if let nextNumber, let nextBase, nextNumber > number + 1,
                let last = try lastFrameSequence(in: handle, size: size), last &+ 1 == nextBase
            {
                return (nextNumber - 1, nil)
            }
            return nil
        }
        return ((nextNumber ?? number + 1) - 1, footer)
    }

    /// The highest sequence of the valid frames of a segment file, going on after damage at the next valid frame
    /// (nil: none).
    static func lastFrameSequence(in handle: any FileHandle, size: Int64) throws(IOError) -> UInt64? {
        var last: UInt64?
        var scanner = FrameScanner(handle: handle, from: Int64(SegmentHeader.byteCount), to: size)
        while true {
            switch try scanner.next() {
            case .frame(let header, _):
                last = max(last ?? 0, header.lastSequence)
            case .end, .footer:
                return last
            case .invalid(let at, _, _):
                guard let next = try nextValidFrame(in: handle, from: at + 1, size: size) else { return last }
                scanner = FrameScanner(handle: handle, from: next.offset, to: size)
            }
        }
    }

    /// A compacted segment: the footer (at the end of the file) says where the frames end; the frames, then the
    /// frame table, which must list exactly the frames found, then the footer.
    private static func walkCompacted(
        _ handle: any FileHandle, header: SegmentHeader, size: Int64, _ body: (Step) throws -> Bool
    ) throws {
        let footerOffset = size - Int64(SegmentFooter.byteCount)
        guard footerOffset >= Int64(SegmentHeader.byteCount) else {
            _ = try body(.problem(offset: 0, kind: .truncated, detail: "a compacted segment of \(size) bytes has no room for its footer"))
            return
        }
        let probe = FrameScanner(handle: handle, from: footerOffset, to: size, buffer: ScratchBuffer(capacity: 64))
        let footer: SegmentFooter
        switch try io({ () throws(IOError) in try probe.readFooter(at: footerOffset, fileSize: size) }) {
        case .success(let found) where found.tableBytes > 0 && found.firstSequence == header.baseSequence:
            footer = found
        case .success:
            _ = try body(.problem(offset: footerOffset, kind: .badFooter, detail: "the footer of a compacted segment has no frame table or another first sequence"))
            return
        case .failure(let error):
            _ = try body(.problem(offset: footerOffset + Int64(error.offset), kind: .badFooter, detail: "compacted segment: \(error.reason)"))
            return
        }
        let dataEnd = Int64(footer.dataEnd)
        let scanner = FrameScanner(handle: handle, from: Int64(SegmentHeader.byteCount), to: dataEnd)
        var found = FrameTable(baseSequences: [], offsets: [])
        frames: while true {
            switch try io({ () throws(IOError) in try scanner.next() }) {
            case .end:
                break frames
            case .frame(let frame, let offset):
                found.baseSequences.append(frame.baseSequence)
                found.offsets.append(UInt64(offset))
                guard try body(.frame(frame, offset: offset, bytes: scanner.frameBytes)) else { return }
            case .footer(let offset):
                _ = try body(.problem(offset: offset, kind: .badFooter, detail: "a footer among the frames of a compacted segment"))
                return
            case .invalid(let offset, let kind, let detail):
                _ = try body(.problem(offset: offset, kind: kind, detail: detail))
                return
            }
        }
        switch try io({ () throws(IOError) in try FrameTable.read(from: handle, footer: footer) }) {
        case .failure(let error):
            _ = try body(.problem(offset: dataEnd + Int64(error.offset), kind: error.kind, detail: "frame table: \(error.reason)"))
            return
        case .success(let table) where table != found:
            let i = (0..<min(table.count, found.count)).first {
                table.offsets[$0] != found.offsets[$0] || table.baseSequences[$0] != found.baseSequences[$0]
            } ?? min(table.count, found.count)
            _ = try body(.problem(
                offset: dataEnd + 4 + 16 * Int64(i), kind: .badFooter,
                detail: "the frame table lists \(table.count) frames, the segment has \(found.count); they differ from entry \(i)"))
            return
        case .success:
            break
        }
        _ = try body(.footer(footer, offset: footerOffset))
    }

    /// Valid data after an invalid frame: what tells damage from a torn final write (FORMAT.md, "Recovery").
    package enum ValidDataAfter: Sendable, Equatable {
        /// A valid frame continuing the sequence (its base is past the last good sequence).
        case frame(offset: Int64, baseSequence: UInt64)
        /// The file ends in a valid footer through a sequence past the last good one: the segment was sealed after
        /// the invalid frame had been written.
        case footer(offset: Int64, lastSequence: UInt64)

        package var offset: Int64 {
            switch self {
            case .frame(let offset, _), .footer(let offset, _): offset
            }
        }
    }

    /// Looks past an invalid frame at `invalidAt` (the last good record before it is `lastSequence`) for valid
    /// data: nil means a torn final write (nothing valid follows), anything else is damage. Recovery and fsck
    /// share this rule.
    package static func validData(
        after invalidAt: Int64, in handle: any FileHandle, size: Int64, lastSequence: UInt64
    ) throws(IOError) -> ValidDataAfter? {
        if let frame = try nextValidFrame(in: handle, from: invalidAt + 1, size: size, accept: { $0.baseSequence > lastSequence }) {
            return .frame(offset: frame.offset, baseSequence: frame.header.baseSequence)
        }
        let footerAt = size - Int64(SegmentFooter.byteCount)
        guard footerAt > invalidAt, footerAt >= Int64(SegmentHeader.byteCount) else { return nil }
        let bytes = try handle.readBytes(count: SegmentFooter.byteCount, at: footerAt)
        guard let footer = try? bytes.withRawBytes({ (raw) throws(DecodeError) in try SegmentFooter.decode(raw) }),
            footer.lastSequence > lastSequence
        else { return nil }
        return .footer(offset: footerAt, lastSequence: footer.lastSequence)
    }

    /// The first offset at or after `from` where a whole valid frame starts and `accept` takes it: how damage in
    /// the middle of a segment is told from a torn final write, and where a repair resumes after damage. Reads
    /// 1 MiB windows; a candidate is read whole only when its length is plausible and its trailer repeats it,
    /// so memory stays bounded whatever the file holds. An I/O error is thrown, never taken for "nothing valid
    /// follows" (recovery would cut acknowledged data on it).
    package static func nextValidFrame(
        in handle: any FileHandle, from: Int64, size: Int64, accept: (FrameHeader) -> Bool = { _ in true }
    ) throws(IOError) -> (offset: Int64, header: FrameHeader)? {
        let minimum = Int64(FrameHeader.byteCount + FrameHeader.trailerByteCount)
        let window: Int64 = 1 << 20
        var start = max(from, 0)
        while start + minimum <= size {
            let count = Int(min(window + 3, size - start))
            let bytes = try handle.readBytes(count: count, at: start)
            guard bytes.count == count else {
                throw IOError.engine("read", path: handle.path, "file shrank while it was searched for a valid frame")
            }
            var i = 0
            while i + 4 <= bytes.count && Int64(i) < window {
                let at = start + Int64(i)
                let length = Int64(bytes.withUnsafeBytes { loadU32LE($0, i) })
                i += 1
                guard length >= minimum, length <= Int64(Limits.frameBytesMax), at + length <= size else { continue }
                let trailer = try handle.readBytes(count: 4, at: at + length - 4)
                guard trailer.count == 4, trailer.withUnsafeBytes({ loadU32LE($0, 0) }) == UInt32(length) else { continue }
                let frame = try handle.readBytes(count: Int(length), at: at)
                if let header = frame.withUnsafeBytes({ try? FrameHeader.decode($0) }), accept(header) {
                    return (at, header)
                }
            }
            start += window
        }
        return nil
    }
}
