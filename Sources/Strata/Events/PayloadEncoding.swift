import Foundation

// Encoding for both codecs: `Codable` fills a small tree, then the codec's writer turns it into bytes
// (`BinaryEventCodec.swift`, `JSONPayloadWriter.swift`). A tree, because `Codable` may hand out a container and
// have it filled after its parent moved on (and JSON sorts an object's keys); a small one, because primitives sit
// in it as values (no buffer or object each), the containers' concrete `encode(_:forKey:)` overloads take them
// without a dynamic cast, and containers reserve their storage.

/// How the tree is built for a codec: JSON writes some Foundation types its own way (as `JSONEncoder` does with
/// its default strategies); the binary codec encodes every type through `Codable`.
enum EncodingStyle {
    case binary
    case json
}

/// One value of the tree.
enum PayloadNode {
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case float(Float)
    case string(String)
    /// A number already in its JSON text (`Decimal`).
    case number(String)
    /// nil: `encodeNil`, or an `Optional` without a value.
    case null
    /// An `Optional` with a value (binary writes a presence byte in front of it outside keyed containers).
    indirect case present(PayloadNode)
    case keyed(KeyedNode)
    case unkeyed(UnkeyedNode)
    /// A value an encoder fills later (`superEncoder`).
    case slot(NodeSlot)
}

// Unchecked exclusivity on the containers' storage: a tree belongs to one encode, run synchronously on one thread,
// and nothing appends to a container while its contents are read or appended to. Dynamic checks cost more than
// the appends they guard.

final class KeyedNode {
    struct Field {
        var key: String
        var node: PayloadNode
    }

    @exclusivity(unchecked) var fields: [Field]

    init() {
        fields = []
        fields.reserveCapacity(8)
    }
}

final class UnkeyedNode {
    @exclusivity(unchecked) var items: [PayloadNode] = []
}

/// Where a value goes once encoded (the top-level value, a super encoder's value).
final class NodeSlot {
    var node: PayloadNode?
}

/// How deep values may nest: what the decoders accept, so a payload that is written can always be read. The binary
/// decoder counts each value decoded through `Codable`, the JSON decoder each object and array; the encoder counts
/// each value encoded through `Codable`, and for JSON each nested container and super encoder too (never fewer
/// levels than the decoder will meet).
let encodingDepthMax = 256

struct PayloadEncoder: Encoder {
    let slot: NodeSlot
    let style: EncodingStyle
    var codingPath: [any CodingKey] = []
    /// How many levels hold this encoder's value.
    var depth = 0
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// The tree of `value`.
    static func tree<T: Encodable>(_ value: T, style: EncodingStyle) throws -> PayloadNode {
        try node(value, style: style, depth: 0, codingPath: [])
    }

    /// The node of a primitive (compared by type identity, as decoding does; `unsafeBitCast` is exact because
    /// `T` is that very type), nil for any other type.
    static func primitive<T>(_ value: T) -> PayloadNode? {
        let id = ObjectIdentifier(T.self)
        if id == ObjectIdentifier(String.self) { return .string(unsafeBitCast(value, to: String.self)) }
        if id == ObjectIdentifier(Int.self) { return .int(Int64(unsafeBitCast(value, to: Int.self))) }
        if id == ObjectIdentifier(Bool.self) { return .bool(unsafeBitCast(value, to: Bool.self)) }
        if id == ObjectIdentifier(Double.self) { return .double(unsafeBitCast(value, to: Double.self)) }
        if id == ObjectIdentifier(Int64.self) { return .int(unsafeBitCast(value, to: Int64.self)) }
        if id == ObjectIdentifier(UInt64.self) { return .uint(unsafeBitCast(value, to: UInt64.self)) }
        if id == ObjectIdentifier(Int32.self) { return .int(Int64(unsafeBitCast(value, to: Int32.self))) }
        if id == ObjectIdentifier(UInt32.self) { return .uint(UInt64(unsafeBitCast(value, to: UInt32.self))) }
        if id == ObjectIdentifier(UInt.self) { return .uint(UInt64(unsafeBitCast(value, to: UInt.self))) }
        if id == ObjectIdentifier(Int16.self) { return .int(Int64(unsafeBitCast(value, to: Int16.self))) }
        if id == ObjectIdentifier(UInt16.self) { return .uint(UInt64(unsafeBitCast(value, to: UInt16.self))) }
        if id == ObjectIdentifier(Int8.self) { return .int(Int64(unsafeBitCast(value, to: Int8.self))) }
        if id == ObjectIdentifier(UInt8.self) { return .uint(UInt64(unsafeBitCast(value, to: UInt8.self))) }
        if id == ObjectIdentifier(Float.self) { return .float(unsafeBitCast(value, to: Float.self)) }
        return nil
    }

