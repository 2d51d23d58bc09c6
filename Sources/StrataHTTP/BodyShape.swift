import Foundation
import OpenAPIKit
import StrataStorage

/// The JSON a `Decodable` type reads, found by decoding it once with a probing decoder: the members a struct asks
/// for (required or optional), arrays' elements, strings, numbers, dates, UUIDs and string-valued enums. It gives a
/// command body both its OpenAPI schema and its strict decoding (members the type never reads are refused). A type
/// the probe cannot walk — a custom `init(from:)` that validates, an enum with associated values — is `.any`:
/// documented as any JSON, decoded by `JSONDecoder` alone.
indirect enum BodyShape: Sendable {
    case any
    case string(format: JSONTypeFormat.StringFormat = .generic, values: [String]? = nil)
    case integer
    case number
    case boolean
    case array(BodyShape)
    /// A struct's members, in the order it reads them; no others are allowed.
    case object([Member])
    /// Any member names (a dictionary).
    case dictionary

    struct Member: Sendable {
        var name: String
        var shape: BodyShape
        var required: Bool
    }

    /// The shape of what `type` decodes.
    static func of<T: Decodable>(_ type: T.Type) -> BodyShape { Probe.probe(T.self).shape }

    /// The OpenAPI schema of the shape.
    var schema: JSONSchema {
        switch self {
        case .any: return .fragment
        case .string(let format, let values): return .string(format: format, allowedValues: values.map { $0.map { AnyCodable($0) } })
        case .integer: return .integer(format: .int64)
        case .number: return .number(format: .double)
        case .boolean: return .boolean
        case .array(let element): return .array(items: element.schema)
        case .dictionary: return .object(additionalProperties: .a(true))
        case .object(let members):
            var properties = OrderedDictionary<String, JSONSchema>()
            for member in members {
                properties[member.name] = member.required ? member.shape.schema : member.shape.schema.optionalSchemaObject()
            }
            return .object(properties: properties, additionalProperties: .a(false))
        }
    }

    /// What a strict body may not have: a member the shape does not have, or one given twice (paths such as
    /// `$.lines[0].x`).
    enum Stray: Equatable, Sendable {
        case unknown(String)
        case duplicate(String)
    }

    /// Checks a JSON document (one value, whitespace around it) against the shape in one pass over its bytes: the
    /// first member the shape does not have or that appears twice (missing members and wrong types are the
    /// decoder's to report); throws when the bytes are not JSON (RFC 8259, UTF-8, nesting within
    /// `JSONSyntax.depthMax`).
    func stray(in document: UnsafeRawBufferPointer) throws(JSONSyntax.Failure) -> Stray? {
        var position = 0
        let found = try stray(document, &position, depth: 0)
        JSONSyntax.skipWhitespace(document, &position)
        if found == nil, position != document.count { throw JSONSyntax.Failure(offset: position, reason: "data after the value") }
        return found.map { $0.at("$") }
    }

    /// The stray member of the value at `position` (left after the value, or where the stray one was found), its
    /// path relative to this value.
    private func stray(_ bytes: UnsafeRawBufferPointer, _ position: inout Int, depth: Int) throws(JSONSyntax.Failure) -> Stray? {
        JSONSyntax.skipWhitespace(bytes, &position)
        guard depth < JSONSyntax.depthMax, position < bytes.count else {
            try JSONSyntax.skipValue(bytes, &position, depth: depth)
            return nil
        }
        switch (self, bytes[position]) {
        case (.object(let members), 0x7B):
            position += 1
            var seen = [Bool](repeating: false, count: members.count)
            return try Self.elements(bytes, &position, close: 0x7D) { (position: inout Int) throws(JSONSyntax.Failure) -> Stray? in
                let (range, escaped) = try JSONSyntax.scanString(bytes, &position)
                let unescaped = escaped ? try JSONSyntax.unescape(bytes, range) : nil
                let name = UnsafeRawBufferPointer(rebasing: bytes[range])
                let index: Int?
                if let unescaped {
                    index = members.firstIndex { $0.name.utf8.elementsEqual(unescaped) }
                } else {
                    index = members.firstIndex { $0.name.utf8.elementsEqual(name) }
                }
                guard let index else {
                    return .unknown("." + (unescaped.map { String(decoding: $0, as: UTF8.self) } ?? String(decoding: name, as: UTF8.self)))
                }
                guard !seen[index] else { return .duplicate("." + members[index].name) }
                seen[index] = true
                JSONSyntax.skipWhitespace(bytes, &position)
                guard position < bytes.count, bytes[position] == 0x3A else { throw JSONSyntax.Failure(offset: position, reason: "expected ':'") }
                position += 1
                return try members[index].shape.stray(bytes, &position, depth: depth + 1).map { $0.at("." + members[index].name) }
            }
        case (.array(let element), 0x5B):
            position += 1
            var index = 0
            return try Self.elements(bytes, &position, close: 0x5D) { (position: inout Int) throws(JSONSyntax.Failure) -> Stray? in
                defer { index += 1 }
                return try element.stray(bytes, &position, depth: depth + 1).map { $0.at("[\(index)]") }
            }
        default:
            // A value the shape does not look into (a dictionary, any JSON, a primitive), or of another type than
            // the shape's (the decoder reports the mismatch): its syntax only.
            try JSONSyntax.skipValue(bytes, &position, depth: depth)
            return nil
        }
    }

    /// The elements of an array or the members of an object (after its opening bracket), each read by `element`,
    /// up to the closing one; the first stray member an element reports ends the walk.
    private static func elements(
        _ bytes: UnsafeRawBufferPointer, _ position: inout Int, close: UInt8,
        _ element: (inout Int) throws(JSONSyntax.Failure) -> Stray?
    ) throws(JSONSyntax.Failure) -> Stray? {
        JSONSyntax.skipWhitespace(bytes, &position)
        if position < bytes.count, bytes[position] == close {
            position += 1
            return nil
        }
        while true {
            JSONSyntax.skipWhitespace(bytes, &position)
            if let stray = try element(&position) { return stray }
            JSONSyntax.skipWhitespace(bytes, &position)
            guard position < bytes.count else { throw JSONSyntax.Failure(offset: position, reason: "expected ',' or a closing bracket") }
            if bytes[position] == 0x2C {
                position += 1
                continue
            }
            guard bytes[position] == close else { throw JSONSyntax.Failure(offset: position, reason: "expected ',' or a closing bracket") }
            position += 1
            return nil
        }
    }
}

