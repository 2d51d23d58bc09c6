import Dispatch
import Synchronization

/// A stream's head as the writer tracks it between flushes of the stream-heads file.
struct HeadEntry: Sendable {
    /// Latest version written (the group it is in may not be durable yet).
    var version: UInt64
    var lastSequence: UInt64
    /// Latest head readers may see; nil: whatever the heads file says (nothing committed since the flush).
    var committed: (version: UInt64, lastSequence: UInt64)?
}

/// Heads written since the last flush, keyed by the stream key hash the plans already carry (a dictionary
/// keyed by `PartitionKey` hashed three strings with SipHash on every lookup: ~10 % of the writer's time);
/// streams whose hashes collide share a slot and are told apart by key.
struct HeadOverlay: Sendable {
    struct Record: Sendable {
        var key: PartitionKey
        var entry: HeadEntry
    }

    private(set) var slots: [UInt64: [Record]] = [:]
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    func get(_ key: PartitionKey, hash: UInt64) -> HeadEntry? {
        guard let slot = slots[hash] else { return nil }
        for record in slot where record.key == key { return record.entry }
        return nil
    }

    /// Changes the entry of `key` (nil: absent) in place.
    mutating func update(_ key: PartitionKey, hash: UInt64, _ body: (inout HeadEntry?) -> Void) {
        var slot = slots.removeValue(forKey: hash) ?? []
        if let i = slot.firstIndex(where: { $0.key == key }) {
            var entry: HeadEntry? = slot[i].entry
            body(&entry)
            if let entry { slot[i].entry = entry } else {
                slot.remove(at: i)
                count -= 1
            }
        } else {
            var entry: HeadEntry?
            body(&entry)
            if let entry {
                slot.append(Record(key: key, entry: entry))
                count += 1
            }
        }
        if !slot.isEmpty { slots[hash] = slot }
    }

    var records: [Record] { slots.values.flatMap { $0 } }
}

/// The partition index of a store (FORMAT.md, "Partition index"): immutable runs and a stream-heads file on
/// disk, plus in-memory tables for everything since their last flush. Derived data: rebuilt from the segments
/// whenever a file is missing or damaged.
///
/// The writer (on its queue) adds entries and heads as it commits frames and flushes at rollover and close;
/// readers take a snapshot of the state under the mutex and do their I/O outside it.
final class PartitionIndex: Sendable {
    struct State: Sendable {
        /// Heads of the streams written since the last heads flush.
        var overlay = HeadOverlay()
        /// Stream-heads files, oldest first; a newer file's head wins.
        var heads: [StreamHeadsReader] = []
        /// Entries of the frames since the last run was written, by key hash.
        var memory: [UInt64: [IndexEntry]] = [:]
        var memoryEntries = 0
        var runs: [IndexRunReader] = []
        var manifest: IndexManifest
        var nextFileNumber: UInt64 = 1
    }

    /// Merge all runs into one once there are more than this (bounds what a lookup touches).
    static let runsBeforeMerge = 8
    /// Merge all heads files into one once there are more than this.
    static let headsFilesBeforeMerge = 8

    let directory: String
    let fileSystem: any FileSystem
    let hasher: StreamKeyHash
    let state: Mutex<State>
    /// Held while the manifest is written and the state swapped (flushes and merge installs), so the two
    /// never interleave. Its value: the index was closed (a finished merge is then discarded).
    let manifestLock = Mutex<Bool>(false)
    /// Merges run here, off the writer's path.
    let mergeQueue = DispatchQueue(label: "strata.index-merge", qos: .utility)
    let mergeRunning = Atomic<Bool>(false)
    /// A rebuild was scheduled after a lookup found a damaged index file.
    let repairScheduled = Atomic<Bool>(false)
    /// Why the index was last repaired (or why the repair failed).
    let lastRepairReason = Mutex<String?>(nil)
    /// The last background merge failure (the files stay as they were; the next flush tries again).
    let lastMergeError = Mutex<String?>(nil)

    /// Logs and metrics of the store.
    let metrics: StorageMetrics

    init(directory: String, fileSystem: any FileSystem, hasher: StreamKeyHash, state: State, metrics: StorageMetrics) {
        self.metrics = metrics
        self.directory = directory
        self.fileSystem = fileSystem
        self.hasher = hasher
        self.state = Mutex(state)
    }

