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

    /// Runs the test-server script. (Spawned and waited for here, its outputs in files: a PostgreSQL server it starts
    /// would inherit a pipe and hold it open, and Foundation's `Process` was seen never to report this child's end.)
    static func script(_ arguments: String...) throws -> ProcessOutcome { try script(arguments) }

    /// `script` on a thread of its own: an async test waits for it without holding one of the concurrency pool's
    /// threads (two on this machine) while `initdb` or a restart runs — which starved the rest of the suite.
    static func runScript(_ arguments: String...) async throws -> ProcessOutcome {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try script(arguments) }) }.start()
        }
    }

    static func script(_ arguments: [String]) throws -> ProcessOutcome {
        let folder = NSTemporaryDirectory() + "strata-pg-script-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, folder + "/out", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, folder + "/err", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ["/bin/bash", repository + "/scripts/postgres-test-server.sh"] + arguments
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        // A session of its own, no blocked signal and every signal's default action: the test process's threads
        // block and ignore signals, which a child inherits (a server restarted from a child in that state died
        // at once, unlogged).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        #if os(Linux)
        let newSession: Int32 = 0x80  // glibc's POSIX_SPAWN_SETSID (not imported into Swift)
        #else
        let newSession = Int32(POSIX_SPAWN_SETSID)
        #endif
        posix_spawnattr_setflags(&attributes, Int16(Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) | newSession))
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, &attributes, &cArguments, environ)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let read = { (name: String) in (try? String(contentsOfFile: folder + "/" + name, encoding: .utf8)) ?? "" }
        let exited = status & 0x7f == 0
        return ProcessOutcome(status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), stdout: read("out"), stderr: read("err"))
    }

    /// A configuration for a fresh schema of its own (`t_<random>`) on the test server.
    static func configuration(schema: String = freshSchema(), url: String = TestServer.url) throws -> PostgresEventStore.Configuration {
        var configuration = try PostgresEventStore.Configuration(url: url)
        configuration.schema = schema
        configuration.pollInterval = .milliseconds(200)
        // (Many tests run at once, each with stores of its own: a few connections each keep them under the server's
        // max_connections.)
        configuration.maximumConnections = 4
        // (Opening gives up after twice this: the suite's storage tests keep both cores busy for a minute and more,
        // and a store opening beside them was seen to take over 20 s.)
        configuration.connectTimeout = .seconds(60)
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