extension BodyShape.Stray {
    /// The same finding one level up: its path behind `prefix`.
    func at(_ prefix: String) -> Self {
        switch self {
        case .unknown(let path): .unknown(prefix + path)
        case .duplicate(let path): .duplicate(prefix + path)
        }
    }
}

/// The probing decoder: each level records what the type asked of it in a `Node`.
private enum Probe {
    /// A stand-in value of `type` (nil when the probe cannot make one) and its shape.
    static func probe<T: Decodable>(_ type: T.Type) -> (value: T?, shape: BodyShape) {
        if let (value, shape) = primitive(T.self) { return (value, shape) }
        if let enumType = T.self as? any (CaseIterable & RawRepresentable<String>).Type {
            let (first, values) = cases(enumType)
            return (first as? T, .string(values: values))
        }
        let node = Node()
        let value = try? T(from: ProbeDecoder(node: node))
        return (value, value == nil ? .any : node.shape)
    }

    static func cases<E: CaseIterable & RawRepresentable<String>>(_ type: E.Type) -> (Any?, [String]) {
        (E.allCases.first, E.allCases.map(\.rawValue))
    }

    static func primitive<T>(_ type: T.Type) -> (T?, BodyShape)? {
        func make(_ value: Any, _ shape: BodyShape) -> (T?, BodyShape) { (value as? T, shape) }
        if let integer = type as? any FixedWidthInteger.Type { return make(integer.zero, .integer) }
        switch type {
        case is String.Type: return make("", .string())
        case is Bool.Type: return make(false, .boolean)
        case is Double.Type: return make(0 as Double, .number)
        case is Float.Type: return make(0 as Float, .number)
        case is Decimal.Type: return make(Decimal(0), .number)
        case is Date.Type: return make(Date(timeIntervalSince1970: 0), .string(format: .dateTime))
        case is UUID.Type: return make(UUID(), .string(format: .uuid))
        case is URL.Type: return make(URL(string: "https://example.com")!, .string(format: .uri))
        default: return nil
        }
    }

    struct Failure: Error {}

    final class Node {
        enum Use { case none, keyed, unkeyed, single }
        var use = Use.none
        var members: [(name: String, node: Node, required: Bool)] = []
        var usedAllKeys = false
        var element: Node?
        var fixed: BodyShape?

        init(fixed: BodyShape? = nil) { self.fixed = fixed }

        var shape: BodyShape {
            if let fixed { return fixed }
            switch use {
            case .none: return .any
            case .keyed:
                if usedAllKeys && members.isEmpty { return .dictionary }
                if usedAllKeys { return .any }
                return .object(members.map { BodyShape.Member(name: $0.name, shape: $0.node.shape, required: $0.required) })
            case .unkeyed: return .array(element?.shape ?? .any)
            case .single: return element?.shape ?? .any
            }
        }

