import Foundation
import GRDB

/// Strata's tables in an SQLite database, created and upgraded by GRDB migrations (identifiers `strata.v1`, …),
/// with the schema version also kept in `strata_meta` (what a newer schema is recognised by before anything is
/// touched).
///
/// ```sql
/// CREATE TABLE strata_events (
///     position INTEGER PRIMARY KEY,            -- the rowid: the global order, in commit order (one writer)
///     tenant TEXT NOT NULL, aggregate_group TEXT NOT NULL, aggregate_id TEXT NOT NULL,
///     version INTEGER NOT NULL,                -- 1, 2, … per stream
///     type TEXT NOT NULL, type_version INTEGER NOT NULL,
///     timestamp INTEGER NOT NULL,              -- microseconds since 1970
///     event_id BLOB NOT NULL,                  -- 16 bytes (RFC 4122 byte order)
///     correlation_id TEXT, causation_id TEXT, user TEXT,
///     payload BLOB NOT NULL,                   -- the codec's bytes, as appended
///     UNIQUE (tenant, aggregate_group, aggregate_id, version))
/// CREATE TABLE strata_snapshots (
///     id INTEGER PRIMARY KEY, subject_kind INTEGER NOT NULL, subject_a TEXT NOT NULL, subject_b TEXT NOT NULL,
///     subject_c TEXT NOT NULL, projector TEXT NOT NULL, projector_version INTEGER NOT NULL, codec TEXT NOT NULL,
///     position INTEGER NOT NULL, version INTEGER NOT NULL, created INTEGER NOT NULL, state BLOB NOT NULL)
/// CREATE TABLE strata_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)   -- format = strata, schema_version = 1
/// ```
public enum StrataSQLiteSchema {
    /// The newest schema version this code knows.
    public static let version = 1

    /// Adds Strata's migrations to an application's own migrator — for an application that migrates its database
    /// itself (then pass `migrate: false` to `SQLiteEventStore(writer:migrate:)`). GRDB's migrator records every
    /// migration it ran in one table, so an application that checks for unknown migrations (`hasSchemaChanges`,
    /// `eraseDatabaseOnSchemaChange`) must register these.
    public static func registerMigrations(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("strata.v1") { db in
            try db.execute(sql: """
                CREATE TABLE strata_events (
                    position INTEGER PRIMARY KEY,
                    tenant TEXT NOT NULL, aggregate_group TEXT NOT NULL, aggregate_id TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    type TEXT NOT NULL, type_version INTEGER NOT NULL,
                    timestamp INTEGER NOT NULL,
                    event_id BLOB NOT NULL,
                    correlation_id TEXT, causation_id TEXT, user TEXT,
                    payload BLOB NOT NULL,
                    UNIQUE (tenant, aggregate_group, aggregate_id, version));
                CREATE TABLE strata_snapshots (
                    id INTEGER PRIMARY KEY,
                    subject_kind INTEGER NOT NULL, subject_a TEXT NOT NULL, subject_b TEXT NOT NULL, subject_c TEXT NOT NULL,
                    projector TEXT NOT NULL, projector_version INTEGER NOT NULL, codec TEXT NOT NULL,
                    position INTEGER NOT NULL, version INTEGER NOT NULL, created INTEGER NOT NULL, state BLOB NOT NULL);
                CREATE INDEX strata_snapshots_by_subject
                    ON strata_snapshots (subject_kind, subject_a, subject_b, subject_c, projector, position);
                CREATE TABLE strata_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                INSERT INTO strata_meta (key, value) VALUES ('format', 'strata'), ('schema_version', '1');
                """)
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        registerMigrations(in: &migrator)
        return migrator
    }

    /// The Strata schema version a database holds (nil: none), and its other tables: read without changing
    /// anything.
    static func inspect(_ db: Database) throws -> (version: Int?, otherTables: [String]) {
        let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        guard tables.contains("strata_meta") else { return (nil, tables) }
        let version = try String.fetchOne(db, sql: "SELECT value FROM strata_meta WHERE key = 'schema_version'").flatMap { Int($0) }
        return (version ?? 0, tables.filter { !$0.hasPrefix("strata_") && $0 != "grdb_migrations" })
    }

    /// Refuses a newer schema (before anything is migrated).
    static func checkVersion(_ found: Int?) throws(SQLiteStoreError) {
        if let found, found > version { throw .newerSchema(found: found, supported: version) }
    }

    /// Whether the file at `path` starts with SQLite's 16-byte header ("SQLite format 3\0"); an empty or missing
    /// file is a new database.
    static func looksLikeSQLite(_ path: String) -> Bool? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let header = try? handle.read(upToCount: 16), !header.isEmpty else { return nil }
        return header == Data("SQLite format 3\u{0}".utf8)
    }
}
