import CustomDump
import IssueReporting
import Strata

/// Where in a test an expectation was written (so that a failure points at the `then…` line).
public struct TestLocation: Sendable {
    public var fileID: StaticString
    public var filePath: StaticString
    public var line: UInt
    public var column: UInt

    public init(fileID: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column) {
        self.fileID = fileID
        self.filePath = filePath
        self.line = line
        self.column = column
    }
}

/// Where failed expectations go. By default, to the test framework running the test — Swift Testing or XCTest
/// (through swift-issue-reporting): the test fails at the `then…` line with the message. Tests of test helpers
/// collect the messages instead (`collecting`).
public struct TestReporter: Sendable {
    let report: @Sendable (String, TestLocation) -> Void

    public init(_ report: @escaping @Sendable (String, TestLocation) -> Void) { self.report = report }

    /// Fails the running test (Swift Testing or XCTest) with the message.
    public static let testFramework = TestReporter { message, location in
        reportIssue(message, fileID: location.fileID, filePath: location.filePath, line: location.line, column: location.column)
    }
}

/// A stored event the test could not decode as the expected event's type: its type name and payload text.
struct UndecodedEvent {
    var typeName: String
    var typeVersion: UInt32
    var payload: String
}

/// The events `records` hold, compared with `expected`: nil when they are the same events (type, schema version and
/// value — by `==` when the event type is `Equatable`, else by its encoding), else a message with a diff.
func compareEvents(_ expected: [any Event], _ records: [RecordedEvent<UInt64>], codec: any EventCodec) -> String? {
    var same = expected.count == records.count
    var shownActual: [Any] = []
    for (i, record) in records.enumerated() {
        let guide = i < expected.count ? expected[i] : nil
        let (decoded, equal) = guide.map { decode(record, as: $0, codec: codec) } ?? (nil, false)
        if !equal { same = false }
        shownActual.append(decoded ?? UndecodedEvent(
            typeName: record.record.typeName, typeVersion: record.record.typeVersion,
            payload: String(decoding: record.record.payload, as: UTF8.self)))
    }
    let shownExpected: [Any] = expected
    guard !same else { return nil }
    let difference = diff(shownExpected, shownActual) ?? "(no difference in how they print)"
    return """
        the command produced other events than expected (- expected, + actual):
        \(difference)
        """
}

/// `record` decoded as `guide`'s type (when the type names and schema versions match), and whether it equals `guide`.
private func decode<E: Event>(_ record: RecordedEvent<UInt64>, as guide: E, codec: any EventCodec) -> (Any?, Bool) {
    guard let actual = try? record.decode(as: E.self, codec: codec) else { return (nil, false) }
    if let equatable = guide as? any Equatable {
        return (actual, isEqual(equatable, actual))
    }
    // Not Equatable: equal when both encode to the same bytes.
    let encodedGuide = try? codec.encode(guide)
    return (actual, encodedGuide != nil && encodedGuide == (try? codec.encode(actual)))
}

private func isEqual<T: Equatable>(_ a: T, _ b: Any) -> Bool { (b as? T) == a }

/// "expected … actual …" for two values, as a diff when they print differently.
func describeDifference<T>(_ what: String, expected: T, actual: T) -> String {
    if let difference = diff(expected, actual) {
        return "\(what) is not what was expected (- expected, + actual):\n\(difference)"
    }
    return "\(what) is not what was expected, though both print as:\n\(String(customDumping: actual))"
}

/// The error a command threw, as tests see it: the domain error itself when the handler threw it.
func unwrapped(_ error: any Error) -> any Error {
    if case CommandError.rejected(_, let inner) = error { return inner }
    return error
}
