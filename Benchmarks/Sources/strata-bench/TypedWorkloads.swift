import ArgumentParser
import BenchData
import Foundation
import GRDB
import Strata

// The carts events of BENCHMARKS.md as typed events (the fields of BenchData's JSON payloads), and one projector
// both engines fold with.

struct BenchItemAdded: Event {
    static let eventType = "ItemAdded"
    var item: String
    var sku: String
    var quantity: Int
    var unitPrice: Int
    var currency: String
    var addedBy: String
    var channel: String
}

struct BenchItemRemoved: Event {
    static let eventType = "ItemRemoved"
    var item: String
    var sku: String
    var quantity: Int
    var reason: String
    var removedBy: String
    var channel: String
}

struct BenchCheckedOut: Event {
    static let eventType = "CartCheckedOut"
    var total: Int
    var currency: String
    var paymentMethod: String
    var items: Int
    var shippingMethod: String
    var couponCode: String?
    var channel: String
}

/// The cart's fold, over its events decoded through `Codable` (`CodableOnly` hides the events' field path).
enum BenchCart: AggregateProjector {
    struct State: Sendable, Codable {
        var lines: [String: Int] = [:]
        var total = 0
        var checkedOut = false
        var events = 0
    }

    enum Events {
        case added(BenchItemAdded)
        case removed(BenchItemRemoved)
        case checkedOut(BenchCheckedOut)
    }

    static let group = "Cart"
    static let events = EventTypes<Events>()
        .on(CodableOnly<BenchItemAdded>.self) { Events.added($0.event) }
        .on(CodableOnly<BenchItemRemoved>.self) { Events.removed($0.event) }
        .on(CodableOnly<BenchCheckedOut>.self) { Events.checkedOut($0.event) }
    static let initialState = State()

    static func apply(_ state: consuming State, _ event: Events) -> State {
        state.events += 1
        switch event {
        case .added(let e):
            state.lines[e.item, default: 0] += e.quantity
            state.total += e.quantity * e.unitPrice
        case .removed(let e):
            state.lines[e.item] = max(0, (state.lines[e.item] ?? 0) - e.quantity)
        case .checkedOut:
            state.checkedOut = true
        }
        return state
    }

    /// The same fold over JSON payloads decoded one by one (SQLite's side).
    static func apply(_ state: State, type: String, json: Data, decoder: JSONDecoder) throws -> State {
        switch type {
        case BenchItemAdded.eventType: apply(state, .added(try decoder.decode(BenchItemAdded.self, from: json)))
        case BenchItemRemoved.eventType: apply(state, .removed(try decoder.decode(BenchItemRemoved.self, from: json)))
        default: apply(state, .checkedOut(try decoder.decode(BenchCheckedOut.self, from: json)))
        }
    }
}

/// The same cart with its events read by their fields (`FieldDecodable`, Strata's fast path).
enum BenchCartFields: AggregateProjector {
    typealias State = BenchCart.State
    typealias Events = BenchCart.Events
    static let group = BenchCart.group
    static let events = EventTypes<Events>()
        .on(BenchItemAdded.self, Events.added)
        .on(BenchItemRemoved.self, Events.removed)
        .on(BenchCheckedOut.self, Events.checkedOut)
    static let initialState = State()
    static func apply(_ state: consuming State, _ event: Events) -> State { BenchCart.apply(consume state, event) }
}

/// `E` as an event decoded through `Codable` only: the same type name, version and payload, without `E`'s
/// `FieldDecodable` conformance (so `EventTypes.on` registers the `Codable` path).
struct CodableOnly<E: Event>: Event {
    static var eventType: String { E.eventType }
    static var schemaVersion: UInt32 { E.schemaVersion }
    var event: E
    init(from decoder: any Decoder) throws { event = try E(from: decoder) }
    func encode(to encoder: any Encoder) throws { try event.encode(to: encoder) }
}

extension BenchItemAdded: FieldDecodable {
    init(fields: borrowing PayloadFields) throws {
        item = try fields.decode(forKey: "item")
        sku = try fields.decode(forKey: "sku")
        quantity = try fields.decode(forKey: "quantity")
        unitPrice = try fields.decode(forKey: "unitPrice")
        currency = try fields.decode(forKey: "currency")
        addedBy = try fields.decode(forKey: "addedBy")
        channel = try fields.decode(forKey: "channel")
    }
}

