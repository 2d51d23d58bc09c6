/// Why a partition key was refused.
public struct PartitionKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `tenant`, `group` or `id`.
    public var part: String
    /// The refused value.
    public var value: String
    /// The rule it breaks.
    public var reason: String

    /// The part, the value (quoted and escaped: `quotedForMessage`) and the rule.
    public var description: String { "invalid \(part) \(quotedForMessage(value)): \(reason)" }
}

/// The rules every partition key of the event-sourcing layer follows (the engine itself only bounds lengths):
///
/// | part | bytes | characters |
/// |---|---|---|
/// | tenant | 1 … 64 | ASCII letters, digits, `-`, `_`, `.`; not starting with `.` |
/// | group (the aggregate type) | 1 … 64 | the same |
/// | id | 1 … 128 | any UTF-8 except control characters (U+0000 … U+001F, U+007F … U+009F), without leading or trailing spaces |
///
/// Tenants and groups are names a program chooses, so they are kept to characters that are safe in file names,
/// URLs, logs and the `tenant/group/id` form; ids often come from users or other systems (UUIDs, e-mail
/// addresses, composite keys with `/`), so they may hold any printable text.
extension PartitionKey {
    /// The longest tenant or group, in UTF-8 bytes.
    public static let nameBytesMax = 64
    /// The longest id, in UTF-8 bytes.
    public static let idBytesMax = 128

    /// A key that follows the rules above, or the first rule it breaks.
    public static func validated(tenant: String, group: String, id: String) throws(PartitionKeyError) -> PartitionKey {
        try checkName(tenant, part: "tenant")
        try checkName(group, part: "group")
        try checkId(id)
        return PartitionKey(tenant: tenant, group: group, id: id)
    }

    /// Throws the first rule this key breaks.
    public func validate() throws(PartitionKeyError) {
        _ = try Self.validated(tenant: tenant, group: group, id: id)
    }

    static func checkName(_ value: String, part: String) throws(PartitionKeyError) {
        let bytes = value.utf8
        guard !bytes.isEmpty else { throw PartitionKeyError(part: part, value: value, reason: "empty") }
        guard bytes.count <= nameBytesMax else {
            throw PartitionKeyError(part: part, value: value, reason: "\(bytes.count) bytes; at most \(nameBytesMax)")
        }
        guard bytes.first != UInt8(ascii: ".") else {
            throw PartitionKeyError(part: part, value: value, reason: "starts with \".\"")
        }
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                continue
            default:
                throw PartitionKeyError(
                    part: part, value: value, reason: "only ASCII letters, digits, \"-\", \"_\" and \".\" are allowed")
            }
        }
    }

    static func checkId(_ value: String) throws(PartitionKeyError) {
        let count = value.utf8.count
        guard count > 0 else { throw PartitionKeyError(part: "id", value: value, reason: "empty") }
        guard count <= idBytesMax else {
            throw PartitionKeyError(part: "id", value: value, reason: "\(count) bytes; at most \(idBytesMax)")
        }
        for scalar in value.unicodeScalars where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
            throw PartitionKeyError(part: "id", value: value, reason: "holds the control character \(escapedForMessage(String(scalar)))")
        }
        guard value.unicodeScalars.first != " ", value.unicodeScalars.last != " " else {
            throw PartitionKeyError(part: "id", value: value, reason: "starts or ends with a space")
        }
    }
}
