import ArgumentParser
import BenchData
import Foundation
import GRDB
import Strata
import StrataPostgres
import StrataSQLite
import StrataStorage

/// P4's read model: items per product per tenant, and the open carts of each tenant (a cart is open from its first
/// event until it is checked out). Written as a user would write it.
enum CartsOverview: MultiProjector {
    struct State: Sendable, Equatable {
        var items: [String: [String: Int]] = [:]
        var openCarts: [String: Set<String>] = [:]
    }

    typealias Events = BenchCart.Events
    static let projectorName = "carts-overview"
    static let events = BenchCartFields.events
    static let initialState = State()

    static func apply(_ state: inout State, _ event: Events, _ context: EventContext) throws {
        fold(&state, event, tenant: context.tenant, version: context.version, id: context.event.id)
    }

    /// The fold both engines run; `id` is made only when the cart opens or closes.
    static func fold(_ state: inout State, _ event: Events, tenant: String, version: UInt64, id: @autoclosure () -> String) {
        if version == 1 { state.openCarts[tenant, default: []].insert(id()) }
        switch event {
        case .added(let e): state.items[tenant, default: [:]][e.item, default: 0] += e.quantity
        case .removed(let e): state.items[tenant, default: [:]][e.item, default: 0] -= e.quantity
        case .checkedOut: state.openCarts[tenant]?.remove(id())
        }
    }

    /// A rough size of the state's memory: what P4's RSS goal allows beyond 64 MiB.
    static func estimatedBytes(_ state: State) -> Double {
        let carts = state.openCarts.values.reduce(0) { $0 + $1.count }
        let products = state.items.values.reduce(0) { $0 + $1.count }
        // A set slot and a 36-byte id's heap string; a dictionary slot with a short key.
        return Double(carts * (16 + 64) + products * 48)
    }
}

/// The same read model folded over lazy events (`@Event`'s `Lazy`: a field is read when the fold reads it), as a
/// user writes it for a rebuild that reads two of an event's seven fields.
enum CartsOverviewLazy: MultiProjector {
    typealias State = CartsOverview.State
    @EventSet enum Events { case added(BenchItemAdded.Lazy), removed(BenchItemRemoved.Lazy), checkedOut(BenchCheckedOut.Lazy) }
    static let projectorName = "carts-overview-lazy"
    static let initialState = State()
    static func apply(_ state: inout State, _ event: Events, _ context: EventContext) throws {
        let tenant = context.tenant
        if context.version == 1 { state.openCarts[tenant, default: []].insert(context.event.id) }
        switch event {
        case .added(let e): state.items[tenant, default: [:]][try e.item, default: 0] += try e.quantity
        case .removed(let e): state.items[tenant, default: [:]][try e.item, default: 0] -= try e.quantity
        case .checkedOut: state.openCarts[tenant]?.remove(context.event.id)
        }
    }
}