extension BenchItemRemoved: FieldDecodable {
    init(fields: borrowing PayloadFields) throws {
        item = try fields.decode(forKey: "item")
        sku = try fields.decode(forKey: "sku")
        quantity = try fields.decode(forKey: "quantity")
        reason = try fields.decode(forKey: "reason")
        removedBy = try fields.decode(forKey: "removedBy")
        channel = try fields.decode(forKey: "channel")
    }
}

extension BenchCheckedOut: FieldDecodable {
    init(fields: borrowing PayloadFields) throws {
        total = try fields.decode(forKey: "total")
        currency = try fields.decode(forKey: "currency")
        paymentMethod = try fields.decode(forKey: "paymentMethod")
        items = try fields.decode(forKey: "items")
        shippingMethod = try fields.decode(forKey: "shippingMethod")
        couponCode = try fields.decodeIfPresent(forKey: "couponCode")
        channel = try fields.decode(forKey: "channel")
    }
}

/// Typed events with the carts mix (ItemAdded 70 %, ItemRemoved 25 %, CartCheckedOut 5 %), seeded.
struct TypedCarts {
    var rng: SplitMix64
    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func event() -> any Event {
        let roll = rng.next() % 100
        let product = ["coffee", "orange", "tea", "milk", "bread", "jam"][Int(rng.next() % 6)]
        let sku = "SKU-\(10_000 + rng.next() % 90_000)"
        let actor = "user-\(rng.next() % 1_000)"
        if roll < 70 {
            return BenchItemAdded(
                item: product, sku: sku, quantity: Int(1 + rng.next() % 5), unitPrice: Int(100 + rng.next() % 9_900),
                currency: "EUR", addedBy: actor, channel: "web")
        } else if roll < 95 {
            return BenchItemRemoved(
                item: product, sku: sku, quantity: Int(1 + rng.next() % 3), reason: "customer-request", removedBy: actor, channel: "web")
        }
        return BenchCheckedOut(
            total: Int(rng.next() % 1_000_000), currency: "EUR", paymentMethod: "card", items: Int(1 + rng.next() % 20),
            shippingMethod: "standard", couponCode: nil, channel: "web")
    }
}

