import Foundation
import Logging
import ServiceLifecycle
import Strata
import StrataStorage
import StrataServices
import Testing

struct Added: Event {
    static let eventType = "Added"
    var n: Int
}

enum Counter: AggregateProjector {
    typealias State = Int
    typealias Events = Added
    static let group = "Counter"
    static let events = EventTypes<Added>().on(Added.self) { $0 }
    static let initialState = 0
    static let snapshotPolicy = SnapshotPolicy.every(5, after: 1)
    static func apply(_ state: consuming State, _ event: Added) -> State { state + event.n }
}

enum Total: MultiProjector {
    typealias State = Int
    typealias Events = Added
    static let projectorName = "total"
    static let events = EventTypes<Added>().on(Added.self) { $0 }
    static let initialState = 0
    static func apply(_ state: inout State, _ event: Added, _ context: EventContext) { state += event.n }
}

@Suite struct ServicesTests {
    /// The compactor and a projection run as services of one group: they do their work while the group runs and
    /// return cleanly when it shuts down gracefully.
    @Test func servicesWorkWhileTheGroupRunsAndStopOnGracefulShutdown() async throws {
        let store = InMemoryEventStore()
        let compactor = Compactor(store: store)
        compactor.register(Counter.self)
        let total = Projection(Total.self, store: store)
        let group = ServiceGroup(configuration: .init(
            services: [CompactorService(compactor), ProjectionService(total)], logger: Logger(label: "strata-test")))
        let running = Task { try await group.run() }
        let key = PartitionKey(tenant: "acme", group: "Counter", id: "1")
        var last: UInt64 = 0
        for n in 1...6 { last = try await store.append([try EventRecord(Added(n: n), key: key)]).last }
        // (Bounds, not timings: the whole suite runs beside, and CI once took over 10 s here.)
        try await total.wait(until: last, timeout: .seconds(60))
        #expect(total.state == 21)
        let deadline = ContinuousClock.now + .seconds(60)
        while try await store.loadSnapshot(Counter.self, key).aggregate == nil && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(try await store.loadSnapshot(Counter.self, key).aggregate?.version == 5)
        await group.triggerGracefulShutdown()
        try await running.value  // returns, without an error
    }

    /// The cold-compaction service rewrites the sealed segments of a native store while the group runs, then
    /// stops with it.
    @Test func coldCompactionServiceCompactsSealedSegments() async throws {
        let path = NSTemporaryDirectory() + "strata-cold-\(UInt64.random(in: 0 ... .max))"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try NativeEventStore(path: path, options: NativeEventStore.Options(durability: .never, segmentBytesTarget: 4_096))
        let key = PartitionKey(tenant: "acme", group: "Counter", id: "1")
        for n in 1...300 { _ = try await store.append([try EventRecord(Added(n: n), key: key)]) }
        let before = store.log.segmentSummary
        #expect(before.sealed > 3 && before.compacted == 0)
        let service = ColdCompactionService(store, policy: LogStore.ColdCompaction(olderThan: .zero), every: .milliseconds(20))
        let group = ServiceGroup(configuration: .init(services: [service], logger: Logger(label: "strata-test")))
        let running = Task { try await group.run() }
        let deadline = ContinuousClock.now + .seconds(120)
        while store.log.segmentSummary.compacted < store.log.segmentSummary.sealed && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        let after = store.log.segmentSummary
        #expect(after.compacted >= 1 && after.sealed == after.compacted, "\(after)")
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(try await store.load(Counter.self, key).state == 300 * 301 / 2)
        try await store.close()
    }
}
