import Foundation
import Strata
import StrataStorage
import StrataTestSupport
import Testing

/// The backends the tests of this target run on (the conformance suite itself is `EventStoreConformanceTests`).
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case native, memory

    var testDescription: String { rawValue }

    /// Runs `body` on a fresh, empty store of this backend, then closes it.
    func withStore(_ body: (any EventStoreUnderTest) async throws -> Void) async throws {
        switch self {
        case .native:
            let folder = NSTemporaryDirectory() + "strata-conformance-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let store = try NativeEventStore(path: folder, options: LogStore.Options(segmentBytesTarget: 16 << 10))
            try await body(store)
            try await store.close()
        case .memory:
            let store = InMemoryEventStore()
            try await body(store)
            store.close()
        }
    }
}

/// The stores under test have positions that are global sequences; the suite is written once against this.
protocol EventStoreUnderTest: EventStore where Position == UInt64 {}
extension NativeEventStore: EventStoreUnderTest {}
extension InMemoryEventStore: EventStoreUnderTest {}

func key(_ id: String, tenant: String = "acme") -> PartitionKey { PartitionKey(tenant: tenant, group: "Cart", id: id) }

func event(_ key: PartitionKey, _ n: Int, type: String = "ItemAdded") -> EventRecord {
    EventRecord(
        key: key, typeName: type, typeVersion: 1, timestampMicros: 1_795_000_000_000_000 + Int64(n),
        eventId: .random(), metadata: RecordMetadata(correlationId: "c\(n)", causationId: nil, user: "u"),
        payload: Array(#"{"n":\#(n)}"#.utf8))
}

/// A store that hands every call to an in-memory store; a test's store overrides what it changes.
protocol ForwardingStore: EventStore where Position == UInt64 {
    var inner: InMemoryEventStore { get }
}

extension ForwardingStore {
    nonisolated(nonsending) func append(_ events: [EventRecord], expecting: [PartitionKey: ExpectedVersion]) async throws -> AppendReceipt<UInt64> {
        try await inner.append(events, expecting: expecting)
    }

    nonisolated(nonsending) func version(of stream: PartitionKey) async throws -> UInt64 { try await inner.version(of: stream) }

    nonisolated(nonsending) func readStream(
        _ stream: PartitionKey, from: UInt64, through: UInt64, asOf: UInt64?, limit: Int, _ body: (EventView, UInt64) throws -> Void
    ) async throws -> Int {
        try await inner.readStream(stream, from: from, through: through, asOf: asOf, limit: limit, body)
    }

    nonisolated(nonsending) func readAll(after position: UInt64?, limit: Int, _ body: (EventView, UInt64) throws -> Void) async throws -> UInt64? {
        try await inner.readAll(after: position, limit: limit, body)
    }

    nonisolated(nonsending) func waitForEvents(after position: UInt64?) async throws { try await inner.waitForEvents(after: position) }
}

extension Sequence {
    func asyncFlatMap<T>(_ transform: (Element) async throws -> [T]) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result += try await transform(element) }
        return result
    }
}
