import Foundation
import GRDB
import Strata
import StrataSQLite

/// `strata dump`, `stats` and `fsck` on an SQLite store.
public enum SQLiteTools {
    /// Writes the events that match `filter`, in position order; returns how many. A full stream key reads the
    /// stream; anything else reads the global order from `filter.from`.
    @discardableResult
    public static func dump(
        _ store: SQLiteEventStore, filter: DumpFilter, format: DumpFormat, output: ([UInt8]) throws -> Void
    ) async throws -> Int {
        if format == .table { try output(Dump.tableHeader) }
        var written = 0
        if let tenant = filter.tenant, let group = filter.group, let id = filter.id {
            try await store.readStream(PartitionKey(tenant: tenant, group: group, id: id), from: 1, through: .max, asOf: filter.through, limit: .max) { event, position in
                guard written < filter.limit, filter.matches(event, sequence: position) else { return }
                try output(Dump.line(event, sequence: position, format: format))
                written += 1
            }
            return written
        }
        var after: UInt64? = filter.from > 1 ? filter.from - 1 : nil
        while written < filter.limit {
            var passed = false
            guard let last = try await store.readAll(after: after, limit: 1_000, { event, position in
                guard position <= filter.through else {
                    passed = true
                    return
                }
                guard written < filter.limit, filter.matches(event, sequence: position) else { return }
                try output(Dump.line(event, sequence: position, format: format))
                written += 1
            }) else { break }
            after = last
            if passed { break }
        }
        return written
    }

    /// What an SQLite store holds.
    public struct Stats: Sendable {
        public var events: Int
        public var streams: Int
        /// Per tenant: streams and events.
        public var tenants: [String: (streams: Int, events: Int)]
        public var snapshots: Int
        /// The database file, and its write-ahead log beside it.
        public var fileBytes: Int
        public var walBytes: Int
        /// The last position (0: none).
        public var lastPosition: UInt64
    }

    /// Counts from the tables (no event is decoded).
    public static func stats(_ store: SQLiteEventStore) throws -> Stats {
        let path = store.writer.path
        func size(_ file: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? NSNumber)?.intValue ?? 0 }
        return try store.writer.read { db in
            var tenants: [String: (streams: Int, events: Int)] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT tenant, count(*), sum(n) FROM
                    (SELECT tenant, count(*) AS n FROM strata_events GROUP BY tenant, aggregate_group, aggregate_id)
                GROUP BY tenant
                """) {
                tenants[row[0]] = (row[1], row[2])
            }
            return Stats(
                events: tenants.values.reduce(0) { $0 + $1.events }, streams: tenants.values.reduce(0) { $0 + $1.streams },
                tenants: tenants, snapshots: try Int.fetchOne(db, sql: "SELECT count(*) FROM strata_snapshots") ?? 0,
                fileBytes: size(path), walBytes: size(path + "-wal"),
                lastPosition: UInt64(max(0, try Int64.fetchOne(db, sql: "SELECT max(position) FROM strata_events") ?? 0)))
        }
    }

    /// What `check` found.
    public struct CheckReport: Sendable {
        /// Events read and checked (every column of every row, as a read would check it).
        public var eventsChecked: Int
        /// What is wrong, one line each (empty: nothing).
        public var problems: [String]
    }

    /// Checks the database: SQLite's own `integrity_check`, every event row (as reads check them: limits, UTF-8,
    /// ids, versions), and that each stream's versions run 1, 2, … in position order.
    public static func check(_ store: SQLiteEventStore) async throws -> CheckReport {
        var problems: [String] = []
        let integrity = try await store.writer.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
        if integrity != ["ok"] { problems += integrity.map { "sqlite integrity_check: \($0)" } }
        var checked = 0
        var after: UInt64?
        var versions: [PartitionKey: UInt64] = [:]
        do {
            while let last = try await store.readAll(after: after, limit: 1_000, { event, position in
                checked += 1
                let key = event.key
                let expected = (versions[key] ?? 0) + 1
                if event.version != expected, problems.count < 100 {
                    problems.append("position \(position): stream \(key) has version \(event.version) after \(expected - 1)")
                }
                versions[key] = event.version
            }) {
                after = last
            }
        } catch {
            problems.append("the walk stopped after \(checked) events: \(error)")
        }
        return CheckReport(eventsChecked: checked, problems: problems)
    }
}

extension SQLiteTools {
    /// Whether `path` is a file that starts with SQLite's header.
    public static func isSQLiteFile(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 16)) == Data("SQLite format 3\u{0}".utf8)
    }
}
