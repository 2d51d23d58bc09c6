import Strata

/// A place in a PostgreSQL store's global order: the writing transaction's id (`tx`, PostgreSQL's 64-bit
/// `xid8`) and the event's row sequence (`position`, from a `bigserial`), compared in that order. Readers of the
/// global order only read rows of transactions that are older than every transaction still running
/// (`tx < pg_snapshot_xmin(pg_current_snapshot())`), so an event never appears behind one already delivered —
/// whatever the order in which transactions commit. The string form is `"<transaction>-<sequence>"`.
public struct PostgresPosition: EventPosition {
    /// The id of the transaction that wrote the event (PostgreSQL's `pg_current_xact_id()`).
    public var transaction: UInt64
    /// The event's number in the `events` table's sequence: the order within the transaction.
    public var sequence: UInt64

    /// A position (stores make these; parse a saved one with `init?(_:)`).
    public init(transaction: UInt64, sequence: UInt64) {
        self.transaction = transaction
        self.sequence = sequence
    }

    /// Before every event.
    public static var origin: PostgresPosition { PostgresPosition(transaction: 0, sequence: 0) }

    public static func < (a: PostgresPosition, b: PostgresPosition) -> Bool {
        (a.transaction, a.sequence) < (b.transaction, b.sequence)
    }

    /// `"<transaction>-<sequence>"`, e.g. `"7614-120033"`.
    public var description: String { "\(transaction)-\(sequence)" }

    /// Parses `"<transaction>-<sequence>"` (two decimal numbers).
    public init?(_ description: String) {
        let parts = description.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }),
            let transaction = UInt64(parts[0]), let sequence = UInt64(parts[1])
        else { return nil }
        self.init(transaction: transaction, sequence: sequence)
    }

    /// The two numbers as PostgreSQL `bigint`s (both are below 2⁶³ in any real cluster; larger values clamp).
    var columns: (Int64, Int64) {
        (Int64(clamping: transaction), Int64(clamping: sequence))
    }
}
