import StrataStorage

/// A read model folded from the global stream: events of many aggregates (of every tenant, or of one — a tenant
/// projection), in global order. Run it with `Projection`.
///
/// ```swift
/// enum ItemsPerProduct: MultiProjector {
///     struct State: Sendable { var quantities: [String: Int] = [:] }
///     enum Events { case added(ItemAdded), removed(ItemRemoved) }
///     static let projectorName = "items-per-product"
///     static let events = EventTypes<Events>().on(ItemAdded.self, Events.added).on(ItemRemoved.self, Events.removed)
///     static let initialState = State()
///     static func apply(_ state: inout State, _ event: Events, _ context: EventContext) throws {
///         switch event {
///         case .added(let e): state.quantities[e.product, default: 0] += e.quantity
///         case .removed(let e): state.quantities[e.product, default: 0] -= e.quantity
///         }
///     }
/// }
/// ```
public protocol MultiProjector: Sendable {
    associatedtype State: Sendable
    associatedtype Events

    /// The identity of this projection (checkpoints and snapshots are kept under it).
    static var projectorName: String { get }
    /// Bump it when `apply` changes what a given history folds to: state saved by another version is rebuilt.
    static var projectorVersion: Int { get }
    /// The event types the projection folds; events of other types are passed over without being decoded.
    static var events: EventTypes<Events> { get }
    /// Which events of the global stream it reads (default: all); a tenant projection adds its tenant.
    static var filter: EventFilter { get }
    /// The state before the first event.
    static var initialState: State { get }
    /// Folds `event` into `state`, in place. Throwing reports the event (`ProjectionError`); the projection then
    /// stops or skips the event (`ProjectionErrorPolicy`) — when it skips, it goes on from `state` as the throwing
    /// call left it, so change the state only once nothing can fail.
    static func apply(_ state: inout State, _ event: Events, _ context: EventContext) throws
    /// When a running projection snapshots its state (default: every 50,000 events of the global stream, or after
    /// 60 seconds with new events).
    static var snapshotPolicy: ProjectionSnapshotPolicy { get }
    /// The state as snapshot bytes; nil when the state is not snapshotted. Default: a `Codable` state is encoded
    /// with the projection's codec, any other state is not snapshotted.
    static func snapshotBytes(of state: State, codec: any EventCodec) throws -> [UInt8]?
    /// The state from snapshot bytes (what `snapshotBytes(of:codec:)` made); nil when not snapshotted.
    static func state(fromSnapshot bytes: UnsafeRawBufferPointer, codec: any EventCodec) throws -> State?
}

extension MultiProjector {
    /// 1, until the projector says otherwise.
    public static var projectorVersion: Int { 1 }
    /// Every event.
    public static var filter: EventFilter { .all }
    /// Every 50,000 events, or after 60 seconds with new events.
    public static var snapshotPolicy: ProjectionSnapshotPolicy { .every(events: 50_000, seconds: 60) }
    /// Not snapshotted (the state is not `Codable`).
    public static func snapshotBytes(of state: State, codec: any EventCodec) throws -> [UInt8]? { nil }
    /// Not snapshotted (the state is not `Codable`).
    public static func state(fromSnapshot bytes: UnsafeRawBufferPointer, codec: any EventCodec) throws -> State? { nil }
}

extension MultiProjector where State: Codable {
    /// The state encoded with `codec`.
    public static func snapshotBytes(of state: State, codec: any EventCodec) throws -> [UInt8]? { try codec.encode(state) }
    /// The state decoded with `codec`.
    public static func state(fromSnapshot bytes: UnsafeRawBufferPointer, codec: any EventCodec) throws -> State? {
        try codec.decode(State.self, from: bytes)
    }
}

extension MultiProjector where State: Codable & FieldDecodable {
    /// The state read field by field (`@FieldCodable`, `FieldDecodable`) with `codec`.
    public static func state(fromSnapshot bytes: UnsafeRawBufferPointer, codec: any EventCodec) throws -> State? {
        try codec.decode(fields: State.self, from: bytes)
    }
}

extension MultiProjector where Events: EventSet {
    /// The event set's registry (`@EventSet`).
    public static var events: EventTypes<Events> { Events.types }
}

/// When a running projection snapshots its state: once `events` events of the global order have passed since its last
/// snapshot, or `seconds` have passed and it has read new events. A projection starts from its latest usable
/// snapshot, so a restart (or a rebuild after a crash) replays only what follows it.
public struct ProjectionSnapshotPolicy: Sendable, Hashable {
    /// Events of the global order (folded or not) between snapshots (0: not by count).
    public var events: UInt64
    /// Seconds between snapshots while new events arrive (0: not by time).
    public var seconds: Double

    /// Every `events` events, or after `seconds` seconds with new events (0 turns either off).
    public static func every(events: UInt64, seconds: Double = 0) -> ProjectionSnapshotPolicy {
        ProjectionSnapshotPolicy(events: events, seconds: seconds)
    }

    /// No automatic snapshots (`Projection.snapshot()` still takes one).
    public static let never = ProjectionSnapshotPolicy(events: 0, seconds: 0)

    /// Whether a snapshot is due `passed` events (read from the global order, folded or not) and `elapsed`
    /// seconds after the last one.
    public func isDue(passed: UInt64, elapsed: Double) -> Bool {
        guard passed > 0 else { return false }
        return (events > 0 && passed >= events) || (seconds > 0 && elapsed >= seconds)
    }
}

/// Where an event being folded stands: the stored event (valid only during `apply`; copy out what you keep) and
/// its position.
public struct EventContext {
    /// The stored event: stream version, time, ids, metadata, and the partition key's bytes.
    public let event: EventView
    /// The event's position in the global order (the store's `Position`).
    public let position: any EventPosition

    /// The context of `event`, stored at `position`.
    public init(event: EventView, position: any EventPosition) {
        self.event = event
        self.position = position
    }

    /// The event's version in its stream.
    public var version: UInt64 { event.version }
    /// The event's partition key (makes three strings: read `event`'s bytes where that matters).
    public var key: PartitionKey { event.key }
    /// The event's tenant.
    public var tenant: String { event.tenant }
    /// When the event was appended, in microseconds since 1970.
    public var timestampMicros: Int64 { event.timestampMicros }
}

/// What a projection does when an event does not decode or its projector throws.
public enum ProjectionErrorPolicy: Sendable, Hashable {
    /// Stop: `Projection.run()` throws the `ProjectionError`; the projection's state and position stay just
    /// before the failing event (running again retries it).
    case stop
    /// Pass over the event and go on; the failure is kept in `Projection.failures` (the latest 100) and counted.
    case skip
}

/// An event a projection could not fold: which one, and why.
public struct ProjectionError: Error, Sendable, CustomStringConvertible {
    /// The projection's name.
    public var projection: String
    /// The event's position in the global order (its string form).
    public var position: String
    /// The event's stream.
    public var stream: PartitionKey
    /// The event's type name.
    public var typeName: String
    /// The event's schema version.
    public var typeVersion: UInt32
    /// What failed.
    public enum Kind: Sendable, Equatable {
        /// The payload does not decode.
        case undecodable
        /// The projector registers the event's type but not its schema version (a newer writer's event).
        case unknownVersion(known: [UInt32])
        /// The projector's `apply` threw.
        case projectorFailed
    }

    public var kind: Kind
    /// What failed: the decoding error or what the projector threw.
    public var reason: String

    /// The projection, the event and the reason.
    public var description: String {
        "projection \(projection) failed at position \(position) (stream \(stream), type \(quotedForMessage(typeName)) v\(typeVersion)): \(reason)"
    }
}
