import Strata

/// Why a PostgreSQL event store could not be opened or used, beyond `EventStoreError`'s cases (it comes wrapped in
/// `EventStoreError.storage` from the store's methods, and as itself from `PostgresEventStore.connect`).
public enum PostgresStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A connection URL or a `PG*` environment variable that cannot be used.
    case invalidConfiguration(setting: String, reason: String)
    /// The schema holds a newer Strata schema than this code knows; nothing was changed.
    case newerSchema(schema: String, found: Int, supported: Int)
    /// The schema holds tables that are not Strata's (the store wants a schema of its own); nothing was changed.
    case notAStrataSchema(schema: String, tables: [String])
    /// The schema holds no Strata tables and `Configuration.createSchemaIfMissing` is false; nothing was created.
    case schemaMissing(schema: String)
    /// The server could not be reached, or the connection was lost (a server restart, a network failure). The
    /// pool reconnects by itself: a later call may succeed. `mayHaveCommitted`: the connection was lost after an
    /// append was sent, or the store stopped waiting for its answer (`Configuration.callTimeout`), so it may have
    /// committed — in the second case possibly a little after the call returned (read the stream to know, and
    /// retry with an expected version); otherwise nothing was written.
    case connectionLost(operation: String, mayHaveCommitted: Bool, reason: String)
    /// The server cancelled a statement that ran longer than `Configuration.statementTimeout` (nothing of it
    /// was written).
    case timedOut(operation: String)
    /// The server refused a statement: its SQLSTATE code and message.
    case server(operation: String, sqlState: String, message: String)
    /// A row that is not what Strata writes (changed by hand, or damaged): its table, position and column.
    case damagedRow(table: String, position: String, column: String, reason: String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let setting, let reason): "invalid PostgreSQL configuration \(setting): \(reason)"
        case .newerSchema(let schema, let found, let supported):
            "the PostgreSQL schema \(schema) holds Strata schema version \(found); this version of Strata knows up to \(supported)"
        case .notAStrataSchema(let schema, let tables):
            "the PostgreSQL schema \(schema) holds tables that are not Strata's (\(tables.joined(separator: ", "))); give the store a schema of its own"
        case .schemaMissing(let schema): "the PostgreSQL schema \(schema) holds no Strata event store"
        case .connectionLost(let operation, let mayHaveCommitted, let reason):
            "\(operation): the connection to PostgreSQL failed (\(reason))" + (mayHaveCommitted ? "; the append may have committed" : "")
        case .timedOut(let operation): "\(operation): the statement ran past the statement timeout and was cancelled"
        case .server(let operation, let sqlState, let message): "\(operation): PostgreSQL refused it (SQLSTATE \(sqlState)): \(message)"
        case .damagedRow(let table, let position, let column, let reason): "damaged row in \(table) at \(position), column \(column): \(reason)"
        }
    }
}
