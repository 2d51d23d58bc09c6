import Carts
import Strata
import StrataHTTP

// The carts example over HTTP: each command takes a body naming the cart (the tenant comes from the URL), the
// cart aggregate is readable with its history, two queries read the projections, and the live feed is on.

/// `POST /tenants/{tenant}/commands/OpenCart`
public struct OpenCartBody: Codable, Sendable {
    public var cart: String
    public var owner: String
    public init(cart: String, owner: String) {
        self.cart = cart
        self.owner = owner
    }
}

/// `POST /tenants/{tenant}/commands/AddItem` (`quantity` defaults to 1).
public struct AddItemBody: Codable, Sendable {
    public var cart: String
    public var product: String
    public var quantity: Int?
    /// In cents.
    public var unitPrice: Int
    public init(cart: String, product: String, quantity: Int? = nil, unitPrice: Int) {
        self.cart = cart
        self.product = product
        self.quantity = quantity
        self.unitPrice = unitPrice
    }
}

/// `POST /tenants/{tenant}/commands/RemoveItem`
public struct RemoveItemBody: Codable, Sendable {
    public var cart: String
    public var product: String
    public init(cart: String, product: String) {
        self.cart = cart
        self.product = product
    }
}

/// `POST /tenants/{tenant}/commands/CheckOut` (role `clerk`).
public struct CheckOutBody: Codable, Sendable {
    public var cart: String
    public init(cart: String) { self.cart = cart }
}

/// One row of the `carts` query.
public struct CartSummary: Codable, Sendable, Equatable {
    public var id: String
    public var owner: String
    /// `open` or `checkedOut`.
    public var status: String
    /// Items in the cart (quantities summed).
    public var items: Int
    /// In cents.
    public var total: Int
    public var version: UInt64
}

/// The carts API on `executor`'s store: the four commands (CheckOut needs the role `clerk`), the Cart aggregate,
/// the queries `products` (a tenant's products by quantity in carts, over `products`) and `carts` (a tenant's
/// carts, `?status=open|checkedOut`, over `carts`), and the live feed.
public func cartsAPI<Store: EventStore>(
    executor: CommandExecutor<Store>, authentication: BearerAuthentication, products: Projection<ItemsPerProduct, Store>,
    carts: Projection<AggregateList<Cart>, Store>, limits: HTTPLimits = HTTPLimits()
) -> StrataAPI<Store> {
    var api = StrataAPI(executor: executor, authentication: authentication, limits: limits, title: "Carts", version: "1")
    api.command(body: OpenCartBody.self, summary: "Open a cart") { tenant, body in
        OpenCart(tenant: tenant, cart: body.cart, owner: body.owner)
    }
    api.command(body: AddItemBody.self, summary: "Add a product to an open cart") { tenant, body in
        AddItem(tenant: tenant, cart: body.cart, product: body.product, quantity: body.quantity ?? 1, unitPrice: body.unitPrice)
    }
    api.command(body: RemoveItemBody.self, summary: "Remove a product from an open cart") { tenant, body in
        RemoveItem(tenant: tenant, cart: body.cart, product: body.product)
    }
    api.command(body: CheckOutBody.self, policy: .roles(["clerk"]), summary: "Check an open, non-empty cart out (role clerk)") { tenant, body in
        CheckOut(tenant: tenant, cart: body.cart)
    }
    api.aggregate(Cart.self)
    api.query("products", projection: products, result: QueryPage<ProductQuantity>.self, summary: "The tenant's products by quantity in carts") {
        state, request in
        try (state.quantities[request.tenant] ?? [:]).map { ProductQuantity(product: $0.key, quantity: $0.value) }
            .page(
                sortedBy: { a, b in a.quantity != b.quantity ? a.quantity > b.quantity : a.product < b.product }, page: request.page,
                pageSize: request.pageSize)
    }
    api.query(
        "carts", projection: carts, parameters: [QueryParameter("status", description: "open or checkedOut: only carts in that state")],
        result: QueryPage<CartSummary>.self, summary: "The tenant's carts, by id"
    ) { state, request in
        let status = request.parameters["status"]
        return try state.aggregates.values.lazy.filter { $0.key.tenant == request.tenant }
            .compactMap { entry -> CartSummary? in
                let summary: CartSummary
                switch entry.state {
                case .none: return nil
                case .open(let owner, let lines):
                    summary = CartSummary(
                        id: entry.key.id, owner: owner, status: "open", items: lines.reduce(0) { $0 + $1.quantity }, total: entry.state.total,
                        version: entry.version)
                case .checkedOut(let owner, let lines, let total):
                    summary = CartSummary(
                        id: entry.key.id, owner: owner, status: "checkedOut", items: lines.reduce(0) { $0 + $1.quantity }, total: total,
                        version: entry.version)
                }
                return status == nil || status == summary.status ? summary : nil
            }
            .page(sortedBy: { $0.id < $1.id }, page: request.page, pageSize: request.pageSize)
    }
    api.liveFeed()
    return api
}
