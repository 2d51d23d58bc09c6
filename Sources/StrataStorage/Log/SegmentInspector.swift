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
            _ = try body(.problem(offset: Int64(error.offset), kind: Corruption.Kind.classify(error), detail: error.reason))
            return
        }
        guard try body(.header(header)) else { return }
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

    /// The first offset at or after `from` where a whole valid frame starts and `accept` takes it: how damage in
    /// the middle of a segment is told from a torn final write, and where a repair resumes after damage. Reads
    /// 1 MiB windows; a candidate is read whole only when its length is plausible and its trailer repeats it,
    /// so memory stays bounded whatever the file holds.
    package static func nextValidFrame(
        in handle: any FileHandle, from: Int64, size: Int64, accept: (FrameHeader) -> Bool = { _ in true }
    ) -> (offset: Int64, header: FrameHeader)? {
        let minimum = Int64(FrameHeader.byteCount + FrameHeader.trailerByteCount)
        let window: Int64 = 1 << 20
        var start = max(from, 0)
        while start + minimum <= size {
            let count = Int(min(window + 3, size - start))
            guard let bytes = try? handle.readBytes(count: count, at: start), bytes.count == count else { return nil }
            let found: (Int64, FrameHeader)? = bytes.withUnsafeBytes { raw in
                var i = 0
                while i + 4 <= raw.count && Int64(i) < window {
                    let at = start + Int64(i)
                    let length = Int64(loadU32LE(raw, i))
                    if length >= minimum, length <= Int64(Limits.frameBytesMax), at + length <= size,
                        let trailer = try? handle.readBytes(count: 4, at: at + length - 4),
                        trailer.withUnsafeBytes({ loadU32LE($0, 0) }) == UInt32(length),
                        let frame = try? handle.readBytes(count: Int(length), at: at),
                        let header = frame.withUnsafeBytes({ try? FrameHeader.decode($0) }), accept(header)
                    {
                        return (at, header)
                    }
                    i += 1
                }
                return nil
            }
            if let found { return found }
            start += window
        }
        return nil
    }
}
