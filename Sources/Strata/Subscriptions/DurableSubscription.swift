import Foundation
import Synchronization

/// The tenant of Strata's own streams (durable subscriptions' checkpoints). Subscriptions and projections leave
/// its events out unless their filter names it.
public let systemTenant = "_strata"

/// A subscription with a name whose checkpoint is kept in the store itself, so that it resumes after a restart
/// where it left off: iterate it like `EventSubscription`, and `commit(_:)` the position of each event (or of
/// every hundredth) once it is handled. Each iteration starts after the last checkpoint committed (as after a
/// restart).
///
/// Delivery is **at least once**: events after the last committed checkpoint are delivered again after a restart
/// (those handled but not committed yet), so handling must tolerate seeing an event twice — e.g. by remembering
/// the last position it applied. One consumer per name: a `commit` by a second consumer of the same name that
/// committed in between fails with `EventStoreError.versionConflict`.
///
/// Checkpoints are events of type `strata.checkpoint` in the stream `_strata/subscription/<name>` (JSON
/// `{"position": "…"}`, the position's string form — stores written before that kept a number, which still
/// reads); reading the checkpoint reads that stream's last event. So every backend keeps them the same way, in its
/// own events.
public final class DurableSubscription<Store: EventStore>: AsyncSequence, Sendable {
    public typealias Element = SubscribedEvent<Store.Position>
    public typealias Failure = any Error

    /// The subscription's name.
    public let name: String
    /// The checkpoint it resumed from when it was made (nil: from the first event).
    public let resumedFrom: Store.Position?
    let store: Store
    let filter: EventFilter
    let batchSize: Int
    /// The checkpoint stream's version as this consumer last saw it, and the checkpoint.
    let committed: Mutex<(version: UInt64, position: Store.Position?)>

    init(name: String, store: Store, resumedFrom: Store.Position?, version: UInt64, filter: EventFilter, batchSize: Int) {
        self.name = name
        self.store = store
        self.resumedFrom = resumedFrom
        self.filter = filter
        self.batchSize = batchSize
        self.committed = Mutex((version, resumedFrom))
    }

    /// The last checkpoint committed (nil: none).
    public var checkpoint: Store.Position? { committed.withLock { $0.position } }

    /// An iterator from the last checkpoint committed.
    public func makeAsyncIterator() -> EventSubscription<Store>.Iterator {
        store.subscribe(after: checkpoint, filter: filter, batchSize: batchSize).makeAsyncIterator()
    }

    /// Saves `position` as the checkpoint: after a restart the subscription resumes after it.
    public func commit(_ position: Store.Position) async throws {
        let expected = committed.withLock { $0.version }
        let record = try Self.checkpointRecord(name, position)
        let receipt = try await store.append([record], expecting: [record.key: .exactly(expected)])
        committed.withLock { $0 = (receipt.versions[record.key] ?? expected + 1, position) }
    }

    static var checkpointType: String { CheckpointEvents.typeName }

    static func streamKey(_ name: String) throws(EventStoreError) -> PartitionKey {
        do throws(PartitionKeyError) {
            return try PartitionKey.validated(tenant: systemTenant, group: "subscription", id: name)
        } catch {
            throw .invalidKey(error)
        }
    }

    static func checkpointRecord(_ name: String, _ position: Store.Position) throws -> EventRecord {
        EventRecord(
            key: try streamKey(name), typeName: checkpointType, typeVersion: 1, timestampMicros: wallClockMicros(),
            eventId: .random(), metadata: RecordMetadata(), payload: try CheckpointEvents.payload(position: position.description))
    }
}

/// Durable subscriptions' checkpoint events as tools see them (`strata copy` gives a copied checkpoint the
/// destination's position of the event it names).
package enum CheckpointEvents {
    package static let typeName = "strata.checkpoint"

    /// Whether an event is a checkpoint: its stream and type.
    package static func isCheckpoint(tenant: String, group: String, typeName: String) -> Bool {
        tenant == systemTenant && group == "subscription" && typeName == Self.typeName
    }

    /// The position (string form) a checkpoint event's payload names; nil when the payload is not a checkpoint's.
    package static func position(_ payload: UnsafeRawBufferPointer) -> String? {
        try? JSONEventCodec().decode(Payload.self, from: payload).position
    }

    /// A checkpoint event's payload naming `position`.
    package static func payload(position: String) throws -> [UInt8] {
        try JSONEventCodec().encode(Payload(position: position))
    }

    /// The checkpoint event's payload: the position's string form (a number in stores written before).
    struct Payload: Codable {
        var position: String

        init(position: String) { self.position = position }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            if let number = try? container.decode(UInt64.self, forKey: .position) {
                position = "\(number)"
            } else {
                position = try container.decode(String.self, forKey: .position)
            }
        }
    }
}

extension EventStore {
    /// The last checkpoint committed by the durable subscription `name` (nil: none) and its stream's version.
    public func checkpoint(of name: String) async throws -> Position? {
        try await checkpointAndVersion(of: name).position
    }

    func checkpointAndVersion(of name: String) async throws -> (position: Position?, version: UInt64) {
        let key = try DurableSubscription<Self>.streamKey(name)
        let version = try await version(of: key)
        guard version > 0 else { return (nil, 0) }
        var text: String?
        try await readStream(key, from: version, through: version, asOf: nil, limit: 1) { event, _ in
            guard event.typeName == DurableSubscription<Self>.checkpointType else { return }
            text = CheckpointEvents.position(event.payload)
        }
        guard let text, let position = Position(text) else {
            throw EventStoreError.invalidEvent(
                index: 0, reason: "the last event of \(key) is not a checkpoint of subscription \(quotedForMessage(name)) that this store reads")
        }
        return (position, version)
    }

    /// The durable subscription `name`: the events after its last checkpoint that match `filter`, caught up and
    /// then live (see `DurableSubscription`, `EventSubscription`).
    public func durableSubscription(_ name: String, filter: EventFilter = .all, batchSize: Int = 256) async throws -> DurableSubscription<Self> {
        let (position, version) = try await checkpointAndVersion(of: name)
        precondition(batchSize > 0, "a subscription reads at least one record at a time")
        return DurableSubscription(name: name, store: self, resumedFrom: position, version: version, filter: filter, batchSize: batchSize)
    }
}