    /// What `JSONEncoder` writes its own way for these types (its default strategies), nil for other types.
    static func jsonSpecial<T>(_ value: T) -> PayloadNode? {
        let id = ObjectIdentifier(T.self)
        if id == ObjectIdentifier(Data.self) { return .string(unsafeBitCast(value, to: Data.self).base64EncodedString()) }
        if id == ObjectIdentifier(URL.self) { return .string(unsafeBitCast(value, to: URL.self).absoluteString) }
        if id == ObjectIdentifier(Decimal.self) { return .number(unsafeBitCast(value, to: Decimal.self).description) }
        return nil
    }

    /// The node of any value: primitives directly, optionals as presence, the rest through `Codable`.
    static func node<T: Encodable>(
        _ value: T, style: EncodingStyle, depth: Int, codingPath: @autoclosure () -> [any CodingKey]
    ) throws -> PayloadNode {
        if let node = primitive(value) { return node }
        if let optional = value as? any PayloadOptional {
            guard let wrapped = optional.wrapped else { return .null }
            guard let encodable = wrapped as? any Encodable else {
                throw EncodingError.invalidValue(wrapped, EncodingError.Context(codingPath: codingPath(), debugDescription: "not Encodable"))
            }
            return .present(try node(encodable, style: style, depth: depth, codingPath: codingPath()))
        }
        if style == .json, let node = jsonSpecial(value) { return node }
        guard depth < encodingDepthMax else {
            throw EncodingError.invalidValue(
                value, EncodingError.Context(codingPath: codingPath(), debugDescription: "values nest deeper than \(encodingDepthMax): no decoder would read them"))
        }
        let slot = NodeSlot()
        try value.encode(to: PayloadEncoder(slot: slot, style: style, codingPath: codingPath(), depth: depth + 1))
        guard let node = slot.node else {
            throw EncodingError.invalidValue(value, EncodingError.Context(codingPath: codingPath(), debugDescription: "\(T.self) encoded nothing"))
        }
        return node
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .keyed(let existing)? = slot.node {
            return KeyedEncodingContainer(PayloadKeyedEncoder<Key>(node: existing, style: style, codingPath: codingPath, depth: depth))
        }
        let node = KeyedNode()
        slot.node = .keyed(node)
        return KeyedEncodingContainer(PayloadKeyedEncoder<Key>(node: node, style: style, codingPath: codingPath, depth: depth))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .unkeyed(let existing)? = slot.node { return PayloadUnkeyedEncoder(node: existing, style: style, codingPath: codingPath, depth: depth) }
        let node = UnkeyedNode()
        slot.node = .unkeyed(node)
        return PayloadUnkeyedEncoder(node: node, style: style, codingPath: codingPath, depth: depth)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        PayloadSingleValueEncoder(slot: slot, style: style, codingPath: codingPath, depth: depth)
    }
}

