import Strata
import Synchronization

/// Given/When/Then for one aggregate type: given events (or commands) → when a command → then the events it
/// produced, the state it left, or the error it threw. Runs on an `InMemoryEventStore` through the same
/// `CommandExecutor` an application uses: no files, no setup.
///
/// ```swift
/// @Test func removingAnItemThatIsNotThere() async throws {
///     try await AggregateTest(Cart.self, id: "cart-1")
///         .given(CartOpened(owner: "ann"), ItemAdded(product: "coffee", quantity: 1, unitPrice: 350))
///         .when(RemoveItem(cart: "cart-1", product: "tea"))
///         .thenThrows(CartError.notInCart("tea"))
/// }
/// ```
///
/// A failed `then…` fails the running test (Swift Testing or XCTest) at its own line, showing what was expected and
/// what happened as a diff. Each step returns the test, so steps chain in one `try await` expression.
public final class AggregateTest<Projector: AggregateProjector>: Sendable {
    /// The store the events go to (inspect it freely).
    public let store: InMemoryEventStore
    /// Runs the `given` and `when` commands.
    public let executor: CommandExecutor<InMemoryEventStore>
    /// The aggregate `given(_:)` events are appended to (and whose state `thenState` checks when no command ran).
    public let key: PartitionKey
    public let codec: any EventCodec
    let reporter: TestReporter

    struct Outcome: Sendable {
        /// The aggregate the `when` command ran on, and its version before.
        var key: PartitionKey?
        var versionBefore: UInt64 = 0
        var result: Result<CommandResult<UInt64>, any Error>?
    }

    let outcome = Mutex(Outcome())

    /// A test of `projector`'s aggregate `id` in `tenant`.
    public convenience init(
        _ projector: Projector.Type, id: String = "test-1", tenant: String = "test",
        codec: any EventCodec = JSONEventCodec(), reporter: TestReporter = .testFramework
    ) {
        self.init(projector, key: PartitionKey(tenant: tenant, group: Projector.group, id: id), codec: codec, reporter: reporter)
    }

    /// A test of `projector`'s aggregate `key`.
    public init(
        _ projector: Projector.Type, key: PartitionKey, codec: any EventCodec = JSONEventCodec(),
        reporter: TestReporter = .testFramework
    ) {
        self.store = InMemoryEventStore()
        self.executor = CommandExecutor(store: store, codec: codec)
        self.key = key
        self.codec = codec
        self.reporter = reporter
    }

    // MARK: Given

    /// The aggregate's history before the command: these events, appended in one batch (after any given before).
    @discardableResult
    public func given(_ events: any Event...) async throws -> Self {
        try await given(events)
    }

    /// The aggregate's history before the command: these events, appended in one batch.
    @discardableResult
    public func given(_ events: [any Event]) async throws -> Self {
        try await appendGiven(events, key: key, to: store, codec: codec)
        return self
    }

    /// The history a command leaves: it must succeed (else this throws, naming the command and the error).
    @discardableResult
    public func given<C: Command>(_ command: C) async throws -> Self {
        try await executeGiven(command, executor)
        return self
    }

    // MARK: When

    /// Runs the command under test. What it did (its events, or its error) is what the `then…` steps check.
    @discardableResult
    public func when<C: Command>(_ command: C) async -> Self {
        let before = (try? await store.version(of: command.key)) ?? 0
        let result: Result<CommandResult<UInt64>, any Error>
        do {
            result = .success(try await executor.execute(command))
        } catch {
            result = .failure(error)
        }
        outcome.withLock { $0 = Outcome(key: command.key, versionBefore: before, result: result) }
        return self
    }

    // MARK: Then

    /// The `when` command succeeded and appended exactly these events, in order (type, schema version and value:
    /// by `==` for `Equatable` events, else by their encoding).
    @discardableResult
    public func thenEvents(
        _ expected: any Event..., fileID: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) async -> Self {
        await thenEvents(expected, fileID: fileID, filePath: filePath, line: line, column: column)
    }

    /// The `when` command succeeded and appended exactly these events, in order.
    @discardableResult
    public func thenEvents(
        _ expected: [any Event], fileID: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) async -> Self {
        let location = TestLocation(fileID: fileID, filePath: filePath, line: line, column: column)
        guard let (key, before) = succeeded("thenEvents", expecting: "events \(describe(expected))", location) else { return self }
        do {
            let records = try await store.streamEvents(key, from: before + 1)
            if let message = compareEvents(expected, records, codec: codec) {
                fail("thenEvents: \(message)", location)
            }
        } catch {
            fail("thenEvents: reading the events back failed: \(error)", location)
        }
        return self
    }

    /// The `when` command succeeded and appended nothing.
    @discardableResult
    public func thenNoEvents(
        fileID: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) async -> Self {
        await thenEvents([], fileID: fileID, filePath: filePath, line: line, column: column)
    }

