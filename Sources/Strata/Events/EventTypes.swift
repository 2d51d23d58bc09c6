import Foundation

/// A decoded stored event: one the reader registered (as its own `Value`, usually an enum of an aggregate's
/// events), or one it did not.
public enum DecodedEvent<Value> {
    case registered(Value)
    case unregistered(UnregisteredEvent)
}

/// The event types a reader knows, by (type name, schema version), each with how it becomes the reader's
/// `Value` (usually a case of an enum of the aggregate's or projection's events). Old schema versions are
/// registered as `UpcastableEvent`s and reach `Value` through their chain of upcasts.
///
/// ```swift
/// enum CartEvent { case added(ItemAdded), removed(ItemRemoved) }
/// static let events = EventTypes<CartEvent>()
///     .on(ItemAdded.self, CartEvent.added)
///     .on(ItemRemoved.self, CartEvent.removed)
///     .upcasting(ItemAddedV1.self)      // ItemAdded v1 → ItemAdded (v2) → .added
/// ```
public struct EventTypes<Value>: Sendable {
    @usableFromInline typealias Decoder = @Sendable (UnsafeRawBufferPointer, any EventCodec) throws -> Value

    /// A registered (type name, schema version). Looked up by the record's type-name bytes, so reading an event
    /// builds no `String` and hashes nothing.
    @usableFromInline struct Entry: Sendable {
        @usableFromInline var name: [UInt8]
        @usableFromInline var version: UInt32
        @usableFromInline var decode: Decoder
        /// The Swift type registered (two types under one name and version are refused at registration).
        @usableFromInline var type: Any.Type

        @usableFromInline init(name: [UInt8], version: UInt32, decode: @escaping Decoder, type: Any.Type) {
            self.name = name
            self.version = version
            self.decode = decode
            self.type = type
        }
    }

    @usableFromInline var entries: [Entry] = []
    /// For each registered type, its conversion to `Value` (`@Sendable (E) throws -> Value`), so an older version
    /// can be chained to it.
    private var conversions: [ObjectIdentifier: any Sendable] = [:]

    /// For each registered type that reads back exactly what it writes (`FieldEncodable.roundTripsExactly`), its
    /// conversion of an instance to `Value`: what a command's own event folds as, without decoding its payload.
    private var exact: [ObjectIdentifier: @Sendable (any Event) throws -> Value] = [:]

    /// A registry that knows no event yet.
    public init() {}

    /// Registers `E` (its current schema version), turned into `Value` by `wrap`.
    public func on<E: Event>(_ type: E.Type, _ wrap: @escaping @Sendable (E) -> Value) -> Self {
        register(E.self, wrap) { bytes, codec in wrap(try codec.decode(E.self, from: bytes)) }
    }

    /// Registers `E` (its current schema version), turned into `Value` by `wrap`, decoded by its fields
    /// (`FieldDecodable`, the fast path) instead of `Codable`.
    @inlinable public func on<E: Event & FieldDecodable>(_ type: E.Type, _ wrap: @escaping @Sendable (E) -> Value) -> Self {
        // Inlined: the decoder is specialised for `E` and `Value` in the caller's module.
        register(E.self, wrap) { bytes, codec in
            guard let value = try E.decoded(fieldsOf: bytes, codec: codec) else { return wrap(try codec.decode(E.self, from: bytes)) }
            return wrap(value)
        }
    }

    /// Registers a lazy event (`@Event`'s `Lazy`: fields read when its properties are read) in place of its event,
    /// turned into `Value` by `wrap`. An older version registered after it (`upcasting`) is upcast, then made lazy.
    @inlinable public func on<L: LazyEvent>(_ type: L.Type, _ wrap: @escaping @Sendable (L) -> Value) -> Self {
        register(L.Viewed.self, as: L.self, { event in wrap(try L(event)) }) { bytes, codec in
            wrap(L(lazyPayload: try LazyPayload(bytes: bytes, codec: codec, of: L.Viewed.self)))
        }
    }

