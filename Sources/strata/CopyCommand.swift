import ArgumentParser
import Foundation
import Strata
import StrataPostgres
import StrataSQLite
import StrataTools

/// `strata copy`: every event of one store into a new store of any backend.
struct CopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a store's events into a new store: native folder, SQLite file, PostgreSQL.",
        discussion: """
            SOURCE is a store folder (the native engine), an SQLite file or a PostgreSQL URL \
            (postgres://user:password@host:port/database?schema=…&sslmode=…). DEST is created: a URL is a \
            PostgreSQL store (its schema created when missing), a path ending in .sqlite, .sqlite3 or .db an SQLite \
            file, any other path a native store folder; an existing DEST must hold no events. Every event is \
            copied in global order with its stream version, event id, type, timestamp, metadata and payload. \
            Durable subscriptions' checkpoints are events: copied too, each naming the destination's position of \
            the event it named, so a subscription resumes after the same event. Snapshots are not copied (they are \
            rebuilt from the events). Reports the events and streams copied and how many events got another \
            position. Exit status 0 copied, 2 unusable input.
            """)

    @Argument(help: "The store to read: a folder, an SQLite file or a PostgreSQL URL.") var source: String
    @Argument(help: "The store to create: a folder, a file ending in .sqlite, or a PostgreSQL URL.") var destination: String
    @Option(help: "Events per append to the destination.") var batch = 1_000

    func validate() throws {
        guard batch > 0 else { throw ValidationError("--batch must be at least 1") }
    }

    func run() async throws {
        guard let from = StoreLocation.existing(source) else {
            throw CommandFailure(status: CommandFailure.unusable, message: "strata copy: no store at \(source)")
        }
        let to = StoreLocation.destination(destination)
        let progress = Progress()
        let report: StoreCopy.Report
        do {
            report = try await withStore(from, create: false) { source in
                try await withStore(to, create: true) { destination in
                    try await StoreCopy.copy(from: source, to: destination, batchEvents: batch) { progress.update("copied \($0) events") }
                }
            }
        } catch {
            progress.done()
            throw CommandFailure(status: CommandFailure.unusable, message: "strata copy: \(error)")
        }
        progress.done()
        var line = "copied \(report.events) events of \(report.streams) streams from \(redacted(source)) to \(redacted(destination))"
        line += report.positionsChanged == 0 ? "; every event kept its position" : "; \(report.positionsChanged) events got another position"
        if report.checkpointsTranslated > 0 { line += "; \(report.checkpointsTranslated) checkpoints name the destination's positions" }
        if report.checkpointsUntranslated > 0 {
            line += "; \(report.checkpointsUntranslated) checkpoints copied unchanged (their position is not one of the source's)"
        }
        writeAll(1, Array((line + "\n").utf8))
    }
}

/// `location` with a URL's password left out (what the commands print).
func redacted(_ location: String) -> String {
    guard StoreLocation.isPostgresURL(location), var parts = URLComponents(string: location), parts.password != nil else { return location }
    parts.password = "…"
    return parts.string ?? location
}

/// Opens the store at `location` (creating it when `create`), runs `body` on it, closes it.
func withStore<T>(_ location: StoreLocation, create: Bool, _ body: (any EventStore) async throws -> T) async throws -> T {
    switch location {
    case .native(let path):
        let store = try NativeEventStore(path: path, options: NativeEventStore.Options(createIfMissing: create))
        do {
            let result = try await body(store)
            try await store.close()
            return result
        } catch {
            try? await store.close()
            throw error
        }
    case .postgres(let url):
        var configuration = try PostgresEventStore.Configuration(url: url)
        configuration.createSchemaIfMissing = create
        let store = try await PostgresEventStore.connect(configuration)
        do {
            let result = try await body(store)
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    case .sqlite(let path):
        guard create || FileManager.default.fileExists(atPath: path) else { throw SQLiteStoreError.notADatabase(path: path) }
        let store = try SQLiteEventStore(path: path)
        do {
            let result = try await body(store)
            try store.close()
            return result
        } catch {
            try? store.close()
            throw error
        }
    }
}
