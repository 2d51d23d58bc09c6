/// `strata fsck`: verifies a store without changing it — every segment header, frame checksum, record and
/// footer, sequence continuity within and across segments, dense stream versions, the checkpoint against the
/// segments, and the index (manifest, every run and stream-heads file with all their checksums, run entries
/// against the frames of the log, stream heads against the log at the point each file covers), and the snapshot
/// files (every record's checksum; each stream snapshot's sequence holds that stream's event of that version).
package enum StoreCheck {
    package struct Problem: Sendable, Equatable, CustomStringConvertible {
        /// What fsck found: damage of a `Corruption.Kind`, or a finding of its own. The raw value is what
        /// `strata fsck --json` prints.
        package enum Kind: String, Sendable, Equatable, CaseIterable {
            case badMagic, unsupportedVersion, truncated, badLength, badChecksum, badHeader, badSequence, badRecord
            case badCompression, missingSegment, badFooter, badFrameTable
            /// Bytes at the end of the last segment that are not a whole frame, nothing valid after them.
            case tornTail
            /// A file named like a segment that the store does not take for one.
            case badName
            /// A record whose stream version does not follow the stream's previous one.
            case badVersion
            /// A file the manifest lists is not there.
            case missingFile
            /// An index run or stream-heads file that does not open.
            case badIndexFile
            /// The index disagrees with the log.
            case indexMismatch
            /// A snapshot disagrees with the log.
            case snapshotMismatch
            /// A `REPAIRING` file: an interrupted repair.
            case repairInterrupted
            /// The checkpoint disagrees with the segments.
            case badCheckpoint
            /// A file that could not be read.
            case unreadable

            package init(_ kind: Corruption.Kind) {
                switch kind {
                case .badMagic: self = .badMagic
                case .unsupportedVersion: self = .unsupportedVersion
                case .truncated: self = .truncated
                case .badLength: self = .badLength
                case .badChecksum: self = .badChecksum
                case .badHeader: self = .badHeader
                case .badSequence: self = .badSequence
                case .badRecord: self = .badRecord
                case .badCompression: self = .badCompression
                case .missingSegment: self = .missingSegment
                case .badFooter: self = .badFooter
                case .badFrameTable: self = .badFrameTable
                }
            }
        }

        /// Path of the file, relative to the store folder.
        package var file: String
        package var offset: Int64?
        package var kind: Kind
        package var detail: String

        package var description: String {
            "\(file)" + (offset.map { " at offset \($0)" } ?? "") + ": \(kind): \(detail)"
        }
    }

    package struct Report: Sendable {
        package var segments = 0
        package var frames = 0
        package var events = 0
        package var streams = 0
        package var bytes: Int64 = 0
        package var indexFiles = 0
        package var snapshotFiles = 0
        package var snapshots = 0
        package var problems: [Problem] = []
        /// Things worth knowing that are not damage (leftover temporary files, no index yet, lost ranges).
        package var notes: [String] = []
        /// Sequences a repair recorded as lost (lost-range frames); not counted in `events`.
        package var lostRanges: [LostRange] = []
        package var lostEvents: UInt64 { lostRanges.reduce(0) { $0 + $1.count } }
    }

    /// Checks the store folder at `path`.
    package static func check(
        store path: String, fileSystem fs: any FileSystem = PosixFileSystem(), progress: @escaping (String) -> Void = { _ in }
    ) throws(StorageError) -> Report {
        guard fs.directoryExists(path) else { throw .notFound(path: path) }
        var checker = Checker(path: path, fs: fs, progress: progress)
        try checker.run()
        return checker.report
    }

    /// Checks one segment file on its own: header, frames, records, footer, continuity inside the file.
    package static func check(segment path: String, fileSystem fs: any FileSystem = PosixFileSystem()) throws(StorageError) -> Report {
        var checker = Checker(path: "", fs: fs, progress: { _ in })
        let name = String(path.split(separator: "/").last ?? Substring(path))
        try checker.checkSegment(path: path, name: name, number: nil, base: nil, isLast: true)
        checker.report.streams = checker.streams.count
        return checker.report
    }

    struct SegmentFacts {
        var number: UInt64
        var base: UInt64
        var last: UInt64
        var frames: UInt64
        var dataEnd: Int64
        var sealed: Bool
        /// A compacted segment's frame table length (from its footer).
        var tableBytes: UInt32 = 0
        /// Where frames end (last segment only): the checkpoint's data end for the active segment must be one.
        var frameEnds: Set<Int64> = [Int64(SegmentHeader.byteCount)]
    }

    struct StreamState {
        var version: UInt64
        var lastSequence: UInt64
    }

    struct Checker {
        let path: String
        let fs: any FileSystem
        let progress: (String) -> Void
        var report = Report()
        var streams: [PartitionKey: StreamState] = [:]
        var next: UInt64?
        var facts: [String: SegmentFacts] = [:]
        let walker = FrameCoding.RecordWalker()
        // Index verification, prepared before the log scan.
        var hasher = StreamKeyHash.standard
        var indexedThrough: UInt64 = 0
        var logEntries: Set<IndexEntry> = []
        /// Compacted segments merge frames, so the index's entries (one per stream per frame as appended) are
        /// checked there by where they start and by how many records they cover, not frame by frame.
        var compactedRanges: [ClosedRange<UInt64>] = []
        var runStarts: Set<UInt64> = []
        var compactedStarts: [UInt64: (hash: UInt64, version: UInt64)] = [:]
        var compactedIndexedRecords = 0
        /// Whether the segment being checked is compacted, and whether its header says it may hold lost ranges.
        var segmentCompacted = false
        var segmentMayHoldLostRanges = false
        var headsDue: [(file: String, coveredThrough: UInt64, heads: [StreamHead])] = []
        /// Snapshots by sequence: the log's record there must match (a stream snapshot's key and version).
        var snapshotsDue: [UInt64: [(file: String, offset: Int64, subject: SnapshotSubject, version: UInt64)]] = [:]
        /// Set once a segment stops at damage: what follows (sequence gaps, version jumps, index and checkpoint
        /// disagreements) is a consequence, not another problem, so those checks stand down.
        var damaged: Set<String> = []
        /// The oldest reader version the header of the segment being checked admits.
        var segmentFormat: UInt16 = SegmentHeader.formatVersion
        /// Streams whose versions skip over a lost range (expected after a repair; counted, not problems).
        var versionJumps = 0
        var versionJumpExample = ""

        init(path: String, fs: any FileSystem, progress: @escaping (String) -> Void) {
            self.path = path
            self.fs = fs
            self.progress = progress
        }

        mutating func problem(_ file: String, _ offset: Int64?, _ kind: Problem.Kind, _ detail: String) {
            report.problems.append(Problem(file: file, offset: offset, kind: kind, detail: detail))
        }

        mutating func run() throws(StorageError) {
            let names = try io { () throws(IOError) in try fs.listDirectory(path) }
            let segments = names.compactMap { name in SegmentFileName.parse(name).map { (name: name, number: $0.number, base: $0.baseSequence) } }
                .sorted { $0.number < $1.number }
            let known: Set<String> = [
                StoreFileName.lock, StoreFileName.checkpoint, StoreFileName.quarantine, IndexFileName.folder, StoreFileName.repairMarker,
                SnapshotStore.folderName,
            ]
            if names.contains(StoreFileName.repairMarker) {
                problem(StoreFileName.repairMarker, nil, .repairInterrupted, "a repair was interrupted; the store does not open until `strata fsck --repair` has finished it")
            }
            for name in names.sorted() {
                if name.hasSuffix(StoreFileName.temporarySuffix) {
                    report.notes.append("\(name): a temporary file left by an interrupted write (harmless)")
                } else if name.hasSuffix(SegmentFileName.suffix) && SegmentFileName.parse(name) == nil {
                    problem(name, nil, .badName, "looks like a segment but its name is not <10-digit number>-<20-digit base sequence>.segment, so the store ignores it")
                } else if SegmentFileName.parse(name) == nil && !known.contains(name) {
                    report.notes.append("\(name): not a store file (ignored by the store)")
                }
            }
            if fs.directoryExists(path + "/" + StoreFileName.quarantine) {
                let kept = (try? fs.listDirectory(path + "/" + StoreFileName.quarantine))?.count ?? 0
                if kept > 0 { report.notes.append("quarantine/ holds \(kept) file(s) that recovery or a repair set aside") }
            }
            let runs = try prepareIndex()
            try prepareSnapshots()
            if segments.isEmpty { problem(".", nil, .missingSegment, "no segment files in the store") }
            if let first = segments.first, first.base != 1 {
                problem(first.name, nil, .missingSegment, "the log starts at sequence \(first.base), not 1: the segments before this one are missing")
                damaged.insert(first.name)
            }
            // A compacted segment may stand for several numbers (segments merged into it).
            var coveredThrough: UInt64?
            var anyCompacted = false
            var superseded: Set<String> = []
            for (i, segment) in segments.enumerated() {
                let compaction = try? SegmentInspector.compaction(
                    of: path + "/" + segment.name, number: segment.number,
                    nextNumber: i + 1 < segments.count ? segments[i + 1].number : nil,
                    nextBase: i + 1 < segments.count ? segments[i + 1].base : nil, fileSystem: fs)
                if let previous = coveredThrough, segment.number <= previous {
                    report.notes.append("\(segment.name): merged into an earlier compacted segment by a compaction that stopped before removing it; the next open removes it")
                    superseded.insert(segment.name)
                    continue
                }
                if let previous = coveredThrough, segment.number != previous + 1 {
                    problem(segment.name, nil, .missingSegment, "segment \(previous + 1) is missing before this one")
                    damaged.insert(segment.name)
                }
                if compaction != nil { anyCompacted = true }
                coveredThrough = compaction?.lastNumber ?? segment.number
            }
            let kept = segments.filter { !superseded.contains($0.name) }
            if anyCompacted && !runs.isEmpty { runStarts = Set(runs.lazy.flatMap(\.entries).map(\.firstSequence)) }
            for (i, segment) in kept.enumerated() {
                progress("checking \(segment.name) (\(i + 1) of \(kept.count))")
                try checkSegment(
                    path: path + "/" + segment.name, name: segment.name, number: segment.number, base: segment.base,
                    isLast: i == kept.count - 1)
            }
            verifyHeads(through: .max)
            compareRuns(runs)
            try checkCheckpoint()
            finishSnapshots()
            noteLosses()
            report.streams = streams.count
        }

        // MARK: Snapshots

        /// Reads every snapshot file and record (checksums), and notes what the log must hold for each.
        mutating func prepareSnapshots() throws(StorageError) {
            let store = try SnapshotStore(storePath: path, fileSystem: fs, removingTemporaryFiles: false)
            for skipped in store.skippedFiles {
                problem(relative(skipped.file), skipped.offset, Problem.Kind(skipped.kind), skipped.detail)
            }
            for file in store.openFiles {
                report.snapshotFiles += 1
                let name = relative(file.path)
                do throws(StorageError) {
                    for entry in try file.allEntries() {
                        do throws(StorageError) {
                            let record = try file.record(at: entry)
                            report.snapshots += 1
                            snapshotsDue[record.sequence, default: []].append((name, Int64(entry.offset), record.subject, record.version))
                        } catch {
                            if case .corrupt(let c) = error { problem(name, c.offset, Problem.Kind(c.kind), c.detail) } else { throw error }
                        }
                    }
                } catch {
                    if case .corrupt(let c) = error { problem(name, c.offset, Problem.Kind(c.kind), c.detail) } else { throw error }
                }
            }
        }

        /// Snapshots whose sequence the log never reached.
        mutating func finishSnapshots() {
            guard damaged.isEmpty else { return }
            let end = next ?? 1
            for (sequence, due) in snapshotsDue.sorted(by: { $0.key < $1.key }) {
                let lost = report.lostRanges.contains { $0.firstSequence <= sequence && sequence <= $0.lastSequence }
                for snapshot in due where sequence >= end || (lost && snapshot.version > 0) {
                    problem(snapshot.file, snapshot.offset, .snapshotMismatch,
                        lost ? "the snapshot of \(snapshot.subject) is at sequence \(sequence), in a lost range"
                            : "the snapshot of \(snapshot.subject) is at sequence \(sequence), past the log's end \(end - 1)")
                }
            }
        }

        func relative(_ file: String) -> String { file.hasPrefix(path + "/") ? String(file.dropFirst(path.count + 1)) : file }

        mutating func noteLosses() {
            guard !report.lostRanges.isEmpty else { return }
            report.notes.append("\(report.lostEvents) events in \(report.lostRanges.count) lost range(s) recorded by a repair (readers skip them; the damaged bytes are in quarantine/)")
            if versionJumps > 0 {
                report.notes.append("\(versionJumps) stream(s) skip versions that were in lost ranges, e.g. \(versionJumpExample)")
            }
        }

        // MARK: Segments

        mutating func checkSegment(path file: String, name: String, number: UInt64?, base: UInt64?, isLast: Bool) throws(StorageError) {
            report.segments += 1
            segmentFormat = SegmentHeader.formatVersion
            segmentCompacted = false
            segmentMayHoldLostRanges = false
            report.bytes += (try? fs.fileSize(file)) ?? 0
            var segmentFacts = SegmentFacts(number: number ?? 0, base: base ?? 0, last: 0, frames: 0, dataEnd: Int64(SegmentHeader.byteCount), sealed: false)
            var stoppedAt: (offset: Int64, kind: Corruption.Kind, detail: String)?
            var headerOK = false
            do {
                try SegmentInspector.walk(file, fileSystem: fs) { step in
                    switch step {
                    case .header(let header):
                        headerOK = true
                        segmentFormat = header.minReaderVersion
                        segmentCompacted = header.isCompacted
                        segmentMayHoldLostRanges = header.mayHoldLostRanges
                        if let number, header.segmentNumber != number {
                            problem(name, 16, .badHeader, "header says segment \(header.segmentNumber), the file name says \(number)")
                        }
                        if let base, header.baseSequence != base {
                            problem(name, 24, .badHeader, "header says base sequence \(header.baseSequence), the file name says \(base)")
                        }
                        segmentFacts.base = header.baseSequence
                        segmentFacts.last = header.baseSequence - 1
                        if damaged.isEmpty, let expected = next, header.baseSequence != expected {
                            problem(name, 24, .badSequence, "segment starts at sequence \(header.baseSequence); the previous segment ends at \(expected - 1)")
                        }
                        next = header.baseSequence
                    case .frame(let header, let offset, let bytes):
                        checkFrame(name, header, offset, bytes, segment: segmentFacts.number)
                        segmentFacts.frames += 1
                        segmentFacts.last = header.lastSequence
                        segmentFacts.dataEnd = offset + Int64(bytes.count)
                        if isLast { segmentFacts.frameEnds.insert(segmentFacts.dataEnd) }
                    case .footer(let footer, let offset):
                        segmentFacts.sealed = true
                        segmentFacts.tableBytes = footer.tableBytes
                        let expected = (segmentFacts.frames, segmentFacts.last, UInt64(segmentFacts.dataEnd))
                        if (footer.frameCount, footer.lastSequence, footer.dataEnd) != expected {
                            problem(name, offset, .badFooter, "footer says \(footer.frameCount) frames through sequence \(footer.lastSequence), data ending at \(footer.dataEnd); the segment has \(expected.0) frames through \(expected.1), data ending at \(offset)")
                        }
                    case .problem(let offset, let kind, let detail):
                        stoppedAt = (offset, kind, detail)
                    }
                    return true
                }
            } catch {
                problem(name, nil, .unreadable, "\(error)")
                damaged.insert(name)
                return
            }
            if let stop = stoppedAt {
                // A compacted segment was written whole and synced before it was renamed into place: damage in it
                // is never a torn final write.
                if isLast && headerOK && !segmentCompacted {
                    let fileSize = (try? fs.fileSize(file)) ?? 0
                    switch validDataAfter(file, stop.offset, size: fileSize, lastSequence: segmentFacts.last) {
                    case .success(let valid?):
                        problem(name, stop.offset, Problem.Kind(stop.kind), "\(stop.detail); valid data follows at offset \(valid.offset): damage, not a torn write (the store does not open until it is repaired)")
                        damaged.insert(name)
                    case .success(nil):
                        problem(name, stop.offset, .tornTail, "\(fileSize - stop.offset) bytes at the end are not a whole frame (\(stop.detail)); recovery cuts them (copied to quarantine/)")
                    case .failure(let error):
                        problem(name, stop.offset, Problem.Kind(stop.kind), "\(stop.detail); whether valid data follows could not be read: \(error)")
                        damaged.insert(name)
                    }
                } else {
                    problem(name, stop.offset, Problem.Kind(stop.kind), stop.detail)
                    damaged.insert(name)
                }
            } else if !isLast && !segmentFacts.sealed && headerOK {
                problem(name, segmentFacts.dataEnd, .badFooter, "a sealed segment (not the last one) has no footer")
            }
            if segmentCompacted && segmentFacts.last >= segmentFacts.base {
                compactedRanges.append(segmentFacts.base...segmentFacts.last)
            }
            segmentCompacted = false
            facts[name] = segmentFacts
        }

        /// Valid data after the invalid frame at `offset`, if any: what tells damage in the active segment from a
        /// torn final write (the rule recovery applies).
        func validDataAfter(_ file: String, _ offset: Int64, size: Int64, lastSequence: UInt64) -> Result<SegmentInspector.ValidDataAfter?, IOError> {
            do throws(IOError) {
                let handle = try fs.open(file, mode: .read)
                defer { handle.close() }
                return .success(try SegmentInspector.validData(after: offset, in: handle, size: size, lastSequence: lastSequence))
            } catch { return .failure(error) }
        }

        mutating func checkFrame(_ name: String, _ header: FrameHeader, _ offset: Int64, _ bytes: UnsafeRawBufferPointer, segment: UInt64) {
            report.frames += 1
            if damaged.isEmpty, let expected = next, header.baseSequence != expected {
                problem(name, offset, .badSequence, "frame starts at sequence \(header.baseSequence), expected \(expected)")
            }
            next = header.lastSequence + 1
            if header.kind == .lost {
                checkLostRange(name, header, offset, bytes)
                verifyHeads(through: header.lastSequence)
                return
            }
            var perStream: [PartitionKey: IndexEntry] = [:]
            var order: [PartitionKey] = []
            var issues: [(Problem.Kind, String)] = []
            let indexed = header.lastSequence <= indexedThrough
            do {
                try walker.forEachRecord(in: bytes, header: header) { record in
                    // Heads files cover whole appends; a compacted segment's merged frame may end after one.
                    if let first = headsDue.first, first.coveredThrough < record.sequence {
                        verifyHeads(through: record.sequence - 1)
                    }
                    let key = record.key
                    let previous = streams[key]?.version ?? 0
                    if damaged.isEmpty && record.version != previous + 1 {
                        if !report.lostRanges.isEmpty && record.version > previous {
                            if versionJumps == 0 {
                                versionJumpExample = "stream \(key) goes from version \(previous) to \(record.version) at sequence \(record.sequence)"
                            }
                            versionJumps += 1
                        } else {
                            issues.append((.badVersion, "sequence \(record.sequence): stream \(key) has version \(record.version) after \(previous)"))
                        }
                    }
                    streams[key] = StreamState(version: record.version, lastSequence: record.sequence)
                    if let due = snapshotsDue.removeValue(forKey: record.sequence) {
                        for snapshot in due {
                            guard case .stream(let subject) = snapshot.subject else { continue }
                            if subject != key || snapshot.version != record.version {
                                problem(snapshot.file, snapshot.offset, .snapshotMismatch, "the snapshot of \(subject) version \(snapshot.version) is at sequence \(record.sequence), where the log has \(key) version \(record.version)")
                            }
                        }
                    }
                    if indexed && segmentCompacted {
                        compactedIndexedRecords += 1
                        if runStarts.contains(record.sequence) {
                            compactedStarts[record.sequence] = (hasher(key), record.version)
                        }
                    } else if indexed {
                        if perStream[key] == nil {
                            order.append(key)
                            perStream[key] = IndexEntry(
                                keyHash: hasher(key), firstVersion: record.version, firstSequence: record.sequence,
                                frameOffset: UInt64(offset), segmentNumber: UInt32(truncatingIfNeeded: segment), versionCount: 0)
                        }
                        perStream[key]!.versionCount += 1
                    }
                }
                report.events += Int(header.recordCount)
            } catch {
                issues.append((.badRecord, "\(error) (in the frame's decompressed body)"))
                damaged.insert(name)
            }
            for (kind, detail) in issues.prefix(3) { problem(name, offset, kind, detail) }
            for key in order { logEntries.insert(perStream[key]!) }
            verifyHeads(through: header.lastSequence)
        }


        mutating func checkLostRange(_ name: String, _ header: FrameHeader, _ offset: Int64, _ bytes: UnsafeRawBufferPointer) {
            do throws(DecodeError) {
                let range = try LostRange.decode(bytes, header: header)
                // Consecutive frames of one range (more than a frame's worth of sequences) are reported as one.
                if let last = report.lostRanges.last, last.lastSequence + 1 == range.firstSequence,
                    last.quarantineFile == range.quarantineFile, last.originalOffset == range.originalOffset
                {
                    report.lostRanges[report.lostRanges.count - 1].lastSequence = range.lastSequence
                } else {
                    report.lostRanges.append(range)
                }
                if segmentCompacted && !segmentMayHoldLostRanges {
                    problem(name, offset, .badHeader, "a lost-range frame in a compacted segment whose header does not say it holds one (`strata stats` would miss it)")
                }
                if segmentFormat < SegmentHeader.formatVersionWithLostRanges {
                    problem(name, offset, .badHeader, "a lost-range frame in a segment whose header admits readers of version \(segmentFormat), which cannot read it")
                }
            } catch {
                problem(name, offset, .badRecord, "lost-range frame at sequence \(header.baseSequence): body byte \(error.offset): \(error.reason)")
                damaged.insert(name)
            }
        }

        // MARK: Checkpoint

        mutating func checkCheckpoint() throws(StorageError) {
            let file = path + "/" + StoreFileName.checkpoint
            guard fs.fileExists(file) else {
                report.notes.append("no CHECKPOINT: the next open scans every segment")
                return
            }
            let bytes = try io { () throws(IOError) in try fs.readSmallFile(file, limit: Checkpoint.fileBytesMax) }
            let checkpoint: Checkpoint
            do throws(DecodeError) {
                checkpoint = try bytes.withRawBytes { (raw) throws(DecodeError) in try Checkpoint.decode(raw) }
            } catch {
                problem(StoreFileName.checkpoint, Int64(error.offset), Problem.Kind(error.kind), error.reason)
                return
            }
            let byNumber = Dictionary(facts.values.map { ($0.number, $0) }, uniquingKeysWith: { a, _ in a })
            let damagedNumbers = Set(damaged.compactMap { SegmentFileName.parse($0)?.number })
            for entry in checkpoint.segments where !damagedNumbers.contains(entry.number) {
                guard let actual = byNumber[entry.number] else {
                    problem(StoreFileName.checkpoint, nil, .missingSegment, "lists segment \(entry.number), which is not in the store")
                    continue
                }
                // (dataEnd compared as UInt64: a hostile checkpoint may hold values past Int64.max)
                let matches = entry.sealed
                    ? entry.baseSequence == actual.base && entry.lastSequence == actual.last && entry.frameCount == actual.frames
                        && entry.dataEnd == UInt64(actual.dataEnd) && entry.tableBytes == actual.tableBytes
                    : entry.baseSequence == actual.base && entry.lastSequence <= actual.last && entry.dataEnd <= UInt64(actual.dataEnd)
                        && (actual.sealed || actual.frameEnds.contains(Int64(truncatingIfNeeded: entry.dataEnd)))
                if !matches {
                    problem(
                        StoreFileName.checkpoint, nil, .badCheckpoint,
                        "segment \(entry.number): checkpoint says sequences \(entry.baseSequence)...\(entry.lastSequence), \(entry.frameCount) frames, data end \(entry.dataEnd)\(entry.sealed ? ", sealed" : ""); the file has \(actual.base)...\(actual.last), \(actual.frames) frames, data end \(actual.dataEnd)")
                }
            }
            if damaged.isEmpty, let next, checkpoint.nextSequence > next {
                problem(StoreFileName.checkpoint, nil, .badCheckpoint, "next sequence \(checkpoint.nextSequence) is past the log's end (\(next))")
            }
        }

        // MARK: Index

        /// Reads and checks the manifest and every index file before the log scan; returns the run entries.
        mutating func prepareIndex() throws(StorageError) -> [(file: String, entries: [IndexEntry])] {
            let folder = path + "/" + IndexFileName.folder
            guard fs.directoryExists(folder) else {
                report.notes.append("no index folder: the next open builds the index from the segments")
                return []
            }
            let manifestPath = folder + "/" + IndexFileName.manifest
            let listed = (try? fs.listDirectory(folder)) ?? []
            guard fs.fileExists(manifestPath) else {
                if listed.contains(where: { !$0.hasSuffix(StoreFileName.temporarySuffix) }) {
                    problem("index/MANIFEST", nil, .missingFile, "the index folder has files but no manifest")
                }
                return []
            }
            let bytes = try io { () throws(IOError) in try fs.readSmallFile(manifestPath, limit: IndexManifest.fileBytesMax) }
            let manifest: IndexManifest
            do throws(DecodeError) {
                manifest = try bytes.withRawBytes { (raw) throws(DecodeError) in try IndexManifest.decode(raw) }
            } catch {
                problem("index/MANIFEST", Int64(error.offset), Problem.Kind(error.kind), error.reason)
                return []
            }
            report.indexFiles += 1
            guard manifest.hashName == StreamKeyHash.standard.name else {
                report.notes.append("the index uses key hash \"\(manifest.hashName)\": its files were checked, their content against the log was not")
                indexedThrough = 0
                return []
            }
            hasher = .standard
            indexedThrough = manifest.indexedThrough
            var runs: [(file: String, entries: [IndexEntry])] = []
            let known = Set(manifest.runs.map(\.file) + manifest.headsFiles + [IndexFileName.manifest])
            for name in listed where !known.contains(name) {
                report.notes.append("index/\(name): not in the manifest (left over; ignored by the store)")
            }
            for run in manifest.runs {
                let file = "index/" + run.file
                guard fs.fileExists(folder + "/" + run.file) else {
                    problem(file, nil, .missingFile, "listed in the manifest, not in the folder")
                    continue
                }
                do throws(StorageError) {
                    let reader = try IndexRunReader.open(folder + "/" + run.file, fileSystem: fs)
                    runs.append((file, try reader.allEntries()))
                    report.indexFiles += 1
                } catch {
                    problem(file, nil, .badIndexFile, "\(error)")
                }
            }
            for name in manifest.headsFiles {
                let file = "index/" + name
                guard fs.fileExists(folder + "/" + name) else {
                    problem(file, nil, .missingFile, "listed in the manifest, not in the folder")
                    continue
                }
                do throws(StorageError) {
                    let reader = try StreamHeadsReader.open(folder + "/" + name, fileSystem: fs)
                    headsDue.append((file, reader.coveredThrough, try reader.allHeads()))
                    report.indexFiles += 1
                } catch {
                    problem(file, nil, .badIndexFile, "\(error)")
                }
            }
            headsDue.sort { $0.coveredThrough < $1.coveredThrough }
            return runs
        }

        /// Checks the stream-heads files that cover the log up to `sequence` against the log as scanned so far.
        mutating func verifyHeads(through sequence: UInt64) {
            if !damaged.isEmpty {
                if !headsDue.isEmpty {
                    report.notes.append("stream heads not compared with the log: the log is damaged (repair or restore it first)")
                }
                headsDue.removeAll()
                return
            }
            while let first = headsDue.first, first.coveredThrough <= sequence {
                headsDue.removeFirst()
                var wrong = 0
                var example = ""
                for head in first.heads {
                    let actual = streams[head.key]
                    if actual?.version != head.version || actual?.lastSequence != head.lastSequence {
                        if wrong == 0 {
                            example = "stream \(head.key): file says version \(head.version) at sequence \(head.lastSequence), the log has \(actual.map { "version \($0.version) at sequence \($0.lastSequence)" } ?? "no such stream")"
                        }
                        wrong += 1
                    }
                }
                if wrong > 0 {
                    problem(first.file, nil, .indexMismatch, "\(wrong) of \(first.heads.count) stream heads disagree with the log at sequence \(first.coveredThrough); e.g. \(example)")
                }
                if sequence == .max && first.coveredThrough > (next ?? 1) - 1 {
                    problem(first.file, nil, .indexMismatch, "covers sequences through \(first.coveredThrough), past the log's end \((next ?? 1) - 1)")
                }
            }
        }

        /// Every frame the manifest says is indexed must have exactly its entries in the runs.
        mutating func compareRuns(_ runs: [(file: String, entries: [IndexEntry])]) {
            guard indexedThrough > 0 || !runs.isEmpty else { return }
            guard damaged.isEmpty else {
                report.notes.append("index runs not compared with the log: the log is damaged (repair or restore it first)")
                return
            }
            var inRuns: Set<IndexEntry> = []
            for run in runs { inRuns.formUnion(run.entries) }
            // Entries of events now in compacted segments: each starts at a record of its stream and version,
            // and together they cover every indexed record there once.
            func inCompacted(_ sequence: UInt64) -> Bool {
                var low = 0
                var high = compactedRanges.count
                while low < high {
                    let mid = (low + high) / 2
                    if compactedRanges[mid].upperBound < sequence { low = mid + 1 } else { high = mid }
                }
                return low < compactedRanges.count && compactedRanges[low].contains(sequence)
            }
            let compactedEntries = compactedRanges.isEmpty ? [] : inRuns.filter { inCompacted($0.firstSequence) }
            inRuns.subtract(compactedEntries)
            var covered = 0
            var wrongStarts = 0
            var example: IndexEntry?
            for entry in compactedEntries {
                covered += Int(entry.versionCount)
                if let start = compactedStarts[entry.firstSequence], start.hash == entry.keyHash, start.version == entry.firstVersion {
                    continue
                }
                wrongStarts += 1
                example = example.map { min($0, entry) } ?? entry
            }
            if let example {
                problem("index", nil, .indexMismatch, "\(wrongStarts) run entries in compacted segments do not start at a record of their stream and version; e.g. sequence \(example.firstSequence), version \(example.firstVersion)")
            }
            if covered != compactedIndexedRecords {
                problem("index", nil, .indexMismatch, "the run entries in compacted segments cover \(covered) events; those segments hold \(compactedIndexedRecords) indexed events")
            }
            let missing = logEntries.subtracting(inRuns)
            let extra = inRuns.subtracting(logEntries)
            if !missing.isEmpty {
                let e = missing.min()!
                problem("index", nil, .indexMismatch, "\(missing.count) stream entries of indexed frames are missing from the runs; e.g. sequence \(e.firstSequence) (segment \(e.segmentNumber), frame at \(e.frameOffset))")
            }
            if !extra.isEmpty {
                let e = extra.min()!
                problem("index", nil, .indexMismatch, "\(extra.count) run entries point at nothing in the log; e.g. sequence \(e.firstSequence) (segment \(e.segmentNumber), frame at \(e.frameOffset))")
            }
            if let next, indexedThrough > next - 1 {
                problem("index/MANIFEST", nil, .indexMismatch, "indexed through sequence \(indexedThrough), past the log's end \(next - 1)")
            }
        }
    }
}
