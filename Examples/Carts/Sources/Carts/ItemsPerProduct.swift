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

    /// Lazy events: the fold reads two of ItemAdded's fields, and only those are decoded.
    @EventSet
    public enum Events {
        case added(ItemAdded.Lazy)
        case removed(ItemRemoved.Lazy)
    }

    public static let projectorName = "items-per-product"
    public static let initialState = State()

    public static func apply(_ state: inout State, _ event: Events, _ context: EventContext) throws {
        let key = context.key
        switch event {
        case .added(let e):
            let (product, quantity) = (try e.product, try e.quantity)
            state.carts[key, default: [:]][product, default: 0] += quantity
            state.quantities[key.tenant, default: [:]][product, default: 0] += quantity
        case .removed(let e):
            let product = try e.product
            let held = state.carts[key]?.removeValue(forKey: product) ?? 0
            state.quantities[key.tenant, default: [:]][product, default: 0] -= held
            if state.quantities[key.tenant]?[product] == 0 { state.quantities[key.tenant]?.removeValue(forKey: product) }
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
