// Micro-benchmarks of Strata's hot paths, with malloc counts: `make bench-micro` (or, in Benchmarks/,
// `swift package benchmark`). One iteration handles one frame of 100 "carts" events (the P1 append unit,
// Benchmarks/README.md) unless the name says otherwise; divide by 100 for per-event figures.
import Benchmark
import BenchData
import Foundation
@_spi(StrataInternals) import StrataStorage
import Synchronization

/// The data every benchmark shares, built once per process from the seeded carts generator.
struct Frames {
    let records: [EventRecord]
    let versions: [UInt64]
    let rawBody: [UInt8]
    let lz4Body: [UInt8]
    let zlibBody: [UInt8]
    let rawFrame: [UInt8]
    let lz4Frame: [UInt8]
    let zlibFrame: [UInt8]

    init() throws {
        var data = CartsData(streamCount: 10_000)
        records = data.batch(count: 100)
        versions = records.map(\.version)
        rawBody = try FrameCoding.encodeBody(records, versions: versions)
        lz4Body = FrameCoding.compress(rawBody, with: .lz4).1
        zlibBody = FrameCoding.compress(rawBody, with: .zlib(level: 6)).1
        rawFrame = try FrameCoding.encodeFrame(records, baseSequence: 1, compression: .none)
        lz4Frame = try FrameCoding.encodeFrame(records, baseSequence: 1, compression: .lz4)
        zlibFrame = try FrameCoding.encodeFrame(records, baseSequence: 1, compression: .zlib(level: 6))
    }
}

/// A store of 100,000 streams of 10 carts events each, closed and reopened (its index on disk, as after any
/// restart), for index lookups and stream reads. Built by the setup hook of the benchmarks that use it.
final class StoreFixture: Sendable {
    static let shared = Mutex<StoreFixture?>(nil)
    let directory: String
    let store: LogStore
    let keys: [PartitionKey]

    static func make() async throws -> StoreFixture {
        if let existing = shared.withLock({ $0 }) { return existing }
        let directory = NSTemporaryDirectory() + "strata-micro-\(getpid())"
        try? FileManager.default.removeItem(atPath: directory)
        var data = CartsData(streamCount: 100_000, seed: 11)
        let writer = try LogStore.open(at: directory, options: LogStore.Options(durability: .never))
        for stream in 0..<data.streams.count {
            try await writer.append((0..<10).map { _ in data.event(stream: stream) })
        }
        try await writer.close()
        let fixture = StoreFixture(
            directory: directory, store: try LogStore.open(at: directory, options: LogStore.Options(createIfMissing: false)),
            keys: data.streams)
        shared.withLock { $0 = fixture }
        return fixture
    }

    private init(directory: String, store: LogStore, keys: [PartitionKey]) {
        self.directory = directory
        self.store = store
        self.keys = keys
    }

    static func tearDown() async throws {
        guard let fixture = shared.withLock({ value in defer { value = nil }; return value }) else { return }
        try await fixture.store.close()
        try? FileManager.default.removeItem(atPath: fixture.directory)
    }
}

/// An empty store without fdatasync and 64 carts batches to append to it, for the commit-path benchmark.
final class AppendFixture: Sendable {
    static let shared = Mutex<AppendFixture?>(nil)
    let directory: String
    let store: LogStore
    let batches: [[EventRecord]]

    static func make() async throws {
        let directory = NSTemporaryDirectory() + "strata-micro-append-\(getpid())"
        try? FileManager.default.removeItem(atPath: directory)
        var data = CartsData(streamCount: 10_000, seed: 9)
        let fixture = AppendFixture(
            directory: directory, store: try LogStore.open(at: directory, options: LogStore.Options(durability: .never)),
            batches: (0..<64).map { _ in data.batch(count: 100) })
        shared.withLock { $0 = fixture }
    }

    private init(directory: String, store: LogStore, batches: [[EventRecord]]) {
        self.directory = directory
        self.store = store
        self.batches = batches
    }

    static func tearDown() async throws {
        guard let fixture = shared.withLock({ value in defer { value = nil }; return value }) else { return }
        try await fixture.store.close()
        try? FileManager.default.removeItem(atPath: fixture.directory)
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 10,
        maxDuration: .seconds(2),
        maxIterations: 100_000)

