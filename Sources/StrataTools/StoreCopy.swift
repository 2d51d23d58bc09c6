import Foundation
import Strata
import StrataSQLite

/// Copies every event of one store into an empty store of any backend: in global order, each with its stream
/// version, event id, type, timestamp, metadata and payload. Durable subscriptions' checkpoints are events and are
/// copied too, each naming the destination's position of the event it named (so a subscription resumes after the
/// same event, whatever positions the destination gives); snapshots are not copied (they are rebuilt from the
/// events: `Compactor`, projections).
public enum StoreCopy {
    /// What a copy did.
    public struct Report: Sendable, Equatable {
        /// Events copied.
        public var events: Int
        /// Distinct streams among them.
        public var streams: Int
        /// Events whose position in the destination differs from the source's (string forms compared). 0 when both
        /// stores number events alike from an empty start (native ↔ SQLite, unless the source lost events to a
        /// repair); every event between a sequence-numbered store and PostgreSQL.
        public var positionsChanged: Int
        /// Durable subscriptions' checkpoints copied with the destination's position of the event they name.
        public var checkpointsTranslated: Int = 0
        /// Checkpoints copied unchanged: their position is not one of the source's (unreadable, or after the
        /// checkpoint itself).
        public var checkpointsUntranslated: Int = 0
    }

    /// Why a copy did not start or stopped.
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// The destination already holds events.
        case destinationNotEmpty
        /// An append to the destination failed (after `copied` events); the destination holds those.
        case appendFailed(copied: Int, reason: String)
        /// The source's stream skips versions (events lost to damage): the destination would give the event after
        /// the gap the next version, not its own, so the copy stops before the batch holding it (after `copied`
        /// events; the destination holds those).
        case versionGap(stream: PartitionKey, after: UInt64, found: UInt64, copied: Int)

