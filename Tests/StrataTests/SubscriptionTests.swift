import Foundation
import Strata
import StrataTestSupport
import Synchronization
import Testing

/// `waitForEvents` on both backends, and subscriptions over it.
@Suite struct SubscriptionTests {
    @Test(arguments: Backend.allCases) func waitingReturnsAtOnceForStoredEventsAndWakesOnAnAppend(_ backend: Backend) async throws {
        try await backend.withStore { store in
            try await store.append([event(key("a"), 1)])
            try await store.waitForEvents(after: nil)
            try await store.waitForEvents(after: 0)
            let woken = Mutex(false)
            let waiter = Task {
                try await store.waitForEvents(after: 1)
                woken.withLock { $0 = true }
            }
            try await Task.sleep(for: .milliseconds(50))
            #expect(!woken.withLock { $0 }, "nothing after position 1 yet")
            try await store.append([event(key("a"), 2)])
            try await waiter.value
            #expect(woken.withLock { $0 })
        }
    }

    @Test(arguments: Backend.allCases) func aCancelledWaitThrowsCancellation(_ backend: Backend) async throws {
        try await backend.withStore { store in
            let waiter = Task { try await store.waitForEvents(after: nil) }
            try await Task.sleep(for: .milliseconds(20))
            waiter.cancel()
            await #expect(throws: CancellationError.self) { try await waiter.value }
            // Cancelled before it waits: the same.
            let early = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                try await store.waitForEvents(after: nil)
            }
            await #expect(throws: CancellationError.self) { try await early.value }
        }
    }

    @Test func closingTheStoreEndsWaitsAndSubscriptions() async throws {
        let store = InMemoryEventStore()
        let waiter = Task { try await store.waitForEvents(after: nil) }
        let subscriber = Task { for try await _ in store.subscribe() {} }
        try await Task.sleep(for: .milliseconds(20))
        store.close()
        await #expect(throws: EventStoreError.closed) { try await waiter.value }
        await #expect(throws: EventStoreError.closed) { try await subscriber.value }

        let folder = NSTemporaryDirectory() + "strata-subscription-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let native = try NativeEventStore(path: folder)
        let nativeSubscriber = Task { for try await _ in native.subscribe() {} }
        try await Task.sleep(for: .milliseconds(20))
        try await native.close()
        await #expect(throws: EventStoreError.closed) { try await nativeSubscriber.value }
    }

    /// Writers append while a subscriber that started from the beginning catches up and goes live: every event
    /// arrives exactly once, in global order, whichever side of the switch it was appended on.
    @Test(arguments: Backend.allCases) func everyEventArrivesOnceInOrderAcrossCatchUpAndLive(_ backend: Backend) async throws {
        try await backend.withStore { store in try await Self.catchUpAndLive(store) }
    }

    static func catchUpAndLive(_ store: some EventStoreUnderTest) async throws {
        for n in 0..<60 { try await store.append([event(key("pre\(n % 7)"), n)]) }
        let writers = 4, perWriter = 60, late = 5
        let total = 60 + writers * perWriter + late
        let progress = Mutex(0)
        async let delivered: [SubscribedEvent<UInt64>] = {
            var seen: [SubscribedEvent<UInt64>] = []
            for try await event in store.subscribe(batchSize: 16) {
                seen.append(event)
                progress.withLock { $0 = seen.count }
                if seen.count == total { break }
            }
            return seen
        }()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    var n = 0
                    while n < perWriter {
                        // Batches of one to three events, several streams.
                        let size = min(1 + (writer + n) % 3, perWriter - n)
                        let records = (0..<size).map { i in event(key("w\(writer)-\((n + i) % 5)"), 1_000 * (writer + 1) + n + i) }
                        try await store.append(records)
                        n += size
                    }
                }
            }
            try await group.waitForAll()
        }
        // Once the subscriber has everything so far it waits live: these arrive through a wake-up.
        let deadline = ContinuousClock.now + .seconds(120)
        while progress.withLock({ $0 }) < total - late && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        for n in 0..<late { try await store.append([event(key("late"), 9_000 + n)]) }
        let events = try await delivered
        #expect(events.map(\.position) == Array(1...UInt64(total)))
        #expect(events.map(\.version).allSatisfy { $0 >= 1 })
        var all: [[UInt8]] = []
        try await store.readAll(after: nil, limit: .max) { record, _ in all.append(Array(record.payload)) }
        #expect(events.map(\.record.payload) == all)
    }

    @Test(arguments: Backend.allCases) func filtersAndAStartPositionSelectEvents(_ backend: Backend) async throws {
        try await backend.withStore { store in try await Self.filtersAndStart(store) }
    }

    static func filtersAndStart(_ store: some EventStoreUnderTest) async throws {
        var expectedT2: [UInt64] = []
        var expectedRemoved: [UInt64] = []
        for n in 0..<40 {
            let tenant = n % 3 == 0 ? "t2" : "t1"
            let type = n % 4 == 0 ? "ItemRemoved" : "ItemAdded"
            let receipt = try await store.append([event(key("c\(n % 5)", tenant: tenant), n, type: type)])
            if tenant == "t2" { expectedT2.append(receipt.first) }
            if type == "ItemRemoved" && receipt.first > 10 { expectedRemoved.append(receipt.first) }
        }
        let t2 = try await take(store.subscribe(filter: .tenant("t2"), batchSize: 7), count: expectedT2.count)
        #expect(t2.map(\.position) == expectedT2 && t2.allSatisfy { $0.record.key.tenant == "t2" })
        let removed = try await take(
            store.subscribe(after: 10, filter: EventFilter(groups: ["Cart"], eventTypes: ["ItemRemoved"])), count: expectedRemoved.count)
        #expect(removed.map(\.position) == expectedRemoved)
        // Nothing matches: the subscription reads on past every event and waits live (cancelled here).
        let nothing = Task { try await take(store.subscribe(filter: .tenant("t3")), count: 1) }
        try await Task.sleep(for: .milliseconds(30))
        nothing.cancel()
        await #expect(throws: CancellationError.self) { try await nothing.value }
    }
}

