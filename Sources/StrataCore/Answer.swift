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
        var timer: Task<Void, Never>?
    }

    private let state = Mutex(State())

    private init() {}

    /// `work`'s result, or nil when `limit` passed first.
    package static func within(_ limit: Duration, _ work: @escaping @Sendable () async throws -> Value) async throws -> Value? {
        let answer = Answer()
        let worker = Task.detached {
            do { answer.settle(.success(try await work())) } catch { answer.settle(.failure(error)) }
        }
        let timer = Task.detached {
            do {
                try await Task.sleep(for: limit)
                answer.settle(.success(nil))
            } catch {}  // cancelled: the work answered first
        }
        let late = answer.state.withLock { state -> Bool in
            state.timer = timer
            return state.outcome != nil
        }
        if late { timer.cancel() }
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

    /// The first outcome wins; it resumes the waiting caller and stops the other side.
    private func settle(_ outcome: Result<Value?, any Error>) {
        let (continuation, timer) = state.withLock { state -> (CheckedContinuation<Value?, any Error>?, Task<Void, Never>?) in
            guard state.outcome == nil else { return (nil, nil) }
            state.outcome = outcome
            defer { state.continuation = nil }
            return (state.continuation, state.timer)
        }
        timer?.cancel()
        continuation?.resume(with: outcome)
    }
}
