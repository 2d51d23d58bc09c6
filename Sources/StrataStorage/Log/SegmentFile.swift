import Synchronization

/// One segment file of the store, shared by the writer and readers. The read handle is opened on first use and
/// kept in the store's `SegmentHandleCache`, which closes the least recently used ones beyond its capacity, so a
/// store of any number of segments holds a bounded number of descriptors. A reader that got a handle keeps it for as
/// long as it holds it: an evicted handle closes when its last user lets go (never under a reader's feet).
final class SegmentFile: Sendable {
    let number: UInt64
    /// The highest segment number this file stands for: `number`, or for a merge by cold compaction the last
    /// segment merged into it (the numbers between have no file).
    let lastNumber: UInt64
    let baseSequence: UInt64
    let path: String
    private let handle: Mutex<(any FileHandle)?>
    /// A compacted segment's frame table, read and checked on first use (the file never changes).
    private let table = Mutex<FrameTable?>(nil)
    let handles: SegmentHandleCache
    /// When this file's handle was last asked for (the cache's clock): what eviction goes by.
    let lastUse = Atomic<UInt64>(0)
    /// Never evicted: the writer's active segment, and the files a compaction replaced (after the rename their path
    /// names another file; readers still reading them must keep the old inode).
    let pinned = Atomic<Bool>(false)

    init(
        number: UInt64, baseSequence: UInt64, path: String, handles: SegmentHandleCache, handle: (any FileHandle)? = nil,
        lastNumber: UInt64? = nil, pinned: Bool = false
    ) {
        self.number = number
        self.lastNumber = lastNumber ?? number
        self.baseSequence = baseSequence
        self.path = path
        self.handles = handles
        self.handle = Mutex(handle)
        self.pinned.store(pinned, ordering: .relaxed)
        if handle != nil { handles.opened(self) }
    }

    deinit { handles.forget(self) }

    /// The file's read handle, opened if it has none (or the cache closed it).
    func open(_ fileSystem: any FileSystem) throws(IOError) -> any FileHandle {
        lastUse.store(handles.tick(), ordering: .relaxed)
        var fresh = false
        let opened = try handle.withLock { (current) throws(IOError) -> any FileHandle in
            if let current { return current }
            let opened = try fileSystem.open(path, mode: .read)
            current = opened
            fresh = true
            return opened
        }
        if fresh { handles.opened(self) }
        return opened
    }

    /// Keeps the file's handle open until the file goes away (opening it now if needed).
    func pin(_ fileSystem: any FileSystem) throws(IOError) {
        pinned.store(true, ordering: .releasing)
        _ = try open(fileSystem)
    }

    /// Lets go of the handle (the cache evicts it); users holding it keep it until they are done.
    func dropHandle() { handle.withLock { $0 = nil } }

    var hasHandle: Bool { handle.withLock { $0 != nil } }

    /// The frame table of this compacted segment (`segment` describes it), read and checked at first use.
    func frameTable(_ fileSystem: any FileSystem, segment: PublishedSegment) throws(StorageError) -> FrameTable {
        if let loaded = table.withLock({ $0 }) { return loaded }
        let handle: any FileHandle
        let bytes: [UInt8]
        do throws(IOError) {
            handle = try open(fileSystem)
            bytes = try handle.readBytes(count: Int(segment.tableBytes), at: segment.dataEnd)
        } catch { throw .io(error) }
        let loaded: FrameTable
        do throws(DecodeError) {
            loaded = try bytes.withRawBytes { (raw) throws(DecodeError) in
                try FrameTable.decode(
                    raw, frames: segment.frameCount, dataEnd: UInt64(segment.dataEnd), firstSequence: baseSequence,
                    lastSequence: segment.lastSequence)
            }
        } catch {
            throw .corrupt(error.kind, path, segment.dataEnd + Int64(error.offset), error.reason)
        }
        table.withLock { $0 = loaded }
        return loaded
    }
}

/// What readers may see of one segment: frames in [header end, dataEnd) and records up to lastSequence, all
/// committed.
struct PublishedSegment: Sendable {
    var file: SegmentFile
    var lastSequence: UInt64
    var dataEnd: Int64
    var frameCount: UInt64
    var sealed: Bool
    /// A compacted segment's frame table length (it lies in [dataEnd, dataEnd + tableBytes)); 0 otherwise.
    var tableBytes: UInt32 = 0

    var isCompacted: Bool { tableBytes > 0 }

    /// The file's size when sealed: frames, frame table, footer.
    var sealedFileBytes: Int64 { dataEnd + Int64(tableBytes) + Int64(SegmentFooter.byteCount) }

    var checkpointEntry: Checkpoint.Segment {
        let entry = Checkpoint.Segment(
            number: file.number, baseSequence: file.baseSequence, lastSequence: lastSequence,
            dataEnd: UInt64(dataEnd), frameCount: frameCount, sealed: sealed, tableBytes: tableBytes,
            lastNumber: file.lastNumber)
        return entry
    }

    /// Where the frame holding `sequence` starts, and the sequence of its first record: from the frame table of
    /// a compacted segment; nil for other segments (their frames are found by the index's offsets).
    func frameStart(holding sequence: UInt64, _ fileSystem: any FileSystem) throws(StorageError) -> (offset: Int64, baseSequence: UInt64)? {
        guard isCompacted else { return nil }
        let table = try file.frameTable(fileSystem, segment: self)
        guard let i = table.frameIndex(holding: sequence) else {
            throw StorageError.corrupt(.badSequence, file.path, dataEnd, "no frame of this segment holds sequence \(sequence)")
        }
        return (Int64(table.offsets[i]), table.baseSequences[i])
    }
}

/// The committed watermark, replaced as a whole by the writer after each durable group.
struct PublishedLog: Sendable {
    var segments: [PublishedSegment]
    var nextSequence: UInt64
    /// Set by `close`: readers stop with `StorageError.closed`.
    var closed = false

    /// Index of the segment holding `sequence` (the last one whose base is ≤ it).
    func segmentIndex(for sequence: UInt64) -> Int {
        var low = 0
        var high = segments.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if segments[mid].file.baseSequence <= sequence { low = mid } else { high = mid - 1 }
        }
        return low
    }
}
