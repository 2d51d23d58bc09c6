import Logging
import NIOCore
import PostgresNIO
import Strata
import _ConnectionPoolModule
import StrataCore
import Synchronization

/// An event store on a PostgreSQL server (postgres-nio's `PostgresClient`), shared by any number of application
/// processes: the same aggregates, commands, projections and subscriptions run on it unchanged.
///
/// - **Appends** are one statement, one round trip: the schema's `append` function takes the batch as arrays,
///   locks the streams it names (a transaction-scoped advisory lock per stream, taken in one order), checks the
///   expected versions and inserts the events, all in one transaction; a unique key on (tenant, group, id, version)
///   is the backstop. A failed append writes nothing.
/// - **The global order** is (writing transaction, row sequence): `PostgresPosition`. `readAll`, subscriptions
///   and projections read only events of transactions older than every transaction still running
///   (`tx < pg_snapshot_xmin(pg_current_snapshot())`), so an event that commits late is never skipped and never
///   delivered twice. The price: the global order lags behind the oldest transaction that is still writing — on
///   the whole server — while stream reads (aggregate loads, commands) see every committed event at once.
/// - **Waiting for events**: LISTEN/NOTIFY wakes waiters in every process (a notification is sent after
///   appends commit, coalesced, so that notifying never serialises appends); a waiter also looks at the table at
///   least every `Configuration.pollInterval`, so a lost notification delays it by that much at most.
/// - **Failures**: a server that cannot be reached, a restart or a lost connection fail the call with
///   `PostgresStoreError.connectionLost` (inside `EventStoreError.storage`); the pool reconnects by itself.
public final class PostgresEventStore: EventStore {
    public typealias Position = PostgresPosition

    public let configuration: Configuration
    public var observability: Observability { configuration.observability }
    /// postgres-nio's client: the store's connection pool, run by the store until `close()`. The application may
    /// run its own statements on it too, and its own transactions (`client.withTransaction`), with events appended
    /// in them by `append(_:expecting:in:)`.
    public let client: PostgresClient
    private let running: Task<Void, Never>
    let sql: Statements
    /// Bumped by every commit this process makes and every notification; waiters wait for it to move.
    private let wakeups = Wakeups()
    private let listener = Mutex<Task<Void, Never>?>(nil)
    private let notifier: Notifier
    /// The newest transaction of this process's appends, and the `pg_snapshot_xmin` last seen: every transaction
    /// below it has ended, so the global order shows their events.
    private let order = Mutex<(ownNewest: UInt64, settledBelow: UInt64)>((0, 0))