/// P4: rebuild `CartsOverview` over the carts store (the P5 data), each engine in a fresh process (cold open).
/// Strata with JSON and with binary payloads (the projection decodes by the events' fields); SQLite with
/// `SELECT … ORDER BY seq` over the same payload bytes (a JSON and a binary database) decoded by the same decoders,
/// and — labelled as what a GRDB user writes today — its JSON decoded by Foundation's `JSONDecoder`. Strata's
/// SQLite backend (`SQLiteEventStore`, the same `Projection`) rebuilds from its own database of the same events, and
/// its PostgreSQL backend (`PostgresEventStore`) from two schemas of the same events on the run's server (built for
/// each run: the server is a throw-away one).
enum P4 {
    static func run(events: Int, streams: Int, directory: String, postgres: PostgresServer?, report: Report) async throws {
        let me = try selfExecutable()
        let size = ["--events", "\(events)", "--streams", "\(streams)"]
        let name = "v\(CartsData.dataVersion)-\(events)-\(streams)"
        let stores = ["strata-json", "strata-binary", "sqlite", "sqlite-binary", "strata-sqlite", "strata-sqlite-binary"]
        func path(_ store: String) -> String { directory + "/p4-\(store)-\(name)" + (store.contains("sqlite") ? ".db" : "") }
        for store in stores where !FileManager.default.fileExists(atPath: path(store) + ".complete") {
            say("  building the P4 \(store) store (once; kept in \(directory)/)")
            try runChild(me, ["p4-build", store, path(store)] + size)
            _ = FileManager.default.createFile(atPath: path(store) + ".complete", contents: nil)
        }
        // Engine → the store it reads.
        var engines = [
            ("strata-json", "strata-json"), ("strata-binary", "strata-binary"), ("strata-json-lazy", "strata-json"),
            ("strata-binary-lazy", "strata-binary"), ("sqlite-json", "sqlite"),
            ("sqlite-binary", "sqlite-binary"), ("sqlite-jsondecoder", "sqlite"), ("strata-sqlite-json", "strata-sqlite"),
            ("strata-sqlite-binary", "strata-sqlite-binary"),
        ]
        var locations: [String: String] = [:]
        if let postgres {
            for (engine, schema) in [("strata-postgres-json", "bench_p4_json"), ("strata-postgres-binary", "bench_p4_binary")] {
                locations[engine] = postgres.url(schema: schema)
                say("  building the P4 \(engine) store (schema \(schema))")
                try runChild(me, ["p4-build", engine, locations[engine]!] + size)
                engines.append((engine, engine))
            }
        }
        let resultFile = directory + "/p4-result.txt"
        var results: [String: [String: Double]] = [:]
        for (engine, store) in engines {
            progress("P4 rebuilding over \(engine)")
            unlink(resultFile)
            try runChild(me, ["p4-probe", engine, locations[store] ?? path(store), "--result", resultFile])
            results[engine] = try ChildResult.read(resultFile)
        }
        progressDone()
        let reference = results["sqlite-jsondecoder"]!
        guard results.values.allSatisfy({ $0["events"] == Double(events) && $0["checksum"] == reference["checksum"] }) else {
            throw ValidationError("P4: the engines folded different events or states: \(results)")
        }
        for (engine, _) in engines {
            for (field, value) in results[engine]! { report.record("p4.\(engine).\(field)", value) }
        }
        // The floor under every row: the same batched reads with nothing decoded or folded.
        progress("P4 scanning the binary store without decoding")
        unlink(resultFile)
        try runChild(me, ["p4-probe", "strata-scan", path("strata-binary"), "--result", resultFile])
        progressDone()
        let scan = try ChildResult.read(resultFile)
        guard scan["events"] == Double(events) else { throw ValidationError("P4 scan read \(scan["events"] ?? 0) events") }
        let floor = scan["events_per_s"]!
        report.record("p4.strata-scan.events_per_s", floor)
        for (label, key, goal) in [("binary", "binary", 0.35), ("JSON", "json", 0.25)] {
            let strata = results["strata-\(key)"]!, sqlite = results["sqlite-\(key)"]!
            let rate = strata["events_per_s"]!
            report.record("p4.strata-\(key).floor_fraction", rate / floor)
            report.row(
                "P4 rebuild a multi-projection, both \(label) @Event fields (events/s; \(fixed(rate / floor, 2)) of the floor)",
                strata: grouped(rate), sqlite: grouped(sqlite["events_per_s"]!), ratio: rate / sqlite["events_per_s"]!,
                goal: "≥ \(fixed(goal, 2)) of the floor", met: rate / floor >= goal, goalKey: "p4_\(key)")
            let allowed = strata["state_mib"]! + 64
            report.row(
                "P4 peak RSS growth over the open store (\(label), MiB; state ~\(fixed(strata["state_mib"]!, 1)))",
                strata: fixed(strata["rss_growth_mib"]!, 1), sqlite: fixed(sqlite["rss_growth_mib"]!, 1),
                ratio: sqlite["rss_growth_mib"]! / max(strata["rss_growth_mib"]!, 0.1),
                goal: "≤ state + 64", met: strata["rss_growth_mib"]! <= allowed, goalKey: "p4_rss_\(key)")
        }
        for (label, key, goal) in [("binary", "binary", 0.35), ("JSON", "json", 0.25)] {
            // (No SQLite column: its rows decode every field, as the rows above do.)
            let rate = results["strata-\(key)-lazy"]!["events_per_s"]!
            report.record("p4.strata-\(key)-lazy.floor_fraction", rate / floor)
            report.row(
                "P4 the same fold over lazy events (`.Lazy`, 2 of 7 fields read), \(label) (events/s; \(fixed(rate / floor, 2)) of the floor)",
                strata: grouped(rate), goal: "≥ \(fixed(goal, 2)) of the floor", met: rate / floor >= goal)
        }
        for (label, key) in [("binary", "binary"), ("JSON", "json")] {
            let backend = results["strata-sqlite-\(key)"]!, sqlite = results["sqlite-\(key)"]!
            report.row(
                "P4 (\(label)) on Strata's SQLite backend, events/s (RSS growth MiB); native \(grouped(results["strata-\(key)"]!["events_per_s"]!))",
                strata: "\(grouped(backend["events_per_s"]!)) (\(fixed(backend["rss_growth_mib"]!, 1)))",
                sqlite: "\(grouped(sqlite["events_per_s"]!)) (\(fixed(sqlite["rss_growth_mib"]!, 1)))",
                ratio: backend["events_per_s"]! / sqlite["events_per_s"]!)
        }
        for (label, key) in [("binary", "binary"), ("JSON", "json")] {
            guard let onPostgres = results["strata-postgres-\(key)"], let sqlite = results["sqlite-\(key)"] else { continue }
            report.row(
                "P4 (\(label)) on PostgreSQL (StrataPostgres), events/s (RSS growth MiB); native \(grouped(results["strata-\(key)"]!["events_per_s"]!))",
                strata: "\(grouped(onPostgres["events_per_s"]!)) (\(fixed(onPostgres["rss_growth_mib"]!, 1)))",
                sqlite: "\(grouped(sqlite["events_per_s"]!)) (\(fixed(sqlite["rss_growth_mib"]!, 1)))",
                ratio: onPostgres["events_per_s"]! / sqlite["events_per_s"]!)
        }
        if let postgres {
            for schema in ["bench_p4_json", "bench_p4_binary"] {
                try await PostgresServer.drop(try await PostgresServer.connect(postgres.url(schema: schema)))
            }
        }
        let strataJSON = results["strata-json"]!["events_per_s"]!, user = reference["events_per_s"]!
        report.row(
            "P4: what a GRDB user writes today (SQLite, Foundation JSONDecoder); Strata JSON (events/s)",
            strata: grouped(strataJSON), sqlite: grouped(user), ratio: strataJSON / user)
        report.row("P4 floor: the same reads over the binary store, nothing decoded (events/s)", strata: grouped(floor))
    }
}

