import Synchronization

/// The store's snapshot files (`snapshots/NNNNNNNNNN.snapshots`, FORMAT.md "Snapshot files"): immutable files,
/// each written whole under a temporary name and renamed, so a crash leaves a file complete or absent.
///
/// Snapshots are derived data: a snapshot that fails its checksum, or a file that does not open, is passed over
/// (and reported), and the layer above replays the events instead. The latest snapshot of a subject is found
/// through each file's index (a binary search; the index is read once per file, on first use), never by scanning.
/// Writing a file when `filesMax` are there merges files into one that keeps only each subject's latest snapshot
/// per projector (older ones are dropped: superseded): the newer files, while together they are smaller than the
/// oldest, else all of them; `compact()` merges all.
public final class SnapshotStore: Sendable {
    public static let folderName = "snapshots"
    static let fileSuffix = ".snapshots"
    /// Files kept before a write merges them.
    public static let filesMax = 4

    let fileSystem: any FileSystem
    /// The `snapshots/` folder (created on the first write).
    public let directory: String
    /// Newest first.
    private let files: Mutex<[SnapshotFile]>
    /// Held while a file is written or files are merged (one writer at a time; readers never take it).
    private let writer = Mutex<UInt64>(0)
    /// Files passed over when the store opened, with why.
    public let skippedFiles: [Corruption]

    /// Opens the snapshot files of the store at `storePath`, removing leftover temporary files unless told not to
    /// (a check changes nothing).
    public init(storePath: String, fileSystem: any FileSystem, removingTemporaryFiles: Bool = true) throws(StorageError) {
        self.fileSystem = fileSystem
        let directory = storePath + "/" + Self.folderName
        self.directory = directory
        var opened: [SnapshotFile] = []
        var skipped: [Corruption] = []
        var highest: UInt64 = 0
        if fileSystem.directoryExists(directory) {
            let names = try io { () throws(IOError) in try fileSystem.listDirectory(directory) }
            for name in names.sorted() {
                let path = directory + "/" + name
                if name.hasSuffix(StoreFileName.temporarySuffix) {
                    guard removingTemporaryFiles else { continue }
                    try io { () throws(IOError) in try fileSystem.remove(path) }
                    continue
                }
                guard name.hasSuffix(Self.fileSuffix), let number = UInt64(name.dropLast(Self.fileSuffix.count)) else { continue }
                highest = max(highest, number)
                do throws(StorageError) {
                    opened.append(try SnapshotFile(path: path, fileSystem: fileSystem))
                } catch {
                    guard case .corrupt(let corruption) = error else { throw error }
                    skipped.append(corruption)
                }
            }
        }
        files = Mutex(opened.sorted { $0.header.fileNumber > $1.header.fileNumber })
        writer.withLock { $0 = highest }
        skippedFiles = skipped
    }

    /// The open files, newest first.
    var openFiles: [SnapshotFile] { files.withLock { $0 } }

    /// Number of snapshot files.
    public var fileCount: Int { files.withLock { $0.count } }

    /// Number of snapshots in all files (superseded ones included until a merge drops them).
    public var snapshotCount: UInt64 { files.withLock { $0.reduce(0) { $0 + $1.header.recordCount } } }

    /// What a lookup found, and what it passed over.
    public struct Lookup: Sendable {
        /// The latest valid snapshot that matched.
        public var snapshot: SnapshotRecord?
        /// Snapshots of the subject passed over, newest first, each with why.
        public var ignored: [PassedOverSnapshot]

        public init(snapshot: SnapshotRecord?, ignored: [PassedOverSnapshot]) {
            self.snapshot = snapshot
            self.ignored = ignored
        }
    }

