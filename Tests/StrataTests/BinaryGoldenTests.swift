import Foundation
import Strata
import Testing

/// Every kind of value the binary codec writes, including a field longer than 127 bytes (a two-byte length), an
/// explicit nil field and an optional inside an array.
struct GoldenPayload: Codable, Equatable {
    struct Line: Codable, Equatable {
        var sku: String
        var quantity: Int
    }
    enum Status: Codable, Equatable {
        case open
        case paid(amount: Int64, by: String)
    }

    var name: String
    var count: Int
    var negative: Int32
    var unsigned: UInt16
    var ratio: Double
    var single: Float
    var flag: Bool
    var absent: String?
    var present: String?
    var lines: [Line]
    var maybe: [Int?]
    var scores: [String: Int]
    var status: Status
    var long: String
    var explicitNil: Int?

    enum CodingKeys: String, CodingKey {
        case name, count, negative, unsigned, ratio, single, flag, absent, present, lines, maybe, scores, status, long, explicitNil
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(count, forKey: .count)
        try c.encode(negative, forKey: .negative)
        try c.encode(unsigned, forKey: .unsigned)
        try c.encode(ratio, forKey: .ratio)
        try c.encode(single, forKey: .single)
        try c.encode(flag, forKey: .flag)
        try c.encodeIfPresent(absent, forKey: .absent)
        try c.encodeIfPresent(present, forKey: .present)
        try c.encode(lines, forKey: .lines)
        try c.encode(maybe, forKey: .maybe)
        try c.encode(scores, forKey: .scores)
        try c.encode(status, forKey: .status)
        try c.encode(long, forKey: .long)
        try c.encodeNil(forKey: .explicitNil)
    }

    static let sample = GoldenPayload(
        name: "café", count: -300, negative: -2, unsigned: 65_535, ratio: 2.5, single: -0.25, flag: true, absent: nil,
        present: "yes", lines: [Line(sku: "A-1", quantity: 2), Line(sku: "B-2", quantity: 1)], maybe: [1, nil, 3],
        scores: ["k": 7], status: .paid(amount: 1_000_000_000_000, by: "card"), long: String(repeating: "x", count: 130),
        explicitNil: nil)
}

@Suite struct BinaryGoldenTests {
    /// The bytes of `GoldenPayload.sample`, as the binary codec has written them since it exists: a change of
    /// the encoder must not change them (old stores hold such payloads), and they must decode to the sample.
    static let golden = """
        b10e000000046e616d65010605636166c3a905636f756e740102d704086e6567617469766501010308756e7369676e656401\
        03ffff0305726174696f010800000000000004400673696e676c650104000080be04666c61670101010770726573656e7401\
        0403796573056c696e65730138020000000200000003736b75010403412d31087175616e746974790101040200000003736b\
        75010403422d32087175616e74697479010102056d6179626501090300000001020001060673636f72657301090100000001\
        6b01010e067374617475730128010000000470616964011d0200000006616d6f756e74010680c0a8ca9a3a02627901050463\
        617264046c6f6e67018401820178787878787878787878787878787878787878787878787878787878787878787878787878\
        7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878\
        787878787878787878787878787878787878787878787878787878787878787878787878787878787878780b6578706c6963\
        69744e696c00
        """

    @Test func theEncodingIsStable() throws {
        let bytes = try BinaryEventCodec().encode(GoldenPayload.sample)
        #expect(bytes.map { String(format: "%02x", $0) }.joined() == Self.golden)
        let decoded = try Array(hex: Self.golden).withUnsafeBytes { try BinaryEventCodec().decode(GoldenPayload.self, from: $0) }
        #expect(decoded == GoldenPayload.sample)
    }
}

extension Array where Element == UInt8 {
    init(hex: String) {
        var bytes: [UInt8] = []
        var digits = hex.utf8.makeIterator()
        while let high = digits.next(), let low = digits.next() {
            bytes.append(UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)!)
        }
        self = bytes
    }
}

/// A recursive value: each link is a value (a level for both codecs) and a nested container (a level in JSON).
indirect enum Chain: Codable, Equatable {
    case end
    case link(Chain)

    init(length: Int) { self = (0..<length).reduce(Chain.end) { chain, _ in .link(chain) } }
}

@Suite struct EncodingDepthTests {
    /// What the encoders write, the decoders read: a value nested deeper than the decoders accept is refused when
    /// it is encoded, not discovered when the event is read back.
    @Test(arguments: [JSONEventCodec() as any EventCodec, BinaryEventCodec()])
    func valuesTooDeepForTheDecodersAreRefusedWhenEncoded(codec: any EventCodec) throws {
        // JSON: two levels per link (128 links fill the 256), binary: one (256 links).
        let most = codec is JSONEventCodec ? 127 : 255
        let deep = Chain(length: most)
        let bytes = try codec.encode(deep)
        #expect(try bytes.withUnsafeBytes { try codec.decode(Chain.self, from: $0) } == deep)
        #expect(throws: EncodingError.self) { try codec.encode(Chain(length: codec is JSONEventCodec ? 129 : 257)) }
    }
}
