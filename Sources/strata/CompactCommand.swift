import ArgumentParser
import Foundation
import StrataStorage

/// `strata compact`: what the compactor can do to a store without the application's types.
struct CompactCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Rewrite a store's cold segments smaller (zlib) and merge its snapshot files.",
        discussion: """
            Opens the store (taking its lock, so no application may have it open). Cold compaction rewrites every \
            sealed segment created at least --cold-after seconds ago with zlib, merging small frames and small \
            neighbouring segments; sequences and the index stay valid, and each new file replaces the old ones \
            atomically (FORMAT.md, "Compacted segments"). Then every snapshot file is merged into one that keeps, \
            per stream or projection and projector, only the latest snapshot whose checksum holds. Taking \
            snapshots needs the application's state types: the application's Compactor and projections do that. \
            Exit status 0, or 2 when the store does not open or a compaction fails (the store is left as it was, \
            or with the segments compacted so far).
            """)

    @Argument(help: "A store folder.") var path: String
    @Option(help: "Segments created at least this many seconds ago are cold.") var coldAfter: Int = 86_400
    @Option(help: "zlib level for cold segments, 1 (fast) … 9 (small).") var zlibLevel: Int = 6
    @Option(help: "Merge small frames into frames of about this many raw bytes.") var frameBytes: Int = 64 << 10
    @Option(help: "Merge neighbouring cold segments while their sizes add up to at most this many bytes (default: 64 MiB).")
    var mergeBytes: Int = 64 << 20
    @Flag(help: "Seal the active segment first, so that it is compacted too when cold (a new one takes the next appends).")
    var includeActive = false
    @Flag(help: "Leave the segments alone; merge the snapshot files only.") var snapshotsOnly = false
    @Flag(help: "Print one JSON object.") var json = false

    func run() async throws {
        let store: LogStore
        do {
            store = try LogStore.open(at: path, options: LogStore.Options(createIfMissing: false))
        } catch {
            throw CommandFailure(status: CommandFailure.unusable, message: "strata compact: \(error)")
        }
        var cold = LogStore.ColdCompactionReport()
        let before = (files: store.snapshots.fileCount, snapshots: store.snapshots.snapshotCount)
        do {
            if !snapshotsOnly {
                let policy = LogStore.ColdCompaction(
                    olderThan: .seconds(max(coldAfter, 0)), zlibLevel: zlibLevel, mergedBytesMax: mergeBytes,
                    frameBytesTarget: frameBytes)
                if includeActive { try await store.sealActiveSegment() }
                cold = try await store.compactColdSegments(policy)
            }
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
                "segmentsRead": cold.segmentsRead, "segmentsWritten": cold.segmentsWritten,
                "segmentBytesBefore": cold.bytesBefore, "segmentBytesAfter": cold.bytesAfter,
                "framesBefore": cold.framesBefore, "framesAfter": cold.framesAfter,
            ]
            try writeJSONLine(object)
        } else {
            var lines: [String] = []
            if !snapshotsOnly {
                lines.append(cold.segmentsRead == 0
                    ? "\(path): no cold segments to compact (older than \(coldAfter) s, not compacted yet)"
                    : "\(path): segments: \(cold.segmentsRead) (\(cold.bytesBefore) bytes, \(cold.framesBefore) frames) -> \(cold.segmentsWritten) compacted (\(cold.bytesAfter) bytes, \(cold.framesAfter) frames), \(String(format: "%.3f", Double(cold.bytesAfter) / Double(max(cold.bytesBefore, 1)))) of the size")
            }
            lines.append(before.files == 0
                ? "\(path): no snapshots"
                : "\(path): snapshots: \(before.snapshots) in \(before.files) file(s) -> \(after.snapshots) in \(after.files) (superseded and damaged ones dropped)")
            writeAll(1, Array(lines.joined(separator: "\n").utf8) + [0x0A])
        }
    }
}
