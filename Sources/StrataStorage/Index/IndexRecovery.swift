/// Opening the partition index (FORMAT.md, "Index recovery"):
///
/// | situation                                                    | action                                   |
/// |--------------------------------------------------------------|------------------------------------------|
/// | manifest, runs and heads file valid, indexedThrough = log end | use them; read no segment                |
/// | valid, indexedThrough < log end (crash)                        | re-index the frames after indexedThrough |
/// | manifest missing or damaged, a file it names missing/damaged, | delete the index files, rebuild from the |
/// | another key hash, or indexedThrough > log end                  | segments                                  |
/// | files in index/ the manifest does not name                     | remove (interrupted flush)               |
extension PartitionIndex {
    static func open(
        storePath: String, log: PublishedLog, fileSystem fs: any FileSystem, hasher: StreamKeyHash,
        metrics: StorageMetrics, report: inout RecoveryReport
    ) throws(StorageError) -> PartitionIndex {
        let directory = joinPath(storePath, IndexFileName.folder)
        if !fs.directoryExists(directory) {
            try io { () throws(IOError) in
                try fs.createDirectory(directory)
                try fs.syncDirectory(storePath)
            }
        }
        let lastSequence = log.nextSequence - 1
        var problem: String?
        var state = State(manifest: IndexManifest(indexedThrough: 0, hashName: hasher.name, headsFiles: [], runs: []))
        let manifestPath = joinPath(directory, IndexFileName.manifest)
        if fs.fileExists(manifestPath) {
            do throws(StorageError) {
                let bytes = try io { () throws(IOError) in try fs.readSmallFile(manifestPath, limit: IndexManifest.fileBytesMax) }
                let manifest: IndexManifest
                do throws(DecodeError) {
                    manifest = try bytes.withRawBytes { (raw) throws(DecodeError) in try IndexManifest.decode(raw) }
                } catch {
                    throw .corrupt(error.kind, manifestPath, Int64(error.offset), error.reason)
                }
                guard manifest.hashName == hasher.name else {
                    throw .corrupt(.unsupportedVersion, manifestPath, 0, "index built with key hash \(manifest.hashName), opened with \(hasher.name)")
                }
                guard manifest.indexedThrough <= lastSequence else {
                    throw .corrupt(.badSequence, manifestPath, 0, "index covers sequence \(manifest.indexedThrough), the log ends at \(lastSequence)")
                }
                state.manifest = manifest
                // Opening a file checks its header, size, block index and filter; each block's checksum is
                // checked whenever it is read, and a lookup that finds damage has the index rebuilt. Reading
                // every block here would make open cost proportional to the data (open reads only the tail).
                for name in manifest.headsFiles {
                    state.heads.append(try StreamHeadsReader.open(joinPath(directory, name), fileSystem: fs, hasher: hasher))
                }
                for run in manifest.runs {
                    state.runs.append(try IndexRunReader.open(joinPath(directory, run.file), fileSystem: fs))
                }
            } catch {
                problem = error.description
            }
        } else if lastSequence > 0 {
            problem = "index manifest missing"
        }
        if problem != nil {
            state = State(manifest: IndexManifest(indexedThrough: 0, hashName: hasher.name, headsFiles: [], runs: []))
        }
        report.indexProblem = problem
        // Remove whatever the manifest does not name (everything, when rebuilding).
        var keep: Set<String> = [IndexFileName.manifest]
        for name in state.manifest.headsFiles { keep.insert(name) }
        for run in state.manifest.runs { keep.insert(run.file) }
        var highest: UInt64 = 0
        for name in try io({ () throws(IOError) in try fs.listDirectory(directory) }) {
            if let number = UInt64(name.filter(\.isNumber)) { highest = max(highest, number) }
            if !keep.contains(name) || problem != nil {
                try io { () throws(IOError) in try fs.remove(joinPath(directory, name)) }
            }
        }
        state.nextFileNumber = highest + 1
        let index = PartitionIndex(directory: directory, fileSystem: fs, hasher: hasher, state: state, metrics: metrics)
        if let problem {
            metrics.indexRebuilds.increment()
            metrics.logger.warning(
                "rebuilding the partition index from the segments", metadata: ["store": "\(storePath)", "reason": "\(problem)"])
        }
        let from = state.manifest.indexedThrough + 1
        if from <= lastSequence {
            let scanned = try index.reindex(log: log, from: from)
            report.indexFramesScanned = scanned
            // After a crash the re-indexed tail (at most about a segment) stays in memory, like appends since
            // the last flush, and is flushed at the next rollover or close. A rebuild from scratch is written
            // out now so that a crash does not make the next open repeat it.
            if problem != nil {
                try io { () throws(IOError) in try index.flush(through: lastSequence) }
            }
        }
        return index
    }

