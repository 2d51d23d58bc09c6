import ArgumentParser
import BenchData
import Foundation
import Hummingbird
import JWTKit
import Logging
import ServiceLifecycle
import Strata
import StrataHTTP

/// `--only http`: P2's commands over HTTP. The same AddItem commands (the carts of P2, 10,000 carts, JSON payloads,
/// the executor's cache) run twice in one run, each on a fresh native store: through the executor called directly
/// from 64 tasks (P2's Strata side), and as `POST /tenants/{tenant}/commands/AddItem` requests to a StrataHTTP
/// server in this process on loopback, sent by `wrk` (2 threads, 64 keep-alive connections) with a bearer token —
/// JSON body decoded strictly, token verified (HS256), problem-free 200 answers with the events written. Goal: HTTP
/// ≥ 0.5× direct. Both sides are durable (group commit) and share the machine's 2 cores with their load generator.
/// Then the floor: the same requests to a route of the same server that reads the body and answers `{"floor":true}`
/// (what Hummingbird, loopback TCP and wrk cost here before Strata does anything).
enum HTTPBench {
    /// The request body of the benchmark's AddItem.
    struct AddItemBody: Codable, Sendable {
        var cart: String
        var item: String
        var sku: String
        var quantity: Int
        var unitPrice: Int
        var currency: String
        var addedBy: String
        var channel: String
    }

    static func run(directory: String, commands: Int, seconds: Int, report: Report) async throws {
        guard commandOutput("command -v wrk") != nil else {
            throw ValidationError("the HTTP workload needs wrk (make bench-deps installs it)")
        }
        let carts = CartsData(streamCount: 10_000, seed: 21).streams
        var source = TypedCarts(seed: 22)
        let work: [(PartitionKey, BenchItemAdded)] = (0..<commands).map { i in
            var event: any Event = source.event()
            while !(event is BenchItemAdded) { event = source.event() }
            return (carts[(i &* 7_919) % carts.count], event as! BenchItemAdded)
        }

        // Direct: P2's Strata side (JSON, cached).
        let directPath = fresh(directory + "/http-direct")
        let directStore = try NativeEventStore(path: directPath)
        let (directElapsed, directLatencies) = try await P2.execute(work, on: directStore, codec: JSONEventCodec(), cache: 20_000, label: "direct (HTTP workload)")
        try await directStore.close()
        removeTree(directPath)
        let direct = Double(work.count) / directElapsed

        // Over HTTP.
        let path = fresh(directory + "/http-server")
        let store = try NativeEventStore(path: path)
        let executor = CommandExecutor(store: store, codec: JSONEventCodec(), cachedAggregatesMax: 20_000, observability: .silent)
        let keys = await JWTKeyCollection().add(hmac: HMACKey(from: "the benchmark's secret, 32 bytes or more"), digestAlgorithm: .sha256)
        let tenants = Array(Set(carts.map(\.tenant))).sorted()
        let token = try await keys.sign(AccessToken(subject: "bench", expires: Date() + 3_600, tenants: tenants))
        var api = StrataAPI(executor: executor, authentication: BearerAuthentication(keys: keys))
        api.command("AddItem", body: AddItemBody.self) { tenant, body in
            BenchAddItem(
                key: PartitionKey(tenant: tenant, group: BenchCart.group, id: body.cart),
                event: BenchItemAdded(
                    item: body.item, sku: body.sku, quantity: body.quantity, unitPrice: body.unitPrice, currency: body.currency,
                    addedBy: body.addedBy, channel: body.channel))
        }
        let router = Router()
        api.addRoutes(to: router)
        // The floor: the same requests to a route that reads the body and answers a fixed JSON object — what the
        // server framework, the kernel's loopback and wrk cost on this machine with no token, decoding or command.
        router.post("floor/tenants/{tenant}/commands/{command}") { request, _ -> Response in
            _ = try await request.body.collect(upTo: 1 << 20)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"floor":true}"#)))
        }
        // The requests wrk cycles through: one line per command, path TAB body.
        let requests = directory + "/http-requests.tsv"
        let encoder = JSONEncoder()
        var lines = ""
        for (key, event) in work {
            let body = AddItemBody(
                cart: key.id, item: event.item, sku: event.sku, quantity: event.quantity, unitPrice: event.unitPrice, currency: event.currency,
                addedBy: event.addedBy, channel: event.channel)
            lines += "/tenants/\(key.tenant)/commands/AddItem\t" + String(decoding: try encoder.encode(body), as: UTF8.self) + "\n"
        }
        try lines.write(toFile: requests, atomically: true, encoding: .utf8)
        let script = directory + "/http-requests.lua"
        try luaScript.write(toFile: script, atomically: true, encoding: .utf8)

