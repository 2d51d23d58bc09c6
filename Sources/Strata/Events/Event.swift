/// A domain event: a fact, stored under a stable type name and schema version.
///
/// ```swift
/// struct ItemAdded: Event {
///     static let eventType = "ItemAdded"
///     var product: String
///     var quantity: Int
/// }
/// ```
///
/// The type name is what the store keeps (rename the Swift type freely; never the name). When the shape of an
/// event changes incompatibly, give the new shape the next `schemaVersion` and keep the old one as an
/// `UpcastableEvent` that turns itself into the new one: events written long ago then read as the current type.
public protocol Event: Codable, Sendable {
    /// The stable name the store keeps (1 … 128 bytes).
    static var eventType: String { get }
    /// The schema version of this shape (≥ 1; default 1).
    static var schemaVersion: UInt32 { get }
}

extension Event {
    /// 1, until the type says otherwise.
    public static var schemaVersion: UInt32 { 1 }
}

/// An older schema version of an event: read from the store, then upcast to the next version (which may itself
/// be upcastable), until the current shape is reached.
///
/// ```swift
/// struct ItemAddedV1: UpcastableEvent {
///     static let eventType = "ItemAdded"
///     static let schemaVersion: UInt32 = 1
///     var product: String
///     func upcast() -> ItemAdded { ItemAdded(product: product, quantity: 1) }
/// }
/// ```
public protocol UpcastableEvent: Event {
    associatedtype Next: Event
    func upcast() -> Next
}

/// An event whose (type name, schema version) the reader has not registered: surfaced as it is, with its raw
/// payload — never dropped, never decoded into default values.
public struct UnregisteredEvent: Sendable, Hashable {
    /// The stored type name.
    public var typeName: String
    /// The stored schema version.
    public var typeVersion: UInt32
    /// The payload bytes, as stored.
    public var payload: [UInt8]

    /// An unregistered event with these fields.
    public init(typeName: String, typeVersion: UInt32, payload: [UInt8]) {
        self.typeName = typeName
        self.typeVersion = typeVersion
        self.payload = payload
    }
}

/// A stored event's payload did not decode as its registered type.
public struct EventDecodingError: Error, Sendable, CustomStringConvertible {
    /// Why the event could not be read.
    public enum Kind: Sendable, Equatable {
        /// The codec failed on the payload (the reason says how).
        case undecodable
        /// The reader registers the event's type, but not this schema version (a newer writer's event, say):
        /// reading on would miss what it says. `known` lists the versions the reader registers.
        case unknownVersion(known: [UInt32])
        /// The event was decoded as a type it is not (`RecordedEvent.decode(as:)`): another name or schema version.
        case otherType(expected: String, expectedVersion: UInt32)
    }

    /// The event's position in the global order (its string form).
    public var position: String
    /// The event's stream.
    public var stream: PartitionKey
    /// The event's type name.
    public var typeName: String
    /// The event's schema version.
    public var typeVersion: UInt32
    public var kind: Kind
    /// What the codec reported, or which versions the reader knows.
    public var reason: String

    @usableFromInline init(
        position: String, stream: PartitionKey, typeName: String, typeVersion: UInt32, kind: Kind = .undecodable,
        reason: String
    ) {
        self.position = position
        self.stream = stream
        self.typeName = typeName
        self.typeVersion = typeVersion
        self.kind = kind
        self.reason = reason
    }

    /// The event and the reason.
    public var description: String {
        switch kind {
        case .undecodable:
            "event at position \(position) of stream \(stream), type \(quotedForMessage(typeName)) v\(typeVersion), does not decode: \(reason)"
        case .unknownVersion, .otherType:
            "event at position \(position) of stream \(stream), type \(quotedForMessage(typeName)) v\(typeVersion): \(reason)"
        }
    }
}

extension EventRecord {
    /// A record of a typed event for `key`, its payload encoded by `codec`. The stream version and the position are
    /// given by the store when the record is appended.
    public init<E: Event>(
        _ event: E, key: PartitionKey, codec: any EventCodec = JSONEventCodec(), metadata: RecordMetadata = RecordMetadata(),
        timestampMicros: Int64 = wallClockMicros(), eventId: EventID = .random()
    ) throws {
        self.init(
            key: key, typeName: E.eventType, typeVersion: E.schemaVersion, timestampMicros: timestampMicros,
            eventId: eventId, metadata: metadata, payload: try codec.encode(event))
    }
}
