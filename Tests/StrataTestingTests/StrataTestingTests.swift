import Strata
import StrataTesting
import Synchronization
import Testing

// StrataTesting's own tests: a right expectation passes silently, a wrong one fails with a message that shows what
// was expected and what happened. Messages are collected (a `TestReporter`) and read here; one test checks that the
// default reporter really fails a Swift Testing test.

@Event("Deposited")
struct Deposited: Equatable {
    var amount: Int
}

@Event("Withdrawn")
struct Withdrawn {  // deliberately not Equatable: compared by its encoding
    var amount: Int
}

enum AccountError: Error, Equatable { case insufficientFunds(balance: Int) }

enum Account: AggregateProjector {
    typealias State = Int
    @EventSet enum Events {
        case deposited(Deposited)
        case withdrawn(Withdrawn)
    }
    static let group = "Account"
    static let initialState = 0
    static func apply(_ state: consuming Int, _ event: Events) -> Int {
        switch event {
        case .deposited(let e): state + e.amount
        case .withdrawn(let e): state - e.amount
        }
    }
}

struct Withdraw: Command {
    typealias Projector = Account
    var key = PartitionKey(tenant: "test", group: "Account", id: "test-1")
    var amount: Int
    func handle(_ account: Aggregate<Account>) throws -> [any Event] {
        guard account.state >= amount else { throw AccountError.insufficientFunds(balance: account.state) }
        return [Withdrawn(amount: amount)]
    }
}

enum Balances: MultiProjector {
    typealias State = [String: Int]
    typealias Events = Deposited
    static let projectorName = "balances"
    static let events = EventTypes<Deposited>().on(Deposited.self) { $0 }
    static let initialState: [String: Int] = [:]
    static func apply(_ state: inout [String: Int], _ event: Deposited, _ context: EventContext) {
        state[context.key.id, default: 0] += event.amount
    }
}

/// Collects what a test helper reports.
final class Collected: Sendable {
    let messages = Mutex<[String]>([])
    var reporter: TestReporter { TestReporter { message, _ in self.messages.withLock { $0.append(message) } } }
    var all: [String] { messages.withLock { $0 } }
}

@Suite struct AggregateTestTests {
    @Test func rightExpectationsReportNothing() async throws {
        let collected = Collected()
        try await AggregateTest(Account.self, reporter: collected.reporter)
            .given(Deposited(amount: 100))
            .when(Withdraw(amount: 30))
            .thenEvents(Withdrawn(amount: 30))
            .thenState(70)
            .thenVersion(2)
        try await AggregateTest(Account.self, reporter: collected.reporter)
            .given(Deposited(amount: 10))
            .when(Withdraw(amount: 30))
            .thenThrows(AccountError.insufficientFunds(balance: 10))
            .thenState(10)
        #expect(collected.all.isEmpty, "\(collected.all)")
    }

    @Test func wrongEventsShowADiff() async throws {
        let collected = Collected()
        try await AggregateTest(Account.self, reporter: collected.reporter)
            .given(Deposited(amount: 100))
            .when(Withdraw(amount: 30))
            .thenEvents(Withdrawn(amount: 40))
        let message = try #require(collected.all.first)
        #expect(collected.all.count == 1)
        #expect(message.contains("thenEvents: the command produced other events than expected"), "\(message)")
        #expect(message.contains("- ") && message.contains("+ "), "\(message)")
        #expect(message.contains("amount: 40") && message.contains("amount: 30"), "\(message)")
    }

    @Test func missingAndExtraEventsAreShown() async throws {
        let collected = Collected()
        try await AggregateTest(Account.self, reporter: collected.reporter)
            .given(Deposited(amount: 100))
            .when(Withdraw(amount: 30))
            .thenEvents(Withdrawn(amount: 30), Deposited(amount: 5))
            .thenNoEvents()
        #expect(collected.all.count == 2, "\(collected.all)")
        #expect(collected.all.allSatisfy { $0.contains("other events than expected") })
        #expect(collected.all[0].contains("Deposited(amount: 5)"), "\(collected.all[0])")
    }

