import Synchronization

/// One holder per key at a time, waiters served in arrival order; different keys never wait for each other.
/// Suspends (never blocks a thread) while waiting.
@usableFromInline final class KeyedLock<Key: Hashable & Sendable>: Sendable {
    /// For each held key, the continuations waiting for it (absent: free).
    @usableFromInline let waiting = Mutex<[Key: [CheckedContinuation<Void, Never>]]>([:])

    @usableFromInline nonisolated(nonsending) func acquire(_ key: Key) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = waiting.withLock { waiting -> Bool in
                if waiting[key] == nil {
                    waiting[key] = []
                    return true
                }
                waiting[key]!.append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
    }

    @usableFromInline func release(_ key: Key) {
        let next = waiting.withLock { waiting -> CheckedContinuation<Void, Never>? in
            guard var queue = waiting[key] else { preconditionFailure("release of a key that is not held") }
            guard !queue.isEmpty else {
                waiting[key] = nil
                return nil
            }
            let first = queue.removeFirst()
            waiting[key] = queue
            return first
        }
        next?.resume()  // ownership passes to the next waiter
    }

    /// Runs `body` holding `key`.
    @inlinable nonisolated(nonsending) func withLock<T, Failure: Error>(_ key: Key, _ body: () async throws(Failure) -> T) async throws(Failure) -> T {
        await acquire(key)
        defer { release(key) }
        return try await body()
    }
}
