import Foundation
import Metrics
import Prometheus
import Strata
import Testing

/// The Observability article's Prometheus wiring, against a real registry: what a `/metrics` route would serve
/// after appends, a command, a projection and a recovery.
@Suite struct PrometheusTests {
    @Test func aStoresMetricsReachAPrometheusRegistry() async throws {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        let folder = NSTemporaryDirectory() + "strata-prometheus-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let observability = Observability(metricsFactory: factory)
        let store = try NativeEventStore(path: folder, options: NativeEventStore.Options(observability: observability))
        let key = PartitionKey(tenant: "acme", group: "Cart", id: "1")
        for n in 0..<3 {
            try await store.append([
                EventRecord(
                    key: key, typeName: "ItemAdded", timestampMicros: wallClockMicros(),
                    payload: Array(#"{"n":\#(n)}"#.utf8))
            ])
        }
        try await store.close()
        let text = registry.emitToString()
        #expect(text.contains("strata_commits_total 3"), "\(text)")
        #expect(text.contains("strata_records_total 3"), "\(text)")
        #expect(text.contains("# TYPE strata_append_duration_seconds histogram"), "\(text)")
        #expect(text.contains("strata_append_duration_seconds_count 3"), "\(text)")
        #expect(text.contains("strata_fsync_duration_seconds_count"), "\(text)")
        #expect(text.contains("strata_recovery_duration_seconds_count 1"), "\(text)")
        #expect(text.contains("# TYPE strata_group_commit_appends histogram"), "\(text)")
    }
}
