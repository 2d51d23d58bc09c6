import Dispatch

/// Cold compaction (FORMAT.md, "Compacted segments"): sealed segments older than a threshold are rewritten with
/// zlib, their small frames merged into larger ones and small neighbouring segments merged into one file.
/// Global sequences never change; the partition index is not touched (readers find a rewritten frame through the
/// new file's frame table, by sequence). Each new file replaces the old ones atomically, and readers that are
/// reading an old file keep reading it through their open descriptor.
extension LogStore {
    /// What cold compaction rewrites, and how.
    public struct ColdCompaction: Sendable, Hashable {
        /// A sealed segment is cold once it was created at least this long ago.
        public var olderThan: Duration
        /// zlib level, 1 (fast) … 9 (small).
        public var zlibLevel: Int
        /// Neighbouring cold segments are merged into one file while their sizes add up to at most this
        /// (nil: the store's `segmentBytesTarget`).
        public var mergedBytesMax: Int?
        /// Frames are rewritten as frames of about this many raw (uncompressed) bytes: consecutive frames are
        /// merged while they fit, so appends of one or a few events compress as well as large batches. A
        /// larger value compresses better and makes each read of one stream's events from cold data decompress
        /// more bytes. At most `Limits.frameRawBytesMax`.
        public var frameBytesTarget: Int

        public init(
            olderThan: Duration = .seconds(24 * 3600), zlibLevel: Int = 6, mergedBytesMax: Int? = nil,
            frameBytesTarget: Int = 64 << 10
        ) {
            self.olderThan = olderThan
            self.zlibLevel = zlibLevel
            self.mergedBytesMax = mergedBytesMax
            self.frameBytesTarget = frameBytesTarget
        }
    }

    /// How many segments the log has, how many of them are sealed, and how many cold compaction rewrote.
    public struct SegmentSummary: Sendable, Equatable {
        public var segments: Int
        public var sealed: Int
        public var compacted: Int
    }

    /// The log's segments as readers see them now.
    public var segmentSummary: SegmentSummary {
        published.withLock { log in
            SegmentSummary(
                segments: log.segments.count, sealed: log.segments.count { $0.sealed },
                compacted: log.segments.count { $0.isCompacted })
        }
    }

    /// What one cold compaction did.
    public struct ColdCompactionReport: Sendable, Equatable {
        /// Segment files rewritten (merged ones included).
        public var segmentsRead = 0
        /// Files written in their place.
        public var segmentsWritten = 0
        /// Sizes of the files read and of the files written.
        public var bytesBefore: Int64 = 0
        public var bytesAfter: Int64 = 0
        /// Frames read and written.
        public var framesBefore = 0
        public var framesAfter = 0

        public init() {}
    }

