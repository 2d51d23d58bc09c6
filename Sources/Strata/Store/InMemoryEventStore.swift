import StrataStorage
import Synchronization

/// An event store in memory, for tests and examples: no files, nothing survives the process. Events are kept as
/// the values they were appended as; readers get `EventView`s of them. The limits of every backend apply
/// (`RecordLimits`, the snapshot format's). Positions are global sequences, from 1.
public final class InMemoryEventStore: EventStore {
    /// The global sequence, from 1.
    public typealias Position = UInt64

    /// One appended event, with its texts laid out once, one after the other, for the views readers get.
    struct Stored: Sendable {
        let record: EventRecord
        let version: UInt64
        /// tenant, group, id, type name, correlation id, causation id, user: UTF-8, one after another.
        let texts: [UInt8]
        /// Where each of the seven texts ends in `texts` (an absent metadata field is empty: `present` says which).
        let ends: [Int]
        /// Bit 0: correlation id, 1: causation id, 2: user.
        let present: UInt8

        init(_ record: EventRecord, version: UInt64) {
            self.record = record
            self.version = version
            var texts: [UInt8] = []
            var ends: [Int] = []
            var present: UInt8 = 0
            let metadata = record.metadata
            for (bit, text) in [(-1, record.key.tenant), (-1, record.key.group), (-1, record.key.id), (-1, record.typeName),
                                (0, metadata.correlationId), (1, metadata.causationId), (2, metadata.user)] as [(Int, String?)] {
                if let text {
                    texts += text.utf8
                    if bit >= 0 { present |= 1 << bit }
                }
                ends.append(texts.count)
            }
            self.texts = texts
            self.ends = ends
            self.present = present
        }

        /// Calls `body` with a view of the event.
        func withView<T>(_ body: (EventView) throws -> T) rethrows -> T {
            try texts.withUnsafeBytes { texts in
                try record.payload.withUnsafeBytes { payload in
                    func text(_ i: Int) -> UnsafeRawBufferPointer {
                        UnsafeRawBufferPointer(rebasing: texts[(i == 0 ? 0 : ends[i - 1])..<ends[i]])
                    }
                    return try body(EventView(
                        version: version, typeVersion: record.typeVersion, timestampMicros: record.timestampMicros,
                        eventId: record.eventId, tenantBytes: text(0), groupBytes: text(1), idBytes: text(2), typeNameBytes: text(3),
                        correlationId: present & 1 != 0 ? MetadataID(text: text(4)) : nil,
                        causationId: present & 2 != 0 ? MetadataID(text: text(5)) : nil,
                        userBytes: present & 4 != 0 ? text(6) : nil, payload: payload))
                }
            }
        }
    }

    struct State {
        /// `events[i]` is the event with sequence `i + 1`.
        var events: [Stored] = []
        /// Each stream's events as indices into `events`, in version order (version = index + 1).
        var streams: [PartitionKey: [Int]] = [:]
        var closed = false
        /// Snapshots, in the order written.
        var snapshots: [Snapshot<UInt64>] = []
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
    ) async throws -> AppendReceipt<UInt64> {
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
            let base = UInt64(state.events.count) + 1
            var versions: [PartitionKey: UInt64] = [:]
            for event in events {
                let version = (versions[event.key] ?? UInt64(state.streams[event.key]?.count ?? 0)) + 1
                versions[event.key] = version
                state.streams[event.key, default: []].append(state.events.count)
                state.events.append(Stored(event, version: version))
            }
            return AppendReceipt(first: base, last: base + UInt64(events.count) - 1, versions: versions)
        }
        commits.published(receipt.last)
        return receipt
    }

    public nonisolated(nonsending) func waitForEvents(after position: UInt64?) async throws {
        guard try await commits.wait(after: position ?? 0, head: { state.withLock { UInt64($0.events.count) } }) else {
            throw EventStoreError.closed
        }
    }

    public nonisolated(nonsending) func version(of stream: PartitionKey) async throws -> UInt64 {
        try state.withLock { (state) throws(EventStoreError) -> UInt64 in
            guard !state.closed else { throw .closed }
            return UInt64(state.streams[stream]?.count ?? 0)
        }
    }

    @discardableResult
    public nonisolated(nonsending) func readStream(
        _ stream: PartitionKey, from: UInt64, through: UInt64, asOf: UInt64?, limit: Int,
        _ body: (EventView, UInt64) throws -> Void
    ) async throws -> Int {
        // Take the events under the lock, walk them outside it: `body` may call the store.
        let events = try state.withLock { (state) throws(EventStoreError) -> [(Stored, UInt64)] in
            guard !state.closed else { throw .closed }
            guard let indices = state.streams[stream], from >= 1, from <= UInt64(indices.count), from <= through, limit > 0 else {
                return []
            }
            let end = min(UInt64(indices.count), through)
            var events: [(Stored, UInt64)] = []
            for index in indices[Int(from - 1)..<Int(end)] {
                let sequence = UInt64(index) + 1
                if let asOf, sequence > asOf { break }
                events.append((state.events[index], sequence))
                if events.count == limit { break }
            }
            return events
        }
        for (event, sequence) in events {
            try event.withView { try body($0, sequence) }
        }
        return events.count
    }

    @discardableResult
    public nonisolated(nonsending) func readAll(
        after position: UInt64?, limit: Int, _ body: (EventView, UInt64) throws -> Void
    ) async throws -> UInt64? {
        let (events, start) = try state.withLock { (state) throws(EventStoreError) -> (ArraySlice<Stored>, Int) in
            guard !state.closed else { throw .closed }
            let start = Int(min(position ?? 0, UInt64(state.events.count)))
            let end = limit >= state.events.count - start ? state.events.count : start + max(limit, 0)
            return (state.events[start..<end], start)
        }
        var last: UInt64?
        for (offset, event) in events.enumerated() {
            let sequence = UInt64(start + offset) + 1
            try event.withView { try body($0, sequence) }
            last = sequence
        }
        return last
    }
}

extension InMemoryEventStore {
    /// The latest snapshot kept in memory (the same rules as the native store's).
    public nonisolated(nonsending) func latestSnapshot(
        of subject: SnapshotSubject, projectorName: String, atOrBefore bound: UInt64?,
        accept: (Snapshot<UInt64>) -> SnapshotRejection?
    ) async throws -> SnapshotLookup<UInt64> {
        let (candidates, last) = try state.withLock { (state) throws(EventStoreError) in
            guard !state.closed else { throw .closed }
            return (state.snapshots.filter { $0.subject == subject && $0.projectorName == projectorName && $0.position <= bound ?? .max },
                    UInt64(state.events.count))
        }
        var ignored: [PassedOverSnapshot] = []
        for snapshot in candidates.reversed().sorted(by: { $0.position > $1.position }) {
            if let reason = snapshot.position > last ? .pastEndOfLog(position: "\(snapshot.position)", logEnd: "\(last)") : accept(snapshot) {
                ignored.append(PassedOverSnapshot(location: "", position: "\(snapshot.position)", reason: reason))
                continue
            }
            return SnapshotLookup(snapshot: snapshot, ignored: ignored)
        }
        return SnapshotLookup(snapshot: nil, ignored: ignored)
    }

    /// Keeps the snapshots in memory (checked against the snapshot format's limits, as the native store does).
    public nonisolated(nonsending) func writeSnapshots(_ snapshots: [Snapshot<UInt64>]) async throws {
        for snapshot in snapshots { try snapshot.validateLimits() }
        try state.withLock { (state) throws(EventStoreError) in
            guard !state.closed else { throw .closed }
            state.snapshots += snapshots
        }
    }
}
