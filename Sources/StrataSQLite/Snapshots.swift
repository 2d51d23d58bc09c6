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
        /// A row; nil for a column that does not hold what every snapshot row holds (changed by hand, or damaged).
        struct Candidate: Sendable {
            var id: Int64, projectorVersion: Int64?, codec: String?, position: Int64?, version: Int64?, created: Int64?
            var state: [UInt8]?
        }
        // One read: the candidates newest first, the newest one's state (the one a load nearly always takes: the
        // others' states, as large, are read only when it is passed over), and the log's end when there is any.
        let (candidates, head) = try await read { db -> ([Candidate], UInt64) in
            let statement = try db.cachedStatement(sql: """
                SELECT id, projector_version, codec, position, version, created FROM strata_snapshots
                WHERE subject_kind = ? AND subject_a = ? AND subject_b = ? AND subject_c = ? AND projector = ? AND position <= ?
                ORDER BY position DESC, id DESC
                """)
            let rows = try Row.fetchAll(statement, arguments: [kind, a, b, c, projectorName, bound])
            guard !rows.isEmpty else { return ([], 0) }
            var candidates = rows.map { row in
                Candidate(
                    id: (try? row.decode(Int64.self, atIndex: 0)) ?? 0, projectorVersion: try? row.decode(atIndex: 1),
                    codec: try? row.decode(atIndex: 2), position: try? row.decode(atIndex: 3), version: try? row.decode(atIndex: 4),
                    created: try? row.decode(atIndex: 5), state: nil)
            }
            candidates[0].state = try Self.snapshotState(id: candidates[0].id, db)
            return (candidates, try Self.head(db))
        }
        var ignored: [PassedOverSnapshot] = []
        for candidate in candidates {
            let location = "strata_snapshots row \(candidate.id)"
            func damaged(_ column: String, _ reason: String) -> PassedOverSnapshot {
                PassedOverSnapshot(
                    location: location, position: candidate.position.map { "\($0)" } ?? "?",
                    reason: .unreadable(SQLiteStoreError.damagedRow(
                        table: "strata_snapshots", position: candidate.position ?? 0, column: column, reason: reason)))
            }
            var state = candidate.state
            if state == nil && candidate.id != candidates[0].id {
                let id = candidate.id
                state = try await read { db in try Self.snapshotState(id: id, db) }
            }
            guard let position = candidate.position, let version = candidate.version, let projectorVersion = candidate.projectorVersion,
                let codec = candidate.codec, let created = candidate.created, let state
            else {
                ignored.append(damaged("position, version, projector_version, codec, created or state", "NULL or of another type"))
                continue
            }
            guard position > 0, version >= 0, (0...Int64(UInt32.max)).contains(projectorVersion) else {
                ignored.append(damaged("position, version or projector_version", "out of range"))
                continue
            }
            if UInt64(position) > head {
                ignored.append(PassedOverSnapshot(
                    location: location, position: "\(position)", reason: .pastEndOfLog(position: "\(position)", logEnd: "\(head)")))
                continue
            }
            let snapshot = Snapshot(
                subject: subject, projectorName: projectorName, projectorVersion: UInt32(projectorVersion),
                codecName: codec, position: UInt64(position), version: UInt64(version),
                createdMicros: created, state: state)
            if let reason = accept(snapshot) {
                ignored.append(PassedOverSnapshot(location: location, position: "\(position)", reason: reason))
                continue
            }
            return SnapshotLookup(snapshot: snapshot, ignored: ignored)
        }
        return SnapshotLookup(snapshot: nil, ignored: ignored)
    }

    /// A snapshot row's state; nil when it is NULL or not a BLOB (changed by hand, or damaged) or the row is gone.
    static func snapshotState(id: Int64, _ db: Database) throws -> [UInt8]? {
        let statement = try db.cachedStatement(sql: "SELECT state FROM strata_snapshots WHERE id = ?")
        return try Row.fetchOne(statement, arguments: [id]).flatMap { row in (try? row.decode(Data.self, atIndex: 0)).map { Array($0) } }
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
                    try db.cachedStatement(
                        sql: """
                            INSERT INTO strata_snapshots (subject_kind, subject_a, subject_b, subject_c, projector, projector_version,
                                                          codec, position, version, created, state)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """
                    ).execute(
                        arguments: [
                            kind, a, b, c, snapshot.projectorName, Int64(snapshot.projectorVersion), snapshot.codecName,
                            Int64(min(snapshot.position, UInt64(Int64.max))), Int64(min(snapshot.version, UInt64(Int64.max))),
                            snapshot.createdMicros, Data(snapshot.state),
                        ])
                    try db.cachedStatement(
                        sql: """
                            DELETE FROM strata_snapshots
                            WHERE subject_kind = ? AND subject_a = ? AND subject_b = ? AND subject_c = ? AND projector = ?
                              AND id NOT IN (SELECT id FROM strata_snapshots
                                             WHERE subject_kind = ? AND subject_a = ? AND subject_b = ? AND subject_c = ? AND projector = ?
                                             ORDER BY position DESC, id DESC LIMIT ?)
                            """
                    ).execute(
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