    var indexedThrough: UInt64 { state.withLock { $0.manifest.indexedThrough } }

    // MARK: heads

    /// The latest version written to `key` (including groups still being committed), for the writer's
    /// checks and for appenders choosing versions under `.any`.
    func pendingVersion(of key: PartitionKey, hash: UInt64? = nil) throws(StorageError) -> UInt64 {
        let hash = hash ?? hasher(key)
        let (entry, heads) = state.withLock { ($0.overlay.get(key, hash: hash), $0.heads) }
        if let entry { return entry.version }
        return try Self.newestHead(of: key, hash: hash, by: hasher, in: heads)?.version ?? 0
    }

    /// The committed head of `key` (nil: no committed event).
    func committedHead(of key: PartitionKey) throws(StorageError) -> StreamHead? {
        let hash = hasher(key)
        let (entry, heads) = state.withLock { ($0.overlay.get(key, hash: hash), $0.heads) }
        if let committed = entry?.committed {
            return StreamHead(key: key, version: committed.version, lastSequence: committed.lastSequence)
        }
        return try Self.newestHead(of: key, hash: hash, by: hasher, in: heads)
    }

    /// The head of `key` in the newest heads file that has it.
    /// (`hash` is `key`'s hash by `hasher`: used as is when the files were built with the same hash.)
    static func newestHead(
        of key: PartitionKey, hash known: UInt64? = nil, by hasher: StreamKeyHash? = nil, in heads: [StreamHeadsReader]
    ) throws(StorageError) -> StreamHead? {
        guard let newest = heads.last else { return nil }
        let hash = known.flatMap { hasher?.name == newest.hasher.name ? $0 : nil } ?? newest.hasher(key)
        for reader in heads.reversed() {
            if let head = try reader.head(of: key, hash: hash) { return head }
        }
        return nil
    }

    /// Records the frame of one batch: an entry per stream and the new heads. Writer only.
    func apply(_ plans: [StreamPlan], baseSequence: UInt64, segment: UInt64, frameOffset: Int64) {
        state.withLock { s in
            for plan in plans where plan.count > 0 {
                let entry = IndexEntry(
                    keyHash: plan.hash, firstVersion: plan.assumedHead + 1,
                    firstSequence: baseSequence + UInt64(plan.firstIndex), frameOffset: UInt64(frameOffset),
                    segmentNumber: UInt32(truncatingIfNeeded: segment), versionCount: UInt32(plan.count))
                s.memory[plan.hash, default: []].append(entry)
                s.memoryEntries += 1
                let version = plan.assumedHead + UInt64(plan.count)
                let last = baseSequence + UInt64(plan.lastIndex)
                s.overlay.update(plan.key, hash: plan.hash) { head in
                    if head == nil { head = HeadEntry(version: version, lastSequence: last, committed: nil) }
                    head!.version = version
                    head!.lastSequence = last
                }
            }
        }
    }

    /// Makes the heads of a durable group visible. Writer only.
    func commit(_ plans: [[StreamPlan]]) {
        state.withLock { s in
            for batch in plans {
                for plan in batch where plan.count > 0 {
                    s.overlay.update(plan.key, hash: plan.hash) { head in
                        guard head != nil else { return }
                        head!.committed = (head!.version, head!.lastSequence)
                    }
                }
            }
        }
    }

    /// Re-indexes one frame read from the log (tail re-index and rebuild).
    func indexFrame(
        segment: UInt64, frameOffset: Int64, records: [(key: PartitionKey, version: UInt64, sequence: UInt64)]
    ) {
        typealias Run = (first: UInt64, firstSequence: UInt64, count: Int, last: UInt64, lastSequence: UInt64)
        var order: [PartitionKey] = []
        var runs: [PartitionKey: Run] = [:]
        var currentKey: PartitionKey?
        var current: Run = (0, 0, 0, 0, 0)
        func close() {
            guard let key = currentKey else { return }
            if var run = runs[key] {
                run.count += current.count
                run.last = current.last
                run.lastSequence = current.lastSequence
                runs[key] = run
            } else {
                order.append(key)
                runs[key] = current
            }
        }
        for record in records {
            if let key = currentKey, key == record.key {
                current.count += 1
                current.last = record.version
                current.lastSequence = record.sequence
            } else {
                close()
                currentKey = record.key
                current = (record.version, record.sequence, 1, record.version, record.sequence)
            }
        }
        close()
        state.withLock { s in
            for key in order {
                let run = runs[key]!
                let hash = hasher(key)
                s.memory[hash, default: []].append(IndexEntry(
                    keyHash: hash, firstVersion: run.first, firstSequence: run.firstSequence,
                    frameOffset: UInt64(frameOffset), segmentNumber: UInt32(truncatingIfNeeded: segment),
                    versionCount: UInt32(run.count)))
                s.memoryEntries += 1
                s.overlay.update(key, hash: hash) {
                    $0 = HeadEntry(version: run.last, lastSequence: run.lastSequence, committed: (run.last, run.lastSequence))
                }
            }
        }
    }