/// P3 with typed aggregates: load a cart of 100 events and fold it — Strata with JSON and with binary payloads
/// (two stores of the same events), each decoded through `Codable` (`BenchCart`) and through the events' fields
/// (`BenchCartFields`, `FieldDecodable`); SQLite with the same JSON payloads decoded by `JSONDecoder`.
/// Random carts among 10,000 (as BENCHMARKS.md says), alternating blocks of 1,000 loads.
enum P3Typed {
    static func run(directory: String, loads: Int, report: Report) async throws {
        let carts = CartsData(streamCount: 10_000, seed: 11).streams
        var source = TypedCarts(seed: 12)
        let histories: [[any Event]] = carts.map { _ in (0..<100).map { _ in source.event() } }
        let jsonPath = fresh(directory + "/p3t-json"), binaryPath = fresh(directory + "/p3t-binary")
        let sqlitePath = directory + "/p3t-sqlite.db"
        SQLiteBaseline.remove(sqlitePath)
        let json = try NativeEventStore(path: jsonPath), binary = try NativeEventStore(path: binaryPath)
        let sqlite = try SQLiteBaseline(path: sqlitePath, sync: .normal)
        progress("P3 typed: building the stores")
        for (key, events) in zip(carts, histories) {
            let jsonRecords = try events.map { try EventRecord($0, key: key, codec: JSONEventCodec(), timestampMicros: 0) }
            try await json.append(jsonRecords)
            try await binary.append(try events.map { try EventRecord($0, key: key, codec: BinaryEventCodec(), timestampMicros: 0) })
            try sqlite.append(jsonRecords.enumerated().map { i, record in
                var r = record
                r.version = UInt64(i + 1)
                return r
            })
        }
        var rng = SplitMix64(seed: 13)
        let order = (0..<loads).map { _ in carts[Int(rng.next() % UInt64(carts.count))] }
        // Strata: JSON store, then binary store, each loaded through `Codable` and through the events' fields.
        var times: [[Double]] = Array(repeating: [], count: 5)
        var folded = Array(repeating: 0, count: 5)
        let decoder = JSONDecoder()
        for start in stride(from: 0, to: loads, by: 1_000) {
            progress("P3 typed \(start)/\(loads)")
            let block = order[start..<min(start + 1_000, loads)]
            for (s, store) in [json, binary].enumerated() {
                let codec: any EventCodec = s == 0 ? JSONEventCodec() : BinaryEventCodec()
                for key in block {
                    let t0 = ContinuousClock.now
                    let cart = try await store.load(BenchCart.self, key, codec: codec)
                    times[2 * s].append(seconds(ContinuousClock.now - t0) * 1e6)
                    folded[2 * s] += cart.state.events
                }
                for key in block {
                    let t0 = ContinuousClock.now
                    let cart = try await store.load(BenchCartFields.self, key, codec: codec)
                    times[2 * s + 1].append(seconds(ContinuousClock.now - t0) * 1e6)
                    folded[2 * s + 1] += cart.state.events
                }
            }
            for key in block {
                let t0 = ContinuousClock.now
                let state = try sqliteLoad(sqlite.queue, key, decoder)
                times[4].append(seconds(ContinuousClock.now - t0) * 1e6)
                folded[4] += state.events
            }
        }
        progressDone()
        // With snapshots (the FieldDecodable projector): first at the version the default policy takes (80 of 100:
        // a tail of 20 events to fold), then at the current version (no tail). Same carts, same order.
        var snapshotTimes: [[Double]] = Array(repeating: [], count: 4)
        for round in 0..<2 {
            for (s, store) in [json, binary].enumerated() {
                let codec: any EventCodec = s == 0 ? JSONEventCodec() : BinaryEventCodec()
                progress("P3 typed: snapshotting the \(s == 0 ? "JSON" : "binary") store's carts")
                let written = try await store.snapshot(BenchCartFields.self, carts, codec: codec, followingPolicy: round == 0)
                guard written.count == carts.count, written.allSatisfy({ $0.version == (round == 0 ? 80 : 100) }) else {
                    throw ValidationError("P3 snapshots: \(written.count) written")
                }
                for key in order {
                    let t0 = ContinuousClock.now
                    let cart = try await store.load(BenchCartFields.self, key, codec: codec)
                    snapshotTimes[2 * round + s].append(seconds(ContinuousClock.now - t0) * 1e6)
                    guard cart.state.events == 100 else { throw ValidationError("P3 from a snapshot: \(cart.state.events) events") }
                }
            }
        }
        progressDone()
        try await json.close()
        try await binary.close()
        try sqlite.close()
        removeTree(jsonPath)
        removeTree(binaryPath)
        SQLiteBaseline.remove(sqlitePath)
        guard folded.allSatisfy({ $0 == loads * 100 }) else { throw POSIXError(.EBADMSG) }  // lost or invented events
        let sorted = times.map { $0.sorted() }
        let snapshotSorted = snapshotTimes.map { $0.sorted() }
        let names = ["strata_json", "strata_json_fields", "strata_binary", "strata_binary_fields", "sqlite_json"]
        for (name, values) in zip(names, sorted) {
            report.record("p3typed.\(name).p50_us", percentile(values, 0.5))
            report.record("p3typed.\(name).p99_us", percentile(values, 0.99))
        }
        let sqlite50 = percentile(sorted[4], 0.5)
        let variants = [
            (0, "JSON, Codable", "json", 50.0), (1, "JSON, FieldDecodable", "json_fields", 50.0),
            (2, "binary, Codable", "binary", 25.0), (3, "binary, FieldDecodable", "binary_fields", 25.0),
        ]
        for (i, label, key, goal) in variants {
            let p50 = percentile(sorted[i], 0.5)
            report.row(
                "P3 typed cart of 100 events (\(label)), p50 µs (p99)", strata: "\(fixed(p50, 1)) (\(fixed(percentile(sorted[i], 0.99), 1)))",
                sqlite: "\(fixed(sqlite50, 1)) (\(fixed(percentile(sorted[4], 0.99), 1))) JSON", ratio: sqlite50 / p50,
                goal: "≤ \(Int(goal)) µs", met: p50 <= goal, goalKey: "p3typed_\(key)")
        }
        let snapshotVariants = [
            (2, "JSON, snapshot at 100, no tail", "json_snapshot"), (3, "binary, snapshot at 100, no tail", "binary_snapshot"),
            (0, "JSON, snapshot at 80 + 20 events", "json_snapshot_tail"), (1, "binary, snapshot at 80 + 20 events", "binary_snapshot_tail"),
        ]
        for (i, label, key) in snapshotVariants {
            let p50 = percentile(snapshotSorted[i], 0.5)
            report.record("p3typed.\(key).p50_us", p50)
            report.record("p3typed.\(key).p99_us", percentile(snapshotSorted[i], 0.99))
            report.row(
                "P3 typed cart of 100 events (\(label)), p50 µs (p99)", strata: "\(fixed(p50, 1)) (\(fixed(percentile(snapshotSorted[i], 0.99), 1)))",
                sqlite: "\(fixed(sqlite50, 1)) (\(fixed(percentile(sorted[4], 0.99), 1))) JSON, no snapshot", ratio: sqlite50 / p50,
                goal: i >= 2 ? "≤ 10 µs" : "", met: i >= 2 ? p50 <= 10 : nil, goalKey: i >= 2 ? "p3typed_\(key)" : nil)
        }
    }
}

