/// What `LogStore.open` found and did.
public struct RecoveryReport: Sendable, Equatable {
    public struct Truncation: Sendable, Equatable {
        public var file: String
        /// Where the log was cut: everything from here on was treated as never written.
        public var offset: Int64
        public var bytesRemoved: Int64
        public var reason: String
        /// Where the removed bytes were saved (`quarantine/` in the store), nil if they were all zeros.
        public var savedAs: String?
    }

    /// The checkpoint described the store and was used to skip verification and scanning.
    public var usedCheckpoint = false
    /// Why the checkpoint was not used, if it existed but was unusable.
    public var checkpointProblem: String?
    public var segments = 0
    /// Segment bytes read to verify sealed segments and to scan the tail.
    public var bytesRead: Int64 = 0
    /// Frames validated in the tail scan.
    public var framesScanned = 0
    public var truncation: Truncation?
    /// Temporary files (interrupted segment creations or checkpoint writes) that were removed.
    public var removedTemporaryFiles: [String] = []
    /// Segment files a cold compaction had merged into another and not yet removed when it stopped.
    public var removedSupersededSegments: [String] = []
    public var createdStore = false
    /// Why the partition index was rebuilt from the segments, if it was.
    public var indexProblem: String?
    /// Frames read to bring the index up to date (0 after a clean close).
    public var indexFramesScanned = 0
}

/// Opening a store (FORMAT.md, "Recovery"):
///
/// | situation                                          | action                                             |
/// |----------------------------------------------------|----------------------------------------------------|
/// | folder missing                                     | create it with segment 1, or `.notFound`           |
/// | `LOCK` held                                        | `.locked`                                          |
/// | `REPAIRING` present (a repair was interrupted)     | `.repairInterrupted`, before anything is touched   |
/// | `*.tmp` files                                      | remove (interrupted creations, never acknowledged) |
/// | first segment's base sequence is not 1             | `.corrupt(.missingSegment)`                        |
/// | sealed segment matches its checkpoint entry + size | trust it, read nothing                             |
/// | sealed segment not in the checkpoint               | verify header and footer                           |
/// | last segment, size == checkpoint's dataEnd         | trust it, read nothing (clean close)               |
/// | last segment, size > checkpoint's dataEnd          | scan frames after dataEnd                          |
/// | last segment not in the checkpoint                 | verify header, scan all frames                     |
/// | size < checkpoint's dataEnd                        | `.corrupt(.truncated)`: acknowledged data is gone  |
/// | invalid frame in the scanned tail                  | cut the file there (truncate + fsync)              |
/// | valid footer at the end of the last segment        | it is sealed: start the next segment               |
/// | gap in segment numbers or sequences                | `.corrupt(.missingSegment / .badSequence)`         |
enum Recovery {
    static func open(path: String, options: LogStore.Options) throws(StorageError) -> LogStore {
        let fs = options.fileSystem
        var report = RecoveryReport()
        if !fs.directoryExists(path) {
            guard options.createIfMissing else { throw .notFound(path: path) }
            do throws(IOError) {
                try fs.createDirectory(path)
                // The new folder's entry in its parent must be durable too.
                try fs.syncDirectory(parentDirectory(of: path))
            } catch { throw .io(error) }
            report.createdStore = true
        }
        let lock: any FileLock
        do throws(IOError) {
            lock = try fs.lockFile(joinPath(path, StoreFileName.lock))
        } catch {
            if error.errno == 11 /* EAGAIN/EWOULDBLOCK */ { throw .locked(path: path) }
            throw .io(error)
        }
        do throws(StorageError) {
            let (published, writer) = try recover(path: path, fs: fs, report: &report)
            let index = try PartitionIndex.open(
                storePath: path, log: published, fileSystem: fs, hasher: options.streamKeyHash, report: &report)
            let snapshots = try SnapshotStore(storePath: path, fileSystem: fs)
            return LogStore(
                path: path, options: options, lock: lock, recovery: report, published: published, writer: writer,
                index: index, snapshots: snapshots)
        } catch {
            lock.release()
            throw error
        }
    }