    /// Indexes every frame holding sequences ≥ `from` (whole frames: the index never covers part of one).
    /// Returns the number of frames read.
    func reindex(log: PublishedLog, from: UInt64) throws(StorageError) -> Int {
        let fs = fileSystem
        let decoder = FrameRecordDecoder()
        let buffer = ScratchBuffer(capacity: FrameScanner.readAheadBytes)
        var frames = 0
        var segmentIndex = log.segmentIndex(for: from)
        while segmentIndex < log.segments.count {
            let segment = log.segments[segmentIndex]
            let handle: any FileHandle
            do throws(IOError) { handle = try segment.file.open(fs) } catch { throw .io(error) }
            let scanner = FrameScanner(handle: handle, from: Int64(SegmentHeader.byteCount), to: segment.dataEnd, buffer: buffer)
            scan: while true {
                let step: FrameScanner.Step
                do throws(IOError) { step = try scanner.next() } catch { throw .io(error) }
                switch step {
                case .end, .footer:
                    break scan
                case .invalid(let offset, let kind, let detail):
                    throw .corrupt(kind, segment.file.path, offset, detail)
                case .frame(let header, let offset):
                    guard header.lastSequence >= from, header.kind == .batch else { continue }
                    // Records of one stream usually sit together in a frame: the key is materialised once per
                    // run of equal keys, not once per record.
                    var records: [(key: PartitionKey, version: UInt64, sequence: UInt64)] = []
                    records.reserveCapacity(Int(header.recordCount))
                    var previous: PartitionKey?
                    let outcome = decoder.forEachRecord(in: scanner.frameBytes, header: header, from: 0) { record in
                        if let key = previous, record.hasKey(key) {
                            records.append((key, record.version, record.sequence))
                        } else {
                            let key = record.key
                            previous = key
                            records.append((key, record.version, record.sequence))
                        }
                        return true
                    }
                    if case .failure(let error) = outcome {
                        throw .corrupt(.badRecord, segment.file.path, offset, "frame at sequence \(header.baseSequence): \(error)")
                    }
                    indexFrame(segment: segment.file.number, frameOffset: offset, records: records)
                    frames += 1
                    // Bound memory on a full rebuild: write a run every million entries.
                    if state.withLock({ $0.memoryEntries }) > 1_000_000 {
                        do throws(IOError) { try flush(through: header.lastSequence) } catch { throw .io(error) }
                    }
                }
            }
            segmentIndex += 1
        }
        return frames
    }
}

extension PartitionIndex {
    /// Indexes the whole log again into new files, then swaps them in at once: readers see the old index or
    /// the new one, never a half-built one. Runs on the writer queue (no flush or merge runs meanwhile).
    func rebuild(log: PublishedLog) throws(StorageError) {
        waitForMerges()
        let current = state.withLock { $0 }
        let old = current.manifest.headsFiles + current.manifest.runs.map(\.file)
        var fresh = State(manifest: IndexManifest(indexedThrough: 0, hashName: hasher.name, headsFiles: [], runs: []))
        fresh.nextFileNumber = current.nextFileNumber
        let building = PartitionIndex(directory: directory, fileSystem: fileSystem, hasher: hasher, state: fresh, metrics: metrics)
        let last = log.nextSequence - 1
        if last > 0 {
            _ = try building.reindex(log: log, from: 1)
        }
        do throws(IOError) {
            if last > 0 {
                try building.flush(through: last)
            } else {
                let manifest = IndexManifest(indexedThrough: 0, hashName: hasher.name, headsFiles: [], runs: [])
                try fileSystem.writeAtomically(manifest.encode(), to: joinPath(directory, IndexFileName.manifest), directory: directory)
            }
        } catch { throw .io(error) }
        // Merges of the new files are the live index's job from now on.
        building.close()
        let built = building.state.withLock { $0 }
        state.withLock { $0 = built }
        for name in old { try? fileSystem.remove(joinPath(directory, name)) }
        metrics.indexRebuilds.increment()
        metrics.logger.notice("rebuilt the partition index from the segments", metadata: ["index": "\(directory)", "through": "\(last)"])
        scheduleMergeIfNeeded()
    }
}
