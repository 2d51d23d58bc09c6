import Strata
import Synchronization

/// What a read's closure throws in the checks, to see it come back unchanged.
struct Stop: Error, Equatable {
    var at: Int
}

extension EventStoreConformance {
    @Sendable func streamReadsHonourRangesLimitsAndAsOf(_ store: Store, _ expect: Expectations) async throws {
        let a = counter("a"), b = counter("b")
        var positions: [Store.Position] = []
        for n in 1...10 {
            let receipt = try await store.append([try added(a, n), try added(b, 100 + n)])
            positions.append(receipt.first)
        }
        func versions(from: UInt64 = 1, through: UInt64 = .max, asOf: Store.Position? = nil, limit: Int = .max) async throws -> [UInt64] {
            try await store.streamEvents(a, from: from, through: through, asOf: asOf, limit: limit).map(\.version)
        }
        expect(try await versions() == Array(1...10), "the whole stream")
        expect(try await versions(from: 4, through: 6) == [4, 5, 6], "a version range")
        expect(try await versions(from: 8, limit: 2) == [8, 9], "a limit")
        expect(try await versions(from: 11) == [], "past the end")
        expect(try await versions(from: 5, through: 4) == [], "an empty range")
        expect(try await versions(limit: 0) == [], "limit 0")
        expect(try await versions(asOf: positions[4]) == [1, 2, 3, 4, 5], "as of the 5th append's position")
        expect(try await versions(from: 3, asOf: positions[1]) == [], "as of a position before the range")
        expect(try await versions(asOf: .origin) == [], "as of the origin")
        let count = try await store.readStream(a, from: 2, through: 4, asOf: nil, limit: .max) { _, _ in }
        expect(count == 3, "readStream returns how many it delivered: \(count)")
        // Each event's position is the one the global order gives it.
        let global = try await store.everything()
        let streamed = try await store.streamEvents(b)
        expect(streamed.map(\.position) == global.filter { $0.key == b }.map(\.position), "stream positions are global positions")
    }

    @Sendable func globalReadsResumeExactlyWhereAsked(_ store: Store, _ expect: Expectations) async throws {
        var positions: [Store.Position] = []
        for n in 1...120 { positions.append(try await store.append([try added(counter("s\(n % 9)"), n)]).first) }
        func read(after index: Int?, limit: Int) async throws -> [Store.Position] {
            var seen: [Store.Position] = []
            try await store.readAll(after: index.map { positions[$0 - 1] }, limit: limit) { _, at in seen.append(at) }
            return seen
        }
        func slice(_ range: ClosedRange<Int>) -> [Store.Position] { Array(positions[(range.lowerBound - 1)...(range.upperBound - 1)]) }
        expect(try await read(after: nil, limit: 10) == slice(1...10), "the first page")
        expect(try await read(after: 50, limit: 10) == slice(51...60), "a page from the middle")
        expect(try await read(after: 10, limit: 10) == slice(11...20), "a page back before it")
        expect(try await read(after: 60, limit: 100) == slice(61...120), "to the end")
        expect(try await read(after: 120, limit: 3) == [], "after the last event")
        expect(try await read(after: 20, limit: 0) == [], "limit 0")
        let last = try await store.readAll(after: positions[20], limit: 5) { _, _ in }
        expect(last == positions[25], "readAll returns the last position it delivered")
        // The closure's own error comes back as it was thrown; later reads are unaffected.
        var delivered: [Store.Position] = []
        do {
            try await store.readAll(after: positions[24], limit: 10) { _, at in
                if at == positions[27] { throw Stop(at: 28) }
                delivered.append(at)
            }
            expect.fail("the closure's error was not thrown")
        } catch let stop as Stop {
            expect(stop == Stop(at: 28), "the closure's error unchanged")
        }
        expect(delivered == slice(26...27), "delivered before the error: \(delivered)")
        expect(try await read(after: 27, limit: 3) == slice(28...30), "a read after the failed one")
        expect(try await read(after: 25, limit: 3) == slice(26...28), "a read from before it")
        do {
            try await store.readStream(counter("s1"), from: 1, through: .max, asOf: nil, limit: .max) { _, _ in throw Stop(at: 0) }
            expect.fail("the stream read's closure error was not thrown")
        } catch let stop as Stop {
            expect(stop == Stop(at: 0), "a stream read's closure error unchanged")
        }
    }

    @Sendable func positionsRoundTripTheirStringForm(_ store: Store, _ expect: Expectations) async throws {
        for n in 1...30 { try await store.append([try added(counter("p\(n % 4)"), n), try added(counter("q"), n)]) }
        let all = try await store.everything()
        let positions = all.map(\.position)
        guard positions.count == 60 else {
            expect.fail("60 events appended, \(positions.count) read back")
            return
        }
        expect(positions == positions.sorted() && Set(positions).count == positions.count, "positions are distinct and ordered as read")
        expect(positions.allSatisfy { $0 > Store.Position.origin }, "every event is after the origin")
        for position in positions + [.origin] {
            let text = position.description
            expect(Store.Position(text) == position, "the string form \(text) parses back to its position")
            expect(!text.isEmpty && !text.contains(where: \.isNewline), "a string form fit for a log line or a URL: \(text)")
        }
        expect(Store.Position("") == nil && Store.Position("not a position \u{1F600}") == nil, "text that is no position does not parse")
        expect(try await store.everything(after: .origin).map(\.position) == positions, "reading after the origin reads everything")
        let middle = positions[positions.count / 2]
        let parsed = try expect.require(Store.Position(middle.description))
        expect(try await store.everything(after: parsed).map(\.position) == Array(positions.drop { $0 <= middle }),
               "reading after a parsed position resumes after it")
    }

    @Sendable func waitingForEventsWakesOnAppend(_ store: Store, _ expect: Expectations) async throws {
        let receipt = try await store.append([try added(counter("a"), 1)])
        try await store.waitForEvents(after: nil)  // at once: an event is stored
        try await store.waitForEvents(after: .origin)
        let woken = Mutex(false)
        let waiter = Task {
            try await store.waitForEvents(after: receipt.last)
            woken.withLock { $0 = true }
        }
        try await Task.sleep(for: .milliseconds(50))
        expect(!woken.withLock { $0 }, "nothing after the last position yet, and the wait returned")
        try await store.append([try added(counter("a"), 2)])
        try await waiter.value
        expect(woken.withLock { $0 }, "an append woke the waiter")
        // Cancelled while waiting, and before it waits.
        let last = try expect.require(try await store.everything().last?.position)
        let cancelled = Task { try await store.waitForEvents(after: last) }
        try await Task.sleep(for: .milliseconds(20))
        cancelled.cancel()
        do {
            try await cancelled.value
            expect.fail("a cancelled wait returned")
        } catch {
            expect(error is CancellationError, "a cancelled wait throws CancellationError, not \(error)")
        }
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await store.waitForEvents(after: last)
        }
        do {
            try await early.value
            expect.fail("a wait cancelled before it started returned")
        } catch {
            expect(error is CancellationError, "a wait cancelled before it started throws CancellationError, not \(error)")
        }
    }
}
