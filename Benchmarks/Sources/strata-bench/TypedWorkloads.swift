import ArgumentParser
import BenchData
import Foundation
import GRDB
import Strata
import StrataPostgres
import StrataSQLite
import StrataStorage
import Synchronization

// The carts events of Benchmarks/README.md as typed events (the fields of BenchData's JSON payloads), and one projector
// both engines fold with.

@Event("ItemAdded")
struct BenchItemAdded {
    var item: String
    var sku: String
    var quantity: Int
    var unitPrice: Int
    var currency: String
    var addedBy: String
    var channel: String
}

@Event("ItemRemoved")
struct BenchItemRemoved {
    var item: String
    var sku: String
    var quantity: Int
    var reason: String
    var removedBy: String
    var channel: String
}

@Event("CartCheckedOut")
struct BenchCheckedOut {
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

/// The same cart with its events read by their fields (what `@Event` generates: `FieldDecodable`, Strata's fast path).
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

/// The same cart folded over lazy events (`@Event`'s `Lazy`): only the fields the fold reads are made into values.
enum BenchCartLazy: AggregateProjector {
    typealias State = BenchCart.State
    @EventSet enum Events { case added(BenchItemAdded.Lazy), removed(BenchItemRemoved.Lazy), checkedOut(BenchCheckedOut.Lazy) }
    static let group = BenchCart.group
    static let initialState = State()
    static func apply(_ state: consuming State, _ event: Events) throws -> State {
        state.events += 1
        switch event {
        case .added(let e):
            let quantity = try e.quantity
            state.lines[try e.item, default: 0] += quantity
            state.total += quantity * (try e.unitPrice)
        case .removed(let e):
            let item = try e.item
            state.lines[item] = max(0, (state.lines[item] ?? 0) - (try e.quantity))
        case .checkedOut:
            state.checkedOut = true
        }
        return state
    }
}

/// How a baseline decodes a cart event's payload: with Strata's own codecs — the very calls `EventTypes` makes for
/// `BenchCart` (`Codable`, through `CodableOnly`) and for `BenchCartFields` (`FieldDecodable`) — or with Foundation's
/// `JSONDecoder`, as a GRDB application decodes today. SQLite's rows use the same decoder as the Strata row they
/// stand beside.
enum CartDecoder: Sendable {
    case codable(any EventCodec)
    case fields(any EventCodec)
    case foundation

