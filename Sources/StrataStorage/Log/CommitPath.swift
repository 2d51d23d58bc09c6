import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything the writer owns. Lives in `LogStore.writer` and is only touched on the writer queue (and by
/// `close`, also on that queue), so the mutex is never contended.
struct WriterState: Sendable {
    var directory: String
    var active: SegmentFile
    var activeHandle: any FileHandle
    /// End of the last frame written to the active segment (not necessarily synced).
    var activeEnd: Int64
    var activeFrames: UInt64
    var activeRecords: UInt64
    var nextSequence: UInt64
    /// Every segment, the active one last, as readers may see them once the current group is durable.
    var segments: [PublishedSegment]
    var buffer = ByteWriter(capacity: 1 << 20)
    var failure: WriterFailure?
    var closed = false
    /// Written but not yet synced (interval and never modes).
    var dirty = false
    var lastSync = ContinuousClock.now
    var timerArmed = false
    /// A segment was sealed: flush the index once the group is durable.
    var indexFlushDue = false
}

extension WriterState {
    /// Writes the checkpoint: the segment table with the active segment's end as written so far.
    func writeCheckpoint(_ fileSystem: any FileSystem) throws(IOError) {
        var entries = segments.map(\.checkpointEntry)
        entries[entries.count - 1].dataEnd = UInt64(activeEnd)
        entries[entries.count - 1].lastSequence = nextSequence - 1
        entries[entries.count - 1].frameCount = activeFrames
        let checkpoint = Checkpoint(nextSequence: nextSequence, segments: entries)
        try fileSystem.writeAtomically(
            checkpoint.encode(), to: joinPath(directory, StoreFileName.checkpoint), directory: directory)
    }
}

extension LogStore {
    /// Takes everything pending and commits it as one group. Runs on the writer queue.
    func drain() {
        let batch = intake.withLock { state -> [PendingAppend] in
            let taken = state.pending
            state.pending.removeAll(keepingCapacity: true)
            return taken
        }
        guard !batch.isEmpty else { return }
        let results = writer.withLock { commit(batch, &$0) }
        for (pending, result) in zip(batch, results) {
            pending.continuation.resume(returning: result)
        }
    }

    private func commit(_ batch: [PendingAppend], _ w: inout WriterState) -> [WriterOutcome] {
        if w.closed { return Array(repeating: .failed(.closed), count: batch.count) }
        if let failure = w.failure { return Array(repeating: .failed(.writerFailed(failure)), count: batch.count) }
        var outcomes = [WriterOutcome](repeating: .retry, count: batch.count)
        var committedPlans: [[StreamPlan]] = []
        do throws(IOError) {
            w.buffer.removeAll()
            var records = 0
            var frames = 0
            for (position, pending) in batch.enumerated() {
                if let verdict = check(pending.work.plans) {
                    outcomes[position] = verdict
                    continue
                }
                let encoded = pending.work.batch
                let frameLength = FrameHeader.byteCount + encoded.body.count + FrameHeader.trailerByteCount
                let projectedEnd = w.activeEnd + Int64(w.buffer.count + frameLength + SegmentFooter.byteCount)
                if w.activeFrames > 0 && projectedEnd > Int64(options.segmentBytesTarget) {
                    try flushBuffer(&w)
                    try sealAndRoll(&w)
                }
                let base = w.nextSequence
                let frameOffset = w.activeEnd + Int64(w.buffer.count)
                encoded.body.withUnsafeBytes { body in
                    FrameHeader.encode(
                        codec: encoded.codec, recordCount: encoded.recordCount, baseSequence: base,
                        rawBodyBytes: encoded.rawBytes, body: body, into: &w.buffer)
                }
                index.apply(pending.work.plans, baseSequence: base, segment: w.active.number, frameOffset: frameOffset)
                let count = UInt64(encoded.recordCount)
                w.nextSequence += count
                w.activeFrames += 1
                w.activeRecords += count
                records += encoded.recordCount
                frames += 1
                outcomes[position] = .committed(base...(base + count - 1))
                committedPlans.append(pending.work.plans)
            }
            try flushBuffer(&w)
            try syncPerDurability(&w)
            counters.groups.add(1, ordering: .relaxed)
            counters.frames.add(frames, ordering: .relaxed)
            counters.records.add(records, ordering: .relaxed)
            if frames > 0 {
                metrics.commits.increment(by: Int64(frames))
                metrics.frames.increment(by: Int64(frames))
                metrics.records.increment(by: Int64(records))
                metrics.groupCommitAppends.record(frames)
            }
        } catch {
            // After a failed write or fsync the page cache may not match the disk (PostgreSQL's "fsyncgate"):
            // refuse further appends; reopening runs recovery against what is really on disk.
            poison(&w, .commit, error)
            return outcomes.map { outcome in
                if case .committed = outcome { return .failed(.io(error)) }
                return outcome
            }
        }
        publish(&w)
        index.commit(committedPlans)
        if w.indexFlushDue {
            w.indexFlushDue = false
            do throws(IOError) {
                // The index may only describe durable frames.
                try syncActive(&w)
                try index.flush(through: w.nextSequence - 1)
            } catch {
                poison(&w, .indexFlush, error)
            }
        }
        return outcomes
    }

    /// The writer's expected-version check of one batch against the latest heads (including batches earlier
    /// in this group). nil: the batch may be written.
    private func check(_ plans: [StreamPlan]) -> WriterOutcome? {
        for plan in plans {
            let actual: UInt64
            do throws(StorageError) {
                actual = try index.pendingVersion(of: plan.key, hash: plan.hash)
            } catch {
                if case .corrupt(let corruption) = error, corruption.file.hasPrefix(index.directory) {
                    scheduleIndexRepair(reason: corruption.description)
                }
                return .failed(error)
            }
            guard actual != plan.assumedHead else { continue }
            if plan.expected == .any { return .retry }
            return .failed(.versionConflict(stream: plan.key, expected: plan.expected, actual: actual))
        }
        return nil
    }

    private func flushBuffer(_ w: inout WriterState) throws(IOError) {
        guard w.buffer.count > 0 else { return }
        let offset = w.activeEnd
        let handle = w.activeHandle
        try w.buffer.bytes.withRawBytes { (raw) throws(IOError) in try handle.write(raw, at: offset) }
        w.activeEnd += Int64(w.buffer.count)
        counters.bytes.add(w.buffer.count, ordering: .relaxed)
        metrics.bytesWritten.increment(by: Int64(w.buffer.count))
        w.buffer.removeAll()
        w.dirty = true
    }

    private func syncPerDurability(_ w: inout WriterState) throws(IOError) {
        switch options.durability {
        case .always:
            try syncActive(&w)
        case .interval(let milliseconds):
            if ContinuousClock.now - w.lastSync >= .milliseconds(milliseconds) {
                try syncActive(&w)
            } else if !w.timerArmed {
                w.timerArmed = true
                writerQueue.asyncAfter(deadline: .now() + .milliseconds(milliseconds)) { self.intervalTimerFired() }
            }
        case .never:
            break
        }
    }

    func syncActive(_ w: inout WriterState) throws(IOError) {
        guard w.dirty else { return }
        let started = ContinuousClock.now
        try w.activeHandle.sync()
        metrics.syncDuration.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        counters.syncs.add(1, ordering: .relaxed)
        w.dirty = false
        w.lastSync = ContinuousClock.now
    }

    private func intervalTimerFired() {
        writer.withLock { w in
            w.timerArmed = false
            guard !w.closed, w.failure == nil else { return }
            do throws(IOError) {
                try syncActive(&w)
            } catch {
                poison(&w, .intervalSync, error)
            }
        }
    }

    /// Makes the frames written so far visible to readers.
    private func publish(_ w: inout WriterState) {
        var last = w.segments[w.segments.count - 1]
        last.dataEnd = w.activeEnd
        last.lastSequence = w.nextSequence - 1
        last.frameCount = w.activeFrames
        w.segments[w.segments.count - 1] = last
        let snapshot = PublishedLog(segments: w.segments, nextSequence: w.nextSequence)
        published.withLock { $0 = snapshot }
        commits.published(w.nextSequence - 1)
    }

    /// Writes the footer of the active segment, syncs it, then starts the next segment (temporary name,
    /// fsync, rename, directory fsync) and records both in the checkpoint. See FORMAT.md, "Rollover".
    func sealAndRoll(_ w: inout WriterState) throws(IOError) {
        let footer = SegmentFooter(
            frameCount: w.activeFrames, recordCount: w.activeRecords, firstSequence: w.active.baseSequence,
            lastSequence: w.nextSequence - 1, dataEnd: UInt64(w.activeEnd))
        try w.activeHandle.write(footer.encode(), at: w.activeEnd)
        try w.activeHandle.sync()
        counters.syncs.add(1, ordering: .relaxed)
        w.dirty = false
        var sealed = w.segments[w.segments.count - 1]
        sealed.dataEnd = w.activeEnd
        sealed.lastSequence = w.nextSequence - 1
        sealed.frameCount = w.activeFrames
        sealed.sealed = true
        w.segments[w.segments.count - 1] = sealed

        let (file, handle) = try Self.createSegment(
            fileSystem: fileSystem, directory: w.directory, number: w.active.number + 1, baseSequence: w.nextSequence,
            handles: segmentHandles)
        // The sealed segment's handle may be closed like any other from now on.
        w.active.pinned.store(false, ordering: .releasing)
        w.active = file
        w.activeHandle = handle
        w.activeEnd = Int64(SegmentHeader.byteCount)
        w.activeFrames = 0
        w.activeRecords = 0
        w.segments.append(
            PublishedSegment(
                file: file, lastSequence: w.nextSequence - 1, dataEnd: w.activeEnd, frameCount: 0, sealed: false))
        try w.writeCheckpoint(fileSystem)
        w.indexFlushDue = true
    }

    /// Seals the active segment now, if it holds a frame, and starts the next one: what an operator asks for to
    /// make everything written so far eligible for cold compaction (only sealed segments are compacted). Appends
    /// wait while it runs.
    public func sealActiveSegment() async throws(StorageError) {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, StorageError>, Never>) in
            writerQueue.async {
                self.drain()
                let result = self.writer.withLock { w -> Result<Void, StorageError> in
                    if w.closed { return .failure(.closed) }
                    if let failure = w.failure { return .failure(.writerFailed(failure)) }
                    guard w.activeFrames > 0 else { return .success(()) }
                    do throws(IOError) {
                        try self.syncActive(&w)
                        try self.sealAndRoll(&w)
                        w.indexFlushDue = false
                        try self.index.flush(through: w.nextSequence - 1)
                    } catch {
                        self.poison(&w, .seal, error)
                        return .failure(.io(error))
                    }
                    let snapshot = PublishedLog(segments: w.segments, nextSequence: w.nextSequence)
                    self.published.withLock { $0 = snapshot }
                    return .success(())
                }
                continuation.resume(returning: result)
            }
        }
        try result.get()
    }

    /// Creates a segment file holding only its header, durably, and returns it open for writing.
    static func createSegment(
        fileSystem: any FileSystem, directory: String, number: UInt64, baseSequence: UInt64, handles: SegmentHandleCache
    ) throws(IOError) -> (SegmentFile, any FileHandle) {
        // (A name of more digits would be one the store ignores: its events lost to the next open.)
        guard number <= SegmentFileName.maxNumber else {
            throw IOError(
                operation: "create segment", path: directory, errno: EOVERFLOW,
                message: "segment number \(number) needs more than the 10 digits of a segment file name: the store cannot start another segment")
        }
        let name = SegmentFileName.make(number: number, baseSequence: baseSequence)
        let path = joinPath(directory, name)
        let temporary = path + StoreFileName.temporarySuffix
        let header = SegmentHeader(segmentNumber: number, baseSequence: baseSequence, createdMicros: wallClockMicros())
        let handle = try fileSystem.open(temporary, mode: .create)
        do throws(IOError) {
            try handle.write(header.encode(), at: 0)
            try handle.sync()
            try fileSystem.rename(temporary, to: path)
            try fileSystem.syncDirectory(directory)
        } catch {
            handle.close()
            throw error
        }
        let file = SegmentFile(number: number, baseSequence: baseSequence, path: path, handles: handles, handle: handle, pinned: true)
        return (file, handle)
    }

    /// Final step of `close`: sync and checkpoint. The active segment's descriptor is shared with readers and
    /// closes when the last of them (and the store) releases it.
    func finish(_ w: inout WriterState) -> Result<Void, StorageError> {
        defer {
            w.closed = true
            index.close()
        }
        if let failure = w.failure { return .failure(.writerFailed(failure)) }
        do throws(IOError) {
            try syncActive(&w)
            try w.writeCheckpoint(fileSystem)
            try index.flush(through: w.nextSequence - 1)
            return .success(())
        } catch {
            poison(&w, .close, error)
            return .failure(.io(error))
        }
    }

    /// Stops the writer after a failed write or sync: every later append fails with `writerFailed`.
    func poison(_ w: inout WriterState, _ step: WriterFailure.Step, _ error: IOError) {
        guard w.failure == nil else { return }
        w.failure = WriterFailure(step: step, error: error)
        metrics.observability.counter(StrataMetric.writerFailures, [("step", step.rawValue)]).increment()
        metrics.logger.critical(
            "store writer stopped: every append fails until the store is reopened",
            metadata: ["store": "\(path)", "step": "\(step.rawValue)", "error": "\(error)"])
    }
}