    /// The latest snapshot of `subject` by projector `projectorName` for which `accept` says yes (the caller checks
    /// the projector version, the codec and how far the snapshot may go), looking at no snapshot past
    /// `maxSequence`. Damaged snapshots are passed over and reported in `ignored`.
    public func latest(
        _ subject: SnapshotSubject, projectorName: String, maxSequence: UInt64 = .max,
        accept: (SnapshotRecord) -> SnapshotRejection?
    ) -> Lookup {
        let hash = subject.hash
        let current = files.withLock { $0 }
        // Candidates from every file, newest sequence first.
        var candidates: [(file: SnapshotFile, entry: SnapshotIndexEntry)] = []
        var ignored: [PassedOverSnapshot] = []
        for file in current {
            do throws(StorageError) {
                for entry in try file.entries(hash: hash) where entry.sequence <= maxSequence {
                    candidates.append((file, entry))
                }
            } catch {
                ignored.append(PassedOverSnapshot(location: file.path, position: nil, reason: .unreadable(error)))
            }
        }
        candidates.sort { $0.entry.sequence > $1.entry.sequence }
        for (file, entry) in candidates {
            let record: SnapshotRecord
            do throws(StorageError) {
                record = try file.record(at: entry, known: (subject, projectorName))
            } catch {
                ignored.append(PassedOverSnapshot(location: file.path, position: "\(entry.sequence)", reason: .unreadable(error)))
                continue
            }
            guard record.subject == subject, record.projectorName == projectorName else { continue }  // (a hash collision)
            if let reason = accept(record) {
                ignored.append(PassedOverSnapshot(location: file.path, position: "\(record.sequence)", reason: reason))
                continue
            }
            return Lookup(snapshot: record, ignored: ignored)
        }
        return Lookup(snapshot: nil, ignored: ignored)
    }

    /// Writes `snapshots` as a new file (temporary name, fsync, rename, folder fsync); then, when there are more
    /// than `filesMax` files, merges them. Never called on the command path.
    public func write(_ snapshots: [SnapshotRecord], createdMicros: Int64 = wallClockMicros()) throws(StorageError) {
        guard !snapshots.isEmpty else { return }
        var encoded: [[UInt8]] = []
        for snapshot in snapshots { encoded.append(try snapshot.encode()) }
        try writer.withLock { (highest: inout UInt64) throws(StorageError) in
            try ensureDirectory()
            let entries = snapshots.map { SnapshotIndexEntry(hash: $0.subject.hash, sequence: $0.sequence, offset: 0) }
            let file = try writeFile(number: highest + 1, createdMicros: createdMicros, count: encoded.count) { emit throws(StorageError) in
                for (i, bytes) in encoded.enumerated() { try emit(bytes, entries[i]) }
            }
            highest += 1
            let current = files.withLock { files in
                files.insert(file, at: 0)
                return files
            }
            if current.count > Self.filesMax {
                try merge(Self.mergeCandidates(current), &highest, createdMicros: createdMicros)
            }
        }
    }

    /// Merges every file into one that keeps, per subject and projector, only the snapshot with the highest
    /// sequence (damaged snapshots are dropped), then removes the old files. A crash leaves the old files, or the
    /// new one beside some of them (a lookup then sees the same snapshots twice, which is harmless).
    public func compact(createdMicros: Int64 = wallClockMicros()) throws(StorageError) {
        try writer.withLock { (highest: inout UInt64) throws(StorageError) in
            let current = files.withLock { $0 }
            guard !current.isEmpty else { return }
            try merge(current, &highest, createdMicros: createdMicros)
        }
    }

    private struct Winner {
        var file: SnapshotFile
        var entry: SnapshotIndexEntry
    }

    private struct WinnerKey: Hashable {
        var subject: SnapshotSubject
        var projector: String
    }

    /// The files a merge after a write takes (newest first): the newer ones while together they are smaller than
    /// the oldest — so a large old file is not rewritten for every few small new ones (size-tiered) — else all.
    static func mergeCandidates(_ current: [SnapshotFile]) -> [SnapshotFile] {
        guard current.count > 1, let oldest = current.last else { return current }
        let newer = current.dropLast()
        return newer.reduce(0) { $0 + $1.header.fileSize } < oldest.header.fileSize ? Array(newer) : current
    }

    /// Merges `old` (some or all of the files) into one new file; superseded snapshots among them, and damaged
    /// ones, are dropped. (A file whose index is unreadable is dropped whole: `strata fsck` reports it.)
    private func merge(_ old: [SnapshotFile], _ highest: inout UInt64, createdMicros: Int64) throws(StorageError) {
        // Pass 1: the latest valid snapshot per (subject, projector); only keys and locations stay in memory.
        var winners: [WinnerKey: Winner] = [:]
        for file in old {
            for entry in (try? file.allEntries()) ?? [] {
                guard let record = try? file.record(at: entry) else { continue }
                let key = WinnerKey(subject: record.subject, projector: record.projectorName)
                if let best = winners[key], best.entry.sequence >= entry.sequence { continue }
                winners[key] = Winner(file: file, entry: entry)
            }
        }
        // Pass 2: copy the winners' bytes (checked again as they are read).
        let chosen = winners.values.sorted { SnapshotIndexEntry.precedes($0.entry, $1.entry) }
        let merged = try writeFile(number: highest + 1, createdMicros: createdMicros, count: chosen.count) { emit throws(StorageError) in
            for winner in chosen { try emit(try winner.file.read(at: winner.entry).bytes, winner.entry) }
        }
        highest += 1
        files.withLock { files in
            files.removeAll { file in old.contains { $0 === file } }
            files.insert(merged, at: 0)
        }
        for file in old { try io { () throws(IOError) in try fileSystem.remove(file.path) } }
        try io { () throws(IOError) in try fileSystem.syncDirectory(directory) }
    }

