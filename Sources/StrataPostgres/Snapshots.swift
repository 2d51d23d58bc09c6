import PostgresNIO
import Strata

extension PostgresEventStore {
    /// How many snapshots of one subject by one projector the table keeps (the newest).
    static let snapshotsKept = 4

    /// The latest snapshot at or before `bound` that `accept` takes; snapshots past the end of the log (events lost
    /// since, or copied from elsewhere) are passed over too.
    public nonisolated(nonsending) func latestSnapshot(
        of subject: SnapshotSubject, projectorName: String, atOrBefore bound: PostgresPosition?,
        accept: (Snapshot<PostgresPosition>) -> SnapshotRejection?
    ) async throws -> SnapshotLookup<PostgresPosition> {
        try checkOpen()
        let (kind, a, b, c) = Self.parts(subject)
        let limit = (bound ?? PostgresPosition(transaction: .max, sequence: .max)).columns
        var binds = PostgresBindings(capacity: 7)
        binds.append(kind)
        binds.append(a)
        binds.append(b)
        binds.append(c)
        binds.append(projectorName)
        binds.append(limit.0)
        binds.append(limit.1)
        typealias Row = (Int64, Int64, String, Int64, Int64, Int64, Int64, ByteBuffer, Int64?, Int64?)
        var candidates: [Row] = []
        do {
            // One statement: at most `snapshotsKept` rows with their states, and the log's end (an uncorrelated
            // subquery, evaluated once) to pass over snapshots past it.
            let rows = try await rows(PostgresQuery(unsafeSQL: """
                SELECT id, projector_version, codec, position_tx, position_sequence, version, created_us, state,
                       (SELECT tx FROM \(sql.schema).events ORDER BY tx DESC, position DESC LIMIT 1),
                       (SELECT position FROM \(sql.schema).events ORDER BY tx DESC, position DESC LIMIT 1)
                FROM \(sql.schema).snapshots
                WHERE subject_kind = $1 AND subject_a = $2 AND subject_b = $3 AND subject_c = $4 AND projector = $5
                  AND (position_tx, position_sequence) <= ($6, $7)
                ORDER BY position_tx DESC, position_sequence DESC, id DESC
                """, binds: binds), "reading snapshots of \(subject)")
            for row in rows { candidates.append(try row.decode(Row.self)) }
        } catch {
            throw reported(error, "reading snapshots of \(subject)")
        }
        guard let first = candidates.first else { return SnapshotLookup(snapshot: nil, ignored: []) }
        let head = PostgresPosition(transaction: UInt64(max(0, first.8 ?? 0)), sequence: UInt64(max(0, first.9 ?? 0)))
        var ignored: [PassedOverSnapshot] = []
        for (id, projectorVersion, codec, tx, sequence, version, created, state, _, _) in candidates {
            let location = "snapshots row \(id)"
            guard tx >= 0, sequence >= 0, version >= 0, (0...Int64(UInt32.max)).contains(projectorVersion) else {
                ignored.append(PassedOverSnapshot(
                    location: location, position: "\(tx)-\(sequence)",
                    reason: .unreadable(PostgresStoreError.damagedRow(
                        table: "snapshots", position: "\(id)", column: "position, version or projector_version", reason: "out of range"))))
                continue
            }
            let position = PostgresPosition(transaction: UInt64(tx), sequence: UInt64(sequence))
            if position > head {
                ignored.append(PassedOverSnapshot(
                    location: location, position: "\(position)", reason: .pastEndOfLog(position: "\(position)", logEnd: "\(head)")))
                continue
            }
            let snapshot = Snapshot(
                subject: subject, projectorName: projectorName, projectorVersion: UInt32(projectorVersion), codecName: codec,
                position: position, version: UInt64(version), createdMicros: created, state: Array(buffer: state))
            if let reason = accept(snapshot) {
                ignored.append(PassedOverSnapshot(location: location, position: "\(position)", reason: reason))
                continue
            }
            return SnapshotLookup(snapshot: snapshot, ignored: ignored)
        }
        return SnapshotLookup(snapshot: nil, ignored: ignored)
    }

    /// Stores the snapshots in one transaction (all or none), keeping the newest `snapshotsKept` of each subject
    /// and projector.
    public nonisolated(nonsending) func writeSnapshots(_ snapshots: [Snapshot<PostgresPosition>]) async throws {
        try checkOpen()
        for snapshot in snapshots { try snapshot.validateLimits() }
        let schema = sql.schema, logger = observability.logger, client = self.client
        do {
            try await answered("writing snapshots") {
                try await client.withTransaction(logger: logger) { connection in
                    for snapshot in snapshots {
                        let (kind, a, b, c) = Self.parts(snapshot.subject)
                        let position = snapshot.position.columns
                        var binds = PostgresBindings(capacity: 12)
                        binds.append(kind)
                        binds.append(a)
                        binds.append(b)
                        binds.append(c)
                        binds.append(snapshot.projectorName)
                        binds.append(Int64(snapshot.projectorVersion))
                        binds.append(snapshot.codecName)
                        binds.append(position.0)
                        binds.append(position.1)
                        binds.append(Int64(clamping: snapshot.version))
                        binds.append(snapshot.createdMicros)
                        binds.append(ByteaParameter(value: snapshot.state))
                        binds.append(Int64(Self.snapshotsKept))
                        try await connection.query(PostgresQuery(unsafeSQL: """
                            WITH added AS (
                                INSERT INTO \(schema).snapshots (subject_kind, subject_a, subject_b, subject_c, projector, projector_version,
                                                              codec, position_tx, position_sequence, version, created_us, state)
                                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id)
                            DELETE FROM \(schema).snapshots
                            WHERE subject_kind = $1 AND subject_a = $2 AND subject_b = $3 AND subject_c = $4 AND projector = $5
                              AND id NOT IN (SELECT id FROM \(schema).snapshots
                                             WHERE subject_kind = $1 AND subject_a = $2 AND subject_b = $3 AND subject_c = $4 AND projector = $5
                                             ORDER BY position_tx DESC, position_sequence DESC, id DESC LIMIT $13 - 1)
                              AND id NOT IN (SELECT id FROM added)
                            """, binds: binds), logger: logger)
                    }
                }
            }
        } catch EventStoreError.storage(let error as PostgresTransactionError) {
            throw reported(error.closureError ?? error.beginError ?? error.commitError ?? error, "writing snapshots")
        }
    }

    /// The subject as the table keeps it: kind 1 (a stream: tenant, group, id) or 2 (a projection: name, tenant
    /// or "", "").
    static func parts(_ subject: SnapshotSubject) -> (Int16, String, String, String) {
        switch subject {
        case .stream(let key): (1, key.tenant, key.group, key.id)
        case .projection(let name, let tenant): (2, name, tenant ?? "", "")
        }
    }
}
