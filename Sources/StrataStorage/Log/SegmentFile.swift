import Synchronization

/// One segment file of the store, shared by the writer and readers. The read handle is opened on first use,
/// so opening a store with many segments opens no file it does not read.
final class SegmentFile: Sendable {
    let number: UInt64
    let baseSequence: UInt64
    let path: String
    private let handle: Mutex<(any FileHandle)?>

    init(number: UInt64, baseSequence: UInt64, path: String, handle: (any FileHandle)? = nil) {
        self.number = number
        self.baseSequence = baseSequence
        self.path = path
        self.handle = Mutex(handle)
    }

    func open(_ fileSystem: any FileSystem) throws(IOError) -> any FileHandle {
        try handle.withLock { (current) throws(IOError) -> any FileHandle in
            if let current { return current }
            let opened = try fileSystem.open(path, mode: .read)
            current = opened
            return opened
        }
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

    var checkpointEntry: Checkpoint.Segment {
        Checkpoint.Segment(
            number: file.number, baseSequence: file.baseSequence, lastSequence: lastSequence,
            dataEnd: UInt64(dataEnd), frameCount: frameCount, sealed: sealed)
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