    private func ensureDirectory() throws(StorageError) {
        guard !fileSystem.directoryExists(directory) else { return }
        try io { () throws(IOError) in
            try fileSystem.createDirectory(directory)
            let parent = String(directory.dropLast(Self.folderName.count + 1))
            try fileSystem.syncDirectory(parent)
        }
    }

    /// Writes file `number` from the records `body` emits (each record's bytes and its index entry, whose offset
    /// is filled in here), atomically, and opens it.
    private func writeFile(
        number: UInt64, createdMicros: Int64, count: Int,
        _ body: (_ emit: ([UInt8], SnapshotIndexEntry) throws(StorageError) -> Void) throws(StorageError) -> Void
    ) throws(StorageError) -> SnapshotFile {
        let path = directory + "/" + SnapshotFile.name(number)
        let temporary = path + StoreFileName.temporarySuffix
        let handle = try io { () throws(IOError) in try fileSystem.open(temporary, mode: .create) }
        defer { handle.close() }
        var offset = UInt64(SnapshotFileHeader.byteCount)
        var entries: [SnapshotIndexEntry] = []
        entries.reserveCapacity(count)
        var maxSequence: UInt64 = 0
        try body { (bytes, entry) throws(StorageError) in
            try io { () throws(IOError) in try handle.write(bytes, at: Int64(offset)) }
            entries.append(SnapshotIndexEntry(hash: entry.hash, sequence: entry.sequence, offset: offset))
            maxSequence = max(maxSequence, entry.sequence)
            offset += UInt64(bytes.count)
        }
        entries.sort(by: SnapshotIndexEntry.precedes)
        var index = ByteWriter(capacity: entries.count * SnapshotFileHeader.indexEntryBytes + 4)
        for entry in entries {
            index.u64(entry.hash)
            index.u64(entry.sequence)
            index.u64(entry.offset)
        }
        index.u32(CRC32C.mask(index.bytes.withUnsafeBytes { CRC32C.checksum($0) }))
        let header = SnapshotFileHeader(
            fileNumber: number, recordCount: UInt64(entries.count), maxSequence: maxSequence,
            createdMicros: createdMicros, indexOffset: offset)
        try io { () throws(IOError) in
            try handle.write(index.bytes, at: Int64(offset))
            try handle.write(header.encode(), at: 0)
            try handle.sync()
            try fileSystem.rename(temporary, to: path)
            try fileSystem.syncDirectory(directory)
        }
        return try SnapshotFile(path: path, fileSystem: fileSystem)
    }
}

/// One open snapshot file: its checked header, and its index once a lookup needed it.
final class SnapshotFile: Sendable {
    static let firstReadBytes = 4_096
    let path: String
    let handle: any FileHandle
    let header: SnapshotFileHeader
    private let index = Mutex<[SnapshotIndexEntry]?>(nil)

