/// `strata fsck --repair`: fixes what a check found, from the data itself, and moves — never deletes — what it
/// replaces into `quarantine/`.
///
/// - A segment damaged inside its data (a bad frame, header or footer; frames out of sequence; a missing footer)
///   is rewritten: its intact frames are copied byte for byte, each damaged stretch is replaced by a lost-range
///   frame (FORMAT.md, "Lost-range frames") covering exactly the sequences that went missing there, and the header
///   and footer are written again from the file name and the frames. The sequences of every intact frame — in
///   this segment and all later ones — stay what they were; only the damaged events are gone, and their bytes
///   are kept: the segment as it was is copied to `quarantine/<name>.fsck-<stamp>` first.
/// - A damaged checkpoint or index is moved to `quarantine/` (both are also moved when a segment is rewritten:
///   they describe the segments as they were) and rebuilt by opening the store.
/// - A torn tail (bytes after the last whole frame of the last segment) is cut by that open, as always.
/// - Snapshot files are moved to `quarantine/` when one is damaged or does not match the log, and when a segment is
///   rewritten (a snapshot taken before the damage may hold events that are now lost, and a load from it would no
///   longer equal a replay).
///
/// A crash at any step loses nothing, and running the repair again finishes it. A `REPAIRING` file is written
/// first and removed last; while it exists the store refuses to open (`StorageError.repairInterrupted`), since
/// recovery could otherwise trust an old checkpoint about a rewritten active segment and cut the log. A rewritten
/// segment is written under a temporary name and fsynced, the original is copied to quarantine and fsynced, and
/// only then is the new one renamed over the old; then the checkpoint and index are moved aside.
package enum StoreRepair {
    /// Repairs the store at `path` given the problems `StoreCheck` found there. Returns what it did, one line per
    /// action; lines starting with "not repaired" are problems it had to leave.
    /// Every action is logged (a notice; a warning for what it could not repair), and every file set aside counted
    /// (`StrataMetric.quarantined`).
    package static func repair(
        store path: String, problems: [StoreCheck.Problem], fileSystem fs: any FileSystem = PosixFileSystem(),
        nowMicros: Int64 = wallClockMicros(), observability: Observability = .standard
    ) async throws(StorageError) -> [RepairStep] {
        let done = try await run(store: path, problems: problems, fileSystem: fs, nowMicros: nowMicros, observability: observability)
        for step in done {
            switch step.outcome {
            case .repaired: observability.logger.notice("repair: \(step.text)", metadata: ["store": "\(path)"])
            case .notRepaired: observability.logger.warning("repair: \(step)", metadata: ["store": "\(path)"])
            }
        }
        return done
    }

    /// One thing a repair did, or a problem it had to leave (and why).
    package struct RepairStep: Sendable, Equatable, CustomStringConvertible {
        package enum Outcome: Sendable, Equatable {
            case repaired
            case notRepaired
        }

        package var outcome: Outcome
        package var text: String

        package static func repaired(_ text: String) -> RepairStep { RepairStep(outcome: .repaired, text: text) }
        package static func notRepaired(_ text: String) -> RepairStep { RepairStep(outcome: .notRepaired, text: text) }

        package var description: String { outcome == .repaired ? text : "not repaired: \(text)" }
    }

    private static func run(
        store path: String, problems: [StoreCheck.Problem], fileSystem fs: any FileSystem, nowMicros: Int64,
        observability: Observability
    ) async throws(StorageError) -> [RepairStep] {
        var done: [RepairStep] = []
        let stamp = nowMicros / 1_000_000
        let segmentProblems = problems.filter { $0.file.hasSuffix(SegmentFileName.suffix) && $0.kind != .tornTail }
        for problem in segmentProblems where problem.kind == .badName {
            done.append(.notRepaired("\(problem.file): its name is not a segment name, so the store ignores it; rename or remove it"))
        }
        // Missing segments cannot be made up from what is there; records written with wrong stream versions are
        // intact bytes, not damage; a newer format is for a newer Strata.
        let refused = segmentProblems.compactMap { problem -> RepairStep? in
            switch problem.kind {
            case .missingSegment: .notRepaired("\(problem.file): \(problem.detail); restore the missing segments from a copy")
            case .badVersion: .notRepaired("\(problem.file): \(problem.detail) (the frame is intact: it was written so)")
            case .unsupportedVersion: .notRepaired("\(problem.file): \(problem.detail); open it with the Strata that wrote it")
            default: nil
            }
        }
        if !refused.isEmpty { return done + refused }
        let damagedNames = Set(segmentProblems.filter { $0.kind != .badName }.map(\.file))
        do {
            let lock: any FileLock
            do throws(IOError) {
                lock = try fs.lockFile(joinPath(path, StoreFileName.lock))
            } catch {
                if error.isLockHeldElsewhere { throw StorageError.locked(path: path) }
                throw StorageError.io(error)
            }
            defer { lock.release() }
            var surgery = Surgery(path: path, fs: fs, stamp: stamp, nowMicros: nowMicros)
            try io { () throws(IOError) in
                // After an interrupted repair neither the checkpoint nor the index can be trusted.
                let interrupted = fs.fileExists(joinPath(path, StoreFileName.repairMarker))
                try surgery.run(
                    damagedSegments: damagedNames,
                    checkpointDamaged: interrupted || problems.contains { $0.file == StoreFileName.checkpoint },
                    indexDamaged: interrupted || problems.contains { $0.file == "index" || $0.file.hasPrefix("index/") },
                    snapshotsDamaged: problems.contains { $0.file.hasPrefix(SnapshotStore.folderName + "/") })
            }
            done += surgery.done
            if surgery.quarantined > 0 { observability.counter(StrataMetric.quarantined).increment(by: Int64(surgery.quarantined)) }
            if !surgery.refused.isEmpty { return done + surgery.refused }
        }
        // Opening runs recovery: a torn tail is cut (and copied to quarantine/), a missing index is rebuilt from the
        // segments, a missing checkpoint is written again.
        let log: LogStore
        do {
            log = try LogStore.open(at: path, options: LogStore.Options(createIfMissing: false, fileSystem: fs, observability: observability))
        } catch {
            switch error {
            case .corrupt, .damagedLog: return done + [.notRepaired("the store does not open after the repair: \(error)")]
            default: throw error
            }
        }
        if let cut = log.recovery.truncation {
            done.append(.repaired("cut \(cut.bytesRemoved) bytes from \(cut.file) at offset \(cut.offset) (\(cut.reason))" + (cut.savedAs.map { ", saved as \($0)" } ?? "")))
        }
        await log.waitForIndexRepair()
        try await log.close()
        return done
    }

    /// A rewritten segment: the pieces of the new file, in order.
    struct Plan {
        enum Piece {
            /// Bytes `from ..< to` of the original, `frames` whole valid frames.
            case keep(from: Int64, to: Int64, frames: Int)
            case lost(LostRange)
        }

        var name: String
        var header: SegmentHeader
        var pieces: [Piece] = []
        var lastSequence: UInt64
        var sealed: Bool
        var findings: [String] = []
    }

    /// The most sequences one segment's repair may record as lost: 4,096 lost-range frames.
    static let lostSequencesMax = UInt64(Limits.recordsPerFrameMax) * 4_096

    struct Surgery {
        let path: String
        let fs: any FileSystem
        let stamp: Int64
        let nowMicros: Int64
        var done: [RepairStep] = []
        var refused: [RepairStep] = []
        /// Files (or folders of files) set aside in quarantine/.
        var quarantined = 0

        var quarantine: String { joinPath(path, StoreFileName.quarantine) }

        /// The name in quarantine/ of each file this repair sets aside, chosen before anything is written so that
        /// nothing there is ever overwritten (a second repair in the same second gets `-2`, `-3`, …).
        var quarantineNames: [String: String] = [:]

        func quarantineName(_ name: String) -> String { quarantineNames[name] ?? "\(name).fsck-\(stamp)" }

        mutating func reserveQuarantineNames(_ names: [String]) {
            var taken = Set((try? fs.listDirectory(quarantine)) ?? [])
            for name in names {
                var candidate = "\(name).fsck-\(stamp)"
                var n = 2
                while taken.contains(candidate) {
                    candidate = "\(name).fsck-\(stamp)-\(n)"
                    n += 1
                }
                taken.insert(candidate)
                quarantineNames[name] = candidate
            }
        }

        mutating func run(damagedSegments: Set<String>, checkpointDamaged: Bool, indexDamaged: Bool, snapshotsDamaged: Bool) throws(IOError) {
            let segments = try fs.listDirectory(path).compactMap { name in
                SegmentFileName.parse(name).map { (name: name, number: $0.number, base: $0.baseSequence) }
            }.sorted { $0.number < $1.number }
            let checkpoint = readCheckpoint()
            reserveQuarantineNames(damagedSegments.sorted() + [StoreFileName.checkpoint, IndexFileName.folder, SnapshotStore.folderName])
            var plans: [Plan] = []
            for (i, segment) in segments.enumerated() where damagedSegments.contains(segment.name) {
                let next = i + 1 < segments.count ? segments[i + 1] : nil
                // A compacted segment stands for the numbers up to its header's last segment number; with a damaged
                // header, its footer's frame table says it is compacted and the next file's number where it ends.
                let compacted = try SegmentInspector.compaction(
                    of: joinPath(path, segment.name), number: segment.number, nextNumber: next?.number, nextBase: next?.base,
                    fileSystem: fs)
                let lastNumber = compacted?.lastNumber ?? segment.number
                if let next, next.number != lastNumber + 1 {
                    refused.append(.notRepaired("\(segment.name): segment \(lastNumber + 1) is missing after it; restore it from a copy"))
                    continue
                }
                // The name's base sequence must follow the previous segment, as its footer says (a damaged previous
                // segment is planned to end right before this one).
                if i > 0, !damagedSegments.contains(segments[i - 1].name),
                    let previousLast = try footerLastSequence(segments[i - 1].name), previousLast &+ 1 != segment.base
                {
                    refused.append(.notRepaired("\(segment.name): its name says it starts at sequence \(segment.base); the previous segment ends at \(previousLast)"))
                    continue
                }
                let knownLast = checkpoint?.segments.first { $0.number == segment.number }?.lastSequence
                switch try plan(
                    segment.name, number: segment.number, base: segment.base, nextBase: next?.base, knownLast: knownLast,
                    compacted: compacted)
                {
                case .success(let plan?): plans.append(plan)
                case .success(nil): break
                case .failure(let refusal): refused.append(.notRepaired("\(segment.name): \(refusal.reason)"))
                }
            }
            guard refused.isEmpty else { return }
            let checkpointPath = joinPath(path, StoreFileName.checkpoint)
            let indexPath = joinPath(path, IndexFileName.folder)
            let moveCheckpoint = (checkpointDamaged || !plans.isEmpty) && fs.fileExists(checkpointPath)
            let moveIndex = (indexDamaged || !plans.isEmpty) && fs.directoryExists(indexPath)
            let snapshotsPath = joinPath(path, SnapshotStore.folderName)
            let moveSnapshots = (snapshotsDamaged || !plans.isEmpty) && fs.directoryExists(snapshotsPath)
            let marker = joinPath(path, StoreFileName.repairMarker)
            let interrupted = fs.fileExists(marker)
            guard !plans.isEmpty || moveCheckpoint || moveIndex || moveSnapshots || interrupted else { return }
            // 0. The marker: until it is removed, an open refuses the store (a half-done repair must be finished
            //    by a repair, not scanned by recovery).
            if !interrupted {
                try fs.writeAtomically(Array("strata fsck --repair started at \(nowMicros) µs\n".utf8), to: marker, directory: path)
            }
            // 1. The new segments, complete and durable under temporary names (removed by the next open if we die).
            for plan in plans { try write(plan) }
            // 2. The originals, copied to quarantine/ (a copy, not a move: the store must never lack a segment).
            try fs.createDirectory(quarantine)
            for plan in plans {
                try copy(joinPath(path, plan.name), to: joinPath(quarantine, quarantineName(plan.name)))
                quarantined += 1
            }
            // 3. Each new segment replaces its original atomically. (No open can happen until the marker is gone;
            //    the checkpoint stays until the segments are in place so that a repair run again after a crash
            //    still knows how far the active segment was committed.)
            for plan in plans {
                try fs.rename(temporaryPath(plan), to: joinPath(path, plan.name))
                let ranges = plan.pieces.compactMap { piece -> LostRange? in
                    if case .lost(let range) = piece { return range }
                    return nil
                }
                let lost = ranges.reduce(UInt64(0)) { $0 + $1.count }
                done.append(.repaired(
                    "rewrote \(plan.name) (\(plan.findings.joined(separator: "; "))): "
                        + (lost == 0
                            ? "no event lost"
                            : "\(lost) events lost (sequences \(ranges.map { "\($0.firstSequence)...\($0.lastSequence)" }.joined(separator: ", ")))")
                        + ", every intact frame kept; the original is quarantine/\(quarantineName(plan.name))"))
            }
            try fs.syncDirectory(path)
            // 4. Derived files that are damaged, or describe the segments as they were, go to quarantine/; the
            //    open that follows writes them again.
            if moveCheckpoint {
                try fs.rename(checkpointPath, to: joinPath(quarantine, quarantineName(StoreFileName.checkpoint)))
                quarantined += 1
                done.append(.repaired("moved CHECKPOINT to quarantine/\(quarantineName(StoreFileName.checkpoint))"
                    + (checkpointDamaged ? "" : " (it described the segments before the repair)")))
            }
            if moveIndex {
                try moveFiles(of: IndexFileName.folder)
                quarantined += 1
                done.append(.repaired("moved the index files to quarantine/\(quarantineName(IndexFileName.folder))/"
                    + (indexDamaged ? "" : " (they pointed into the segments before the repair)")))
            }
            if moveSnapshots {
                try moveFiles(of: SnapshotStore.folderName)
                quarantined += 1
                done.append(.repaired("moved the snapshot files to quarantine/\(quarantineName(SnapshotStore.folderName))/"
                    + (plans.isEmpty ? "" : " (they may hold events the repair lost)") + "; loads replay until new snapshots are taken"))
            }
            if fs.directoryExists(quarantine) { try fs.syncDirectory(quarantine) }
            try fs.syncDirectory(path)
            // 5. Done: the store may open again.
            try fs.remove(marker)
            try fs.syncDirectory(path)
        }

        /// The last sequence in a sealed segment's footer, if it has a valid one.
        /// Moves the files of the store's folder `folder` into its quarantine folder, file by file (a folder rename
        /// is not in the FileSystem protocol); the empty folder stays.
        func moveFiles(of folder: String) throws(IOError) {
            let source = joinPath(path, folder)
            let target = joinPath(quarantine, quarantineName(folder))
            try fs.createDirectory(target)
            for name in try fs.listDirectory(source) {
                try fs.rename(joinPath(source, name), to: joinPath(target, name))
            }
            try fs.syncDirectory(target)
            try fs.syncDirectory(source)
        }

        func footerLastSequence(_ name: String) throws(IOError) -> UInt64? {
            let handle = try fs.open(joinPath(path, name), mode: .read)
            defer { handle.close() }
            let size = try handle.size()
            guard size >= Int64(SegmentHeader.byteCount + SegmentFooter.byteCount) else { return nil }
            let bytes = try handle.readBytes(count: SegmentFooter.byteCount, at: size - Int64(SegmentFooter.byteCount))
            return (try? bytes.withRawBytes { (raw) throws(DecodeError) in try SegmentFooter.decode(raw) })?.lastSequence
        }

        func readCheckpoint() -> Checkpoint? {
            guard let bytes = try? fs.readSmallFile(joinPath(path, StoreFileName.checkpoint), limit: Checkpoint.fileBytesMax) else {
                return nil
            }
            return try? bytes.withRawBytes { (raw) throws(DecodeError) in try Checkpoint.decode(raw) }
        }

        func temporaryPath(_ plan: Plan) -> String { joinPath(path, plan.name + ".repair" + StoreFileName.temporarySuffix) }

        /// Works out how to rewrite one segment: nil when it needs no rewrite (a torn tail of the last segment is
        /// left to recovery), a refusal when it cannot be repaired without guessing.
        func plan(
            _ name: String, number: UInt64, base: UInt64, nextBase: UInt64?, knownLast: UInt64?,
            compacted: (lastNumber: UInt64, footer: SegmentFooter?)? = nil
        ) throws(IOError) -> Result<Plan?, Refusal> {
            let handle = try fs.open(joinPath(path, name), mode: .read)
            defer { handle.close() }
            let fileSize = try handle.size()
            // A compacted segment's frames end where its footer says (its frame table follows them); the table is
            // written again from the frames kept.
            let size = compacted?.footer.map { Int64($0.dataEnd) } ?? fileSize
            let isLast = nextBase == nil
            var plan = Plan(
                name: name, header: SegmentHeader(segmentNumber: number, baseSequence: base, createdMicros: nowMicros),
                lastSequence: base - 1, sealed: !isLast)
            // Header: rewritten from the file name (which is what the store goes by) when it is damaged.
            var headerDamaged = true
            var headerVersion = SegmentHeader.formatVersion
            if size >= Int64(SegmentHeader.byteCount) {
                let bytes = try handle.readBytes(count: SegmentHeader.byteCount, at: 0)
                switch Result(catching: { () throws(DecodeError) in try bytes.withRawBytes { (raw) throws(DecodeError) in try SegmentHeader.decode(raw) } }) {
                case .success(let header) where header.segmentNumber == number && header.baseSequence == base:
                    plan.header.createdMicros = header.createdMicros
                    if header.isCompacted && compacted == nil { plan.findings.append("a compacted header without a usable footer") }
                    headerVersion = header.minReaderVersion
                    headerDamaged = false
                case .success(let header):
                    plan.findings.append("the header says segment \(header.segmentNumber) from sequence \(header.baseSequence)")
                case .failure(let error):
                    plan.findings.append("header: \(error.reason)")
                }
            } else {
                plan.findings.append("\(size) bytes, shorter than a segment header")
            }
            if let compacted {
                // Sealed even when it is the last file (recovery starts a new active segment after it).
                plan.sealed = true
                plan.header = SegmentHeader.compacted(
                    segmentNumber: number, lastSegmentNumber: compacted.lastNumber, baseSequence: base,
                    createdMicros: plan.header.createdMicros)
            }
            /// The frames kept, where they are in the original (a compacted segment's table must list them).
            var seen = FrameTable(baseSequences: [], offsets: [])
            var expected = base
            var offset = Int64(SegmentHeader.byteCount)
            /// Where unexplained bytes started (a damaged stretch waiting for the next good frame).
            var damage: (offset: Int64, finding: String)?
            var damageInside = false
            var footer: SegmentFooter?
            var frames: UInt64 = 0
            /// Whether a lost-range frame of an earlier repair is among the kept frames.
            var keptLost = false
            let decoder = FrameRecordDecoder()

            func keep(_ from: Int64, _ length: Int64) {
                if case .keep(let start, let end, let count)? = plan.pieces.last, end == from {
                    plan.pieces[plan.pieces.count - 1] = .keep(from: start, to: from + length, frames: count + 1)
                } else {
                    plan.pieces.append(.keep(from: from, to: from + length, frames: 1))
                }
            }
            func lose(through last: UInt64, at offset: Int64, length: Int64, finding: String) {
                guard last >= expected else { return }
                plan.pieces.append(.lost(LostRange(
                    firstSequence: expected, lastSequence: last, repairedMicros: nowMicros, originalOffset: UInt64(offset),
                    originalLength: UInt64(max(length, 0)), quarantineFile: quarantineName(name), finding: finding)))
                expected = last + 1
            }
            /// Marks damage at `at`; returns the next valid frame that does not go back in sequence, if any.
            func damaged(at: Int64, _ finding: String) throws(IOError) -> Int64? {
                if damage == nil {
                    damage = (at, finding)
                    plan.findings.append("\(finding) at offset \(at)")
                }
                let floor = expected
                return try SegmentInspector.nextValidFrame(in: handle, from: at + 1, size: size) {
                    $0.baseSequence >= floor && $0.baseSequence - floor < StoreRepair.lostSequencesMax
                }?.offset
            }

            scan: while offset < size && size >= Int64(SegmentHeader.byteCount) {
                let scanner = FrameScanner(handle: handle, from: offset, to: size)
                while true {
                    switch try scanner.next() {
                    case .end:
                        break scan
                    case .frame(let header, let at):
                        let records = decoder.forEachRecord(in: scanner.frameBytes, header: header, from: 0) { _ in true }
                        var problem: String?
                        if case .failure(let error) = records {
                            problem = "frame at sequence \(header.baseSequence) does not decode: \(error.reason)"
                        } else if header.baseSequence < expected || header.baseSequence - expected >= StoreRepair.lostSequencesMax {
                            problem = "frame at sequence \(header.baseSequence), expected \(expected)"
                        }
                        if let problem {
                            guard let resume = try damaged(at: at, problem) else { break scan }
                            offset = resume
                            continue scan
                        }
                        if header.baseSequence > expected {
                            let finding = damage?.finding ?? "sequences \(expected)...\(header.baseSequence - 1) are missing before the frame at offset \(at)"
                            if damage == nil { plan.findings.append(finding) }
                            let from = damage?.offset ?? at
                            lose(through: header.baseSequence - 1, at: from, length: at - from, finding: finding)
                        }
                        if damage != nil { damageInside = true }
                        damage = nil
                        keep(at, Int64(header.frameLength))
                        seen.baseSequences.append(header.baseSequence)
                        seen.offsets.append(UInt64(at))
                        if header.kind == .lost { keptLost = true }
                        frames += 1
                        expected = header.lastSequence + 1
                        offset = at + Int64(header.frameLength)
                    case .footer(let at):
                        switch try scanner.readFooter(at: at, fileSize: size) {
                        case .success(let found):
                            footer = found
                            offset = at
                        case .failure(let error):
                            _ = try damaged(at: at, "footer: \(error.reason)")
                        }
                        break scan
                    case .invalid(let at, let kind, let detail):
                        guard let resume = try damaged(at: at, "\(kind.rawValue): \(detail)") else { break scan }
                        offset = resume
                        continue scan
                    }
                }
            }
            if let footerOfCompacted = compacted?.footer { footer = footerOfCompacted }
            // A damaged stretch that runs to the end may still end in a valid footer (damage before it).
            if compacted == nil, let stretch = damage, size - stretch.offset >= Int64(SegmentFooter.byteCount),
                let bytes = try? handle.readBytes(count: SegmentFooter.byteCount, at: size - Int64(SegmentFooter.byteCount)),
                let found = try? bytes.withRawBytes({ (raw) throws(DecodeError) in try SegmentFooter.decode(raw) }),
                found.firstSequence == base
            {
                footer = found
            }
            if footer != nil { plan.sealed = true }
            // A sealed last segment gets a successor at the next open, one number up: past the largest number a
            // file name carries there is none (the open would fail), so such a repair is refused, not half done.
            if isLast && plan.sealed && (compacted?.lastNumber ?? number) >= SegmentFileName.maxNumber {
                return .failure(Refusal(
                    "it is the last segment, sealed, numbered \(compacted?.lastNumber ?? number): the store could not start a segment after it"))
            }
            // The sequence the segment must end at: the next segment's base − 1 or, for the last segment, the most
            // its footer or the checkpoint say was committed.
            let target: UInt64
            if let nextBase {
                guard nextBase >= expected else {
                    return .failure(Refusal("its frames run to sequence \(expected - 1), past the next segment's base \(nextBase)"))
                }
                target = nextBase - 1
            } else {
                target = max(expected - 1, footer?.lastSequence ?? 0, knownLast ?? 0)
            }
            // A damaged segment cannot say how many sequences it held; the bound keeps a hostile or damaged name or
            // checkpoint from turning into billions of lost-range frames.
            if target >= expected && target - expected >= StoreRepair.lostSequencesMax {
                return .failure(Refusal("it would record sequences \(expected)...\(target) as lost, more than \(StoreRepair.lostSequencesMax) (the next segment's name or the checkpoint is wrong?)"))
            }
            if target >= expected {
                let finding = damage?.finding ?? "sequences \(expected)...\(target) are missing at the end of the segment"
                if damage == nil { plan.findings.append(finding) }
                let at = damage?.offset ?? offset
                lose(through: target, at: at, length: size - at, finding: finding)
            }
            plan.lastSequence = target
            let lostRanges = plan.pieces.contains { if case .lost = $0 { true } else { false } }
            if (lostRanges || keptLost) && plan.header.isCompacted {
                plan.header.flags |= SegmentHeader.flagHoldsLostRanges
            } else if lostRanges || keptLost {
                plan.header.formatVersion = SegmentHeader.formatVersionWithLostRanges
                plan.header.minReaderVersion = SegmentHeader.formatVersionWithLostRanges
            }
            // A lost range kept from an earlier repair in a segment whose header says version 1 (written by hand?).
            let headerTooOld = keptLost && headerVersion < SegmentHeader.formatVersionWithLostRanges
            if headerTooOld { plan.findings.append("a lost-range frame in a segment of format version \(headerVersion)") }
            var footerWrong = false
            if plan.sealed {
                if let footer, footer.lastSequence != target || footer.frameCount != frames || damage != nil {
                    footerWrong = true
                } else if footer == nil {
                    plan.findings.append("no footer")
                    footerWrong = true
                }
            }
            // A damaged stretch at the very end of the last segment with nothing committed in it is a torn tail:
            // recovery cuts it at the next open (and copies it to quarantine/), so it alone needs no rewrite.
            // A compacted segment's frame table must list exactly the frames found.
            var tableWrong = false
            if let compacted, let footer = compacted.footer {
                let table = try FrameTable.read(from: handle, footer: footer)  // (an I/O error stops the repair)
                if (try? table.get()) != seen {
                    tableWrong = true
                    plan.findings.append("the frame table does not list the segment's frames")
                }
            }
            let rewrite = headerDamaged || damageInside || lostRanges || footerWrong || headerTooOld || tableWrong
            return .success(rewrite ? plan : nil)
        }

        /// Writes the new segment under its temporary name and syncs it.
        func write(_ plan: Plan) throws(IOError) {
            let source = try fs.open(joinPath(path, plan.name), mode: .read)
            defer { source.close() }
            let target = try fs.open(temporaryPath(plan), mode: .create)
            defer { target.close() }
            var at: Int64 = 0
            try target.write(plan.header.encode(), at: at)
            at += Int64(SegmentHeader.byteCount)
            var frames: UInt64 = 0
            for piece in plan.pieces {
                switch piece {
                case .keep(let from, let to, let count):
                    try copyRange(from: source, from, to, into: target, at: at)
                    at += to - from
                    frames += UInt64(count)
                case .lost(let range):
                    let bytes = range.encodeFrames()
                    try target.write(bytes, at: at)
                    at += Int64(bytes.count)
                    frames += (range.count + UInt64(Limits.recordsPerFrameMax) - 1) / UInt64(Limits.recordsPerFrameMax)
                }
            }
            if plan.header.isCompacted {
                // A compacted segment again: its frame table, from the frames just written.
                var table = FrameTable(baseSequences: [], offsets: [])
                let scanner = FrameScanner(handle: target, from: Int64(SegmentHeader.byteCount), to: at)
                while case .frame(let header, let offset) = try scanner.next() {
                    table.baseSequences.append(header.baseSequence)
                    table.offsets.append(UInt64(offset))
                }
                let bytes = table.encode()
                let base = plan.header.baseSequence
                let footer = SegmentFooter(
                    frameCount: UInt64(table.count), recordCount: plan.lastSequence + 1 - base, firstSequence: base,
                    lastSequence: plan.lastSequence, dataEnd: UInt64(at), tableBytes: UInt32(bytes.count))
                try target.write(bytes + footer.encode(), at: at)
            } else if plan.sealed {
                let base = plan.header.baseSequence
                let footer = SegmentFooter(
                    frameCount: frames, recordCount: plan.lastSequence + 1 - base, firstSequence: base,
                    lastSequence: plan.lastSequence, dataEnd: UInt64(at))
                try target.write(footer.encode(), at: at)
            }
            try target.sync()
        }

        func copy(_ file: String, to destination: String) throws(IOError) {
            let source = try fs.open(file, mode: .read)
            defer { source.close() }
            let target = try fs.open(destination, mode: .create)
            defer { target.close() }
            try copyRange(from: source, 0, try source.size(), into: target, at: 0)
            try target.sync()
        }

        func copyRange(from source: any FileHandle, _ from: Int64, _ to: Int64, into target: any FileHandle, at: Int64) throws(IOError) {
            var position = from
            while position < to {
                let count = Int(min(Int64(1 << 20), to - position))
                let bytes = try source.readBytes(count: count, at: position)
                guard bytes.count == count else {
                    throw IOError.engine("read", path: source.path, "file shrank during the repair")
                }
                try target.write(bytes, at: at + (position - from))
                position += Int64(count)
            }
        }
    }

    struct Refusal: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }
}
