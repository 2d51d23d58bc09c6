import Strata
import Synchronization

extension EventStoreConformance {
    @Sendable func subscriptionsDeliverEveryEventOnceInOrder(_ store: Store, _ expect: Expectations) async throws {
        for n in 0..<40 { try await store.append([try added(counter("pre\(n % 7)"), n)]) }
        let writers = 4, perWriter = 40
        let total = 40 + writers * perWriter
        let subscriber = Task { () throws -> [SubscribedEvent<Store.Position>] in
            var seen: [SubscribedEvent<Store.Position>] = []
            for try await event in store.subscribe(batchSize: 16) {
                seen.append(event)
                if seen.count == total { break }
            }
            return seen
        }
        defer { subscriber.cancel() }  // (when the check fails before it is done)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for n in 0..<perWriter {
                        try await store.append([try added(counter("w\(writer)"), 1_000 * (writer + 1) + n)])
                        if n % 10 == 0 { try await Task.sleep(for: .milliseconds(1)) }
                    }
                }
            }
            try await group.waitForAll()
        }
        let delivered = try await withTimeout(seconds: 30, expect, "the subscriber to receive \(total) events") { try await subscriber.value }
        let stored = try await store.everything()
        expect(delivered.map(\.position) == stored.map(\.position), "every event once, in global order (\(delivered.count) of \(stored.count))")
        expect(delivered.map(\.record) == stored.map(\.record), "the events as stored")
        guard stored.count == total else {
            expect.fail("\(total) events appended, \(stored.count) read back")
            return
        }
        // A subscription after a position starts after it; a filter lets through what it names.
        let middle = stored[100].position
        var after: [Store.Position] = []
        for try await event in store.subscribe(after: middle) {
            after.append(event.position)
            if after.count == stored.count - 101 { break }
        }
        expect(after == stored.dropFirst(101).map(\.position), "a subscription after a position")
        var filtered: [PartitionKey] = []
        for try await event in store.subscribe(filter: EventFilter(tenants: ["conformance"], groups: [Counter.group])) {
            filtered.append(event.key)
            if filtered.count == total { break }
        }
        expect(filtered == stored.map(\.key), "a filter naming the tenant and group")
    }

    @Sendable func durableSubscriptionsResume(_ store: Store, _ expect: Expectations) async throws {
        for n in 1...10 { try await store.append([try added(counter("d"), n)]) }
        let first = try await store.durableSubscription("conformance-reader", filter: EventFilter(groups: [Counter.group]))
        expect(first.resumedFrom == nil && first.checkpoint == nil, "a new subscription starts from the beginning")
        var handled: [Int] = []
        for try await event in first {
            guard case .registered(.added(let added)) = try event.decode(Counter.events) else { continue }
            handled.append(added.amount)
            if added.amount == 6 {
                try await first.commit(event.position)
                break
            }
        }
        expect(handled == Array(1...6), "the first six: \(handled)")
        // A second consumer of the same name — a restart — resumes after the checkpoint.
        let restarted = try await store.durableSubscription("conformance-reader", filter: EventFilter(groups: [Counter.group]))
        let checkpoint = try await store.checkpoint(of: "conformance-reader")
        expect(restarted.resumedFrom == checkpoint && checkpoint != nil, "it resumes from the committed checkpoint")
        var resumed: [Int] = []
        for try await event in restarted {
            guard case .registered(.added(let added)) = try event.decode(Counter.events) else { continue }
            resumed.append(added.amount)
            if added.amount == 10 {
                try await restarted.commit(event.position)
                break
            }
        }
        expect(resumed == Array(7...10), "after the checkpoint: \(resumed)")
        // The first consumer is behind the checkpoint stream now: its commit conflicts.
        await expect.throwsStoreError("a stale consumer's commit", { if case .versionConflict = $0 { true } else { false } }) {
            try await first.commit(try expect.require(try await store.everything().last?.position))
        }
        let final = try await store.durableSubscription("conformance-reader")
        expect(final.resumedFrom == (try await store.streamEvents(counter("d")).last?.position), "the last commit is the checkpoint")
    }
}

/// `body`'s result, or a failed expectation when it takes longer than `seconds` (a stalled subscription must fail
/// the check, not hang the suite).
func withTimeout<T: Sendable>(
    seconds: Int, _ expect: Expectations, _ what: String, file: StaticString = #fileID, line: UInt = #line, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let result = try await group.next() ?? nil else {
            expect.fail("waited \(seconds) s for \(what)", file: file, line: line)
            throw ConformanceFailure(check: expect.check, failures: ["waited \(seconds) s for \(what)"])
        }
        return result
    }
}
