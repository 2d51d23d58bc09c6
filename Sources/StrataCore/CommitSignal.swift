import Synchronization

/// Wakes the tasks that wait for a store's committed head (or a projection's position) to pass a position: what
/// live subscriptions and projections sleep on between appends, and read-your-writes waits on.
///
/// The store calls `published(_:)` after each commit becomes visible to reads. A waiter reads the head through
/// the `head` closure under the signal's lock when it registers, so a commit published between the waiter's
/// last read and its registration is never missed: either the waiter sees the new head, or it is registered
/// before `published` takes the lock.
package final class CommitSignal<Position: Comparable & Sendable>: Sendable {
    private struct Waiter {
        /// nil: before every position.
        var after: Position?
        /// Whether reaching `after` is enough (else it must be passed).
        var reaching: Bool
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
    package func published(_ head: Position) {
        let woken = state.withLock { state -> [CheckedContinuation<Bool, any Error>] in
            guard state.waiters.contains(where: { Self.passed(head, $0.value.after, $0.value.reaching) }) else { return [] }
            var woken: [CheckedContinuation<Bool, any Error>] = []
            state.waiters = state.waiters.filter { _, waiter in
                if Self.passed(head, waiter.after, waiter.reaching) {
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

    /// `wait(after:head:)` for at most `timeout`: true when the head passed `position`, false when the signal is
    /// closed, nil when `timeout` passed first. Throws `CancellationError` when the task is cancelled.
    package func wait(after position: Position?, timeout: Duration, head: @escaping @Sendable () -> Position?) async throws -> Bool? {
        try await withThrowingTaskGroup(of: Bool?.self) { group in
            group.addTask { try await self.wait(after: position, head: head) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
    }

    private static func passed(_ head: Position?, _ position: Position?, _ reaching: Bool) -> Bool {
        guard let head else { return false }
        guard let position else { return true }
        return reaching ? head >= position : head > position
    }

    /// Suspends until the committed head (`head()`, read under the signal's lock; nil: nothing yet) is past
    /// `position` (nil: before every position): returns true then, false when the store is closed. Throws
    /// `CancellationError` when the task is cancelled. `reaching`: a head equal to `position` is enough.
    package func wait(after position: Position?, reaching: Bool = false, head: () -> Position?) async throws -> Bool {
        let id = state.withLock { state in
            defer { state.nextId += 1 }
            return state.nextId
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, any Error>) in
                let now: Result<Bool, any Error>? = state.withLock { state in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if state.closed { return .success(false) }
                    if Self.passed(head(), position, reaching) { return .success(true) }
                    state.waiters[id] = Waiter(after: position, reaching: reaching, continuation: continuation)
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