    /// The aggregate's state now (after the `when` command, if one ran, else after the given events) equals
    /// `expected`.
    @discardableResult
    public func thenState(
        _ expected: Projector.State, fileID: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) async -> Self
    where Projector.State: Equatable {
        let location = TestLocation(fileID: fileID, filePath: filePath, line: line, column: column)
        guard let aggregate = await loaded("thenState", location) else { return self }
        if aggregate.state != expected {
            let difference = describeDifference("the state of \(aggregate.key)", expected: expected, actual: aggregate.state)
            fail("thenState: " + difference, location)
        }
        return self
    }

    /// Checks the aggregate's state now with `check` (which uses `#expect`/`XCTAssert`, or throws to fail).
    @discardableResult
    public func thenState(
        fileID: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column, _ check: (Projector.State) throws -> Void
    ) async -> Self {
        let location = TestLocation(fileID: fileID, filePath: filePath, line: line, column: column)
        guard let aggregate = await loaded("thenState", location) else { return self }
        do { try check(aggregate.state) } catch { fail("thenState: the check threw \(error)", location) }
        return self
    }

    /// The aggregate's version now.
    @discardableResult
    public func thenVersion(
        _ expected: UInt64, fileID: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) async -> Self {
        let location = TestLocation(fileID: fileID, filePath: filePath, line: line, column: column)
        guard let aggregate = await loaded("thenVersion", location) else { return self }
        if aggregate.version != expected {
            fail("thenVersion: \(aggregate.key) is at version \(aggregate.version), expected \(expected)", location)
        }
        return self
    }

    /// The `when` command threw `expected` — the domain error its handler threw (unwrapped from
    /// `CommandError.rejected`), or the `CommandError` itself.
    @discardableResult
    public func thenThrows<E: Error & Equatable>(
        _ expected: E, fileID: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) -> Self {
        thenThrows("\(expected)", fileID: fileID, filePath: filePath, line: line, column: column) { error in
            (unwrapped(error) as? E) == expected || (error as? E) == expected
        }
    }

    /// The `when` command threw an error `matches` accepts (it sees the domain error itself when the handler threw).
    @discardableResult
    public func thenThrows(
        _ description: String = "an error", fileID: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column, matching matches: (any Error) -> Bool
    ) -> Self {
        let location = TestLocation(fileID: fileID, filePath: filePath, line: line, column: column)
        switch outcome.withLock({ $0.result }) {
        case nil:
            fail("thenThrows: no command ran (call when(_:) first)", location)
        case .success(let result)?:
            fail(
                "thenThrows: expected \(description), but the command succeeded and appended \(result.eventCount) event(s)",
                location)
        case .failure(let error)?:
            if !matches(error) && !matches(unwrapped(error)) {
                fail(describeDifference("thenThrows: the error", expected: description, actual: "\(unwrapped(error))"), location)
            }
        }
        return self
    }

    /// The aggregate as the store holds it now.
    public func aggregate() async throws -> Aggregate<Projector> {
        try await store.load(Projector.self, outcome.withLock { $0.key } ?? key, codec: codec)
    }

    // MARK: Helpers

    func fail(_ message: String, _ location: TestLocation) { reporter.report(message, location) }

    /// The key and prior version of a `when` command that succeeded; otherwise reports why not.
    private func succeeded(_ step: String, expecting: String, _ location: TestLocation) -> (PartitionKey, UInt64)? {
        let current = outcome.withLock { $0 }
        switch current.result {
        case nil:
            fail("\(step): no command ran (call when(_:) first)", location)
            return nil
        case .failure(let error)?:
            fail("\(step): expected \(expecting), but the command threw \(unwrapped(error))", location)
            return nil
        case .success?:
            return (current.key!, current.versionBefore)
        }
    }

    private func loaded(_ step: String, _ location: TestLocation) async -> Aggregate<Projector>? {
        do {
            return try await aggregate()
        } catch {
            fail("\(step): loading the aggregate failed: \(error)", location)
            return nil
        }
    }
}

/// A `given` command that did not succeed: the test's premise does not hold.
public struct GivenCommandFailed: Error, CustomStringConvertible {
    public var command: String
    public var error: any Error
    public var description: String { "given command \(command) failed: \(unwrapped(error))" }
}

func describe(_ events: [any Event]) -> String {
    events.isEmpty ? "none" : events.map { "\(type(of: $0).eventType)" }.joined(separator: ", ")
}

extension EventRecord {
    /// A record of an event known only as `any Event`.
    init(erased event: any Event, key: PartitionKey, codec: any EventCodec) throws {
        try self.init(event, key: key, codec: codec)
    }
}

/// Given events: appended to `key`'s stream in one batch.
func appendGiven(
    _ events: [any Event], key: PartitionKey, to store: InMemoryEventStore, codec: any EventCodec
) async throws {
    guard !events.isEmpty else { return }
    try await store.append(try events.map { try EventRecord(erased: $0, key: key, codec: codec) })
}

/// A given command: it must succeed, or the test's premise does not hold.
func executeGiven<C: Command>(_ command: C, _ executor: CommandExecutor<InMemoryEventStore>) async throws {
    do {
        try await executor.execute(command)
    } catch {
        throw GivenCommandFailed(command: String(describing: command), error: error)
    }
}