    // MARK: lookups

    /// Every committed entry of streams hashing like `key`, in sequence order.
    func entries(for key: PartitionKey, committedBelow watermark: UInt64) throws(StorageError) -> [IndexEntry] {
        let hash = hasher(key)
        let (memory, runs) = state.withLock { ($0.memory[hash] ?? [], $0.runs) }
        var found: [IndexEntry] = []
        for run in runs where run.mayContain(hash) { found += try run.entries(for: hash) }
        found += memory
        return found.filter { $0.firstSequence < watermark }.sorted { $0.firstSequence < $1.firstSequence }
    }

    /// Committed heads of `tenant` (and `group`) in key order, after `after`, at most `limit`.
    func list(tenant: String, group: String?, after: PartitionKey?, limit: Int) throws(StorageError) -> [StreamHead] {
        let (overlay, heads) = state.withLock { s in
            (s.overlay.records.filter { $0.key.tenant == tenant && (group == nil || $0.key.group == group) }, s.heads)
        }
        // Each file contributes its first `limit` keys after `after`; newer files override older ones. A file
        // whose page was full may hold further keys past its page's last key, so the answer stops there.
        var merged: [PartitionKey: StreamHead] = [:]
        var cutoff: PartitionKey?
        for reader in heads {
            let page = try reader.list(tenant: tenant, group: group, after: after, limit: limit)
            for head in page { merged[head.key] = head }
            if page.count == limit, let last = page.last?.key {
                if cutoff.map({ partitionKeyPrecedes(last, $0) }) ?? true { cutoff = last }
            }
        }
        for record in overlay where after.map({ partitionKeyPrecedes($0, record.key) }) ?? true {
            let (key, entry) = (record.key, record.entry)
            // Without a commit since the flush, the files' head (if any) is still the committed one.
            if let committed = entry.committed {
                merged[key] = StreamHead(key: key, version: committed.version, lastSequence: committed.lastSequence)
            }
        }
        var sorted = merged.values.sorted { partitionKeyPrecedes($0.key, $1.key) }
        if let cutoff { sorted = sorted.filter { !partitionKeyPrecedes(cutoff, $0.key) } }
        return Array(sorted.prefix(limit))
    }

    // MARK: flushing

    /// A new, unique file name in the index folder.
    private func newFileName(_ prefix: String, _ suffix: String) -> String {
        let number = state.withLock { s in
            defer { s.nextFileNumber += 1 }
            return s.nextFileNumber
        }
        let digits = String(number)
        return prefix + String(repeating: "0", count: max(0, 10 - digits.count)) + digits + suffix
    }

    /// Writes the in-memory entries as a run and the heads as a new heads file, then the manifest, and swaps
    /// them in. `through` is the last sequence they cover; the frames up to it must be durable. Writer only.
    func flush(through: UInt64) throws(IOError) {
        let result = manifestLock.withLock { _ -> Result<Void, IOError> in
            do throws(IOError) {
                try flushLocked(through: through)
                return .success(())
            } catch { return .failure(error) }
        }
        try result.get()
        scheduleMergeIfNeeded()
    }