/// SQLite's typed load: the cart's rows in version order, each payload decoded by `JSONDecoder` and folded.
func sqliteLoad(_ queue: DatabaseQueue, _ key: PartitionKey, _ decoder: JSONDecoder) throws -> BenchCart.State {
    try queue.read { db in try sqliteFold(db, key, decoder) }
}

func sqliteFold(_ db: Database, _ key: PartitionKey, _ decoder: JSONDecoder) throws -> BenchCart.State {
    let statement = try db.cachedStatement(sql: """
        SELECT type, payload FROM events
        WHERE tenant = ? AND aggregate_group = ? AND aggregate_id = ? ORDER BY version
        """)
    statement.setUncheckedArguments([key.tenant, key.group, key.id])
    let rows = try Row.fetchCursor(statement)
    var state = BenchCart.initialState
    while let row = try rows.next() {
        state = try BenchCart.apply(state, type: row[0], json: row[1], decoder: decoder)
    }
    return state
}

/// SQLite's P2 command in one write transaction: load and fold the cart, insert the next version.
func sqliteCommand(_ queue: DatabaseQueue, _ key: PartitionKey, _ record: EventRecord, _ decoder: JSONDecoder) throws {
    try queue.write { db in
        let state = try sqliteFold(db, key, decoder)
        try db.execute(sql: """
            INSERT INTO events (tenant, aggregate_group, aggregate_id, version, type, type_version,
                                timestamp, event_id, metadata, payload)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [
                key.tenant, key.group, key.id, Int64(state.events + 1), record.typeName, Int64(record.typeVersion),
                record.timestampMicros, record.eventId.description, "{}", Data(record.payload),
            ])
    }
}

/// A command of P2: add one item to a cart (loads the cart, appends one event with the version it saw).
struct BenchAddItem: Command {
    typealias Projector = BenchCart
    var key: PartitionKey
    var event: BenchItemAdded
    func handle(_ cart: Aggregate<BenchCart>) throws -> [any Event] { [event] }
}

/// P2: 64 concurrent writers, each command = load the cart + append one event with the version it saw, durable
/// acknowledgement; commands over 10,000 carts. Strata through `CommandExecutor` (JSON and binary payloads);
/// SQLite as an application writes it: one write transaction per command that reads the cart's events, decodes
/// and folds them, and inserts the next version.
enum P2 {
    static func run(directory: String, commands: Int, report: Report) async throws {
        let carts = CartsData(streamCount: 10_000, seed: 21).streams
        var source = TypedCarts(seed: 22)
        let work: [(PartitionKey, BenchItemAdded)] = (0..<commands).map { i in
            var event: any Event = source.event()
            while !(event is BenchItemAdded) { event = source.event() }
            return (carts[(i &* 7_919) % carts.count], event as! BenchItemAdded)
        }
        var strataRates: [Double] = []
        for (label, codec) in [("JSON", JSONEventCodec() as any EventCodec), ("binary", BinaryEventCodec())] {
            let path = fresh(directory + "/p2-strata")
            let store = try NativeEventStore(path: path)
            let executor = CommandExecutor(store: store, codec: codec, cachedAggregatesMax: 20_000)
            let latencies = SharedLatencies()
            progress("P2 Strata (\(label))")
            let elapsed = try await timed {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    let next = SharedCounter()
                    for _ in 0..<64 {
                        group.addTask {
                            var mine: [Double] = []
                            while true {
                                let i = next.take()
                                if i >= work.count { break }
                                let t0 = ContinuousClock.now
                                try await executor.execute(BenchAddItem(key: work[i].0, event: work[i].1))
                                mine.append(seconds(ContinuousClock.now - t0) * 1e6)
                            }
                            let collected = mine
                            latencies.values.withLock { $0 += collected }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            progressDone()
            let stats = store.log.statistics
            var total = 0
            try await store.readAll(after: nil, limit: .max) { _, _ in total += 1 }
            try await store.close()
            removeTree(path)
            guard total == commands else { throw POSIXError(.EBADMSG) }
            let rate = Double(commands) / elapsed
            strataRates.append(rate)
            let sorted = latencies.values.withLock { $0 }.sorted()
            let key = "p2.strata_\(label.lowercased())"
            report.record("\(key).commits_per_s", rate)
            report.record("\(key).commits_per_fdatasync", Double(stats.frames) / Double(max(stats.syncs, 1)))
            report.record("\(key).p50_us", percentile(sorted, 0.5))
            report.record("\(key).p99_us", percentile(sorted, 0.99))
        }
        // SQLite: the same commands, 64 tasks, one transaction each.
        let sqlitePath = directory + "/p2-sqlite.db"
        SQLiteBaseline.remove(sqlitePath)
        let sqlite = try SQLiteBaseline(path: sqlitePath, sync: .full)
        let latencies = SharedLatencies()
        let encoder = JSONEventCodec()
        let queue = sqlite.queue
        progress("P2 SQLite")
        let elapsed = try await timed {
            try await withThrowingTaskGroup(of: Void.self) { group in
                let next = SharedCounter()
                for _ in 0..<64 {
                    group.addTask {
                        var mine: [Double] = []
                        let decoder = JSONDecoder()
                        while true {
                            let i = next.take()
                            if i >= work.count { break }
                            let (key, event) = work[i]
                            let t0 = ContinuousClock.now
                            // The event is encoded inside the timed section, as Strata's executor does.
                            try sqliteCommand(queue, key, try EventRecord(event, key: key, codec: encoder), decoder)
                            mine.append(seconds(ContinuousClock.now - t0) * 1e6)
                        }
                        let collected = mine
                        latencies.values.withLock { $0 += collected }
                    }
                }
                try await group.waitForAll()
            }
        }
        progressDone()
        try sqlite.close()
        SQLiteBaseline.remove(sqlitePath)
        let sqliteRate = Double(commands) / elapsed
        let sorted = latencies.values.withLock { $0 }.sorted()
        report.record("p2.sqlite.commits_per_s", sqliteRate)
        report.record("p2.sqlite.p50_us", percentile(sorted, 0.5))
        report.record("p2.sqlite.p99_us", percentile(sorted, 0.99))
        for (label, rate) in zip(["JSON", "binary"], strataRates) {
            report.row(
                "P2 64 concurrent commands, durable (\(label), commits/s)", strata: grouped(rate), sqlite: grouped(sqliteRate),
                ratio: rate / sqliteRate, goal: "≥ 25k and ≥ 30×", met: rate >= 25_000 && rate / sqliteRate >= 30,
                goalKey: "p2_\(label.lowercased())")
        }
    }
}