        func decode<T: Decodable>(_ type: T.Type) throws -> (T, Node) {
            let (value, shape) = Probe.probe(T.self)
            guard let value else { throw Failure() }
            return (value, Node(fixed: shape))
        }
    }

    struct ProbeDecoder: Decoder {
        let node: Node
        var codingPath: [any CodingKey] = []
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
            node.use = .keyed
            return KeyedDecodingContainer(Keyed<Key>(node: node))
        }

        func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
            node.use = .unkeyed
            return Unkeyed(node: node)
        }

        func singleValueContainer() throws -> any SingleValueDecodingContainer {
            node.use = .single
            return Single(node: node)
        }
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let node: Node
        var codingPath: [any CodingKey] { [] }
        var allKeys: [Key] {
            node.usedAllKeys = true
            return []
        }

        func contains(_ key: Key) -> Bool { true }
        func decodeNil(forKey key: Key) throws -> Bool { false }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            let (value, child) = try node.decode(T.self)
            node.members.append((key.stringValue, child, true))
            return value
        }

        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
            node.members.append((key.stringValue, Node(fixed: Probe.probe(T.self).shape), false))
            return nil
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            let child = Node()
            node.members.append((key.stringValue, child, true))
            return try ProbeDecoder(node: child).container(keyedBy: NestedKey.self)
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            let child = Node()
            node.members.append((key.stringValue, child, true))
            return try ProbeDecoder(node: child).unkeyedContainer()
        }

        func superDecoder() throws -> any Decoder { throw Failure() }
        func superDecoder(forKey key: Key) throws -> any Decoder { throw Failure() }

        // The primitives go through the generic methods (one path for every type).
        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try decodeGeneric(Bool.self, key) }
        func decode(_ type: String.Type, forKey key: Key) throws -> String { try decodeGeneric(String.self, key) }
        func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try decodeGeneric(Double.self, key) }
        func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try decodeGeneric(Float.self, key) }
        func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try decodeGeneric(Int.self, key) }
        func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try decodeGeneric(Int8.self, key) }
        func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try decodeGeneric(Int16.self, key) }
        func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try decodeGeneric(Int32.self, key) }
        func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try decodeGeneric(Int64.self, key) }
        func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try decodeGeneric(UInt.self, key) }
        func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try decodeGeneric(UInt8.self, key) }
        func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try decodeGeneric(UInt16.self, key) }
        func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try decodeGeneric(UInt32.self, key) }
        func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try decodeGeneric(UInt64.self, key) }
        private func decodeGeneric<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T { try decode(T.self, forKey: key) }

        func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try decodeIfPresentGeneric(Bool.self, key) }
        func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try decodeIfPresentGeneric(String.self, key) }
        func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try decodeIfPresentGeneric(Double.self, key) }
        func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { try decodeIfPresentGeneric(Float.self, key) }
        func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try decodeIfPresentGeneric(Int.self, key) }
        func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try decodeIfPresentGeneric(Int8.self, key) }
        func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try decodeIfPresentGeneric(Int16.self, key) }
        func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try decodeIfPresentGeneric(Int32.self, key) }
        func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try decodeIfPresentGeneric(Int64.self, key) }
        func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try decodeIfPresentGeneric(UInt.self, key) }
        func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try decodeIfPresentGeneric(UInt8.self, key) }
        func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try decodeIfPresentGeneric(UInt16.self, key) }
        func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try decodeIfPresentGeneric(UInt32.self, key) }
        func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try decodeIfPresentGeneric(UInt64.self, key) }
        private func decodeIfPresentGeneric<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T? { try decodeIfPresent(T.self, forKey: key) }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let node: Node
        var codingPath: [any CodingKey] { [] }
        var count: Int? { nil }
        var isAtEnd: Bool { node.element != nil }
        var currentIndex: Int { node.element == nil ? 0 : 1 }

        mutating func decodeNil() throws -> Bool { false }

        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            let (value, child) = try node.decode(T.self)
            node.element = child
            return value
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            let child = Node()
            node.element = child
            return try ProbeDecoder(node: child).container(keyedBy: NestedKey.self)
        }

        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            let child = Node()
            node.element = child
            return try ProbeDecoder(node: child).unkeyedContainer()
        }

        mutating func superDecoder() throws -> any Decoder { throw Failure() }
    }

    struct Single: SingleValueDecodingContainer {
        let node: Node
        var codingPath: [any CodingKey] { [] }

        func decodeNil() -> Bool { false }

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            let (value, child) = try node.decode(T.self)
            node.element = child
            return value
        }
    }
}