    private func flushLocked(through: UInt64) throws(IOError) {
        let s = state.withLock { $0 }
        guard through > s.manifest.indexedThrough else { return }
        var runs = s.runs
        var manifestRuns = s.manifest.runs
        if s.memoryEntries > 0 {
            let entries = s.memory.values.flatMap { $0 }
            let name = newFileName("run-", ".idx")
            let first = s.manifest.indexedThrough + 1
            try IndexRunFile.write(entries, firstSequence: first, lastSequence: through, to: joinPath(directory, name), directory: directory, fileSystem: fileSystem)
            runs.append(try openRun(name))
            manifestRuns.append(.init(file: name, firstSequence: first, lastSequence: through))
        }
        var headsReaders = s.heads
        var headsNames = s.manifest.headsFiles
        if !s.overlay.isEmpty {
            // A delta: only the streams written since the last flush (O(streams touched), not O(streams)).
            let fresh = s.overlay.records.map { StreamHead(key: $0.key, version: $0.entry.version, lastSequence: $0.entry.lastSequence) }
                .sorted { partitionKeyPrecedes($0.key, $1.key) }
            let name = newFileName("heads-", ".hds")
            try StreamHeadsFile.write(fresh, coveredThrough: through, hasher: hasher, to: joinPath(directory, name), directory: directory, fileSystem: fileSystem)
            headsNames.append(name)
            headsReaders.append(try openHeads(name))
        }
        let manifest = IndexManifest(indexedThrough: through, hashName: hasher.name, headsFiles: headsNames, runs: manifestRuns)
        try fileSystem.writeAtomically(manifest.encode(), to: joinPath(directory, IndexFileName.manifest), directory: directory)
        state.withLock { live in
            live.runs = runs
            live.heads = headsReaders
            live.manifest = manifest
            // Everything up to `through` is now on disk. Flushes run on the writer queue between groups, so
            // the writer added nothing meanwhile.
            live.memory = [:]
            live.memoryEntries = 0
            live.overlay = HeadOverlay()
        }
    }

    // MARK: background merging

    /// Starts a background merge when there are too many runs or heads files (one merge at a time).
    func scheduleMergeIfNeeded() {
        let (runs, heads) = state.withLock { ($0.runs.count, $0.heads.count) }
        guard runs > Self.runsBeforeMerge || heads > Self.headsFilesBeforeMerge else { return }
        guard mergeRunning.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        mergeQueue.async {
            do throws(IOError) {
                try self.mergeInBackground()
                self.lastMergeError.withLock { $0 = nil }
            } catch {
                // The files stay as they were; the next flush schedules another merge.
                self.lastMergeError.withLock { $0 = error.description }
                self.metrics.backgroundFailure("index_merge", error, ["index": "\(self.directory)"])
            }
            self.mergeRunning.store(false, ordering: .releasing)
        }
    }

    /// Waits until no merge is running (tests, close).
    func waitForMerges() {
        mergeQueue.sync {}
    }

