/// `strata stats`: what a store holds. The default reads metadata only — file sizes, the index's stream-heads
/// files, and the active (last) segment for the newest events — never the sealed segments; `deep` scans every
/// frame for per-tenant event counts and raw-versus-stored bytes. Nothing is written.
package enum StoreStats {
    package struct Tenant: Sendable, Equatable {
        package var streams = 0
        /// Only from a deep scan.
        package var events: Int?
    }

    package struct Report: Sendable {
        package var segments = 0
        package var segmentBytes: Int64 = 0
        /// Segments rewritten by cold compaction, and their bytes (from the checkpoint; nil without one).
        package var compactedSegments: Int?
        package var compactedBytes: Int64?
        package var indexBytes: Int64 = 0
        package var snapshotBytes: Int64 = 0
        package var snapshotFiles = 0
        /// Snapshots in the snapshot files, from their headers (superseded ones included until a merge drops them).
        package var snapshots: UInt64 = 0
        package var otherBytes: Int64 = 0
        /// Events in the log: the last sequence less the sequences of lost ranges (see `lostEvents`).
        package var events: UInt64 = 0
        /// Sequences a repair recorded as lost (lost-range frames; only segments of format version 2 hold them).
        package var lostEvents: UInt64 = 0
        package var streams = 0
        package var tenants: [String: Tenant] = [:]
        /// Only from a deep scan: frame bodies before and after compression, frames per codec.
        package var rawBodyBytes: Int64?
        package var storedBodyBytes: Int64?
        package var framesByCodec: [String: Int]?
        package var deep = false
        package var problems: [String] = []

        package var bytesOnDisk: Int64 { segmentBytes + indexBytes + snapshotBytes + otherBytes }
    }

    package static func collect(
        store path: String, deep: Bool, fileSystem fs: any FileSystem = PosixFileSystem(), progress: (String) -> Void = { _ in }
    ) throws(StorageError) -> Report {
        guard fs.directoryExists(path) else { throw .notFound(path: path) }
        var report = Report()
        report.deep = deep
        func size(_ file: String) -> Int64 { (try? fs.fileSize(file)) ?? 0 }
        let names = try io { () throws(IOError) in try fs.listDirectory(path) }
        let parsed = names.compactMap { name in SegmentFileName.parse(name).map { (name: name, number: $0.number, base: $0.baseSequence) } }
            .sorted { $0.number < $1.number }
        let segments = parsed.map(\.name)
        for name in names {
            if SegmentFileName.parse(name) != nil {
                report.segments += 1
                report.segmentBytes += size(path + "/" + name)
            } else if name != IndexFileName.folder && name != StoreFileName.quarantine && name != SnapshotStore.folderName {
                report.otherBytes += size(path + "/" + name)
            }
        }
        let indexFolder = path + "/" + IndexFileName.folder
        for name in (try? fs.listDirectory(indexFolder)) ?? [] { report.indexBytes += size(indexFolder + "/" + name) }
        let snapshotFolder = path + "/" + SnapshotStore.folderName
        for name in (try? fs.listDirectory(snapshotFolder)) ?? [] { report.snapshotBytes += size(snapshotFolder + "/" + name) }
        if fs.directoryExists(snapshotFolder) {
            do throws(StorageError) {
                let snapshots = try SnapshotStore(storePath: path, fileSystem: fs, removingTemporaryFiles: false)
                report.snapshotFiles = snapshots.fileCount
                report.snapshots = snapshots.snapshotCount
                report.problems += snapshots.skippedFiles.map { "\($0) (run `strata fsck`)" }
            } catch {
                report.problems.append("snapshots: \(error)")
            }
        }

        // Deep: every stream seen in the log. Fast: the streams the index knows are counted as its heads files
        // are merged (in key order, a block per file in memory), and only the streams of frames the index has not
        // taken in are kept here — minus those the merge already counted.
        var streams: [PartitionKey: Void] = [:]
        var indexedStreams: [String: Int] = [:]
        var tenantEvents: [String: Int] = [:]
        var indexedThrough: UInt64 = 0
        var headsReaders: [StreamHeadsReader] = []
        if !deep, let manifest = try? readManifest(indexFolder, fs) {
            indexedThrough = manifest.indexedThrough
            for file in manifest.headsFiles {
                do throws(StorageError) {
                    headsReaders.append(try StreamHeadsReader.open(indexFolder + "/" + file, fileSystem: fs))
                } catch {
                    report.problems.append("index/\(file): \(error) (run `strata fsck`)")
                }
            }
        }
        var raw: Int64 = 0, stored: Int64 = 0
        var codecs: [String: Int] = [:]
        let walker = FrameCoding.RecordWalker()
        // Fast: only the segments that may hold events the index has not taken in (normally just the active one;
        // all of them when there is no readable index), and the rare ones a repair gave lost ranges (format 2,
        // told by their 64-byte header).
        let scanned = deep
            ? segments
            : parsed.indices.filter { i in
                i == parsed.count - 1 || (parsed[i + 1].base > 0 && parsed[i + 1].base - 1 > indexedThrough)
                    || mayHoldLostRanges(path + "/" + parsed[i].name, fs)
            }.map { parsed[$0].name }
        for (i, name) in scanned.enumerated() {
            progress("reading \(name) (\(i + 1) of \(scanned.count))")
            do {
                try SegmentInspector.walk(path + "/" + name, fileSystem: fs) { step in
                    switch step {
                    case .header, .footer:
                        return true
                    case .problem(let offset, let kind, let detail):
                        report.problems.append("\(name) at offset \(offset): \(kind.rawValue): \(detail) (run `strata fsck`)")
                        return false
                    case .frame(let header, _, let bytes):
                        report.events = max(report.events, header.lastSequence)
                        if header.kind == .lost {
                            report.lostEvents += UInt64(header.recordCount)
                            return true
                        }
                        raw += Int64(header.rawBodyBytes)
                        stored += Int64(header.storedBodyBytes)
                        codecs[header.codec.name, default: 0] += 1
                        guard deep || header.lastSequence > indexedThrough else { return true }
                        try walker.forEachRecord(in: bytes, header: header) { record in
                            guard deep || record.sequence > indexedThrough else { return }
                            let key = record.key
                            streams[key] = ()
                            if deep { tenantEvents[key.tenant, default: 0] += 1 }
                        }
                        return true
                    }
                }
            } catch {
                report.problems.append("\(name): \(error) (run `strata fsck`)")
            }
        }
        if !headsReaders.isEmpty {
            progress("reading the index's stream heads (\(headsReaders.count) files)")
            do throws(StorageError) {
                // Heads come in key order, so a tenant's streams are contiguous: count a run, then store it.
                var tenant: String?
                var run = 0
                try forEachMergedHead(headsReaders) { head in
                    if head.key.tenant != tenant {
                        if let tenant { indexedStreams[tenant, default: 0] += run }
                        tenant = head.key.tenant
                        run = 0
                    }
                    run += 1
                    if !streams.isEmpty { streams.removeValue(forKey: head.key) }
                }
                if let tenant { indexedStreams[tenant, default: 0] += run }
            } catch {
                report.problems.append("index: \(error) (run `strata fsck`)")
            }
        }
        report.streams = streams.count + indexedStreams.values.reduce(0, +)
        for (tenant, count) in indexedStreams { report.tenants[tenant, default: Tenant()].streams += count }
        for key in streams.keys { report.tenants[key.tenant, default: Tenant()].streams += 1 }
        if deep {
            for (tenant, events) in tenantEvents { report.tenants[tenant, default: Tenant()].events = events }
            report.rawBodyBytes = raw
            report.storedBodyBytes = stored
            report.framesByCodec = codecs
        }
        if let checkpoint = try? readCheckpoint(path, fs) {
            if report.events == 0 { report.events = checkpoint.nextSequence > 0 ? checkpoint.nextSequence - 1 : 0 }
            let compacted = checkpoint.segments.filter { $0.tableBytes > 0 }
            report.compactedSegments = compacted.count
            report.compactedBytes = compacted.reduce(0) { $0 + Int64($1.dataEnd) + Int64($1.tableBytes) + Int64(SegmentFooter.byteCount) }
        }
        report.events -= min(report.lostEvents, report.events)
        return report
    }

    /// Whether a segment's header says it may hold lost-range frames (format version 2, or a compacted segment
    /// that copied one).
    static func mayHoldLostRanges(_ file: String, _ fs: any FileSystem) -> Bool {
        guard let handle = try? fs.open(file, mode: .read) else { return false }
        defer { handle.close() }
        guard let bytes = try? handle.readBytes(count: SegmentHeader.byteCount, at: 0),
            let header = try? bytes.withRawBytes({ (raw) throws(DecodeError) in try SegmentHeader.decode(raw) })
        else { return false }
        return header.mayHoldLostRanges
    }

    static func readManifest(_ folder: String, _ fs: any FileSystem) throws -> IndexManifest {
        let bytes = try fs.readSmallFile(folder + "/" + IndexFileName.manifest, limit: IndexManifest.fileBytesMax)
        return try bytes.withRawBytes { (raw) throws(DecodeError) in try IndexManifest.decode(raw) }
    }

    static func readCheckpoint(_ path: String, _ fs: any FileSystem) throws -> Checkpoint {
        let bytes = try fs.readSmallFile(path + "/" + StoreFileName.checkpoint, limit: Checkpoint.fileBytesMax)
        return try bytes.withRawBytes { (raw) throws(DecodeError) in try Checkpoint.decode(raw) }
    }
}