        public var description: String {
            switch self {
            case .destinationNotEmpty: "the destination already holds events: copy into an empty store"
            case .appendFailed(let copied, let reason): "the copy stopped after \(copied) events: \(reason)"
            case .versionGap(let stream, let after, let found, let copied):
                "the copy stopped after \(copied) events: stream \(stream) goes from version \(after) to \(found) "
                    + "(events lost to damage: `strata fsck` lists them); a store gives an appended event its stream's next version"
            }
        }
    }

    /// Copies `source` into the empty `destination`, `batchEvents` events per append at most (each append checks
    /// that every stream is at the version before its first event, so versions are kept exactly or the copy
    /// stops). A first pass reads the source for the positions its checkpoints name; an append ends at each such
    /// event, so that its receipt gives the event's position in the destination.
    public static func copy<Source: EventStore, Destination: EventStore>(
        from source: Source, to destination: Destination, batchEvents: Int = 1_000, progress: (Int) -> Void = { _ in }
    ) async throws -> Report {
        precondition(batchEvents > 0)
        guard try await destination.readAll(after: nil, limit: 1, { _, _ in }) == nil else { throw Failure.destinationNotEmpty }
        // The positions the checkpoints name, in order.
        var named = Set<Source.Position>()
        var after: Source.Position?
        let checkpointType = Array(CheckpointEvents.typeName.utf8)
        while let last = try await source.readAll(after: after, limit: 4_096, { event, _ in
            // (The type's bytes first: no strings made for the other events.)
            guard event.typeNameBytes.elementsEqual(checkpointType),
                CheckpointEvents.isCheckpoint(tenant: event.tenant, group: event.group, typeName: event.typeName),
                let text = CheckpointEvents.position(event.payload), let position = Source.Position(text)
            else { return }
            named.insert(position)
        }) {
            after = last
        }
        var copy = Copy<Source, Destination>(destination: destination, targets: named.sorted())
        after = nil
        while true {
            var page: [RecordedEvent<Source.Position>] = []
            guard let last = try await source.readAll(after: after, limit: batchEvents, { page.append(RecordedEvent($0, at: $1)) }) else { break }
            after = last
            for event in page { try await copy.add(event) }
            try await copy.flush()
            progress(copy.report.events)
        }
        copy.report.streams = copy.versions.count
        return copy.report
    }

    /// The state of a copy: the batch being gathered, each stream's last version, the destination's positions of
    /// the events checkpoints name.
    private struct Copy<Source: EventStore, Destination: EventStore> {
        let destination: Destination
        /// Positions checkpoints name, ascending; `next` is the first not passed yet.
        let targets: [Source.Position]
        var next = 0
        var translated: [String: String] = [:]
        var batch: [RecordedEvent<Source.Position>] = []
        var expecting: [PartitionKey: ExpectedVersion] = [:]
        var versions: [PartitionKey: UInt64] = [:]
        /// The destination's position of the last event appended.
        var lastAppended: Destination.Position?
        var report = Report(events: 0, streams: 0, positionsChanged: 0)

        init(destination: Destination, targets: [Source.Position]) {
            self.destination = destination
            self.targets = targets
        }

        mutating func add(_ event: RecordedEvent<Source.Position>) async throws {
            // A named position passed without an event of its own (lost to a repair): it maps to the event before
            // (the origin when there is none: the subscription then starts over).
            while next < targets.count && targets[next] < event.position {
                try await flush()
                translated[targets[next].description] = (lastAppended ?? .origin).description
                next += 1
            }
            let previous = versions[event.key] ?? 0
            guard event.version == previous + 1 else {
                throw Failure.versionGap(stream: event.key, after: previous, found: event.version, copied: report.events)
            }
            if expecting[event.key] == nil { expecting[event.key] = .exactly(previous) }
            versions[event.key] = event.version
            var event = event
            if CheckpointEvents.isCheckpoint(tenant: event.key.tenant, group: event.key.group, typeName: event.record.typeName) {
                let text = event.record.payload.withUnsafeBytes { CheckpointEvents.position($0) }
                if let text, let mapped = translated[text] {
                    event.record.payload = try CheckpointEvents.payload(position: mapped)
                    report.checkpointsTranslated += 1
                } else {
                    report.checkpointsUntranslated += 1
                }
            }
            batch.append(event)
            if next < targets.count && targets[next] == event.position {
                try await flush()
                translated[targets[next].description] = (lastAppended ?? .origin).description
                next += 1
            }
        }

        /// Appends the gathered batch.
        mutating func flush() async throws {
            guard !batch.isEmpty else { return }
            let receipt: AppendReceipt<Destination.Position>
            do {
                receipt = try await destination.append(batch.map(\.record), expecting: expecting)
            } catch {
                throw Failure.appendFailed(copied: report.events, reason: "\(error)")
            }
            // The destination's positions of a batch: consecutive from `first` when it numbers events by sequence;
            // positions of another kind never match the source's.
            if let first = UInt64(receipt.first.description) {
                for (offset, event) in batch.enumerated() where event.position.description != String(first + UInt64(offset)) {
                    report.positionsChanged += 1
                }
            } else {
                report.positionsChanged += batch.count
            }
            report.events += batch.count
            lastAppended = receipt.last
            batch.removeAll(keepingCapacity: true)
            expecting.removeAll(keepingCapacity: true)
        }
    }
}

/// Where a path names a store: a folder is the native engine's, a file an SQLite database, a `postgres://` or
/// `postgresql://` URL a PostgreSQL store.
public enum StoreLocation: Sendable, Equatable {
    case native(String)
    case sqlite(String)
    case postgres(url: String)

    /// An existing store: a PostgreSQL URL, a folder (native) or a file (SQLite); nil when there is nothing at `path`.
    public static func existing(_ path: String) -> StoreLocation? {
        if isPostgresURL(path) { return .postgres(url: path) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return nil }
        return isDirectory.boolValue ? .native(path) : .sqlite(path)
    }

    /// A store to write: an existing one as `existing` says; a new path ending in `.sqlite`, `.sqlite3` or `.db` is an
    /// SQLite file, anything else a native store folder.
    public static func destination(_ path: String) -> StoreLocation {
        if let existing = existing(path) { return existing }
        let suffix = (path as NSString).pathExtension.lowercased()
        return ["sqlite", "sqlite3", "db"].contains(suffix) ? .sqlite(path) : .native(path)
    }

    /// Whether `path` is a PostgreSQL connection URL.
    public static func isPostgresURL(_ path: String) -> Bool {
        let lower = path.prefix(13).lowercased()
        return lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
    }
}
