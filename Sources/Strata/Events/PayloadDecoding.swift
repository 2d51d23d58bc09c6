import Foundation
import StrataStorage

// What the JSON and binary payload decoders share: coding paths built only for errors, the field tables of keyed
// containers, and the reading of primitives by type identity.
//
// Both decoders read a payload in place (an `UnsafeRawBufferPointer` valid for the whole decode) through one
// reader object per decode. `Codable` reaches a keyed container's fields through a box the standard library
// allocates and calls through a protocol generic over the key type, so each container keeps that generic layer
// thin: it takes the key's `stringValue` and hands it to non-generic code.

/// A coding path as a chain of nodes, turned into `[any CodingKey]` only when an error or a caller asks for it.
final class CodingPathNode {
    let parent: CodingPathNode?
    let key: any CodingKey

    init(_ parent: CodingPathNode?, _ key: any CodingKey) {
        self.parent = parent
        self.key = key
    }

    static func path(_ node: CodingPathNode?) -> [any CodingKey] {
        var keys: [any CodingKey] = []
        var node = node
        while let current = node {
            keys.append(current.key)
            node = current.parent
        }
        return keys.reversed()
    }
}

/// A key made from a string or an index (coding paths, `allKeys`, `superDecoder()`).
struct PayloadKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ string: String) { stringValue = string }
    init(index: Int) {
        stringValue = "Index \(index)"
        intValue = index
    }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) {
        stringValue = "\(intValue)"
        self.intValue = intValue
    }
}

/// The field name `superEncoder()` / `superDecoder()` use, as `JSONEncoder` does.
let superKey = "super"

/// The fields of every keyed container a decode has opened: four integers per field (key start, key end, value
/// start, value end; offsets into the payload; value start -1 for a nil value). A container owns a contiguous run
/// of entries. Lookups compare the key's UTF-8 with the stored key bytes and start after the field found last, so
/// fields read in the order they were written cost one compare each, and a dictionary's keys, read in `allKeys`
/// order, one each too. (Raw storage: an array's uniqueness and bounds checks cost more than the lookups.)
struct FieldTable: ~Copyable {
    private var storage: UnsafeMutablePointer<Int>
    private var capacity: Int
    /// Whether `storage` is the table's own (heap) memory; not while it is still on the caller's buffer.
    private var owned: Bool
    private(set) var count = 0
    private var last = -1

    init() {
        capacity = 16
        storage = .allocate(capacity: 4 * capacity)
        owned = true
    }

    /// A table on `buffer` (the caller's, on the stack say, and valid while the table is used); it moves to the
    /// heap when it outgrows it.
    init(on buffer: UnsafeMutableBufferPointer<Int>) {
        capacity = buffer.count / 4
        storage = buffer.baseAddress!
        owned = false
    }

    /// The table of `count` fields already on `buffer` (filled by an earlier table on it).
    init(restoring buffer: UnsafeMutableBufferPointer<Int>, count: Int) {
        self.init(on: buffer)
        self.count = count
    }

    deinit { if owned { storage.deallocate() } }

    /// Adds a field; `escaped` marks a key whose stored bytes are not its text (a JSON key with escapes), compared
    /// by the caller's `equalEscaped`; `plainString` a value that is a JSON string already checked whole and
    /// without escapes (its text is the bytes between its quotes).
    mutating func append(key: Range<Int>, value: Range<Int>?, escaped: Bool = false, plainString: Bool = false) {
        append(
            key.lowerBound, escaped ? ~key.upperBound : key.upperBound, value?.lowerBound ?? -1,
            value.map { plainString ? ~$0.upperBound : $0.upperBound } ?? -1)
    }

    /// Adds a field as its four stored integers (see the type's comment and `append(key:value:…)`).
    @inline(__always) mutating func append(_ keyStart: Int, _ keyEnd: Int, _ valueStart: Int, _ valueEnd: Int) {
        if count == capacity { grow() }
        let entry = storage + 4 * count
        entry[0] = keyStart
        entry[1] = keyEnd
        entry[2] = valueStart
        entry[3] = valueEnd
        count += 1
    }

    private mutating func grow() {
        let grown = UnsafeMutablePointer<Int>.allocate(capacity: 8 * max(capacity, 1))
        grown.moveInitialize(from: storage, count: 4 * count)
        if owned { storage.deallocate() }
        storage = grown
        owned = true
        capacity = 2 * max(capacity, 1)
    }

    @inline(__always) func key(_ field: Int) -> Range<Int> {
        let end = storage[4 * field + 1]
        return storage[4 * field]..<(end < 0 ? ~end : end)
    }

    func isEscaped(_ field: Int) -> Bool { storage[4 * field + 1] < 0 }

    /// nil: the field's value is nil.
    @inline(__always) func value(_ field: Int) -> Range<Int>? {
        let start = storage[4 * field + 2], end = storage[4 * field + 3]
        return start < 0 ? nil : start..<(end < 0 ? ~end : end)
    }

    /// Whether the field's value was recorded as a plain string (see `append`).
    @inline(__always) func isPlainString(_ field: Int) -> Bool { storage[4 * field + 2] >= 0 && storage[4 * field + 3] < 0 }

