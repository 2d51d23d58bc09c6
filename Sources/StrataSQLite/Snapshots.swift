import Foundation
import GRDB
import Strata

extension SQLiteEventStore {
    /// How many snapshots of one subject by one projector the table keeps (the newest): a load as of an older
    /// position than the oldest kept replays from the start, as after any passed-over snapshot.
    static let snapshotsKept = 4

    /// The latest snapshot at or before `bound` that `accept` takes; snapshots past the end of the log (events lost
    /// since, or a snapshot copied from elsewhere) are passed over too.
    public nonisolated(nonsending) func latestSnapshot(
        of subject: SnapshotSubject, projectorName: String, atOrBefore bound: UInt64?,
        accept: (Snapshot<UInt64>) -> SnapshotRejection?
    ) async throws -> SnapshotLookup<UInt64> {
        if signalClosed { throw EventStoreError.closed }
        let (kind, a, b, c) = Self.parts(subject)
        let bound = Int64(min(bound ?? .max, UInt64(Int64.max)))
        struct Candidate: Sendable { var id: Int64, projectorVersion: Int64, codec: String, position: Int64, version: Int64, created: Int64 }
        let (candidates, head): ([Candidate], UInt64)
        do {
            (candidates, head) = try await writer.read { db in
                let rows = try Row.fetchAll(db, sql: """
                    SELECT id, projector_version, codec, position, version, created FROM strata_snapshots
                    WHERE subject_kind = ? AND subject_a = ? AND subject_b = ? AND subject_c = ? AND projector = ? AND position <= ?
                    ORDER BY position DESC, id DESC
                    """, arguments: [kind, a, b, c, projectorName, bound])
                return (rows.map { Candidate(id: $0[0], projectorVersion: $0[1], codec: $0[2], position: $0[3], version: $0[4], created: $0[5]) },
                        try Self.head(db))
            }
        } catch {
            throw EventStoreError.storage(error)
        }
        var ignored: [PassedOverSnapshot] = []
        for candidate in candidates {
            let location = "strata_snapshots row \(candidate.id)"
            guard candidate.position > 0, candidate.version >= 0, (0...Int64(UInt32.max)).contains(candidate.projectorVersion) else {
                ignored.append(PassedOverSnapshot(
                    location: location, position: "\(candidate.position)",
                    reason: .unreadable(SQLiteStoreError.damagedRow(
                        table: "strata_snapshots", position: candidate.position, column: "position, version or projector_version",
                        reason: "out of range"))))
                continue
            }
            if UInt64(candidate.position) > head {
                ignored.append(PassedOverSnapshot(
                    location: location, position: "\(candidate.position)", reason: .pastEndOfLog(position: "\(candidate.position)", logEnd: "\(head)")))
                continue
            }
            let state: [UInt8]
            do {
                state = try await writer.read { db in
                    try Row.fetchOne(db, sql: "SELECT state FROM strata_snapshots WHERE id = ?", arguments: [candidate.id])
                        .flatMap { row -> [UInt8]? in (row[0] as Data?).map { Array($0) } } ?? []
                }
            } catch {
                ignored.append(PassedOverSnapshot(location: location, position: "\(candidate.position)", reason: .unreadable(error)))
                continue
            }
            let snapshot = Snapshot(
                subject: subject, projectorName: projectorName, projectorVersion: UInt32(candidate.projectorVersion),
                codecName: candidate.codec, position: UInt64(candidate.position), version: UInt64(candidate.version),
                createdMicros: candidate.created, state: state)
            if let reason = accept(snapshot) {
                ignored.append(PassedOverSnapshot(location: location, position: "\(candidate.position)", reason: reason))
                continue
            }
            return SnapshotLookup(snapshot: snapshot, ignored: ignored)
        }
        return SnapshotLookup(snapshot: nil, ignored: ignored)
    }

    /// Stores the snapshots in one transaction (all or none), keeping the newest `snapshotsKept` of each subject and
    /// projector.
    public nonisolated(nonsending) func writeSnapshots(_ snapshots: [Snapshot<UInt64>]) async throws {
        if signalClosed { throw EventStoreError.closed }
        for snapshot in snapshots { try snapshot.validateLimits() }
        do {
            try await writer.write { db in
                for snapshot in snapshots {
                    let (kind, a, b, c) = Self.parts(snapshot.subject)
                    try db.execute(
                        sql: """
                            INSERT INTO strata_snapshots (subject_kind, subject_a, subject_b, subject_c, projector, projector_version,
                                                          codec, position, version, created, state)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [
                            kind, a, b, c, snapshot.projectorName, Int64(snapshot.projectorVersion), snapshot.codecName,
                            Int64(min(snapshot.position, UInt64(Int64.max))), Int64(min(snapshot.version, UInt64(Int64.max))),
                            snapshot.createdMicros, Data(snapshot.state),
                        ])
                    try db.execute(
                        sql: """
                            DELETE FROM strata_snapshots
                            WHERE subject_kind = ? AND subject_a = ? AND subject_b = ? AND subject_c = ? AND projector = ?
                              AND id NOT IN (SELECT id FROM strata_snapshots
                                             WHERE subject_kind = ? AND subject_a = ? AND subject_b = ? AND subject_c = ? AND projector = ?
                                             ORDER BY position DESC, id DESC LIMIT ?)
                            """,
                        arguments: [kind, a, b, c, snapshot.projectorName, kind, a, b, c, snapshot.projectorName, Self.snapshotsKept])
                }
            }
        } catch {
            throw EventStoreError.storage(error)
        }
    }

    /// The subject as the table keeps it: kind 1 (a stream: tenant, group, id) or 2 (a projection: name, tenant or
    /// "", "").
    static func parts(_ subject: SnapshotSubject) -> (Int64, String, String, String) {
        switch subject {
        case .stream(let key): (1, key.tenant, key.group, key.id)
        case .projection(let name, let tenant): (2, name, tenant ?? "", "")
        }
    }
}