    /// Merges all current runs into one, and all current heads files into one (a newer file's head wins), then
    /// installs the results in place of exactly the files it merged; files flushed meanwhile stay as they are.
    private func mergeInBackground() throws(IOError) {
        let s = state.withLock { $0 }
        var mergedRun: (name: String, reader: IndexRunReader, first: UInt64, last: UInt64, sources: Set<String>)?
        if s.runs.count > Self.runsBeforeMerge {
            // Streaming k-way merge: memory for a block per run, not for every entry.
            let first = s.manifest.runs.map(\.firstSequence).min() ?? 1
            let last = s.manifest.runs.map(\.lastSequence).max() ?? 0
            let name = newFileName("run-", ".idx")
            let total = s.runs.reduce(0) { $0 + Int(min($1.header.entryCount, UInt64(Int.max / 2))) }
            let writer = try IndexRunWriter(path: joinPath(directory, name), directory: directory, fileSystem: fileSystem, expectedKeys: total)
            do throws(StorageError) {
                try mergeRuns(s.runs, into: writer)
            } catch { throw Self.asIOError(error, directory) }
            try writer.finish(firstSequence: first, lastSequence: last)
            mergedRun = (name, try openRun(name), first, last, Set(s.manifest.runs.map(\.file)))
        }
        var mergedHeads: (name: String, reader: StreamHeadsReader, sources: [String])?
        if s.heads.count > Self.headsFilesBeforeMerge {
            // Streaming k-way merge: memory for one block per file, not for every stream.
            let covered = s.heads.map(\.coveredThrough).max() ?? 0
            let name = newFileName("heads-", ".hds")
            let writer = try StreamHeadsWriter(
                path: joinPath(directory, name), directory: directory, fileSystem: fileSystem, hasher: hasher,
                expectedStreams: Int(min(s.heads.reduce(0) { $0 + $1.streamCount }, UInt64(Int.max))))
            do throws(StorageError) {
                try mergeHeadsFiles(s.heads, into: writer)
            } catch { throw Self.asIOError(error, directory) }
            try writer.finish(coveredThrough: covered)
            mergedHeads = (name, try openHeads(name), s.manifest.headsFiles)
        }
        var obsolete: [String] = []
        let installed = try manifestLock.withLock { (closed) -> Result<Bool, IOError> in
            if closed { return .success(false) }
            var live = state.withLock { $0 }
            var manifest = live.manifest
            if let run = mergedRun {
                // Install only if every merged run is still current (a rebuild may have replaced them).
                guard run.sources.isSubset(of: Set(manifest.runs.map(\.file))) else { return .success(false) }
                let keep = manifest.runs.indices.filter { !run.sources.contains(manifest.runs[$0].file) }
                live.runs = [run.reader] + keep.map { live.runs[$0] }
                manifest.runs = [.init(file: run.name, firstSequence: run.first, lastSequence: run.last)] + keep.map { manifest.runs[$0] }
                obsolete += run.sources
            }
            if let heads = mergedHeads {
                // The merged files are the oldest ones; files flushed since stay after (newer) the merged one.
                guard manifest.headsFiles.starts(with: heads.sources) else { return .success(false) }
                live.heads = [heads.reader] + live.heads.dropFirst(heads.sources.count)
                manifest.headsFiles = [heads.name] + manifest.headsFiles.dropFirst(heads.sources.count)
                obsolete += heads.sources
            }
            do throws(IOError) {
                try fileSystem.writeAtomically(manifest.encode(), to: joinPath(directory, IndexFileName.manifest), directory: directory)
            } catch { return .failure(error) }
            let (runs, headsReaders) = (live.runs, live.heads)
            state.withLock { current in
                current.runs = runs
                current.heads = headsReaders
                current.manifest = manifest
            }
            return .success(true)
        }.get()
        if !installed {
            obsolete = [mergedRun?.name, mergedHeads?.name].compactMap { $0 }
        } else {
            metrics.indexMerges.increment()
            metrics.logger.debug(
                "merged index files", metadata: ["index": "\(directory)", "run": "\(mergedRun?.name ?? "-")", "heads": "\(mergedHeads?.name ?? "-")"])
        }
        for name in obsolete { try? fileSystem.remove(joinPath(directory, name)) }
    }

    /// Stops installing merges (a running one is discarded) and waits for it to end.
    func close() {
        manifestLock.withLock { $0 = true }
        waitForMerges()
    }

    static func mergeHeads(_ old: [StreamHead], _ fresh: [StreamHead]) -> [StreamHead] {
        var merged: [StreamHead] = []
        merged.reserveCapacity(old.count + fresh.count)
        var i = 0
        var j = 0
        while i < old.count || j < fresh.count {
            if j == fresh.count || (i < old.count && partitionKeyPrecedes(old[i].key, fresh[j].key)) {
                merged.append(old[i])
                i += 1
            } else if i == old.count || partitionKeyPrecedes(fresh[j].key, old[i].key) {
                merged.append(fresh[j])
                j += 1
            } else {
                merged.append(fresh[j])
                i += 1
                j += 1
            }
        }
        return merged
    }

    private func openRun(_ name: String) throws(IOError) -> IndexRunReader {
        do throws(StorageError) {
            return try IndexRunReader.open(joinPath(directory, name), fileSystem: fileSystem)
        } catch { throw Self.asIOError(error, name) }
    }

    private func openHeads(_ name: String) throws(IOError) -> StreamHeadsReader {
        do throws(StorageError) {
            return try StreamHeadsReader.open(joinPath(directory, name), fileSystem: fileSystem, hasher: hasher)
        } catch { throw Self.asIOError(error, name) }
    }

    /// A file the index just wrote failed to read back: treated like a failed write (the writer stops).
    static func asIOError(_ error: StorageError, _ path: String) -> IOError {
        if case .io(let io) = error { return io }
        return IOError.engine("index read-back", path: path, error.description)
    }
}

enum IndexFileName {
    static let folder = "index"
    static let manifest = "MANIFEST"
}
