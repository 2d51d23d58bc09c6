/// How a file is opened.
public enum FileOpenMode: Sendable {
    /// Read only; the file must exist.
    case read
    /// Read and write; the file must exist.
    case readWrite
    /// Read and write; created empty (truncated if it exists).
    case create
}

/// The file layer the engine talks through. The real one is `PosixFileSystem`; tests substitute a simulated one
/// that drops unsynced writes, tears writes and injects errors (LevelDB's fault-injection env, TigerBeetle's
/// storage simulator). Paths are plain strings, absolute or relative to the working directory.
public protocol FileSystem: Sendable {
    func open(_ path: String, mode: FileOpenMode) throws(IOError) -> any FileHandle
    /// Names (not paths) of the entries in a directory.
    func listDirectory(_ path: String) throws(IOError) -> [String]
    func createDirectory(_ path: String) throws(IOError)
    func fileExists(_ path: String) -> Bool
    func directoryExists(_ path: String) -> Bool
    /// Atomically replaces `to` with `from` (POSIX rename).
    func rename(_ from: String, to: String) throws(IOError)
    func remove(_ path: String) throws(IOError)
    /// Makes the directory's entries (creations, renames, removals) durable.
    func syncDirectory(_ path: String) throws(IOError)
    /// Takes an exclusive advisory lock (flock) held until the returned lock is released or deallocated.
    /// Fails at once (no waiting) when someone else holds it.
    func lockFile(_ path: String) throws(IOError) -> any FileLock
}

/// An open file. All offsets are absolute; reads and writes never move a shared position, so one handle can
/// serve concurrent readers.
public protocol FileHandle: AnyObject, Sendable {
    var path: String { get }
    /// Reads up to `buffer.count` bytes at `offset`; returns fewer only at end of file.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(IOError) -> Int
    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(IOError)
    func size() throws(IOError) -> Int64
    /// Sets the file size, then makes the new size durable.
    func truncate(to size: Int64) throws(IOError)
    /// fdatasync: the data written so far (and the size) is durable when this returns.
    func sync() throws(IOError)
    func close()
}

/// A held exclusive lock.
public protocol FileLock: AnyObject, Sendable {
    func release()
}

extension FileHandle {
    func write(_ bytes: [UInt8], at offset: Int64) throws(IOError) {
        var result: Result<Void, IOError> = .success(())
        bytes.withUnsafeBytes { raw in
            do throws(IOError) { try write(raw, at: offset) } catch { result = .failure(error) }
        }
        try result.get()
    }

    /// Reads `count` bytes at `offset` into a new array (short at end of file).
    func readBytes(count: Int, at offset: Int64) throws(IOError) -> [UInt8] {
        var failure: IOError?
        // Read straight into the array's storage (no zero-fill first); only the bytes read are kept.
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(IOError) {
                initialized = try read(into: UnsafeMutableRawBufferPointer(buffer), at: offset)
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }
}

extension FileSystem {
    /// The size of the file at `path`.
    func fileSize(_ path: String) throws(IOError) -> Int64 {
        let handle = try open(path, mode: .read)
        defer { handle.close() }
        return try handle.size()
    }

    /// A small file (checkpoint, manifest) read whole; empty — which its decoder refuses — when it is larger
    /// than `limit`, so a damaged size never turns into a large allocation.
    func readSmallFile(_ path: String, limit: Int) throws(IOError) -> [UInt8] {
        let handle = try open(path, mode: .read)
        defer { handle.close() }
        let size = try handle.size()
        guard size <= Int64(limit) else { return [] }
        return try handle.readBytes(count: Int(size), at: 0)
    }

    /// Writes a small file atomically: temporary name, write, fsync, rename, directory fsync.
    func writeAtomically(_ bytes: [UInt8], to path: String, directory: String) throws(IOError) {
        let temporary = path + ".tmp"
        let handle = try open(temporary, mode: .create)
        defer { handle.close() }
        try handle.write(bytes, at: 0)
        try handle.sync()
        try rename(temporary, to: path)
        try syncDirectory(directory)
    }
}
