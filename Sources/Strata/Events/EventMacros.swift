/// Makes a struct an ``Event`` stored under `name` (default: the type's own name) at schema `version` (default
/// 1), read and written field by field by both built-in codecs.
///
/// ```swift
/// @Event("ItemAdded", version: 2)
/// struct ItemAdded {
///     var item: String
///     var quantity: Int
///     var note: String?
/// }
/// ```
///
/// The macro adds the conformances to ``Event``, ``FieldDecodable`` and ``FieldEncodable``: `eventType`,
/// `schemaVersion`, `init(fields:)` and `encode(fields:)`, generated from the stored properties. They read and
/// write exactly what the type's synthesized `Codable` conformance would (the same keys, `CodingKeys` included, the
/// same bytes through either codec), so stores written before the macro was added read alike, and the type stays
/// `Codable` for any other codec. Each property's value is read and written directly when it is a `String`, a
/// `Bool`, a number or an optional of one; as a nested object when its type is ``FieldDecodable``/``FieldEncodable``;
/// through `Codable` otherwise (arrays, dictionaries, dates, enums, …).
///
/// The macro also nests `Lazy` in the type (a ``LazyEvent``): the event read lazily, each property reading its field
/// when it is read (`get throws`) — register `ItemAdded.Lazy` in place of `ItemAdded` where a fold reads few of its
/// fields. It has a property for each decoded property whose type is written out.
///
/// The macro refuses at compile time what would fail or disagree at run time: a type name that is not a string
/// literal of 1 to 128 bytes, a version below 1, a hand-written `init(from:)` or `encode(to:)`, property wrappers,
/// lazy or tuple-pattern properties, a declared `eventType` or `schemaVersion`.
@attached(
    extension, conformances: Event, FieldDecodable, FieldEncodable,
    names: named(eventType), named(schemaVersion), named(init(fields:)), named(encode(fields:)))
@attached(member, names: named(Lazy), named(roundTripsExactly))
public macro Event(_ name: String? = nil, version: UInt32 = 1) = #externalMacro(module: "StrataMacros", type: "EventMacro")

/// Gives a struct or an enum the field reader and writer of both built-in codecs (``FieldDecodable``,
/// ``FieldEncodable``), generated as `@Event` generates them: for an aggregate's or a projection's state (its
/// snapshots are then written and read field by field) and for a value nested in events or states.
///
/// ```swift
/// @FieldCodable
/// struct State: Sendable {
///     var owner: String
///     var lines: [Line]
///     var total = 0
/// }
///
/// @FieldCodable
/// enum Phase: Sendable {
///     case open(since: Int64)
///     case checkedOut(total: Int, coupon: String?)
///     case abandoned
/// }
/// ```
///
/// An enum is written as the synthesized `Codable` conformance writes it: one field named after the case, holding
/// an object of the associated values (under their labels; `_0`, `_1`, … where unlabelled). Raw-value enums (coded
/// as their raw value), enums with their own `CodingKeys` and hand-written `init(from:)`/`encode(to:)` are refused at
/// compile time. The type becomes `Codable` too (synthesized, the same bytes), so any other codec still handles it.
@attached(extension, conformances: FieldDecodable, FieldEncodable, names: named(init(fields:)), named(encode(fields:)))
public macro FieldCodable() = #externalMacro(module: "StrataMacros", type: "FieldCodableMacro")

/// Makes an enum whose cases each carry one event an ``EventSet``: its `types` registers every case
/// (`.on(ItemAdded.self, Self.added)`, in declaration order), then the older versions listed in `upcasting`
/// (``UpcastableEvent``s, each upcast to a registered event). A projector whose `Events` is an event set needs no
/// `events` of its own.
///
/// ```swift
/// @EventSet(upcasting: ItemAddedV1.self)
/// enum CartEvents {
///     case opened(CartOpened)
///     case added(ItemAdded)
///     case removed(ItemRemoved)
/// }
/// ```
///
/// Refused at compile time: a case without exactly one unlabelled event, the same event type in two cases. Two event
/// types stored under one name and version are refused when the set is first used (a macro sees one declaration,
/// not the other types' names): a precondition failure naming both.
@attached(extension, conformances: EventSet, names: named(types))
public macro EventSet(upcasting: any UpcastableEvent.Type...) = #externalMacro(module: "StrataMacros", type: "EventSetMacro")

/// An enum of events whose registry is generated (`@EventSet`): every case's event, registered once.
public protocol EventSet {
    /// Every case's event (and the older versions that upcast to them).
    static var types: EventTypes<Self> { get }
}
