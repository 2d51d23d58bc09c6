#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Every call that differs between platforms goes through `Syscall` (Syscalls.swift).

/// The real file layer: POSIX calls, retried on EINTR, failures as `IOError` naming the call and the path.
public struct PosixFileSystem: FileSystem {
    public init() {}

    public func open(_ path: String, mode: FileOpenMode) throws(IOError) -> any FileHandle {
        let flags: Int32
        switch mode {
        case .read: flags = O_RDONLY
        case .readWrite: flags = O_RDWR
        case .create: flags = O_RDWR | O_CREAT | O_TRUNC
        }
        let fd = try retrying("open", path) { Syscall.open(path, flags | Syscall.closeOnExec, 0o644) }
        return PosixFileHandle(fd: fd, path: path)
    }

    public func listDirectory(_ path: String) throws(IOError) -> [String] {
        guard let dir = opendir(path) else { throw posixError("opendir", path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public func createDirectory(_ path: String) throws(IOError) {
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw posixError("mkdir", path) }
    }

    public func fileExists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    public func directoryExists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public func rename(_ from: String, to: String) throws(IOError) {
        if Syscall.rename(from, to) != 0 { throw posixError("rename", "\(from) -> \(to)") }
    }

    public func remove(_ path: String) throws(IOError) {
        if unlink(path) != 0 && errno != ENOENT { throw posixError("unlink", path) }
    }

    public func syncDirectory(_ path: String) throws(IOError) {
        let fd = try retrying("open", path) { Syscall.open(path, Syscall.directoryFlags, 0) }
        defer { Syscall.close(fd) }
        _ = try retrying("fsync", path) { Syscall.syncAll(fd) }
    }

    public func lockFile(_ path: String) throws(IOError) -> any FileLock {
        let fd = try retrying("open", path) { Syscall.open(path, O_RDWR | O_CREAT | Syscall.closeOnExec, 0o644) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let error = posixError("flock", path)
            Syscall.close(fd)
            throw error
        }
        return PosixFileLock(fd: fd)
    }
}

func posixError(_ operation: String, _ path: String, _ code: Int32 = errno) -> IOError {
    IOError(operation: operation, path: path, errno: code, message: String(cString: strerror(code)))
}

/// Runs a call that returns -1 and sets errno on failure, retrying on EINTR.
@inline(__always)
func retrying<T: BinaryInteger>(_ operation: String, _ path: String, _ call: () -> T) throws(IOError) -> T {
    while true {
        let result = call()
        if result >= 0 { return result }
        let code = errno
        if code == EINTR { continue }
        throw posixError(operation, path, code)
    }
}

/// An open descriptor. `Sendable`: the descriptor is an immutable integer and every call it makes is a
/// positional syscall (pread/pwrite/fdatasync/ftruncate) that the kernel serialises; `close` is guarded by an
/// atomic flag so it runs once.
final class PosixFileHandle: FileHandle {
    let fd: Int32
    let path: String
    private let closed = AtomicFlag()

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close() }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(IOError) -> Int {
        var done = 0
        while done < buffer.count {
            let n = try retrying("pread", path) {
                pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + Int64(done)))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(IOError) {
        var done = 0
        while done < bytes.count {
            let n = try retrying("pwrite", path) {
                pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + Int64(done)))
            }
            if n == 0 { throw IOError(operation: "pwrite", path: path, errno: EIO, message: "wrote 0 bytes") }
            done += n
        }
    }

    func size() throws(IOError) -> Int64 {
        var st = stat()
        _ = try retrying("fstat", path) { fstat(fd, &st) }
        return Int64(st.st_size)
    }

    func truncate(to size: Int64) throws(IOError) {
        _ = try retrying("ftruncate", path) { ftruncate(fd, off_t(size)) }
        _ = try retrying("fsync", path) { Syscall.syncAll(fd) }
    }

    func sync() throws(IOError) {
        _ = try retrying("fdatasync", path) { Syscall.syncData(fd) }
    }

    func close() {
        if closed.setOnce() { Syscall.close(fd) }
    }
}

final class PosixFileLock: FileLock {
    let fd: Int32
    private let released = AtomicFlag()

    init(fd: Int32) { self.fd = fd }
    deinit { release() }

    func release() {
        if released.setOnce() {
            _ = flock(fd, LOCK_UN)
            Syscall.close(fd)
        }
    }
}
