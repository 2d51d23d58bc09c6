import Foundation
import Strata
import StrataSQLite

/// Copies every event of one store into an empty store of any backend: in global order, each with its stream
/// version, event id, type, timestamp, metadata and payload. Durable subscriptions' checkpoints are events and are
/// copied too; snapshots are not (they are rebuilt from the events: `Compactor`, projections).
public enum StoreCopy {
    /// What a copy did.
    public struct Report: Sendable, Equatable {
        /// Events copied.
        public var events: Int
        /// Distinct streams among them.
        public var streams: Int
        /// Events whose position in the destination differs from the source's (string forms compared): a durable
        /// subscription's checkpoint then points elsewhere. 0 when both stores number events alike from an empty
        /// start (native ↔ SQLite, unless the source lost events to a repair).
        public var positionsChanged: Int
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

    /// Copies `source` into the empty `destination`, `batchEvents` events per append (each append checks that
    /// every stream is at the version before its first event, so versions are kept exactly or the copy stops).
    public static func copy<Source: EventStore, Destination: EventStore>(
        from source: Source, to destination: Destination, batchEvents: Int = 1_000, progress: (Int) -> Void = { _ in }
    ) async throws -> Report {
        precondition(batchEvents > 0)
        guard try await destination.readAll(after: nil, limit: 1, { _, _ in }) == nil else { throw Failure.destinationNotEmpty }
        var report = Report(events: 0, streams: 0, positionsChanged: 0)
        // Each stream's last version read from the source: every event must be the next one.
        var versions: [PartitionKey: UInt64] = [:]
        var after: Source.Position?
        while true {
            var batch: [RecordedEvent<Source.Position>] = []
            guard let last = try await source.readAll(after: after, limit: batchEvents, { batch.append(RecordedEvent($0, at: $1)) }) else { break }
            after = last
            var expecting: [PartitionKey: ExpectedVersion] = [:]
            for event in batch {
                let previous = versions[event.key] ?? 0
                guard event.version == previous + 1 else {
                    throw Failure.versionGap(stream: event.key, after: previous, found: event.version, copied: report.events)
                }
                if expecting[event.key] == nil { expecting[event.key] = .exactly(previous) }
                versions[event.key] = event.version
            }
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
            progress(report.events)
        }
        report.streams = versions.count
        return report
    }
}

/// Where a path names a store: a folder is the native engine's, a file an SQLite database.
public enum StoreLocation: Sendable, Equatable {
    case native(String)
    case sqlite(String)

    /// An existing store: a folder (native) or a file (SQLite); nil when there is nothing at `path`.
    public static func existing(_ path: String) -> StoreLocation? {
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
}
