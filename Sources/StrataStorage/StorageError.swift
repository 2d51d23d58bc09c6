/// A failed system call, with the file it concerned.
public struct IOError: Error, Sendable, Equatable, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var errno: Int32
    public var message: String

    public init(operation: String, path: String, errno: Int32, message: String) {
        self.operation = operation
        self.path = path
        self.errno = errno
        self.message = message
    }

    public var description: String { "\(operation) \(path): \(message) (errno \(errno))" }
}

/// Damage found in a file: where, and what was expected there.
public struct Corruption: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// The file does not start with the magic of what it should be.
        case badMagic
        /// Written by a newer Strata: its `minReaderVersion` is past what this build reads.
        case unsupportedVersion
        /// The file (or a structure in it) ends before its declared size.
        case truncated
        /// A length field out of its range, or two copies of a length that disagree.
        case badLength
        /// A checksum does not match the bytes it covers.
        case badChecksum
        /// A header's field out of its range, or reserved bits set.
        case badHeader
        /// A sequence out of order, or a file name and header that disagree about one.
        case badSequence
        /// A record (an event, an index or heads entry, a snapshot record) does not decode.
        case badRecord
        /// A compressed body does not decompress to its declared size.
        case badCompression
        /// A segment the log needs is not there.
        case missingSegment
        /// A sealed segment's footer is damaged or disagrees with the frames.
        case badFooter
        /// A compacted segment's frame table is damaged or does not list the frames.
        case badFrameTable
    }

    public var kind: Kind
    public var file: String
    public var offset: Int64
    public var detail: String

    public init(kind: Kind, file: String, offset: Int64, detail: String) {
        self.kind = kind
        self.file = file
        self.offset = offset
        self.detail = detail
    }

    /// What to do about it, by the kind of file: a damaged segment is repaired by `strata fsck --repair` (every
    /// intact event kept, the damaged range recorded as lost); index files and snapshots are derived data, rebuilt
    /// or passed over by the store itself. Nil for other files.
    public var remedy: String? {
        if file.hasSuffix(SegmentFileName.suffix) {
            return "run `strata fsck --repair \(Recovery.parentDirectory(of: file))` to keep every intact event and record the damaged range as lost"
        }
        return nil
    }

    /// The file, the offset, the kind, what was found, and the remedy when there is one.
    public var description: String {
        "\(file) at offset \(offset): \(kind.rawValue): \(detail)" + (remedy.map { "; \($0)" } ?? "")
    }
}

/// Why a store's writer stopped: what it was doing and the system call that failed. After a failed write or
/// `fdatasync` the page cache may not match the disk (PostgreSQL's "fsyncgate"), so the writer accepts nothing
/// more; reopening the store recovers from what is on disk.
public struct WriterFailure: Sendable, Equatable, CustomStringConvertible {
    public enum Step: String, Sendable, Equatable, CaseIterable {
        /// Writing or syncing a group of appends (or rolling over to a new segment on the way).
        case commit
        /// The timer's sync of `Durability.interval`.
        case intervalSync
        /// Writing the partition index after a rollover.
        case indexFlush
        /// `LogStore.sealActiveSegment()`.
        case seal
        /// The final sync, checkpoint and index flush of `close()`.
        case close
    }

    /// What the writer was doing.
    public var step: Step
    /// The system call that failed.
    public var error: IOError

    /// A failure of `step` with `error`.
    public init(step: Step, error: IOError) {
        self.step = step
        self.error = error
    }

    /// The step and the failed call.
    public var description: String { "\(step.rawValue): \(error)" }
}

/// Every error the storage engine reports. Callers can switch on it (typed throws).
public enum StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A system call failed.
    case io(IOError)
    /// Another process (or another open store in this process) holds the store's lock file.
    case locked(path: String)
    /// A file is damaged or was not written by a compatible Strata.
    case corrupt(Corruption)
    /// Opening found damage in a segment that valid data follows (at `validDataAt`): not a torn final write, so
    /// the events there were acknowledged once, and cutting the log would lose them and give their sequences to
    /// new events. The store is not opened and nothing on disk was changed; `strata fsck --repair` keeps every
    /// intact event and records the damaged range as lost.
    case damagedLog(Corruption, validDataAt: Int64)
    /// A record of an append failed validation; nothing of the batch was written.
    case invalidRecord(index: Int, reason: String)
    /// The batch does not fit in one frame (`Limits.frameRawBytesMax`, `Limits.recordsPerFrameMax`).
    case batchTooLarge(records: Int, rawBytes: Int)
    /// An append of zero records.
    case emptyBatch
    /// The store was closed.
    case closed
    /// A write or fsync failed earlier; the store accepts no more appends (the page cache can no longer be
    /// trusted to match the disk). Close and reopen it: recovery restores a consistent state.
    case writerFailed(WriterFailure)
    /// The requested store folder does not exist and `create` was false.
    case notFound(path: String)
    /// An expected-version check failed; nothing of the batch was written.
    case versionConflict(stream: PartitionKey, expected: ExpectedVersion, actual: UInt64)
    /// A repair (`strata fsck --repair`) of the store was interrupted; the store does not open until a repair
    /// has been run again to finish it (its `REPAIRING` file says so).
    case repairInterrupted(path: String)
    /// A snapshot to be written breaks a limit of the snapshot format; nothing was written.
    case invalidSnapshot(String)
    /// An option out of its range (the message names it and the range); nothing was done.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .io(let error): "I/O error: \(error)"
        case .locked(let path): "store is locked by another process or handle: \(path)"
        case .corrupt(let corruption): "corrupt: \(corruption)"
        case .damagedLog(let corruption, let validDataAt):
            "damaged log: \(corruption.file) at offset \(corruption.offset): \(corruption.kind.rawValue): \(corruption.detail); valid data follows at offset \(validDataAt), so this is damage, not a torn write, and nothing was cut. The store does not open until it is repaired: run `strata fsck --repair \(storeFolder(of: corruption.file))` to keep every intact event and record the damaged range as lost"
        case .invalidRecord(let index, let reason): "invalid record #\(index) in batch: \(reason)"
        case .batchTooLarge(let records, let rawBytes):
            "batch too large: \(records) records, \(rawBytes) bytes (limits \(Limits.recordsPerFrameMax) records, \(Limits.frameRawBytesMax) bytes)"
        case .emptyBatch: "empty batch"
        case .closed: "store is closed"
        case .writerFailed(let failure): "store writer failed earlier (\(failure)); reopen the store"
        case .notFound(let path): "no store at \(path)"
        case .repairInterrupted(let path): "a repair of the store at \(path) was interrupted: run `strata fsck --repair` to finish it"
        case .invalidSnapshot(let reason): "invalid snapshot: \(reason)"
        case .invalidArgument(let reason): "invalid argument: \(reason)"
        case .versionConflict(let stream, let expected, let actual):
            "version conflict on stream \(stream): expected \(expected), the stream is at version \(actual)"
        }
    }

    static func corrupt(_ kind: Corruption.Kind, _ file: String, _ offset: Int64, _ detail: String) -> StorageError {
        .corrupt(Corruption(kind: kind, file: file, offset: offset, detail: detail))
    }
}

/// The store folder holding a segment file (its parent folder).
func storeFolder(of segmentPath: String) -> String { Recovery.parentDirectory(of: segmentPath) }

/// Runs file I/O, reporting its failure as `StorageError.io`.
@inline(__always)
func io<T>(_ body: () throws(IOError) -> T) throws(StorageError) -> T {
    do throws(IOError) { return try body() } catch { throw .io(error) }
}
