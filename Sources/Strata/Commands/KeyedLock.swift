import Synchronization

/// One holder per key at a time, waiters served in arrival order; different keys never wait for each other.
/// Suspends (never blocks a thread) while waiting; a free key is taken without suspending.
@usableFromInline final class KeyedLock<Key: Hashable & Sendable>: Sendable {
    /// A held key and the continuations waiting for it, in arrival order.
    @usableFromInline struct Holder: Sendable {
        @usableFromInline var held = false
        @usableFromInline var waiters: [CheckedContinuation<Void, Never>] = []

        @usableFromInline init() {}
    }

    /// The held keys (absent: free).
    @usableFromInline let holders = Mutex<[Key: Holder]>([:])

    @usableFromInline init() {}

    @usableFromInline nonisolated(nonsending) func acquire(_ key: Key) async {
        // A free key: taken here, one hash lookup, no continuation and no suspension (the common case — a command
        // per aggregate at a time).
        let taken = holders.withLock { holders in
            Self.take(&holders[key, default: Holder()])
        }
        if taken { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = holders.withLock { holders -> Bool in
                let acquired = Self.take(&holders[key, default: Holder()])
                if !acquired { holders[key]!.waiters.append(continuation) }
                return acquired
            }
            if acquired { continuation.resume() }  // (released in between)
        }
    }

    /// Marks `holder` held; false when it was held already.
    @inline(__always) @usableFromInline static func take(_ holder: inout Holder) -> Bool {
        if holder.held { return false }
        holder.held = true
        return true
    }

    @usableFromInline func release(_ key: Key) {
        let next = holders.withLock { holders -> CheckedContinuation<Void, Never>? in
            guard let index = holders.index(forKey: key), holders.values[index].held else {
                preconditionFailure("release of a key that is not held")
            }
            guard !holders.values[index].waiters.isEmpty else {
                holders.remove(at: index)
                return nil
            }
            return holders.values[index].waiters.removeFirst()  // still held: ownership passes to it
        }
        next?.resume()
    }

    /// Runs `body` holding `key`.
    @inlinable nonisolated(nonsending) func withLock<T, Failure: Error>(_ key: Key, _ body: () async throws(Failure) -> T) async throws(Failure) -> T {
        await acquire(key)
        defer { release(key) }
        return try await body()
    }
}
