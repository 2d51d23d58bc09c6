@testable import StrataPostgres
import Strata
import Synchronization
import Testing

/// `Answer`: the bound on a postgres-nio call that never answers.
@Suite struct AnswerTests {
    struct Refused: Error {}

    @Test func aWorkThatAnswersGivesItsValueOrItsError() async throws {
        #expect(try await Answer.within(.seconds(10)) { 42 } == 42)
        await #expect(throws: Refused.self) { try await Answer<Int>.within(.seconds(10)) { throw Refused() } }
    }

    @Test func aWorkThatIgnoresCancellationAndNeverAnswersIsGivenUpAtTheLimit() async throws {
        let stop = Atomic<Bool>(false)
        let clock = ContinuousClock(), start = clock.now
        // Like a dropped promise: it does not answer, whatever happens to its task, until the test lets it go.
        let answer = try await Answer<Int>.within(.milliseconds(200)) {
            while !stop.load(ordering: .relaxed) { try? await Task.sleep(for: .milliseconds(10)) }
            return 1
        }
        stop.store(true, ordering: .relaxed)
        #expect(answer == nil)
        #expect(clock.now - start >= .milliseconds(200))
    }

    @Test func cancellingTheCallerCancelsTheWork() async throws {
        let started = AsyncStream<Void>.makeStream()
        let call = Task {
            try await Answer<Int>.within(.seconds(60)) {
                started.continuation.yield()
                try await Task.sleep(for: .seconds(60))
                return 1
            }
        }
        for await _ in started.stream { break }
        call.cancel()
        await #expect(throws: CancellationError.self) { try await call.value }
    }
}
