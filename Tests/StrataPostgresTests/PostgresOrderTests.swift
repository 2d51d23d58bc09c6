import Foundation
import PostgresNIO
import Strata
import StrataPostgres
import Synchronization
import Testing

/// The global order under transactions that commit out of order: the trap of sequence positions (assigned at
/// insert, visible at commit), shown on a naive reader, and the store's reader that does not fall into it.
@Suite struct PostgresOrderTests {
    func event(_ stream: String, _ n: Int) -> EventRecord {
        EventRecord(key: PartitionKey(tenant: "t", group: "G", id: stream), typeName: "E", payload: Array("\(n)".utf8))
    }

    /// Positions read the naive way: `position > last`, trusting the sequence.
    func naiveRead(_ store: PostgresEventStore, after last: Int64) async throws -> [Int64] {
        var positions: [Int64] = []
        let rows = try await store.client.query(PostgresQuery(
            unsafeSQL: "SELECT position FROM \"\(store.configuration.schema)\".events WHERE position > \(last) ORDER BY position"))
        for try await position in rows.decode(Int64.self) { positions.append(position) }
        return positions
    }

    @Test func anEventHeldBackByATransactionIsDeliveredInOrderWhereANaiveReaderSkipsIt() async throws {
        let writer = try await TestServer.store()
        // Another process's store on the same schema: it reads, and has appended nothing of its own.
        let reader = try await PostgresEventStore.connect(TestServer.configuration(schema: writer.configuration.schema))
        let held = AsyncStream<Void>.makeStream(), appendedHeld = AsyncStream<PostgresPosition>.makeStream()
        // A: appends in a transaction that stays open until told to commit.
        let slow = Task {
            try await writer.client.withTransaction(logger: Logger(label: "test")) { connection in
                let receipt = try await writer.append([event("a", 1)], in: connection)
                appendedHeld.continuation.yield(receipt.last)
                for await _ in held.stream { break }
            }
        }
        var heldPosition: PostgresPosition?
        for await position in appendedHeld.stream {
            heldPosition = position
            break
        }
        // B: appends and commits while A is open — a later transaction, a higher sequence value.
        let fast = try await writer.append([event("b", 2)])
        #expect(fast.last > heldPosition!)

        // The naive reader sees B and moves past A's sequence value.
        let naiveFirst = try await naiveRead(writer, after: 0)
        #expect(naiveFirst == [Int64(fast.last.sequence)])
        // The store's reader holds B back while A may still commit before it.
        let early = try await reader.allEvents()
        #expect(early.isEmpty, "B must wait for the older open transaction: \(early.map(\.position))")

        held.continuation.yield()
        try await slow.value

        // The naive reader, going on from B, never sees A.
        let naiveSecond = try await naiveRead(writer, after: naiveFirst.last!)
        #expect(naiveSecond.isEmpty)
        #expect(naiveFirst + naiveSecond == [Int64(fast.last.sequence)], "the naive reader skipped the late commit")
        // The store's reader delivers both, A first, each once.
        try await reader.waitUntilOrdered(through: fast.last)
        let all = try await reader.allEvents()
        #expect(all.map(\.position) == [heldPosition!, fast.last])
        #expect(all.map { String(decoding: $0.record.payload, as: UTF8.self) } == ["1", "2"])
        await reader.close()
        try await TestServer.drop(writer)
    }

    @Test func aLiveSubscriptionGetsEveryEventOnceInOrderWhileTransactionsCommitOutOfOrder() async throws {
        let writer = try await TestServer.store()
        let reader = try await PostgresEventStore.connect(TestServer.configuration(schema: writer.configuration.schema))
        let total = 200
        let received = Mutex<[RecordedEvent<PostgresPosition>]>([])
        let subscriber = Task {
            for try await event in reader.subscribe() {
                let count = received.withLock { events in
                    events.append(event)
                    return events.count
                }
                if count == total { return }
            }
        }
        // 4 writers; every tenth append of writer 0 is held open while the others commit after it.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<4 {
                group.addTask {
                    for i in 0..<(total / 4) {
                        if w == 0 && i % 10 == 0 {
                            try await writer.client.withTransaction(logger: Logger(label: "test")) { connection in
                                try await writer.append([event("w\(w)", i)], in: connection)
                                try await Task.sleep(for: .milliseconds(30))
                            }
                        } else {
                            try await writer.append([event("w\(w)", i)])
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await subscriber.value }
            group.addTask {
                try await Task.sleep(for: .seconds(30))
                subscriber.cancel()
            }
            try await group.next()
            group.cancelAll()
        }
        let events = received.withLock { $0 }
        #expect(events.count == total)
        #expect(zip(events, events.dropFirst()).allSatisfy { $0.position < $1.position }, "in order, none twice")
        for w in 0..<4 {
            let versions = events.filter { $0.record.key.id == "w\(w)" }.map(\.version)
            #expect(versions == Array(1...UInt64(total / 4)), "stream w\(w) whole and in order")
        }
        await reader.close()
        try await TestServer.drop(writer)
    }
}
