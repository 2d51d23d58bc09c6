/// When an aggregate's state is snapshotted: at every multiple of `interval` versions, once the aggregate is
/// `after` versions past that multiple (so the snapshot is of a version that is no longer hot). Sekiban's default,
/// and Strata's, is every 80 versions, 15 past.
public struct SnapshotPolicy: Sendable, Hashable {
    /// Versions between snapshots; 0: never.
    public var interval: UInt64
    /// How far past a multiple of `interval` the aggregate must be before that multiple is snapshotted.
    public var after: UInt64

    /// A snapshot at every multiple of `interval` versions, taken once the aggregate is `after` versions past it.
    public static func every(_ interval: UInt64, after: UInt64 = 0) -> SnapshotPolicy {
        SnapshotPolicy(interval: interval, after: after)
    }

    /// No automatic snapshots (explicit ones still can be taken).
    public static let never = SnapshotPolicy(interval: 0, after: 0)

    /// The version to snapshot an aggregate at `version` whose latest snapshot is at `snapshotted` (0: none):
    /// the highest multiple of `interval` that is at least `after` behind, if it is past `snapshotted`.
    public func dueVersion(at version: UInt64, snapshotted: UInt64) -> UInt64? {
        guard interval > 0, version >= after else { return nil }
        let due = (version - after) / interval * interval
        return due > snapshotted ? due : nil
    }
}

/// A snapshot lookup for an aggregate: the aggregate as of the snapshot (nil: none usable) and the position of the
/// last event the snapshot folded, and the snapshots passed over with why (another projector version, another
/// codec, damaged, undecodable, past the bounds).
public struct AggregateSnapshotLookup<P: AggregateProjector, Position: EventPosition>: Sendable {
    public var aggregate: Aggregate<P>?
    public var position: Position?
    public var ignored: [PassedOverSnapshot]

    @usableFromInline init(aggregate: Aggregate<P>?, position: Position?, ignored: [PassedOverSnapshot]) {
        self.aggregate = aggregate
        self.position = position
        self.ignored = ignored
    }
}

/// Why snapshots could not be taken.
public enum SnapshotError: Error, Sendable, CustomStringConvertible {
    /// The projector's state is not snapshotted (not `Codable`, and no `snapshotBytes(of:codec:)` of its own).
    case notSnapshotted(projector: String)

    public var description: String {
        switch self {
        case .notSnapshotted(let projector): "\(projector)'s state is not snapshotted: make it Codable or implement snapshotBytes(of:codec:)"
        }
    }
}

extension EventStore {
    /// The latest usable snapshot of an aggregate, decoded: by the same projector name and version, encoded by
    /// `codec`, at or before `throughVersion` and `asOf`, not past the end of the log, and decoding. Anything
    /// else is passed over (`ignored` says why) and the next older snapshot is tried; loading then replays the
    /// events after the snapshot — or all of them — so a load equals a full replay, always.
    @inlinable public nonisolated(nonsending) func loadSnapshot<P: AggregateProjector>(
        _ projector: P.Type, _ key: PartitionKey, codec: any EventCodec = JSONEventCodec(),
        throughVersion: UInt64 = .max, asOf: Position? = nil
    ) async throws -> AggregateSnapshotLookup<P, Position> {
        var state: P.State?
        let lookup = try await latestSnapshot(of: .stream(key), projectorName: P.projectorName, atOrBefore: asOf) { snapshot in
            guard snapshot.version > 0, snapshot.version <= throughVersion else {
                return .pastVersion(version: snapshot.version, bound: throughVersion)
            }
            return snapshot.decodeState(
                projectorName: P.projectorName, projectorVersion: P.projectorVersion, codec: codec, P.state(fromSnapshot:codec:),
                into: &state)
        }
        observability.passedOver(lookup.ignored, subject: "\(key)", projector: P.projectorName)
        guard let snapshot = lookup.snapshot, let state else { return AggregateSnapshotLookup(aggregate: nil, position: nil, ignored: lookup.ignored) }
        var aggregate = Aggregate<P>(key: key)
        aggregate.state = state
        aggregate.version = snapshot.version
        return AggregateSnapshotLookup(aggregate: aggregate, position: snapshot.position, ignored: lookup.ignored)
    }