    static func parentDirectory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    private static func recover(
        path: String, fs: any FileSystem, report: inout RecoveryReport
    ) throws(StorageError) -> (PublishedLog, WriterState) {
        let names = try io { () throws(IOError) in try fs.listDirectory(path) }
        // A repair stopped half way may have replaced some segments and not yet the checkpoint: trusting (or
        // scanning) them now could cut the log. Only a repair may continue.
        guard !names.contains(StoreFileName.repairMarker) else { throw .repairInterrupted(path: path) }
        for name in names where name.hasSuffix(StoreFileName.temporarySuffix) {
            try io { () throws(IOError) in try fs.remove(joinPath(path, name)) }
            report.removedTemporaryFiles.append(name)
        }
        var found = names.compactMap { name -> (number: UInt64, baseSequence: UInt64, path: String)? in
            guard let parsed = SegmentFileName.parse(name) else { return nil }
            return (parsed.number, parsed.baseSequence, joinPath(path, name))
        }
        found.sort { $0.number < $1.number }

        if found.isEmpty {
            let (file, handle) = try io { () throws(IOError) in
                try LogStore.createSegment(fileSystem: fs, directory: path, number: 1, baseSequence: 1)
            }
            let segment = PublishedSegment(
                file: file, lastSequence: 0, dataEnd: Int64(SegmentHeader.byteCount), frameCount: 0, sealed: false)
            let writer = WriterState(
                directory: path, active: file, activeHandle: handle, activeEnd: Int64(SegmentHeader.byteCount),
                activeFrames: 0, activeRecords: 0, nextSequence: 1, segments: [segment])
            report.segments = 1
            try io { () throws(IOError) in try writer.writeCheckpoint(fs) }
            return (PublishedLog(segments: [segment], nextSequence: 1), writer)
        }

        var checkpoint: Checkpoint?
        let checkpointPath = joinPath(path, StoreFileName.checkpoint)
        if fs.fileExists(checkpointPath) {
            let bytes = try io { () throws(IOError) in try fs.readSmallFile(checkpointPath, limit: Checkpoint.fileBytesMax) }
            do throws(DecodeError) {
                checkpoint = try bytes.withRawBytes { (raw) throws(DecodeError) in try Checkpoint.decode(raw) }
            } catch {
                report.checkpointProblem = "\(StoreFileName.checkpoint): \(error)"
            }
        }
        var entries: [UInt64: Checkpoint.Segment] = [:]
        for entry in checkpoint?.segments ?? [] { entries[entry.number] = entry }
        if let checkpoint, let lastListed = checkpoint.segments.last,
            !found.contains(where: { $0.number == lastListed.number })
        {
            throw .corrupt(.missingSegment, path, 0, "the checkpoint lists segment \(lastListed.number), which is missing")
        }

        var segments: [PublishedSegment] = []
        var trustedEverything = checkpoint != nil
        var expectedBase: UInt64? = nil
        if let first = found.first, first.baseSequence != 1 {
            throw .corrupt(
                .missingSegment, first.path, 24,
                "the log starts at sequence \(first.baseSequence), not 1: the segments before this one are missing")
        }
        for (index, item) in found.enumerated() {
            if let previous = segments.last {
                if item.number <= previous.file.lastNumber {
                    // A cold compaction merged this segment into the previous one and stopped before removing it:
                    // the merged file was complete and durable before the first removal.
                    guard item.baseSequence > previous.file.baseSequence, item.baseSequence <= previous.lastSequence else {
                        throw .corrupt(
                            .badSequence, item.path, 24,
                            "segment \(previous.file.number) says it replaces segments through \(previous.file.lastNumber), but this one starts at sequence \(item.baseSequence), outside it")
                    }
                    try io { () throws(IOError) in
                        try fs.remove(item.path)
                        try fs.syncDirectory(path)
                    }
                    report.removedSupersededSegments.append(String(item.path.split(separator: "/").last ?? ""))
                    trustedEverything = false
                    continue
                }
                if item.number != previous.file.lastNumber + 1 {
                    throw .corrupt(.missingSegment, item.path, 0, "segment \(previous.file.lastNumber + 1) is missing before this one")
                }
            }
            let isLast = index == found.count - 1
            let handle = try io { () throws(IOError) in try fs.open(item.path, mode: isLast ? .readWrite : .read) }
            let size = try io { () throws(IOError) in try handle.size() }
            if let base = expectedBase, item.baseSequence != base {
                throw .corrupt(.badSequence, item.path, 24, "segment starts at sequence \(item.baseSequence), expected \(base)")
            }
            let entry = entries[item.number]
            func file(lastNumber: UInt64) -> SegmentFile {
                SegmentFile(number: item.number, baseSequence: item.baseSequence, path: item.path, handle: handle, lastNumber: lastNumber)
            }
            // (Sizes are compared as UInt64 and by subtraction: a hostile checkpoint may hold any value.)
            let fileBytes = UInt64(max(size, 0))
            if let entry, entry.sealed, entry.baseSequence == item.baseSequence, entry.dataEnd <= fileBytes,
                fileBytes - entry.dataEnd == UInt64(entry.tableBytes) + UInt64(SegmentFooter.byteCount)
            {
                // A sealed segment as the checkpoint describes it: trusted, nothing read.
                segments.append(PublishedSegment(
                    file: file(lastNumber: entry.lastNumber), lastSequence: entry.lastSequence,
                    dataEnd: Int64(entry.dataEnd), frameCount: entry.frameCount, sealed: true,
                    tableBytes: entry.tableBytes))
            } else if isLast, let entry, entry.baseSequence == item.baseSequence, !entry.sealed, fileBytes == entry.dataEnd {
                segments.append(PublishedSegment(
                    file: file(lastNumber: item.number), lastSequence: entry.lastSequence, dataEnd: size,
                    frameCount: entry.frameCount, sealed: false))
            } else if !isLast {
                trustedEverything = false
                let (header, footer) = try verifySealed(handle: handle, size: size, item: item, report: &report)
                segments.append(PublishedSegment(
                    file: file(lastNumber: header.coversThroughNumber), lastSequence: footer.lastSequence,
                    dataEnd: Int64(footer.dataEnd), frameCount: footer.frameCount, sealed: true,
                    tableBytes: footer.tableBytes))
            } else {
                // The last segment, not as the checkpoint left it: scan what follows the checkpoint's end (or all of it).
                trustedEverything = false
                var start = Int64(SegmentHeader.byteCount)
                var last = item.baseSequence - 1
                var frames: UInt64 = 0
                if let entry, entry.baseSequence == item.baseSequence, !entry.sealed {
                    guard fileBytes >= entry.dataEnd else {
                        throw .corrupt(.truncated, item.path, size, "file is \(size) bytes but the checkpoint says \(entry.dataEnd) bytes were committed")
                    }
                    start = Int64(entry.dataEnd)
                    last = entry.lastSequence
                    frames = entry.frameCount
                } else {
                    let header = try verifyHeader(handle: handle, size: size, item: item, report: &report)
                    if header.isCompacted {
                        // Compacted segments are written whole and sealed; their frame table is no tail to scan.
                        let (header, footer) = try verifySealed(handle: handle, size: size, item: item, report: &report)
                        segments.append(PublishedSegment(
                            file: file(lastNumber: header.coversThroughNumber), lastSequence: footer.lastSequence,
                            dataEnd: Int64(footer.dataEnd), frameCount: footer.frameCount, sealed: true,
                            tableBytes: footer.tableBytes))
                        continue
                    }
                }
                let scanned = try scanTail(
                    fs: fs, directory: path, handle: handle, path: item.path, from: start, size: size, lastSequence: last, report: &report)
                segments.append(PublishedSegment(
                    file: file(lastNumber: item.number), lastSequence: scanned.lastSequence, dataEnd: scanned.dataEnd,
                    frameCount: frames + scanned.frames, sealed: scanned.sealed))
            }
            expectedBase = segments.last!.lastSequence + 1
        }
        report.segments = segments.count
        report.usedCheckpoint = trustedEverything

        var tail = segments[segments.count - 1]
        let nextSequence = tail.lastSequence + 1
        var active = tail.file
        var activeHandle = try io { () throws(IOError) in try tail.file.open(fs) }
        var activeEnd = tail.dataEnd
        if tail.sealed {
            // Sealed but no successor: the crash came between sealing and creating the next segment.
            let created = try io { () throws(IOError) in
                try LogStore.createSegment(fileSystem: fs, directory: path, number: tail.file.lastNumber + 1, baseSequence: nextSequence)
            }
            active = created.0
            activeHandle = created.1
            activeEnd = Int64(SegmentHeader.byteCount)
            tail = PublishedSegment(
                file: active, lastSequence: nextSequence - 1, dataEnd: activeEnd, frameCount: 0, sealed: false)
            segments.append(tail)
        }
        let writer = WriterState(
            directory: path, active: active, activeHandle: activeHandle, activeEnd: activeEnd,
            activeFrames: tail.frameCount, activeRecords: nextSequence - active.baseSequence,
            nextSequence: nextSequence, segments: segments)
        if !trustedEverything {
            try io { () throws(IOError) in try writer.writeCheckpoint(fs) }
        }
        return (PublishedLog(segments: segments, nextSequence: nextSequence), writer)
    }

