import ArgumentParser
import StrataStorage

/// `strata demo`: creates a store, appends a few thousand events, reads them back, and says what it did.
/// (It shows the engine alone; the event-sourcing example is `make demo`, Examples/Carts.)
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a store in a fresh folder, append events, read them back, reopen it.")

    @Argument(help: "Folder for the new store (must not exist).")
    var path: String = "demo-store"

    @Option(help: "Number of events to append.")
    var events: Int = 5_000

    @Option(help: "Events per append (one atomic batch each).")
    var batch: Int = 100

    @Option(help: "Segment size target in bytes (a new segment file starts past it).")
    var segmentBytes: Int = 64 << 20

    func run() async throws {
        let fs = PosixFileSystem()
        if fs.directoryExists(path) {
            throw ValidationError("\(path) already exists; the demo wants a fresh folder")
        }
        print("Creating a store in \(path)")
        let store = try LogStore.open(at: path, options: LogStore.Options(segmentBytesTarget: max(segmentBytes, 1_024)))
        let tenants = ["acme", "globex", "initech"]
        let clock = ContinuousClock()
        let start = clock.now
        var appended = 0
        var rng = SplitMix64(seed: 42)
        while appended < events {
            let count = min(batch, events - appended)
            var records: [EventRecord] = []
            records.reserveCapacity(count)
            for _ in 0..<count {
                let tenant = tenants[Int(rng.next() % 3)]
                let cart = "cart-\(rng.next() % 50)"
                let item = ["coffee", "orange", "tea", "milk", "bread"][Int(rng.next() % 5)]
                let payload = #"{"item":"\#(item)","quantity":\#(1 + rng.next() % 3),"unitPrice":\#(100 + rng.next() % 900)}"#
                records.append(EventRecord(
                    // The store assigns each stream's next version.
                    key: PartitionKey(tenant: tenant, group: "Cart", id: cart), 
                    typeName: "ItemAdded", timestampMicros: wallClockMicros(),
                    metadata: RecordMetadata(user: "demo"), payload: Array(payload.utf8)))
            }
            let range = try await store.append(records)
            appended += count
            if appended == count || appended == events {
                print("  append of \(count) events committed as sequences \(range.lowerBound)...\(range.upperBound)")
            }
        }
        let elapsed = clock.now - start
        let stats = store.statistics
        print("Appended \(appended) events in \(stats.frames) durable batches (\(stats.syncs) fdatasync calls) in \(elapsed)")
        print("  \(stats.bytesWritten) bytes of frames written (LZ4-compressed per batch)")

        var read = 0
        var payloadBytes = 0
        var perTenant: [String: Int] = [:]
        let reader = store.makeReader()
        while try reader.read(maxRecords: 1_000, { record in
            read += 1
            payloadBytes += record.payload.count
            perTenant[record.tenant, default: 0] += 1
        }) > 0 {}
        print("Read back \(read) events (\(payloadBytes) payload bytes) in sequence order:")
        for (tenant, count) in perTenant.sorted(by: { $0.key < $1.key }) {
            print("  tenant \(tenant): \(count) events")
        }
        if let first = try store.readRecords(from: 1, limit: 1).first {
            print("  event #1: \(first.record.key) v\(first.version) \(first.record.typeName) "
                + String(decoding: first.record.payload, as: UTF8.self))
        }
        // By stream, through the partition index.
        let cart = PartitionKey(tenant: "acme", group: "Cart", id: "cart-7")
        let history = try store.readStreamRecords(cart)
        print("Stream \(cart): \(history.count) events, versions 1...\(try store.streamVersion(cart)); first three:")
        for event in history.prefix(3) {
            print("  v\(event.version) seq \(event.sequence) \(String(decoding: event.record.payload, as: UTF8.self))")
        }
        let carts = try store.listStreams(tenant: "acme", group: "Cart", limit: 1_000)
        print("Tenant acme has \(carts.count) carts; the longest is at version \(carts.map(\.version).max() ?? 0).")
        // Optimistic concurrency: an append that expects an outdated version writes nothing.
        // (A store of a few events may have no cart-7: nothing is outdated then.)
        let current = try store.streamVersion(cart)
        if current > 0 {
            let stale = current - 1
            do {
                try await store.append(
                    [EventRecord(key: cart, typeName: "CartCheckedOut", timestampMicros: wallClockMicros(), payload: Array("{}".utf8))],
                    expecting: [cart: .exactly(stale)])
            } catch {
                print("Append expecting version \(stale) was refused: \(error)")
            }
        }
        try await store.close()
        print("Closed the store (checkpoint written, index flushed).")

        let reopened = try LogStore.open(at: path)
        let report = reopened.recovery
        print("Reopened: \(reopened.lastSequence) events, used checkpoint: \(report.usedCheckpoint), "
            + "segment bytes read: \(report.bytesRead)")
        try await reopened.close()
        print("The store is in \(path): ls \(path)")
    }
}
