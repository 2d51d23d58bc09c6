// `make demo`: the carts example on an embedded store in a fresh folder — commands, the cart's state and its full
// history, a multi-projection and a query. (The Makefile then runs `strata fsck` and `strata stats` on the store.)
import Carts
import Foundation
import Strata

let arguments = CommandLine.arguments.dropFirst()
guard let path = arguments.first, arguments.count == 1 else {
    print("usage: carts-demo FOLDER   (a folder that does not exist yet: the store is created there)")
    exit(2)
}
guard !FileManager.default.fileExists(atPath: path) else {
    print("\(path) already exists; the demo wants a fresh folder")
    exit(2)
}

func euros(_ cents: Int) -> String { String(format: "%d.%02d €", cents / 100, cents % 100) }

func line(_ text: String = "") { print(text) }

let store = try NativeEventStore(path: path)
let executor = CommandExecutor(store: store)

/// Runs a command and says what came of it.
func run<C: Command>(_ label: String, _ command: C) async {
    do {
        let result = try await executor.execute(command)
        line("  ✓ \(label.padding(toLength: 40, withPad: " ", startingAt: 0)) → version \(result.version)")
    } catch {
        line("  ✗ \(label.padding(toLength: 40, withPad: " ", startingAt: 0)) → refused: \(error)")
    }
}

line("Strata carts demo — the shopping cart of the Sekiban talk")
line("Store: \(path)")
line()
line("1. Ann's cart (tenant acme, cart ann-1): commands in, events stored")
await run("OpenCart(owner: ann)", OpenCart(tenant: "acme", cart: "ann-1", owner: "ann"))
await run("AddItem(coffee × 2 at 3.50 €)", AddItem(tenant: "acme", cart: "ann-1", product: "coffee", quantity: 2, unitPrice: 350))
await run("AddItem(orange × 3 at 0.80 €)", AddItem(tenant: "acme", cart: "ann-1", product: "orange", quantity: 3, unitPrice: 80))
await run("AddItem(tea × 1 at 4.20 €)", AddItem(tenant: "acme", cart: "ann-1", product: "tea", quantity: 1, unitPrice: 420))
await run("RemoveItem(orange)", RemoveItem(tenant: "acme", cart: "ann-1", product: "orange"))
line("  Commands are checked against the cart's state; these are refused and store nothing:")
await run("RemoveItem(milk)", RemoveItem(tenant: "acme", cart: "ann-1", product: "milk"))
await run("AddItem(coffee × 0)", AddItem(tenant: "acme", cart: "ann-1", product: "coffee", quantity: 0, unitPrice: 350))
await run("OpenCart(owner: ann) again", OpenCart(tenant: "acme", cart: "ann-1", owner: "ann"))
line()

let ann = cartKey(tenant: "acme", id: "ann-1")
let cart = try await store.load(Cart.self, ann)
line("2. The cart's state (what its \(cart.version) events fold to):")
switch cart.state {
case .open(let owner, let lines):
    line("  open, owner \(owner)")
    for item in lines { line("    \(item.product) × \(item.quantity) at \(euros(item.unitPrice))") }
    line("    total \(euros(cart.state.total))")
default:
    line("  \(cart.state)")
}
line()

line("3. Its full history — the removed orange is still there: nothing is overwritten, a removal is one more fact")
for event in try await store.streamEvents(ann) {
    let payload = String(decoding: event.record.payload, as: UTF8.self)
    line("  v\(event.version)  seq \(event.position)  \(event.typeName.padding(toLength: 14, withPad: " ", startingAt: 0)) \(payload)")
}
let before = try await store.load(Cart.self, ann, throughVersion: 4)
line("  and any past state can be folded again — the cart as of version 4, before the removal:")
line("    " + before.state.lines.map { "\($0.product) × \($0.quantity)" }.joined(separator: ", ") + ", total \(euros(before.state.total))")
line()

line("4. More carts, in two tenants")
await run("OpenCart(acme/bob-1, owner: bob)", OpenCart(tenant: "acme", cart: "bob-1", owner: "bob"))
await run("AddItem(bob-1: coffee × 1)", AddItem(tenant: "acme", cart: "bob-1", product: "coffee", quantity: 1, unitPrice: 350))
await run("AddItem(bob-1: milk × 2)", AddItem(tenant: "acme", cart: "bob-1", product: "milk", quantity: 2, unitPrice: 120))
await run("CheckOut(bob-1)", CheckOut(tenant: "acme", cart: "bob-1"))
await run("AddItem(bob-1: tea × 1) after checkout", AddItem(tenant: "acme", cart: "bob-1", product: "tea", quantity: 1, unitPrice: 420))
await run("OpenCart(globex/cy-1, owner: cy)", OpenCart(tenant: "globex", cart: "cy-1", owner: "cy"))
await run("AddItem(cy-1: orange × 6)", AddItem(tenant: "globex", cart: "cy-1", product: "orange", quantity: 6, unitPrice: 80))
line()

line("5. A multi-projection over every cart: items per product, per tenant")
let projection = Projection(ItemsPerProduct.self, store: store)
try await projection.catchUp()
for (tenant, products) in projection.state.quantities.sorted(by: { $0.key < $1.key }) {
    let shown = products.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    line("  \(tenant): \(shown)")
}
line()

line("6. A query over it: acme's products, most first, page 1 of size 2")
let page = try projection.products(of: "acme", page: 1, pageSize: 2)
line("  \(page.items.map(\.description).joined(separator: ", "))   (page \(page.page) of \(page.totalPages), \(page.totalCount) products)")
line()

try await store.close()
line("The store is closed; every event above is in \(path). Look inside with:")
line("  .build/debug/strata dump \(path)")
line("  .build/debug/strata dump \(path) --tenant acme --group Cart --id ann-1")