    private static func verifyHeader(
        handle: any FileHandle, size: Int64, item: (number: UInt64, baseSequence: UInt64, path: String),
        report: inout RecoveryReport
    ) throws(StorageError) -> SegmentHeader {
        let bytes = try io { () throws(IOError) in try handle.readBytes(count: SegmentHeader.byteCount, at: 0) }
        report.bytesRead += Int64(bytes.count)
        let header: SegmentHeader
        do throws(DecodeError) {
            header = try bytes.withRawBytes { (raw) throws(DecodeError) in try SegmentHeader.decode(raw) }
        } catch {
            throw .corrupt(Corruption.Kind.classify(error), item.path, Int64(error.offset), error.reason)
        }
        guard header.segmentNumber == item.number, header.baseSequence == item.baseSequence else {
            throw .corrupt(
                .badSequence, item.path, 16,
                "header says segment \(header.segmentNumber) from sequence \(header.baseSequence); the file name says \(item.number) from \(item.baseSequence)")
        }
        return header
    }

    private static func verifySealed(
        handle: any FileHandle, size: Int64, item: (number: UInt64, baseSequence: UInt64, path: String),
        report: inout RecoveryReport
    ) throws(StorageError) -> (SegmentHeader, SegmentFooter) {
        let header = try verifyHeader(handle: handle, size: size, item: item, report: &report)
        let footerOffset = size - Int64(SegmentFooter.byteCount)
        guard footerOffset >= Int64(SegmentHeader.byteCount) else {
            throw .corrupt(.badFooter, item.path, max(0, footerOffset), "sealed segment of \(size) bytes has no room for a footer")
        }
        let scanner = FrameScanner(handle: handle, from: footerOffset, to: size, buffer: ScratchBuffer(capacity: 64))
        let result = try io { () throws(IOError) in try scanner.readFooter(at: footerOffset, fileSize: size) }
        report.bytesRead += scanner.bytesRead
        switch result {
        case .success(let footer):
            guard footer.firstSequence == item.baseSequence else {
                throw .corrupt(.badFooter, item.path, footerOffset + 24, "footer starts at sequence \(footer.firstSequence), the header at \(item.baseSequence)")
            }
            guard header.isCompacted == (footer.tableBytes > 0) else {
                throw .corrupt(
                    .badFooter, item.path, footerOffset + 48,
                    "footer has a frame table of \(footer.tableBytes) bytes; the header says the segment is \(header.isCompacted ? "" : "not ")compacted")
            }
            return (header, footer)
        case .failure(let error):
            throw .corrupt(.badFooter, item.path, footerOffset + Int64(error.offset), "segment before the last is not sealed: \(error.reason)")
        }
    }

