import StrataStorage

/// A stored event read field by field when its properties are read, not when it is decoded: what `@Event`
/// generates as the event's nested `Lazy` type. Register it in place of the event (`case added(ItemAdded.Lazy)` in
/// an ``EventSet``, or `EventTypes.on(ItemAdded.Lazy.self, …)`) where a fold reads few of a wide event's fields.
///
/// Decoding a lazy event copies its payload and checks its framing (a JSON payload is checked whole, a binary one
/// field by field, as for the event itself); each property then reads its field when it is read — a `String` is
/// made only for a field the fold reads. A field that is missing or does not decode throws ``LazyEventError`` from
/// its property (a ``Projection`` reports it as an undecodable event; an aggregate's load fails with
/// `AggregateLoadError.undecodable`). `event()` decodes the whole event.
///
/// A lazy event owns its copy of the payload (keeping one keeps that memory) and is not `Sendable`: read it where it
/// is folded, or keep `event()`.
public protocol LazyEvent: SendableMetatype {
    /// The event this reads.
    associatedtype Viewed: Event & FieldDecodable & FieldEncodable
    /// The payload behind the properties.
    var lazyPayload: LazyPayload { get }
    /// The lazy event over `payload` (a payload of `Viewed`).
    init(lazyPayload: LazyPayload)
}

extension LazyEvent {
    /// The lazy form of `event` (its payload written by the binary codec): for tests and upcasts.
    public init(_ event: Viewed) throws {
        let bytes = try BinaryEventCodec().encode(event)
        self.init(lazyPayload: try bytes.withUnsafeBytes { try LazyPayload(bytes: $0, codec: BinaryEventCodec(), of: Viewed.self) })
    }

    /// The whole event, every field decoded.
    public func event() throws -> Viewed { try lazyPayload.read { try Viewed(fields: $0) } }
}

/// A field of a lazy event that is missing or does not decode: the event type, its schema version and the
/// decoder's reason (naming the field).
public struct LazyEventError: Error, CustomStringConvertible {
    /// The event's stored type name.
    public var eventType: String
    /// The event's schema version.
    public var schemaVersion: UInt32
    /// The decoding error, its coding path naming the field.
    public var underlying: any Error

    /// The event type, its version and the decoding error.
    public var description: String { "\(eventType) v\(schemaVersion): \(underlying)" }
}

/// The payload of a ``LazyEvent``: a copy of the stored bytes and the table of its top-level fields, read by the
/// event's properties (generated code calls `read(_:)`).
public struct LazyPayload {
    @usableFromInline let storage: LazyPayloadStorage

    /// A copy of `bytes` (a payload of `event` written by `codec`), its top-level fields found. A codec without a
    /// field view (not one of the built-in codecs) decodes the event through `Codable` and keeps it in the binary
    /// codec's form.
    public init<E: Event & FieldEncodable>(bytes: UnsafeRawBufferPointer, codec: any EventCodec, of event: E.Type) throws {
        switch BuiltInCodec(codec) {
        case .binary: storage = try LazyPayloadStorage.binary(bytes, event: E.self)
        case .json: storage = try LazyPayloadStorage.json(bytes, event: E.self)
        case nil:
            let value = try codec.decode(E.self, from: bytes)
            let binary = try BinaryEventCodec().encode(value)
            storage = try binary.withUnsafeBytes { try LazyPayloadStorage.binary($0, event: E.self) }
        }
    }

    /// `body` on the payload's fields (what a lazy event's property reads); its errors become ``LazyEventError``.
    @inlinable public func read<T>(_ body: (borrowing PayloadFields) throws -> T) throws -> T {
        // Inlined, and the storage's part not generic: `T` is the caller's concrete type (a generic call built
        // metadata for each read).
        var value: T? = nil
        try storage.withFields { value = try body($0) }
        return value!
    }
}

/// The copy of a lazy event's payload and its field table, in one allocation: the header, the payload's bytes, then
/// the table's entries. Not shared between threads (`LazyPayload` is not `Sendable`): a JSON read moves its reader's
/// position.
@usableFromInline final class LazyPayloadStorage: ManagedBuffer<LazyPayloadStorage.Header, UInt8> {
    @usableFromInline struct Header {
        var event: any Event.Type
        /// The payload's size; the table's entries follow it (at the next multiple of 8).
        var count: Int
        /// The top-level fields (entries of the table).
        var fields: Range<Int>
        /// The binary table's entries (0 for JSON: its reader keeps its own table).
        var tableCount: Int
        /// JSON: the reader of the copy (its table starts on the allocation); nil: binary.
        var reader: JSONPayloadReader?
    }