    @Test func aWrongStateShowsADiff() async throws {
        let collected = Collected()
        try await AggregateTest(Account.self, reporter: collected.reporter)
            .given(Deposited(amount: 100))
            .when(Withdraw(amount: 30))
            .thenState(75)
            .thenVersion(5)
        #expect(collected.all.count == 2)
        let state = collected.all[0]
        #expect(state.hasPrefix("thenState: the state of test/Account/test-1 is not what was expected"), "\(state)")
        #expect(state.hasSuffix("(- expected, + actual):\n- 75\n+ 70"), "\(state)")
        #expect(collected.all[1] == "thenVersion: test/Account/test-1 is at version 2, expected 5")
    }

    @Test func anUnexpectedErrorOrSuccessIsReported() async throws {
        let collected = Collected()
        try await AggregateTest(Account.self, reporter: collected.reporter)
            .given(Deposited(amount: 10))
            .when(Withdraw(amount: 30))
            .thenEvents(Withdrawn(amount: 30))
            .thenThrows(AccountError.insufficientFunds(balance: 99))
        try await AggregateTest(Account.self, reporter: collected.reporter)
            .given(Deposited(amount: 100))
            .when(Withdraw(amount: 30))
            .thenThrows(AccountError.insufficientFunds(balance: 100))
        #expect(collected.all.count == 3, "\(collected.all)")
        #expect(collected.all[0] == "thenEvents: expected events Withdrawn, but the command threw insufficientFunds(balance: 10)")
        #expect(collected.all[1].contains("insufficientFunds(balance: 99)") && collected.all[1].contains("insufficientFunds(balance: 10)"), "\(collected.all[1])")
        #expect(collected.all[2] == "thenThrows: expected insufficientFunds(balance: 100), but the command succeeded and appended 1 event(s)")
    }

    @Test func thenWithoutWhenSaysSo() async throws {
        let collected = Collected()
        await AggregateTest(Account.self, reporter: collected.reporter).thenEvents(Withdrawn(amount: 1))
        #expect(collected.all == ["thenEvents: no command ran (call when(_:) first)"])
    }

    @Test func aFailingGivenCommandThrows() async throws {
        await #expect(throws: GivenCommandFailed.self) {
            try await AggregateTest(Account.self).given(Withdraw(amount: 1))
        }
    }

    /// With the default reporter, a wrong expectation fails the running Swift Testing test, with the message.
    @Test func theDefaultReporterFailsTheTest() async throws {
        let test = try await AggregateTest(Account.self).given(Deposited(amount: 100)).when(Withdraw(amount: 30))
        await withKnownIssue {
            await test.thenState(71)
        } matching: { issue in
            String(describing: issue).contains("thenState: the state of test/Account/test-1 is not what was expected")
        }
    }
}

@Suite struct ProjectionTestTests {
    let a = PartitionKey(tenant: "test", group: "Account", id: "a")
    let b = PartitionKey(tenant: "test", group: "Account", id: "b")

    @Test func stateAndQueries() async throws {
        let collected = Collected()
        let test = try await ProjectionTest(Balances.self, reporter: collected.reporter)
            .given(a, Deposited(amount: 5), Deposited(amount: 7))
            .given(b, Deposited(amount: 1))
        await test.thenState(["a": 12, "b": 1])
        await test.thenQuery({ $0.read { $0.values.reduce(0, +) } }, equals: 13)
        #expect(collected.all.isEmpty, "\(collected.all)")
        await test.thenState(["a": 12])
        await test.thenQuery({ $0.read { $0["a"] } }, equals: 11)
        await test.thenQueryThrows({ $0.read { $0.count } })
        #expect(collected.all.count == 3, "\(collected.all)")
        #expect(collected.all[0].hasPrefix("thenState: the state of projection balances is not what was expected"), "\(collected.all[0])")
        #expect(collected.all[0].contains("\"b\": 1"), "\(collected.all[0])")
        #expect(collected.all[1] == "thenQuery: the query result is not what was expected (- expected, + actual):\n- 11\n+ 12")
        #expect(collected.all[2] == "thenQueryThrows: the query returned 2 instead of throwing")
    }
}
