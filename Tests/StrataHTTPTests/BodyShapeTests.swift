import Foundation
import NIOCore
import PropertyBased
import StrataStorage
import Testing

@testable import StrataHTTP

/// The probe that gives command bodies their schema and strict decoding.
@Suite struct BodyShapeTests {
    enum Colour: String, Codable, CaseIterable { case red, green }
    enum Either: Codable { case left(Int), right(String) }
    struct Line: Codable, Equatable {
        var product: String
        var quantity: Int
    }
    struct Order: Codable, Equatable {
        var id: UUID
        var at: Date
        var lines: [Line]
        var note: String?
        var colour: Colour
        var tags: [String: String]
        var price: Double
        var paid: Bool
    }
    struct Odd: Codable { var value: Either }

    @Test func aStructsMembersNestedStructsArraysAndOptionalsAreFound() throws {
        guard case .object(let members) = BodyShape.of(Order.self) else { Issue.record("not an object"); return }
        #expect(members.map(\.name) == ["id", "at", "lines", "note", "colour", "tags", "price", "paid"])
        #expect(members.filter { !$0.required }.map(\.name) == ["note"])
        guard case .array(.object(let line)) = members[2].shape else { Issue.record("lines is not an array of objects"); return }
        #expect(line.map(\.name) == ["product", "quantity"])
        guard case .string(_, let values) = members[4].shape else { Issue.record("colour is not a string"); return }
        #expect(values == ["red", "green"])
        guard case .dictionary = members[5].shape else { Issue.record("tags is not a dictionary"); return }
    }

    /// The shape's finding in `bytes`.
    func stray(_ shape: BodyShape, _ bytes: [UInt8]) throws -> BodyShape.Stray? {
        try bytes.withUnsafeBytes { bytes throws(JSONSyntax.Failure) in try shape.stray(in: bytes) }
    }

    func stray(_ shape: BodyShape, _ json: String) throws -> BodyShape.Stray? { try stray(shape, Array(json.utf8)) }

    @Test func unknownAndRepeatedMembersAreNamedWithTheirPathAtAnyDepth() throws {
        let shape = BodyShape.of(Order.self)
        #expect(try stray(shape, #"{"lines":[{"product":"p","quantity":1},{"product":"p","colour":"x"}],"tags":{"any":"key"}}"#) == .unknown("$.lines[1].colour"))
        #expect(
            try stray(shape, #" { "lines" : [ { "product" : "p" } ] , "tags" : { "any" : "key" } } "#) == nil,
            "missing members are the decoder's to report; a dictionary takes any key")
        #expect(try stray(shape, #"{"note":"a","n\u006fte":"b"}"#) == .duplicate("$.note"), "an escaped name is the name")
        #expect(try stray(shape, #"{"\u00e9t\u00e9":1}"#) == .unknown("$.été"))
        #expect(try stray(shape, #"{"lines":{"product":"p","x":1},"tags":[1]}"#) == nil, "another type than the shape's is the decoder's to report")
        #expect(try stray(BodyShape.of([Line].self), #"[{"product":"p"},{"quantity":1,"extra":null}]"#) == .unknown("$[1].extra"))
    }

    @Test func bytesThatAreNotOneJSONValueAreRefused() {
        let shape = BodyShape.of(Order.self)
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        let bad: [String] = [
            #"{"lines":[{"product":"p"}"#, #"{"note":"a"} {}"#, #"{"note":"a",}"#, #"{"note" "a"}"#, #"{note:"a"}"#, "", "  ",
            #"{"tags":{"a":tru}}"#, #"{"note":"\ud800"}"#, #"{"price":01}"#, deep, #"{"lines":"# + deep + "}",
        ]
        for json in bad {
            #expect(throws: JSONSyntax.Failure.self, "\(json.prefix(40))") { try stray(shape, json) }
        }
        #expect(throws: JSONSyntax.Failure.self, "not UTF-8") { try stray(shape, Array(#"{"note":""#.utf8) + [0xFF] + Array(#""}"#.utf8)) }
    }

