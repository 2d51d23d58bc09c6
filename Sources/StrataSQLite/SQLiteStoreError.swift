/// Why the SQLite store refused a database or a row. Thrown by the initialisers as it is, and by the
/// `EventStore` methods inside `EventStoreError.storage`.
public enum SQLiteStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file is not an SQLite database (its first 16 bytes are not SQLite's header); it was not touched.
    case notADatabase(path: String)
    /// The file is an SQLite database of something else: it has tables and no Strata schema. It was not touched
    /// (to keep events beside an application's own tables, hand the application's `DatabasePool` or
    /// `DatabaseQueue` to `SQLiteEventStore(writer:)`).
    case notAStrataDatabase(path: String, tables: [String])
    /// The database's Strata schema is newer than this code knows: written by a newer Strata. Nothing was changed.
    case newerSchema(found: Int, supported: Int)
    /// A stored row breaks the rules every event follows (`RecordLimits`, UTF-8 text, a 16-byte id, versions from
    /// 1): the database was changed by something other than Strata, or damaged. Names the row and the column.
    case damagedRow(table: String, position: Int64, column: String, reason: String)

    public var description: String {
        switch self {
        case .notADatabase(let path): "\(path) is not an SQLite database (left untouched)"
        case .notAStrataDatabase(let path, let tables):
            "\(path) is an SQLite database without Strata's schema (tables: \(tables.joined(separator: ", "))); left untouched"
        case .newerSchema(let found, let supported):
            "the database has Strata schema version \(found); this Strata knows versions up to \(supported) (nothing was changed)"
        case .damagedRow(let table, let position, let column, let reason):
            "damaged row in \(table) at position \(position), column \(column): \(reason)"
        }
    }
}
