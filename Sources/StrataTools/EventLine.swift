import Foundation
import StrataStorage

/// Strata's interchange format: one event per line of JSON (README, "The JSONL event format").
///
///     {"sequence":12,"tenant":"acme","group":"Cart","id":"c-1","version":3,"type":"ItemAdded","typeVersion":1,
///      "timestamp":"2026-11-28T13:40:52.123456Z","eventId":"…","metadata":{"correlationId":"…","user":"u"},
///      "payload":{"item":"tea"}}
///
/// `payload` holds the payload's own bytes, verbatim, when they are one valid JSON value with no whitespace
/// around it and no line break; otherwise `payloadBase64` holds them, so every payload round-trips byte for byte. On import only `tenant`, `group`, `id`, `type` and one payload key are
/// required: `sequence` is ignored, an absent `version` means "the next version", a present one is an
/// expected-version check, `typeVersion` defaults to 1, `timestamp` to now, `eventId` to a new UUID.
public enum EventLine {
    /// Why a line was refused; `column` is a 1-based byte offset in the line.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var column: Int
        public var reason: String
        public var description: String { "column \(column): \(reason)" }
    }

    /// One imported line: the record (its `version` is the requested one, or 0) and whether a version was given.
    public struct Decoded: Sendable, Equatable {
        public var record: EventRecord
        public var version: UInt64?
    }

    // MARK: Encoding

    /// The line for a stored record, without the trailing newline.
    public static func encode(_ record: RecordView) -> [UInt8] { encode(record.event, sequence: record.sequence) }

    /// The line for a stored event at `sequence` (any backend's position that is a sequence), without the trailing
    /// newline.
    public static func encode(_ record: EventView, sequence: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + record.payload.count * 4 / 3)
        out += Array(#"{"sequence":"#.utf8) + Array(String(sequence).utf8)
        field("tenant", text(record.tenantBytes), &out)
        field("group", text(record.groupBytes), &out)
        field("id", text(record.idBytes), &out)
        out += Array(#","version":"#.utf8) + Array(String(record.version).utf8)
        field("type", text(record.typeNameBytes), &out)
        out += Array(#","typeVersion":"#.utf8) + Array(String(record.typeVersion).utf8)
        field("timestamp", Timestamp.format(micros: record.timestampMicros), &out)
        field("eventId", record.eventId.description, &out)
        out += Array(#","metadata":{"#.utf8)
        var first = true
        for (name, value) in [
            ("correlationId", record.correlationId?.string), ("causationId", record.causationId?.string),
            ("user", record.userBytes.map(text)),
        ] {
            guard let value else { continue }
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSONSyntax.writeString(name, into: &out)
            out.append(UInt8(ascii: ":"))
            JSONSyntax.writeString(value, into: &out)
        }
        out.append(UInt8(ascii: "}"))
        let payload = Array(record.payload)
        if carriesAsJSON(payload) {
            out += Array(#","payload":"#.utf8) + payload
        } else {
            field("payloadBase64", Data(payload).base64EncodedString(), &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Whether a payload goes into the line as JSON: one valid JSON value, with no whitespace around it (import
    /// reads the value's own bytes) and no line break inside.
    static func carriesAsJSON(_ payload: [UInt8]) -> Bool {
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
        guard let first = payload.first, let last = payload.last, !isSpace(first), !isSpace(last) else { return false }
        return !payload.contains(0x0A) && !payload.contains(0x0D) && JSONScanner.isValidJSON(payload)
    }

    private static func text(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: bytes, as: UTF8.self) }

    private static func field(_ name: String, _ value: String, _ out: inout [UInt8]) {
        out.append(UInt8(ascii: ","))
        JSONSyntax.writeString(name, into: &out)
        out.append(UInt8(ascii: ":"))
        JSONSyntax.writeString(value, into: &out)
    }

    // MARK: Decoding

    static let keys: Set<String> = [
        "sequence", "tenant", "group", "id", "version", "type", "typeVersion", "timestamp", "eventId", "metadata",
        "payload", "payloadBase64",
    ]

    /// Parses one line (without its newline). `now` is the timestamp used when the line has none.
    public static func decode(_ line: [UInt8], now: Int64) throws(Problem) -> Decoded {
        var scanner = JSONScanner(line)
        do throws(JSONScanner.Failure) {
            return try decode(&scanner, now: now)
        } catch {
            throw Problem(column: error.offset + 1, reason: error.reason)
        }
    }

    private static func decode(_ s: inout JSONScanner, now: Int64) throws(JSONScanner.Failure) -> Decoded {
        var strings: [String: String] = [:]
        var integers: [String: Int64] = [:]
        var metadata = RecordMetadata()
        var payload: [UInt8]?
        var seen = Set<String>()
        try s.expect(UInt8(ascii: "{"), "'{' (a line is one JSON object)")
        if !s.consume(UInt8(ascii: "}")) {
            repeat {
                guard s.peek() == UInt8(ascii: "\"") else { throw s.fail("expected a key") }
                let keyAt = s.position
                let key = try s.parseString()
                guard keys.contains(key) else { throw JSONScanner.Failure(offset: keyAt, reason: "unknown key \"\(key)\"") }
                guard seen.insert(key).inserted else { throw JSONScanner.Failure(offset: keyAt, reason: "duplicate key \"\(key)\"") }
                try s.expect(UInt8(ascii: ":"), "':'")
                _ = s.peek()
                let valueAt = s.position
                func wrongType(_ expected: String) -> JSONScanner.Failure {
                    JSONScanner.Failure(offset: valueAt, reason: "\"\(key)\" must be \(expected)")
                }
                switch key {
                case "tenant", "group", "id", "type", "timestamp", "eventId", "payloadBase64":
                    guard s.peek() == UInt8(ascii: "\"") else { throw wrongType("a string") }
                    strings[key] = try s.parseString()
                case "sequence", "version", "typeVersion":
                    guard let c = s.peek(), c == UInt8(ascii: "-") || (c >= 0x30 && c <= 0x39) else { throw wrongType("an integer") }
                    let value = try s.parseInteger()
                    guard value >= 0 else { throw wrongType("a non-negative integer") }
                    integers[key] = value
                case "metadata":
                    guard s.peek() == UInt8(ascii: "{") else { throw wrongType("an object") }
                    metadata = try decodeMetadata(&s)
                default:  // "payload": any JSON value, kept byte for byte
                    let range = try s.skipValue()
                    payload = Array(s.bytes[range])
                }
            } while s.consume(UInt8(ascii: ","))
            try s.expect(UInt8(ascii: "}"), "',' or '}'")
        }
        s.skipWhitespace()
        guard s.isAtEnd else { throw s.fail("bytes after the object") }

        func required(_ key: String) throws(JSONScanner.Failure) -> String {
            guard let value = strings[key] else { throw JSONScanner.Failure(offset: 0, reason: "missing \"\(key)\"") }
            return value
        }
        let key = PartitionKey(tenant: try required("tenant"), group: try required("group"), id: try required("id"))
        for (name, value, limit) in [
            ("tenant", key.tenant, Limits.tenantBytesMax), ("group", key.group, Limits.groupBytesMax),
            ("id", key.id, Limits.aggregateIdBytesMax),
        ] where value.isEmpty || value.utf8.count > limit {
            throw JSONScanner.Failure(offset: 0, reason: "\(quotedForMessage(name)) must be 1 to \(limit) bytes of UTF-8")
        }
        let typeName = try required("type")
        guard !typeName.isEmpty, typeName.utf8.count <= Limits.typeNameBytesMax else {
            throw JSONScanner.Failure(offset: 0, reason: "\"type\" must be 1 to \(Limits.typeNameBytesMax) bytes of UTF-8")
        }
        switch (payload, strings["payloadBase64"]) {
        case (nil, nil):
            throw JSONScanner.Failure(offset: 0, reason: "missing \"payload\" or \"payloadBase64\"")
        case (.some, .some):
            throw JSONScanner.Failure(offset: 0, reason: "both \"payload\" and \"payloadBase64\"")
        case (nil, .some(let base64)):
            guard let data = Data(base64Encoded: base64) else { throw JSONScanner.Failure(offset: 0, reason: "\"payloadBase64\" is not base64") }
            payload = Array(data)
        default:
            break
        }
        guard payload!.count <= Limits.payloadBytesMax else {
            throw JSONScanner.Failure(offset: 0, reason: "payload of \(payload!.count) bytes exceeds \(Limits.payloadBytesMax)")
        }
        var version: UInt64?
        if let value = integers["version"] {
            guard value >= 1 else { throw JSONScanner.Failure(offset: 0, reason: "\"version\" must be ≥ 1") }
            version = UInt64(value)
        }
        let typeVersion = integers["typeVersion"] ?? 1
        guard typeVersion <= Int64(UInt32.max) else { throw JSONScanner.Failure(offset: 0, reason: "\"typeVersion\" exceeds \(UInt32.max)") }
        var timestamp = now
        if let text = strings["timestamp"] {
            guard let value = Timestamp.parse(text) else { throw JSONScanner.Failure(offset: 0, reason: "\"timestamp\" is not an RFC 3339 time") }
            timestamp = value
        }
        var eventId = EventID.random()
        if let text = strings["eventId"] {
            guard let value = EventID(uuidString: text) else { throw JSONScanner.Failure(offset: 0, reason: "\"eventId\" is not a UUID") }
            eventId = value
        }
        let record = EventRecord(
            key: key, typeName: typeName, typeVersion: UInt32(typeVersion), timestampMicros: timestamp,
            eventId: eventId, metadata: metadata, payload: payload!)
        return Decoded(record: record, version: version)
    }

    private static func decodeMetadata(_ s: inout JSONScanner) throws(JSONScanner.Failure) -> RecordMetadata {
        var metadata = RecordMetadata()
        var seen = Set<String>()
        try s.expect(UInt8(ascii: "{"), "'{'")
        if s.consume(UInt8(ascii: "}")) { return metadata }
        repeat {
            guard s.peek() == UInt8(ascii: "\"") else { throw s.fail("expected a key") }
            let keyAt = s.position
            let key = try s.parseString()
            guard ["correlationId", "causationId", "user"].contains(key) else {
                throw JSONScanner.Failure(offset: keyAt, reason: "unknown metadata key \"\(key)\"")
            }
            guard seen.insert(key).inserted else { throw JSONScanner.Failure(offset: keyAt, reason: "duplicate metadata key \"\(key)\"") }
            try s.expect(UInt8(ascii: ":"), "':'")
            guard s.peek() == UInt8(ascii: "\"") else { throw s.fail("metadata \"\(key)\" must be a string") }
            let valueAt = s.position
            let value = try s.parseString()
            guard value.utf8.count <= Limits.metadataFieldBytesMax else {
                throw JSONScanner.Failure(offset: valueAt, reason: "metadata \"\(key)\" exceeds \(Limits.metadataFieldBytesMax) bytes")
            }
            switch key {
            case "correlationId": metadata.correlationId = value
            case "causationId": metadata.causationId = value
            default: metadata.user = value
            }
        } while s.consume(UInt8(ascii: ","))
        try s.expect(UInt8(ascii: "}"), "',' or '}'")
        return metadata
    }
}
