import Strata

/// Given/When/Then for a multi-projection and its queries: given events of any aggregates (or commands) → then the
/// projection's state, or what a query over it returns. Runs on an `InMemoryEventStore`; each `then…` first
/// catches the projection up with everything given so far.
///
/// ```swift
/// @Test func itemsPerProduct() async throws {
///     try await ProjectionTest(ItemsPerProduct.self)
///         .given(cart1, ItemAdded(product: "coffee", quantity: 2, unitPrice: 350))
///         .given(cart2, ItemAdded(product: "coffee", quantity: 1, unitPrice: 350))
///         .thenQuery({ $0.state.quantity(of: "coffee", tenant: "acme") }, equals: 3)
/// }
/// ```
public final class ProjectionTest<Projector: MultiProjector>: Sendable {
    public let store: InMemoryEventStore
    /// Runs `given` commands.
    public let executor: CommandExecutor<InMemoryEventStore>
    /// The projection under test (over `store`).
    public let projection: Projection<Projector, InMemoryEventStore>
    public let codec: any EventCodec
    let reporter: TestReporter

    /// A test of `projector` (a tenant projection when `tenant` is given).
    public init(
        _ projector: Projector.Type, tenant: String? = nil, codec: any EventCodec = JSONEventCodec(),
        reporter: TestReporter = .testFramework
    ) {
        store = InMemoryEventStore()
        executor = CommandExecutor(store: store, codec: codec)
        projection = Projection(projector, store: store, codec: codec, tenant: tenant, useSnapshots: false)
        self.codec = codec
        self.reporter = reporter
    }

    /// Events of aggregate `key`, appended in one batch.
    @discardableResult
    public func given(_ key: PartitionKey, _ events: any Event...) async throws -> Self {
        try await appendGiven(events, key: key, to: store, codec: codec)
        return self
    }

    /// What a command appends: it must succeed (else this throws, naming the command and the error).
    @discardableResult
    public func given<C: Command>(_ command: C) async throws -> Self {
        try await executeGiven(command, executor)
        return self
    }

    /// The projection's state, caught up with everything given, equals `expected`.
    @discardableResult
    public func thenState(
        _ expected: Projector.State, fileID: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) async -> Self
    where Projector.State: Equatable {
        let location = TestLocation(fileID: fileID, filePath: filePath, line: line, column: column)
        guard await caughtUp("thenState", location) else { return self }
        let actual = projection.state
        if actual != expected {
            let difference = describeDifference(
                "the state of projection \(Projector.projectorName)", expected: expected, actual: actual)
            fail("thenState: " + difference, location)
        }
        return self
    }

    /// Checks the projection's state, caught up with everything given, with `check` (which uses `#expect` /
    /// `XCTAssert`, or throws to fail).
    @discardableResult
    public func thenState(
        fileID: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column, _ check: (Projector.State) throws -> Void
    ) async -> Self {
        let location = TestLocation(fileID: fileID, filePath: filePath, line: line, column: column)
        guard await caughtUp("thenState", location) else { return self }
        do { try check(projection.state) } catch { fail("thenState: the check threw \(error)", location) }
        return self
    }

    /// What `query` returns over the caught-up projection equals `expected` (a list query, a lookup, a count…).
    @discardableResult
    public func thenQuery<Result: Equatable>(
        _ query: (Projection<Projector, InMemoryEventStore>) throws -> Result, equals expected: Result,
        fileID: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column
    ) async -> Self {
        let location = TestLocation(fileID: fileID, filePath: filePath, line: line, column: column)
        guard await caughtUp("thenQuery", location) else { return self }
        do {
            let actual = try query(projection)
            if actual != expected {
                fail("thenQuery: " + describeDifference("the query result", expected: expected, actual: actual), location)
            }
        } catch {
            fail("thenQuery: the query threw \(error)", location)
        }
        return self
    }

    /// The query throws an error `matches` accepts (a page out of range, say).
    @discardableResult
    public func thenQueryThrows<Result>(
        _ query: (Projection<Projector, InMemoryEventStore>) throws -> Result, fileID: StaticString = #fileID,
        filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column,
        matching matches: (any Error) -> Bool = { _ in true }
    ) async -> Self {
        let location = TestLocation(fileID: fileID, filePath: filePath, line: line, column: column)
        guard await caughtUp("thenQueryThrows", location) else { return self }
        do {
            let result = try query(projection)
            fail("thenQueryThrows: the query returned \(result) instead of throwing", location)
        } catch {
            if !matches(error) { fail("thenQueryThrows: the query threw an unexpected error: \(error)", location) }
        }
        return self
    }

    func fail(_ message: String, _ location: TestLocation) { reporter.report(message, location) }

    private func caughtUp(_ step: String, _ location: TestLocation) async -> Bool {
        do {
            try await projection.catchUp()
            return true
        } catch {
            fail("\(step): the projection failed to catch up: \(error)", location)
            return false
        }
    }
}
