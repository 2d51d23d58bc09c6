import NIOCore
import PostgresNIO
import Strata
import StrataStorage

/// Rows of the `events` table as `EventView`s: each row's columns (binary format) checked, its variable-length
/// fields copied into one reused buffer and handed out as views of it — a row changed by hand or damaged becomes
/// `PostgresStoreError.damagedRow` naming the row and the column, never a crash or a wrong event.
struct EventRows {
    /// The columns every event read selects, in this order.
    static let columns = """
        tx, position, version, type_version, timestamp_us, event_id, tenant, aggregate_group, aggregate_id, type,
        correlation_id, causation_id, "user", payload
        """
    static let fieldCount = 8
    /// The variable-length fields' columns and largest sizes.
    static let names = ["tenant", "aggregate_group", "aggregate_id", "type", "correlation_id", "causation_id", "user", "payload"]
    static let limits = [
        RecordLimits.tenantBytesMax, RecordLimits.groupBytesMax, RecordLimits.aggregateIdBytesMax, RecordLimits.typeNameBytesMax,
        RecordLimits.metadataFieldBytesMax, RecordLimits.metadataFieldBytesMax, RecordLimits.metadataFieldBytesMax,
        RecordLimits.payloadBytesMax,
    ]

    /// The current row's variable-length fields, one after the other (reused row after row).
    private var bytes: [UInt8] = []
    /// Per field: start in `bytes` and length (-1: NULL).
    private var spans = [Int](repeating: 0, count: 2 * fieldCount)

    /// Calls `body` with the view of `row` and its position.
    mutating func deliver<R>(_ row: PostgresRow, _ body: (EventView, PostgresPosition) throws -> R) throws -> R {
        var cells = row.makeIterator()
        var position = PostgresPosition.origin
        func damaged(_ column: String, _ reason: String) -> PostgresStoreError {
            .damagedRow(table: "events", position: "\(position)", column: column, reason: reason)
        }
        func integer(_ column: String, _ range: ClosedRange<Int64>) throws(PostgresStoreError) -> Int64 {
            guard let cell = cells.next(), let buffer = cell.bytes else { throw damaged(column, "NULL") }
            guard buffer.readableBytes == 8, let value = buffer.getInteger(at: buffer.readerIndex, as: Int64.self) else {
                throw damaged(column, "not a bigint")
            }
            guard range.contains(value) else { throw damaged(column, "\(value) is out of range \(range)") }
            return value
        }
        let tx = try integer("tx", 0...Int64.max)
        let sequence = try integer("position", 0...Int64.max)
        position = PostgresPosition(transaction: UInt64(tx), sequence: UInt64(sequence))
        let version = try integer("version", 1...Int64.max)
        let typeVersion = try integer("type_version", 0...Int64(UInt32.max))
        let timestamp = try integer("timestamp_us", Int64.min...Int64.max)
        guard let idCell = cells.next(), let id = idCell.bytes, id.readableBytes == 16,
            let high = id.getInteger(at: id.readerIndex, as: UInt64.self), let low = id.getInteger(at: id.readerIndex + 8, as: UInt64.self)
        else { throw damaged("event_id", "not a uuid") }
        bytes.removeAll(keepingCapacity: true)
        let limits = Self.limits, names = Self.names
        for field in 0..<Self.fieldCount {
            guard let cell = cells.next() else { throw damaged(names[field], "missing") }
            guard let buffer = cell.bytes else {
                guard field >= 4 && field <= 6 else { throw damaged(names[field], "NULL") }
                spans[2 * field] = 0
                spans[2 * field + 1] = -1
                continue
            }
            let count = buffer.readableBytes
            guard count <= limits[field], count > 0 || field >= 4 else {
                throw damaged(names[field], "\(count) bytes (\(field >= 4 ? 0 : 1)…\(limits[field]) allowed)")
            }
            spans[2 * field] = bytes.count
            spans[2 * field + 1] = count
            buffer.withUnsafeReadableBytes { bytes.append(contentsOf: $0) }
        }
        let spans = self.spans
        return try bytes.withUnsafeBytes { base throws -> R in
            func span(_ field: Int) -> UnsafeRawBufferPointer? {
                let start = spans[2 * field], count = spans[2 * field + 1]
                return count < 0 ? nil : UnsafeRawBufferPointer(rebasing: base[start..<(start + count)])
            }
            for field in 0..<7 {
                if let text = span(field), !isValidUTF8(text) { throw damaged(names[field], "not valid UTF-8") }
            }
            let view = EventView(
                version: UInt64(version), typeVersion: UInt32(typeVersion), timestampMicros: timestamp,
                eventId: EventID(high: high, low: low), tenantBytes: span(0)!, groupBytes: span(1)!, idBytes: span(2)!,
                typeNameBytes: span(3)!, correlationId: span(4).map(MetadataID.init(text:)),
                causationId: span(5).map(MetadataID.init(text:)), userBytes: span(6), payload: span(7)!)
            return try body(view, position)
        }
    }
}
