import Strata

/// A read model over every cart: how many of each product sit in carts, per tenant (added, less removed; checked-out
/// carts count as sold and keep their items). A multi-projection: it folds the events of all carts in global order.
public enum ItemsPerProduct: MultiProjector {
    public struct State: Sendable, Equatable {
        /// tenant → product → quantity in its carts.
        public var quantities: [String: [String: Int]] = [:]
        /// What each cart holds now (a removal takes out what its cart held), by cart key.
        public var carts: [PartitionKey: [String: Int]] = [:]

        public init() {}
    }

    @EventSet
    public enum Events {
        case added(ItemAdded)
        case removed(ItemRemoved)
    }

    public static let projectorName = "items-per-product"
    public static let initialState = State()

    public static func apply(_ state: inout State, _ event: Events, _ context: EventContext) {
        let key = context.key
        switch event {
        case .added(let e):
            state.carts[key, default: [:]][e.product, default: 0] += e.quantity
            state.quantities[key.tenant, default: [:]][e.product, default: 0] += e.quantity
        case .removed(let e):
            let held = state.carts[key]?.removeValue(forKey: e.product) ?? 0
            state.quantities[key.tenant, default: [:]][e.product, default: 0] -= held
            if state.quantities[key.tenant]?[e.product] == 0 { state.quantities[key.tenant]?.removeValue(forKey: e.product) }
        }
    }
}

/// One row of the "products of a tenant" query.
public struct ProductQuantity: Sendable, Equatable, Codable, CustomStringConvertible {
    public var product: String
    public var quantity: Int
    public init(product: String, quantity: Int) {
        self.product = product
        self.quantity = quantity
    }
    public var description: String { "\(product) × \(quantity)" }
}

extension Projection where Projector == ItemsPerProduct {
    /// The query: a tenant's products by quantity in carts, most first (then by name), one page at a time.
    public func products(of tenant: String, page: Int = 1, pageSize: Int = 10) throws -> QueryPage<ProductQuantity> {
        try list(
            { state in (state.quantities[tenant] ?? [:]).map { ProductQuantity(product: $0.key, quantity: $0.value) } },
            sortedBy: { a, b in a.quantity != b.quantity ? a.quantity > b.quantity : a.product < b.product },
            page: page, pageSize: pageSize)
    }
}
