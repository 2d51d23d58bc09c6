import Synchronization

/// The answer of one call, waited for at most a time limit: the work runs on a task of its own and its caller
/// stops waiting at the limit (the task's late result is dropped). Used where a wait must end even when the work
/// ignores cancellation: StrataPostgres' calls to postgres-nio, StrataHTTP's request timeouts.
///
/// postgres-nio 1.33 can leave a call waiting forever when its connection closes at the wrong moment: a query
/// written to a connection that has just closed is dropped together with the promise its caller waits on (upstream
/// `vapor/postgres-nio` pull request 487 fixed it and was reverted), and in the restart test row sequences whose
/// connection closed after their first message never ended either. Such a wait ignores cancellation, so the call
/// runs on a task of its own and its caller stops waiting at the limit (the task's late result is dropped).
/// Cancelling the caller cancels the work, and the caller still waits for its answer (a pool lease gives up at
/// once; an append that the server already runs answers as it would have).
package final class Answer<Value: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Value?, any Error>?
        var outcome: Result<Value?, any Error>?
        /// The answer's entry in `AnswerDeadlines` once registered (removed when the work answers first).
        var deadline: UInt64?
    }

    private let state = Mutex(State())

    private init() {}

    /// `work`'s result, or nil when `limit` passed first (noticed within `AnswerDeadlines.tick` of it).
    package static func within(_ limit: Duration, _ work: @escaping @Sendable () async throws -> Value) async throws -> Value? {
        let answer = Answer()
        let worker = Task.detached {
            do { answer.settle(.success(try await work())) } catch { answer.settle(.failure(error)) }
        }
        let deadline = AnswerDeadlines.shared.add(at: ContinuousClock.now.advanced(by: limit)) { answer.settle(.success(nil)) }
        let late = answer.state.withLock { state -> Bool in
            state.deadline = deadline
            return state.outcome != nil
        }
        if late { AnswerDeadlines.shared.remove(deadline) }
        let value = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let outcome = answer.state.withLock { state -> Result<Value?, any Error>? in
                    if state.outcome == nil { state.continuation = continuation }
                    return state.outcome
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            worker.cancel()
        }
        if value == nil { worker.cancel() }  // (a lease still waited for gives up)
        return value
    }

    /// The first outcome wins; it resumes the waiting caller and drops the deadline.
    private func settle(_ outcome: Result<Value?, any Error>) {
        let (continuation, deadline) = state.withLock { state -> (CheckedContinuation<Value?, any Error>?, UInt64?) in
            guard state.outcome == nil else { return (nil, nil) }
            state.outcome = outcome
            defer { state.continuation = nil }
            return (state.continuation, state.deadline)
        }
        if let deadline { AnswerDeadlines.shared.remove(deadline) }
        continuation?.resume(with: outcome)
    }
}

/// The one timer of every `Answer` in the process: a task that wakes at the earliest deadline (at least every
/// `tick` while any is registered) and expires what is due. A task and a timer per call cost more than the calls
/// they bound (an HTTP command: a sleeping task, a dispatch timer and its cancellation each time); this costs a
/// dictionary entry per call and a wake-up per tick. It ends when nothing is registered and starts again with the
/// next deadline.
final class AnswerDeadlines: Sendable {
    static let shared = AnswerDeadlines()
    /// The longest the sweeper sleeps while a deadline is registered: a deadline added while it sleeps toward a
    /// later one expires at most this late.
    static let tick = Duration.milliseconds(20)

    private struct Entry {
        var at: ContinuousClock.Instant
        var expire: @Sendable () -> Void
        /// Found due by a pass: expired by the next one (after a yield), so that work already queued to run —
        /// a worker that answers at once, in a process whose threads were all busy past the deadline — answers
        /// first, as it did when each call had a timer task of its own queued behind its worker.
        var due = false
    }
    private struct State {
        var entries: [UInt64: Entry] = [:]
        var next: UInt64 = 0
        var sweeping = false
    }
    private let state = Mutex(State())

    /// Registers `expire` to run at `at` (once, unless removed first); its key for `remove`.
    func add(at: ContinuousClock.Instant, _ expire: @escaping @Sendable () -> Void) -> UInt64 {
        let (key, start) = state.withLock { state -> (UInt64, Bool) in
            state.next &+= 1
            state.entries[state.next] = Entry(at: at, expire: expire)
            defer { state.sweeping = true }
            return (state.next, !state.sweeping)
        }
        if start { Task.detached { await self.sweep() } }
        return key
    }

    func remove(_ key: UInt64) {
        _ = state.withLock { $0.entries.removeValue(forKey: key) }
    }

    private func sweep() async {
        while true {
            let now = ContinuousClock.now
            let (expired, wake) = state.withLock { state -> ([@Sendable () -> Void], ContinuousClock.Instant?) in
                var expired: [@Sendable () -> Void] = []
                var earliest = now.advanced(by: Self.tick)
                for (key, entry) in state.entries {
                    if entry.due {
                        expired.append(entry.expire)
                        state.entries[key] = nil
                    } else if entry.at <= now {
                        state.entries[key]?.due = true
                        earliest = now
                    } else if entry.at < earliest {
                        earliest = entry.at
                    }
                }
                if state.entries.isEmpty {
                    state.sweeping = false
                    return (expired, nil)
                }
                return (expired, earliest)
            }
            for expire in expired { expire() }
            guard let wake else { return }
            if wake <= now {
                await Task.yield()  // (behind what is already queued: see `Entry.due`)
            } else {
                try? await Task.sleep(until: wake, clock: .continuous)
            }
        }
    }
}
