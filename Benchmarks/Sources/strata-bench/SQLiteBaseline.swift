import Foundation
import GRDB
@_spi(StrataInternals) import StrataStorage
import Synchronization

/// The SQLite baseline (Benchmarks/README.md, "The SQLite baseline"): one `events` table the way people write it,
/// WAL mode, `synchronous=FULL` for durable runs (`NORMAL` or `OFF` where the row says so), a prepared statement,
/// one transaction per append, the same payload bytes and envelope as Strata gets, ids as 16-byte BLOBs.
final class SQLiteBaseline: Sendable {
    enum Sync: String { case full = "FULL", normal = "NORMAL", off = "OFF" }

    /// The table, as Benchmarks/README.md prints it.
    static let schema = """
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL, aggregate_group TEXT NOT NULL, aggregate_id TEXT NOT NULL,
            version INTEGER NOT NULL, type TEXT NOT NULL, type_version INTEGER NOT NULL,
            timestamp INTEGER NOT NULL, event_id BLOB NOT NULL, metadata TEXT NOT NULL, payload BLOB NOT NULL,
            UNIQUE (tenant, aggregate_group, aggregate_id, version))
        """

    /// One connection: GRDB's `DatabaseQueue` serialises every read and write on it, as an application's single
    /// writer connection does (the 64 appenders of P1p and P2 share it).
    let queue: DatabaseQueue
    /// Each stream's version, as the single writer knows it (Strata's index keeps the same): an append gives each
    /// record the next version of its stream. Looked up once per run of one stream's records in a batch; a stream
    /// not seen yet is at 0 in a table that was empty when opened, else read once (`max(version)`). Only touched
    /// inside the queue's write transactions, so never by two appenders at once.
    let heads = Mutex<(tableWasEmpty: Bool, versions: [PartitionKey: UInt64])>((true, [:]))

    init(path: String, sync: Sync = .full) throws {
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(sync.rawValue)")
        }
        queue = try DatabaseQueue(path: path, configuration: configuration)
        let empty = try queue.write { db in
            try db.execute(sql: Self.schema.replacingOccurrences(of: "CREATE TABLE events", with: "CREATE TABLE IF NOT EXISTS events"))
            return try Int.fetchOne(db, sql: "SELECT count(*) FROM (SELECT 1 FROM events LIMIT 1)") == 0
        }
        heads.withLock { $0.tableWasEmpty = empty }
    }

    /// Appends one batch in one transaction.
    func append(_ records: [EventRecord]) throws {
        try queue.write { db in try insert(records, db) }
    }

    /// Appends one batch in one transaction, waiting for the connection without blocking a thread (what each of
    /// P1p's 64 concurrent appenders calls).
    func appendAsync(_ records: [EventRecord]) async throws {
        try await queue.write { db in try self.insert(records, db) }
    }

    /// Appends several batches in one transaction (building the P5 store only; never in a measured phase).
    func appendInOneTransaction(_ batches: [[EventRecord]]) throws {
        try queue.write { db in for records in batches { try insert(records, db) } }
    }

    func insert(_ records: [EventRecord], _ db: Database) throws {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO events (tenant, aggregate_group, aggregate_id, version, type, type_version, timestamp,
                                event_id, metadata, payload)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        var key: PartitionKey?
        var version: UInt64 = 0
        for record in records {
            if record.key != key {
                if let key { heads.withLock { $0.versions[key] = version } }
                key = record.key
                version = try head(of: record.key, db)
            }
            version += 1
            try statement.execute(arguments: [
                record.key.tenant, record.key.group, record.key.id, Int64(version), record.typeName,
                Int64(record.typeVersion), record.timestampMicros, Self.blob(record.eventId),
                Self.metadataJSON(record.metadata), Data(record.payload),
            ])
        }
        if let key { heads.withLock { $0.versions[key] = version } }
    }

    /// The stream's version before this append (see `heads`).
    private func head(of key: PartitionKey, _ db: Database) throws -> UInt64 {
        let (known, empty) = heads.withLock { ($0.versions[key], $0.tableWasEmpty) }
        if let known { return known }
        if empty { return 0 }
        return UInt64(try Int64.fetchOne(
            db, sql: "SELECT max(version) FROM events WHERE tenant = ? AND aggregate_group = ? AND aggregate_id = ?",
            arguments: [key.tenant, key.group, key.id]) ?? 0)
    }

    /// Reads a stream's events in version order and checksums every payload byte in place (CRC32C over GRDB's
    /// no-copy view of the BLOB: the same work per byte as Strata's side of P3); returns how many there were and
    /// the checksums combined.
    func loadStream(_ key: PartitionKey) throws -> (count: Int, checksum: UInt32) {
        try queue.read { db in
            let statement = try db.cachedStatement(sql: """
                SELECT seq, version, type, type_version, payload FROM events
                WHERE tenant = ? AND aggregate_group = ? AND aggregate_id = ? ORDER BY version
                """)
            statement.setUncheckedArguments([key.tenant, key.group, key.id])
            let rows = try Row.fetchCursor(statement)
            var count = 0
            var checksum: UInt32 = 0
            while let row = try rows.next() {
                checksum ^= try row.withUnsafeData(atIndex: 4) { payload in
                    payload.map { $0.withUnsafeBytes { CRC32C.checksum($0) } } ?? 0
                }
                count += 1
            }
            return (count, checksum)
        }
    }

    /// An event id as the 16 bytes Strata stores (RFC 4122 order).
    static func blob(_ id: EventID) -> Data {
        var bytes = Data(count: 16)
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: id.high.bigEndian, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: id.low.bigEndian, toByteOffset: 8, as: UInt64.self)
        }
        return bytes
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
