import Synchronization

/// Wakes the tasks that wait for a store's committed head to pass a position: what live subscriptions and
/// projections sleep on between appends.
///
/// The store calls `published(_:)` after each commit becomes visible to reads. A waiter reads the head through
/// the `head` closure under the signal's lock when it registers, so a commit published between the waiter's
/// last read and its registration is never missed: either the waiter sees the new head, or it is registered
/// before `published` takes the lock.
package final class CommitSignal: Sendable {
    private struct Waiter {
        var after: UInt64
        var continuation: CheckedContinuation<Bool, any Error>
    }

    private struct State {
        var waiters: [UInt64: Waiter] = [:]
        var nextId: UInt64 = 0
        var closed = false
    }

    private let state = Mutex(State())

    package init() {}

    /// Wakes every waiter for a position before `head` (the new last committed position).
    package func published(_ head: UInt64) {
        let woken = state.withLock { state -> [CheckedContinuation<Bool, any Error>] in
            guard state.waiters.contains(where: { $0.value.after < head }) else { return [] }
            var woken: [CheckedContinuation<Bool, any Error>] = []
            state.waiters = state.waiters.filter { _, waiter in
                if waiter.after < head {
                    woken.append(waiter.continuation)
                    return false
                }
                return true
            }
            return woken
        }
        for continuation in woken { continuation.resume(returning: true) }
    }

    /// Wakes every waiter with "closed"; later waits return at once.
    package func close() {
        let woken = state.withLock { state -> [CheckedContinuation<Bool, any Error>] in
            state.closed = true
            defer { state.waiters = [:] }
            return state.waiters.values.map(\.continuation)
        }
        for continuation in woken { continuation.resume(returning: false) }
    }

    /// Suspends until the committed head (`head()`, read under the signal's lock) is past `position`: returns
    /// true then, false when the store is closed. Throws `CancellationError` when the task is cancelled.
    package func wait(after position: UInt64, head: () -> UInt64) async throws -> Bool {
        let id = state.withLock { state in
            defer { state.nextId += 1 }
            return state.nextId
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, any Error>) in
                let now: Result<Bool, any Error>? = state.withLock { state in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if state.closed { return .success(false) }
                    if head() > position { return .success(true) }
                    state.waiters[id] = Waiter(after: position, continuation: continuation)
                    return nil
                }
                if let now { continuation.resume(with: now) }
            }
        } onCancel: {
            // Registered already: take it out and fail it; not yet: the registration sees the cancellation.
            state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }
}