    struct TailResult {
        var lastSequence: UInt64
        var dataEnd: Int64
        var frames: UInt64
        var sealed: Bool
    }

    /// Validates every frame from `from` to the end of the file; cuts at the first invalid byte.
    /// Copies bytes [from, to) of a segment to `quarantine/<segment name>.<offset>.tail`, durably, in 1 MiB
    /// pieces. Returns the path, or nil when the range is all zeros (nothing worth keeping).
    static func quarantineTail(
        fs: any FileSystem, directory: String, handle: any FileHandle, path: String, from: Int64, to: Int64
    ) throws(IOError) -> String? {
        let chunk = 1 << 20
        var allZero = true
        var offset = from
        while offset < to && allZero {
            let bytes = try handle.readBytes(count: Int(min(Int64(chunk), to - offset)), at: offset)
            if bytes.isEmpty { break }
            allZero = bytes.allSatisfy { $0 == 0 }
            offset += Int64(bytes.count)
        }
        if allZero { return nil }
        let folder = joinPath(directory, StoreFileName.quarantine)
        try fs.createDirectory(folder)
        let name = String(path.split(separator: "/").last ?? "segment") + ".\(from).tail"
        let target = joinPath(folder, name)
        let temporary = target + StoreFileName.temporarySuffix
        let out = try fs.open(temporary, mode: .create)
        defer { out.close() }
        offset = from
        while offset < to {
            let bytes = try handle.readBytes(count: Int(min(Int64(chunk), to - offset)), at: offset)
            if bytes.isEmpty { break }
            try out.write(bytes, at: offset - from)
            offset += Int64(bytes.count)
        }
        try out.sync()
        try fs.rename(temporary, to: target)
        try fs.syncDirectory(folder)
        try fs.syncDirectory(directory)
        return target
    }

