import Foundation
import Strata

/// The suite's events: a counter that is added to, and a note with text of any kind.
struct Added: Event, Equatable, FieldDecodable {
    static let eventType = "conformance.Added"
    var amount: Int

    init(amount: Int) { self.amount = amount }

    init(fields: borrowing PayloadFields) throws {
        amount = try fields.decode(Int.self, forKey: "amount")
    }
}

struct Noted: Event, Equatable {
    static let eventType = "conformance.Noted"
    static let schemaVersion: UInt32 = 2
    var text: String
}

/// A counter aggregate: the sum of what was added, and how many notes.
enum Counter: AggregateProjector {
    struct State: Sendable, Codable, Equatable {
        var total = 0
        var notes = 0
    }

    enum Events {
        case added(Added)
        case noted(Noted)
    }

    static let group = "ConformanceCounter"
    static let events = EventTypes<Events>().on(Added.self, Events.added).on(Noted.self, Events.noted)
    static let initialState = State()
    static var snapshotPolicy: SnapshotPolicy { .every(4) }

    static func apply(_ state: consuming State, _ event: Events) throws -> State {
        switch event {
        case .added(let added): state.total += added.amount
        case .noted: state.notes += 1
        }
        return state
    }
}

/// Adds to a counter (creating it when it has no events).
struct Add: Command {
    typealias Projector = Counter
    var key: PartitionKey
    var amount: Int

    func handle(_ counter: Aggregate<Counter>) throws -> [any Event] { [Added(amount: amount)] }
}

/// The partition key of counter `id` in `tenant`.
func counter(_ id: String, tenant: String = "conformance") -> PartitionKey {
    PartitionKey(tenant: tenant, group: Counter.group, id: id)
}

/// A record of an `Added` event for `key`, with every field of the envelope set (`n` makes it unique).
func added(_ key: PartitionKey, _ n: Int, codec: any EventCodec = JSONEventCodec()) throws -> EventRecord {
    var record = try EventRecord(
        Added(amount: n), key: key, codec: codec,
        metadata: RecordMetadata(correlationId: EventID.random().description, causationId: "cause-\(n)", user: "user-\(n % 3)"),
        timestampMicros: 1_795_000_000_000_000 + Int64(n))
    record.typeVersion = Added.schemaVersion
    return record
}

/// A raw record with a payload of every byte value (backends store payloads as opaque bytes).
func opaque(_ key: PartitionKey, _ n: Int) -> EventRecord {
    EventRecord(
        key: key, typeName: "conformance.Opaque", typeVersion: 7, timestampMicros: -1_000 * Int64(n), eventId: .random(),
        metadata: RecordMetadata(), payload: (0..<256).map { UInt8(($0 + n) % 256) })
}

extension EventStore {
    /// Every event after `position`, read in pages of `page`.
    func everything(after position: Position? = nil, page: Int = 1_000) async throws -> [RecordedEvent<Position>] {
        var events: [RecordedEvent<Position>] = []
        var after = position
        while let last = try await readAll(after: after, limit: page, { events.append(RecordedEvent($0, at: $1)) }) {
            after = last
        }
        return events
    }
}