    /// Rewrites the cold sealed segments (see `ColdCompaction`). Runs beside appends and reads: the rewriting
    /// happens off the writer, which is held only to swap each new file in (rename, directory fsync, removal of
    /// merged files, checkpoint). One compaction runs at a time; a second call waits for the first.
    /// A crash at any point leaves the old files or the new one (FORMAT.md, "Recovery").
    public func compactColdSegments(
        _ policy: ColdCompaction = ColdCompaction(), now: Int64 = wallClockMicros()
    ) async throws(StorageError) -> ColdCompactionReport {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<ColdCompactionReport, StorageError>, Never>) in
            coldCompactionQueue.async {
                do throws(StorageError) {
                    continuation.resume(returning: .success(try self.compactCold(policy, now: now)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// One group of neighbouring cold segments that becomes one file.
    struct ColdGroup {
        var segments: [PublishedSegment] = []
        var headers: [SegmentHeader] = []
        var bytes: Int64 = 0
        /// Worth rewriting: several files, or one that is not compacted yet.
        var worthRewriting: Bool { segments.count > 1 || segments.first?.isCompacted == false }
    }

    private func compactCold(_ policy: ColdCompaction, now: Int64) throws(StorageError) -> ColdCompactionReport {
        guard (1...9).contains(policy.zlibLevel), policy.frameBytesTarget >= 1,
            policy.frameBytesTarget <= Limits.frameRawBytesMax
        else {
            throw .invalidArgument(
                "cold compaction: zlib level \(policy.zlibLevel) (1…9), frame target \(policy.frameBytesTarget) bytes (1…\(Limits.frameRawBytesMax))")
        }
        let log = published.withLock { $0 }
        guard !log.closed else { throw .closed }
        // Created at or before `threshold` = cold. (Saturating: a huge or negative duration must not trap.)
        let age = policy.olderThan.components
        let (ageMicros, overflow) = age.seconds.multipliedReportingOverflow(by: 1_000_000)
        let (threshold, under) = now.subtractingReportingOverflow(
            overflow ? (age.seconds < 0 ? .min : .max) : ageMicros &+ age.attoseconds / 1_000_000_000_000)
        let coldBefore = under ? (age.seconds < 0 ? Int64.max : Int64.min) : threshold
        let mergedMax = Int64(policy.mergedBytesMax ?? options.segmentBytesTarget)
        var groups: [ColdGroup] = []
        var current = ColdGroup()
        // Every segment but the active one is sealed and never changes; segments are created in order, so the
        // cold ones come first.
        for segment in log.segments.dropLast() where segment.sealed {
            let header = try readHeader(of: segment)
            guard header.createdMicros <= coldBefore else { break }
            let size = segment.sealedFileBytes
            if !current.segments.isEmpty && current.bytes + size > mergedMax {
                groups.append(current)
                current = ColdGroup()
            }
            current.segments.append(segment)
            current.headers.append(header)
            current.bytes += size
        }
        if !current.segments.isEmpty { groups.append(current) }
        var report = ColdCompactionReport()
        for group in groups where group.worthRewriting {
            let written = try writeCompacted(group, policy: policy)
            let swapped = try swapIn(group, written)
            guard swapped else { continue }
            report.segmentsRead += group.segments.count
            report.segmentsWritten += 1
            report.bytesBefore += group.bytes
            report.bytesAfter += written.segment.sealedFileBytes
            report.framesBefore += group.segments.reduce(0) { $0 + Int($1.frameCount) }
            report.framesAfter += Int(written.segment.frameCount)
        }
        return report
    }

    private func readHeader(of segment: PublishedSegment) throws(StorageError) -> SegmentHeader {
        let bytes: [UInt8]
        do throws(IOError) {
            bytes = try segment.file.open(fileSystem).readBytes(count: SegmentHeader.byteCount, at: 0)
        } catch { throw .io(error) }
        do throws(DecodeError) {
            return try bytes.withRawBytes { (raw) throws(DecodeError) in try SegmentHeader.decode(raw) }
        } catch {
            throw .corrupt(error.kind, segment.file.path, Int64(error.offset), error.reason)
        }
    }

    /// A compacted file written (and synced) under a temporary name, not yet in place.
    struct CompactedFile {
        var temporaryPath: String
        var segment: PublishedSegment
    }

    /// Writes the group's frames, recompressed and merged, as one compacted segment under a temporary name.
    private func writeCompacted(_ group: ColdGroup, policy: ColdCompaction) throws(StorageError) -> CompactedFile {
        let first = group.segments[0]
        let header = SegmentHeader.compacted(
            segmentNumber: first.file.number, lastSegmentNumber: group.segments.last!.file.lastNumber,
            baseSequence: first.file.baseSequence, createdMicros: group.headers[0].createdMicros)
        let temporary = first.file.path + StoreFileName.temporarySuffix
        let out: any FileHandle
        do throws(IOError) { out = try fileSystem.open(temporary, mode: .create) } catch { throw .io(error) }
        defer { out.close() }
        var writer = CompactedSegmentWriter(
            output: out, path: temporary, compression: .zlib(level: policy.zlibLevel),
            frameBytesTarget: policy.frameBytesTarget, baseSequence: first.file.baseSequence)
        let buffer = ScratchBuffer(capacity: FrameScanner.readAheadBytes)
        do throws(StorageError) {
            try writer.start(header)
            for segment in group.segments {
                let handle: any FileHandle
                do throws(IOError) { handle = try segment.file.open(fileSystem) } catch { throw .io(error) }
                let scanner = FrameScanner(handle: handle, from: Int64(SegmentHeader.byteCount), to: segment.dataEnd, buffer: buffer)
                scan: while true {
                    let step: FrameScanner.Step
                    do throws(IOError) { step = try scanner.next() } catch { throw .io(error) }
                    switch step {
                    case .end:
                        break scan
                    case .frame(let frame, let offset):
                        try writer.add(frame, bytes: scanner.frameBytes, from: segment.file.path, at: offset)
                    case .footer(let offset):
                        throw .corrupt(.badFooter, segment.file.path, offset, "a footer before the segment's data end \(segment.dataEnd)")
                    case .invalid(let offset, let kind, let detail):
                        throw .corrupt(kind, segment.file.path, offset, detail)
                    }
                }
                guard writer.nextSequence == segment.lastSequence + 1 else {
                    throw .corrupt(
                        .badSequence, segment.file.path, segment.dataEnd,
                        "frames end at sequence \(writer.nextSequence - 1); the segment's footer says \(segment.lastSequence)")
                }
            }
            let sealed = try writer.finish()
            let file = SegmentFile(
                number: header.segmentNumber, baseSequence: header.baseSequence, path: first.file.path,
                handles: segmentHandles, lastNumber: header.lastSegmentNumber)
            return CompactedFile(
                temporaryPath: temporary,
                segment: PublishedSegment(
                    file: file, lastSequence: sealed.lastSequence, dataEnd: Int64(sealed.dataEnd),
                    frameCount: sealed.frameCount, sealed: true, tableBytes: sealed.tableBytes))
        } catch {
            try? fileSystem.remove(temporary)
            throw error
        }
    }

    /// Puts the compacted file in place of the group's files, on the writer queue: rename over the first file,
    /// directory fsync, removal of the merged files, directory fsync, the new segment table to readers, the
    /// checkpoint. Returns false (and removes the file) when the log changed under the compaction (a closed store).
    private func swapIn(_ group: ColdGroup, _ written: CompactedFile) throws(StorageError) -> Bool {
        let result = writerQueue.sync {
            writer.withLock { w -> Result<Bool, StorageError> in
                guard !w.closed, w.failure == nil,
                    let start = w.segments.firstIndex(where: { $0.file === group.segments[0].file }),
                    start + group.segments.count < w.segments.count,
                    zip(w.segments[start...], group.segments).allSatisfy({ $0.file === $1.file })
                else {
                    try? fileSystem.remove(written.temporaryPath)
                    return .success(false)
                }
                do throws(IOError) {
                    // Readers holding the old segment table must keep reading the old files: open every old file
                    // now, so their descriptors outlive the rename and the removals.
                    for old in group.segments { try old.file.pin(fileSystem) }
                    let directory = w.directory
                    try fileSystem.rename(written.temporaryPath, to: written.segment.file.path)
                    try fileSystem.syncDirectory(directory)
                } catch {
                    try? fileSystem.remove(written.temporaryPath)
                    return .failure(.io(error))
                }
                // From here on the new file is the segment, whatever fails next: a merged file left behind is
                // removed by the next open (its number is covered by the new file's header).
                w.segments.replaceSubrange(start..<(start + group.segments.count), with: [written.segment])
                let segments = w.segments
                published.withLock { $0.segments = segments }
                do throws(IOError) {
                    for old in group.segments.dropFirst() { try fileSystem.remove(old.file.path) }
                    if group.segments.count > 1 { try fileSystem.syncDirectory(w.directory) }
                    try w.writeCheckpoint(fileSystem)
                } catch {
                    return .failure(.io(error))
                }
                return .success(true)
            }
        }
        return try result.get()
    }
}

/// Writes a compacted segment: header, frames (records re-based into merged frames, recompressed), frame table,
/// footer (FORMAT.md, "Compacted segments"). Frames are merged only whole, so the records one append wrote for a
/// stream stay in one frame, where the index's entry for them leads.
struct CompactedSegmentWriter {
    let output: any FileHandle
    let path: String
    let compression: Compression
    let frameBytesTarget: Int
    private(set) var nextSequence: UInt64
    private let firstSequence: UInt64
    private var offset = Int64(SegmentHeader.byteCount)
    private var buffer = ByteWriter(capacity: 1 << 20)
    private var table = FrameTable(baseSequences: [], offsets: [])
    private var header: SegmentHeader?
    /// Records of the frame being assembled, re-encoded with deltas from `pendingBase`.
    private var pending = ByteWriter(capacity: 1 << 16)
    private var pendingBase: UInt64 = 0
    private var pendingCount = 0
    private let raw = ScratchBuffer(capacity: 1 << 16)

    init(output: any FileHandle, path: String, compression: Compression, frameBytesTarget: Int, baseSequence: UInt64) {
        self.output = output
        self.path = path
        self.compression = compression
        self.frameBytesTarget = frameBytesTarget
        self.nextSequence = baseSequence
        self.firstSequence = baseSequence
    }

    mutating func start(_ header: SegmentHeader) throws(StorageError) {
        self.header = header
        do throws(IOError) { try output.write(header.encode(), at: 0) } catch { throw .io(error) }
    }

    /// Adds one validated frame of an old segment (`bytes` is the whole frame, at `offset` in `source`).
    mutating func add(_ frame: FrameHeader, bytes: UnsafeRawBufferPointer, from source: String, at offset: Int64) throws(StorageError) {
        guard frame.baseSequence == nextSequence else {
            throw .corrupt(.badSequence, source, offset + 16, "frame starts at sequence \(frame.baseSequence), expected \(nextSequence)")
        }
        if frame.kind == .lost {
            // A lost range stays as it is: it records what a repair found. The header says the file holds one.
            header?.flags |= SegmentHeader.flagHoldsLostRanges
            try flushPending()
            table.baseSequences.append(frame.baseSequence)
            table.offsets.append(UInt64(bufferedOffset(buffer.count)))
            buffer.raw(bytes)
            nextSequence = frame.lastSequence + 1
            try flushBuffer(ifOver: 1 << 20)
            return
        }
        let stored = UnsafeRawBufferPointer(
            rebasing: bytes[FrameHeader.byteCount..<(FrameHeader.byteCount + Int(frame.storedBodyBytes))])
        let body: UnsafeRawBufferPointer
        if frame.codec == .none {
            body = stored
        } else {
            raw.reserve(Int(frame.rawBodyBytes))
            let target = UnsafeMutableRawBufferPointer(rebasing: raw.memory[0..<Int(frame.rawBodyBytes)])
            do throws(DecodeError) { try FrameCompressor.decompress(frame.codec, stored, into: target) } catch {
                throw .corrupt(.badCompression, source, offset, "frame at sequence \(frame.baseSequence): \(error.reason)")
            }
            body = UnsafeRawBufferPointer(target)
        }
        // Room for every record with its delta grown to the longest varint.
        let growth = Int(frame.recordCount) * 10
        if pendingCount > 0
            && (pending.count + body.count + growth > frameBytesTarget
                || pendingCount + Int(frame.recordCount) > Limits.recordsPerFrameMax
                || pending.count + body.count + growth > Limits.frameRawBytesMax)
        {
            try flushPending()
        }
        if pendingCount == 0 { pendingBase = frame.baseSequence }
        var position = 0
        for i in 0..<Int(frame.recordCount) {
            guard let (record, next) = RecordView.decodeFast(body, at: position, baseSequence: frame.baseSequence),
                record.sequence == frame.baseSequence + UInt64(i)
            else {
                var reader = ByteReader(body, position: position)
                let reason: String
                do throws(DecodeError) {
                    _ = try RecordView.decode(&reader, baseSequence: frame.baseSequence)
                    reason = "record \(i) is out of sequence"
                } catch { reason = "body byte \(error.offset): \(error.reason)" }
                throw .corrupt(.badRecord, source, offset, "frame at sequence \(frame.baseSequence): \(reason)")
            }
            // varint(bodyLength) varint(delta) rest: only the delta changes (and with it the length).
            var p = body.baseAddress! + position
            let end = body.baseAddress! + next
            let bodyLength = RecordView.fastVarint(&p, end)!
            let afterLength = p
            _ = RecordView.fastVarint(&p, end)!
            let deltaBytes = p - afterLength
            let delta = record.sequence - pendingBase
            let rest = UnsafeRawBufferPointer(start: p, count: end - p)
            pending.varint(bodyLength - UInt64(deltaBytes) + UInt64(RecordCodec.varintSize(delta)))
            pending.varint(delta)
            pending.raw(rest)
            position = next
        }
        guard position == body.count else {
            throw .corrupt(.badRecord, source, offset, "frame at sequence \(frame.baseSequence): \(body.count - position) bytes follow the last record")
        }
        pendingCount += Int(frame.recordCount)
        nextSequence = frame.lastSequence + 1
    }

    private func bufferedOffset(_ buffered: Int) -> Int64 { offset + Int64(buffered) }

    private mutating func flushPending() throws(StorageError) {
        guard pendingCount > 0 else { return }
        let (codec, stored) = FrameCompressor.compress(pending.bytes, with: compression)
        table.baseSequences.append(pendingBase)
        table.offsets.append(UInt64(bufferedOffset(buffer.count)))
        stored.withUnsafeBytes { body in
            FrameHeader.encode(
                codec: codec, recordCount: pendingCount, baseSequence: pendingBase, rawBodyBytes: pending.count,
                body: body, into: &buffer)
        }
        pending.removeAll()
        pendingCount = 0
        try flushBuffer(ifOver: 1 << 20)
    }

    private mutating func flushBuffer(ifOver threshold: Int = 0) throws(StorageError) {
        guard buffer.count > threshold || (threshold == 0 && buffer.count > 0) else { return }
        let at = offset
        do throws(IOError) {
            try buffer.bytes.withRawBytes { (raw) throws(IOError) in try output.write(raw, at: at) }
        } catch { throw .io(error) }
        offset += Int64(buffer.count)
        buffer.removeAll()
    }

    /// Writes the last frame, the frame table and the footer, then syncs. Returns the footer.
    mutating func finish() throws(StorageError) -> SegmentFooter {
        try flushPending()
        try flushBuffer()
        let dataEnd = offset
        let tableBytes = table.encode()
        let footer = SegmentFooter(
            frameCount: UInt64(table.count), recordCount: nextSequence - firstSequence, firstSequence: firstSequence,
            lastSequence: nextSequence - 1, dataEnd: UInt64(dataEnd), tableBytes: UInt32(tableBytes.count))
        do throws(IOError) {
            try output.write(tableBytes + footer.encode(), at: dataEnd)
            if let header { try output.write(header.encode(), at: 0) }
            try output.sync()
        } catch { throw .io(error) }
        return footer
    }
}
