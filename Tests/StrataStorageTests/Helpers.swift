import Foundation
import StrataTestSupport
import Testing

@_spi(StrataInternals) @testable import StrataStorage

/// Deterministic records: stream `s<stream>` of tenant `t<stream % 3>`, payload derived from the sequence of
/// calls so every record is distinct.
func sampleRecord(stream: Int, version: UInt64, payloadBytes: Int = 40, salt: UInt64 = 0) -> EventRecord {
    var rng = SplitMix64(seed: UInt64(stream) &* 1_000_003 &+ version &+ salt)
    let words = ["coffee", "orange", "tea", "milk", "bread", "jam"]
    var payload = #"{"item":"\#(words[Int(rng.next() % 6)])","n":\#(version),"s":\#(stream)"#
    while payload.utf8.count < payloadBytes - 1 { payload += " " }
    payload += "}"
    return EventRecord(
        key: PartitionKey(tenant: "t\(stream % 3)", group: "Cart", id: "s\(stream)"), 
        typeName: version % 2 == 0 ? "ItemAdded" : "ItemRemoved", typeVersion: UInt32(1 + version % 2),
        timestampMicros: 1_700_000_000_000_000 + Int64(version), eventId: EventID.random(using: &rng),
        metadata: RecordMetadata(
            correlationId: version % 3 == 0 ? "corr-\(stream)" : nil, causationId: version % 5 == 0 ? "cause" : nil,
            user: version % 2 == 0 ? "alice" : nil),
        payload: Array(payload.utf8))
}

/// A batch of `count` records for `stream`, versions after `after`.
func sampleBatch(stream: Int, after: UInt64, count: Int, payloadBytes: Int = 40) -> [EventRecord] {
    (0..<count).map { sampleRecord(stream: stream, version: after + UInt64($0) + 1, payloadBytes: payloadBytes) }
}

/// A fresh directory under the system temporary directory, removed when the returned object is released.
final class TemporaryDirectory {
    let path: String

    init(_ name: String = "strata-test") {
        path = NSTemporaryDirectory() + "\(name)-\(UUID().uuidString)"
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }
}

func simulatedOptions(
    _ fs: SimulatedFileSystem, durability: LogStore.Durability = .always, segmentBytes: Int = 64 << 20,
    compression: Compression = .lz4
) -> LogStore.Options {
    LogStore.Options(
        durability: durability, compression: compression, segmentBytesTarget: segmentBytes, fileSystem: fs, observability: .silent)
}

let simulatedStorePath = "/store"

func openSimulated(
    _ fs: SimulatedFileSystem, durability: LogStore.Durability = .always, segmentBytes: Int = 64 << 20,
    compression: Compression = .lz4
) throws -> LogStore {
    if !fs.directoryExists(simulatedStorePath) { try fs.createDirectory(simulatedStorePath) }
    return try LogStore.open(
        at: simulatedStorePath,
        options: simulatedOptions(fs, durability: durability, segmentBytes: segmentBytes, compression: compression))
}

/// Asserts that `error` is `StorageError.corrupt` of `kind`, naming a file containing `fileContains`.
func expectCorrupt(
    _ error: any Error, _ kind: Corruption.Kind, fileContains: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    guard case StorageError.corrupt(let corruption) = error else {
        Issue.record("expected a corruption error, got \(error)", sourceLocation: sourceLocation)
        return
    }
    #expect(corruption.kind == kind, "\(corruption)", sourceLocation: sourceLocation)
    #expect(corruption.file.contains(fileContains), "\(corruption)", sourceLocation: sourceLocation)
}

func segmentPaths(_ fs: SimulatedFileSystem) -> [String] {
    fs.files.filter { $0.hasSuffix(".segment") }
}