        var logger = Logger(label: "strata-bench-http")
        logger.logLevel = .error
        let (ports, port) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        let services = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [], logger: logger))
        let server = Task { try await services.run() }
        guard let listening = await ports.first(where: { _ in true }) else { throw ValidationError("the HTTP server did not start") }
        progress("P2 over HTTP (wrk, \(seconds) s)")
        let output = try await offPool(
            "wrk -t2 -c64 -d\(seconds)s --latency -s '\(script)' http://127.0.0.1:\(listening) -- '\(requests)' '\(token)' 2>&1")
        progressDone()
        progress("HTTP floor (wrk, \(seconds) s)")
        let floorOutput = try await offPool(
            "wrk -t2 -c64 -d\(seconds)s --latency -s '\(script)' http://127.0.0.1:\(listening) -- '\(requests)' '\(token)' /floor 2>&1")
        progressDone()
        await services.triggerGracefulShutdown()
        try await server.value
        var stored = 0
        var position: UInt64?
        while let last = try await store.readAll(after: position, limit: 10_000, { _, _ in stored += 1 }) { position = last }
        try await store.close()
        removeTree(path)
        unlink(requests)
        unlink(script)

        guard let completed = number(after: "requests in", in: output, before: true), let rate = number(after: "Requests/sec:", in: output),
            let p50 = latency("50%", in: output), let p99 = latency("99%", in: output)
        else { throw ValidationError("wrk's output has no figures:\n\(output)") }
        guard !output.contains("Non-2xx") else { throw ValidationError("some HTTP commands failed:\n\(output)") }
        guard let floor = number(after: "Requests/sec:", in: floorOutput), !floorOutput.contains("Non-2xx") else {
            throw ValidationError("wrk's floor run failed:\n\(floorOutput)")
        }
        // Every answered request appended its event (a few more may have committed as wrk stopped).
        guard Double(stored) >= completed else { throw ValidationError("\(Int(completed)) requests answered, \(stored) events stored") }

        report.record("http.commands_per_s", rate)
        report.record("http.p50_us", p50)
        report.record("http.p99_us", p99)
        report.record("http.direct_commands_per_s", direct)
        report.record("http.of_direct", rate / direct)
        report.record("http.floor_requests_per_s", floor)
        report.row(
            "HTTP: P2's commands as POST requests (wrk, 64 connections), commands/s; direct executor \(grouped(direct))",
            strata: grouped(rate), ratio: rate / direct, goal: "≥ 0.5× direct", met: rate / direct >= 0.5, goalKey: "http")
        report.row(
            "HTTP p50 / p99 µs; direct \(Int(percentile(directLatencies, 0.5))) / \(Int(percentile(directLatencies, 0.99)))",
            strata: "\(Int(p50)) / \(Int(p99))")
        report.row(
            "HTTP floor: the same requests to a route that only reads the body, requests/s (of direct)",
            strata: grouped(floor), ratio: floor / direct)
    }

    /// wrk's script: each thread cycles through the request file from its own offset, with the bearer token.
    static let luaScript = """
        local requests = {}
        local next = 0
        local token = ""
        local prefix = ""
        function init(args)
          for line in io.lines(args[1]) do
            local tab = line:find("\\t")
            requests[#requests + 1] = { line:sub(1, tab - 1), line:sub(tab + 1) }
          end
          token = args[2]
          prefix = args[3] or ""
          next = math.random(#requests)
        end
        function request()
          next = next % #requests + 1
          local r = requests[next]
          return wrk.format("POST", prefix .. r[1], { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }, r[2])
        end
        """

    /// The number after `marker` in `text` (or, with `before`, the number before it).
    static func number(after marker: String, in text: String, before: Bool = false) -> Double? {
        guard let range = text.range(of: marker) else { return nil }
        if before {
            let head = text[..<range.lowerBound].split(whereSeparator: { $0 == " " || $0 == "\n" }).last
            return head.flatMap { Double($0) }
        }
        return text[range.upperBound...].split(whereSeparator: { $0 == " " || $0 == "\n" }).first.flatMap { Double($0) }
    }

    /// A latency percentile of wrk's `--latency` table, in µs (`50%  1.23ms`).
    static func latency(_ percentile: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2, parts[0] == percentile else { continue }
            let value = parts[1]
            for (suffix, scale) in [("us", 1.0), ("ms", 1e3), ("s", 1e6)] where value.hasSuffix(suffix) {
                if let number = Double(value.dropLast(suffix.count)) { return number * scale }
            }
        }
        return nil
    }

    /// A shell command's output, run on a thread of its own (the server in this process needs the concurrency
    /// pool's threads while it runs).
    static func offPool(_ command: String) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                guard let pipe = popen(command, "r") else {
                    continuation.resume(throwing: ValidationError("cannot run \(command)"))
                    return
                }
                var output = Data()
                var buffer = [UInt8](repeating: 0, count: 4_096)
                while true {
                    let n = fread(&buffer, 1, buffer.count, pipe)
                    if n <= 0 { break }
                    output.append(contentsOf: buffer[0..<n])
                }
                let status = pclose(pipe)
                let text = String(decoding: output, as: UTF8.self)
                if status == 0 { continuation.resume(returning: text) } else { continuation.resume(throwing: ValidationError("\(command) failed:\n\(text)")) }
            }.start()
        }
    }
}
