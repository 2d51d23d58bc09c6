/// How an aggregate's state follows from its events: the state (often an enum — a state machine whose cases
/// can hold different data), the events it understands, and the fold.
///
/// ```swift
/// enum Cart: AggregateProjector {
///     enum State: Sendable { case empty, open(items: [String: Int]), checkedOut }
///     enum Events { case added(ItemAdded), removed(ItemRemoved), checkedOut(CheckedOut) }
///     static let group = "Cart"
///     static let events = EventTypes<Events>().on(ItemAdded.self, Events.added) …
///     static let initialState = State.empty
///     static func apply(_ state: consuming State, _ event: Events) throws -> State { … }
/// }
/// ```
public protocol AggregateProjector: Sendable {
    associatedtype State: Sendable
    associatedtype Events

    /// The aggregate group of this aggregate's partition keys (1 … 64 ASCII letters, digits, `-`, `_`, `.`).
    static var group: String { get }
    /// The identity of this projection logic (default: the group). Snapshots record it with `projectorVersion`.
    static var projectorName: String { get }
    /// Bump it when `apply` changes what a given history folds to: snapshots of another version are ignored.
    static var projectorVersion: Int { get }
    /// The event types this aggregate understands.
    static var events: EventTypes<Events> { get }
    /// The state before the first event.
    static var initialState: State { get }
    /// The state after `event`. Throwing stops the load with an error naming the event.
    ///
    /// The state is handed over, not copied: declare the parameter `consuming` and change it in place (`state.x
    /// = …; return state`), and a dictionary or array in the state is updated where it lies instead of being
    /// copied for every event. For an enum state, match on `consume state` (`switch (consume state, event)`),
    /// so the case's payload bound with `var` is the only reference to it; hand the state on to another function
    /// with `consume state` too. (A plain `State` parameter works, at the price of a copy per event.)
    static func apply(_ state: consuming State, _ event: Events) throws -> State
    /// The state after an event of a type this aggregate has not registered. The default throws
    /// `AggregateLoadError.unregisteredEvent`: an unknown event is never skipped unless the projector says so.
    static func apply(_ state: consuming State, unregistered event: UnregisteredEvent) throws -> State
    /// When the compactor snapshots this aggregate (default: every 80 versions, once 15 past the multiple).
    static var snapshotPolicy: SnapshotPolicy { get }
    /// The state as snapshot bytes; nil when this aggregate's state is not snapshotted. Default: a `Codable`
    /// state is encoded with `codec`, any other state is not snapshotted.
    static func snapshotBytes(of state: State, codec: any EventCodec) throws -> [UInt8]?
    /// The state from snapshot bytes (what `snapshotBytes(of:codec:)` made); nil when not snapshotted.
    static func state(fromSnapshot bytes: UnsafeRawBufferPointer, codec: any EventCodec) throws -> State?
}

extension AggregateProjector {
    /// The group, unless the projector names itself.
    public static var projectorName: String { group }
    /// 1, until the projector says otherwise.
    public static var projectorVersion: Int { 1 }

    /// Every 80 versions, taken once 15 past the multiple (Sekiban's default).
    public static var snapshotPolicy: SnapshotPolicy { .every(80, after: 15) }

    /// Not snapshotted (the state is not `Codable`).
    public static func snapshotBytes(of state: State, codec: any EventCodec) throws -> [UInt8]? { nil }

    /// Not snapshotted (the state is not `Codable`).
    public static func state(fromSnapshot bytes: UnsafeRawBufferPointer, codec: any EventCodec) throws -> State? { nil }

    /// Refuses the event (`AggregateLoadError.unregisteredEvent`).
    public static func apply(_ state: consuming State, unregistered event: UnregisteredEvent) throws -> State {
        throw AggregateLoadError.unregisteredEvent(event)
    }
}

extension AggregateProjector where State: Codable {
    /// The state encoded with `codec`.
    public static func snapshotBytes(of state: State, codec: any EventCodec) throws -> [UInt8]? {
        try codec.encode(state)
    }

    /// The state decoded with `codec`.
    public static func state(fromSnapshot bytes: UnsafeRawBufferPointer, codec: any EventCodec) throws -> State? {
        try codec.decode(State.self, from: bytes)
    }
}

extension AggregateProjector where State: Codable & FieldDecodable {
    /// The state read field by field (`@FieldCodable`, `FieldDecodable`) with `codec`.
    public static func state(fromSnapshot bytes: UnsafeRawBufferPointer, codec: any EventCodec) throws -> State? {
        try codec.decode(fields: State.self, from: bytes)
    }
}

extension AggregateProjector where Events: EventSet {
    /// The event set's registry (`@EventSet`).
    public static var events: EventTypes<Events> { Events.types }
}

/// An aggregate as loaded: its key, its state, and how far its history went.
public struct Aggregate<Projector: AggregateProjector>: Sendable {
    /// The aggregate's partition key.
    public var key: PartitionKey
    /// The state after the events folded in so far.
    public var state: Projector.State
    /// The version of the last event folded in (0: no events).
    public var version: UInt64

    /// An aggregate with no events yet.
    public init(key: PartitionKey) {
        self.key = key
        self.state = Projector.initialState
        self.version = 0
    }

    /// Folds one stored event in, read at `position` (it must be the next of this aggregate's stream). When the
    /// event does not decode, nothing changes; when the projector's `apply` throws, the aggregate is no longer
    /// valid (its state went to `apply`): discard it. Throws `AggregateLoadError`.
    @inlinable public mutating func apply<P: EventPosition>(_ event: EventView, at position: P, codec: any EventCodec) throws(AggregateLoadError) {
        try fold(
            try Projector.events.decode(event, at: position, codec: codec), version: event.version, position: position.description,
            stream: event.key, typeName: event.typeName)
    }

