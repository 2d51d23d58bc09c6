/// What a command needs of its aggregate before it runs.
public enum CommandKind: Sendable, Equatable {
    /// Creates the aggregate: fails with `CommandError.alreadyExists` if it has events.
    case create
    /// Changes an existing aggregate: fails with `CommandError.notFound` if it has none.
    case update
    /// Runs on the aggregate as it is, new or not.
    case any
    /// Runs only if the aggregate is at exactly this version (the caller's optimistic check: a conflict is
    /// returned, never retried).
    case expectedVersion(UInt64)
    /// Appends without loading the aggregate (the handler sees an empty one) and without a version check:
    /// for events that do not depend on the aggregate's state.
    case appendOnly
}

/// A command to one aggregate: its key, what it needs of the aggregate, and a handler that turns the current
/// aggregate into events or throws a domain error.
///
/// ```swift
/// struct AddItem: Command {
///     typealias Projector = Cart
///     var key: PartitionKey
///     var product: String
///     func handle(_ cart: Aggregate<Cart>) throws -> [any Event] {
///         guard case .open = cart.state else { throw CartError.notOpen }
///         return [ItemAdded(product: product, quantity: 1)]
///     }
/// }
/// ```
public protocol Command: Sendable {
    associatedtype Projector: AggregateProjector
    /// The aggregate's partition key (its group must be `Projector.group`).
    var key: PartitionKey { get }
    /// Default `.any`.
    var kind: CommandKind { get }
    /// The events this command produces on `aggregate` (none is allowed: nothing is appended), or a domain error.
    /// It may run more than once when another process writes the aggregate meanwhile: keep it free of effects.
    func handle(_ aggregate: Aggregate<Projector>) throws -> [any Event]
}

extension Command {
    /// `.any`: the command runs on the aggregate as it is.
    public var kind: CommandKind { .any }
}

/// What a command did.
public struct CommandResult<Position: EventPosition>: Sendable {
    /// The aggregate the command ran on.
    public var key: PartitionKey
    /// The aggregate's version after the command (unchanged when it produced no events).
    public var version: UInt64
    /// The position of the command's last event — wait for a projection to reach it to read your own write. When
    /// the command produced no events: the position of the aggregate's last event as the command saw it
    /// (`Position.origin` for an aggregate without events), so waiting for it is always right.
    public var position: Position
    /// How many events the command appended.
    public var eventCount: Int
    /// How many times the handler ran (more than once after conflicts with other writers).
    public var attempts: Int
    /// The events the command appended, as appended (their versions are `version - eventCount + 1` through
    /// `version`; the last is at `position`).
    public var events: [EventRecord]

    @usableFromInline init(key: PartitionKey, version: UInt64, position: Position, events: [EventRecord], attempts: Int) {
        self.key = key
        self.version = version
        self.position = position
        self.eventCount = events.count
        self.attempts = attempts
        self.events = events
    }
}

/// Why a command did not commit.
public enum CommandError: Error, Sendable, CustomStringConvertible {
    /// `.create` on an aggregate that has events.
    case alreadyExists(PartitionKey, version: UInt64)
    /// `.update` on an aggregate that has none.
    case notFound(PartitionKey)
    /// `.expectedVersion` did not hold, or other writers kept winning after every retry.
    case conflict(PartitionKey, expected: UInt64, actual: UInt64)
    /// The handler threw (a domain error): nothing was appended.
    case rejected(PartitionKey, any Error)
    /// The key's group is not the projector's, or the key breaks the partition-key rules.
    case invalidKey(PartitionKey, String)
    /// The aggregate did not load: one of its events does not decode or fold (nothing was appended).
    case loadFailed(PartitionKey, AggregateLoadError)
    /// The store failed or refused the append (nothing was appended — or, for `.storage` after the batch was
    /// handed to the store, the store says whether it was).
    case store(PartitionKey, EventStoreError)

    /// What went wrong, naming the aggregate.
    public var description: String {
        switch self {
        case .alreadyExists(let key, let version): "aggregate \(key) already exists (version \(version))"
        case .notFound(let key): "aggregate \(key) does not exist"
        case .conflict(let key, let expected, let actual): "aggregate \(key) is at version \(actual), not \(expected)"
        case .rejected(let key, let error): "command on \(key) rejected: \(error)"
        case .invalidKey(let key, let reason): "invalid key \(key): \(reason)"
        case .loadFailed(let key, let error): "aggregate \(key) did not load: \(error)"
        case .store(let key, let error): "command on \(key) failed in the store: \(error)"
        }
    }
}
