import Foundation
import PostgresNIO
import Strata
@testable import StrataPostgres
import Testing

/// A schema of an older version, as an earlier Strata left it, is upgraded when a store opens it: its events stay
/// readable and appendable.
@Suite struct PostgresSchemaUpgradeTests {
    @Test func aVersion1SchemaIsUpgradedItsEventsKeptAndItsAppendFunctionNoLongerNotifiesInsideTheTransaction() async throws {
        let scratch = try await TestServer.store()
        let schema = TestServer.freshSchema()
        func execute(_ sql: String) async throws { try await scratch.client.query(PostgresQuery(unsafeSQL: sql)) }
        func text(_ sql: String) async throws -> String? {
            var value: String?
            for try await row in try await scratch.client.query(PostgresQuery(unsafeSQL: sql)).decode(String.self) { value = row }
            return value
        }
        // Version 1 as it was created, with one event written by its append function.
        try await execute("CREATE SCHEMA \"\(schema)\"")
        for statement in StrataPostgresSchema.migrations(schema)[0] { try await execute(statement) }
        try await execute("UPDATE \"\(schema)\".meta SET value = '1' WHERE key = 'schema_version'")
        #expect(try await text("SELECT pg_get_functiondef('\"\(schema)\".append'::regproc)")?.contains("pg_notify") == true)
        try await execute("""
            SELECT * FROM "\(schema)".append(
                ARRAY[]::text[], ARRAY[]::text[], ARRAY[]::text[], ARRAY[]::smallint[], ARRAY[]::bigint[],
                ARRAY['acme'], ARRAY['Cart'], ARRAY['c-1'], ARRAY['ItemAdded'], ARRAY[1::bigint], ARRAY[0::bigint],
                ARRAY[gen_random_uuid()], ARRAY[NULL::text], ARRAY[NULL::text], ARRAY[NULL::text], ARRAY['{"n":1}'::bytea])
            """)

        let store = try await PostgresEventStore.connect(TestServer.configuration(schema: schema))
        #expect(try await text("SELECT value FROM \"\(schema)\".meta WHERE key = 'schema_version'") == "\(StrataPostgresSchema.version)")
        #expect(try await text("SELECT pg_get_functiondef('\"\(schema)\".append'::regproc)")?.contains("pg_notify") == false)
        let key = PartitionKey(tenant: "acme", group: "Cart", id: "c-1")
        try await store.append([EventRecord(key: key, typeName: "ItemAdded", payload: Array(#"{"n":2}"#.utf8))], expecting: [key: .exactly(1)])
        let events = try await store.streamEvents(key)
        #expect(events.map { String(decoding: $0.record.payload, as: UTF8.self) } == [#"{"n":1}"#, #"{"n":2}"#])
        #expect(events.map(\.version) == [1, 2])
        await store.close()
        try await execute("DROP SCHEMA \"\(schema)\" CASCADE")
        try await TestServer.drop(scratch)
    }
}