/// Child: builds a P4 store from the P5 carts data (not measured; no fdatasync).
struct P4Build: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "p4-build", shouldDisplay: false)
    @Argument var engine: String
    @Argument var path: String
    @OptionGroup var size: P5Size

    func run() async throws {
        if engine.hasPrefix("strata-postgres") {
            // Strata's PostgreSQL backend in a fresh schema, 100 appends per transaction through
            // `append(_:expecting:in:)` (not measured).
            let store = try await PostgresServer.freshStore(url: path)
            let binary = engine == "strata-postgres-binary"
            var pending: [[EventRecord]] = []
            try P5.forEachBatch(events: size.events, streams: size.streams) { batch in
                pending.append(binary ? try batch.map(Self.binaryRecord) : batch)
            }
            for start in stride(from: 0, to: pending.count, by: 100) {
                let group = pending[start..<min(start + 100, pending.count)]
                try await store.client.withTransaction(logger: store.observability.logger) { connection in
                    for batch in group { try await store.append(batch, in: connection) }
                }
                if start % 1_000 == 0 { progress("P4 \(engine) store: \(grouped(Double(start * 100))) events") }
            }
            progressDone()
            await store.close()
            return
        }
        if engine.hasPrefix("strata-sqlite") {
            // Strata's SQLite backend in a database the builder configures (synchronous = OFF: not measured), 100
            // appends per transaction through `append(_:expecting:in:)`.
            SQLiteBaseline.remove(path)
            var configuration = Configuration()
            configuration.journalMode = .wal
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = OFF") }
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            let store = try SQLiteEventStore(writer: queue)
            let binary = engine == "strata-sqlite-binary"
            var pending: [[EventRecord]] = []
            func flush() throws {
                try queue.write { db in for batch in pending { try store.append(batch, in: db) } }
                pending.removeAll(keepingCapacity: true)
            }
            try P5.forEachBatch(events: size.events, streams: size.streams) { batch in
                pending.append(binary ? try batch.map(Self.binaryRecord) : batch)
                if pending.count == 100 { try flush() }
            }
            try flush()
            try store.close()
            try queue.close()
            return
        }
        if engine.hasPrefix("sqlite") {
            SQLiteBaseline.remove(path)
            let sqlite = try SQLiteBaseline(path: path, sync: .off)
            let binary = engine == "sqlite-binary"
            var pending: [[EventRecord]] = []
            try P5.forEachBatch(events: size.events, streams: size.streams) { batch in
                pending.append(binary ? try batch.map(Self.binaryRecord) : batch)
                if pending.count == 100 {
                    try sqlite.appendInOneTransaction(pending)
                    pending.removeAll(keepingCapacity: true)
                }
            }
            if !pending.isEmpty { try sqlite.appendInOneTransaction(pending) }
            try sqlite.close()
            return
        }
        removeTree(path)
        let store = try LogStore.open(at: path, options: LogStore.Options(durability: .never))
        let binary = engine == "strata-binary"
        var batches: [[EventRecord]] = []
        try P5.forEachBatch(events: size.events, streams: size.streams) { batch in
            batches.append(binary ? try batch.map(Self.binaryRecord) : batch)
        }
        for (n, batch) in batches.enumerated() {
            try await store.append(batch)
            if n % 1_000 == 0 { progress("P4 \(engine) store: \(grouped(Double(n * 100))) events") }
        }
        progressDone()
        try await store.close()
    }

    /// The record with its JSON payload re-encoded by the binary codec.
    static func binaryRecord(_ record: EventRecord) throws -> EventRecord {
        var copy = record
        let codec = BinaryEventCodec(), json = JSONEventCodec()
        copy.payload = try record.payload.withUnsafeBytes { bytes in
            switch record.typeName {
            case BenchItemAdded.eventType: try codec.encode(try json.decode(BenchItemAdded.self, from: bytes))
            case BenchItemRemoved.eventType: try codec.encode(try json.decode(BenchItemRemoved.self, from: bytes))
            default: try codec.encode(try json.decode(BenchCheckedOut.self, from: bytes))
            }
        }
        return copy
    }
}

