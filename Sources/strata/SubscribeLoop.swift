import ArgumentParser
import Strata
import StrataPostgres

/// Runs a durable subscription and a snapshotting projection over the counters `command-loop` writes, on a
/// PostgreSQL store, printing what it handles: what the kill tests start, kill with SIGKILL and start again.
struct SubscribeLoop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subscribe-loop",
        abstract: "Run a durable subscription and a projection on a PostgreSQL store, printing each event (for kill tests).",
        shouldDisplay: false)

    @Argument(help: "A PostgreSQL URL (postgres://…, schema in ?schema=).") var url: String
    @Option(help: "The durable subscription's name.") var name = "kill-test"
    @Option(help: "Commit a checkpoint every this many events.") var every = 10
    @Option(help: "Stop after handling this many events.") var stopAfter = Int.max
    @Option(help: "After handling this many events, print 'waiting' and wait to be killed.") var waitAfter = Int.max

    func run() async throws {
        let store = try await PostgresEventStore.connect(url: url)
        // The projection first: it starts from its latest snapshot and catches up, snapshotting as it goes.
        let projection = Projection(TallyCounts.self, store: store)
        let reached = try await projection.catchUp()
        writeLine("projection restored-from \(projection.restoredFrom.map { "\($0)" } ?? "none") reached \(reached.map { "\($0)" } ?? "none") total \(projection.state.values.reduce(0, +))")
        let subscription = try await store.durableSubscription(name, filter: EventFilter(groups: [Tally.group]))
        writeLine("subscription resumed-after \(subscription.resumedFrom.map { "\($0)" } ?? "none")")
        var handled = 0
        guard stopAfter > 0 else { return await store.close() }
        for try await event in subscription {
            writeLine("event \(event.position)")
            handled += 1
            if handled % every == 0 {
                try await subscription.commit(event.position)
                writeLine("checkpoint \(event.position)")
                _ = try await projection.catchUp()
            }
            if handled >= stopAfter { break }
            if handled == waitAfter {
                writeLine("waiting")
                try await Task.sleep(for: .seconds(3600))
            }
        }
        await store.close()
    }
}

/// How many `Incremented` events each counter has, snapshotted every 25 events of the global order.
enum TallyCounts: MultiProjector {
    enum Events { case incremented(Incremented) }
    static let projectorName = "tally-counts"
    static let events = EventTypes<Events>().on(Incremented.self, Events.incremented)
    static let initialState: [String: Int] = [:]
    static var snapshotPolicy: ProjectionSnapshotPolicy { .every(events: 25, seconds: 3600) }
    static func apply(_ state: inout [String: Int], _ event: Events, _ context: EventContext) throws {
        state[context.key.id, default: 0] += 1
    }
}