struct PayloadKeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: KeyedNode
    let style: EncodingStyle
    var codingPath: [any CodingKey]
    let depth: Int

    /// The depth of a container or super encoder nested in this one (a level of its own in JSON).
    private var nestedDepth: Int { style == .json ? depth + 1 : depth }

    private func add(_ key: Key, _ value: PayloadNode) { node.fields.append(KeyedNode.Field(key: key.stringValue, node: value)) }

    mutating func encodeNil(forKey key: Key) throws { add(key, .null) }

    mutating func encode(_ value: Bool, forKey key: Key) throws { add(key, .bool(value)) }
    mutating func encode(_ value: String, forKey key: Key) throws { add(key, .string(value)) }
    mutating func encode(_ value: Double, forKey key: Key) throws { add(key, .double(value)) }
    mutating func encode(_ value: Float, forKey key: Key) throws { add(key, .float(value)) }
    mutating func encode(_ value: Int, forKey key: Key) throws { add(key, .int(Int64(value))) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { add(key, .int(Int64(value))) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { add(key, .int(Int64(value))) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { add(key, .int(Int64(value))) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { add(key, .int(value)) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { add(key, .uint(UInt64(value))) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { add(key, .uint(UInt64(value))) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { add(key, .uint(UInt64(value))) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { add(key, .uint(UInt64(value))) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { add(key, .uint(value)) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        let path = codingPath
        add(key, try PayloadEncoder.node(value, style: style, depth: depth, codingPath: path + [key]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = KeyedNode()
        add(key, .keyed(nested))
        return KeyedEncodingContainer(PayloadKeyedEncoder<NestedKey>(node: nested, style: style, codingPath: codingPath + [key], depth: nestedDepth))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = UnkeyedNode()
        add(key, .unkeyed(nested))
        return PayloadUnkeyedEncoder(node: nested, style: style, codingPath: codingPath + [key], depth: nestedDepth)
    }

    mutating func superEncoder() -> any Encoder {
        let slot = NodeSlot()
        node.fields.append(KeyedNode.Field(key: superKey, node: .slot(slot)))
        return PayloadEncoder(slot: slot, style: style, codingPath: codingPath, depth: nestedDepth)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let slot = NodeSlot()
        add(key, .slot(slot))
        return PayloadEncoder(slot: slot, style: style, codingPath: codingPath + [key], depth: nestedDepth)
    }
}

struct PayloadUnkeyedEncoder: UnkeyedEncodingContainer {
    let node: UnkeyedNode
    let style: EncodingStyle
    var codingPath: [any CodingKey]
    let depth: Int

    /// The depth of a container or super encoder nested in this one (a level of its own in JSON).
    private var nestedDepth: Int { style == .json ? depth + 1 : depth }
    var count: Int { node.items.count }

    mutating func encodeNil() throws { node.items.append(.null) }

    mutating func encode(_ value: Bool) throws { node.items.append(.bool(value)) }
    mutating func encode(_ value: String) throws { node.items.append(.string(value)) }
    mutating func encode(_ value: Double) throws { node.items.append(.double(value)) }
    mutating func encode(_ value: Int) throws { node.items.append(.int(Int64(value))) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = codingPath
        node.items.append(try PayloadEncoder.node(value, style: style, depth: depth, codingPath: path))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = KeyedNode()
        node.items.append(.keyed(nested))
        return KeyedEncodingContainer(PayloadKeyedEncoder<NestedKey>(node: nested, style: style, codingPath: codingPath, depth: nestedDepth))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = UnkeyedNode()
        node.items.append(.unkeyed(nested))
        return PayloadUnkeyedEncoder(node: nested, style: style, codingPath: codingPath, depth: nestedDepth)
    }

    mutating func superEncoder() -> any Encoder {
        let slot = NodeSlot()
        node.items.append(.slot(slot))
        return PayloadEncoder(slot: slot, style: style, codingPath: codingPath, depth: nestedDepth)
    }
}

struct PayloadSingleValueEncoder: SingleValueEncodingContainer {
    let slot: NodeSlot
    let style: EncodingStyle
    var codingPath: [any CodingKey]
    let depth: Int

    mutating func encodeNil() throws { slot.node = .null }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = codingPath
        slot.node = try PayloadEncoder.node(value, style: style, depth: depth, codingPath: path)
    }
}

/// A slot's value once the encode is over, or the error of one that was never encoded.
func filled(_ slot: NodeSlot, at offset: Int) throws -> PayloadNode {
    guard let node = slot.node else {
        throw EncodingError.invalidValue(
            slot, EncodingError.Context(codingPath: [], debugDescription: "a value was never encoded (at byte \(offset))"))
    }
    return node
}