/// Child: opens a P4 store in this fresh process and rebuilds the projection; reports events/s and memory.
struct P4Probe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "p4-probe", shouldDisplay: false)
    @Argument var engine: String
    @Argument var path: String
    @Option var result: String

    func run() async throws {
        var values: [String: Double] = [:]
        let state: CartsOverview.State
        var events = 0
        let rssOpen: Double
        let start: ContinuousClock.Instant
        /// When the rebuild ended, for a probe that does more after it (nil: the clock stops after the branch).
        var stopped: ContinuousClock.Instant?
        if engine.hasPrefix("sqlite") {
            let decoder: CartDecoder = switch engine {
            case "sqlite-json": .fields(JSONEventCodec())
            case "sqlite-binary": .fields(BinaryEventCodec())
            default: .foundation
            }
            let sqlite = try SQLiteBaseline(path: path)
            rssOpen = residentMiB()
            start = ContinuousClock.now
            (state, events) = try Self.sqliteRebuild(sqlite, decoder)
            try sqlite.close()
        } else if engine == "strata-scan" {
            // Not a P4 row: the floor under it. Every record read through the same batched `readAll` a projection
            // uses (frames read, checksummed, decompressed, records split), no payload decoded, no fold.
            let store = try NativeEventStore(path: path)
            rssOpen = residentMiB()
            start = ContinuousClock.now
            var position: UInt64?
            var touched = 0
            while let last = try await store.readAll(after: position, limit: 1_024, { record, _ in
                touched &+= record.payload.count &+ record.typeNameBytes.count
            }) { position = last }
            events = Int(position ?? 0)
            state = CartsOverview.State()
            values["payload_bytes"] = Double(touched)
            try await store.close()
        } else if engine.hasPrefix("strata-postgres") {
            let store = try await PostgresServer.connect(path)
            rssOpen = residentMiB()
            start = ContinuousClock.now
            let folded: CartsOverview.State
            (folded, _) = try await Self.rebuildReturningPosition(store, binary: engine == "strata-postgres-binary")
            stopped = ContinuousClock.now
            state = folded
            // (Positions are not a count here: the rows are counted after the clock stopped.)
            var count = 0
            try await store.readAll(after: nil, limit: .max) { _, _ in count += 1 }
            events = count
            await store.close()
        } else if engine.hasPrefix("strata-sqlite") {
            let store = try SQLiteEventStore(path: path)
            rssOpen = residentMiB()
            start = ContinuousClock.now
            (state, events) = try await Self.rebuild(store, binary: engine == "strata-sqlite-binary")
            try store.close()
        } else if engine.hasSuffix("-lazy") {
            let store = try NativeEventStore(path: path)
            rssOpen = residentMiB()
            start = ContinuousClock.now
            let projection = Projection(CartsOverviewLazy.self, store: store, codec: engine.contains("binary") ? BinaryEventCodec() : JSONEventCodec(), useSnapshots: false)
            events = Int(try await projection.catchUp() ?? 0)
            state = projection.state
            try await store.close()
        } else {
            let store = try NativeEventStore(path: path)
            rssOpen = residentMiB()
            start = ContinuousClock.now
            (state, events) = try await Self.rebuild(store, binary: engine == "strata-binary")
            try await store.close()
        }
        let elapsed = seconds((stopped ?? ContinuousClock.now) - start)
        values["events"] = Double(events)
        values["events_per_s"] = Double(events) / elapsed
        values["rss_open_mib"] = rssOpen
        values["rss_peak_mib"] = peakResidentMiB()
        values["rss_growth_mib"] = peakResidentMiB() - rssOpen
        values["state_mib"] = CartsOverview.estimatedBytes(state) / 1_048_576
        values["open_carts"] = Double(state.openCarts.values.reduce(0) { $0 + $1.count })
        // The same state from every engine: a digest of it.
        var checksum = 0
        for (tenant, items) in state.items { for (item, quantity) in items { checksum &+= (tenant + item).utf8.reduce(0) { $0 &* 31 &+ Int($1) } &* quantity } }
        checksum &+= Int(values["open_carts"]!)
        values["checksum"] = Double(checksum & 0xFFFF_FFFF)
        try ChildResult.write(values, to: result)
    }

    /// Strata's rebuild on any backend: every event from the first (no snapshot to start from, none written). The
    /// stores are built in one go, so positions run 1…n on both backends and the last one is the count.
    static func rebuild<Store: EventStore>(_ store: Store, binary: Bool) async throws -> (CartsOverview.State, Int)
    where Store.Position == UInt64 {
        let (state, last) = try await rebuildReturningPosition(store, binary: binary)
        return (state, Int(last ?? 0))
    }

    /// The rebuild on any backend; returns the state and the last position.
    static func rebuildReturningPosition<Store: EventStore>(_ store: Store, binary: Bool) async throws -> (CartsOverview.State, Store.Position?) {
        let codec: any EventCodec = binary ? BinaryEventCodec() : JSONEventCodec()
        let projection = Projection(CartsOverview.self, store: store, codec: codec, useSnapshots: false)
        let last = try await projection.catchUp()
        return (projection.state, last)
    }

    /// SQLite's rebuild: every event in sequence order, its payload decoded in place (GRDB's no-copy view of the
    /// BLOB) by `decoder`, the same fold.
    static func sqliteRebuild(_ sqlite: SQLiteBaseline, _ decoder: CartDecoder) throws -> (CartsOverview.State, Int) {
        try sqlite.queue.read { db in
            var folded = CartsOverview.State()
            var events = 0
            let json = JSONDecoder()
            let rows = try Row.fetchCursor(db, sql: "SELECT tenant, aggregate_id, version, type, payload FROM events ORDER BY seq")
            while let row = try rows.next() {
                let type: String = row[3]
                let event = try row.withUnsafeData(atIndex: 4) { payload in
                    guard let payload else { throw POSIXError(.EBADMSG) }
                    return try payload.withUnsafeBytes { try decoder.decode(type: type, payload: $0, json: json) }
                }
                CartsOverview.fold(&folded, event, tenant: row[0], version: UInt64(row[2] as Int64), id: row[1])
                events += 1
            }
            return (folded, events)
        }
    }
}
