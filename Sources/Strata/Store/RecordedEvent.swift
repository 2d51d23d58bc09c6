/// A stored event as owned values: its place in the global order, its version in its stream, and the record as
/// appended. What subscriptions deliver (`SubscribedEvent`) and `streamEvents` / `allEvents` return; hot paths
/// read `EventView`s instead.
public struct RecordedEvent<Position: EventPosition>: Sendable, Hashable {
    /// Its place in the global order (resume a subscription after it).
    public var position: Position
    /// Its version within its stream, from 1.
    public var version: UInt64
    /// The event as appended.
    public var record: EventRecord

    /// An event stored at `position` with `version`.
    public init(position: Position, version: UInt64, record: EventRecord) {
        self.position = position
        self.version = version
        self.record = record
    }

    /// The event `view` shows, at `position`, copied out.
    public init(_ view: EventView, at position: Position) {
        self.init(position: position, version: view.version, record: view.record)
    }

    /// The event's partition key.
    public var key: PartitionKey { record.key }
    /// The event's type name.
    public var typeName: String { record.typeName }
    /// The event's schema version.
    public var typeVersion: UInt32 { record.typeVersion }

    /// The event decoded through a registry: `.registered` as the registry's value (an aggregate's or a
    /// projection's event enum), `.unregistered` with its bytes when the registry does not know its type; a
    /// registered type whose payload does not decode, or whose schema version is not registered, throws.
    ///
    /// ```swift
    /// for try await event in store.subscribe() {
    ///     if case .registered(let cartEvent) = try event.decode(Cart.events) { … }
    /// }
    /// ```
    public func decode<Value>(_ types: EventTypes<Value>, codec: any EventCodec = JSONEventCodec()) throws(EventDecodingError) -> DecodedEvent<Value> {
        try types.decode(record, position: position, codec: codec)
    }

    /// The event decoded as `E`; throws when it is of another type (name or schema version) or does not decode.
    public func decode<E: Event>(as type: E.Type, codec: any EventCodec = JSONEventCodec()) throws(EventDecodingError) -> E {
        guard record.typeName == E.eventType, record.typeVersion == E.schemaVersion else {
            throw EventDecodingError(
                position: "\(position)", stream: record.key, typeName: record.typeName, typeVersion: record.typeVersion,
                kind: .otherType(expected: E.eventType, expectedVersion: E.schemaVersion),
                reason: "it is not a \(quotedForMessage(E.eventType)) v\(E.schemaVersion)")
        }
        do {
            return try record.payload.withUnsafeBytes { try codec.decode(E.self, from: $0) }
        } catch {
            throw EventDecodingError(
                position: "\(position)", stream: record.key, typeName: record.typeName, typeVersion: record.typeVersion, reason: "\(error)")
        }
    }
}

/// An event a subscription delivered: a `RecordedEvent`.
public typealias SubscribedEvent<Position: EventPosition> = RecordedEvent<Position>