    /// Snapshots these aggregates in one write: each at its current version (`followingPolicy` false), or at the
    /// version its projector's `snapshotPolicy` says is due (`followingPolicy` true; aggregates with none due are
    /// left alone). An aggregate whose latest snapshot is already at that version, or that has no events, is left
    /// alone too. Returns the snapshots written. Never called on the command path: the compactor (or the user)
    /// calls it.
    @discardableResult
    public nonisolated(nonsending) func snapshot<P: AggregateProjector>(
        _ projector: P.Type, _ keys: some Sequence<PartitionKey>, codec: any EventCodec = JSONEventCodec(),
        followingPolicy: Bool = false
    ) async throws -> [Snapshot<Position>] {
        var snapshots: [Snapshot<Position>] = []
        let now = wallClockMicros()
        for key in keys {
            guard key.group == P.group else { throw AggregateLoadError.wrongGroup(key: key, expected: P.group) }
            // The latest snapshot is also where the fold starts (the target is never before it).
            var aggregate = try await loadSnapshot(P.self, key, codec: codec).aggregate ?? Aggregate<P>(key: key)
            let latest = aggregate.version
            var target = UInt64.max
            if followingPolicy {
                guard let due = P.snapshotPolicy.dueVersion(at: try await version(of: key), snapshotted: latest) else { continue }
                target = due
            }
            var last: Position?
            try await readStream(key, from: latest + 1, through: target, asOf: nil, limit: .max) { event, position in
                try aggregate.apply(event, at: position, codec: codec)
                last = position
            }
            guard aggregate.version > latest, let last else { continue }
            guard let bytes = try P.snapshotBytes(of: aggregate.state, codec: codec) else {
                throw SnapshotError.notSnapshotted(projector: P.projectorName)
            }
            snapshots.append(Snapshot(
                subject: .stream(key), projectorName: P.projectorName,
                projectorVersion: UInt32(truncatingIfNeeded: P.projectorVersion), codecName: codec.name,
                position: last, version: aggregate.version, createdMicros: now, state: bytes))
        }
        if !snapshots.isEmpty { try await writeSnapshots(snapshots) }
        return snapshots
    }
}

extension Snapshot {
    /// Checks that a reader with this projector and codec can use the snapshot, and decodes its state into `state`:
    /// nil when it can, or why not (another projector version or codec, a state that is not snapshotted or does
    /// not decode).
    @usableFromInline func decodeState<State>(
        projectorName: String, projectorVersion: Int, codec: any EventCodec,
        _ decode: (UnsafeRawBufferPointer, any EventCodec) throws -> State?, into state: inout State?
    ) -> SnapshotRejection? {
        guard self.projectorVersion == UInt32(truncatingIfNeeded: projectorVersion) else {
            return .projectorVersion(found: self.projectorVersion, expected: UInt32(truncatingIfNeeded: projectorVersion))
        }
        guard codecName == codec.name else { return .codec(found: codecName, expected: codec.name) }
        do {
            guard let decoded = try self.state.withUnsafeBytes({ try decode($0, codec) }) else {
                return .notSnapshotted(projector: projectorName)
            }
            state = decoded
            return nil
        } catch {
            return .undecodable("\(error)")
        }
    }
}

extension Observability {
    /// Counts the snapshots a load passed over, by reason (`StrataMetric.snapshotRejections`), and logs them at
    /// `debug` (a snapshot of an older projector version is expected after a deployment; damage is logged by the
    /// store where it is found).
    @usableFromInline func passedOver(_ ignored: [PassedOverSnapshot], subject: @autoclosure () -> String, projector: String) {
        guard !ignored.isEmpty else { return }
        for snapshot in ignored {
            counter(StrataMetric.snapshotRejections, [("reason", snapshot.reason.metricName)]).increment()
        }
        logger.debug(
            "passed over snapshots; the load replays from an older one or from the start",
            metadata: ["subject": "\(subject())", "projector": "\(projector)", "snapshots": "\(ignored.map(\.description))"])
    }
}

extension SnapshotRejection {
    /// The `reason` dimension of `StrataMetric.snapshotRejections`.
    public var metricName: String {
        switch self {
        case .unreadable: "unreadable"
        case .projectorVersion: "projector_version"
        case .codec: "codec"
        case .pastEndOfLog: "past_end_of_log"
        case .pastVersion: "past_version"
        case .notSnapshotted: "not_snapshotted"
        case .undecodable: "undecodable"
        }
    }
}
