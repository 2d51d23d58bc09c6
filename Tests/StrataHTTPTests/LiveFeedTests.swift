import AsyncHTTPClient
import Carts
import Foundation
import Hummingbird
import Logging
import MetricsTestKit
import NIOCore
import ServiceLifecycle
import Strata
import StrataHTTP
import Testing

/// The live feed on a real server on loopback, read by AsyncHTTPClient: resumption with `Last-Event-ID` while
/// writers append, and many clients at once. Waits are bounds (60 s), not timings.
@Suite struct LiveFeedTests {
    /// One Server-Sent Event: its id and data.
    struct Received: Equatable {
        var id: String
        var data: String
    }

    enum Done<T: Sendable>: Sendable { case server, body(T) }

    /// Runs `body` with the port of a server for `router` on 127.0.0.1, then shuts the server down.
    static func serving<T: Sendable>(_ router: Router<BasicRequestContext>, _ body: @escaping @Sendable (Int) async throws -> T) async throws -> T {
        let (ports, port) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "live-feed-tests")
        logger.logLevel = .warning
        let app = Application(
            router: router, configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        let services = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [], logger: logger))
        return try await withThrowingTaskGroup(of: Done<T>.self) { group in
            group.addTask {
                try await services.run()
                return .server
            }
            group.addTask {
                defer { Task { await services.triggerGracefulShutdown() } }
                return .body(try await body(try #require(await ports.first { _ in true })))
            }
            group.addTask {
                try await Task.sleep(for: .seconds(120))
                throw CancellationError()  // (a bound: a hung stream fails the test instead of hanging CI)
            }
            defer { group.cancelAll() }
            var value: T?
            while let done = try await group.next() {
                switch done {
                case .body(let result): value = result  // (the server shuts down now)
                case .server: if let value { return value }
                }
            }
            throw CancellationError()
        }
    }

    /// Reads the feed until `enough` says so (given what it received on this connection), then disconnects.
    static func read(
        _ client: HTTPClient, port: Int, token: String, lastEventID: String?, query: String = "", enough: @Sendable ([Received]) -> Bool
    ) async throws -> [Received] {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/tenants/acme/events\(query)")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
        let response = try await client.execute(request, timeout: .seconds(60))
        #expect(response.status == .ok)
        #expect(response.headers.first(name: "Content-Type") == "text/event-stream")
        var pending = ""
        var received: [Received] = []
        for try await chunk in response.body {
            pending += String(buffer: chunk)
            while let end = pending.range(of: "\n\n") {
                let block = pending[..<end.lowerBound]
                pending = String(pending[end.upperBound...])
                var id: String?
                var data: String?
                for line in block.split(separator: "\n") {
                    if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
                    if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
                }
                if let id, let data { received.append(Received(id: id, data: data)) }
            }
            if enough(received) { break }  // (leaving the body disconnects)
        }
        return received
    }

    static func httpClient(connections: Int) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Appends `count` AddItem events over `carts` carts of tenant `tenant` (opened first), from `writers` tasks.
    static func write(_ f: Fixture, tenant: String, carts: Int, count: Int, writers: Int) async throws {
        for cart in 0..<carts { _ = try await f.executor.execute(OpenCart(tenant: tenant, cart: "cart-\(cart)", owner: "o")) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for n in stride(from: writer, to: count, by: writers) {
                        _ = try await f.executor.execute(
                            AddItem(tenant: tenant, cart: "cart-\(n % carts)", product: "p\(n)", quantity: 1, unitPrice: 1))
                        if n % 16 == 0 { await Task.yield() }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    @Test func aClientThatDisconnectsMidStreamAndResumesGetsEveryEventOnceInOrder() async throws {
        let f = try await Fixture()
        let total = 8 + 600  // 8 carts opened, 600 items added
        let client = Self.httpClient(connections: 8)
        let received = try await Self.serving(f.router()) { port in
            let writers = Task { try await Self.write(f, tenant: "acme", carts: 8, count: 600, writers: 4) }
            let noise = Task { try await Self.write(f, tenant: "other", carts: 2, count: 50, writers: 1) }
            var all: [Received] = []
            var connections = 0
            while all.count < total {
                connections += 1
                // Each connection takes a few dozen events and leaves (mid-stream: events keep coming).
                let quota = min(37 + connections, total - all.count)
                let next = try await Self.read(client, port: port, token: f.plain, lastEventID: all.last?.id) { $0.count >= quota }
                all += next
            }
            try await writers.value
            try await noise.value
            #expect(connections > 5)
            return all
        }
        try await client.shutdown()
        let expected = try await f.store.allEvents().filter { $0.key.tenant == "acme" }
        #expect(received.count == expected.count)
        #expect(received.map(\.id) == expected.map { "\($0.position)" }, "every event once, in the store's order")
        #expect(received.allSatisfy { $0.data.contains(#""tenant":"acme""#) })
    }

    @Test func aHundredClientsReceiveTheSameSequence() async throws {
        let f = try await Fixture()
        let clients = 100
        let total = 4 + 200
        let client = Self.httpClient(connections: clients + 8)
        let sequences = try await Self.serving(f.router()) { port in
            try await withThrowingTaskGroup(of: [Received].self) { group in
                for _ in 0..<clients {
                    group.addTask {
                        try await Self.read(client, port: port, token: f.plain, lastEventID: nil) { $0.count >= total }
                    }
                }
                // The writers start while the clients connect: some catch up from the store, some get it live.
                try await Self.write(f, tenant: "acme", carts: 4, count: 200, writers: 4)
                var sequences: [[Received]] = []
                for try await sequence in group { sequences.append(sequence) }
                return sequences
            }
        }
        try await client.shutdown()
        let expected = try await f.store.allEvents().map { "\($0.position)" }
        #expect(sequences.count == clients)
        for sequence in sequences { #expect(sequence.map(\.id) == expected) }
        #expect(Set(sequences.map { $0.map(\.data) }).count == 1, "every client received the same events, byte for byte")
    }

    @Test func filtersLetThroughOnlyTheNamedGroupsAndTypes() async throws {
        let f = try await Fixture()
        try await Self.write(f, tenant: "acme", carts: 2, count: 10, writers: 1)
        let client = Self.httpClient(connections: 2)
        let received = try await Self.serving(f.router()) { port in
            try await Self.read(client, port: port, token: f.plain, lastEventID: nil, query: "?types=CartOpened") { $0.count >= 2 }
        }
        try await client.shutdown()
        #expect(received.count == 2)
        #expect(received.allSatisfy { $0.data.contains(#""type":"CartOpened""#) })
    }

    @Test func aClientThatStopsReadingIsDisconnectedInsteadOfGrowingTheServersMemory() async throws {
        var limits = Fixture.limits
        limits.liveFeedStallTimeout = .seconds(1)
        let metrics = TestMetrics()
        let f = try await Fixture(limits: limits, observability: Observability(metricsFactory: metrics))
        // 32 MB of events: more than the connection's buffers on both sides hold.
        let payload = Array(("{\"blob\":\"" + String(repeating: "x", count: 16_000) + "\"}").utf8)
        for batch in 0..<20 {
            let records = (0..<100).map { n in
                EventRecord(key: PartitionKey(tenant: "acme", group: "Blob", id: "b\(batch)-\(n)"), typeName: "Blob", payload: payload)
            }
            try await f.store.append(records)
        }
        let client = Self.httpClient(connections: 2)
        let (received, ended) = try await Self.serving(f.router()) { port in
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/tenants/acme/events")
            request.headers.add(name: "Authorization", value: "Bearer \(f.plain)")
            let response = try await client.execute(request, timeout: .seconds(60))
            // Not reading: the client's buffers fill, then the server's, then the server's write waits — until the
            // stall timeout ends the stream.
            while (metrics.counters.first { $0.label == StrataMetric.liveFeedEnded }?.totalValue ?? 0) == 0 {
                try await Task.sleep(for: .milliseconds(100))
            }
            var bytes = 0
            var ended = "finished"
            do {
                for try await chunk in response.body { bytes += chunk.readableBytes }
            } catch {
                ended = "failed"  // (the server closed the connection in the middle of the chunked body)
            }
            return (bytes, ended)
        }
        try await client.shutdown()
        #expect(received < 2_000 * payload.count, "the stream ended before the end of the events (\(ended))")
        let stalled = try metrics.expectCounter(StrataMetric.liveFeedEnded, [("reason", "stalled")])
        #expect(stalled.totalValue == 1)
    }

    @Test func anIdleFeedSendsHeartbeats() async throws {
        var limits = Fixture.limits
        limits.liveFeedHeartbeat = .milliseconds(200)
        let f = try await Fixture(limits: limits)
        let client = Self.httpClient(connections: 2)
        let text = try await Self.serving(f.router()) { port in
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/tenants/acme/events")
            request.headers.add(name: "Authorization", value: "Bearer \(f.plain)")
            let response = try await client.execute(request, timeout: .seconds(60))
            var text = ""
            for try await chunk in response.body {
                text += String(buffer: chunk)
                if text.components(separatedBy: ": heartbeat\n\n").count > 2 { break }
            }
            return text
        }
        try await client.shutdown()
        #expect(text.hasPrefix(": live feed\n\n"))
        #expect(!text.contains("data:"), "a store without events sends comments only")
    }
}
