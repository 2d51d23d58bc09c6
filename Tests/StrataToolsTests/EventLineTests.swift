import Foundation
import PropertyBased
@_spi(StrataInternals) import StrataStorage
import Testing

@testable import StrataTools

/// Records with awkward strings (quotes, backslashes, control characters, non-ASCII), every metadata shape,
/// and payloads that are JSON (objects, strings with escapes, numbers, nested arrays, surrounding spaces) or not
/// (random bytes, JSON with a line break, invalid UTF-8).
let lineRecordGenerator = Generator<EventRecord, Shrink.None<EventRecord>> { rng in
    func text(_ maxBytes: Int, allowEmpty: Bool = false) -> String {
        let alphabet: [String] = ["a", "Z", "0", "\"", "\\", "/", "\n", "\t", "\u{01}", "é", "€", "😀", " ", "}", "{"]
        var s = ""
        let n = Int.random(in: (allowEmpty ? 0 : 1)...max(1, maxBytes / 4), using: &rng)
        for _ in 0..<n { s += alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }
        return s.isEmpty && !allowEmpty ? "x" : s
    }
    func payload() -> [UInt8] {
        switch Int.random(in: 0..<7, using: &rng) {
        case 0: return Array(#"{"item":"tea","quantity":3,"price":1.5e2,"tags":["a","b"],"gift":null,"ok":true}"#.utf8)
        case 1: return Array("  [1, -2.5, \"\\u00e9\\n\", {\"k\": {}}]  ".utf8)
        case 2: return Array("\"just a string \\\" with a quote\"".utf8)
        case 3: return Array("{\n\"line\": \"break\"\n}".utf8)  // valid JSON, but a newline: base64
        case 4: return (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        case 5: return [0xFF, 0xFE, 0x22]
        default: return Array("42".utf8)
        }
    }
    func id() -> String? {
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: return nil
        case 1: return EventID(high: rng.next(), low: rng.next()).description
        default: return text(40, allowEmpty: true)
        }
    }
    return EventRecord(
        key: PartitionKey(tenant: text(64), group: text(64), id: text(128)), typeName: text(128),
        typeVersion: UInt32.random(in: 0...UInt32.max, using: &rng),
        timestampMicros: [Int64.min, Int64.max, 0, -1, Int64.random(in: Int64.min...Int64.max, using: &rng),
                          1_795_000_000_000_000 + Int64.random(in: 0...1_000_000_000, using: &rng)][Int.random(in: 0..<6, using: &rng)],
        eventId: EventID(high: rng.next(), low: rng.next()),
        metadata: RecordMetadata(correlationId: id(), causationId: id(), user: Bool.random(using: &rng) ? text(30) : nil),
        payload: payload())
}

/// Walks the records of one frame encoded from `records` (versions 1, 2, …) with sequences from `base`.
func withRecordViews(_ records: [EventRecord], base: UInt64 = 1, _ body: (RecordView) -> Void) throws {
    let frame = try FrameCoding.encodeFrame(records, baseSequence: base, compression: .lz4)
    try frame.withUnsafeBytes { frame in
        let header = try FrameCoding.validate(frame)
        try FrameCoding.RecordWalker().forEachRecord(in: frame, header: header, body)
    }
}

@Suite struct EventLineTests {
    @Test func linesRoundTripEveryField() async {
        await propertyCheck(count: 200, input: lineRecordGenerator.array(of: 1...6)) { records in
            var lines: [[UInt8]] = []
            try withRecordViews(records, base: 40) { lines.append(EventLine.encode($0)) }
            #expect(lines.count == records.count)
            for (index, (line, record)) in zip(lines, records).enumerated() {
                #expect(!line.contains(0x0A) && !line.contains(0x0D), "a line must not contain a line break")
                #expect((try? JSONSerialization.jsonObject(with: Data(line))) != nil, "not JSON: \(String(decoding: line, as: UTF8.self))")
                let decoded = try EventLine.decode(line, now: 0)
                #expect(decoded.record == record)
                #expect(decoded.version == UInt64(index + 1))
            }
        }
    }

    @Test func jsonPayloadsAreCarriedVerbatimAndOthersAsBase64() throws {
        let json = Array(#"{"b":2, "a":[1,2.50]}"#.utf8)
        let binary: [UInt8] = [0, 1, 2, 0xFF]
        var lines: [String] = []
        let records = [json, binary].map {
            EventRecord(key: PartitionKey(tenant: "t", group: "g", id: "i"), typeName: "T", timestampMicros: 0, eventId: EventID(high: 1, low: 2), payload: $0)
        }
        try withRecordViews(records) { lines.append(String(decoding: EventLine.encode($0), as: UTF8.self)) }
        #expect(lines[0].hasSuffix(#","payload":{"b":2, "a":[1,2.50]}}"#))
        #expect(lines[1].hasSuffix(#","payloadBase64":"AAEC/w=="}"#))
        #expect(lines[0].hasPrefix(#"{"sequence":1,"tenant":"t","group":"g","id":"i","version":1,"type":"T","typeVersion":1,"timestamp":"1970-01-01T00:00:00.000000Z","eventId":"00000000-0000-0001-0000-000000000002","metadata":{}"#))
    }

    @Test func importDefaultsApply() throws {
        let line = Array(#"{"tenant":"t","group":"g","id":"i","type":"T","payload":{}}"#.utf8)
        let decoded = try EventLine.decode(line, now: 123)
        #expect(decoded.version == nil)
        #expect(decoded.record.typeVersion == 1)
        #expect(decoded.record.timestampMicros == 123)
        #expect(decoded.record.payload == Array("{}".utf8))
        #expect(decoded.record.metadata == RecordMetadata())
        #expect(try EventLine.decode(line, now: 0).record.eventId != decoded.record.eventId)
    }

    @Test(arguments: [
        (#"{"tenant":"t","group":"g","id":"i","type":"T","payload":1,"color":"red"}"#, "unknown key \"color\""),
        (#"{"tenant":"t","group":"g","id":"i","type":"T","payload":1,"tenant":"u"}"#, "duplicate key \"tenant\""),
        (#"{"tenant":7,"group":"g","id":"i","type":"T","payload":1}"#, "\"tenant\" must be a string"),
        (#"{"tenant":"t","group":"g","id":"i","type":"T","payload":1,"version":"3"}"#, "\"version\" must be an integer"),
        (#"{"tenant":"t","group":"g","id":"i","type":"T","payload":1,"version":0}"#, "\"version\" must be ≥ 1"),
        (#"{"tenant":"t","group":"g","id":"i","type":"T","payload":1,"version":1.5}"#, "expected an integer"),
        (#"{"group":"g","id":"i","type":"T","payload":1}"#, "missing \"tenant\""),
        (#"{"tenant":"","group":"g","id":"i","type":"T","payload":1}"#, "\"tenant\" must be 1 to 64 bytes of UTF-8"),
        (#"{"tenant":"t","group":"g","id":"i","type":"T"}"#, "missing \"payload\" or \"payloadBase64\""),
        (#"{"tenant":"t","group":"g","id":"i","type":"T","payload":1,"payloadBase64":"AA=="}"#, "both \"payload\" and \"payloadBase64\""),
        (#"{"tenant":"t","group":"g","id":"i","type":"T","payloadBase64":"%%%"}"#, "\"payloadBase64\" is not base64"),
        (#"{"tenant":"t","group":"g","id":"i","type":"T","payload":{"a":}}"#, "expected a value"),
        (#"{"tenant":"t","group":"g","id":"i","type":"T","payload":1} x"#, "bytes after the object"),
        (#"{"tenant":"t","group":"g","id":"i","type":"T","payload":1,"timestamp":"yesterday"}"#, "\"timestamp\" is not an RFC 3339 time"),
        (#"{"tenant":"t","group":"g","id":"i","type":"T","payload":1,"eventId":"nope"}"#, "\"eventId\" is not a UUID"),
        (#"{"tenant":"t","group":"g","id":"i","type":"T","payload":1,"metadata":{"user":1}}"#, "metadata \"user\" must be a string"),
        (#"{"tenant":"t","group":"g","id":"i","type":"T","payload":1,"metadata":{"who":"x"}}"#, "unknown metadata key \"who\""),
        (#"["not an object"]"#, "expected '{' (a line is one JSON object)"),
        (#"{"tenant":"t\u0000","group":"g","id":"i","type":"T","payload":"\ud800"}"#, "unpaired surrogate"),
    ])
    func malformedLinesAreRefusedWithAReason(line: String, reason: String) {
        #expect(throws: EventLine.Problem.self) { try EventLine.decode(Array(line.utf8), now: 0) }
        do {
            _ = try EventLine.decode(Array(line.utf8), now: 0)
        } catch {
            #expect(error.reason == reason, "\(line)")
        }
    }

    @Test func timestampsFormatAndParse() {
        #expect(Timestamp.format(micros: 0) == "1970-01-01T00:00:00.000000Z")
        #expect(Timestamp.format(micros: -1) == "1969-12-31T23:59:59.999999Z")
        #expect(Timestamp.format(micros: 951_782_400_000_000) == "2000-02-29T00:00:00.000000Z")
        #expect(Timestamp.format(micros: 1_795_000_000_123_456) == "2026-11-18T11:06:40.123456Z")
        #expect(Timestamp.parse("2026-11-18T13:06:40.123456789+02:00") == 1_795_000_000_123_456)
        #expect(Timestamp.parse("2026-11-18 11:06:40Z") == 1_795_000_000_000_000)
        #expect(Timestamp.parse("2026-11-18t11:06:40.1z") == 1_795_000_000_100_000)
        for bad in ["2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-18T24:00:00Z", "2026-11-18T08:26:40",
                    "2026-11-18T08:26:40.Z", "+1234-01-01T00:00:00Z", "+999999999-01-01T00:00:00Z", ""] {
            #expect(Timestamp.parse(bad) == nil, "\(bad)")
        }
        var rng = SplitMix64(seed: 8)
        for value in [Int64.min, Int64.max, Int64.min + 1, -86_400_000_000, 253_402_300_800_000_000]
            + (0..<2_000).map({ _ in Int64(bitPattern: rng.next()) }) {
            let text = Timestamp.format(micros: value)
            #expect(Timestamp.parse(text) == value, "\(value) → \(text)")
        }
    }

    @Test func scannerAcceptsExactlyJSON() {
        for valid in ["0", "-0.5e+3", "\"\\u00e9\\ud83d\\ude00\"", "[]", "{}", " [ {\"a\" : [ null , true , false ] } ] ", "1E9"] {
            #expect(JSONScanner.isValidJSON(Array(valid.utf8)), "\(valid)")
        }
        for invalid in ["", "01", "1.", ".5", "+1", "[1,]", "{\"a\":1,}", "{a:1}", "'x'", "\"\u{01}\"", "nul", "[1] 2",
                        "\"\\x\"", String(repeating: "[", count: 300) + String(repeating: "]", count: 300)] {
            #expect(!JSONScanner.isValidJSON(Array(invalid.utf8)), "\(invalid)")
        }
        #expect(!JSONScanner.isValidJSON([0x22, 0xFF, 0x22]))
    }
}