    /// Connects to the server, creates or upgrades Strata's schema, and returns the store. Throws
    /// `PostgresStoreError` for a configuration it cannot use and a schema that is newer or not Strata's (left
    /// untouched), and `EventStoreError.storage(PostgresStoreError.connectionLost)` when no connection is made within
    /// twice `Configuration.connectTimeout`.
    public static func connect(_ configuration: Configuration) async throws -> PostgresEventStore {
        try configuration.validate()
        let store = try PostgresEventStore(configuration)
        do {
            // (The pool would wait for the server a minute before it gives up: a store that cannot connect within
            // the connect timeout fails now.)
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await store.migrate()
                    return true
                }
                group.addTask {
                    try await Task.sleep(for: configuration.connectTimeout * 2)
                    return false
                }
                defer { group.cancelAll() }
                if try await group.next() == false {
                    throw EventStoreError.storage(PostgresStoreError.connectionLost(
                        operation: "connecting to \(configuration.serverDescription)", mayHaveCommitted: false,
                        reason: "no connection within \(configuration.connectTimeout * 2)"))
                }
            }
        } catch {
            await store.close()
            throw error
        }
        configuration.observability.logger.debug("opened the PostgreSQL event store", metadata: ["server": "\(configuration.serverDescription)"])
        return store
    }

    /// Connects with a URL (`Configuration(url:)`).
    public static func connect(url: String) async throws -> PostgresEventStore {
        try await connect(Configuration(url: url))
    }

    private init(_ configuration: Configuration) throws {
        self.configuration = configuration
        let client = PostgresClient(configuration: try configuration.client(), backgroundLogger: configuration.observability.logger)
        self.client = client
        sql = Statements(schema: configuration.schema)
        // (The pool runs in a task of its own until `close()`; a lease made before it starts waits for it.)
        running = Task { await client.run() }
        notifier = Notifier(
            client: client, channel: StrataPostgresSchema.channel(configuration.schema), limit: configuration.callTimeout,
            logger: configuration.observability.logger,
            failed: { [counter = configuration.observability.counter(StrataMetric.backgroundFailures, [("task", "postgres-notify")])] in
                counter.increment()
            })
    }

    /// Stops the listener and the pool; waiters get `EventStoreError.closed`, later calls too.
    public func close() async {
        wakeups.close()
        listener.withLock { $0 }?.cancel()
        running.cancel()
        _ = await running.value
    }

    func checkOpen() throws(EventStoreError) {
        if wakeups.isClosed { throw .closed }
    }

    // MARK: Errors

    /// `error` as the store reports it: `EventStoreError` (postgres-nio's errors as `PostgresStoreError` in
    /// `.storage`), cancellation as it is.
    func reported(_ error: any Error, _ operation: String, append: Bool = false) -> any Error {
        switch error {
        case let error as EventStoreError: return error
        case let error as CancellationError: return error
        case let error as PostgresStoreError: return EventStoreError.storage(error)
        case let error as ConnectionPoolError:
            if wakeups.isClosed || error == .poolShutdown { return EventStoreError.closed }
            if error == .requestCancelled { return CancellationError() }
            return EventStoreError.storage(PostgresStoreError.connectionLost(
                operation: operation, mayHaveCommitted: false, reason: "the server could not be reached (\(error))"))
        case let error as PSQLError:
            if wakeups.isClosed { return EventStoreError.closed }
            if error.code == .queryCancelled { return CancellationError() }
            return EventStoreError.storage(Self.translate(error, operation, append: append))
        default: return EventStoreError.storage(error)
        }
    }

    static func translate(_ error: PSQLError, _ operation: String, append: Bool) -> PostgresStoreError {
        if error.code == .server {
            let state = error.serverInfo?[.sqlState] ?? "?"
            let message = error.serverInfo?[.message] ?? "\(error.code)"
            switch state {
            case "57014": return .timedOut(operation: operation)
            case _ where state.hasPrefix("08") || state.hasPrefix("57P"):
                // The server ended the session (shut down, restarted, crashed). An append may have committed all
                // the same: its procedure commits before it answers, and the session can end in between (seen in
                // the restart test: terminated by the shutdown right after the commit).
                return .connectionLost(operation: operation, mayHaveCommitted: append, reason: message)
            default: return .server(operation: operation, sqlState: state, message: message)
            }
        }
        // The connection failed with no answer from the server: an append sent may have committed.
        return .connectionLost(operation: operation, mayHaveCommitted: append && error.code != .poolClosed, reason: "\(error.code)")
    }

    /// `work` (postgres-nio calls), waited for at most `Configuration.callTimeout` (`Answer`): its errors as
    /// `reported`; no answer in time as `connectionLost` (logged and counted) — for an append with
    /// `mayHaveCommitted`, since it may have reached the server.
    nonisolated(nonsending) func answered<T: Sendable>(
        _ operation: @autoclosure () -> String, append: Bool = false, _ work: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let answer: T?
        do { answer = try await Answer.within(configuration.callTimeout, work) } catch { throw reported(error, operation(), append: append) }
        guard let answer else { throw noAnswer(operation(), append: append) }
        return answer
    }

    /// The rows of `query`, one pooled statement, collected (`answered`).
    nonisolated(nonsending) func rows(_ query: PostgresQuery, _ operation: @autoclosure () -> String, append: Bool = false) async throws -> [PostgresRow] {
        let client = self.client
        return try await answered(operation(), append: append) {
            var rows: [PostgresRow] = []
            for try await row in try await client.query(query) { rows.append(row) }
            return rows
        }
    }

    /// A call that got no answer within `callTimeout`, logged and counted.
    func noAnswer(_ operation: String, append: Bool) -> EventStoreError {
        observability.logger.warning(
            "a PostgreSQL call got no answer in time: its connection is presumed lost",
            metadata: ["operation": "\(operation)", "waited": "\(configuration.callTimeout)"])
        observability.counter(StrataMetric.backgroundFailures, [("task", "postgres-no-answer")]).increment()
        return .storage(PostgresStoreError.connectionLost(
            operation: operation, mayHaveCommitted: append, reason: "no answer within \(configuration.callTimeout)"))
    }

    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError).flatMap { $0.code == .server ? $0.serverInfo?[.sqlState] : nil }
    }

    // MARK: Schema

    /// Creates or upgrades the schema (one transaction, under an advisory lock), refusing a newer or foreign one
    /// before changing anything.
    private func migrate() async throws {
        let schema = configuration.schema
        let migrations = StrataPostgresSchema.migrations(schema)
        let logger = configuration.observability.logger
        let client = self.client, sql = self.sql, createSchema = configuration.createSchemaIfMissing
        do {
            let answered: Void? = try await Answer.within(configuration.callTimeout) {
                try await client.withTransaction(logger: logger) { connection in
                    // One migrating process at a time per schema.
                    try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended('strata-migration/' || \(schema), 0))", logger: logger)
                    var tables: [String] = []
                    for try await name in try await connection.query(
                        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = \(schema) ORDER BY 1", logger: logger
                    ).decode(String.self) { tables.append(name) }
                    var found = 0
                    if tables.contains("meta") {
                        let rows = try await connection.query(
                            PostgresQuery(unsafeSQL: "SELECT value FROM \(sql.schema).meta WHERE key = 'schema_version'"), logger: logger)
                        for try await value in rows.decode(String.self) { found = Int(value) ?? 0 }
                        guard found <= StrataPostgresSchema.version else {
                            throw PostgresStoreError.newerSchema(schema: schema, found: found, supported: StrataPostgresSchema.version)
                        }
                    } else if !tables.isEmpty {
                        throw PostgresStoreError.notAStrataSchema(schema: schema, tables: tables)
                    } else if !createSchema {
                        throw PostgresStoreError.schemaMissing(schema: schema)
                    }
                    guard found < migrations.count else { return }
                    try await connection.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(sql.schema)"), logger: logger)
                    for version in (found + 1)...migrations.count {
                        for statement in migrations[version - 1] {
                            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                        }
                        try await connection.query(
                            PostgresQuery(unsafeSQL: "UPDATE \(sql.schema).meta SET value = '\(version)' WHERE key = 'schema_version'"),
                            logger: logger)
                        logger.notice("migrated the PostgreSQL event store's schema", metadata: ["schema": "\(schema)", "version": "\(version)"])
                    }
                }
            }
            if answered == nil { throw noAnswer("opening the store", append: false) }
        } catch let error as EventStoreError {
            throw error
        } catch let error as PostgresStoreError {
            throw error
        } catch let error as PostgresTransactionError {
            if let refusal = error.closureError as? PostgresStoreError { throw refusal }
            throw reported(error.closureError ?? error.beginError ?? error.commitError ?? error.rollbackError ?? error, "opening the store")
        } catch {
            throw reported(error, "opening the store")
        }
    }

    // MARK: Appends

    @discardableResult
    public nonisolated(nonsending) func append(
        _ events: [EventRecord], expecting: [PartitionKey: ExpectedVersion]
    ) async throws -> AppendReceipt<PostgresPosition> {
        try validateBatch(events, expecting)
        try checkOpen()
        let checks = Array(expecting)
        let receipt: AppendReceipt<PostgresPosition>
        do {
            let rows = try await rows(appendQuery(events, checks, committing: true), "appending \(events.count) event(s)", append: true)
            receipt = try Self.receipt(of: rows, events, checks)
        } catch {
            throw await appendFailure(error, events, expecting)
        }
        order.withLock { $0.ownNewest = max($0.ownNewest, receipt.last.transaction) }
        wakeups.bump()
        notifier.committed()
        return receipt
    }

    /// Appends `events` inside the application's own transaction on `connection` (from `client.withTransaction`):
    /// they commit or roll back with the application's changes. The same checks as `append(_:expecting:)`; the
    /// streams stay locked for other writers until the transaction ends, and the global order holds every event
    /// behind this transaction's until it ends. Waiters wake when it commits (a notification sent in it).
    @discardableResult
    public func append(
        _ events: [EventRecord], expecting: [PartitionKey: ExpectedVersion] = [:], in connection: PostgresConnection
    ) async throws -> AppendReceipt<PostgresPosition> {
        try validateBatch(events, expecting)
        try checkOpen()
        let checks = Array(expecting), logger = observability.logger
        let query = appendQuery(events, checks), channel = StrataPostgresSchema.channel(configuration.schema)
        do {
            let rows = try await answered("appending \(events.count) event(s)", append: true) {
                var rows: [PostgresRow] = []
                for try await row in try await connection.query(query, logger: logger) { rows.append(row) }
                try await connection.query("SELECT pg_notify(\(channel), '')", logger: logger)
                return rows
            }
            return try Self.receipt(of: rows, events, checks)
        } catch {
            throw await appendFailure(error, events, expecting)
        }
    }

    /// The statement of an append: the schema's `append` function with the batch as arrays.
    /// `committing`: the procedure that commits before it answers (outside an application's transaction).
    private func appendQuery(
        _ events: [EventRecord], _ checks: [(key: PartitionKey, value: ExpectedVersion)], committing: Bool = false
    ) -> PostgresQuery {
        var binds = PostgresBindings(capacity: 16)
        binds.append(ArrayParameter(checks.map { TextElement($0.key.tenant) }))
        binds.append(ArrayParameter(checks.map { TextElement($0.key.group) }))
        binds.append(ArrayParameter(checks.map { TextElement($0.key.id) }))
        binds.append(ArrayParameter(checks.map { check -> Int16Element in
            switch check.value {
            case .any: Int16Element(0)
            case .noStream: Int16Element(1)
            case .exactly: Int16Element(2)
            }
        }))
        binds.append(ArrayParameter(checks.map { check -> Int64Element in
            if case .exactly(let version) = check.value { return Int64Element(Int64(clamping: version)) }
            return Int64Element(0)
        }))
        binds.append(ArrayParameter(events.map { TextElement($0.key.tenant) }))
        binds.append(ArrayParameter(events.map { TextElement($0.key.group) }))
        binds.append(ArrayParameter(events.map { TextElement($0.key.id) }))
        binds.append(ArrayParameter(events.map { TextElement($0.typeName) }))
        binds.append(ArrayParameter(events.map { Int64Element(Int64($0.typeVersion)) }))
        binds.append(ArrayParameter(events.map { Int64Element($0.timestampMicros) }))
        binds.append(ArrayParameter(events.map { UUIDElement($0.eventId) }))
        binds.append(ArrayParameter(events.map { TextElement($0.metadata.correlationId) }))
        binds.append(ArrayParameter(events.map { TextElement($0.metadata.causationId) }))
        binds.append(ArrayParameter(events.map { TextElement($0.metadata.user) }))
        binds.append(ArrayParameter(events.map { ByteaElement($0.payload) }))
        return PostgresQuery(unsafeSQL: committing ? sql.appendCommitted : sql.append, binds: binds)
    }

    /// The receipt from the `append` function's row, or the version conflict it reported.
    private static func receipt(
        of rows: [PostgresRow], _ events: [EventRecord], _ checks: [(key: PartitionKey, value: ExpectedVersion)]
    ) throws -> AppendReceipt<PostgresPosition> {
        var result: (conflict: Int?, actual: Int64, tx: Int64, first: Int64, last: Int64, versions: [Int64])?
        for row in rows {
            let (conflict, actual, tx, first, last, versions) = try row.decode((Int32?, Int64?, Int64?, Int64?, Int64?, [Int64]?).self)
            result = (conflict.map(Int.init), actual ?? 0, tx ?? 0, first ?? 0, last ?? 0, versions ?? [])
        }
        func failed(_ message: String) -> EventStoreError {
            .storage(PostgresStoreError.server(operation: "appending", sqlState: "?", message: message))
        }
        guard let result else { throw failed("the append function returned no row") }
        if let conflict = result.conflict {
            guard checks.indices.contains(conflict) else { throw failed("the append function reported check #\(conflict)") }
            let check = checks[conflict]
            throw EventStoreError.versionConflict(stream: check.key, expected: check.value, actual: UInt64(max(0, result.actual)))
        }
        guard result.versions.count == events.count else {
            throw failed("the append function returned \(result.versions.count) versions for \(events.count) events")
        }
        var versions: [PartitionKey: UInt64] = [:]
        var previous: PartitionKey?
        for (index, event) in events.enumerated() {
            let version = UInt64(max(0, result.versions[index]))
            if event.key == previous, version != UInt64(max(0, result.versions[index - 1])) + 1 {
                throw failed("the batch's rows were not numbered in batch order")
            }
            versions[event.key] = version
            previous = event.key
        }
        let tx = UInt64(max(0, result.tx))
        return AppendReceipt(
            first: PostgresPosition(transaction: tx, sequence: UInt64(max(0, result.first))),
            last: PostgresPosition(transaction: tx, sequence: UInt64(max(0, result.last))), versions: versions)
    }

    /// What a failed append throws: a unique-key violation (a writer that bypassed the stream locks) as a version
    /// conflict, the rest as `reported`.
    private func appendFailure(_ error: any Error, _ events: [EventRecord], _ expecting: [PartitionKey: ExpectedVersion]) async -> any Error {
        if Self.sqlState(error) == "23505", let key = events.first?.key {
            let actual = (try? await version(of: key)) ?? 0
            return EventStoreError.versionConflict(stream: key, expected: expecting[key] ?? .any, actual: actual)
        }
        return reported(error, "appending \(events.count) event(s)", append: true)
    }

    // MARK: Reads

    public nonisolated(nonsending) func version(of stream: PartitionKey) async throws -> UInt64 {
        try checkOpen()
        do {
            var binds = PostgresBindings(capacity: 3)
            binds.append(stream.tenant)
            binds.append(stream.group)
            binds.append(stream.id)
            var version: Int64 = 0
            for row in try await rows(PostgresQuery(unsafeSQL: sql.version, binds: binds), "reading the version of \(stream)") {
                version = try row.decode(Int64.self)
            }
            return UInt64(max(0, version))
        } catch {
            throw reported(error, "reading the version of \(stream)")
        }
    }

    /// Runs `query` (selecting `EventRows.columns`) and calls `body` with each row's view; returns how many rows it
    /// delivered. What `body` throws comes back unchanged, the store's failures as `reported`.
    private nonisolated(nonsending) func deliver(
        _ query: PostgresQuery, _ rows: inout EventRows, _ operation: @autoclosure () -> String,
        _ body: (EventView, PostgresPosition) throws -> Void
    ) async throws -> Int {
        let page = try await self.rows(query, operation())
        var bodyError: (any Error)?
        do {
            for row in page {
                try rows.deliver(row) { view, position in
                    do { try body(view, position) } catch {
                        bodyError = error
                        throw error
                    }
                }
            }
        } catch {
            throw bodyError ?? reported(error, operation())
        }
        return page.count
    }

    /// Rows per statement of a long read (each page is a consistent snapshot: the order only grows, so pages
    /// never skip or repeat).
    static let pageRows = 1024

    @discardableResult
    public nonisolated(nonsending) func readStream(
        _ stream: PartitionKey, from: UInt64, through: UInt64, asOf: PostgresPosition?, limit: Int,
        _ body: (EventView, PostgresPosition) throws -> Void
    ) async throws -> Int {
        try checkOpen()
        guard from <= through, limit > 0, from <= UInt64(Int64.max) else { return 0 }
        let bound = (asOf ?? PostgresPosition(transaction: .max, sequence: .max)).columns
        let last = Int64(min(through, UInt64(Int64.max)))
        var delivered = 0
        var next = Int64(from)
        var rows = EventRows()
        while delivered < limit && next <= last {
            let page = min(limit - delivered, Self.pageRows)
            var binds = PostgresBindings(capacity: 8)
            binds.append(stream.tenant)
            binds.append(stream.group)
            binds.append(stream.id)
            binds.append(next)
            binds.append(last)
            binds.append(bound.0)
            binds.append(bound.1)
            binds.append(Int64(page))
            var lastVersion: UInt64 = 0
            let count = try await deliver(PostgresQuery(unsafeSQL: sql.readStream, binds: binds), &rows, "reading stream \(stream)") {
                view, position in
                lastVersion = view.version
                try body(view, position)
            }
            delivered += count
            guard count == page else { break }
            next = Int64(lastVersion) + 1
        }
        return delivered
    }

    /// Returns once the global order shows every event up to `position` — once every transaction that began
    /// before it ended (`readAll`, subscriptions and projections deliver it then). Read-your-writes across
    /// processes: another process's receipt position, waited for here, is then seen by this one's reads. (This
    /// process's own appends are waited for by `readAll` itself.) Throws `CancellationError` when cancelled.
    public func waitUntilOrdered(through position: PostgresPosition) async throws {
        try checkOpen()
        _ = try await settle(position.transaction, timeout: nil)
    }

    /// Returns once the global order shows every event committed before the call (by any process): what a reader
    /// calls after learning, some other way, that another process appended.
    public func waitUntilOrdered() async throws {
        try checkOpen()
        guard let head = try await head() else { return }
        _ = try await settle(head.transaction, timeout: nil)
    }

    /// Waits until no transaction up to `transaction` is running, polling `pg_snapshot_xmin` (1 ms, doubling up to
    /// 50 ms); false when `timeout` passed first.
    private func settle(_ transaction: UInt64, timeout: Duration?) async throws -> Bool {
        let clock = ContinuousClock(), start = clock.now
        var pause = Duration.milliseconds(1)
        while true {
            if order.withLock({ $0.settledBelow }) > transaction { return true }
            do {
                for row in try await rows("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint", "reading the oldest running transaction") {
                    let xmin = try row.decode(Int64.self)
                    order.withLock { $0.settledBelow = max($0.settledBelow, UInt64(max(0, xmin))) }
                }
            } catch {
                throw reported(error, "reading the oldest running transaction")
            }
            if order.withLock({ $0.settledBelow }) > transaction { return true }
            if let timeout, clock.now - start > timeout { return false }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(50))
        }
    }

    /// Before a global read: this process's appends must show in it (read-your-writes), so wait for the
    /// transactions that began before the newest of them — at most `Configuration.readYourWritesTimeout`, then
    /// read what the order shows (logged: a transaction held open that long holds back every reader).
    private func settleOwnAppends() async throws {
        let (own, settled) = order.withLock { ($0.ownNewest, $0.settledBelow) }
        guard own >= settled else { return }
        if try await settle(own, timeout: configuration.readYourWritesTimeout) { return }
        observability.logger.warning(
            "the PostgreSQL event store's global order lags behind a long-running transaction: reading without this process's latest appends",
            metadata: ["transaction": "\(own)", "waited": "\(configuration.readYourWritesTimeout)"])
        observability.counter(StrataMetric.backgroundFailures, [("task", "postgres-order-lag")]).increment()
    }

    @discardableResult
    public nonisolated(nonsending) func readAll(
        after position: PostgresPosition?, limit: Int, _ body: (EventView, PostgresPosition) throws -> Void
    ) async throws -> PostgresPosition? {
        try checkOpen()
        try await settleOwnAppends()
        var last: PostgresPosition?
        var after = position ?? .origin
        var delivered = 0
        var rows = EventRows()
        while delivered < limit {
            let page = min(limit - delivered, Self.pageRows)
            var binds = PostgresBindings(capacity: 3)
            binds.append(after.columns.0)
            binds.append(after.columns.1)
            binds.append(Int64(page))
            let count = try await deliver(PostgresQuery(unsafeSQL: sql.readAll, binds: binds), &rows, "reading the global order") {
                view, position in
                last = position
                try body(view, position)
            }
            delivered += count
            guard count == page, let end = last else { break }
            after = end
        }
        return last
    }

    /// Whether `readAll(after: position)` would deliver an event now.
    func hasEvents(after position: PostgresPosition?) async throws -> Bool {
        let after = (position ?? .origin).columns
        var binds = PostgresBindings(capacity: 2)
        binds.append(after.0)
        binds.append(after.1)
        do {
            return try await !rows(PostgresQuery(unsafeSQL: sql.hasEvents, binds: binds), "looking for new events").isEmpty
        } catch {
            throw reported(error, "looking for new events")
        }
    }

    /// The last position of the table (ignoring the order's lag behind running transactions); nil: no events.
    func head() async throws -> PostgresPosition? {
        do {
            var head: PostgresPosition?
            for row in try await rows(PostgresQuery(unsafeSQL: sql.head), "reading the end of the log") {
                let (tx, sequence) = try row.decode((Int64, Int64).self)
                head = PostgresPosition(transaction: UInt64(max(0, tx)), sequence: UInt64(max(0, sequence)))
            }
            return head
        } catch {
            throw reported(error, "reading the end of the log")
        }
    }

    public nonisolated(nonsending) func waitForEvents(after position: PostgresPosition?) async throws {
        startListening()
        while true {
            try Task.checkCancellation()
            try checkOpen()
            let seen = wakeups.generation
            if try await hasEvents(after: position) { return }
            try await wakeups.wait(after: seen, timeout: configuration.pollInterval)
        }
    }

    // MARK: Notifications

    /// Starts the LISTEN task the first time a caller waits: a connection of its own (outside the pool), checked
    /// every few seconds with a query; each notification wakes waiters. When the connection fails it is replaced
    /// (logged, counted), and waiters poll meanwhile.
    private func startListening() {
        listener.withLock { task in
            guard task == nil, !wakeups.isClosed else { return }
            let wakeups = self.wakeups, channel = StrataPostgresSchema.channel(configuration.schema)
            let configuration = self.configuration, logger = configuration.observability.logger
            let failures = configuration.observability.counter(StrataMetric.backgroundFailures, [("task", "postgres-listen")])
            task = Task {
                var attempt = 0
                while !Task.isCancelled && !wakeups.isClosed {
                    var connection: PostgresConnection?
                    do {
                        let opened = try await PostgresConnection.connect(configuration: configuration.connection(), id: 0, logger: logger)
                        connection = opened
                        attempt = 0
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask {
                                try await opened.listen(on: channel) { notifications in
                                    wakeups.bump()  // what was committed while not listening
                                    for try await _ in notifications { wakeups.bump() }
                                }
                            }
                            group.addTask {
                                // A connection the server dropped fails this query.
                                while true {
                                    try await Task.sleep(for: .seconds(2))
                                    try await opened.query("SELECT 1", logger: logger)
                                }
                            }
                            defer { group.cancelAll() }
                            try await group.next()
                        }
                    } catch {
                        if Task.isCancelled || wakeups.isClosed {
                            try? await connection?.close()
                            return
                        }
                        failures.increment()
                        logger.warning(
                            "the PostgreSQL event store's LISTEN connection failed; waiters poll until it is back",
                            metadata: ["error": "\(String(reflecting: error))", "attempt": "\(attempt)"])
                    }
                    try? await connection?.close()
                    attempt += 1
                    try? await Task.sleep(for: .milliseconds(min(5000, 100 << min(attempt, 6))))
                }
            }
        }
    }
}

