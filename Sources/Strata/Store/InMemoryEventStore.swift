import Synchronization

/// An event store in memory, for tests and examples: no files, nothing survives the process. Events are kept
/// encoded exactly as the native engine stores them (one uncompressed frame per event, FORMAT.md), so readers
/// get the same `RecordView`s, and the same limits apply. Positions are global sequences, from 1.
public final class InMemoryEventStore: EventStore {
    /// The global sequence, from 1.
    public typealias Position = UInt64

    struct State {
        /// `frames[i]` holds the event with sequence `i + 1`.
        var frames: [[UInt8]] = []
        /// Each stream's events as indices into `frames`, in version order (version = index + 1).
        var streams: [PartitionKey: [Int]] = [:]
        var closed = false
        /// Snapshots, in the order written.
        var snapshots: [SnapshotRecord] = []
    }

    private let state = Mutex(State())
    /// Wakes `waitForEvents` callers after each append.
    private let commits = CommitSignal<UInt64>()

    /// Where work on this store logs and measures.
    public let observability: Observability

    /// An empty store.
    public init(observability: Observability = .standard) { self.observability = observability }

    /// Refuses every later call with `EventStoreError.closed`.
    public func close() {
        state.withLock { $0.closed = true }
        commits.close()
    }

    @discardableResult
    public nonisolated(nonsending) func append(
        _ events: [EventRecord], expecting: [PartitionKey: ExpectedVersion]
    ) async throws(EventStoreError) -> AppendReceipt<UInt64> {
        try validateBatch(events, expecting)
        let receipt = try state.withLock { (state) throws(EventStoreError) -> AppendReceipt<UInt64> in
            guard !state.closed else { throw .closed }
            for (key, expected) in expecting {
                let actual = UInt64(state.streams[key]?.count ?? 0)
                switch expected {
                case .any: continue
                case .noStream where actual == 0: continue
                case .exactly(let version) where version == actual: continue
                default: throw .versionConflict(stream: key, expected: expected, actual: actual)
                }
            }
            // Encode everything first: a record over a limit fails the batch before anything is added.
            let base = UInt64(state.frames.count) + 1
            var versions: [PartitionKey: UInt64] = [:]
            var frames: [[UInt8]] = []
            frames.reserveCapacity(events.count)
            for (index, event) in events.enumerated() {
                let version = (versions[event.key] ?? UInt64(state.streams[event.key]?.count ?? 0)) + 1
                versions[event.key] = version
                do throws(StorageError) {
                    frames.append(try FrameCoding.encodeFrame(
                        [event], versions: [version], baseSequence: base + UInt64(index), compression: .none))
                } catch {
                    if case .invalidRecord(_, let reason) = error { throw .invalidEvent(index: index, reason: reason) }
                    throw EventStoreError(error)
                }
            }
            for (index, event) in events.enumerated() {
                state.streams[event.key, default: []].append(state.frames.count + index)
            }
            state.frames += frames
            return AppendReceipt(first: base, last: base + UInt64(events.count) - 1, versions: versions)
        }
        commits.published(receipt.last)
        return receipt
    }

    public nonisolated(nonsending) func waitForEvents(after position: UInt64?) async throws {
        guard try await commits.wait(after: position ?? 0, head: { state.withLock { UInt64($0.frames.count) } }) else {
            throw EventStoreError.closed
        }
    }

    public nonisolated(nonsending) func version(of stream: PartitionKey) async throws(EventStoreError) -> UInt64 {
        try state.withLock { (state) throws(EventStoreError) -> UInt64 in
            guard !state.closed else { throw .closed }
            return UInt64(state.streams[stream]?.count ?? 0)
        }
    }

