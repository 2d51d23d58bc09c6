import Carts
import Strata
import StrataTesting
import Testing

// The carts domain tested in its own language: given what happened, when a command comes, then these events (or
// this error, or this state). No database, no files: StrataTesting runs on the in-memory store.

let opened = CartOpened(owner: "ann")
let coffee = ItemAdded(product: "coffee", quantity: 2, unitPrice: 350)
let orange = ItemAdded(product: "orange", quantity: 3, unitPrice: 80)
let tea = ItemAdded(product: "tea", quantity: 1, unitPrice: 420)

func cart() -> AggregateTest<Cart> { AggregateTest(Cart.self, id: "ann-1", tenant: "acme") }

@Suite struct CartCommandTests {
    @Test func openingACart() async {
        await cart()
            .when(OpenCart(tenant: "acme", cart: "ann-1", owner: "ann"))
            .thenEvents(CartOpened(owner: "ann"))
            .thenState(.open(owner: "ann", lines: []))
    }

    @Test func aCartOpensOnce() async throws {
        try await cart()
            .given(opened)
            .when(OpenCart(tenant: "acme", cart: "ann-1", owner: "bob"))
            .thenThrows("alreadyExists") { error in
                if case CommandError.alreadyExists(_, version: 1) = error { true } else { false }
            }
    }

    @Test func addingItems() async throws {
        try await cart()
            .given(opened, coffee)
            .when(AddItem(tenant: "acme", cart: "ann-1", product: "coffee", quantity: 1, unitPrice: 350))
            .thenEvents(ItemAdded(product: "coffee", quantity: 1, unitPrice: 350))
            .thenState(.open(owner: "ann", lines: [Cart.Line(product: "coffee", quantity: 3, unitPrice: 350)]))
            .thenVersion(3)
    }

    /// The talk's story: add coffee, orange, tea, remove orange. The state forgets the orange; the history does not.
    @Test func removingTheOrange() async throws {
        let test = try await cart()
            .given(opened, coffee, orange, tea)
            .when(RemoveItem(tenant: "acme", cart: "ann-1", product: "orange"))
            .thenEvents(ItemRemoved(product: "orange"))
            .thenState { state in
                #expect(state.lines.map(\.product) == ["coffee", "tea"])
                #expect(state.total == 2 * 350 + 420)
            }
        let history = try await test.store.streamEvents(test.key).map(\.record.typeName)
        #expect(history == ["CartOpened", "ItemAdded", "ItemAdded", "ItemAdded", "ItemRemoved"])
    }

    @Test(arguments: [0, -1, 100])
    func quantitiesOutsideOneTo99AreRefused(quantity: Int) async throws {
        try await cart()
            .given(opened)
            .when(AddItem(tenant: "acme", cart: "ann-1", product: "coffee", quantity: quantity, unitPrice: 350))
            .thenThrows(CartError.invalidQuantity(quantity))
            .thenVersion(1)
    }

    @Test func productsNeedANameAndPricesCannotBeNegative() async throws {
        try await cart().given(opened)
            .when(AddItem(tenant: "acme", cart: "ann-1", product: "", unitPrice: 350))
            .thenThrows(CartError.invalidProduct(""))
        try await cart().given(opened)
            .when(AddItem(tenant: "acme", cart: "ann-1", product: "tea", unitPrice: -1))
            .thenThrows(CartError.invalidPrice(-1))
    }

    @Test func removingWhatIsNotInTheCart() async throws {
        try await cart()
            .given(opened, coffee)
            .when(RemoveItem(tenant: "acme", cart: "ann-1", product: "tea"))
            .thenThrows(CartError.notInCart("tea"))
    }

    @Test func commandsOnACartThatDoesNotExist() async {
        await cart()
            .when(AddItem(tenant: "acme", cart: "ann-1", product: "tea", unitPrice: 420))
            .thenThrows("notFound") { error in
                if case CommandError.notFound = error { true } else { false }
            }
    }

    @Test func checkingOut() async throws {
        try await cart()
            .given(opened, coffee, tea)
            .when(CheckOut(tenant: "acme", cart: "ann-1"))
            .thenEvents(CartCheckedOut(total: 2 * 350 + 420))
            .thenState(.checkedOut(owner: "ann", lines: [
                Cart.Line(product: "coffee", quantity: 2, unitPrice: 350), Cart.Line(product: "tea", quantity: 1, unitPrice: 420),
            ], total: 1_120))
    }