/// The SQL of the store's statements, for one schema.
struct Statements: Sendable {
    /// The schema's quoted name.
    let schema: String
    let append: String, appendCommitted: String, version: String, readStream: String, readAll: String, hasEvents: String, head: String

    init(schema name: String) {
        let s = "\"\(name)\""
        schema = s
        append = "SELECT conflict, actual, tx, first_position, last_position, versions FROM \(s).append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        appendCommitted = """
            CALL \(s).append_committed($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                                       NULL::integer, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint[])
            """
        version = "SELECT coalesce(max(version), 0) FROM \(s).events WHERE tenant = $1 AND aggregate_group = $2 AND aggregate_id = $3"
        readStream = """
            SELECT \(EventRows.columns) FROM \(s).events
            WHERE tenant = $1 AND aggregate_group = $2 AND aggregate_id = $3 AND version >= $4 AND version <= $5
              AND (tx, position) <= ($6, $7)
            ORDER BY version LIMIT $8
            """
        // Only transactions older than every running one: none of them can still commit an event before these.
        let settled = "tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
        readAll = """
            SELECT \(EventRows.columns) FROM \(s).events
            WHERE (tx, position) > ($1, $2) AND \(settled)
            ORDER BY tx, position LIMIT $3
            """
        hasEvents = "SELECT 1 FROM \(s).events WHERE (tx, position) > ($1, $2) AND \(settled) LIMIT 1"
        head = "SELECT tx, position FROM \(s).events ORDER BY tx DESC, position DESC LIMIT 1"
    }
}

/// A counter that commits and notifications bump, and waiters for it to move.
final class Wakeups: Sendable {
    private let signal = CommitSignal<UInt64>()
    private let state = Mutex<(generation: UInt64, closed: Bool)>((0, false))

    var generation: UInt64 { state.withLock { $0.generation } }
    var isClosed: Bool { state.withLock { $0.closed } }

    func bump() {
        let generation = state.withLock { state -> UInt64 in
            state.generation += 1
            return state.generation
        }
        signal.published(generation)
    }

    func close() {
        state.withLock { $0.closed = true }
        signal.close()
    }

    /// Returns when the generation passes `seen` or `timeout` has passed; throws `EventStoreError.closed` when
    /// closed, `CancellationError` when the task is cancelled.
    func wait(after seen: UInt64, timeout: Duration) async throws {
        if try await signal.wait(after: seen, timeout: timeout, head: { self.generation }) == false { throw EventStoreError.closed }
    }
}

/// Sends the schema's notification after this process's appends commit: at most one `pg_notify` in flight, and
/// one more after it when appends committed meanwhile — so notifying costs appends nothing (a `NOTIFY` inside the
/// append's transaction would serialise every commit on the server's notification lock: measured 9.4k → 1.4k
/// appends/s with 16 clients).
final class Notifier: Sendable {
    private let client: PostgresClient
    private let channel: String
    private let limit: Duration
    private let logger: Logger
    /// Counts a failed notification.
    private let failed: @Sendable () -> Void
    private let state = Mutex<(running: Bool, pending: Bool)>((false, false))

    init(client: PostgresClient, channel: String, limit: Duration, logger: Logger, failed: @escaping @Sendable () -> Void) {
        self.client = client
        self.channel = channel
        self.limit = limit
        self.logger = logger
        self.failed = failed
    }

    func committed() {
        let start = state.withLock { state -> Bool in
            if state.running {
                state.pending = true
                return false
            }
            state.running = true
            return true
        }
        guard start else { return }
        Task { await self.run() }
    }

    private func run() async {
        while true {
            state.withLock { $0.pending = false }
            do {
                let client = self.client, channel = self.channel
                let sent: Void? = try await Answer.within(limit) {
                    for try await _ in try await client.query("SELECT pg_notify(\(channel), '')") {}
                }
                if sent == nil {
                    failed()
                    logger.warning("the PostgreSQL event store's notification got no answer in time; other processes' waiters poll")
                }
            } catch {
                // Waiters of other processes find the events at their next poll.
                failed()
                logger.warning(
                    "the PostgreSQL event store could not send a notification; other processes' waiters poll",
                    metadata: ["error": "\(String(reflecting: error))"])
            }
            let again = state.withLock { state -> Bool in
                if state.pending { return true }
                state.running = false
                return false
            }
            if !again { return }
        }
    }
}
