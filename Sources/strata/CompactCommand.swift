import ArgumentParser
import Foundation
import StrataStorage

/// `strata compact`: what the compactor can do to a store without the application's types.
struct CompactCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Merge a store's snapshot files, keeping each subject's latest valid snapshot.",
        discussion: """
            Opens the store (taking its lock, so no application may have it open), merges every snapshot file \
            into one that keeps, per stream or projection and projector, only the latest snapshot whose checksum \
            holds — superseded and damaged snapshots are dropped — and swaps it in atomically. Taking snapshots \
            needs the application's state types: the application's Compactor and projections do that. \
            Recompressing cold segments is not done yet. Exit status 0, or 2 when the store does not open.
            """)

    @Argument(help: "A store folder.") var path: String
    @Flag(help: "Print one JSON object.") var json = false

    func run() async throws {
        let store: LogStore
        do {
            store = try LogStore.open(at: path, options: LogStore.Options(createIfMissing: false))
        } catch {
            throw CommandFailure(status: CommandFailure.unusable, message: "strata compact: \(error)")
        }
        let before = (files: store.snapshots.fileCount, snapshots: store.snapshots.snapshotCount)
        do {
            try store.snapshots.compact()
        } catch {
            try? await store.close()
            throw CommandFailure(status: CommandFailure.unusable, message: "strata compact: \(error)")
        }
        let after = (files: store.snapshots.fileCount, snapshots: store.snapshots.snapshotCount)
        try await store.close()
        if json {
            let object: [String: Any] = [
                "path": path, "snapshotFilesBefore": before.files, "snapshotsBefore": before.snapshots,
                "snapshotFiles": after.files, "snapshots": after.snapshots,
            ]
            writeAll(1, Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) + [0x0A])
        } else {
            let line = before.files == 0
                ? "\(path): no snapshots"
                : "\(path): snapshots: \(before.snapshots) in \(before.files) file(s) -> \(after.snapshots) in \(after.files) (superseded and damaged ones dropped)"
            writeAll(1, Array(line.utf8) + [0x0A])
        }
    }
}