    @usableFromInline func register<E: Event>(_ type: E.Type, _ wrap: @escaping @Sendable (E) -> Value, _ decode: @escaping Decoder) -> Self {
        register(E.self, as: E.self, { wrap($0) }, decode)
    }

    /// Registers `decode` for `E`'s name and version as the Swift type `registered` (`E`, or its lazy form), and
    /// `convert` as how an `E` (an upcast older version) becomes `Value`.
    @usableFromInline func register<E: Event>(
        _ type: E.Type, as registered: Any.Type, _ convert: @escaping @Sendable (E) throws -> Value, _ decode: @escaping Decoder
    ) -> Self {
        var copy = self
        let entry = Entry(name: Array(E.eventType.utf8), version: E.schemaVersion, decode: decode, type: registered)
        if let existing = entries.firstIndex(where: { $0.name == entry.name && $0.version == entry.version }) {
            // The same type again replaces its registration; another type under the same name and version would make
            // one of them decode the other's events.
            precondition(
                entries[existing].type == registered,
                "\(entries[existing].type) and \(registered) are both stored as \"\(E.eventType)\" v\(E.schemaVersion): give one of them another name or schema version")
            copy.entries[existing] = entry
        } else {
            copy.entries.append(entry)
        }
        copy.conversions[ObjectIdentifier(E.self)] = convert
        if registered == E.self, let coded = E.self as? any FieldEncodable.Type, coded.roundTripsExactly {
            copy.exact[ObjectIdentifier(E.self)] = { event in try convert(event as! E) }
        } else {
            copy.exact[ObjectIdentifier(E.self)] = nil
        }
        return copy
    }

    /// `event` as `Value`, as the registry would decode it from the payload it writes, when its type reads back exactly
    /// what it writes (`FieldEncodable.roundTripsExactly`) and is registered as itself; nil otherwise (decode the
    /// payload).
    @usableFromInline func exactValue(of event: any Event) throws -> Value? {
        guard let convert = exact[ObjectIdentifier(type(of: event))] else { return nil }
        return try convert(event)
    }

    /// Registers an older schema version, read as itself and upcast to `Old.Next`, which must be registered
    /// already (directly, lazily or as an upcastable version itself).
    public func upcasting<Old: UpcastableEvent>(_ type: Old.Type) -> Self {
        let next = upcast(Old.self)
        return register(Old.self, as: Old.self, next) { bytes, codec in try next(try codec.decode(Old.self, from: bytes)) }
    }

    /// Registers an older schema version that decodes by its fields (`FieldDecodable`); see `upcasting(_:)`.
    public func upcasting<Old: UpcastableEvent & FieldDecodable>(_ type: Old.Type) -> Self {
        let next = upcast(Old.self)
        return register(Old.self, as: Old.self, next) { bytes, codec in try next(try codec.decode(fields: Old.self, from: bytes)) }
    }

    private func upcast<Old: UpcastableEvent>(_ type: Old.Type) -> @Sendable (Old) throws -> Value {
        guard let next = conversions[ObjectIdentifier(Old.Next.self)] as? @Sendable (Old.Next) throws -> Value else {
            preconditionFailure("register \(Old.Next.self) before the older version \(Old.self) that upcasts to it")
        }
        precondition(Old.eventType == Old.Next.eventType, "\(Old.self) upcasts to an event of another type name")
        precondition(Old.schemaVersion < Old.Next.schemaVersion, "\(Old.self) must be an older schema version than \(Old.Next.self)")
        return { try next($0.upcast()) }
    }

    /// Whether (name, version) is registered.
    public func knows(_ name: String, version: UInt32) -> Bool {
        Array(name.utf8).withUnsafeBytes { entry($0, version) != nil }
    }

    /// The schema versions registered under a type name, lowest first (empty: the type is not registered).
    @usableFromInline func versions(of name: UnsafeRawBufferPointer) -> [UInt32] {
        var found: [UInt32] = []
        for entry in entries where entry.name.count == name.count {
            let equal = entry.name.withUnsafeBytes { stored in name.isEmpty || memcmpEqual(stored.baseAddress!, name.baseAddress!, name.count) }
            if equal { found.append(entry.version) }
        }
        return found.sorted()
    }

