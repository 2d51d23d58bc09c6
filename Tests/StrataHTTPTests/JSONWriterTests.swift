import Foundation
import NIOCore
import PropertyBased
import StrataStorage
import Testing

@testable import StrataHTTP

/// The writer of the responses' JSON.
@Suite struct JSONWriterTests {
    /// Any text — quotes, backslashes, every control character, characters beyond ASCII — is written as a JSON
    /// string that reads back as the same text, escaped as `JSONEncoder` escapes it.
    @Test func stringsReadBackAsTheSameText() async throws {
        let pieces = ["a", "\"", "\\", "/", "\n", "\r", "\t", "\u{08}", "\u{0C}", "\u{00}", "\u{1F}", "\u{7F}", "é", "東", "🛒", "plain words"]
        await propertyCheck(count: 300, input: Gen.int(in: 0...(pieces.count - 1)).array(of: 0...24)) { indices in
            let text = indices.map { pieces[$0] }.joined()
            var writer = JSONWriter(capacity: 4)
            writer.array([text]) { writer, text in writer.string(text) }
            let bytes = Data(buffer: writer.buffer)
            #expect((try? JSONSerialization.jsonObject(with: bytes)) as? [String] == [text])
            let isValid = bytes.withUnsafeBytes { JSONSyntax.isValidDocument($0) }
            #expect(isValid, "strict RFC 8259")
            #expect(!bytes.contains(0x0A) && !bytes.contains(0x0D), "one line (a Server-Sent Events data field)")
        }
    }
}
