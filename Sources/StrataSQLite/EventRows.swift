import GRDB
import Strata
@_spi(StrataInternals) import StrataStorage
#if canImport(GRDBSQLite)
import GRDBSQLite
#elseif canImport(SQLite3)
import SQLite3
#endif

/// Rows of `strata_events` as `EventView`s: every column read in place from SQLite's own buffers (valid until the
/// statement steps on), checked before it is trusted — a row that another program changed or that is damaged
/// becomes `SQLiteStoreError.damagedRow` naming the row and the column, never a crash or a wrong event.
enum EventRows {
    /// The columns every event read selects, in this order.
    static let columns = """
        position, version, type_version, timestamp, event_id, tenant, aggregate_group, aggregate_id, type,
        correlation_id, causation_id, user, payload
        """

    /// Rows read in one read transaction, copied out of SQLite's buffers (a reader connection is never held while
    /// the caller's closure runs: the closure may call the store). Flat, so a page of n rows is three arrays, not
    /// n allocations.
    struct Page: Sendable {
        struct Entry: Sendable {
            var position: UInt64, version: UInt64, typeVersion: UInt32, timestamp: Int64, eventId: EventID
        }
        /// The variable-length fields of every row, one after the other.
        var bytes: [UInt8] = []
        /// Per row, `fieldsPerRow` pairs (start in `bytes`, length; length -1: NULL): tenant, group, id, type,
        /// correlation, causation, user, payload.
        var spans: [Int] = []
        var entries: [Entry] = []

        static let fieldsPerRow = 8
    }

    /// Runs `sql` (selecting `columns`, with `arguments`) in `db` and copies its rows out, checked.
    static func page(_ db: Database, sql: String, arguments: StatementArguments, rows: Int) throws -> Page {
        let statement = try db.cachedStatement(sql: sql)
        try statement.setArguments(arguments)
        let cursor = try Row.fetchCursor(statement)
        let sqlite = statement.sqliteStatement
        var page = Page()
        page.entries.reserveCapacity(rows)
        page.spans.reserveCapacity(rows * 2 * Page.fieldsPerRow)
        func keep(_ bytes: UnsafeRawBufferPointer?) {
            guard let bytes else {
                page.spans.append(0)
                page.spans.append(-1)
                return
            }
            page.spans.append(page.bytes.count)
            page.spans.append(bytes.count)
            page.bytes.append(contentsOf: bytes)
        }
        while try cursor.next() != nil {
            let (view, position) = try Self.view(sqlite)
            if page.bytes.isEmpty { page.bytes.reserveCapacity(rows * (view.payload.count + 96)) }
            keep(view.tenantBytes)
            keep(view.groupBytes)
            keep(view.idBytes)
            keep(view.typeNameBytes)
            keep(view.correlationId?.text)
            keep(view.causationId?.text)
            keep(view.userBytes)
            keep(view.payload)
            page.entries.append(Page.Entry(
                position: position, version: view.version, typeVersion: view.typeVersion, timestamp: view.timestampMicros,
                eventId: view.eventId))
        }
        return page
    }

    /// Calls `body` with a view of each row of `page` (into the page's bytes) and its position.
    static func deliver(_ page: Page, _ body: (EventView, UInt64) throws -> Void) rethrows {
        try page.bytes.withUnsafeBytes { base in
            try page.spans.withUnsafeBufferPointer { spans in
                func span(_ row: Int, _ field: Int) -> UnsafeRawBufferPointer? {
                    let at = (row * Page.fieldsPerRow + field) * 2
                    let start = spans[at], count = spans[at + 1]
                    return count < 0 ? nil : UnsafeRawBufferPointer(rebasing: base[start..<(start + count)])
                }
                for (row, entry) in page.entries.enumerated() {
                    try body(EventView(
                        version: entry.version, typeVersion: entry.typeVersion, timestampMicros: entry.timestamp, eventId: entry.eventId,
                        tenantBytes: span(row, 0)!, groupBytes: span(row, 1)!, idBytes: span(row, 2)!, typeNameBytes: span(row, 3)!,
                        correlationId: span(row, 4).map(MetadataID.init(text:)), causationId: span(row, 5).map(MetadataID.init(text:)),
                        userBytes: span(row, 6), payload: span(row, 7)!), entry.position)
                }
            }
        }
    }

