import Foundation
import GRDB
import Logging
import Strata
import Synchronization

/// An event store in an SQLite database, on GRDB: one file of its own (`init(path:options:)`), or the
/// application's own `DatabasePool` / `DatabaseQueue` (`init(writer:migrate:options:)`), so that events and the
/// application's tables can commit in one transaction (`append(_:expecting:in:)`).
///
/// - **Durability**: WAL, `synchronous = FULL` by default: an acknowledged append survives a power loss.
/// - **Order**: positions are the `strata_events` rowid, given in commit order by SQLite's one writer, so a read
///   after a position never skips or repeats an event — also across processes.
/// - **Concurrency**: appends are transactions; each stream's version is checked and the events inserted in the
///   same transaction (a unique key on tenant, group, id and version is the backstop), so two processes appending
///   to one file never write a version twice. Reads run beside the writer (WAL): a store on its own file reads on
///   the calling thread through read-only connections of its own, never waiting for one; a store in an
///   application's database reads with GRDB's asynchronous reads.
/// - **Waiting for events**: commits of this process wake waiters at once (`DatabaseRegionObservation`);
///   commits of another process are seen by polling, at most `Options.pollInterval` late (250 ms by default).
/// - **Schema**: `StrataSQLiteSchema`, created and upgraded by GRDB migrations; a file that is not an SQLite
///   database, an SQLite database of something else, or one with a newer Strata schema is refused with a
///   `SQLiteStoreError` and left untouched.
public final class SQLiteEventStore: EventStore {
    /// The rowid of `strata_events`: the global order.
    public typealias Position = UInt64

    /// How the store runs.
    public struct Options: Sendable {
        /// SQLite's `synchronous` setting for a store that opens its own file: `FULL` (the default) syncs every
        /// commit; `NORMAL` may lose the last commits on a power loss (never on a crash of the process).
        public enum Synchronous: String, Sendable { case full = "FULL", normal = "NORMAL" }

        public var synchronous: Synchronous
        /// How long a write waits for another process's transaction before it fails (`SQLITE_BUSY`).
        public var busyTimeout: Duration
        /// How often `waitForEvents` looks for commits of other processes (this process's wake waiters at once).
        public var pollInterval: Duration
        /// Where the store logs and measures.
        public var observability: Observability

        public init(
            synchronous: Synchronous = .full, busyTimeout: Duration = .seconds(10), pollInterval: Duration = .milliseconds(250),
            observability: Observability = .standard
        ) {
            self.synchronous = synchronous
            self.busyTimeout = busyTimeout
            self.pollInterval = pollInterval
            self.observability = observability
        }
    }

    /// The database connection(s): the store's own pool, or the application's writer.
    public let writer: any DatabaseWriter
    public let options: Options
    public var observability: Observability { options.observability }
    /// The store's own read connections when it opened its own file (and owns `writer`, which it closes); nil on an
    /// application's database, read through GRDB's asynchronous reads.
    private let reads: ReadConnections?
    private let signal = HeadSignal()
    private let observation: Mutex<AnyDatabaseCancellable?> = Mutex(nil)

