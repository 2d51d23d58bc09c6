import ArgumentParser
import Foundation
import StrataPostgres
import StrataSQLite
import StrataStorage
import StrataTools

/// `strata stats`: what a store holds, from metadata (or a full scan with --deep).
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Segments, events, streams, tenants, bytes on disk; with --deep also per-tenant events and compression.",
        discussion: """
            The default reads metadata only: file sizes, the index's stream-heads files and the active segment \
            (never the sealed segments), so it is fast on any store. --deep scans every frame: events per tenant, \
            frame bodies before and after compression, frames per codec. Nothing is written. Exit status 1 if \
            damage was seen (run `strata fsck`). An SQLite file or a PostgreSQL URL (postgres://…?schema=…) gives \
            counts from its tables (a PostgreSQL store's per-tenant counts read the whole events table).
            """)

    @Argument(help: "A store folder, an SQLite store file or a PostgreSQL URL.") var path: String
    @Flag(help: "Scan every frame.") var deep = false
    @Flag(help: "Print one JSON object.") var json = false

    func run() async throws {
        if StoreLocation.isPostgresURL(path) {
            try await postgresStats()
            return
        }
        if SQLiteTools.isSQLiteFile(path) {
            try sqliteStats()
            return
        }
        let progress = Progress()
        let report = try StoreStats.collect(store: path, deep: deep) { progress.update($0) }
        progress.done()
        let ratio = report.rawBodyBytes.flatMap { raw in report.storedBodyBytes.map { raw > 0 ? Double($0) / Double(raw) : 1 } }
        if json {
            var object: [String: Any] = [
                "path": path, "deep": report.deep, "segments": report.segments, "segmentBytes": report.segmentBytes,
                "indexBytes": report.indexBytes, "otherBytes": report.otherBytes,
                "snapshotBytes": report.snapshotBytes, "snapshotFiles": report.snapshotFiles, "snapshots": report.snapshots, "bytesOnDisk": report.bytesOnDisk,
                "events": report.events, "lostEvents": report.lostEvents, "streams": report.streams,
                "problems": report.problems,
                "tenants": report.tenants.mapValues { tenant -> [String: Any] in
                    var entry: [String: Any] = ["streams": tenant.streams]
                    if let events = tenant.events { entry["events"] = events }
                    return entry
                },
            ]
            if let compacted = report.compactedSegments, let bytes = report.compactedBytes {
                object["compactedSegments"] = compacted
                object["compactedBytes"] = bytes
            }
            if let raw = report.rawBodyBytes, let stored = report.storedBodyBytes {
                object["rawBodyBytes"] = raw
                object["storedBodyBytes"] = stored
                object["storedPerRawByte"] = ratio
                object["framesByCodec"] = report.framesByCodec ?? [:]
            }
            try writeJSONLine(object)
        } else {
            var lines = [
                "store:     \(path)",
                "segments:  \(report.segments) (\(report.segmentBytes) bytes); index \(report.indexBytes) bytes; snapshots \(report.snapshotBytes) bytes; other files \(report.otherBytes) bytes; \(report.bytesOnDisk) bytes on disk",
                "snapshots: \(report.snapshots) in \(report.snapshotFiles) files",
                "compacted: " + (report.compactedSegments.map { "\($0) segments (\(report.compactedBytes ?? 0) bytes) rewritten by cold compaction" } ?? "unknown (no readable CHECKPOINT)"),
                "events:    \(report.events)" + (report.lostEvents > 0 ? " (and \(report.lostEvents) lost to damage: see `strata fsck`)" : ""),
                "streams:   \(report.streams) in \(report.tenants.count) tenants",
            ]
            if let raw = report.rawBodyBytes, let stored = report.storedBodyBytes, let ratio {
                let codecs = (report.framesByCodec ?? [:]).sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
                lines.append("bodies:    \(raw) bytes raw, \(stored) stored (\(String(format: "%.3f", ratio)) per raw byte, compression ratio \(String(format: "%.2f", ratio > 0 ? 1 / ratio : 0)):1); frames: \(codecs)")
            } else {
                lines.append("bodies:    raw vs stored bytes need --deep")
            }
            for (tenant, counts) in report.tenants.sorted(by: { $0.key < $1.key }) {
                lines.append("tenant \(tenant): \(counts.streams) streams" + (counts.events.map { ", \($0) events" } ?? ""))
            }
            lines += report.problems.map { "problem: \($0)" }
            writeAll(1, Array(lines.joined(separator: "\n").utf8) + [0x0A])
        }
        if !report.problems.isEmpty { throw ExitCode(CommandFailure.problems) }
    }

    /// An SQLite store: counts from its tables (--deep changes nothing: no frames to scan).
    func sqliteStats() throws {
        let store = try SQLiteEventStore(path: path)
        let report = try SQLiteTools.stats(store)
        try store.close()
        if json {
            let object: [String: Any] = [
                "path": path, "backend": "sqlite", "events": report.events, "streams": report.streams, "snapshots": report.snapshots,
                "fileBytes": report.fileBytes, "walBytes": report.walBytes, "lastPosition": report.lastPosition,
                "tenants": report.tenants.mapValues { ["streams": $0.streams, "events": $0.events] },
            ]
            try writeJSONLine(object)
        } else {
            var lines = [
                "store:     \(path) (SQLite)",
                "file:      \(report.fileBytes) bytes, write-ahead log \(report.walBytes) bytes",
                "events:    \(report.events) (last position \(report.lastPosition))",
                "streams:   \(report.streams) in \(report.tenants.count) tenants",
                "snapshots: \(report.snapshots)",
            ]
            for (tenant, counts) in report.tenants.sorted(by: { $0.key < $1.key }) {
                lines.append("  tenant \(tenant): \(counts.streams) streams, \(counts.events) events")
            }
            writeAll(1, Array(lines.joined(separator: "\n").utf8) + [0x0A])
        }
    }

    /// A PostgreSQL store: counts from its tables and their sizes on the server.
    func postgresStats() async throws {
        var configuration = try PostgresEventStore.Configuration(url: path)
        configuration.createSchemaIfMissing = false
        let report: PostgresStoreStatistics
        do {
            let store = try await PostgresEventStore.connect(configuration)
            do {
                report = try await store.statistics()
                await store.close()
            } catch {
                await store.close()
                throw error
            }
        } catch {
            throw CommandFailure(status: CommandFailure.unusable, message: "strata stats: \(error)")
        }
        let location = redacted(path)
        if json {
            var object: [String: Any] = [
                "path": location, "backend": "postgres", "server": report.serverVersion, "schema": report.schema,
                "schemaVersion": report.schemaVersion, "events": report.events, "streams": report.streams, "snapshots": report.snapshots,
                "eventsBytes": report.eventsBytes, "snapshotsBytes": report.snapshotsBytes,
                "tenants": report.tenants.mapValues { ["streams": $0.streams, "events": $0.events] },
            ]
            if let last = report.lastPosition { object["lastPosition"] = last.description }
            try writeJSONLine(object)
        } else {
            var lines = [
                "store:     \(location) (PostgreSQL \(report.serverVersion), schema \(report.schema), Strata schema version \(report.schemaVersion))",
                "tables:    events \(report.eventsBytes) bytes, snapshots \(report.snapshotsBytes) bytes (with indexes)",
                "events:    \(report.events) (last position \(report.lastPosition.map { "\($0)" } ?? "none"))",
                "streams:   \(report.streams) in \(report.tenants.count) tenants",
                "snapshots: \(report.snapshots)",
            ]
            for (tenant, counts) in report.tenants.sorted(by: { $0.key < $1.key }) {
                lines.append("  tenant \(tenant): \(counts.streams) streams, \(counts.events) events")
            }
            writeAll(1, Array(lines.joined(separator: "\n").utf8) + [0x0A])
        }
    }
}
