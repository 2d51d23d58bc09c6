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
        #expect(reason("t", "g", "a\nb") == "id: holds the control character U+000A")
        #expect(reason("t", "g", "a\u{85}b") == "id: holds the control character U+0085")
        #expect(reason("t", "g", " padded") == "id: starts or ends with a space")
    }

    /// A rejected value with a newline, a NUL or a bidi override never breaks the message into lines or hides part of
    /// it: every invisible code point shows as U+XXXX, and the value is quoted with its own quotes escaped.
    @Test func messagesQuoteAndEscapeWhatTheyWereGiven() throws {
        do throws(PartitionKeyError) {
            _ = try PartitionKey.validated(tenant: "t", group: "g", id: "evil\nid\u{0}\u{7}\u{202E}gnp.exe \"x\"")
            Issue.record("accepted")
        } catch {
            let message = error.description
            #expect(!message.contains("\n") && !message.contains("\u{0}") && !message.contains("\u{202E}"), "\(message)")
            #expect(message == #"invalid id "evilU+000AidU+0000U+0007U+202Egnp.exe \"x\"": holds the control character U+000A"#, "\(message)")
        }
        #expect(escapedForMessage("café ✓ 日本") == "café ✓ 日本")
        #expect(escapedForMessage("a\u{200B}b\u{2028}c\u{E000}") == "aU+200BbU+2028cU+E000")
        let key = PartitionKey(tenant: "t\u{1B}[31m", group: "g", id: "line\nbreak")
        #expect(key.description == "tU+001B[31m/g/lineU+000Abreak")
        #expect("\(EventStoreError.versionConflict(stream: key, expected: .exactly(1), actual: 2))".contains("lineU+000Abreak"))
    }
}