    @Test func anEmptyCartIsNotCheckedOut() async throws {
        try await cart().given(opened)
            .when(CheckOut(tenant: "acme", cart: "ann-1"))
            .thenThrows(CartError.emptyCart)
    }

    /// A checked-out cart is final: every command on it is refused.
    @Test func aCheckedOutCartDoesNotChange() async throws {
        let test = try await cart().given(opened, coffee, CartCheckedOut(total: 700))
        await test.when(AddItem(tenant: "acme", cart: "ann-1", product: "tea", unitPrice: 420)).thenThrows(CartError.notOpen)
        await test.when(RemoveItem(tenant: "acme", cart: "ann-1", product: "coffee")).thenThrows(CartError.notOpen)
        await test.when(CheckOut(tenant: "acme", cart: "ann-1")).thenThrows(CartError.notOpen)
        await test.thenVersion(3)
    }

    /// Given commands instead of events: the same history, reached the way users reach it.
    @Test func givenCommands() async throws {
        try await cart()
            .given(OpenCart(tenant: "acme", cart: "ann-1", owner: "ann"))
            .given(AddItem(tenant: "acme", cart: "ann-1", product: "coffee", quantity: 2, unitPrice: 350))
            .when(CheckOut(tenant: "acme", cart: "ann-1"))
            .thenEvents(CartCheckedOut(total: 700))
    }

    /// A history the commands never write (an item added to a cart that was never opened) does not load.
    @Test func anImpossibleHistoryDoesNotLoad() async throws {
        let test = try await cart().given(coffee)
        await #expect(throws: (any Error).self) { try await test.aggregate() }
    }
}

@Suite struct ItemsPerProductTests {
    let ann = cartKey(tenant: "acme", id: "ann-1")
    let bob = cartKey(tenant: "acme", id: "bob-1")
    let cy = cartKey(tenant: "globex", id: "cy-1")

    @Test func countsItemsPerProductPerTenant() async throws {
        try await ProjectionTest(ItemsPerProduct.self)
            .given(ann, opened, coffee, orange, tea)
            .given(bob, CartOpened(owner: "bob"), ItemAdded(product: "coffee", quantity: 1, unitPrice: 350))
            .given(cy, CartOpened(owner: "cy"), ItemAdded(product: "orange", quantity: 6, unitPrice: 80))
            .given(ann, ItemRemoved(product: "orange"))
            .thenState { state in
                #expect(state.quantities == ["acme": ["coffee": 3, "tea": 1], "globex": ["orange": 6]])
            }
    }

    @Test func theQueryPagesATenantsProductsMostFirst() async throws {
        let test = try await ProjectionTest(ItemsPerProduct.self)
            .given(ann, opened, coffee, orange, tea)
            .given(bob, CartOpened(owner: "bob"), ItemAdded(product: "tea", quantity: 3, unitPrice: 420))
        await test.thenQuery({ try $0.products(of: "acme", page: 1, pageSize: 2).items }, equals: [
            ProductQuantity(product: "tea", quantity: 4), ProductQuantity(product: "orange", quantity: 3),
        ])
        await test.thenQuery({ try $0.products(of: "acme", page: 2, pageSize: 2).items }, equals: [ProductQuantity(product: "coffee", quantity: 2)])
        await test.thenQuery({ try $0.products(of: "globex").totalCount }, equals: 0)
        await test.thenQueryThrows({ try $0.products(of: "acme", page: 0) }) { $0 is QueryError }
    }

    /// Built from commands, the read model sees what the commands stored — refused commands store nothing.
    @Test func fromCommands() async throws {
        let test = try await ProjectionTest(ItemsPerProduct.self)
            .given(OpenCart(tenant: "acme", cart: "ann-1", owner: "ann"))
            .given(AddItem(tenant: "acme", cart: "ann-1", product: "coffee", quantity: 2, unitPrice: 350))
        await #expect(throws: GivenCommandFailed.self) {
            try await test.given(RemoveItem(tenant: "acme", cart: "ann-1", product: "milk"))
        }
        await test.thenQuery({ try $0.products(of: "acme").items }, equals: [ProductQuantity(product: "coffee", quantity: 2)])
    }
}
