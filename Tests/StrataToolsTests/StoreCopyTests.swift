import Strata
import StrataTools
import Testing

/// A store whose stream `gapped` skips version 3 (as a native store does after a repair put a lost range where
/// damaged events were): its events read as versions 1, 2, 4, 5, …
final class GappedStore: EventStore {
    typealias Position = UInt64
    let inner = InMemoryEventStore()
    let gapped: PartitionKey

    init(gapped: PartitionKey) { self.gapped = gapped }

    func shifted(_ view: EventView) -> EventView {
        guard view.version >= 3, view.key == gapped else { return view }
        return EventView(
            version: view.version + 1, typeVersion: view.typeVersion, timestampMicros: view.timestampMicros, eventId: view.eventId,
            tenantBytes: view.tenantBytes, groupBytes: view.groupBytes, idBytes: view.idBytes, typeNameBytes: view.typeNameBytes,
            correlationId: view.correlationId, causationId: view.causationId, userBytes: view.userBytes, payload: view.payload)
    }

    func append(_ events: [EventRecord], expecting: [PartitionKey: ExpectedVersion]) async throws -> AppendReceipt<UInt64> {
        try await inner.append(events, expecting: expecting)
    }

    func version(of stream: PartitionKey) async throws -> UInt64 { try await inner.version(of: stream) }

    func readStream(
        _ stream: PartitionKey, from: UInt64, through: UInt64, asOf: UInt64?, limit: Int, _ body: (EventView, UInt64) throws -> Void
    ) async throws -> Int {
        try await inner.readStream(stream, from: from, through: through, asOf: asOf, limit: limit) { try body(shifted($0), $1) }
    }

    func readAll(after position: UInt64?, limit: Int, _ body: (EventView, UInt64) throws -> Void) async throws -> UInt64? {
        try await inner.readAll(after: position, limit: limit) { try body(shifted($0), $1) }
    }

    func waitForEvents(after position: UInt64?) async throws { try await inner.waitForEvents(after: position) }
}

@Suite struct StoreCopyTests {
    let a = PartitionKey(tenant: "acme", group: "Cart", id: "a")
    let gapped = PartitionKey(tenant: "acme", group: "Cart", id: "gapped")

    func event(_ key: PartitionKey, _ n: Int) -> EventRecord {
        EventRecord(key: key, typeName: "Noted", payload: Array(#"{"n":\#(n)}"#.utf8))
    }

    @Test func aCopyKeepsEveryVersionAndPosition() async throws {
        let source = InMemoryEventStore(), destination = InMemoryEventStore()
        for n in 0..<30 { try await source.append([event(n % 3 == 0 ? gapped : a, n)]) }
        let report = try await StoreCopy.copy(from: source, to: destination, batchEvents: 7)
        #expect(report.events == 30 && report.streams == 2 && report.positionsChanged == 0)
        #expect(try await destination.version(of: gapped) == 10)
        #expect(try await destination.version(of: a) == 20)
    }

    /// A skipped version inside one batch (no expected-version check sees it) stops the copy before that batch:
    /// the destination never holds an event under another version than its own.
    @Test func aStreamThatSkipsAVersionStopsTheCopyBeforeTheBatchHoldingTheGap() async throws {
        let source = GappedStore(gapped: gapped), destination = InMemoryEventStore()
        for n in 0..<10 { try await source.append([event(a, n)]) }
        for n in 0..<5 { try await source.append([event(gapped, n)]) }
        await #expect(throws: StoreCopy.Failure.versionGap(stream: gapped, after: 2, found: 4, copied: 10)) {
            try await StoreCopy.copy(from: source, to: destination, batchEvents: 10)
        }
        #expect(try await destination.version(of: a) == 10)
        #expect(try await destination.version(of: gapped) == 0)
    }
}
