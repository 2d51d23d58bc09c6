/// Where an event belongs: tenant / aggregate group / aggregate id. The engine only checks lengths
/// (`Limits`); the event-sourcing layer defines the allowed characters.
public struct PartitionKey: Hashable, Sendable, CustomStringConvertible {
    public var tenant: String
    public var group: String
    public var id: String

    public init(tenant: String, group: String, id: String) {
        self.tenant = tenant
        self.group = group
        self.id = id
    }

    /// `tenant/group/id`, each part escaped for messages (`escapedForMessage`: a newline or a NUL in an id shows as
    /// `U+000A`, `U+0000`).
    public var description: String { "\(escapedForMessage(tenant))/\(escapedForMessage(group))/\(escapedForMessage(id))" }
}