    /// Strict decoding against Foundation's `JSONDecoder` (`.iso8601` dates): random orders, encoded by
    /// `JSONEncoder`, decode to the same value; one unknown member, in the order or in a line, is refused by name.
    @Test func decodingStrictlyGivesWhatFoundationGivesAndRefusesStrayMembers() async throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys  // (a line's first member is its product)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let shape = BodyShape.of(Order.self)
        await propertyCheck(count: 300, input: Gen<UInt64>.value(in: 0...UInt64.max)) { seed in
            var rng = SplitMix64(seed: seed)
            let order = Order.random(&rng)
            let bytes = try encoder.encode(order)
            let foundation = try decoder.decode(Order.self, from: bytes)
            let strata = try decodeStrictly(Order.self, from: ByteBuffer(bytes: bytes), shape: shape)
            #expect(strata == foundation)
            var text = String(decoding: bytes, as: UTF8.self)
            let inLine = !order.lines.isEmpty && Bool.random(using: &rng)
            if inLine {
                text = text.replacingOccurrences(of: #"{"product":"#, with: #"{"stray":[1,{"a":null}],"product":"#)
            } else {
                text.insert(contentsOf: #""stray":"x","#, at: text.index(after: text.startIndex))
            }
            do throws(Problem) {
                _ = try decodeStrictly(Order.self, from: ByteBuffer(string: text), shape: shape)
                Issue.record("a stray member was taken: \(text)")
            } catch {
                #expect(error.detail.hasSuffix(inLine ? "$.lines[0].stray" : "$.stray"), "\(error.detail)")
            }
        }
    }

    @Test func datesAreRFC3339WithOrWithoutFractionalSeconds() throws {
        struct At: Codable, Equatable { var at: Date }
        let shape = BodyShape.of(At.self)
        let whole = try decodeStrictly(At.self, from: ByteBuffer(string: #"{"at":"2026-12-06T10:00:00Z"}"#), shape: shape)
        #expect(whole.at == Date(timeIntervalSince1970: 1_796_551_200))
        let fraction = try decodeStrictly(At.self, from: ByteBuffer(string: #"{"at":"2026-12-06T11:00:00.250+01:00"}"#), shape: shape)
        #expect(fraction.at == Date(timeIntervalSince1970: 1_796_551_200.25))
        #expect(throws: Problem.self) { try decodeStrictly(At.self, from: ByteBuffer(string: #"{"at":"yesterday"}"#), shape: shape) }
        #expect(throws: Problem.self) { try decodeStrictly(At.self, from: ByteBuffer(string: #"{"at":1796551200}"#), shape: shape) }
    }

    @Test func aTypeTheProbeCannotWalkIsAnyJSON() {
        guard case .any = BodyShape.of(Odd.self) else { Issue.record("an enum with associated values has a shape"); return }
    }
}

extension BodyShapeTests.Order {
    /// A random order: texts with escapes and characters beyond ASCII, whole-second dates, extreme prices.
    static func random(_ rng: inout SplitMix64) -> Self {
        func text() -> String {
            let pieces = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{01}", "é", "東", "🛒", "\u{7F}"]
            return (0..<Int.random(in: 0...12, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
        }
        let prices: [Double] = [0, -0.0, 1.5, -2.25, 1e-300, .leastNonzeroMagnitude, .greatestFiniteMagnitude, Double(Int.random(in: -1_000_000...1_000_000, using: &rng)) / 100]
        let lines = (0..<Int.random(in: 0...3, using: &rng)).map { _ in
            BodyShapeTests.Line(product: text(), quantity: Int.random(in: Int.min...Int.max, using: &rng))
        }
        return Self(
            id: UUID(), at: Date(timeIntervalSince1970: Double(Int.random(in: 0...4_000_000_000, using: &rng))), lines: lines,
            note: Bool.random(using: &rng) ? text() : nil, colour: Bool.random(using: &rng) ? .red : .green,
            tags: Dictionary((0..<Int.random(in: 0...3, using: &rng)).map { _ in (text(), text()) }, uniquingKeysWith: { a, _ in a }),
            price: prices.randomElement(using: &rng)!, paid: Bool.random(using: &rng))
    }
}