    @inlinable func entry(_ name: UnsafeRawBufferPointer, _ version: UInt32) -> Entry? {
        for entry in entries where entry.version == version && entry.name.count == name.count {
            let equal = entry.name.withUnsafeBytes { stored in name.isEmpty || memcmpEqual(stored.baseAddress!, name.baseAddress!, name.count) }
            if equal { return entry }
        }
        return nil
    }

    /// Decodes a stored event at `position`: registered → `Value`; not registered → `.unregistered` with its
    /// bytes; registered but not decodable → `EventDecodingError` naming the event.
    @inlinable public func decode<P: EventPosition>(_ event: EventView, at position: P, codec: any EventCodec) throws(EventDecodingError) -> DecodedEvent<Value> {
        // Inlined, so the caller's `Value` is concrete (generic `EventTypes` code built its types' metadata on
        // every event); the event's name, position and stream are made into strings only for an error or an
        // unregistered event.
        try decode(
            typeName: event.typeNameBytes, version: event.typeVersion, payload: event.payload, codec: codec,
            name: event.typeName, position: position.description, stream: event.key)
    }

    /// Decodes a stored event of a registered type; nil (without touching the payload) for a type the reader does
    /// not register at all. A registered type at a schema version the reader does not know is an error
    /// (`EventDecodingError.Kind.unknownVersion`), never a silent pass: it is a newer writer's event, and the reader
    /// would miss what it says.
    @inlinable func decodeIfRegistered<P: EventPosition>(_ event: EventView, at position: P, codec: any EventCodec) throws(EventDecodingError) -> Value? {
        guard let entry = entry(event.typeNameBytes, event.typeVersion) else {
            let known = versions(of: event.typeNameBytes)
            guard !known.isEmpty else { return nil }
            throw EventDecodingError(
                position: position.description, stream: event.key, typeName: event.typeName, typeVersion: event.typeVersion,
                kind: .unknownVersion(known: known),
                reason: "schema version \(event.typeVersion) is not registered (this reader knows \(known.map { "v\($0)" }.joined(separator: ", "))): an event of a newer writer? Register it (or an upcaster)")
        }
        do {
            return try entry.decode(event.payload, codec)
        } catch {
            throw EventDecodingError(
                position: position.description, stream: event.key, typeName: event.typeName, typeVersion: event.typeVersion, reason: "\(error)")
        }
    }

    /// Decodes an event from its record as written (an append's own events, or a copied-out one) at `position`;
    /// the same as decoding it read back.
    @inlinable func decode<P: EventPosition>(_ record: EventRecord, position: P, codec: any EventCodec) throws(EventDecodingError) -> DecodedEvent<Value> {
        var name = record.typeName
        let result = name.withUTF8 { nameBytes in
            record.payload.withUnsafeBytes { payload in
                Result { () throws(EventDecodingError) in
                    try decode(
                        typeName: UnsafeRawBufferPointer(nameBytes), version: record.typeVersion, payload: payload, codec: codec,
                        name: record.typeName, position: position.description, stream: record.key)
                }
            }
        }
        return try result.get()
    }

    @inlinable func decode(
        typeName: UnsafeRawBufferPointer, version: UInt32, payload: UnsafeRawBufferPointer, codec: any EventCodec,
        name: @autoclosure () -> String, position: @autoclosure () -> String, stream: @autoclosure () -> PartitionKey
    ) throws(EventDecodingError) -> DecodedEvent<Value> {
        guard let entry = entry(typeName, version) else {
            return .unregistered(UnregisteredEvent(typeName: name(), typeVersion: version, payload: Array(payload)))
        }
        do {
            return .registered(try entry.decode(payload, codec))
        } catch {
            throw EventDecodingError(position: position(), stream: stream(), typeName: name(), typeVersion: version, reason: "\(error)")
        }
    }
}
