import Strata
import StrataTesting
import XCTest

/// StrataTesting under XCTest: the same steps in an `XCTestCase`. (A wrong expectation here fails the XCTest test
/// through swift-issue-reporting's XCTest route; corelibs XCTest has no expected-failure API to assert that in CI,
/// so it was checked by hand — see the closing note of stop 17.)
final class AggregateTestUnderXCTest: XCTestCase {
    func testRightExpectationsPass() async throws {
        try await AggregateTest(Account.self)
            .given(Deposited(amount: 100))
            .when(Withdraw(amount: 30))
            .thenEvents(Withdrawn(amount: 30))
            .thenState(70)
        let test = try await ProjectionTest(Balances.self)
            .given(PartitionKey(tenant: "test", group: "Account", id: "a"), Deposited(amount: 5))
        await test.thenState(["a": 5])
    }
}
