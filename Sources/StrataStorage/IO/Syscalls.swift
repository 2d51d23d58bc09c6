#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Every system call the file layer makes, in one place, with a branch per platform where they differ. The rest
/// of the engine never names a C library module: `PosixFileSystem` calls these.
enum Syscall {
    static func open(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 {
        #if canImport(Glibc)
        Glibc.open(path, flags, mode)
        #elseif canImport(Musl)
        Musl.open(path, flags, mode)
        #elseif canImport(Darwin)
        Darwin.open(path, flags, mode)
        #endif
    }

    static func close(_ fd: Int32) {
        #if canImport(Glibc)
        _ = Glibc.close(fd)
        #elseif canImport(Musl)
        _ = Musl.close(fd)
        #elseif canImport(Darwin)
        _ = Darwin.close(fd)
        #endif
    }

    static func rename(_ from: String, _ to: String) -> Int32 {
        #if canImport(Glibc)
        Glibc.rename(from, to)
        #elseif canImport(Musl)
        Musl.rename(from, to)
        #elseif canImport(Darwin)
        Darwin.rename(from, to)
        #endif
    }

    /// Makes a file's data (and its size) durable. Linux: `fdatasync`. Darwin: `fsync` only reaches the drive's
    /// cache there, so `fcntl(F_FULLFSYNC)` asks the drive to write it to stable storage; a file system that does
    /// not support it (some network and FUSE file systems) falls back to `fsync`, the strongest call left.
    static func syncData(_ fd: Int32) -> Int32 {
        #if canImport(Darwin)
        if fcntl(fd, F_FULLFSYNC) == 0 { return 0 }
        return fsync(fd)
        #else
        return fdatasync(fd)
        #endif
    }

    /// Makes a file's data and metadata (a folder's entries, a new size) durable: `fsync`, or `F_FULLFSYNC` on
    /// Darwin (see `syncData`).
    static func syncAll(_ fd: Int32) -> Int32 {
        #if canImport(Darwin)
        if fcntl(fd, F_FULLFSYNC) == 0 { return 0 }
        #endif
        return fsync(fd)
    }

    static let directoryFlags: Int32 = O_RDONLY | O_DIRECTORY | O_CLOEXEC
    static let closeOnExec: Int32 = O_CLOEXEC
}

extension IOError {
    /// The error of a lock that another process (or another open store in this one) holds: `EWOULDBLOCK`
    /// (`EAGAIN` on Linux) from `flock(LOCK_NB)`, by name, since the numbers differ between platforms.
    public var isLockHeldElsewhere: Bool { errno == EWOULDBLOCK || errno == EAGAIN }

    /// The error of a file or folder that is not there (`ENOENT`).
    public var isNotFound: Bool { errno == ENOENT }

    /// An I/O error reported by the device (`EIO`), as the fault-injecting file system injects it.
    package static func injected(_ operation: String, path: String) -> IOError {
        IOError(operation: operation, path: path, errno: EIO, message: "Input/output error (injected)")
    }

    /// An error of the engine's own, not of a system call (errno 0): a file that changed under a reader, say.
    package static func engine(_ operation: String, path: String, _ message: String) -> IOError {
        IOError(operation: operation, path: path, errno: 0, message: message)
    }

    /// The errno values the simulated file system reports, by name (their numbers differ between platforms).
    package static let codeNoSuchFile = ENOENT
    package static let codeWouldBlock = EWOULDBLOCK
    package static let codeBadDescriptor = EBADF
}
