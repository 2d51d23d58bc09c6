import ArgumentParser
import Foundation
import PostgresNIO
import Strata
import StrataPostgres

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The PostgreSQL server of a run's StrataPostgres rows: a URL given with `--postgres`, or a throw-away server
/// (PostgreSQL 15 defaults — `fsync` and `synchronous_commit` on — from the repository's
/// `scripts/postgres-test-server.sh`) started for the run and stopped after it.
final class PostgresServer {
    let url: String
    private let folder: String?

    private init(url: String, folder: String?) {
        self.url = url
        self.folder = folder
    }

    /// The server of `option` (a URL), or a throw-away one.
    static func start(_ option: String?) throws -> PostgresServer {
        if let option { return PostgresServer(url: option, folder: nil) }
        let folder = "/tmp/strata-bench-postgres-\(getuid())"
        let output = folder + ".url"
        say("  starting a throw-away PostgreSQL server in \(folder) (scripts/postgres-test-server.sh)")
        try runChild("/bin/sh", ["-c", "bash '\(script)' ensure '\(folder)' > '\(output)'"])
        let url = try String(contentsOfFile: output, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        unlink(output)
        guard url.hasPrefix("postgres") else { throw ValidationError("the PostgreSQL test server printed no URL") }
        return PostgresServer(url: url, folder: folder)
    }

    /// The repository's server script, found from this source file's place.
    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/postgres-test-server.sh").path
    }

    func stop() {
        guard let folder else { return }
        try? runChild("/bin/sh", ["-c", "bash '\(Self.script)' stop '\(folder)' > /dev/null"])
        removeTree(folder)
    }

    /// `url` with `schema`.
    func url(schema: String) -> String { url + (url.contains("?") ? "&" : "?") + "schema=" + schema }

    /// A store in `schema`, emptied first (the schema dropped and created again), logging and measuring nothing.
    func freshStore(schema: String) async throws -> PostgresEventStore {
        try await Self.freshStore(url: url(schema: schema))
    }

    /// The store at `url` (its schema in it), emptied first.
    static func freshStore(url: String) async throws -> PostgresEventStore {
        try await drop(try await connect(url))
        return try await connect(url)
    }

    /// Drops the store's schema and closes it.
    static func drop(_ store: PostgresEventStore) async throws {
        try await store.client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \"\(store.configuration.schema)\" CASCADE"))
        await store.close()
    }

    /// The store at `url` in its default settings (silent: the harness prints only its table).
    static func connect(_ url: String) async throws -> PostgresEventStore {
        var configuration = try PostgresEventStore.Configuration(url: url)
        configuration.observability = .silent
        return try await PostgresEventStore.connect(configuration)
    }
}