    /// Folds in an event this process just appended, from its record as written (the same bytes a read would
    /// return): `version` is what the append gave it; `position` names it in errors.
    @inlinable mutating func apply<P: EventPosition>(_ record: EventRecord, version: UInt64, position: P, codec: any EventCodec) throws(AggregateLoadError) {
        try fold(
            try Projector.events.decode(record, position: position, codec: codec), version: version, position: position.description,
            stream: record.key, typeName: record.typeName)
    }

    /// Folds a decoded event in (`decoded` is evaluated here, so its errors are reported like the projector's).
    @inlinable mutating func fold(
        _ decoded: @autoclosure () throws(EventDecodingError) -> DecodedEvent<Projector.Events>, version: UInt64,
        position: @autoclosure () -> String, stream: @autoclosure () -> PartitionKey, typeName: @autoclosure () -> String
    ) throws(AggregateLoadError) {
        do {
            switch try decoded() {
            case .registered(let event): try fold { (state: consuming Projector.State) in try Projector.apply(consume state, event) }
            case .unregistered(let event): try fold { (state: consuming Projector.State) in try Projector.apply(consume state, unregistered: event) }
            }
        } catch let error as EventDecodingError {
            throw AggregateLoadError.undecodable(error)
        } catch let error as LazyEventError {
            // A lazy event's field that does not decode: the event's failure, not the projector's.
            throw AggregateLoadError.undecodable(EventDecodingError(
                position: position(), stream: stream(), typeName: typeName(), typeVersion: error.schemaVersion, reason: "\(error.underlying)"))
        } catch let error as AggregateLoadError {
            throw error
        } catch {
            throw AggregateLoadError.applyFailed(position: position(), stream: stream(), typeName: typeName(), reason: "\(error)")
        }
        self.version = version
    }

    /// Moves the state into `step` and stores what it returns: the state's storage is referenced once while the
    /// projector changes it, so it is not copied (unless a cache still holds the same state).
    @inlinable mutating func fold(_ step: (consuming Projector.State) throws -> Projector.State) throws {
        try withUnsafeMutablePointer(to: &state) { slot in
            let current = slot.move()
            do {
                slot.initialize(to: try step(consume current))
            } catch {
                slot.initialize(to: Projector.initialState)
                throw error
            }
        }
    }
}

/// Why an aggregate did not load.
public enum AggregateLoadError: Error, Sendable, CustomStringConvertible {
    /// The key's group is not the projector's.
    case wrongGroup(key: PartitionKey, expected: String)
    /// An event the projector has not registered, and its `apply(_:unregistered:)` refused it.
    case unregisteredEvent(UnregisteredEvent)
    /// A registered event's payload does not decode as its type.
    case undecodable(EventDecodingError)
    /// The projector's `apply` threw (on the event at `position`, in its string form).
    case applyFailed(position: String, stream: PartitionKey, typeName: String, reason: String)

    /// What went wrong, naming the stream and the event.
    public var description: String {
        switch self {
        case .wrongGroup(let key, let expected): "stream \(key) is not of aggregate group \(expected)"
        case .unregisteredEvent(let event): "unregistered event type \(quotedForMessage(event.typeName)) v\(event.typeVersion)"
        case .undecodable(let error): "\(error)"
        case .applyFailed(let position, let stream, let typeName, let reason):
            "applying event at position \(position) of stream \(stream) (\(quotedForMessage(typeName))) failed: \(reason)"
        }
    }
}

extension EventStore {
    /// Loads an aggregate: its latest valid snapshot (see `loadSnapshot`) plus the events after it, or all its
    /// events; as of a position (`asOf`) or a version (`throughVersion`) when given. Throws `AggregateLoadError`
    /// when an event does not fold and `EventStoreError` when the store fails (damage found on the read is
    /// `.storage`). Runs on the caller's executor (`nonisolated(nonsending)`): decoding and folding happen where
    /// the caller is, without a thread hop — call it from a task or a `@concurrent` function to keep long folds off
    /// an actor.
    @inlinable public nonisolated(nonsending) func load<P: AggregateProjector>(
        _ projector: P.Type, _ key: PartitionKey, codec: any EventCodec = JSONEventCodec(),
        throughVersion: UInt64 = .max, asOf: Position? = nil, useSnapshots: Bool = true
    ) async throws -> Aggregate<P> {
        try await loadWithPosition(P.self, key, codec: codec, throughVersion: throughVersion, asOf: asOf, useSnapshots: useSnapshots).aggregate
    }

    /// `load`, with the position of the last event folded in (nil: none).
    @inlinable nonisolated(nonsending) func loadWithPosition<P: AggregateProjector>(
        _ projector: P.Type, _ key: PartitionKey, codec: any EventCodec,
        throughVersion: UInt64 = .max, asOf: Position? = nil, useSnapshots: Bool = true
    ) async throws -> (aggregate: Aggregate<P>, position: Position?) {
        guard key.group == P.group else { throw AggregateLoadError.wrongGroup(key: key, expected: P.group) }
        var aggregate = Aggregate<P>(key: key)
        var last: Position?
        if useSnapshots {
            let lookup = try await loadSnapshot(P.self, key, codec: codec, throughVersion: throughVersion, asOf: asOf)
            if let snapshot = lookup.aggregate {
                aggregate = snapshot
                last = lookup.position
            }
        }
        try await readStream(key, from: aggregate.version + 1, through: throughVersion, asOf: asOf, limit: .max) { event, position in
            try aggregate.apply(event, at: position, codec: codec)
            last = position
        }
        return (aggregate, last)
    }
}
