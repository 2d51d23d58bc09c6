import Strata
import StrataConformance
import StrataPostgres
import Testing

@Suite struct PostgresConformanceTests {
    static let conformance = EventStoreConformance(
        makeStore: { try await TestServer.store() }, closeStore: { try await TestServer.drop($0) })

    @Test(arguments: EventStoreConformance<PostgresEventStore>.Check.allCases)
    func conformance(_ check: EventStoreConformance<PostgresEventStore>.Check) async throws {
        try await Self.conformance.run(check)
    }
}