    /// An allocation for `bytes` and a table of `entries` fields, the bytes copied in.
    private static func make(_ bytes: UnsafeRawBufferPointer, entries: Int, event: any Event.Type) -> LazyPayloadStorage {
        let made = create(minimumCapacity: bytes.count + 7 + 32 * entries) { _ in
            Header(event: event, count: bytes.count, fields: 0..<0, tableCount: 0, reader: nil)
        }
        let storage = unsafeDowncast(made, to: LazyPayloadStorage.self)
        storage.withUnsafeMutablePointerToElements { elements in
            if let base = bytes.baseAddress { elements.initialize(from: base.assumingMemoryBound(to: UInt8.self), count: bytes.count) }
        }
        return storage
    }

    /// The table's place after the payload.
    private static func table(_ elements: UnsafeMutablePointer<UInt8>, count: Int, entries: Int) -> UnsafeMutableBufferPointer<Int> {
        let start = (Int(bitPattern: elements) + count + 7) & ~7
        return UnsafeMutableBufferPointer(start: UnsafeMutablePointer(bitPattern: start), count: 4 * entries)
    }

    static func binary(_ bytes: UnsafeRawBufferPointer, event: any Event.Type) throws -> LazyPayloadStorage {
        try BinaryPayloadReader.checkHeader(bytes)
        // The field count first, so that the table has room for exactly those fields (checked as `openKeyed` checks it).
        var span = BinarySpan(bytes, position: 1, limit: bytes.count)
        let entries = Int(try span.u32())
        guard entries <= (bytes.count - span.position) / 2 else { throw span.fail("field count \(entries) runs past the payload") }
        let storage = make(bytes, entries: entries, event: event)
        try storage.withUnsafeMutablePointers { header, elements in
            let payload = UnsafeRawBufferPointer(start: elements, count: bytes.count)
            var table = FieldTable(on: table(elements, count: bytes.count, entries: entries))
            var span = BinarySpan(payload, position: 1, limit: payload.count)
            header.pointee.fields = try span.openKeyed(into: &table)
            guard span.position == payload.count else { throw span.fail("\(payload.count - span.position) bytes after the value") }
            header.pointee.tableCount = table.count
        }
        return storage
    }

    static func json(_ bytes: UnsafeRawBufferPointer, event: any Event.Type) throws -> LazyPayloadStorage {
        let storage = make(bytes, entries: 16, event: event)
        try storage.withUnsafeMutablePointers { header, elements in
            let payload = UnsafeRawBufferPointer(start: elements, count: bytes.count)
            let reader = JSONPayloadReader(payload, tableOn: table(elements, count: bytes.count, entries: 16))
            header.pointee.fields = try reader.openPayloadObject()
            header.pointee.reader = reader
        }
        return storage
    }

    /// `body` on the payload's fields; its errors become ``LazyEventError``.
    @usableFromInline func withFields(_ body: (borrowing PayloadFields) throws -> Void) throws {
        do {
            try fields(body)
        } catch {
            throw failure(error)
        }
    }

    private func fields(_ body: (borrowing PayloadFields) throws -> Void) throws {
        try withUnsafeMutablePointers { header, elements in
            let count = header.pointee.count
            let payload = UnsafeRawBufferPointer(start: elements, count: count)
            if let reader = header.pointee.reader {
                return try withExtendedLifetime(reader) {
                    try body(PayloadFields(json: Unmanaged.passUnretained(reader), fields: header.pointee.fields))
                }
            }
            let entries = header.pointee.tableCount
            return try withUnsafeTemporaryAllocation(of: FieldTable.self, capacity: 1) { place in
                let table = place.baseAddress!
                table.initialize(to: FieldTable(restoring: Self.table(elements, count: count, entries: entries), count: entries))
                defer { table.deinitialize(count: 1) }
                return try body(PayloadFields(binary: payload, table: table, fields: header.pointee.fields))
            }
        }
    }

    @inline(never) private func failure(_ error: any Error) -> LazyEventError {
        let event = header.event
        return LazyEventError(eventType: event.eventType, schemaVersion: event.schemaVersion, underlying: error)
    }
}