    /// The field of `fields` whose key is `name`: stored bytes equal to its UTF-8, or for an escaped key, what
    /// `equalEscaped` says.
    mutating func find(
        _ name: String, in fields: Range<Int>, payload: UnsafeRawBufferPointer, equalEscaped: (Int, String) -> Bool = { _, _ in false }
    ) -> Int? {
        var utf8 = name
        return utf8.withUTF8 { find(UnsafeRawBufferPointer($0), in: fields, payload: payload) { equalEscaped($0, name) } }
    }

    /// The field of `fields` whose key's bytes are `name`; an escaped key is compared by `equalEscaped`.
    mutating func find(
        _ name: UnsafeRawBufferPointer, in fields: Range<Int>, payload: UnsafeRawBufferPointer, equalEscaped: (Int) -> Bool = { _ in false }
    ) -> Int? {
        guard !fields.isEmpty else { return nil }
        var i = last + 1 < fields.upperBound && last + 1 >= fields.lowerBound ? last + 1 : fields.lowerBound
        for _ in 0..<fields.count {
            let start = storage[4 * i], end = storage[4 * i + 1]
            if end < 0 {
                if equalEscaped(i) {
                    last = i
                    return i
                }
            } else if end - start == name.count && (name.count == 0 || memcmpEqual(payload.baseAddress! + start, name.baseAddress!, name.count)) {
                last = i
                return i
            }
            i = i + 1 == fields.upperBound ? fields.lowerBound : i + 1
        }
        return nil
    }
}

/// Reads the primitive types a payload holds directly; shared dispatch by type identity for both codecs.
protocol PrimitiveReading: AnyObject {
    func bool() throws -> Bool
    func string() throws -> String
    func double() throws -> Double
    func float() throws -> Float
    func int64() throws -> Int64
    func uint64() throws -> UInt64
    /// An error at the current position.
    func failure(_ reason: String) -> any Error
}

extension PrimitiveReading {
    @inline(__always) func signed<I: FixedWidthInteger & SignedInteger>(_: I.Type) throws -> I {
        let value = try int64()
        guard let exact = I(exactly: value) else { throw failure("\(value) does not fit \(I.self)") }
        return exact
    }

    @inline(__always) func unsigned<I: FixedWidthInteger & UnsignedInteger>(_: I.Type) throws -> I {
        let value = try uint64()
        guard let exact = I(exactly: value) else { throw failure("\(value) does not fit \(I.self)") }
        return exact
    }

    /// `type`'s value when `type` is a primitive (compared by identity: a pointer compare, and `unsafeBitCast`
    /// is exact because `T` is that very type); nil for any other type.
    func primitive<T>(_ type: T.Type) throws -> T? {
        let id = ObjectIdentifier(type)
        if id == ObjectIdentifier(String.self) { return unsafeBitCast(try string(), to: T.self) }
        if id == ObjectIdentifier(Int.self) { return unsafeBitCast(try signed(Int.self), to: T.self) }
        if id == ObjectIdentifier(Bool.self) { return unsafeBitCast(try bool(), to: T.self) }
        if id == ObjectIdentifier(Double.self) { return unsafeBitCast(try double(), to: T.self) }
        if id == ObjectIdentifier(Int64.self) { return unsafeBitCast(try int64(), to: T.self) }
        if id == ObjectIdentifier(UInt64.self) { return unsafeBitCast(try uint64(), to: T.self) }
        if id == ObjectIdentifier(Int32.self) { return unsafeBitCast(try signed(Int32.self), to: T.self) }
        if id == ObjectIdentifier(UInt32.self) { return unsafeBitCast(try unsigned(UInt32.self), to: T.self) }
        if id == ObjectIdentifier(UInt.self) { return unsafeBitCast(try unsigned(UInt.self), to: T.self) }
        if id == ObjectIdentifier(Int16.self) { return unsafeBitCast(try signed(Int16.self), to: T.self) }
        if id == ObjectIdentifier(UInt16.self) { return unsafeBitCast(try unsigned(UInt16.self), to: T.self) }
        if id == ObjectIdentifier(Int8.self) { return unsafeBitCast(try signed(Int8.self), to: T.self) }
        if id == ObjectIdentifier(UInt8.self) { return unsafeBitCast(try unsigned(UInt8.self), to: T.self) }
        if id == ObjectIdentifier(Float.self) { return unsafeBitCast(try float(), to: T.self) }
        return nil
    }
}

/// Lets a decoder see through `Optional` where `Codable` itself has no way to mark presence.
protocol PayloadOptional {
    static var wrappedType: Any.Type { get }
    static var absent: Self { get }
    static func wrapping(_ value: Any) -> Self
    var wrapped: Any? { get }
}

extension Optional: PayloadOptional {
    static var wrappedType: Any.Type { Wrapped.self }
    static var absent: Self { nil }
    static func wrapping(_ value: Any) -> Self { .some(value as! Wrapped) }
    var wrapped: Any? {
        switch self {
        case .some(let value): value
        case .none: nil
        }
    }
}