    @discardableResult
    public nonisolated(nonsending) func readStream(
        _ stream: PartitionKey, from: UInt64, through: UInt64, asOf: UInt64?, limit: Int,
        _ body: (RecordView) throws -> Void
    ) async throws -> Int {
        // Take the frames under the lock (arrays are shared, not copied), walk them outside it: `body` may call
        // the store.
        let frames = try state.withLock { (state) throws(EventStoreError) -> ArraySlice<[UInt8]> in
            guard !state.closed else { throw .closed }
            guard let indices = state.streams[stream], from >= 1, from <= UInt64(indices.count), from <= through, limit > 0 else {
                return []
            }
            let end = min(UInt64(indices.count), through)
            return ArraySlice(indices[Int(from - 1)..<Int(end)].map { state.frames[$0] })
        }
        var delivered = 0
        let walker = FrameCoding.RecordWalker()
        for frame in frames where delivered < limit {
            var stop = false
            try walk(frame, walker) { record in
                if let asOf, record.sequence > asOf {
                    stop = true
                    return
                }
                try body(record)
                delivered += 1
            }
            if stop { break }
        }
        return delivered
    }

    @discardableResult
    public nonisolated(nonsending) func readAll(
        after position: UInt64?, limit: Int, _ body: (RecordView, UInt64) throws -> Void
    ) async throws -> UInt64? {
        let frames = try state.withLock { (state) throws(EventStoreError) -> ArraySlice<[UInt8]> in
            guard !state.closed else { throw .closed }
            let start = Int(min(position ?? 0, UInt64(state.frames.count)))
            let end = limit >= state.frames.count - start ? state.frames.count : start + max(limit, 0)
            return state.frames[start..<end]
        }
        var last: UInt64?
        let walker = FrameCoding.RecordWalker()
        for frame in frames {
            try walk(frame, walker) { record in
                try body(record, record.sequence)
                last = record.sequence
            }
        }
        return last
    }

    /// The record of one stored frame. The frames were encoded here, so validation cannot fail unless memory
    /// was corrupted; it is checked anyway, as every reader of frames does.
    private func walk(_ frame: [UInt8], _ walker: FrameCoding.RecordWalker, _ body: (RecordView) throws -> Void) throws {
        try frame.withUnsafeBytes { raw in
            let header = try FrameCoding.validate(raw)
            var failure: (any Error)?
            try walker.forEachRecord(in: raw, header: header) { record in
                guard failure == nil else { return }
                do { try body(record) } catch { failure = error }
            }
            if let failure { throw failure }
        }
    }
}

extension InMemoryEventStore {
    /// The latest snapshot kept in memory (no files; the same rules as the native store's).
    public nonisolated(nonsending) func latestSnapshot(
        of subject: SnapshotSubject, projectorName: String, maxSequence: UInt64, accept: (SnapshotRecord) -> SnapshotRejection?
    ) async throws -> SnapshotStore.Lookup {
        let (candidates, last) = try state.withLock { (state) throws(EventStoreError) in
            guard !state.closed else { throw .closed }
            return (state.snapshots.filter { $0.subject == subject && $0.projectorName == projectorName && $0.sequence <= maxSequence },
                    UInt64(state.frames.count))
        }
        var ignored: [PassedOverSnapshot] = []
        for record in candidates.sorted(by: { $0.sequence > $1.sequence }) {
            if let reason = record.sequence > last ? .pastEndOfLog(sequence: record.sequence, logEnd: last) : accept(record) {
                ignored.append(PassedOverSnapshot(file: "", sequence: record.sequence, reason: reason))
                continue
            }
            return SnapshotStore.Lookup(snapshot: record, ignored: ignored)
        }
        return SnapshotStore.Lookup(snapshot: nil, ignored: ignored)
    }

    /// Keeps the snapshots in memory (checked against the snapshot format's limits, as the native store does).
    public nonisolated(nonsending) func writeSnapshots(_ snapshots: [SnapshotRecord]) async throws {
        do throws(StorageError) {
            for snapshot in snapshots { try snapshot.validate() }
        } catch { throw EventStoreError(error) }
        try state.withLock { (state) throws(EventStoreError) in
            guard !state.closed else { throw .closed }
            state.snapshots += snapshots
        }
    }
}
