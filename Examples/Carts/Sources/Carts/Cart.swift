import Strata

// The shopping cart of the Sekiban talk: a cart is opened, items are added and removed, and it is checked out.
// What happened is kept as events; the cart's state is what its events fold to.

// MARK: Events — facts, named in the past tense, never changed once stored. `@Event` gives each its stored name
// (version 1) and the field reader and writer both codecs use.

@Event("CartOpened")
public struct CartOpened: Equatable {
    public var owner: String
    public init(owner: String) { self.owner = owner }
}

@Event("ItemAdded")
public struct ItemAdded: Equatable {
    public var product: String
    public var quantity: Int
    /// Price of one, in cents.
    public var unitPrice: Int
    public init(product: String, quantity: Int, unitPrice: Int) {
        self.product = product
        self.quantity = quantity
        self.unitPrice = unitPrice
    }
}

@Event("ItemRemoved")
public struct ItemRemoved: Equatable {
    public var product: String
    public init(product: String) { self.product = product }
}

@Event("CartCheckedOut")
public struct CartCheckedOut: Equatable {
    /// In cents.
    public var total: Int
    public init(total: Int) { self.total = total }
}

// MARK: The aggregate — a state machine: no cart → open → checked out.

public enum Cart: AggregateProjector {
    @FieldCodable
    public struct Line: Sendable, Equatable {
        public var product: String
        public var quantity: Int
        public var unitPrice: Int
        public init(product: String, quantity: Int, unitPrice: Int) {
            self.product = product
            self.quantity = quantity
            self.unitPrice = unitPrice
        }
    }

    /// Snapshots of it are written and read field by field (`@FieldCodable`: the bytes `Codable` would write).
    @FieldCodable
    public enum State: Sendable, Equatable, Codable {
        /// No event yet.
        case none
        /// Items can be added and removed. Lines keep the order products were first added.
        case open(owner: String, lines: [Line])
        /// Final: nothing changes a checked-out cart.
        case checkedOut(owner: String, lines: [Line], total: Int)
    }

    /// The events a cart understands: `@EventSet` registers each case's event (`Cart.events` is `Events.types`).
    @EventSet
    public enum Events {
        case opened(CartOpened)
        case added(ItemAdded)
        case removed(ItemRemoved)
        case checkedOut(CartCheckedOut)
    }

    public static let group = "Cart"
    public static let initialState = State.none

    public static func apply(_ state: consuming State, _ event: Events) throws -> State {
        switch (consume state, event) {
        case (.none, .opened(let e)):
            return .open(owner: e.owner, lines: [])
        case (.open(let owner, var lines), .added(let e)):
            if let i = lines.firstIndex(where: { $0.product == e.product }) {
                lines[i].quantity += e.quantity
                lines[i].unitPrice = e.unitPrice
            } else {
                lines.append(Line(product: e.product, quantity: e.quantity, unitPrice: e.unitPrice))
            }
            return .open(owner: owner, lines: lines)
        case (.open(let owner, var lines), .removed(let e)):
            lines.removeAll { $0.product == e.product }
            return .open(owner: owner, lines: lines)
        case (.open(let owner, let lines), .checkedOut(let e)):
            return .checkedOut(owner: owner, lines: lines, total: e.total)
        case (let state, let event):
            // The commands never write such a history; a store that holds one is not this cart's.
            throw CartError.impossibleHistory("\(event) after \(state)")
        }
    }
}

extension Cart.State {
    /// The lines of an open or checked-out cart.
    public var lines: [Cart.Line] {
        switch self {
        case .none: []
        case .open(_, let lines), .checkedOut(_, let lines, _): lines
        }
    }

    /// What the lines cost, in cents.
    public var total: Int { lines.reduce(0) { $0 + $1.quantity * $1.unitPrice } }
}

/// Why a cart command was refused.
public enum CartError: Error, Equatable, CustomStringConvertible {
    case notOpen
    case emptyCart
    case notInCart(String)
    case invalidQuantity(Int)
    case invalidPrice(Int)
    case invalidProduct(String)
    case impossibleHistory(String)

    public var description: String {
        switch self {
        case .notOpen: "the cart is not open"
        case .emptyCart: "the cart is empty"
        case .notInCart(let product): "\(product) is not in the cart"
        case .invalidQuantity(let n): "a quantity of \(n): 1 to 99 please"
        case .invalidPrice(let n): "a unit price of \(n) cents"
        case .invalidProduct(let name): "\"\(name)\" is not a product name"
        case .impossibleHistory(let what): "impossible history: \(what)"
        }
    }
}

/// A cart's partition key: carts of a tenant, by id.
public func cartKey(tenant: String, id: String) -> PartitionKey {
    PartitionKey(tenant: tenant, group: Cart.group, id: id)
}
