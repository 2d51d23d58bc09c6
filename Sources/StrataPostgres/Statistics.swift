import PostgresNIO
import Strata

/// What `strata stats` prints for a PostgreSQL store: counts from its tables and their sizes on the server.
package struct PostgresStoreStatistics: Sendable {
    package var serverVersion = ""
    package var schema = ""
    package var schemaVersion = 0
    package var events = 0
    package var streams = 0
    package var snapshots = 0
    /// The last position of the table (nil: no events).
    package var lastPosition: PostgresPosition?
    /// Bytes of each table with its indexes and TOAST data (`pg_total_relation_size`).
    package var eventsBytes = 0
    package var snapshotsBytes = 0
    /// Per tenant: streams and events.
    package var tenants: [String: (streams: Int, events: Int)] = [:]
}

extension PostgresEventStore {
    /// Counts and sizes of the store's tables (reads every row of `events`: a full scan on a large store).
    package func statistics() async throws -> PostgresStoreStatistics {
        try checkOpen()
        var result = PostgresStoreStatistics()
        result.schema = configuration.schema
        for row in try await rows("SELECT current_setting('server_version')", "reading the server's version") {
            result.serverVersion = try row.decode(String.self)
        }
        for row in try await rows(PostgresQuery(unsafeSQL: "SELECT value FROM \(sql.schema).meta WHERE key = 'schema_version'"), "reading the schema version") {
            result.schemaVersion = Int(try row.decode(String.self)) ?? 0
        }
        let perTenant = """
            SELECT tenant, count(DISTINCT (aggregate_group, aggregate_id)), count(*) FROM \(sql.schema).events GROUP BY tenant
            """
        for row in try await rows(PostgresQuery(unsafeSQL: perTenant), "counting events per tenant") {
            let (tenant, streams, events) = try row.decode((String, Int64, Int64).self)
            result.tenants[tenant] = (Int(streams), Int(events))
            result.streams += Int(streams)
            result.events += Int(events)
        }
        let sizes = """
            SELECT (SELECT count(*) FROM \(sql.schema).snapshots),
                   pg_total_relation_size('\(sql.schema).events'), pg_total_relation_size('\(sql.schema).snapshots')
            """
        for row in try await rows(PostgresQuery(unsafeSQL: sizes), "measuring the tables") {
            let (snapshots, events, snapshotBytes) = try row.decode((Int64, Int64, Int64).self)
            result.snapshots = Int(snapshots)
            result.eventsBytes = Int(events)
            result.snapshotsBytes = Int(snapshotBytes)
        }
        result.lastPosition = try await head()
        return result
    }
}
