import Foundation

/// Which events of the global stream a subscription or a projection receives: by tenant, by group (aggregate
/// type) and by event type name; each `nil` set lets everything through — except Strata's own events (tenant
/// `systemTenant`, e.g. durable subscriptions' checkpoints), which only a filter naming that tenant receives.
/// Matching compares the stored bytes (no strings are made for events that are left out).
public struct EventFilter: Sendable, Hashable {
    /// The tenants let through (nil: every tenant).
    public var tenants: Set<String>?
    /// The groups let through (nil: every group).
    public var groups: Set<String>?
    /// The event type names let through (nil: every type).
    public var eventTypes: Set<String>?

    /// Every event.
    public static let all = EventFilter()

    /// The events of one tenant.
    public static func tenant(_ tenant: String) -> EventFilter { EventFilter(tenants: [tenant]) }

    /// A filter; each `nil` lets everything through.
    public init(tenants: Set<String>? = nil, groups: Set<String>? = nil, eventTypes: Set<String>? = nil) {
        self.tenants = tenants
        self.groups = groups
        self.eventTypes = eventTypes
    }

    /// The filter as byte strings, for matching stored records.
    @usableFromInline struct Matcher: Sendable {
        @usableFromInline let tenants: [[UInt8]]?
        @usableFromInline let groups: [[UInt8]]?
        @usableFromInline let eventTypes: [[UInt8]]?
        /// Whether the filter names the system tenant (else its events are left out).
        @usableFromInline let system: Bool
        @usableFromInline static let systemBytes = [Array(systemTenant.utf8)]

        @usableFromInline init(_ filter: EventFilter) {
            tenants = filter.tenants.map { $0.map { Array($0.utf8) } }
            groups = filter.groups.map { $0.map { Array($0.utf8) } }
            eventTypes = filter.eventTypes.map { $0.map { Array($0.utf8) } }
            system = filter.tenants?.contains(systemTenant) ?? false
        }

        @inlinable func matches(_ event: EventView) -> Bool {
            Self.contains(tenants, event.tenantBytes) && Self.contains(groups, event.groupBytes)
                && Self.contains(eventTypes, event.typeNameBytes) && (system || !Self.contains(Self.systemBytes, event.tenantBytes))
        }

        @inlinable static func contains(_ values: [[UInt8]]?, _ bytes: UnsafeRawBufferPointer) -> Bool {
            guard let values else { return true }
            return values.contains { value in
                value.count == bytes.count && (bytes.isEmpty || value.withUnsafeBytes { memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 })
            }
        }
    }
}

/// The events of the global stream after a position, in order, that match a filter: first those stored already
/// (catch-up), then each new one as it is appended (live), for as long as it is iterated.
///
/// There is no switch between catch-up and live that could lose or repeat an event: the iterator always reads
/// the store after the last position it delivered, and when it has read everything it waits
/// (`EventStore.waitForEvents(after:)`) for an append past that position. So every matching event is delivered
/// exactly once, in global order, whatever is appended meanwhile.
///
/// Backpressure: events are read from the store only when the consumer asks for the next one, at most
/// `batchSize` records at a time; a slow consumer holds at most one batch in memory and never makes the store
/// buffer anything.
///
/// Iteration ends by throwing: `CancellationError` when the consuming task is cancelled while waiting,
/// `EventStoreError.closed` when the store is closed, or the store's read error (an `EventStoreError`).
///
/// ```swift
/// for try await event in store.subscribe(after: checkpoint, filter: .tenant("acme")) {
///     if case .registered(let cartEvent) = try event.decode(Cart.events) { handle(cartEvent) }
///     checkpoint = event.position
/// }
/// ```
public struct EventSubscription<Store: EventStore>: AsyncSequence, Sendable {
    public typealias Element = SubscribedEvent<Store.Position>
    public typealias Failure = any Error

    let store: Store
    let start: Store.Position?
    let matcher: EventFilter.Matcher
    let batchSize: Int

    /// An iterator from the subscription's start.
    public func makeAsyncIterator() -> Iterator {
        Iterator(store: store, position: start, matcher: matcher, batchSize: batchSize)
    }

    /// Reads a batch at a time and hands out its events one by one.
    public struct Iterator: AsyncIteratorProtocol {
        let store: Store
        /// The last position read from the store (delivered or filtered out).
        var position: Store.Position?
        let matcher: EventFilter.Matcher
        let batchSize: Int
        var buffer: [Element] = []
        var next = 0

        /// The next matching event, waiting for it when everything stored has been read.
        public mutating func next() async throws -> Element? {
            while next == buffer.count {
                var batch: [Element] = []
                swap(&batch, &buffer)  // (the buffer's storage, held once, so appends do not copy it)
                batch.removeAll(keepingCapacity: true)
                next = 0
                let matcher = self.matcher
                let last = try await store.readAll(after: position, limit: batchSize) { event, position in
                    if matcher.matches(event) { batch.append(Element(event, at: position)) }
                }
                buffer = batch
                if let last {
                    position = last
                } else {
                    try await store.waitForEvents(after: position)
                }
            }
            defer { next += 1 }
            return buffer[next]
        }
    }
}

extension EventStore {
    /// The events after `position` (nil: from the first) that match `filter`, caught up and then live; see
    /// `EventSubscription`. `batchSize` bounds how many records one read takes from the store.
    public func subscribe(after position: Position? = nil, filter: EventFilter = .all, batchSize: Int = 256) -> EventSubscription<Self> {
        precondition(batchSize > 0, "a subscription reads at least one record at a time")
        return EventSubscription(store: self, start: position, matcher: EventFilter.Matcher(filter), batchSize: batchSize)
    }
}