    let frames: Frames
    do { frames = try Frames() } catch { fatalError("benchmark data: \(error)") }

    Benchmark("CRC32C 64 KiB") { benchmark in
        let bytes = [UInt8](repeating: 0x5A, count: 64 << 10)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(bytes.withUnsafeBytes { CRC32C.checksum($0) })
        }
    }

    Benchmark("Record encode, 100 events (validate + raw body)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! FrameCoding.encodeBody(frames.records, versions: frames.versions))
        }
    }

    Benchmark("Frame encode, 100 events, LZ4 (records + compress + header + CRC32C)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! FrameCoding.encodeFrame(frames.records, baseSequence: 1, compression: .lz4))
        }
    }

    Benchmark("LZ4 compress one frame body") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(FrameCoding.compress(frames.rawBody, with: .lz4))
        }
    }

    Benchmark("zlib-6 compress one frame body") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(FrameCoding.compress(frames.rawBody, with: .zlib(level: 6)))
        }
    }

    for (name, codec, stored) in [("LZ4", FrameCodec.lz4, frames.lz4Body), ("zlib", .zlib, frames.zlibBody)] {
        Benchmark("\(name) decompress one frame body") { benchmark in
            let output = UnsafeMutableRawBufferPointer.allocate(byteCount: frames.rawBody.count, alignment: 16)
            defer { output.deallocate() }
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                stored.withUnsafeBytes { try! FrameCoding.decompress(codec, $0, into: output) }
                blackHole(output[0])
            }
        }
    }

    Benchmark("Frame validate, LZ4 frame (lengths + CRC32C)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(frames.lz4Frame.withUnsafeBytes { try! FrameCoding.validate($0) })
        }
    }

    for (name, frame) in [("uncompressed", frames.rawFrame), ("LZ4", frames.lz4Frame), ("zlib", frames.zlibFrame)] {
        Benchmark("Frame decode, 100 events, \(name) (validate + decompress + record decode)") { benchmark in
            let walker = FrameCoding.RecordWalker()
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                var bytes = 0
                frame.withUnsafeBytes { frame in
                    let header = try! FrameCoding.validate(frame)
                    try! walker.forEachRecord(in: frame, header: header) { bytes &+= $0.payload.count }
                }
                blackHole(bytes)
            }
        }
    }

    Benchmark(
        "Append 100 events, no fdatasync (the store's whole commit path)",
        closure: { (benchmark: Benchmark) async in
            let fixture = AppendFixture.shared.withLock { $0 }!
            benchmark.startMeasurement()
            for i in benchmark.scaledIterations {
                try! await fixture.store.append(fixture.batches[i % fixture.batches.count])
            }
        },
        setup: { try await AppendFixture.make() },
        teardown: { try await AppendFixture.tearDown() })

    Benchmark("Record materialize, 100 events (owned EventRecords)") { benchmark in
        let walker = FrameCoding.RecordWalker()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            frames.rawFrame.withUnsafeBytes { frame in
                let header = try! FrameCoding.validate(frame)
                try! walker.forEachRecord(in: frame, header: header) { blackHole($0.materialize()) }
            }
        }
    }

    Benchmark(
        "Index lookup, stream version (100k streams, index on disk), x1000",
        configuration: .init(scalingFactor: .kilo),
        closure: { benchmark in
            let fixture = StoreFixture.shared.withLock { $0 }!
            var rng = SplitMix64(seed: 5)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                let key = fixture.keys[Int(rng.next() % UInt64(fixture.keys.count))]
                blackHole(try! fixture.store.streamVersion(key))
            }
        },
        setup: { _ = try await StoreFixture.make() },
        teardown: { try await StoreFixture.tearDown() })

    Benchmark(
        "Stream read, 10 events (index lookup + frame read + decode)",
        closure: { benchmark in
            let fixture = StoreFixture.shared.withLock { $0 }!
            var rng = SplitMix64(seed: 6)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                let key = fixture.keys[Int(rng.next() % UInt64(fixture.keys.count))]
                var bytes = 0
                blackHole(try! fixture.store.readStream(key) { bytes &+= $0.payload.count })
                blackHole(bytes)
            }
        },
        setup: { _ = try await StoreFixture.make() },
        teardown: { try await StoreFixture.tearDown() })
}
