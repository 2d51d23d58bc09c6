// `make serve`: the carts example over HTTP on loopback — a native store in a folder, the carts API (StrataHTTP),
// the projections its queries read running beside it. Prints the URL it listens on and a development token.
//
//   carts-server [--store FOLDER] [--port N] [--tenant NAME] [--read-your-writes-ms N]
//
// Tokens are HMAC-SHA256 JWTs signed with STRATA_HTTP_SECRET (a random secret per run when unset, so a printed
// token works until the server stops).
import Carts
import CartsHTTP
import Foundation
import Hummingbird
import JWTKit
import Strata
import StrataHTTP

var options: [String: String] = [:]
var arguments = CommandLine.arguments.dropFirst()
while let name = arguments.popFirst() {
    guard name.hasPrefix("--"), let value = arguments.popFirst() else {
        FileHandle.standardError.write(Data("usage: carts-server [--store FOLDER] [--port N] [--tenant NAME] [--read-your-writes-ms N]\n".utf8))
        exit(2)
    }
    options[String(name.dropFirst(2))] = value
}
let storePath = options["store"] ?? FileManager.default.temporaryDirectory.appendingPathComponent("carts-\(UUID().uuidString)").path
let port = Int(options["port"] ?? "0") ?? 0
let tenant = options["tenant"] ?? "acme"

let store = try NativeEventStore(path: storePath)
let executor = CommandExecutor(store: store)
let products = Projection(ItemsPerProduct.self, store: store)
let carts = Projection(AggregateList<Cart>.self, store: store)

let secret = ProcessInfo.processInfo.environment["STRATA_HTTP_SECRET"] ?? (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
let keys = await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
var limits = HTTPLimits()
if let milliseconds = options["read-your-writes-ms"].flatMap(Int.init) { limits.readYourWritesTimeout = .milliseconds(milliseconds) }
let api = cartsAPI(
    executor: executor, authentication: BearerAuthentication(keys: keys), products: products, carts: carts, limits: limits)
let router = Router()
api.addRoutes(to: router)

let token = try await keys.sign(
    AccessToken(subject: "developer", expires: Date().addingTimeInterval(24 * 3600), tenants: [tenant], roles: ["clerk"]))
let app = Application(
    router: router, configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: port), serverName: "carts"),
    onServerRunning: { channel in
        let url = "http://127.0.0.1:\(channel.localAddress?.port ?? port)"
        // (Written at once, unbuffered: a script reading the output sees it while the server runs.)
        FileHandle.standardOutput.write(
            Data(
                """
            Carts over HTTP on \(url) (store: \(storePath))
            A development token for tenant \(tenant) (role clerk, valid 24 hours):
            export STRATA_URL=\(url)
            export STRATA_TOKEN=\(token)
            Try: curl -H "Authorization: Bearer $STRATA_TOKEN" $STRATA_URL/tenants/\(tenant)/queries/carts

            """.utf8))
    })
try await withThrowingDiscardingTaskGroup { group in
    group.addTask { try await products.run() }
    group.addTask { try await carts.run() }
    try await app.runService()
    group.cancelAll()
}
