import Foundation
import Testing

@testable import StrataHTTP

/// The probe that gives command bodies their schema and strict decoding.
@Suite struct BodyShapeTests {
    enum Colour: String, Codable, CaseIterable { case red, green }
    enum Either: Codable { case left(Int), right(String) }
    struct Line: Codable {
        var product: String
        var quantity: Int
    }
    struct Order: Codable {
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

    @Test func unknownMembersAreNamedWithTheirPathAtAnyDepth() throws {
        let shape = BodyShape.of(Order.self)
        let json = try JSONSerialization.jsonObject(with: Data(#"{"lines":[{"product":"p","quantity":1,"colour":"x"}],"tags":{"any":"key"}}"#.utf8))
        #expect(shape.unknownMember(in: json) == "$.lines[0].colour")
        let fine = try JSONSerialization.jsonObject(with: Data(#"{"lines":[{"product":"p"}],"tags":{"any":"key"}}"#.utf8))
        #expect(shape.unknownMember(in: fine) == nil, "missing members are the decoder's to report; a dictionary takes any key")
    }

    @Test func aTypeTheProbeCannotWalkIsAnyJSON() {
        guard case .any = BodyShape.of(Odd.self) else { Issue.record("an enum with associated values has a shape"); return }
    }
}
