import Synchronization

/// The segment files of one store that hold an open read handle, at most `capacity` of them (besides pinned ones):
/// opening one more closes — drops, for its users to finish with — the least recently used. What keeps a store of
/// 10,000 segments within a process's descriptor limit (256 by default on macOS, 1,024 on many Linux systems).
final class SegmentHandleCache: Sendable {
    let capacity: Int
    private let clock = Atomic<UInt64>(0)
    private let files = Mutex<[ObjectIdentifier: WeakSegmentFile]>([:])

    struct WeakSegmentFile {
        weak var file: SegmentFile?
    }

    init(capacity: Int) {
        precondition(capacity >= 1, "a store needs at least one segment handle")
        self.capacity = capacity
    }

    /// The next tick of the cache's clock.
    func tick() -> UInt64 { clock.add(1, ordering: .relaxed).newValue }

    /// Segment files holding a handle now (pinned ones included).
    var openCount: Int { files.withLock { $0.count } }

    /// `file` opened its handle: evict beyond capacity. The evicted files drop their handles after the cache's lock
    /// is released (a file's own lock is never taken under the cache's).
    func opened(_ file: SegmentFile) {
        let victims = files.withLock { files -> [SegmentFile] in
            files[ObjectIdentifier(file)] = WeakSegmentFile(file: file)
            var live: [(SegmentFile, UInt64)] = []
            var unpinned = 0
            for (id, entry) in files {
                guard let other = entry.file else {
                    files[id] = nil
                    continue
                }
                if other === file || other.pinned.load(ordering: .acquiring) { continue }
                unpinned += 1
                live.append((other, other.lastUse.load(ordering: .relaxed)))
            }
            // (The file just opened counts too, unless pinned.)
            let count = unpinned + (file.pinned.load(ordering: .acquiring) ? 0 : 1)
            guard count > capacity else { return [] }
            live.sort { $0.1 < $1.1 }
            let evicted = live.prefix(count - capacity).map(\.0)
            for victim in evicted { files[ObjectIdentifier(victim)] = nil }
            return evicted
        }
        for victim in victims { victim.dropHandle() }
    }

    /// `file` went away (its handle closes with it).
    func forget(_ file: SegmentFile) {
        let id = ObjectIdentifier(file)
        files.withLock { _ = $0.removeValue(forKey: id) }
    }
}
