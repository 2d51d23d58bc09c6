import Logging
import MetricsTestKit
import Strata
import StrataTestSupport
import Testing

/// What the event-sourcing layer logs and measures: projection failures and lag, snapshots passed over, command
/// retries. Read with a capturing logger and `MetricsTestKit.TestMetrics`.
@Suite struct LayerObservabilityTests {
    let logs = LogCapture()
    let metrics = TestMetrics()
    var observability: Observability { Observability(logger: logs.logger, metricsFactory: metrics) }

    @Test func projectionFailuresAreCountedAndLoggedOncePerKind() async throws {
        let store = InMemoryEventStore(observability: observability)
        let key = PartitionKey(tenant: "acme", group: "Cart", id: "1")
        for n in 0..<3 {
            try await store.append([
                EventRecord(
                    key: key, typeName: "ItemAdded", typeVersion: 3, timestampMicros: 0, eventId: .random(),
                    metadata: RecordMetadata(), payload: Array(#"{"product":"p\#(n)","quantity":1}"#.utf8))
            ])
        }
        let skipping = Projection(ProductQuantities.self, store: store, onError: .skip)
        try await skipping.catchUp()
        let dimensions = [("projection", ProductQuantities.projectorName), ("tenant", "all")]
        #expect(metrics.counterTotal(label: StrataMetric.projectionFailures, dimensions: dimensions) == 3)
        #expect(logs.entries.filter { $0.level == .warning && $0.message.contains("skipped") }.count == 1)
        #expect(logs.entries.filter { $0.level == .debug && $0.message.contains("skipped") }.count == 2)

        let stopping = Projection(ProductQuantities.self, store: store, onError: .stop)
        await #expect(throws: ProjectionError.self) { try await stopping.catchUp() }
        let stopped = try #require(logs.entries.first { $0.level == .error && $0.message.contains("stopped") })
        #expect(stopped.metadata["failure"]?.contains("newer writer") == true, "\(stopped)")
    }

    @Test func projectionLagIsTheAgeOfTheLastEventFoldedAndZeroOnceCaughtUp() async throws {
        let store = InMemoryEventStore(observability: observability)
        let key = PartitionKey(tenant: "acme", group: "Cart", id: "1")
        let hourAgo = wallClockMicros() - 3_600_000_000
        for n in 0..<3 {
            try await store.append([
                EventRecord(
                    key: key, typeName: "ItemAdded", typeVersion: 2, timestampMicros: hourAgo + Int64(n),
                    eventId: .random(), metadata: RecordMetadata(), payload: Array(#"{"product":"tea","quantity":1}"#.utf8))
            ])
        }
        let projection = Projection(ProductQuantities.self, store: store, batchSize: 1)
        try await projection.catchUp()
        let lag = try metrics.expectGauge(StrataMetric.projectionLag, [("projection", ProductQuantities.projectorName), ("tenant", "all")])
        #expect(lag.values.count == 4, "\(lag.values)")
        #expect(lag.values.prefix(3).allSatisfy { $0 >= 3_590 && $0 < 3_700 }, "\(lag.values)")
        #expect(lag.lastValue == 0)
    }

    @Test func snapshotsPassedOverAreCountedByReason() async throws {
        let store = InMemoryEventStore(observability: observability)
        try await store.append([try cartStep(1, codec: JSONEventCodec()).0])
        try await store.writeSnapshots([try fabricated(.open(items: ["planted": 1]), version: 1, sequence: 1, projectorVersion: 7)])
        _ = try await store.load(Cart.self, cart)
        #expect(metrics.counterTotal(label: StrataMetric.snapshotRejections, dimensions: [("reason", "projector_version")]) == 1)
        #expect(logs.entries.contains { $0.level == .debug && $0.message.contains("passed over snapshots") })
    }

    @Test func commandRetriesAreCountedAndLogged() async throws {
        let store = InterferingStore()
        let executor = CommandExecutor(store: store, observability: observability)
        let key = PartitionKey(tenant: "acme", group: "Cart", id: "c-1")
        #expect(try await executor.execute(AddItem(key: key, product: "tea")).attempts == 2)
        #expect(metrics.counterTotal(label: StrataMetric.commandRetries) == 1)
        #expect(logs.entries.contains { $0.level == .debug && $0.message.contains("running the command again") })
        let tooFew = CommandExecutor(store: InterferingStore(), maxAttempts: 1, observability: observability)
        await #expect(throws: CommandError.self) { try await tooFew.execute(AddItem(key: key, product: "tea")) }
        #expect(logs.entries.contains { $0.level == .warning && $0.message.contains("every attempt") })
    }
}
