import StrataStorage
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An in-memory file system that models what a crash keeps (LevelDB's fault-injection env, TigerBeetle's
/// storage simulator):
/// - file contents become durable only on `sync()` (or `truncate`), directory entries only on
///   `syncDirectory`;
/// - `crashed(tear:)` returns the file system as a restart would find it, with the unsynced tail of each file
///   dropped, kept up to a byte offset, zero-filled or garbage-filled;
/// - faults can be injected: fail the next N syncs or writes.
/// Thread-safe; counts reads per file so tests can check that an open read nothing.
public final class SimulatedFileSystem: FileSystem {
    /// What happens to bytes written after a file's last sync when the machine crashes.
    public enum Tear: Sendable, Hashable {
        /// All unsynced bytes are lost.
        case dropUnsynced
        /// The first `n` unsynced bytes reached the disk, the rest did not.
        case keepPrefix(Int)
        /// The first `n` unsynced bytes reached the disk and the rest of the unsynced range reads as zeros.
        case keepPrefixThenZeros(Int)
        /// The first `n` unsynced bytes reached the disk and the rest is garbage (seeded).
        case keepPrefixThenGarbage(Int, seed: UInt64)
        /// Everything written reached the disk.
        case keepAll
    }

    final class Node: Sendable {
        struct Contents: Sendable {
            var current: [UInt8] = []
            var durable: [UInt8] = []
        }
        let contents: Mutex<Contents>
        init(_ contents: Contents = Contents()) { self.contents = Mutex(contents) }
    }

    struct State: Sendable {
        var current: [String: Node] = [:]
        var durable: [String: Node] = [:]
        var directories: Set<String> = []
        var locks: Set<String> = []
        /// Fails the operation after `faultSkip` more matching ones have succeeded.
        var faultSkip: Int?
        var faultOperations: Set<Operation> = []
        var operations: [Operation: Int] = [:]
        var syncDelayMicros = 0
        var reads: [String: Int] = [:]
        var bytesRead: [String: Int] = [:]
        var openHandles = 0
        var openHandlesMax = 0
    }

    let state: Mutex<State>

    public init() { state = Mutex(State()) }

    init(state: State) { self.state = Mutex(state) }

    // MARK: fault injection and inspection

    /// The mutating operations faults can be injected into.
    public enum Operation: Sendable, Hashable, CaseIterable {
        case create, write, sync, truncate, rename, remove, syncDirectory
    }

    /// After `skip` more successful operations of the given kinds, the next one fails with EIO (and does
    /// nothing). One fault per call; `skip` 0 fails the very next one.
    public func injectFault(after skip: Int, on operations: Set<Operation> = Set(Operation.allCases)) {
        state.withLock { s in
            s.faultSkip = skip
            s.faultOperations = operations
        }
    }

    /// The next call to `sync()` on any file fails with EIO.
    public func failNextSync() { injectFault(after: 0, on: [.sync]) }

    /// How many operations of each kind succeeded so far.
    public var operationCounts: [Operation: Int] { state.withLock { $0.operations } }

    /// Makes every `sync()` take this long, like a real disk (for group-commit tests).
    public func setSyncDelay(microseconds: Int) { state.withLock { $0.syncDelayMicros = microseconds } }

    /// Handles open now (opened and neither closed nor released), and the most that were open at once: what a
    /// real process would hold as descriptors.
    public var openHandles: Int { state.withLock { $0.openHandles } }
    public var openHandlesMax: Int { state.withLock { $0.openHandlesMax } }

    func handleOpened() {
        state.withLock { s in
            s.openHandles += 1
            s.openHandlesMax = max(s.openHandlesMax, s.openHandles)
        }
    }

    func handleClosed() { state.withLock { $0.openHandles -= 1 } }

    /// Read calls per path since creation (or `resetReadCounts`).
    public var readCounts: [String: Int] { state.withLock { $0.reads } }
    public var bytesReadCounts: [String: Int] { state.withLock { $0.bytesRead } }
    public func resetReadCounts() { state.withLock { $0.reads = [:]; $0.bytesRead = [:] } }

    /// Current contents of a file (nil if absent).
    public func contents(of path: String) -> [UInt8]? {
        state.withLock { $0.current[path] }?.contents.withLock { $0.current }
    }

    /// Replaces a file's contents, durably (for corruption tests).
    public func setContents(of path: String, to bytes: [UInt8]) {
        let node = state.withLock { s -> Node in
            if let node = s.current[path] { return node }
            let node = Node()
            s.current[path] = node
            s.durable[path] = node
            return node
        }
        node.contents.withLock { $0 = Node.Contents(current: bytes, durable: bytes) }
    }

    /// Paths of all files, sorted.
    public var files: [String] { state.withLock { Array($0.current.keys) }.sorted() }

    /// The file system after a crash: only durable directory entries, each file's durable contents plus its
    /// unsynced tail treated per `tear`. Locks are released (the process died).
    public func crashed(tear: Tear = .dropUnsynced) -> SimulatedFileSystem {
        state.withLock { s in
            var next = State()
            next.directories = s.directories
            for (path, node) in s.durable {
                let c = node.contents.withLock { $0 }
                let bytes = Self.apply(tear, durable: c.durable, current: c.current)
                let copy = Node(Node.Contents(current: bytes, durable: bytes))
                next.current[path] = copy
                next.durable[path] = copy
            }
            return SimulatedFileSystem(state: next)
        }
    }

    static func apply(_ tear: Tear, durable: [UInt8], current: [UInt8]) -> [UInt8] {
        // Writes only append here or rewrite the unsynced tail, so the durable bytes are a prefix of what the
        // disk holds; bytes past them are the unsynced tail.
        let unsynced = current.count > durable.count ? Array(current[durable.count...]) : []
        switch tear {
        case .dropUnsynced:
            return durable
        case .keepAll:
            return durable + unsynced
        case .keepPrefix(let n):
            return durable + unsynced.prefix(n)
        case .keepPrefixThenZeros(let n):
            let kept = min(n, unsynced.count)
            return durable + unsynced.prefix(kept) + [UInt8](repeating: 0, count: unsynced.count - kept)
        case .keepPrefixThenGarbage(let n, let seed):
            let kept = min(n, unsynced.count)
            var rng = SplitMix64(seed: seed)
            let garbage = (0..<(unsynced.count - kept)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            return durable + unsynced.prefix(kept) + garbage
        }
    }

    // MARK: FileSystem

    public func open(_ path: String, mode: FileOpenMode) throws(IOError) -> any FileHandle {
        if mode == .create { try perform(.create, path) }
        let node: Node? = state.withLock { s in
            switch mode {
            case .read, .readWrite:
                return s.current[path]
            case .create:
                if let existing = s.current[path] {
                    existing.contents.withLock { $0.current = [] }
                    return existing
                }
                let node = Node()
                s.current[path] = node
                return node
            }
        }
        guard let node else { throw IOError(operation: "open", path: path, errno: IOError.codeNoSuchFile, message: "No such file or directory") }
        return SimulatedFileHandle(fileSystem: self, node: node, path: path, writable: mode != .read)
    }

    public func listDirectory(_ path: String) throws(IOError) -> [String] {
        let prefix = path.hasSuffix("/") ? path : path + "/"
        return state.withLock { s in
            s.current.keys.filter { $0.hasPrefix(prefix) && !$0.dropFirst(prefix.count).contains("/") }
                .map { String($0.dropFirst(prefix.count)) }
        }.sorted()
    }

    public func createDirectory(_ path: String) throws(IOError) {
        _ = state.withLock { $0.directories.insert(path) }
    }

    public func fileExists(_ path: String) -> Bool { state.withLock { $0.current[path] != nil } }

    public func directoryExists(_ path: String) -> Bool { state.withLock { $0.directories.contains(path) } }

    public func rename(_ from: String, to: String) throws(IOError) {
        try perform(.rename, from)
        try state.withLock { (s) throws(IOError) in
            guard let node = s.current.removeValue(forKey: from) else {
                throw IOError(operation: "rename", path: from, errno: IOError.codeNoSuchFile, message: "No such file or directory")
            }
            s.current[to] = node
        }
    }

    public func remove(_ path: String) throws(IOError) {
        try perform(.remove, path)
        _ = state.withLock { $0.current.removeValue(forKey: path) }
    }

    public func syncDirectory(_ path: String) throws(IOError) {
        try perform(.syncDirectory, path)
        let prefix = path.hasSuffix("/") ? path : path + "/"
        state.withLock { s in
            s.durable = s.durable.filter { !$0.key.hasPrefix(prefix) }
            for (key, node) in s.current where key.hasPrefix(prefix) { s.durable[key] = node }
        }
    }

    public func lockFile(_ path: String) throws(IOError) -> any FileLock {
        try state.withLock { (s) throws(IOError) in
            guard !s.locks.contains(path) else {
                throw IOError(operation: "flock", path: path, errno: IOError.codeWouldBlock, message: "Resource temporarily unavailable")
            }
            s.locks.insert(path)
            if s.current[path] == nil { s.current[path] = Node() }
        }
        return SimulatedLock(fileSystem: self, path: path)
    }

    func releaseLock(_ path: String) { _ = state.withLock { $0.locks.remove(path) } }

    /// Counts the operation, or throws the injected fault.
    func perform(_ operation: Operation, _ path: String) throws(IOError) {
        let fail = state.withLock { s -> Bool in
            if s.faultOperations.contains(operation), let skip = s.faultSkip {
                if skip == 0 {
                    s.faultSkip = nil
                    return true
                }
                s.faultSkip = skip - 1
            }
            s.operations[operation, default: 0] += 1
            return false
        }
        if fail {
            throw IOError.injected("\(operation)", path: path)
        }
    }

    var syncDelayMicros: Int { state.withLock { $0.syncDelayMicros } }

    func countRead(_ path: String, bytes: Int) {
        state.withLock { s in
            s.reads[path, default: 0] += 1
            s.bytesRead[path, default: 0] += bytes
        }
    }
}

final class SimulatedLock: FileLock {
    let fileSystem: SimulatedFileSystem
    let path: String
    let released = Mutex(false)

    init(fileSystem: SimulatedFileSystem, path: String) {
        self.fileSystem = fileSystem
        self.path = path
    }

    deinit { release() }

    func release() {
        let first = released.withLock { r in
            defer { r = true }
            return !r
        }
        if first { fileSystem.releaseLock(path) }
    }
}

final class SimulatedFileHandle: FileHandle {
    let fileSystem: SimulatedFileSystem
    let node: SimulatedFileSystem.Node
    let path: String
    let writable: Bool

    private let closed = Atomic<Bool>(false)

    init(fileSystem: SimulatedFileSystem, node: SimulatedFileSystem.Node, path: String, writable: Bool) {
        self.fileSystem = fileSystem
        self.node = node
        self.path = path
        self.writable = writable
        fileSystem.handleOpened()
    }

    deinit { close() }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(IOError) -> Int {
        let n = node.contents.withLock { c -> Int in
            guard offset < Int64(c.current.count) else { return 0 }
            let n = min(buffer.count, c.current.count - Int(offset))
            c.current.withUnsafeBytes { src in
                buffer.baseAddress!.copyMemory(from: src.baseAddress! + Int(offset), byteCount: n)
            }
            return n
        }
        fileSystem.countRead(path, bytes: n)
        return n
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(IOError) {
        guard writable else { throw IOError(operation: "pwrite", path: path, errno: IOError.codeBadDescriptor, message: "Bad file descriptor") }
        try fileSystem.perform(.write, path)
        node.contents.withLock { c in
            let end = Int(offset) + bytes.count
            if c.current.count < end { c.current.append(contentsOf: repeatElement(0, count: end - c.current.count)) }
            c.current.withUnsafeMutableBytes { dst in
                (dst.baseAddress! + Int(offset)).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            }
            // A write inside the durable range makes that part unsynced again.
            if Int(offset) < c.durable.count { c.durable.removeLast(c.durable.count - Int(offset)) }
        }
    }

    func size() throws(IOError) -> Int64 { node.contents.withLock { Int64($0.current.count) } }

    func truncate(to size: Int64) throws(IOError) {
        try fileSystem.perform(.truncate, path)
        node.contents.withLock { c in
            let n = Int(size)
            if c.current.count > n { c.current.removeLast(c.current.count - n) } else {
                c.current.append(contentsOf: repeatElement(0, count: n - c.current.count))
            }
            c.durable = c.current
        }
    }

    func sync() throws(IOError) {
        try fileSystem.perform(.sync, path)
        let delay = fileSystem.syncDelayMicros
        if delay > 0 { usleep(UInt32(delay)) }
        node.contents.withLock { $0.durable = $0.current }
    }

    func close() {
        if !closed.exchange(true, ordering: .acquiringAndReleasing) { fileSystem.handleClosed() }
    }
}
