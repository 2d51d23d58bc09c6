import ArgumentParser
import Strata
import StrataPostgres
import StrataSQLite
import StrataStorage

/// Runs counter commands through a `CommandExecutor` on an SQLite store or a PostgreSQL store, from many tasks at
/// once: what the multi-process tests start twice on one store (no lost update, no version written twice).
struct CommandLoop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "command-loop",
        abstract: "Execute counter commands on an SQLite or PostgreSQL store from many tasks (for multi-process tests).",
        shouldDisplay: false)

    @Argument(help: "An SQLite store file, or a PostgreSQL URL (postgres://…, schema in ?schema=).") var path: String
    @Option(help: "Concurrent tasks.") var tasks = 32
    @Option(help: "Commands per task.") var commands = 20
    @Option(help: "Aggregates the commands go to (at random).") var aggregates = 200
    @Option(help: "A seed for the choice of aggregates.") var seed: UInt64 = 1

    func run() async throws {
        if path.hasPrefix("postgres://") || path.hasPrefix("postgresql://") {
            let store = try await PostgresEventStore.connect(url: path)
            try await execute(on: store)
            await store.close()
        } else {
            let store = try SQLiteEventStore(path: path)
            try await execute(on: store)
            try store.close()
        }
    }

    private func execute<Store: EventStore>(on store: Store) async throws {
        let executor = CommandExecutor(store: store, maxAttempts: 10_000)
        let aggregates = self.aggregates, commands = self.commands, seed = self.seed
        try await withThrowingTaskGroup(of: Int.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    var rng = SplitMix64(seed: seed &* 1_000_003 &+ UInt64(task))
                    var retries = 0
                    for _ in 0..<commands {
                        let id = Int(rng.next() % UInt64(aggregates))
                        let result = try await executor.execute(Increment(key: PartitionKey(tenant: "t", group: Tally.group, id: "a\(id)")))
                        retries += result.attempts - 1
                    }
                    return retries
                }
            }
            var retries = 0
            for try await taskRetries in group { retries += taskRetries }
            writeLine("executed \(tasks * commands) commands, \(retries) retries after conflicts")
        }
    }
}

/// A counter: how many `Incremented` events.
enum Tally: AggregateProjector {
    enum Events { case incremented(Incremented) }
    static let group = "Tally"
    static let events = EventTypes<Events>().on(Incremented.self, Events.incremented)
    static let initialState = 0
    static func apply(_ state: consuming Int, _ event: Events) throws -> Int { state + 1 }
}

struct Incremented: Event {
    static let eventType = "Incremented"
    /// The count the command saw: the event's version minus 1 when no update was lost.
    var before: Int
}

struct Increment: Command {
    typealias Projector = Tally
    var key: PartitionKey
    func handle(_ tally: Aggregate<Tally>) throws -> [any Event] { [Incremented(before: tally.state)] }
}
