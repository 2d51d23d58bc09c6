/// Reads the committed log forward in global-sequence order, while appends go on. Records are handed out as
/// `RecordView`s that point into the reader's buffers (no copy, no per-record allocation); a view is valid only
/// inside the closure that receives it. Not `Sendable`: one reader per task.
public final class LogReader {
    let store: LogStore
    /// The next sequence this reader will deliver.
    public private(set) var position: UInt64
    private let buffer = ScratchBuffer(capacity: FrameScanner.readAheadBytes)
    private let decoder = FrameRecordDecoder()
    private var scanner: FrameScanner?
    /// The segment file the scanner reads. Compared by identity: cold compaction replaces a segment's file
    /// with one of the same number whose frames start elsewhere (held, so its identity cannot be reused).
    private var scannerSegment: SegmentFile?
    /// Sequence of the first record of the frame at `scanner.offset`.
    private var scannerNext: UInt64 = 0
    /// Offset of the frame the last read stopped inside (its body is still decompressed in `decoder`).
    private var stoppedInFrame: Int64?

    init(store: LogStore, from sequence: UInt64) {
        self.store = store
        self.position = max(sequence, 1)
    }

    /// Moves the reader to `sequence`.
    public func seek(to sequence: UInt64) {
        position = max(sequence, 1)
        scanner = nil
        stoppedInFrame = nil
    }

    /// Calls `body` for up to `maxRecords` committed records from `position` on, in order, and advances.
    /// Returns how many were delivered; 0 means the reader is at the committed end.
    /// Throws `StorageError.corrupt` (with file and offset) on damage, or whatever `body` throws.
    @discardableResult
    public func read(maxRecords: Int = .max, _ body: (RecordView) throws -> Void) throws -> Int {
        let log = store.published.withLock { $0 }
        guard !log.closed else { throw StorageError.closed }
        var delivered = 0
        // Set again below if this read stops inside a frame; any other path leaves the decoder's body stale.
        var resumeFrame = stoppedInFrame
        stoppedInFrame = nil
        while delivered < maxRecords && position < log.nextSequence {
            let index = log.segmentIndex(for: position)
            let segment = log.segments[index]
            if scanner == nil || scannerSegment !== segment.file || scannerNext > position {
                let handle: any FileHandle
                do throws(IOError) {
                    handle = try segment.file.open(store.fileSystem)
                } catch { throw StorageError.io(error) }
                // A compacted segment says where the frame holding `position` starts; others are scanned from
                // their first frame.
                var start = (offset: Int64(SegmentHeader.byteCount), baseSequence: segment.file.baseSequence)
                if let found = try segment.frameStart(holding: position, store.fileSystem) { start = found }
                scanner = FrameScanner(handle: handle, from: start.offset, to: segment.dataEnd, buffer: buffer)
                resumeFrame = nil
                scannerSegment = segment.file
                scannerNext = start.baseSequence
            } else if scanner!.end != segment.dataEnd {
                // The segment grew (or was sealed) since the scanner was made: extend it.
                scanner = FrameScanner(handle: scanner!.handle, from: scanner!.offset, to: segment.dataEnd, buffer: buffer)
            }
            let scanner = self.scanner!
            let step: FrameScanner.Step
            do throws(IOError) {
                step = try scanner.next()
            } catch { throw StorageError.io(error) }
            switch step {
            case .end, .footer:
                guard index + 1 < log.segments.count else {
                    throw StorageError.corrupt(
                        .truncated, segment.file.path, scanner.offset,
                        "committed sequence \(position) is missing: the segment ends at sequence \(scannerNext - 1)")
                }
                guard scannerNext == log.segments[index + 1].file.baseSequence else {
                    throw StorageError.corrupt(
                        .badSequence, segment.file.path, scanner.offset,
                        "segment ends before sequence \(scannerNext); the next begins at \(log.segments[index + 1].file.baseSequence)")
                }
                position = max(position, scannerNext)
            case .invalid(let offset, let kind, let detail):
                self.scanner = nil
                throw StorageError.corrupt(kind, segment.file.path, offset, detail)
            case .frame(let header, let offset):
                guard header.baseSequence == scannerNext else {
                    self.scanner = nil
                    throw StorageError.corrupt(
                        .badSequence, segment.file.path, offset + 16,
                        "frame starts at sequence \(header.baseSequence), expected \(scannerNext)")
                }
                scannerNext = header.lastSequence + 1
                guard header.lastSequence >= position else { continue }
                let budget = maxRecords - delivered
                var taken = 0
                // Only the first frame this read decodes can be the one the last read stopped in.
                let resuming = resumeFrame == offset
                resumeFrame = nil
                let outcome = try decoder.forEachRecord(
                    in: scanner.frameBytes, header: header, from: position, reusingBody: resuming
                ) { record in
                    try body(record)
                    taken += 1
                    return taken < budget
                }
                delivered += taken
                switch outcome {
                case .failure(let error):
                    self.scanner = nil
                    throw StorageError.corrupt(
                        .badRecord, segment.file.path, offset,
                        "frame at sequence \(header.baseSequence): body byte \(error.offset): \(error.reason)")
                case .success(let finished):
                    if finished {
                        position = scannerNext
                    } else {
                        // Stopped inside the frame: the next call starts at this frame again (its bytes are still in
                        // the read-ahead buffer, its body still decompressed) and skips the records delivered.
                        position += UInt64(taken)
                        scanner.rewind(to: offset)
                        scannerNext = header.baseSequence
                        stoppedInFrame = offset
                    }
                }
            }
        }
        return delivered
    }
}
