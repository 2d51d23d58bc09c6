import Foundation
import Strata
import StrataConformance
import Testing

/// The conformance suite (the `StrataConformance` library) on every backend of this package.
@Suite struct EventStoreConformanceTests {
    static let native = EventStoreConformance(
        makeStore: {
            let folder = NSTemporaryDirectory() + "strata-conformance-\(UUID().uuidString)"
            // Small segments, so that reads cross segment boundaries.
            return try NativeEventStore(path: folder, options: NativeEventStore.Options(segmentBytesTarget: 16 << 10))
        },
        closeStore: { store in
            try await store.close()
            try? FileManager.default.removeItem(atPath: store.log.path)
        })

    static let memory = EventStoreConformance(makeStore: { InMemoryEventStore() }, closeStore: { $0.close() })

    @Test(arguments: EventStoreConformance<NativeEventStore>.Check.allCases)
    func native(_ check: EventStoreConformance<NativeEventStore>.Check) async throws {
        try await Self.native.run(check)
    }

    @Test(arguments: EventStoreConformance<InMemoryEventStore>.Check.allCases)
    func memory(_ check: EventStoreConformance<InMemoryEventStore>.Check) async throws {
        try await Self.memory.run(check)
    }

    /// A store without snapshots passes the snapshot checks by saying so.
    @Test func aStoreWithoutSnapshotsSaysSo() async throws {
        let conformance = EventStoreConformance(supportsSnapshots: false, makeStore: { CountingStore() })
        try await conformance.run(.snapshotsAreFoundByBoundAndPassedOverWhenRefused)
        try await conformance.run(.aggregatesLoadTheSameFromSnapshots)
    }

    /// The suite fails a store that breaks the contract: one that loses the last event of every batch.
    @Test func theSuiteFailsABrokenStore() async throws {
        let conformance = EventStoreConformance(makeStore: { ForgetfulStore() })
        do {
            try await conformance.run(.appendedEventsReadBackWhole)
            Issue.record("a store that loses events passed")
        } catch let failure as ConformanceFailure {
            #expect(failure.check == "appendedEventsReadBackWhole" && !failure.failures.isEmpty, "\(failure)")
        }
    }
}

/// An in-memory store that drops the last event of each batch of two or more (and says it kept them).
final class ForgetfulStore: ForwardingStore {
    let inner = InMemoryEventStore()

    func append(_ events: [EventRecord], expecting: [PartitionKey: ExpectedVersion]) async throws -> AppendReceipt<UInt64> {
        try await inner.append(events.count > 1 ? Array(events.dropLast()) : events, expecting: expecting)
    }
}
