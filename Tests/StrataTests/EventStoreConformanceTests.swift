import Foundation
import Strata
import StrataTestSupport
import Testing

/// The backends every test of the suite runs on. A new backend (SQLite, PostgreSQL) adds a case here and must
/// pass every test unchanged.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case native, memory

    var testDescription: String { rawValue }

    /// Runs `body` on a fresh, empty store of this backend, then closes it.
    func withStore(_ body: (any EventStoreUnderTest) async throws -> Void) async throws {
        switch self {
        case .native:
            let folder = NSTemporaryDirectory() + "strata-conformance-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let store = try NativeEventStore(path: folder, options: LogStore.Options(segmentBytesTarget: 16 << 10))
            try await body(store)
            try await store.close()
        case .memory:
            let store = InMemoryEventStore()
            try await body(store)
            store.close()
        }
    }
}

/// The stores under test have positions that are global sequences; the suite is written once against this.
protocol EventStoreUnderTest: EventStore where Position == UInt64 {}
extension NativeEventStore: EventStoreUnderTest {}
extension InMemoryEventStore: EventStoreUnderTest {}

func key(_ id: String, tenant: String = "acme") -> PartitionKey { PartitionKey(tenant: tenant, group: "Cart", id: id) }

func event(_ key: PartitionKey, _ n: Int, type: String = "ItemAdded") -> EventRecord {
    EventRecord(
        key: key, version: 0, typeName: type, typeVersion: 1, timestampMicros: 1_795_000_000_000_000 + Int64(n),
        eventId: .random(), metadata: RecordMetadata(correlationId: "c\(n)", causationId: nil, user: "u"),
        payload: Array(#"{"n":\#(n)}"#.utf8))
}

@Suite struct EventStoreConformanceTests {
    @Test(arguments: Backend.allCases) func appendedEventsReadBackWithVersionsAndPositions(_ backend: Backend) async throws {
        try await backend.withStore { store in
            let a = key("a"), b = key("b")
            let first = try await store.append([event(a, 1), event(a, 2), event(b, 3)])
            #expect(first.first == 1 && first.last == 3)
            #expect(first.versions == [a: 2, b: 1])
            let second = try await store.append([event(b, 4)])
            #expect(second.first == 4 && second.versions == [b: 2])
            #expect(try await store.version(of: a) == 2)
            #expect(try await store.version(of: b) == 2)
            #expect(try await store.version(of: key("none")) == 0)
            let records = try await store.streamRecords(b)
            #expect(records.map(\.sequence) == [3, 4] && records.map(\.record.version) == [1, 2])
            #expect(records.map(\.record.payload) == [Array(#"{"n":3}"#.utf8), Array(#"{"n":4}"#.utf8)])
            #expect(records[0].record.metadata == RecordMetadata(correlationId: "c3", causationId: nil, user: "u"))
            var all: [(UInt64, String)] = []
            let last = try await store.readAll(after: nil, limit: .max) { record, position in all.append((position, record.id)) }
            #expect(all.map(\.0) == [1, 2, 3, 4] && all.map(\.1) == ["a", "a", "b", "b"] && last == 4)
        }
    }

    @Test(arguments: Backend.allCases) func expectedVersionsAreCheckedAndAFailedCheckAppendsNothing(_ backend: Backend) async throws {
        try await backend.withStore { store in
            let a = key("a"), b = key("b")
            try await store.append([event(a, 1)], expecting: [a: .noStream])
            await #expect(throws: EventStoreError.versionConflict(stream: a, expected: .noStream, actual: 1)) {
                try await store.append([event(a, 2)], expecting: [a: .noStream])
            }
            await #expect(throws: EventStoreError.versionConflict(stream: a, expected: .exactly(0), actual: 1)) {
                try await store.append([event(a, 2)], expecting: [a: .exactly(0)])
            }
            try await store.append([event(a, 2)], expecting: [a: .exactly(1)])
            try await store.append([event(a, 3)], expecting: [a: .any])
            // A batch over two streams fails whole when one check fails, including a check-only expectation.
            await #expect(throws: EventStoreError.self) {
                try await store.append([event(a, 4), event(b, 5)], expecting: [a: .exactly(3), b: .exactly(7)])
            }
            await #expect(throws: EventStoreError.self) {
                try await store.append([event(b, 5)], expecting: [a: .exactly(2)])
            }
            #expect(try await store.version(of: a) == 3)
            #expect(try await store.version(of: b) == 0)
            var count = 0
            _ = try await store.readAll(after: nil, limit: .max) { _, _ in count += 1 }
            #expect(count == 3, "nothing of a failed batch is visible")
            try await store.append([event(b, 5)], expecting: [a: .exactly(3), b: .noStream])
            #expect(try await store.version(of: b) == 1)
        }
    }

    @Test(arguments: Backend.allCases) func invalidKeysAndEventsAreRefusedWholeBatches(_ backend: Backend) async throws {
        try await backend.withStore { store in
            let good = key("a")
            await #expect(throws: EventStoreError.self) {
                try await store.append([event(good, 1), event(PartitionKey(tenant: "bad tenant", group: "Cart", id: "x"), 2)])
            }
            var huge = event(good, 3)
            huge.payload = [UInt8](repeating: 0x20, count: Limits.payloadBytesMax + 1)
            await #expect(throws: EventStoreError.self) { try await store.append([event(good, 2), huge]) }
            await #expect(throws: EventStoreError.self) { try await store.append([]) }
            let version = try await store.version(of: good)
            #expect(version == 0)
        }
    }

    @Test(arguments: Backend.allCases) func streamReadsHonourRangesLimitsAndAsOf(_ backend: Backend) async throws {
        try await backend.withStore { store in
            let a = key("a"), b = key("b")
            var positions: [UInt64] = []
            for n in 1...10 {
                let receipt = try await store.append([event(a, n), event(b, 100 + n)])
                positions.append(receipt.first)
            }
            func versions(from: UInt64 = 1, through: UInt64 = .max, asOf: UInt64? = nil, limit: Int = .max) async throws -> [UInt64] {
                try await store.streamRecords(a, from: from, through: through, asOf: asOf, limit: limit).map(\.record.version)
            }
            #expect(try await versions() == Array(1...10))
            #expect(try await versions(from: 4, through: 6) == [4, 5, 6])
            #expect(try await versions(from: 8, limit: 2) == [8, 9])
            #expect(try await versions(from: 11) == [])
            #expect(try await versions(asOf: positions[4]) == [1, 2, 3, 4, 5], "as of the 5th append")
            #expect(try await versions(asOf: positions[4] - 1) == [1, 2, 3, 4])
            #expect(try await versions(from: 3, asOf: positions[1]) == [])
            // Global reads page by position.
            var seen: [UInt64] = []
            var after: UInt64?
            while let last = try await store.readAll(after: after, limit: 3, { _, position in seen.append(position) }) {
                after = last
            }
            #expect(seen == Array(1...20))
        }
    }

    /// 16 writers race on 4 streams with exact expectations, retrying on conflicts: no version is written twice
    /// and every append lands exactly once.
    /// Global reads in batches from interleaved positions (the native store keeps the reader a batch left, for the
    /// next batch from there), and after a read whose body threw midway: every read delivers exactly the events
    /// after its position.
    @Test(arguments: Backend.allCases) func globalReadsInBatchesResumeExactlyWhereAsked(_ backend: Backend) async throws {
        try await backend.withStore { store in
            for n in 1...120 { try await store.append([event(key("s\(n % 9)"), n)]) }
            func read(after position: UInt64?, limit: Int) async throws -> [UInt64] {
                var seen: [UInt64] = []
                try await store.readAll(after: position, limit: limit) { _, at in seen.append(at) }
                return seen
            }
            #expect(try await read(after: nil, limit: 10) == Array(1...10))
            #expect(try await read(after: 50, limit: 10) == Array(51...60))
            #expect(try await read(after: 10, limit: 10) == Array(11...20))
            #expect(try await read(after: 60, limit: 100) == Array(61...120))
            #expect(try await read(after: 20, limit: 5) == Array(21...25))
            struct Stop: Error {}
            var delivered: [UInt64] = []
            await #expect(throws: Stop.self) {
                try await store.readAll(after: 25, limit: 10) { _, at in
                    if at == 28 { throw Stop() }
                    delivered.append(at)
                }
            }
            #expect(delivered == [26, 27])
            #expect(try await read(after: 27, limit: 3) == [28, 29, 30])
            #expect(try await read(after: 25, limit: 3) == [26, 27, 28])
            #expect(try await read(after: 120, limit: 3) == [])
        }
    }

    @Test(arguments: Backend.allCases) func concurrentWritersNeverWriteAVersionTwice(_ backend: Backend) async throws {
        try await backend.withStore { store in
            let streams = (0..<4).map { key("s\($0)") }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<16 {
                    group.addTask {
                        for n in 0..<25 {
                            let stream = streams[(writer + n) % streams.count]
                            while true {
                                let version = try await store.version(of: stream)
                                do {
                                    try await store.append([event(stream, writer * 1_000 + n)], expecting: [stream: .exactly(version)])
                                    break
                                } catch EventStoreError.versionConflict {
                                    continue
                                }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            var total = 0
            for stream in streams {
                let records = try await store.streamRecords(stream)
                #expect(records.map(\.record.version) == Array(1...UInt64(records.count)))
                total += records.count
            }
            #expect(total == 16 * 25)
            let payloads = Set(try await streams.asyncFlatMap { try await store.streamRecords($0) }.map(\.record.payload))
            #expect(payloads.count == 16 * 25, "each append exactly once")
        }
    }
}

extension Sequence {
    func asyncFlatMap<T>(_ transform: (Element) async throws -> [T]) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result += try await transform(element) }
        return result
    }
}
