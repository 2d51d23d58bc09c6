import Strata
import Testing

@Suite struct PartitionKeyRulesTests {
    @Test func namesAreShortAsciiAndIdsArePrintableText() throws {
        #expect(throws: Never.self) { try PartitionKey.validated(tenant: "acme-eu_1.prod", group: "Cart", id: "user@example.com/2026") }
        #expect(throws: Never.self) { try PartitionKey.validated(tenant: "t", group: "g", id: "ünïcode ✓ id") }
        func reason(_ tenant: String, _ group: String, _ id: String) -> String? {
            do throws(PartitionKeyError) {
                _ = try PartitionKey.validated(tenant: tenant, group: group, id: id)
                return nil
            } catch { return "\(error.part): \(error.reason)" }
        }
        #expect(reason("", "g", "i") == "tenant: empty")
        #expect(reason("a b", "g", "i") == #"tenant: only ASCII letters, digits, "-", "_" and "." are allowed"#)
        #expect(reason("t", ".hidden", "i") == #"group: starts with ".""#)
        #expect(reason("t", "Grüppe", "i") == #"group: only ASCII letters, digits, "-", "_" and "." are allowed"#)
        #expect(reason(String(repeating: "x", count: 65), "g", "i") == "tenant: 65 bytes; at most 64")
        #expect(reason("t", "g", "") == "id: empty")
        #expect(reason("t", "g", String(repeating: "é", count: 65)) == "id: 130 bytes; at most 128")
        #expect(reason("t", "g", "a\nb") == "id: holds the control character U+A")
        #expect(reason("t", "g", "a\u{85}b") == "id: holds the control character U+85")
        #expect(reason("t", "g", " padded") == "id: starts or ends with a space")
    }
}