    private static func scanTail(
        fs: any FileSystem, directory: String, handle: any FileHandle, path: String, from: Int64, size: Int64,
        lastSequence: UInt64, report: inout RecoveryReport
    ) throws(StorageError) -> TailResult {
        let scanner = FrameScanner(handle: handle, from: from, to: size)
        var last = lastSequence
        var frames: UInt64 = 0
        var cut: (offset: Int64, reason: String)?
        var sealed = false
        scan: while true {
            let step = try io { () throws(IOError) in try scanner.next() }
            switch step {
            case .end:
                break scan
            case .frame(let header, let offset):
                guard header.baseSequence == last + 1 else {
                    cut = (offset, "frame starts at sequence \(header.baseSequence), expected \(last + 1)")
                    break scan
                }
                last = header.lastSequence
                frames += 1
                report.framesScanned += 1
            case .footer(let offset):
                let result = try io { () throws(IOError) in try scanner.readFooter(at: offset, fileSize: size) }
                switch result {
                case .success(let footer) where footer.lastSequence == last && footer.tableBytes == 0:
                    sealed = true
                case .success(let footer):
                    cut = (offset, "footer says last sequence \(footer.lastSequence), frames end at \(last)")
                case .failure(let error):
                    cut = (offset, "invalid footer: \(error.reason)")
                }
                break scan
            case .invalid(let offset, _, let detail):
                cut = (scanner.offset, "\(detail) (at offset \(offset))")
                break scan
            }
        }
        report.bytesRead += scanner.bytesRead
        var dataEnd = scanner.offset
        if let cut {
            // Cut at the start of the first invalid frame: an invalid frame is never partly kept. The bytes cut
            // off are first copied to quarantine/ (unless they are all zeros), so nothing is destroyed that an
            // operator might want to inspect.
            dataEnd = cut.offset
            let saved = try io { () throws(IOError) in
                try quarantineTail(fs: fs, directory: directory, handle: handle, path: path, from: dataEnd, to: size)
            }
            try io { () throws(IOError) in try handle.truncate(to: dataEnd) }
            report.truncation = RecoveryReport.Truncation(
                file: path, offset: dataEnd, bytesRemoved: size - dataEnd, reason: cut.reason, savedAs: saved)
        }
        return TailResult(lastSequence: last, dataEnd: dataEnd, frames: frames, sealed: sealed)
    }
}
