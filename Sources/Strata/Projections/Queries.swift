/// One page of a list query: the items of the page, and how many there are in all.
public struct QueryPage<Item> {
    /// The items of this page, in order.
    public var items: [Item]
    /// How many items matched the query, on all pages.
    public var totalCount: Int
    /// How many pages of `pageSize` the matching items fill (0 when nothing matched).
    public var totalPages: Int
    /// This page's number, from 1.
    public var page: Int
    /// The largest number of items on a page.
    public var pageSize: Int
}

extension QueryPage: Sendable where Item: Sendable {}
extension QueryPage: Equatable where Item: Equatable {}
/// As `{"items": […], "totalCount": …, "totalPages": …, "page": …, "pageSize": …}` (what StrataHTTP's query
/// routes answer).
extension QueryPage: Codable where Item: Codable {}

/// A list query's paging was out of range.
public struct QueryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was out of range.
    public var reason: String
    /// The reason.
    public var description: String { reason }
}

extension Sequence {
    /// The items that satisfy `filter`, ordered by `areInIncreasingOrder` (nil: in the sequence's order; the sort
    /// is stable), cut into pages of `pageSize`: page `page` (from 1). A page past the last one is empty. Throws
    /// `QueryError` when `page` or `pageSize` is below 1.
    public func page(
        where filter: (Element) throws -> Bool = { _ in true }, sortedBy areInIncreasingOrder: ((Element, Element) throws -> Bool)? = nil,
        page: Int, pageSize: Int
    ) throws -> QueryPage<Element> {
        guard page >= 1 else { throw QueryError(reason: "page \(page): pages are numbered from 1") }
        guard pageSize >= 1 else { throw QueryError(reason: "page size \(pageSize): a page holds at least one item") }
        var matching = try self.filter(filter)
        if let areInIncreasingOrder {
            // Stable: equal items keep the sequence's order (what a caller paging through expects).
            matching = try matching.enumerated().sorted { a, b in
                if try areInIncreasingOrder(a.element, b.element) { return true }
                if try areInIncreasingOrder(b.element, a.element) { return false }
                return a.offset < b.offset
            }.map(\.element)
        }
        let total = matching.count
        let (start, overflow) = (page - 1).multipliedReportingOverflow(by: pageSize)
        let items = overflow || start >= total ? [] : Array(matching[start..<(start + Swift.min(pageSize, total - start))])
        return QueryPage(items: items, totalCount: total, totalPages: total == 0 ? 0 : (total - 1) / pageSize + 1, page: page, pageSize: pageSize)
    }
}

extension Projection {
    /// A list query over the read model: the items `items` lists from the state, filtered, sorted and paged (see
    /// `Sequence.page(where:sortedBy:page:pageSize:)`). Runs under the projection's lock.
    public func list<Items: Sequence>(
        _ items: (borrowing Projector.State) -> Items, where filter: (Items.Element) throws -> Bool = { _ in true },
        sortedBy areInIncreasingOrder: ((Items.Element, Items.Element) throws -> Bool)? = nil, page: Int = 1, pageSize: Int = 50
    ) throws -> QueryPage<Items.Element> {
        try read { state in try items(state).page(where: filter, sortedBy: areInIncreasingOrder, page: page, pageSize: pageSize) }
    }
}

/// Every aggregate of one group as a list of states: the built-in multi-projection behind list queries over
/// aggregates. Folds each aggregate's events with its own projector (events of types it has not registered are
/// passed over, as in every projection).
///
/// ```swift
/// let carts = Projection(AggregateList<Cart>.self, store: store)
/// try await carts.catchUp()
/// let open = try carts.list({ $0.aggregates.values }, where: { $0.state.isOpen }, page: 1, pageSize: 20)
/// ```
public enum AggregateList<Aggregate: AggregateProjector>: MultiProjector {
    /// One aggregate: its key, state and version.
    public struct Entry: Sendable {
        /// The aggregate's partition key.
        public var key: PartitionKey
        /// Its state after its events so far.
        public var state: Aggregate.State
        /// The version of its last event folded in.
        public var version: UInt64
    }

    /// The aggregates of the group.
    public struct State: Sendable {
        /// Every aggregate of the group seen so far, by key.
        public var aggregates: [PartitionKey: Entry] = [:]
    }

    /// `aggregate-list.` and the aggregate's projector name.
    public static var projectorName: String { "aggregate-list." + Aggregate.projectorName }
    /// The aggregate's projector version.
    public static var projectorVersion: Int { Aggregate.projectorVersion }
    /// The aggregate's events.
    public static var events: EventTypes<Aggregate.Events> { Aggregate.events }
    /// The aggregate's group.
    public static var filter: EventFilter { EventFilter(groups: [Aggregate.group]) }
    /// No aggregates.
    public static var initialState: State { State() }

    /// Folds the event into its aggregate's entry with the aggregate's projector.
    public static func apply(_ state: inout State, _ event: Aggregate.Events, _ context: EventContext) throws {
        let key = context.key
        // The aggregate's state is copied into `apply` (a failure leaves the list as it was).
        let current = state.aggregates[key]?.state ?? Aggregate.initialState
        state.aggregates[key] = Entry(key: key, state: try Aggregate.apply(current, event), version: context.version)
    }
}
