import Foundation
import PostgresNIO
import Strata
import StrataPostgres
import Testing

@Suite struct PostgresEventStoreTests {
    let key = PartitionKey(tenant: "acme", group: "Cart", id: "c-1")

    func record(_ n: Int) -> EventRecord {
        EventRecord(key: key, typeName: "ItemAdded", payload: Array(#"{"n":\#(n)}"#.utf8))
    }

    func execute(_ store: PostgresEventStore, _ sql: String) async throws {
        try await store.client.query(PostgresQuery(unsafeSQL: sql))
    }

    @Test func aNewerSchemaIsRefusedAndLeftUntouched() async throws {
        let store = try await TestServer.store()
        let schema = store.configuration.schema
        try await store.append([record(1)])
        try await execute(store, "UPDATE \"\(schema)\".meta SET value = '99' WHERE key = 'schema_version'")
        await #expect(throws: PostgresStoreError.newerSchema(schema: schema, found: 99, supported: StrataPostgresSchema.version)) {
            _ = try await PostgresEventStore.connect(TestServer.configuration(schema: schema))
        }
        var count = 0
        for try await n in try await store.client.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \"\(schema)\".events")).decode(Int64.self) {
            count = Int(n)
        }
        #expect(count == 1)
        try await TestServer.drop(store)
    }

    @Test func aSchemaOfAnotherApplicationIsRefused() async throws {
        let store = try await TestServer.store()
        let other = TestServer.freshSchema()
        try await execute(store, "CREATE SCHEMA \(other)")
        try await execute(store, "CREATE TABLE \(other).orders (id int)")
        await #expect(throws: PostgresStoreError.notAStrataSchema(schema: other, tables: ["orders"])) {
            _ = try await PostgresEventStore.connect(TestServer.configuration(schema: other))
        }
        try await execute(store, "DROP SCHEMA \(other) CASCADE")
        try await TestServer.drop(store)
    }

    @Test func twoStoresOpeningOneSchemaTogetherMigrateItOnce() async throws {
        let schema = TestServer.freshSchema()
        async let a = PostgresEventStore.connect(TestServer.configuration(schema: schema))
        async let b = PostgresEventStore.connect(TestServer.configuration(schema: schema))
        let (first, second) = try await (a, b)
        try await first.append([record(1)])
        #expect(try await second.version(of: key) == 1)
        await second.close()
        try await TestServer.drop(first)
    }

    @Test func anAppendInTheApplicationsTransactionRollsBackWithIt() async throws {
        struct Abandon: Error {}
        let store = try await TestServer.store()
        do {
            try await store.client.withTransaction(logger: Logger(label: "test")) { connection in
                try await store.append([record(1), record(2)], in: connection)
                throw Abandon()
            }
        } catch let error as PostgresTransactionError {
            #expect(error.closureError is Abandon && error.rollbackError == nil)
        }
        #expect(try await store.version(of: key) == 0)
        #expect(try await store.allEvents().isEmpty)
        _ = try await store.client.withTransaction(logger: Logger(label: "test")) { connection in
            try await store.append([record(1)], expecting: [key: .noStream], in: connection)
        }
        #expect(try await store.version(of: key) == 1)
        try await TestServer.drop(store)
    }

    @Test func aDamagedRowIsATypedErrorNamingIt() async throws {
        let store = try await TestServer.store()
        let schema = store.configuration.schema
        let receipt = try await store.append([record(1)])
        try await execute(store, "UPDATE \"\(schema)\".events SET type_version = -5")
        do {
            _ = try await store.allEvents()
            Issue.record("a damaged row was read")
        } catch EventStoreError.storage(let error as PostgresStoreError) {
            #expect(error == .damagedRow(table: "events", position: "\(receipt.last)", column: "type_version", reason: "-5 is out of range 0...4294967295"))
        }
        try await TestServer.drop(store)
    }

    @Test func anUnreachableServerIsATypedError() async throws {
        // A port nothing listens on.
        var configuration = try PostgresEventStore.Configuration(url: "postgres://strata@127.0.0.1:1/strata?sslmode=disable")
        configuration.connectTimeout = .seconds(1)
        do {
            _ = try await PostgresEventStore.connect(configuration)
            Issue.record("connected to nothing")
        } catch EventStoreError.storage(let error as PostgresStoreError) {
            guard case .connectionLost(_, let mayHaveCommitted, _) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(!mayHaveCommitted)
        }
    }

    @Test func configurationFromAURL() throws {
        let configuration = try PostgresEventStore.Configuration(url: "postgresql://ann:p%40ss@db.example:6543/events?sslmode=require&schema=shop")
        #expect(configuration.username == "ann")
        #expect(configuration.password == "p@ss")
        #expect(configuration.host == "db.example")
        #expect(configuration.port == 6543)
        #expect(configuration.database == "events")
        #expect(configuration.tls == .require)
        #expect(configuration.schema == "shop")
        let socket = try PostgresEventStore.Configuration(url: "postgres://ann@/events?host=/run/postgresql")
        #expect(socket.unixSocketPath == "/run/postgresql/.s.PGSQL.5432")
        #expect(throws: PostgresStoreError.self) { try PostgresEventStore.Configuration(url: "mysql://ann@host/db") }
        #expect(throws: PostgresStoreError.self) { try PostgresEventStore.Configuration(url: "postgres://host/db") }
        #expect(throws: PostgresStoreError.self) { try PostgresEventStore.Configuration(url: "postgres://ann@host/db?schema=a;drop") }
        #expect(throws: PostgresStoreError.self) { try PostgresEventStore.Configuration(url: "postgres://ann@host/db?sslmode=sometimes") }
        #expect(throws: PostgresStoreError.self) { try PostgresEventStore.Configuration(url: "postgres://ann@host/db?colour=blue") }
    }

    @Test func configurationFromTheEnvironment() throws {
        let configuration = try PostgresEventStore.Configuration.fromEnvironment([
            "PGHOST": "10.0.0.5", "PGPORT": "5433", "PGUSER": "app", "PGPASSWORD": "secret", "PGDATABASE": "prod",
            "PGSSLMODE": "verify-full", "STRATA_POSTGRES_SCHEMA": "events",
        ])
        #expect(configuration.host == "10.0.0.5" && configuration.port == 5433 && configuration.username == "app")
        #expect(configuration.password == "secret" && configuration.database == "prod" && configuration.tls == .verifyFull)
        #expect(configuration.schema == "events")
        let socket = try PostgresEventStore.Configuration.fromEnvironment(["PGHOST": "/tmp/pg", "USER": "me"])
        #expect(socket.unixSocketPath == "/tmp/pg/.s.PGSQL.5432" && socket.username == "me")
        let url = try PostgresEventStore.Configuration.fromEnvironment(["DATABASE_URL": "postgres://u@h:1/d", "PGUSER": "ignored"])
        #expect(url.username == "u" && url.host == "h" && url.port == 1)
        #expect(throws: PostgresStoreError.invalidConfiguration(setting: "PGPORT", reason: "x is not a port number")) {
            try PostgresEventStore.Configuration.fromEnvironment(["PGUSER": "u", "PGPORT": "x"])
        }
    }

    @Test func positionsParseOnlyTheirOwnForm() {
        #expect(PostgresPosition("12-34") == PostgresPosition(transaction: 12, sequence: 34))
        for bad in ["", "12", "12-", "-34", "1-2-3", "a-1", "+1-2", "1- 2", "١-٢"] {
            #expect(PostgresPosition(bad) == nil, "\(bad)")
        }
        #expect(PostgresPosition(transaction: 1, sequence: 900) < PostgresPosition(transaction: 2, sequence: 1))
    }
}