@Suite struct DurableSubscriptionTests {
    /// A durable subscription resumes after its last commit when the store is closed and opened again,
    /// redelivering what was handled but not committed (at least once); its checkpoints are not events anyone
    /// else sees.
    @Test func aDurableSubscriptionResumesAfterTheStoreIsReopened() async throws {
        let folder = NSTemporaryDirectory() + "strata-durable-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var store = try NativeEventStore(path: folder)
        for n in 1...30 { try await store.append([event(key("c\(n % 4)"), n)]) }

        var mailer = try await store.durableSubscription("mailer")
        #expect(mailer.resumedFrom == nil)
        let first = try await take(mailer, count: 10)
        try await mailer.commit(first[9].position)
        let handledNotCommitted = try await take(mailer, count: 5)
        #expect(handledNotCommitted.map(\.position) == Array(11...15))
        try await store.close()

        store = try NativeEventStore(path: folder)
        #expect(try await store.checkpoint(of: "mailer") == 10)
        mailer = try await store.durableSubscription("mailer")
        #expect(mailer.resumedFrom == 10)
        let again = try await take(mailer, count: 20)
        #expect(again.map(\.position) == Array(11...30), "11…15 again (at least once), then the rest, no checkpoint event")
        try await mailer.commit(30)
        // Live after the restart: a new event arrives.
        async let live = take(mailer, count: 1)
        let receipt = try await store.append([event(key("c9"), 31)])
        #expect(try await live.map(\.position) == [receipt.last])
        try await store.close()

        store = try NativeEventStore(path: folder)
        #expect(try await store.checkpoint(of: "mailer") == 30)
        // The checkpoints are in the store, but neither subscriptions nor projections see them by default.
        var all: [SubscribedEvent<UInt64>] = []
        for try await event in store.subscribe() {
            all.append(event)
            if all.count == 31 { break }
        }
        #expect(all.allSatisfy { $0.record.key.tenant != systemTenant })
        var system: [String] = []
        for try await event in store.subscribe(filter: .tenant(systemTenant)) {
            system.append(event.record.typeName)
            if system.count == 2 { break }
        }
        #expect(system == ["strata.checkpoint", "strata.checkpoint"])
        try await store.close()
    }

    @Test func twoConsumersOfOneNameConflict() async throws {
        let store = InMemoryEventStore()
        try await store.append([event(key("a"), 1), event(key("a"), 2)])
        let one = try await store.durableSubscription("billing")
        let two = try await store.durableSubscription("billing")
        try await one.commit(1)
        await #expect(throws: EventStoreError.self) { try await two.commit(2) }
        try await one.commit(2)
        #expect(try await store.checkpoint(of: "billing") == 2)
        await #expect(throws: EventStoreError.self) { try await store.durableSubscription("") }
    }
}

/// The first `count` events of a subscription (ends the iteration there).
func take<S: AsyncSequence>(_ subscription: S, count: Int) async throws -> [SubscribedEvent<UInt64>] where S.Element == SubscribedEvent<UInt64> {
    var taken: [SubscribedEvent<UInt64>] = []
    guard count > 0 else { return taken }
    for try await event in subscription {
        taken.append(event)
        if taken.count == count { break }
    }
    return taken
}