    /// Opens (or creates) the store in the SQLite file at `path`: WAL, `synchronous` as `options` say. Throws
    /// `SQLiteStoreError` for a file that is not a Strata database or has a newer schema (left untouched), and
    /// `EventStoreError.storage` when SQLite fails.
    public convenience init(path: String, options: Options = Options()) throws {
        try Self.checkBeforeOpening(path)
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(Self.seconds(options.busyTimeout))
        let synchronous = options.synchronous.rawValue
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw EventStoreError.storage(error)
        }
        // (The read connections open later, when needed: by an absolute path, whatever the working folder is then.)
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        try self.init(writer: pool, migrate: true, options: options, reads: ReadConnections(path: absolute, busyTimeout: Self.seconds(options.busyTimeout)))
        options.observability.logger.debug("opened the SQLite event store", metadata: ["path": "\(path)"])
    }

    /// A store in the application's own database: Strata's tables (`StrataSQLiteSchema`) beside the application's.
    /// `migrate`: run Strata's migrations now (false when the application registered them in its own migrator,
    /// `StrataSQLiteSchema.registerMigrations(in:)`, and ran it). The application configures the connection
    /// (WAL and `synchronous = FULL` are recommended); the store never closes it.
    public convenience init(writer: any DatabaseWriter, migrate: Bool = true, options: Options = Options()) throws {
        try self.init(writer: writer, migrate: migrate, options: options, reads: nil)
    }

    /// `reads`: the store's own read connections when it opened its own file (it owns `writer` then), nil when
    /// `writer` is the application's.
    private init(writer: any DatabaseWriter, migrate: Bool, options: Options, reads: ReadConnections?) throws {
        self.writer = writer
        self.options = options
        self.reads = reads
        let owns = reads != nil
        do {
            let found = try writer.read { db in try StrataSQLiteSchema.inspect(db).version }
            try StrataSQLiteSchema.checkVersion(found)
            if migrate { try StrataSQLiteSchema.migrator.migrate(writer) }
            let head = try writer.read { db in try Self.head(db) }
            signal.publish(head)
        } catch let error as SQLiteStoreError {
            if owns { try? writer.close() }
            throw error
        } catch {
            if owns { try? writer.close() }
            throw EventStoreError.storage(error)
        }
        // Commits of this process (also those the application makes in its own transactions) wake waiters.
        let signal = self.signal, logger = options.observability.logger
        let cancellable = DatabaseRegionObservation(tracking: Table("strata_events")).start(
            in: writer,
            onError: { error in logger.error("the SQLite event store stopped observing commits", metadata: ["error": "\(error)"]) },
            onChange: { db in if let head = try? Self.head(db) { signal.publish(head) } })
        observation.withLock { $0 = cancellable }
    }

    /// Refuses a file that is not SQLite, is another application's database, or has a newer Strata schema —
    /// reading it only.
    private static func checkBeforeOpening(_ path: String) throws {
        guard let isSQLite = StrataSQLiteSchema.looksLikeSQLite(path) else { return }  // new or empty: created
        guard isSQLite else { throw SQLiteStoreError.notADatabase(path: path) }
        // A connection that only reads. With a write-ahead log beside the file it is opened read-only (a connection
        // that may write would fold the log into the file when it closes); without one, as a plain connection (a
        // read-only one cannot open a WAL database whose shared-memory file is gone), which changes nothing either.
        let inspection: (version: Int?, otherTables: [String])
        do {
            var configuration = Configuration()
            configuration.readonly = FileManager.default.fileExists(atPath: path + "-wal")
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            inspection = try queue.read(StrataSQLiteSchema.inspect)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            throw SQLiteStoreError.notADatabase(path: path)
        } catch {
            throw EventStoreError.storage(error)
        }
        try StrataSQLiteSchema.checkVersion(inspection.version)
        if inspection.version == nil && !inspection.otherTables.isEmpty {
            throw SQLiteStoreError.notAStrataDatabase(path: path, tables: inspection.otherTables)
        }
    }

    /// Stops waking waiters (they get `EventStoreError.closed`) and closes the store's own pool; later calls
    /// throw `EventStoreError.closed`. An application's writer stays open.
    public func close() throws {
        observation.withLock { cancellable in
            cancellable?.cancel()
            cancellable = nil
        }
        signal.close()
        guard let reads else { return }
        reads.close()
        // GRDB closes a pool's writer before its readers, and SQLite folds the write-ahead log into the database file
        // only when the last connection to close may write: the log would stay beside the file, holding the latest
        // events. Fold it in first, so that the database file alone holds every event (copied on its own, it is
        // whole), then let a last connection of the store's own remove the emptied log files.
        let path = writer.path
        do {
            try writer.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        } catch {
            // A reader of another process may hold the log; the events are safe in it, only not in the file alone.
            options.observability.logger.notice(
                "closing the SQLite event store: the write-ahead log could not be folded into the database file",
                metadata: ["path": "\(path)", "error": "\(error)"])
        }
        do { try writer.close() } catch { throw EventStoreError.storage(error) }
        if let last = try? DatabaseQueue(path: path) { try? last.close() }
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        TimeInterval(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func head(_ db: Database) throws -> UInt64 {
        UInt64(max(0, try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(position) FROM strata_events")) ?? 0))
    }

    /// The stream's version: its highest, 0 for none.
    static func version(of stream: PartitionKey, _ db: Database) throws -> UInt64 {
        let statement = try db.cachedStatement(
            sql: "SELECT max(version) FROM strata_events WHERE tenant = ? AND aggregate_group = ? AND aggregate_id = ?")
        return UInt64(max(0, try Int64.fetchOne(statement, arguments: [stream.tenant, stream.group, stream.id]) ?? 0))
    }

    /// Runs `body` in a read transaction: on the store's own read connections (`ReadConnections`) when it opened its
    /// own file, else with GRDB's asynchronous read of the application's database. A failure is
    /// `EventStoreError.storage` (typed store errors and cancellation pass through).
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            if let reads { return try reads.read(body) }
            return try await writer.read(body)
        } catch let error as EventStoreError {
            throw error
        } catch let error as CancellationError {
            throw error
        } catch {
            throw EventStoreError.storage(error)
        }
    }

    private func checkOpen() throws(EventStoreError) {
        if signal.isClosed { throw .closed }
    }

    var signalClosed: Bool { signal.isClosed }

    // MARK: Appends

    @discardableResult
    public nonisolated(nonsending) func append(
        _ events: [EventRecord], expecting: [PartitionKey: ExpectedVersion]
    ) async throws -> AppendReceipt<UInt64> {
        try validateBatch(events, expecting)
        try checkOpen()
        let receipt: AppendReceipt<UInt64>
        do {
            receipt = try await writer.write { db in try Self.insert(events, expecting: expecting, db) }
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw EventStoreError.storage(error)
        }
        signal.publish(receipt.last)
        return receipt
    }

    /// Appends `events` inside the application's transaction `db` (on this store's database): they commit or roll
    /// back with the application's own changes. The same checks as `append(_:expecting:)`; waiters wake when the
    /// transaction commits.
    @discardableResult
    public func append(_ events: [EventRecord], expecting: [PartitionKey: ExpectedVersion] = [:], in db: Database) throws -> AppendReceipt<UInt64> {
        try validateBatch(events, expecting)
        try checkOpen()
        do {
            return try Self.insert(events, expecting: expecting, db)
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw EventStoreError.storage(error)
        }
    }

    /// The versions checked and the rows inserted, in the caller's transaction.
    static func insert(_ events: [EventRecord], expecting: [PartitionKey: ExpectedVersion], _ db: Database) throws -> AppendReceipt<UInt64> {
        func current(_ key: PartitionKey) throws -> UInt64 { try version(of: key, db) }
        // Each stream's version as this transaction knows it (checked streams, then every stream written).
        var known: [PartitionKey: UInt64] = [:]
        for (key, expected) in expecting {
            let actual = try current(key)
            known[key] = actual
            switch expected {
            case .any: continue
            case .noStream where actual == 0: continue
            case .exactly(let version) where version == actual: continue
            default: throw EventStoreError.versionConflict(stream: key, expected: expected, actual: actual)
            }
        }
        let insert = try db.cachedStatement(sql: """
            INSERT INTO strata_events (tenant, aggregate_group, aggregate_id, version, type, type_version, timestamp,
                                       event_id, correlation_id, causation_id, user, payload)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        var versions: [PartitionKey: UInt64] = [:]
        var first: Int64 = 0
        for (index, event) in events.enumerated() {
            let version = try (versions[event.key] ?? known[event.key] ?? current(event.key)) + 1
            versions[event.key] = version
            do {
                try insert.execute(arguments: [
                    event.key.tenant, event.key.group, event.key.id, Int64(version), event.typeName, Int64(event.typeVersion),
                    event.timestampMicros, event.eventId.blob, event.metadata.correlationId, event.metadata.causationId,
                    event.metadata.user, Data(event.payload),
                ])
            } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
                // Another writer got the version in between (only possible outside one transaction; the backstop).
                throw EventStoreError.versionConflict(stream: event.key, expected: expecting[event.key] ?? .any, actual: try current(event.key))
            }
            if index == 0 { first = db.lastInsertedRowID }
        }
        let last = db.lastInsertedRowID
        return AppendReceipt(first: UInt64(first), last: UInt64(last), versions: versions)
    }

    // MARK: Reads

    public nonisolated(nonsending) func version(of stream: PartitionKey) async throws -> UInt64 {
        try checkOpen()
        return try await read { db in try Self.version(of: stream, db) }
    }

    /// Rows read per read transaction: a read of more goes on in pages (each a consistent snapshot; the global
    /// order and a stream's versions only grow, so pages never skip or repeat).
    static let pageRows = 512

    @discardableResult
    public nonisolated(nonsending) func readStream(
        _ stream: PartitionKey, from: UInt64, through: UInt64, asOf: UInt64?, limit: Int,
        _ body: (EventView, UInt64) throws -> Void
    ) async throws -> Int {
        try checkOpen()
        guard from <= through, limit > 0, from <= UInt64(Int64.max) else { return 0 }
        let sql = """
            SELECT \(EventRows.columns) FROM strata_events
            WHERE tenant = ? AND aggregate_group = ? AND aggregate_id = ? AND version >= ? AND version <= ? AND position <= ?
            ORDER BY version LIMIT ?
            """
        var delivered = 0
        var next = from
        let last = min(through, UInt64(Int64.max)), bound = Int64(min(asOf ?? .max, UInt64(Int64.max)))
        while delivered < limit && next <= last {
            let rows = min(limit - delivered, Self.pageRows)
            let arguments: StatementArguments = [stream.tenant, stream.group, stream.id, Int64(next), Int64(last), bound, Int64(rows)]
            let page = try await read { db in try EventRows.page(db, sql: sql, arguments: arguments, rows: rows) }
            try EventRows.deliver(page, body)
            delivered += page.entries.count
            guard page.entries.count == rows, let version = page.entries.last?.version else { break }
            next = version + 1
        }
        return delivered
    }

    @discardableResult
    public nonisolated(nonsending) func readAll(
        after position: UInt64?, limit: Int, _ body: (EventView, UInt64) throws -> Void
    ) async throws -> UInt64? {
        try checkOpen()
        var last: UInt64?
        var delivered = 0
        var after = min(position ?? 0, UInt64(Int64.max))
        while delivered < limit {
            let rows = min(limit - delivered, Self.pageRows)
            let arguments: StatementArguments = [Int64(after), Int64(rows)]
            let page = try await read { db in
                try EventRows.page(
                    db, sql: "SELECT \(EventRows.columns) FROM strata_events WHERE position > ? ORDER BY position LIMIT ?",
                    arguments: arguments, rows: rows)
            }
            try EventRows.deliver(page, body)
            delivered += page.entries.count
            guard let end = page.entries.last?.position else { break }
            last = end
            after = end
            if page.entries.count < rows { break }
        }
        return last
    }

    public nonisolated(nonsending) func waitForEvents(after position: UInt64?) async throws {
        let after = position ?? 0
        while true {
            try Task.checkCancellation()
            try checkOpen()
            // What this process knows first; the database (other processes' commits) at every poll.
            if signal.head > after { return }
            let head = try await read(Self.head)
            signal.publish(head)
            if head > after { return }
            try await signal.wait(after: after, timeout: options.pollInterval)
        }
    }
}

extension EventID {
    /// The 16 bytes, RFC 4122 byte order.
    var blob: Data {
        withUnsafeBytes(of: (high.bigEndian, low.bigEndian)) { Data($0) }
    }

    /// The id of 16 bytes in RFC 4122 byte order.
    init(bytes: UnsafeRawBufferPointer) {
        var high: UInt64 = 0, low: UInt64 = 0
        for i in 0..<8 { high = high << 8 | UInt64(bytes[i]) }
        for i in 8..<16 { low = low << 8 | UInt64(bytes[i]) }
        self.init(high: high, low: low)
    }
}

/// The head this process knows, and waiters for it to move.
final class HeadSignal: Sendable {
    private let commits = CommitSignal<UInt64>()
    private let known = Mutex<(head: UInt64, closed: Bool)>((0, false))

    var head: UInt64 { known.withLock { $0.head } }
    var isClosed: Bool { known.withLock { $0.closed } }

    func publish(_ head: UInt64) {
        let moved = known.withLock { state -> Bool in
            guard head > state.head else { return false }
            state.head = head
            return true
        }
        if moved { commits.published(head) }
    }

    func close() {
        known.withLock { $0.closed = true }
        commits.close()
    }

    /// Returns when the head passes `after` or `timeout` has passed; throws `EventStoreError.closed` when closed,
    /// `CancellationError` when the task is cancelled.
    func wait(after: UInt64, timeout: Duration) async throws {
        if try await commits.wait(after: after, timeout: timeout, head: { self.head }) == false { throw EventStoreError.closed }
    }
}