    static func name(_ number: UInt64) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 10 - digits.count)) + digits + SnapshotStore.fileSuffix
    }

    init(path: String, fileSystem: any FileSystem) throws(StorageError) {
        self.path = path
        let handle = try io { () throws(IOError) in try fileSystem.open(path, mode: .read) }
        self.handle = handle
        do throws(StorageError) {
            let size = try io { () throws(IOError) in try handle.size() }
            let bytes = try io { () throws(IOError) in try handle.readBytes(count: SnapshotFileHeader.byteCount, at: 0) }
            header = try bytes.withRawBytes { (raw) throws(StorageError) in
                do throws(DecodeError) { return try SnapshotFileHeader.decode(raw, fileSize: size) } catch {
                    throw .corrupt(error.kind, path, Int64(error.offset), error.reason)
                }
            }
        } catch {
            handle.close()
            throw error
        }
    }

    deinit { handle.close() }

    /// The index, read and checked on first use.
    func allEntries() throws(StorageError) -> [SnapshotIndexEntry] {
        if let entries = index.withLock({ $0 }) { return entries }
        let count = Int(header.recordCount)
        let byteCount = count * SnapshotFileHeader.indexEntryBytes
        let bytes = try io { () throws(IOError) in try handle.readBytes(count: byteCount + 4, at: Int64(header.indexOffset)) }
        let entries = try bytes.withRawBytes { (raw) throws(StorageError) -> [SnapshotIndexEntry] in
            guard raw.count == byteCount + 4 else {
                throw .corrupt(.truncated, path, Int64(header.indexOffset), "snapshot index is cut short")
            }
            let stored = loadU32LE(raw, byteCount)
            let actual = CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<byteCount])))
            guard stored == actual else {
                throw .corrupt(.badChecksum, path, Int64(header.indexOffset), "snapshot index checksum mismatch")
            }
            var entries: [SnapshotIndexEntry] = []
            entries.reserveCapacity(count)
            for i in 0..<count {
                let at = i * SnapshotFileHeader.indexEntryBytes
                let entry = SnapshotIndexEntry(hash: loadU64LE(raw, at), sequence: loadU64LE(raw, at + 8), offset: loadU64LE(raw, at + 16))
                guard entry.offset >= UInt64(SnapshotFileHeader.byteCount),
                    entry.offset <= header.indexOffset - UInt64(SnapshotRecord.fixedBytes),  // (no overflow: indexOffset ≥ 64)
                    i == 0 || !SnapshotIndexEntry.precedes(entry, entries[i - 1])
                else {
                    throw .corrupt(.badRecord, path, Int64(header.indexOffset) + Int64(at), "snapshot index entry \(i) is out of order or out of bounds")
                }
                entries.append(entry)
            }
            return entries
        }
        index.withLock { $0 = entries }
        return entries
    }

    /// The entries of `hash`, the highest sequence first (a binary search of the index).
    func entries(hash: UInt64) throws(StorageError) -> ArraySlice<SnapshotIndexEntry> {
        let all = try allEntries()
        var low = 0, high = all.count
        while low < high {
            let mid = (low + high) / 2
            if all[mid].hash < hash { low = mid + 1 } else { high = mid }
        }
        var end = low
        while end < all.count && all[end].hash == hash { end += 1 }
        return all[low..<end]
    }

    /// The record at `entry` and its bytes, checked (length within the records' area, CRC, index entry).
    func read(
        at entry: SnapshotIndexEntry, known: (subject: SnapshotSubject, projectorName: String)? = nil
    ) throws(StorageError) -> (record: SnapshotRecord, bytes: [UInt8]) {
        let offset = Int64(entry.offset)
        // One read for a small record (most are): up to 4 KiB, never past the records' area; a second for the rest.
        let first = Int(min(UInt64(Self.firstReadBytes), header.indexOffset - entry.offset))
        var bytes = try io { () throws(IOError) in try handle.readBytes(count: first, at: offset) }
        guard bytes.count >= 4 else { throw .corrupt(.truncated, path, offset, "snapshot record length cut short") }
        let length = UInt64(bytes.withUnsafeBytes { loadU32LE($0, 0) })
        guard length + 4 >= UInt64(SnapshotRecord.fixedBytes), entry.offset + 4 + length <= header.indexOffset else {
            throw .corrupt(.badLength, path, offset, "snapshot record length \(length) runs past the records")
        }
        let total = Int(length) + 4
        if bytes.count >= total {
            bytes.removeLast(bytes.count - total)
        } else {
            let rest = try io { () throws(IOError) in try handle.readBytes(count: total - bytes.count, at: offset + Int64(bytes.count)) }
            bytes += rest
        }
        guard bytes.count == total else { throw .corrupt(.truncated, path, offset, "snapshot record cut short") }
        let record = try bytes.withRawBytes { (raw) throws(StorageError) in
            do throws(DecodeError) { return try SnapshotRecord.decode(raw, known: known) } catch {
                throw .corrupt(error.kind, path, offset + Int64(error.offset), error.reason)
            }
        }
        // (The subject a lookup asked for was found under this hash: the record's, when it is that subject.)
        let hashMatches = known.map { record.subject == $0.subject } == true || record.subject.hash == entry.hash
        guard record.sequence == entry.sequence, hashMatches else {
            throw .corrupt(.badRecord, path, offset, "snapshot record does not match its index entry")
        }
        return (record, bytes)
    }

    /// The record at `entry`, checked.
    func record(
        at entry: SnapshotIndexEntry, known: (subject: SnapshotSubject, projectorName: String)? = nil
    ) throws(StorageError) -> SnapshotRecord { try read(at: entry, known: known).record }
}
