import Strata

// Commands: what a user asks for. Each checks the cart's current state and either returns the events that
// record the change, or refuses with a `CartError`. The executor runs one command per cart at a time and appends
// the events only if no other writer changed the cart meanwhile.

/// Opens a new cart (refused if the cart already exists: `CommandError.alreadyExists`).
public struct OpenCart: Command {
    public typealias Projector = Cart
    public var key: PartitionKey
    public var owner: String
    public var kind: CommandKind { .create }

    public init(tenant: String, cart: String, owner: String) {
        key = cartKey(tenant: tenant, id: cart)
        self.owner = owner
    }

    public func handle(_ cart: Aggregate<Cart>) throws -> [any Event] {
        [CartOpened(owner: owner)]
    }
}

/// Adds `quantity` of a product at `unitPrice` cents each to an open cart.
public struct AddItem: Command {
    public typealias Projector = Cart
    public var key: PartitionKey
    public var product: String
    public var quantity: Int
    public var unitPrice: Int
    public var kind: CommandKind { .update }

    public init(tenant: String, cart: String, product: String, quantity: Int = 1, unitPrice: Int) {
        key = cartKey(tenant: tenant, id: cart)
        self.product = product
        self.quantity = quantity
        self.unitPrice = unitPrice
    }

    public func handle(_ cart: Aggregate<Cart>) throws -> [any Event] {
        guard case .open = cart.state else { throw CartError.notOpen }
        guard !product.isEmpty, product.count <= 64 else { throw CartError.invalidProduct(product) }
        guard (1...99).contains(quantity) else { throw CartError.invalidQuantity(quantity) }
        guard unitPrice >= 0 else { throw CartError.invalidPrice(unitPrice) }
        return [ItemAdded(product: product, quantity: quantity, unitPrice: unitPrice)]
    }
}

/// Removes a product (all of it) from an open cart.
public struct RemoveItem: Command {
    public typealias Projector = Cart
    public var key: PartitionKey
    public var product: String
    public var kind: CommandKind { .update }

    public init(tenant: String, cart: String, product: String) {
        key = cartKey(tenant: tenant, id: cart)
        self.product = product
    }

    public func handle(_ cart: Aggregate<Cart>) throws -> [any Event] {
        guard case .open(_, let lines) = cart.state else { throw CartError.notOpen }
        guard lines.contains(where: { $0.product == product }) else { throw CartError.notInCart(product) }
        return [ItemRemoved(product: product)]
    }
}

/// Checks an open, non-empty cart out at its current total.
public struct CheckOut: Command {
    public typealias Projector = Cart
    public var key: PartitionKey
    public var kind: CommandKind { .update }

    public init(tenant: String, cart: String) { key = cartKey(tenant: tenant, id: cart) }

    public func handle(_ cart: Aggregate<Cart>) throws -> [any Event] {
        guard case .open(_, let lines) = cart.state else { throw CartError.notOpen }
        guard !lines.isEmpty else { throw CartError.emptyCart }
        return [CartCheckedOut(total: cart.state.total)]
    }
}
