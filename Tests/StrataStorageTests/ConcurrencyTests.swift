import StrataTestSupport
import Synchronization
import Testing

@_spi(StrataInternals) @testable import StrataStorage

@Suite struct ConcurrencyTests {
    /// Many tasks append batches of different sizes at once: sequences are dense, each batch occupies
    /// consecutive sequences in its own order, and every acknowledged batch reads back.
    @Test func concurrentAppendersNeverInterleaveBatches() async throws {
        let fs = SimulatedFileSystem()
        fs.setSyncDelay(microseconds: 300)
        let store = try openSimulated(fs, segmentBytes: 16_384)
        let results = try await withThrowingTaskGroup(of: [(ClosedRange<UInt64>, [EventRecord])].self) { group in
            for worker in 0..<32 {
                group.addTask {
                    var acked: [(ClosedRange<UInt64>, [EventRecord])] = []
                    var version: UInt64 = 0
                    for n in 0..<20 {
                        let batch = sampleBatch(stream: worker, after: version, count: 1 + (worker + n) % 5)
                        version += UInt64(batch.count)
                        acked.append((try await store.append(batch), batch))
                    }
                    return acked
                }
            }
            var all: [(ClosedRange<UInt64>, [EventRecord])] = []
            for try await acked in group { all += acked }
            return all
        }
        let total = results.reduce(0) { $0 + $1.1.count }
        #expect(store.lastSequence == UInt64(total))
        try verifyRecovered(store, acknowledged: results, candidates: [], context: "concurrent")
        // Group commit: with a slow sync, concurrent appends share fdatasync calls.
        let stats = store.statistics
        #expect(stats.frames == 640)
        #expect(stats.syncs < stats.frames)
        try await store.close()
    }

    /// A reader running beside the writers only ever sees whole batches: each read ends at a batch boundary.
    @Test func readersNeverSeePartOfABatch() async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, durability: .never, segmentBytes: 8_192)
        let done = Atomic<Bool>(false)
        async let reading: Int = {
            let reader = store.makeReader()
            var seen = 0
            var violations = 0
            while true {
                let finished = done.load(ordering: .acquiring)
                var last: RecordView?
                var lastVersion: UInt64 = 0
                var lastStream = ""
                let n = try reader.read { record in
                    last = record
                    lastVersion = record.version
                    lastStream = record.id
                }
                seen += n
                // Batches are 4 records with versions 4k+1...4k+4: a read must end on a multiple of 4.
                if n > 0, last != nil, lastVersion % 4 != 0 {
                    violations += 1
                    Issue.record("read ended inside a batch of \(lastStream) at version \(lastVersion)")
                }
                if finished && n == 0 { break }
                await Task.yield()
            }
            #expect(violations == 0)
            return seen
        }()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for n in 0..<50 {
                        try await store.append(sampleBatch(stream: worker, after: UInt64(n * 4), count: 4))
                    }
                }
            }
            try await group.waitForAll()
        }
        done.store(true, ordering: .releasing)
        let seen = try await reading
        #expect(seen == 8 * 50 * 4)
        try await store.close()
    }
}