    /// The current row as a view, checked.
    static func view(_ statement: OpaquePointer) throws(SQLiteStoreError) -> (EventView, UInt64) {
        let position = sqlite3_column_int64(statement, 0)
        func damaged(_ column: String, _ reason: String) -> SQLiteStoreError {
            .damagedRow(table: "strata_events", position: position, column: column, reason: reason)
        }
        func integer(_ index: Int32, _ column: String, _ range: ClosedRange<Int64>) throws(SQLiteStoreError) -> Int64 {
            guard sqlite3_column_type(statement, index) == SQLITE_INTEGER else { throw damaged(column, "not an integer") }
            let value = sqlite3_column_int64(statement, index)
            guard range.contains(value) else { throw damaged(column, "\(value) is out of range \(range)") }
            return value
        }
        /// The column's bytes as stored (text or blob, no conversion); nil for NULL.
        func bytes(_ index: Int32) -> UnsafeRawBufferPointer? {
            guard sqlite3_column_type(statement, index) != SQLITE_NULL else { return nil }
            let start = sqlite3_column_blob(statement, index)
            let count = Int(sqlite3_column_bytes(statement, index))
            return UnsafeRawBufferPointer(start: count == 0 ? nil : start, count: count)
        }
        func text(_ index: Int32, _ column: String, _ max: Int, allowEmpty: Bool = false) throws(SQLiteStoreError) -> UnsafeRawBufferPointer {
            guard let value = bytes(index) else { throw damaged(column, "NULL") }
            guard value.count <= max, allowEmpty || !value.isEmpty else { throw damaged(column, "\(value.count) bytes (1…\(max) allowed)") }
            guard isValidUTF8(value) else { throw damaged(column, "not valid UTF-8") }
            return value
        }
        func optionalText(_ index: Int32, _ column: String) throws(SQLiteStoreError) -> UnsafeRawBufferPointer? {
            guard sqlite3_column_type(statement, index) != SQLITE_NULL else { return nil }
            return try text(index, column, RecordLimits.metadataFieldBytesMax, allowEmpty: true)
        }
        _ = try integer(0, "position", 1...Int64.max)
        let version = try integer(1, "version", 1...Int64.max)
        let typeVersion = try integer(2, "type_version", 0...Int64(UInt32.max))
        let timestamp = try integer(3, "timestamp", Int64.min...Int64.max)
        guard let id = bytes(4), id.count == 16 else { throw damaged("event_id", "not 16 bytes") }
        let tenant = try text(5, "tenant", RecordLimits.tenantBytesMax)
        let group = try text(6, "aggregate_group", RecordLimits.groupBytesMax)
        let aggregate = try text(7, "aggregate_id", RecordLimits.aggregateIdBytesMax)
        let type = try text(8, "type", RecordLimits.typeNameBytesMax)
        let correlation = try optionalText(9, "correlation_id")
        let causation = try optionalText(10, "causation_id")
        let user = try optionalText(11, "user")
        guard let payload = bytes(12) else { throw damaged("payload", "NULL") }
        guard payload.count <= RecordLimits.payloadBytesMax else {
            throw damaged("payload", "\(payload.count) bytes; the limit is \(RecordLimits.payloadBytesMax)")
        }
        let view = EventView(
            version: UInt64(version), typeVersion: UInt32(typeVersion), timestampMicros: timestamp, eventId: EventID(bytes: id),
            tenantBytes: tenant, groupBytes: group, idBytes: aggregate, typeNameBytes: type,
            correlationId: correlation.map(MetadataID.init(text:)), causationId: causation.map(MetadataID.init(text:)),
            userBytes: user, payload: payload)
        return (view, UInt64(position))
    }
}
