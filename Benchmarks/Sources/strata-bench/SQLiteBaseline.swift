import Foundation
import GRDB
import StrataStorage

/// The SQLite baseline of BENCHMARKS.md: one `events` table the way people write it, WAL mode,
/// `synchronous=FULL` for durable runs (`NORMAL` for relaxed ones), a prepared statement, one transaction
/// per append, the same payload bytes and envelope as Strata gets.
final class SQLiteBaseline {
    enum Sync: String { case full = "FULL", normal = "NORMAL", off = "OFF" }

    let queue: DatabaseQueue

    init(path: String, sync: Sync = .full) throws {
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(sync.rawValue)")
        }
        queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS events (
                    seq INTEGER PRIMARY KEY,
                    tenant TEXT NOT NULL, aggregate_group TEXT NOT NULL, aggregate_id TEXT NOT NULL,
                    version INTEGER NOT NULL, type TEXT NOT NULL, type_version INTEGER NOT NULL,
                    timestamp INTEGER NOT NULL, event_id TEXT NOT NULL, metadata TEXT NOT NULL, payload BLOB NOT NULL,
                    UNIQUE (tenant, aggregate_group, aggregate_id, version))
                """)
        }
    }

    /// Appends one batch in one transaction.
    func append(_ records: [EventRecord]) throws {
        try queue.write { db in try insert(records, db) }
    }

    /// Appends several batches in one transaction (building the P5 store only; never in a measured phase).
    func appendInOneTransaction(_ batches: [[EventRecord]]) throws {
        try queue.write { db in for records in batches { try insert(records, db) } }
    }

    private func insert(_ records: [EventRecord], _ db: Database) throws {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO events (tenant, aggregate_group, aggregate_id, version, type, type_version, timestamp,
                                event_id, metadata, payload)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for record in records {
            try statement.execute(arguments: [
                record.key.tenant, record.key.group, record.key.id, Int64(record.version), record.typeName,
                Int64(record.typeVersion), record.timestampMicros, record.eventId.description,
                Self.metadataJSON(record.metadata), Data(record.payload),
            ])
        }
    }

    /// Reads a stream's events in version order, touching every payload; returns how many there were.
    func loadStream(_ key: PartitionKey) throws -> Int {
        try queue.read { db in
            let statement = try db.cachedStatement(sql: """
                SELECT seq, version, type, type_version, payload FROM events
                WHERE tenant = ? AND aggregate_group = ? AND aggregate_id = ? ORDER BY version
                """)
            statement.setUncheckedArguments([key.tenant, key.group, key.id])
            let rows = try Row.fetchCursor(statement)
            var count = 0
            var bytes = 0
            while let row = try rows.next() {
                let payload: Data = row[4]
                bytes &+= payload.count
                count += 1
            }
            return count
        }
    }

    /// Closes the connection; SQLite checkpoints the WAL into the database file and removes it.
    func close() throws { try queue.close() }

    static func metadataJSON(_ metadata: RecordMetadata) -> String {
        var parts: [String] = []
        if let value = metadata.correlationId { parts.append(#""correlationId":"\#(value)""#) }
        if let value = metadata.causationId { parts.append(#""causationId":"\#(value)""#) }
        if let value = metadata.user { parts.append(#""user":"\#(value)""#) }
        return "{" + parts.joined(separator: ",") + "}"
    }

    /// The version of the SQLite library GRDB linked (not of any `sqlite3` command on the machine).
    static func libraryVersion() -> String {
        (try? DatabaseQueue().read { db in try String.fetchOne(db, sql: "SELECT sqlite_version()") }) ?? "unknown"
    }

    static let companions = ["", "-wal", "-shm"]

    static func remove(_ path: String) {
        for suffix in companions { unlink(path + suffix) }
    }

    static func bytesOnDisk(_ path: String) -> Int64 {
        companions.reduce(0) { $0 + fileBytes(path + $1) }
    }
}
