import Foundation
import PostgresNIO
import Strata
import StrataPostgres
import StrataTestSupport

/// The PostgreSQL server the tests run on: `STRATA_POSTGRES_URL` when set (`make test` starts a throw-away server
/// and sets it), else the throw-away server of `scripts/postgres-test-server.sh ensure` in
/// `/tmp/strata-postgres-<uid>` (started when none runs there, left running for the next `swift test`). A test never
/// skips: no server is a failure.
enum TestServer {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static let url: String = {
        if let url = ProcessInfo.processInfo.environment["STRATA_POSTGRES_URL"], !url.isEmpty { return url }
        let outcome = try? script("ensure", "/tmp/strata-postgres-\(getuid())")
        guard let outcome, outcome.status == 0 else {
            fatalError("no PostgreSQL server for the tests: scripts/postgres-test-server.sh ensure failed: \(outcome?.stderr ?? "could not run it")")
        }
        return outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }()

    /// Runs the test-server script.
    static func script(_ arguments: String...) throws -> ProcessOutcome {
        try runProcess("/bin/bash", [repository + "/scripts/postgres-test-server.sh"] + arguments)
    }

    /// A configuration for a fresh schema of its own (`t_<random>`) on the test server.
    static func configuration(schema: String = freshSchema(), url: String = TestServer.url) throws -> PostgresEventStore.Configuration {
        var configuration = try PostgresEventStore.Configuration(url: url)
        configuration.schema = schema
        configuration.pollInterval = .milliseconds(200)
        return configuration
    }

    static func freshSchema() -> String { "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20) }

    /// A store in a fresh schema.
    static func store(schema: String = freshSchema()) async throws -> PostgresEventStore {
        try await PostgresEventStore.connect(configuration(schema: schema))
    }

    /// Drops the store's schema and closes it.
    static func drop(_ store: PostgresEventStore) async throws {
        try await store.client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \"\(store.configuration.schema)\" CASCADE"))
        await store.close()
    }
}
