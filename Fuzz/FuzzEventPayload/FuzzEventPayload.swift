// libFuzzer target: hostile event payloads for both codecs (the bytes come from a store, so anything is
// possible): decoding into structs, enums with payloads, optionals, arrays and dictionaries must return a value
// or throw, never trap, hang or allocate past the payload's size. A value that decodes must encode and decode
// again to itself. JSON has an oracle besides: what Strata's decoder accepts, Foundation's `JSONDecoder` must
// accept as the same value (Foundation is more lenient — a trailing comma — so not the other way round), and
// Strata's JSON encoder must write what `JSONEncoder` writes, byte for byte. And the
// field path (`FieldDecodable`) must agree with the `Codable` path: the same value, or both refuse.
import Foundation
import Strata
import CFuzzDriver

struct Inner: Codable, Equatable {
    var a: Int
    var b: String?
}

enum Shape: Codable, Equatable {
    case circle(radius: Double)
    case rect(w: Int, h: Int)
    case empty

    /// Bit-for-bit, so a NaN read from a payload equals itself.
    static func == (a: Shape, b: Shape) -> Bool {
        switch (a, b) {
        case (.circle(let x), .circle(let y)): x.bitPattern == y.bitPattern
        case (.rect(let w1, let h1), .rect(let w2, let h2)): w1 == w2 && h1 == h2
        case (.empty, .empty): true
        default: false
        }
    }
}

struct Payload: Codable, Equatable {
    var name: String
    var count: Int64
    var small: Int8
    var flag: Bool
    var ratio: Double
    var note: String?
    var tags: [String]
    var scores: [String: UInt16]
    var nested: Inner
    var items: [Inner?]
    var shape: Shape

    static func == (a: Payload, b: Payload) -> Bool {
        a.name == b.name && a.count == b.count && a.small == b.small && a.flag == b.flag
            && a.ratio.bitPattern == b.ratio.bitPattern && a.note == b.note && a.tags == b.tags && a.scores == b.scores
            && a.nested == b.nested && a.items == b.items && a.shape == b.shape
    }
}

extension Payload: FieldDecodable {
    init(fields: borrowing PayloadFields) throws {
        name = try fields.decode(forKey: "name")
        count = try fields.decode(forKey: "count")
        small = try fields.decode(forKey: "small")
        flag = try fields.decode(forKey: "flag")
        ratio = try fields.decode(forKey: "ratio")
        note = try fields.decodeIfPresent(forKey: "note")
        tags = try fields.decode(forKey: "tags")
        scores = try fields.decode(forKey: "scores")
        nested = try fields.decode(forKey: "nested")
        items = try fields.decode(forKey: "items")
        shape = try fields.decode(forKey: "shape")
    }
}

func check<T: Codable & Equatable>(_ type: T.Type, _ bytes: UnsafeRawBufferPointer, _ codec: some EventCodec) {
    guard let value = try? codec.decode(type, from: bytes) else { return }
    let again = try! codec.encode(value)
    let back = try! again.withUnsafeBytes { try codec.decode(type, from: $0) }
    precondition(back == value, "a decoded value does not survive encode + decode")
    if codec is JSONEventCodec {
        let foundation = try? JSONDecoder().decode(type, from: Data(bytes))
        precondition(foundation == value, "JSONDecoder reads \(String(describing: foundation)), Strata \(value)")
        // Strata's encoder writes what JSONEncoder writes, byte for byte (what JSON decodes to is always encodable).
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let foundationBytes = Array(try! encoder.encode(value))
        precondition(foundationBytes == again, "JSONEncoder writes \(foundationBytes), Strata \(again)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    for codec in [BinaryEventCodec() as any EventCodec, JSONEventCodec()] {
        check(Payload.self, bytes, codec)
        let viaFields = try? codec.decode(fields: Payload.self, from: bytes)
        let viaCodable = try? codec.decode(Payload.self, from: bytes)
        precondition(viaFields == viaCodable, "fields read \(String(describing: viaFields)), Codable \(String(describing: viaCodable))")
        check([Inner?].self, bytes, codec)
        check([String: Shape].self, bytes, codec)
        check(String?.self, bytes, codec)
    }
    return 0
}

// The entry point: libFuzzer's driver, in builds of Fuzz/run.sh (see Fuzz/CFuzzDriver).
strata_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, fuzz)
