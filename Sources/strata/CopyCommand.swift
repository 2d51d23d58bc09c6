import ArgumentParser
import Foundation
import Strata
import StrataSQLite
import StrataTools

/// `strata copy`: every event of one store into a new store of either backend.
struct CopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a store's events into a new store: native folder ↔ SQLite file.",
        discussion: """
            SOURCE is a store folder (the native engine) or an SQLite file. DEST is created: a path ending in \
            .sqlite, .sqlite3 or .db is an SQLite file, any other path a native store folder; an existing DEST must \
            hold no events. Every event is copied in global order with its stream version, event id, type, \
            timestamp, metadata and payload (durable subscriptions' checkpoints are events: copied too); snapshots \
            are not (they are rebuilt from the events). Reports the events and streams copied, and how many events \
            got another position (a checkpoint then points elsewhere). Exit status 0 copied, 2 unusable input.
            """)

    @Argument(help: "The store to read: a folder or an SQLite file.") var source: String
    @Argument(help: "The store to create: a folder, or a file ending in .sqlite.") var destination: String
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
        var line = "copied \(report.events) events of \(report.streams) streams from \(source) to \(destination)"
        line += report.positionsChanged == 0 ? "; every event kept its position" : "; \(report.positionsChanged) events got another position"
        writeAll(1, Array((line + "\n").utf8))
    }
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
