import Logging

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

    /// One decision of the recovery table: the rule applied, and to which file (a name in the store folder;
    /// nil for the store as a whole).
    public struct Decision: Sendable, Equatable, CustomStringConvertible {
        public var rule: RecoveryRule
        public var file: String?

        public var description: String { file.map { "\(rule) (\($0))" } ?? rule.rawValue }
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
    /// Every rule of the recovery table that open applied, in order (``RecoveryRule``).
    public var decisions: [Decision] = []

    mutating func decide(_ rule: RecoveryRule, _ file: String? = nil) {
        decisions.append(Decision(rule: rule, file: file.map(fileName(of:))))
    }
}

/// The last component of a path.
func fileName(of path: String) -> String { String(path.split(separator: "/").last ?? Substring(path)) }

/// Opening a store: the decision table is ``RecoveryRule`` (FORMAT.md, "Recovery", is rendered from it). Every
/// segment is judged before anything changes on disk, so a refusal leaves the store exactly as it was.
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
            if error.isLockHeldElsewhere { throw .locked(path: path) }
            throw .io(error)
        }
        let metrics = StorageMetrics(options.observability)
        let handles = SegmentHandleCache(capacity: options.openSegmentFilesMax)
        let started = ContinuousClock.now
        do throws(StorageError) {
            let (published, writer) = try recover(path: path, fs: fs, handles: handles, report: &report)
            let index = try PartitionIndex.open(
                storePath: path, log: published, fileSystem: fs, hasher: options.streamKeyHash, metrics: metrics,
                report: &report)
            let snapshots = try SnapshotStore(storePath: path, fileSystem: fs)
            for skipped in snapshots.skippedFiles {
                metrics.logger.warning(
                    "passing over a damaged snapshot file (loads replay instead)", metadata: ["file": "\(skipped.file)", "damage": "\(skipped)"])
            }
            let store = LogStore(
                path: path, options: options, lock: lock, recovery: report, published: published, writer: writer,
                index: index, snapshots: snapshots, metrics: metrics, segmentHandles: handles)
            log(opened: report, store: path, after: ContinuousClock.now - started, metrics)
            return store
        } catch {
            lock.release()
            var metadata: Logger.Metadata = ["store": "\(path)", "error": "\(error)"]
            if let rule = report.decisions.last?.rule, rule.refuses {
                metadata["rule"] = "\(rule)"
                metrics.observability.counter(StrataMetric.recoveryRefusals, [("rule", rule.rawValue)]).increment()
            }
            metrics.logger.error("the store does not open", metadata: metadata)
            throw error
        }
    }

    /// Logs what an open did (a notice when it had to do more than trust the checkpoint) and measures it.
    private static func log(opened report: RecoveryReport, store path: String, after elapsed: Duration, _ metrics: StorageMetrics) {
        metrics.observability.timer(StrataMetric.recoveryDuration).recordNanoseconds(elapsed.nanoseconds)
        if let cut = report.truncation {
            metrics.recoveryCuts.increment()
            metrics.recoveryCutBytes.increment(by: cut.bytesRemoved)
            if cut.savedAs != nil { metrics.quarantined.increment() }
            metrics.logger.warning(
                "cut a torn final write (never acknowledged)",
                metadata: [
                    "store": "\(path)", "file": "\(fileName(of: cut.file))", "offset": "\(cut.offset)",
                    "bytes": "\(cut.bytesRemoved)", "reason": "\(cut.reason)", "quarantine": "\(cut.savedAs ?? "none (all zeros)")",
                ])
        }
        if let problem = report.checkpointProblem {
            metrics.logger.warning("the checkpoint is unusable: every segment was verified", metadata: ["store": "\(path)", "problem": "\(problem)"])
        }
        let metadata: Logger.Metadata = [
            "store": "\(path)", "decisions": "\(report.decisions.map(\.description).joined(separator: ", "))",
            "segments": "\(report.segments)", "bytesRead": "\(report.bytesRead)", "framesScanned": "\(report.framesScanned)",
            "milliseconds": "\(Double(elapsed.nanoseconds) / 1e6)",
        ]
        if report.createdStore || report.decisions.contains(where: { $0.rule == .createStore }) {
            metrics.logger.debug("created a store", metadata: metadata)
        } else if report.usedCheckpoint && report.indexProblem == nil {
            metrics.logger.debug("opened the store from its checkpoint", metadata: metadata)
        } else {
            metrics.logger.notice("recovered the store", metadata: metadata)
        }
    }

    static func parentDirectory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    private static func recover(
        path: String, fs: any FileSystem, handles: SegmentHandleCache, report: inout RecoveryReport
    ) throws(StorageError) -> (PublishedLog, WriterState) {
        let names = try io { () throws(IOError) in try fs.listDirectory(path) }
        // A repair stopped half way may have replaced some segments and not yet the checkpoint: trusting (or
        // scanning) them now could cut the log. Only a repair may continue.
        guard !names.contains(StoreFileName.repairMarker) else {
            report.decide(.repairInterrupted)
            throw .repairInterrupted(path: path)
        }
        let temporaryFiles = names.filter { $0.hasSuffix(StoreFileName.temporarySuffix) }.sorted()
        var found = names.compactMap { name -> (number: UInt64, baseSequence: UInt64, path: String)? in
            guard let parsed = SegmentFileName.parse(name) else { return nil }
            return (parsed.number, parsed.baseSequence, joinPath(path, name))
        }
        found.sort { $0.number < $1.number }

        if found.isEmpty {
            report.decide(.createStore)
            try removeTemporaryFiles(temporaryFiles, fs: fs, directory: path, report: &report)
            let (file, handle) = try io { () throws(IOError) in
                try LogStore.createSegment(fileSystem: fs, directory: path, number: 1, baseSequence: 1, handles: handles)
            }
            let segment = PublishedSegment(
                file: file, lastSequence: 0, dataEnd: Int64(SegmentHeader.byteCount), frameCount: 0, sealed: false)
            let writer = WriterState(
                directory: path, active: file, activeHandle: handle, activeEnd: Int64(SegmentHeader.byteCount),
                activeFrames: 0, activeRecords: 0, nextSequence: 1, segments: [segment])
            report.segments = 1
            report.decide(.writeCheckpoint)
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
                report.decide(.checkpointUnusable, StoreFileName.checkpoint)
            }
        }
        var entries: [UInt64: Checkpoint.Segment] = [:]
        for entry in checkpoint?.segments ?? [] { entries[entry.number] = entry }
        if let checkpoint, let lastListed = checkpoint.segments.last,
            !found.contains(where: { $0.number == lastListed.number })
        {
            report.decide(.checkpointListsMissingSegment, StoreFileName.checkpoint)
            throw .corrupt(.missingSegment, checkpointPath, 0, "the checkpoint lists segment \(lastListed.number), which is missing")
        }

        var segments: [PublishedSegment] = []
        var superseded: [String] = []
        var trustedEverything = checkpoint != nil
        var expectedBase: UInt64? = nil
        var cut: (handle: any FileHandle, path: String, offset: Int64, size: Int64, reason: String)?
        if let first = found.first, first.baseSequence != 1 {
            report.decide(.logStartsAfterOne, first.path)
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
                        report.decide(.supersededOutsideItsRange, item.path)
                        throw .corrupt(
                            .badSequence, item.path, 24,
                            "segment \(previous.file.number) says it replaces segments through \(previous.file.lastNumber), but this one starts at sequence \(item.baseSequence), outside it")
                    }
                    report.decide(.supersededSegment, item.path)
                    superseded.append(item.path)
                    trustedEverything = false
                    continue
                }
                if item.number != previous.file.lastNumber + 1 {
                    report.decide(.segmentNumberGap, item.path)
                    throw .corrupt(.missingSegment, item.path, 0, "segment \(previous.file.lastNumber + 1) is missing before this one")
                }
            }
            if let base = expectedBase, item.baseSequence != base {
                report.decide(.sequenceGap, item.path)
                throw .corrupt(.badSequence, item.path, 24, "segment starts at sequence \(item.baseSequence), expected \(base)")
            }
            let isLast = index == found.count - 1
            let handle = try io { () throws(IOError) in try fs.open(item.path, mode: isLast ? .readWrite : .read) }
            let size = try io { () throws(IOError) in try handle.size() }
            let entry = entries[item.number]
            func file(lastNumber: UInt64) -> SegmentFile {
                // (Handed to the file, which keeps it in the store's handle cache: a store of many segments opens them
                // one at a time here and keeps at most the cache's capacity open. The last one is the writer's.)
                SegmentFile(
                    number: item.number, baseSequence: item.baseSequence, path: item.path, handles: handles, handle: handle,
                    lastNumber: lastNumber, pinned: isLast)
            }
            func verifiedSealed() throws(StorageError) -> PublishedSegment {
                let (header, footer) = try verifySealed(handle: handle, size: size, item: item, report: &report)
                return PublishedSegment(
                    file: file(lastNumber: header.coversThroughNumber), lastSequence: footer.lastSequence,
                    dataEnd: Int64(footer.dataEnd), frameCount: footer.frameCount, sealed: true,
                    tableBytes: footer.tableBytes)
            }
            // (Sizes are compared as UInt64 and by subtraction: a hostile checkpoint may hold any value.)
            let fileBytes = UInt64(max(size, 0))
            if let entry, entry.sealed, entry.baseSequence == item.baseSequence, entry.dataEnd <= fileBytes,
                fileBytes - entry.dataEnd == UInt64(entry.tableBytes) + UInt64(SegmentFooter.byteCount)
            {
                // A sealed segment as the checkpoint describes it: trusted, nothing read.
                report.decide(.trustSealed, item.path)
                segments.append(PublishedSegment(
                    file: file(lastNumber: entry.lastNumber), lastSequence: entry.lastSequence,
                    dataEnd: Int64(entry.dataEnd), frameCount: entry.frameCount, sealed: true,
                    tableBytes: entry.tableBytes))
            } else if isLast, let entry, entry.baseSequence == item.baseSequence, !entry.sealed, fileBytes == entry.dataEnd {
                report.decide(.trustActive, item.path)
                segments.append(PublishedSegment(
                    file: file(lastNumber: item.number), lastSequence: entry.lastSequence, dataEnd: size,
                    frameCount: entry.frameCount, sealed: false))
            } else if !isLast {
                trustedEverything = false
                report.decide(.verifySealed, item.path)
                segments.append(try verifiedSealed())
            } else {
                // The last segment, not as the checkpoint left it: scan what follows the checkpoint's end (or all of it).
                trustedEverything = false
                var start = Int64(SegmentHeader.byteCount)
                var last = item.baseSequence - 1
                var frames: UInt64 = 0
                if let entry, entry.baseSequence == item.baseSequence, !entry.sealed {
                    guard fileBytes >= entry.dataEnd else {
                        report.decide(.truncatedBelowCheckpoint, item.path)
                        throw .corrupt(.truncated, item.path, size, "file is \(size) bytes but the checkpoint says \(entry.dataEnd) bytes were committed")
                    }
                    report.decide(.scanAfterCheckpoint, item.path)
                    start = Int64(entry.dataEnd)
                    last = entry.lastSequence
                    frames = entry.frameCount
                } else {
                    let header = try verifyHeader(handle: handle, size: size, item: item, report: &report)
                    if header.isCompacted {
                        // Compacted segments are written whole and sealed; their frame table is no tail to scan.
                        report.decide(.verifyCompactedLast, item.path)
                        segments.append(try verifiedSealed())
                        expectedBase = segments.last!.lastSequence + 1
                        continue
                    }
                    report.decide(.scanWholeSegment, item.path)
                }
                let scanned = try scanTail(handle: handle, path: item.path, from: start, size: size, lastSequence: last, report: &report)
                if let at = scanned.cut { cut = (handle, item.path, at.offset, size, at.reason) }
                segments.append(PublishedSegment(
                    file: file(lastNumber: item.number), lastSequence: scanned.lastSequence, dataEnd: scanned.dataEnd,
                    frameCount: frames + scanned.frames, sealed: scanned.sealed))
            }
            expectedBase = segments.last!.lastSequence + 1
        }
        report.segments = segments.count
        report.usedCheckpoint = trustedEverything

        // Every segment is judged and nothing was refused: now, and only now, change what is on disk.
        if !superseded.isEmpty {
            try io { () throws(IOError) in
                for file in superseded { try fs.remove(file) }
                try fs.syncDirectory(path)
            }
            report.removedSupersededSegments = superseded.map(fileName(of:))
        }
        try removeTemporaryFiles(temporaryFiles, fs: fs, directory: path, report: &report)
        if let cut {
            // Cut at the start of the first invalid frame: an invalid frame is never partly kept. The bytes cut
            // off are first copied to quarantine/ (unless they are all zeros), so nothing is destroyed that an
            // operator might want to inspect.
            let saved = try io { () throws(IOError) in
                let saved = try quarantineTail(fs: fs, directory: path, handle: cut.handle, path: cut.path, from: cut.offset, to: cut.size)
                try cut.handle.truncate(to: cut.offset)
                return saved
            }
            report.truncation = RecoveryReport.Truncation(
                file: cut.path, offset: cut.offset, bytesRemoved: cut.size - cut.offset, reason: cut.reason, savedAs: saved)
        }

        var tail = segments[segments.count - 1]
        let nextSequence = tail.lastSequence + 1
        var active = tail.file
        var activeHandle = try io { () throws(IOError) in try tail.file.open(fs) }
        var activeEnd = tail.dataEnd
        if tail.sealed {
            // Sealed but no successor: the crash came between sealing and creating the next segment.
            let created = try io { () throws(IOError) in
                try LogStore.createSegment(
                    fileSystem: fs, directory: path, number: tail.file.lastNumber + 1, baseSequence: nextSequence, handles: handles)
            }
            report.decide(.startNextSegment, created.0.path)
            tail.file.pinned.store(false, ordering: .releasing)
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
            report.decide(.writeCheckpoint, StoreFileName.checkpoint)
            try io { () throws(IOError) in try writer.writeCheckpoint(fs) }
        }
        return (PublishedLog(segments: segments, nextSequence: nextSequence), writer)
    }

    private static func removeTemporaryFiles(
        _ names: [String], fs: any FileSystem, directory: String, report: inout RecoveryReport
    ) throws(StorageError) {
        guard !names.isEmpty else { return }
        report.decide(.removeTemporaryFiles)
        for name in names {
            try io { () throws(IOError) in try fs.remove(joinPath(directory, name)) }
            report.removedTemporaryFiles.append(name)
        }
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
            throw .corrupt(error.kind, item.path, Int64(error.offset), error.reason)
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
        /// Where the file must be cut (a torn final write), and why; applied once every segment is judged.
        var cut: (offset: Int64, reason: String)?
    }

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

    /// Validates every frame from `from` to the end of the file. At the first invalid frame it decides between a
    /// torn final write (nothing valid follows: the tail is to be cut, which the caller does once every segment is
    /// judged) and damage (a valid frame continuing the sequence, or a valid footer, follows: refused with
    /// `damagedLog`, nothing changed). A valid frame or footer out of sequence is damage too: a torn write cannot
    /// make one.
    private static func scanTail(
        handle: any FileHandle, path: String, from: Int64, size: Int64, lastSequence: UInt64, report: inout RecoveryReport
    ) throws(StorageError) -> TailResult {
        let scanner = FrameScanner(handle: handle, from: from, to: size)
        var last = lastSequence
        var frames: UInt64 = 0
        var invalid: (offset: Int64, kind: Corruption.Kind, reason: String)?
        var sealed = false
        func refuse(_ offset: Int64, _ kind: Corruption.Kind, _ detail: String, validAt: Int64) -> StorageError {
            report.decide(.refuseDamage, path)
            return .damagedLog(Corruption(kind: kind, file: path, offset: offset, detail: detail), validDataAt: validAt)
        }
        scan: while true {
            let step = try io { () throws(IOError) in try scanner.next() }
            switch step {
            case .end:
                break scan
            case .frame(let header, let offset):
                guard header.baseSequence == last + 1 else {
                    throw refuse(
                        offset, .badSequence,
                        "a valid frame starts at sequence \(header.baseSequence), expected \(last + 1)", validAt: offset)
                }
                last = header.lastSequence
                frames += 1
                report.framesScanned += 1
            case .footer(let offset):
                let result = try io { () throws(IOError) in try scanner.readFooter(at: offset, fileSize: size) }
                switch result {
                case .success(let footer) where footer.lastSequence == last && footer.tableBytes == 0:
                    report.decide(.sealedByFooter, path)
                    sealed = true
                case .success(let footer):
                    throw refuse(
                        offset, .badFooter,
                        "a valid footer says the segment ends at sequence \(footer.lastSequence) (frame table: \(footer.tableBytes) bytes); its frames end at \(last)",
                        validAt: offset)
                case .failure(let error):
                    invalid = (offset, .badFooter, "invalid footer: \(error.reason)")
                }
                break scan
            case .invalid(let offset, let kind, let detail):
                invalid = (offset, kind, detail)
                break scan
            }
        }
        report.bytesRead += scanner.bytesRead
        guard let invalid else {
            return TailResult(lastSequence: last, dataEnd: scanner.offset, frames: frames, sealed: sealed, cut: nil)
        }
        // Damage, or a torn final write? Acknowledged frames are synced before anything after them is written,
        // so valid data after the invalid frame means the invalid frame was durable once: cutting would lose
        // acknowledged events and give their sequences to new ones.
        let after = try io { () throws(IOError) in
            try SegmentInspector.validData(after: invalid.offset, in: handle, size: size, lastSequence: last)
        }
        switch after {
        case .frame(let offset, let base):
            throw refuse(
                invalid.offset, invalid.kind,
                "\(invalid.reason); a valid frame from sequence \(base) follows at offset \(offset)", validAt: offset)
        case .footer(let offset, let through):
            throw refuse(
                invalid.offset, invalid.kind,
                "\(invalid.reason); the file ends in a valid footer through sequence \(through): the segment was sealed after this frame was written",
                validAt: offset)
        case nil:
            break
        }
        report.decide(.cutTornTail, path)
        return TailResult(lastSequence: last, dataEnd: invalid.offset, frames: frames, sealed: false, cut: (invalid.offset, invalid.reason))
    }
}