    func decode(type: String, payload: UnsafeRawBufferPointer, json: JSONDecoder) throws -> BenchCart.Events {
        switch self {
        case .codable(let codec):
            return switch type {
            case BenchItemAdded.eventType: BenchCart.Events.added(try codec.decode(CodableOnly<BenchItemAdded>.self, from: payload).event)
            case BenchItemRemoved.eventType: BenchCart.Events.removed(try codec.decode(CodableOnly<BenchItemRemoved>.self, from: payload).event)
            default: BenchCart.Events.checkedOut(try codec.decode(CodableOnly<BenchCheckedOut>.self, from: payload).event)
            }
        case .fields(let codec):
            return switch type {
            case BenchItemAdded.eventType: BenchCart.Events.added(try codec.decode(fields: BenchItemAdded.self, from: payload))
            case BenchItemRemoved.eventType: BenchCart.Events.removed(try codec.decode(fields: BenchItemRemoved.self, from: payload))
            default: BenchCart.Events.checkedOut(try codec.decode(fields: BenchCheckedOut.self, from: payload))
            }
        case .foundation:
            // (What a GRDB user writes: the BLOB as `Data`, decoded by `JSONDecoder`.)
            let data = Data(payload)
            return switch type {
            case BenchItemAdded.eventType: .added(try json.decode(BenchItemAdded.self, from: data))
            case BenchItemRemoved.eventType: .removed(try json.decode(BenchItemRemoved.self, from: data))
            default: .checkedOut(try json.decode(BenchCheckedOut.self, from: data))
            }
        }
    }
}

/// `E` as an event decoded through `Codable` only: the same type name, version and payload, without the
/// `FieldDecodable` conformance `@Event` gives `E` (so `EventTypes.on` registers the `Codable` path).
struct CodableOnly<E: Event>: Event {
    static var eventType: String { E.eventType }
    static var schemaVersion: UInt32 { E.schemaVersion }
    var event: E
    init(from decoder: any Decoder) throws { event = try E(from: decoder) }
    func encode(to encoder: any Encoder) throws { try event.encode(to: encoder) }
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

/// P3 with typed aggregates: load a cart of 100 events and fold it. Strata with JSON and with binary payloads (two
/// stores of the same events), each decoded through `Codable` (`BenchCart`) and through the events' fields
/// (`BenchCartFields`, `FieldDecodable`); SQLite with the same payload bytes (a JSON and a binary database) decoded
/// by the same decoders, and — labelled as what a GRDB user writes today — its JSON decoded by Foundation's
/// `JSONDecoder`; Strata's SQLite backend (`SQLiteEventStore`, the same loads) on a JSON and a binary database of
/// the same events, and its PostgreSQL backend (`PostgresEventStore`) on two schemas of the same events. Random carts
/// among 10,000 (each written as one append), alternating blocks of 1,000 loads.
enum P3Typed {
    static func run(directory: String, loads: Int, postgres: PostgresServer?, report: Report) async throws {
        let carts = CartsData(streamCount: 10_000, seed: 11).streams
        var source = TypedCarts(seed: 12)
        let histories: [[any Event]] = carts.map { _ in (0..<100).map { _ in source.event() } }
        let jsonPath = fresh(directory + "/p3t-json"), binaryPath = fresh(directory + "/p3t-binary")
        let sqliteJSONPath = directory + "/p3t-sqlite.db", sqliteBinaryPath = directory + "/p3t-sqlite-binary.db"
        SQLiteBaseline.remove(sqliteJSONPath)
        SQLiteBaseline.remove(sqliteBinaryPath)
        let json = try NativeEventStore(path: jsonPath), binary = try NativeEventStore(path: binaryPath)
        let sqliteJSON = try SQLiteBaseline(path: sqliteJSONPath, sync: .normal)
        let sqliteBinary = try SQLiteBaseline(path: sqliteBinaryPath, sync: .normal)
        // Strata on its SQLite backend, the same events (built with synchronous = NORMAL, as the baseline's stores).
        let backendJSONPath = directory + "/p3t-strata-sqlite.db", backendBinaryPath = directory + "/p3t-strata-sqlite-binary.db"
        SQLiteBaseline.remove(backendJSONPath)
        SQLiteBaseline.remove(backendBinaryPath)
        let building = SQLiteEventStore.Options(synchronous: .normal)
        let backendJSON = try SQLiteEventStore(path: backendJSONPath, options: building)
        let backendBinary = try SQLiteEventStore(path: backendBinaryPath, options: building)
        var postgresStores: [PostgresEventStore] = []
        if let postgres {
            postgresStores = [try await postgres.freshStore(schema: "bench_p3t_json"), try await postgres.freshStore(schema: "bench_p3t_binary")]
        }
        progress("P3 typed: building the stores")
        for (key, events) in zip(carts, histories) {
            let jsonRecords = try events.map { try EventRecord($0, key: key, codec: JSONEventCodec(), timestampMicros: 0) }
            let binaryRecords = try events.map { try EventRecord($0, key: key, codec: BinaryEventCodec(), timestampMicros: 0) }
            try await json.append(jsonRecords)
            try await binary.append(binaryRecords)
            try sqliteJSON.append(jsonRecords)
            try sqliteBinary.append(binaryRecords)
            try await backendJSON.append(jsonRecords)
            try await backendBinary.append(binaryRecords)
            if !postgresStores.isEmpty {
                try await postgresStores[0].append(jsonRecords)
                try await postgresStores[1].append(binaryRecords)
            }
        }
        var rng = SplitMix64(seed: 13)
        let order = (0..<loads).map { _ in carts[Int(rng.next() % UInt64(carts.count))] }
        // Strata: [JSON Codable, JSON fields, binary Codable, binary fields]; SQLite the same four, then JSONDecoder.
        let sqliteVariants: [(SQLiteBaseline, CartDecoder)] = [
            (sqliteJSON, .codable(JSONEventCodec())), (sqliteJSON, .fields(JSONEventCodec())),
            (sqliteBinary, .codable(BinaryEventCodec())), (sqliteBinary, .fields(BinaryEventCodec())), (sqliteJSON, .foundation),
        ]
        var strataTimes: [[Double]] = Array(repeating: [], count: 4)
        var sqliteTimes: [[Double]] = Array(repeating: [], count: 5)
        var backendTimes: [[Double]] = Array(repeating: [], count: 4)
        var postgresTimes: [[Double]] = Array(repeating: [], count: 4)
        var folded = Array(repeating: 0, count: 13)
        var postgresFolded = 0
        // Strata only: [JSON, binary] folded over lazy events.
        var lazyTimes: [[Double]] = Array(repeating: [], count: 2)
        var lazyFolded = 0
        let decoder = JSONDecoder()
        for start in stride(from: 0, to: loads, by: 1_000) {
            progress("P3 typed \(start)/\(loads)")
            let block = order[start..<min(start + 1_000, loads)]
            for (s, store) in [json, binary].enumerated() {
                let codec: any EventCodec = s == 0 ? JSONEventCodec() : BinaryEventCodec()
                folded[2 * s] += try await timedLoads(BenchCart.self, block, from: store, codec: codec, into: &strataTimes[2 * s])
                folded[2 * s + 1] += try await timedLoads(BenchCartFields.self, block, from: store, codec: codec, into: &strataTimes[2 * s + 1])
                lazyFolded += try await timedLoads(BenchCartLazy.self, block, from: store, codec: codec, into: &lazyTimes[s])
            }
            for (s, store) in [backendJSON, backendBinary].enumerated() {
                let codec: any EventCodec = s == 0 ? JSONEventCodec() : BinaryEventCodec()
                folded[9 + 2 * s] += try await timedLoads(BenchCart.self, block, from: store, codec: codec, into: &backendTimes[2 * s])
                folded[9 + 2 * s + 1] += try await timedLoads(
                    BenchCartFields.self, block, from: store, codec: codec, into: &backendTimes[2 * s + 1])
            }
            for (s, store) in postgresStores.enumerated() {
                let codec: any EventCodec = s == 0 ? JSONEventCodec() : BinaryEventCodec()
                postgresFolded += try await timedLoads(BenchCart.self, block, from: store, codec: codec, into: &postgresTimes[2 * s])
                postgresFolded += try await timedLoads(BenchCartFields.self, block, from: store, codec: codec, into: &postgresTimes[2 * s + 1])
            }
            for (v, (sqlite, cartDecoder)) in sqliteVariants.enumerated() {
                for key in block {
                    let t0 = ContinuousClock.now
                    let state = try sqliteLoad(sqlite.queue, key, cartDecoder, decoder)
                    sqliteTimes[v].append(seconds(ContinuousClock.now - t0) * 1e6)
                    folded[4 + v] += state.events
                }
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
        try sqliteJSON.close()
        try sqliteBinary.close()
        try backendJSON.close()
        try backendBinary.close()
        for store in postgresStores { try await PostgresServer.drop(store) }
        for path in [sqliteJSONPath, sqliteBinaryPath, backendJSONPath, backendBinaryPath] { SQLiteBaseline.remove(path) }
        removeTree(jsonPath)
        removeTree(binaryPath)
        guard folded.allSatisfy({ $0 == loads * 100 }) else { throw POSIXError(.EBADMSG) }  // lost or invented events
        guard postgresStores.isEmpty || postgresFolded == 4 * loads * 100 else { throw POSIXError(.EBADMSG) }
        guard lazyFolded == 2 * loads * 100 else { throw POSIXError(.EBADMSG) }
        let strata = strataTimes.map { $0.sorted() }, sqlite = sqliteTimes.map { $0.sorted() }
        let backend = backendTimes.map { $0.sorted() }
        let snapshotSorted = snapshotTimes.map { $0.sorted() }
        // Goals are ratios to the untyped P3 on the same layout (one append per cart), measured in this run: typed
        // binary ≤ 2×, typed JSON ≤ 3× (of the default way users declare events: `Codable`).
        let untyped = report.figures["p3.one_append.strata.p50_us"]
        let variants = [
            (0, "JSON, Codable", "json", 3.0), (1, "JSON, @Event fields", "json_fields", 3.0),
            (2, "binary, Codable", "binary", 2.0), (3, "binary, @Event fields", "binary_fields", 2.0),
        ]
        for (i, label, key, goal) in variants {
            let p50 = percentile(strata[i], 0.5), q50 = percentile(sqlite[i], 0.5)
            report.record("p3typed.strata_\(key).p50_us", p50)
            report.record("p3typed.strata_\(key).p99_us", percentile(strata[i], 0.99))
            report.record("p3typed.sqlite_\(key).p50_us", q50)
            report.record("p3typed.sqlite_\(key).p99_us", percentile(sqlite[i], 0.99))
            let ofUntyped = untyped.map { p50 / $0 }
            if let ofUntyped { report.record("p3typed.strata_\(key).of_untyped", ofUntyped) }
            report.row(
                "P3 typed cart of 100 events, both \(label) decoding, p50 µs (p99)" + (ofUntyped.map { "; \(fixed($0, 1))× untyped" } ?? ""),
                strata: "\(fixed(p50, 1)) (\(fixed(percentile(strata[i], 0.99), 1)))",
                sqlite: "\(fixed(q50, 1)) (\(fixed(percentile(sqlite[i], 0.99), 1)))", ratio: q50 / p50,
                goal: ofUntyped == nil ? "" : "≤ \(Int(goal))× untyped", met: ofUntyped.map { $0 <= goal },
                goalKey: ofUntyped == nil ? nil : "p3typed_\(key)")
        }
        // Lazy events (Strata only: SQLite's rows decode every field, as the rows above do).
        for (s, label, key, goal) in [(0, "JSON", "json_lazy", 3.0), (1, "binary", "binary_lazy", 2.0)] {
            let sorted = lazyTimes[s].sorted()
            let p50 = percentile(sorted, 0.5)
            report.record("p3typed.strata_\(key).p50_us", p50)
            report.record("p3typed.strata_\(key).p99_us", percentile(sorted, 0.99))
            let ofUntyped = untyped.map { p50 / $0 }
            if let ofUntyped { report.record("p3typed.strata_\(key).of_untyped", ofUntyped) }
            report.row(
                "P3 typed cart of 100 events, \(label), lazy events (`.Lazy`), p50 µs (p99)" + (ofUntyped.map { "; \(fixed($0, 1))× untyped" } ?? ""),
                strata: "\(fixed(p50, 1)) (\(fixed(percentile(sorted, 0.99), 1)))",
                goal: ofUntyped == nil ? "" : "≤ \(Int(goal))× untyped", met: ofUntyped.map { $0 <= goal })
        }
        // The backends' rows: the same loads through `SQLiteEventStore` and `PostgresEventStore`.
        var backends = [("strata_sqlite", "on Strata's SQLite backend", backend)]
        if !postgresStores.isEmpty { backends.append(("strata_postgres", "on PostgreSQL (StrataPostgres)", postgresTimes.map { $0.sorted() })) }
        for (side, place, times) in backends {
            for (i, label, key, _) in variants {
                let p50 = percentile(times[i], 0.5), q50 = percentile(sqlite[i], 0.5)
                report.record("p3typed.\(side)_\(key).p50_us", p50)
                report.record("p3typed.\(side)_\(key).p99_us", percentile(times[i], 0.99))
                report.row(
                    "P3 typed (\(label)) \(place), p50 µs (p99); native \(fixed(percentile(strata[i], 0.5), 1))",
                    strata: "\(fixed(p50, 1)) (\(fixed(percentile(times[i], 0.99), 1)))",
                    sqlite: "\(fixed(q50, 1)) (\(fixed(percentile(sqlite[i], 0.99), 1)))", ratio: q50 / p50)
            }
        }
        let foundation50 = percentile(sqlite[4], 0.5)
        report.record("p3typed.sqlite_jsondecoder.p50_us", foundation50)
        report.record("p3typed.sqlite_jsondecoder.p99_us", percentile(sqlite[4], 0.99))
        report.row(
            "P3 typed: what a GRDB user writes today (SQLite, Foundation JSONDecoder), p50 µs (p99); Strata JSON Codable",
            strata: "\(fixed(percentile(strata[0], 0.5), 1)) (\(fixed(percentile(strata[0], 0.99), 1)))",
            sqlite: "\(fixed(foundation50, 1)) (\(fixed(percentile(sqlite[4], 0.99), 1)))", ratio: foundation50 / percentile(strata[0], 0.5))
        let snapshotVariants = [
            (2, "JSON", "json_snapshot", 1), (3, "binary", "binary_snapshot", 3),
            (0, "JSON", "json_snapshot_tail", 1), (1, "binary", "binary_snapshot_tail", 3),
        ]
        for (i, codec, key, sqliteIndex) in snapshotVariants {
            let p50 = percentile(snapshotSorted[i], 0.5)
            let shape = i >= 2 ? "snapshot at 100, no tail" : "snapshot at 80 + 20 events"
            report.record("p3typed.\(key).p50_us", p50)
            report.record("p3typed.\(key).p99_us", percentile(snapshotSorted[i], 0.99))
            report.row(
                "P3 typed (\(codec), @Event fields): Strata from a \(shape); SQLite replays all 100, p50 µs (p99)",
                strata: "\(fixed(p50, 1)) (\(fixed(percentile(snapshotSorted[i], 0.99), 1)))",
                sqlite: "\(fixed(percentile(sqlite[sqliteIndex], 0.5), 1)) (\(fixed(percentile(sqlite[sqliteIndex], 0.99), 1)))",
                ratio: percentile(sqlite[sqliteIndex], 0.5) / p50,
                goal: i >= 2 ? "≤ 10 µs" : "", met: i >= 2 ? p50 <= 10 : nil, goalKey: i >= 2 ? "p3typed_\(key)" : nil)
        }
    }
}

/// Loads every cart of `block` from `store` with `projector`, each load timed into `times` (µs); returns how many events
/// were folded.
func timedLoads<Store: EventStore, P: AggregateProjector>(
    _ projector: P.Type, _ block: ArraySlice<PartitionKey>, from store: Store, codec: any EventCodec, into times: inout [Double]
) async throws -> Int where P.State == BenchCart.State {
    var events = 0
    for key in block {
        let t0 = ContinuousClock.now
        let cart = try await store.load(P.self, key, codec: codec)
        times.append(seconds(ContinuousClock.now - t0) * 1e6)
        events += cart.state.events
    }
    return events
}

/// SQLite's typed load of a whole cart (a read transaction on the connection).
func sqliteLoad(_ queue: DatabaseQueue, _ key: PartitionKey, _ cartDecoder: CartDecoder, _ json: JSONDecoder) throws -> BenchCart.State {
    try queue.read { db in try sqliteFold(db, key, after: 0, from: BenchCart.initialState, cartDecoder, json).state }
}

/// SQLite's typed load: the cart's rows after `version` in version order, each payload decoded in place (GRDB's
/// no-copy view of the BLOB) by `cartDecoder` and folded into `state`. Returns the state and the last version.
func sqliteFold(
    _ db: Database, _ key: PartitionKey, after version: Int64, from state: BenchCart.State, _ cartDecoder: CartDecoder,
    _ json: JSONDecoder
) throws -> (state: BenchCart.State, version: Int64) {
    let statement = try db.cachedStatement(sql: """
        SELECT version, type, payload FROM events
        WHERE tenant = ? AND aggregate_group = ? AND aggregate_id = ? AND version > ? ORDER BY version
        """)
    statement.setUncheckedArguments([key.tenant, key.group, key.id, version])
    let rows = try Row.fetchCursor(statement)
    var state = state
    var last = version
    while let row = try rows.next() {
        let type: String = row[1]
        let event = try row.withUnsafeData(atIndex: 2) { payload in
            guard let payload else { throw POSIXError(.EBADMSG) }
            return try payload.withUnsafeBytes { try cartDecoder.decode(type: type, payload: $0, json: json) }
        }
        state = BenchCart.apply(state, event)
        last = row[0]
    }
    return (state, last)
}

/// What P2's SQLite side keeps in memory: the same as `CommandExecutor`'s cache — recently used carts' states tagged
/// with their version, at most `capacity`, an eighth evicted arbitrarily when full — so a command on a cached cart
/// reads only the events written after it.
final class SQLiteAggregateCache: Sendable {
    let capacity: Int
    private let entries = Mutex<[PartitionKey: (version: Int64, state: BenchCart.State)]>([:])

    init(capacity: Int) { self.capacity = capacity }

    func take(_ key: PartitionKey) -> (version: Int64, state: BenchCart.State)? {
        entries.withLock { $0.removeValue(forKey: key) }
    }

    func store(_ key: PartitionKey, version: Int64, state: BenchCart.State) {
        guard capacity > 0 else { return }
        entries.withLock { cache in
            if cache.count >= capacity && cache[key] == nil {
                for key in cache.keys.prefix(max(1, capacity / 8)) { cache[key] = nil }
            }
            cache[key] = (version, state)
        }
    }
}

/// SQLite's P2 command, inside its write transaction: the cart from the cache plus the events after its version (or
/// all of them), decoded by `cartDecoder` and folded; the next version inserted; the new event folded into the
/// cached state as the executor does: as it is when its type reads back exactly what it writes
/// (`roundTripsExactly`), else decoded from the bytes just written.
func sqliteCommand(
    _ db: Database, _ key: PartitionKey, _ event: BenchItemAdded, _ record: EventRecord, _ cartDecoder: CartDecoder,
    cache: SQLiteAggregateCache?, _ json: JSONDecoder
) throws {
    let cached = cache?.take(key)
    let (state, version) = try sqliteFold(db, key, after: cached?.version ?? 0, from: cached?.state ?? BenchCart.initialState, cartDecoder, json)
    try db.execute(sql: """
        INSERT INTO events (tenant, aggregate_group, aggregate_id, version, type, type_version,
                            timestamp, event_id, metadata, payload)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """, arguments: [
            key.tenant, key.group, key.id, version + 1, record.typeName, Int64(record.typeVersion),
            record.timestampMicros, SQLiteBaseline.blob(record.eventId), SQLiteBaseline.metadataJSON(record.metadata),
            Data(record.payload),
        ])
    if let cache {
        let folded: BenchCart.Events = BenchItemAdded.roundTripsExactly
            ? .added(event) : try record.payload.withUnsafeBytes { try cartDecoder.decode(type: record.typeName, payload: $0, json: json) }
        cache.store(key, version: version + 1, state: BenchCart.apply(state, folded))
    }
}

/// A command of P2: add one item to a cart (loads the cart, appends one event with the version it saw). The cart's
/// events are read by their fields (`@Event`, what users declare), on both sides.
struct BenchAddItem: Command {
    typealias Projector = BenchCartFields
    var key: PartitionKey
    var event: BenchItemAdded
    func handle(_ cart: Aggregate<BenchCartFields>) throws -> [any Event] { [event] }
}

/// P2: 64 concurrent writers, each command = load the cart + append one event with the version it saw, durable
/// acknowledgement; commands over 10,000 carts. Strata through `CommandExecutor` (JSON and binary payloads, its
/// cache of 20,000 aggregates); SQLite as an application writes it — one write transaction per command on the one
/// writer connection the 64 tasks share, which reads the cart's events, decodes and folds them and inserts the next
/// version — with the same cache (same capacity; a hit reads only the events after the cached version) and the same
/// decoder as the Strata row. Then both without a cache: every command loads its whole cart. Each variant also runs
/// on Strata's SQLite backend (`SQLiteEventStore`, WAL, synchronous = FULL) and on PostgreSQL (`PostgresEventStore`
/// in its defaults: a pool of 20 connections; the server's defaults, `synchronous_commit` on) through the same
/// executor.
enum P2 {
    struct Outcome {
        var rate: Double
        var latencies: [Double]
        var perSync: Double?
    }

    static func run(directory: String, commands: Int, postgres: PostgresServer?, report: Report) async throws {
        let work = commandWork(commands)
        let capacity = 20_000
        let variants: [(label: String, key: String, codec: any EventCodec, cache: Int)] = [
            ("JSON, cached", "json", JSONEventCodec(), capacity), ("binary, cached", "binary", BinaryEventCodec(), capacity),
            ("JSON, no cache on either side", "json_cold", JSONEventCodec(), 0),
        ]
        for variant in variants {
            let strata = try await strataRun(work, codec: variant.codec, cache: variant.cache, directory: directory, label: variant.label)
            let sqlite = try await sqliteRun(work, codec: variant.codec, cache: variant.cache, directory: directory, label: variant.label)
            let backend = try await backendRun(work, codec: variant.codec, cache: variant.cache, directory: directory, label: variant.label)
            var sides = [("strata", strata), ("sqlite", sqlite), ("strata_sqlite", backend)]
            if let postgres {
                sides.append(("strata_postgres", try await postgresRun(work, codec: variant.codec, cache: variant.cache, server: postgres, label: variant.label)))
            }
            for (side, outcome) in sides {
                report.record("p2.\(side)_\(variant.key).commits_per_s", outcome.rate)
                report.record("p2.\(side)_\(variant.key).p50_us", percentile(outcome.latencies, 0.5))
                report.record("p2.\(side)_\(variant.key).p99_us", percentile(outcome.latencies, 0.99))
                if let perSync = outcome.perSync { report.record("p2.\(side)_\(variant.key).commits_per_fdatasync", perSync) }
            }
            let cached = variant.cache > 0
            // Goals: ≥ 10× SQLite with the same cache, and ≥ 0.8 of 64 concurrent one-event engine appends (the
            // "Strata only" row of this run: the command layer nearly free).
            let engine = report.figures["extra.concurrent.commits_per_s"]
            let ofEngine = engine.map { strata.rate / $0 }
            if let ofEngine { report.record("p2.strata_\(variant.key).of_engine_appends", ofEngine) }
            report.row(
                "P2 64 concurrent commands, durable (\(variant.label), commits/s)" + (ofEngine.map { "; \(fixed($0, 2)) of engine appends" } ?? ""),
                strata: grouped(strata.rate), sqlite: grouped(sqlite.rate), ratio: strata.rate / sqlite.rate,
                goal: cached ? "≥ 10×" + (ofEngine == nil ? "" : ", ≥ 0.8 of engine") : "",
                met: cached ? strata.rate / sqlite.rate >= 10 && (ofEngine ?? 1) >= 0.8 : nil, goalKey: cached ? "p2_\(variant.key)" : nil)
            report.row(
                "P2 (\(variant.label)) p50 / p99 µs", strata: "\(Int(percentile(strata.latencies, 0.5))) / \(Int(percentile(strata.latencies, 0.99)))",
                sqlite: "\(Int(percentile(sqlite.latencies, 0.5))) / \(Int(percentile(sqlite.latencies, 0.99)))",
                ratio: percentile(sqlite.latencies, 0.5) / percentile(strata.latencies, 0.5))
            report.row(
                "P2 (\(variant.label)) on Strata's SQLite backend (StrataSQLite), commits/s, p50 / p99 µs; native \(grouped(strata.rate))",
                strata: "\(grouped(backend.rate)); \(Int(percentile(backend.latencies, 0.5))) / \(Int(percentile(backend.latencies, 0.99)))",
                sqlite: "\(grouped(sqlite.rate)); \(Int(percentile(sqlite.latencies, 0.5))) / \(Int(percentile(sqlite.latencies, 0.99)))",
                ratio: backend.rate / sqlite.rate)
            if let (_, onPostgres) = sides.first(where: { $0.0 == "strata_postgres" }) {
                report.row(
                    "P2 (\(variant.label)) on PostgreSQL (StrataPostgres), commits/s, p50 / p99 µs; native \(grouped(strata.rate))",
                    strata: "\(grouped(onPostgres.rate)); \(Int(percentile(onPostgres.latencies, 0.5))) / \(Int(percentile(onPostgres.latencies, 0.99)))",
                    sqlite: "\(grouped(sqlite.rate)); \(Int(percentile(sqlite.latencies, 0.5))) / \(Int(percentile(sqlite.latencies, 0.99)))",
                    ratio: onPostgres.rate / sqlite.rate)
            }
        }
    }

    /// The commands of P2: one ItemAdded each, over 10,000 carts.
    static func commandWork(_ commands: Int) -> [(PartitionKey, BenchItemAdded)] {
        let carts = CartsData(streamCount: 10_000, seed: 21).streams
        var source = TypedCarts(seed: 22)
        return (0..<commands).map { i in
            var event: any Event = source.event()
            while !(event is BenchItemAdded) { event = source.event() }
            return (carts[(i &* 7_919) % carts.count], event as! BenchItemAdded)
        }
    }

    /// Only Strata's side of one variant ("json" or "binary", cached) or the engine's 64 one-event appenders
    /// ("engine"), for `perf record` (`strata-bench run --profile-p2 json`).
    static func profile(_ variant: String, commands: Int, directory: String) async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if variant == "engine" {
            var data = CartsData(streamCount: 10_000, seed: 7)
            let events = (0..<commands).map { _ in data.batch(count: 1) }
            let path = fresh(directory + "/profile-p2-engine")
            let store = try LogStore.open(at: path)
            let elapsed = try await timed { try await appendConcurrently(events, to: store, inFlight: 64, latencies: nil) }
            try await store.close()
            removeTree(path)
            say("engine, 64 concurrent one-event appends: \(grouped(Double(commands) / elapsed)) commits/s")
            return
        }
        let work = commandWork(commands)
        let codec: any EventCodec = variant == "binary" ? BinaryEventCodec() : JSONEventCodec()
        let outcome = try await strataRun(work, codec: codec, cache: 20_000, directory: directory, label: variant)
        say("P2 \(variant), cached: \(grouped(outcome.rate)) commits/s")
    }

    /// The same commands through the same `CommandExecutor` on `PostgresEventStore` in its defaults.
    static func postgresRun(
        _ work: [(PartitionKey, BenchItemAdded)], codec: any EventCodec, cache: Int, server: PostgresServer, label: String
    ) async throws -> Outcome {
        let store = try await server.freshStore(schema: "bench_p2")
        let (elapsed, latencies) = try await execute(work, on: store, codec: codec, cache: cache, label: "Strata on PostgreSQL (\(label))")
        try await PostgresServer.drop(store)
        return Outcome(rate: Double(work.count) / elapsed, latencies: latencies, perSync: nil)
    }

    /// Runs `body(i)` for every command index from 64 tasks; returns the elapsed seconds and sorted latencies (µs).
    static func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws -> (Double, [Double]) {
        let latencies = SharedLatencies()
        let elapsed = try await timed {
            try await withThrowingTaskGroup(of: Void.self) { group in
                let next = SharedCounter()
                for _ in 0..<64 {
                    group.addTask {
                        var mine: [Double] = []
                        while true {
                            let i = next.take()
                            if i >= count { break }
                            let t0 = ContinuousClock.now
                            try await body(i)
                            mine.append(seconds(ContinuousClock.now - t0) * 1e6)
                        }
                        let collected = mine
                        latencies.values.withLock { $0 += collected }
                    }
                }
                try await group.waitForAll()
            }
        }
        return (elapsed, latencies.values.withLock { $0 }.sorted())
    }

    static func strataRun(
        _ work: [(PartitionKey, BenchItemAdded)], codec: any EventCodec, cache: Int, directory: String, label: String
    ) async throws -> Outcome {
        let path = fresh(directory + "/p2-strata")
        let store = try NativeEventStore(path: path)
        let (elapsed, latencies) = try await execute(work, on: store, codec: codec, cache: cache, label: "Strata (\(label))")
        let stats = store.log.statistics
        try await store.close()
        removeTree(path)
        return Outcome(rate: Double(work.count) / elapsed, latencies: latencies, perSync: Double(stats.frames) / Double(max(stats.syncs, 1)))
    }

    /// The same commands through the same `CommandExecutor` (same codec, same cache) on `SQLiteEventStore` in its
    /// defaults (WAL, `synchronous = FULL`): what an application gets from Strata on SQLite.
    static func backendRun(
        _ work: [(PartitionKey, BenchItemAdded)], codec: any EventCodec, cache: Int, directory: String, label: String
    ) async throws -> Outcome {
        let path = directory + "/p2-strata-sqlite.db"
        SQLiteBaseline.remove(path)
        let store = try SQLiteEventStore(path: path)
        let (elapsed, latencies) = try await execute(work, on: store, codec: codec, cache: cache, label: "Strata on SQLite (\(label))")
        try store.close()
        SQLiteBaseline.remove(path)
        return Outcome(rate: Double(work.count) / elapsed, latencies: latencies, perSync: nil)
    }

    /// Runs every command from 64 tasks through a `CommandExecutor` on `store`, then checks that the store holds one
    /// event per command. Returns the elapsed seconds and the sorted latencies (µs).
    static func execute<Store: EventStore>(
        _ work: [(PartitionKey, BenchItemAdded)], on store: Store, codec: any EventCodec, cache: Int, label: String
    ) async throws -> (Double, [Double]) {
        let executor = CommandExecutor(store: store, codec: codec, cachedAggregatesMax: cache)
        progress("P2 \(label)")
        let (elapsed, latencies) = try await concurrently(work.count) { i in
            try await executor.execute(BenchAddItem(key: work[i].0, event: work[i].1))
        }
        progressDone()
        var total = 0
        var position: Store.Position?
        while let last = try await store.readAll(after: position, limit: 10_000, { _, _ in total += 1 }) { position = last }
        guard total == work.count else { throw POSIXError(.EBADMSG) }
        return (elapsed, latencies)
    }

    static func sqliteRun(
        _ work: [(PartitionKey, BenchItemAdded)], codec: any EventCodec, cache: Int, directory: String, label: String
    ) async throws -> Outcome {
        let path = directory + "/p2-sqlite.db"
        SQLiteBaseline.remove(path)
        let sqlite = try SQLiteBaseline(path: path, sync: .full)
        let aggregates = cache > 0 ? SQLiteAggregateCache(capacity: cache) : nil
        let queue = sqlite.queue
        let cartDecoder = CartDecoder.fields(codec)  // (the decoder of the Strata row: BenchAddItem's projector)
        progress("P2 SQLite (\(label))")
        let (elapsed, latencies) = try await concurrently(work.count) { i in
            let (key, event) = work[i]
            // The event is encoded inside the timed section with a correlation id, as Strata's executor does.
            let record = try EventRecord(
                event, key: key, codec: codec, metadata: RecordMetadata(correlationId: EventID.random().description))
            try await queue.write { db in
                try sqliteCommand(db, key, event, record, cartDecoder, cache: aggregates, JSONDecoder())
            }
        }
        progressDone()
        let total = try await queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM events") ?? 0 }
        try sqlite.close()
        SQLiteBaseline.remove(path)
        guard total == work.count else { throw POSIXError(.EBADMSG) }
        return Outcome(rate: Double(work.count) / elapsed, latencies: latencies, perSync: nil)
    }
}
