import AsyncAlgorithms
import Hummingbird
import Logging
import ServiceLifecycle
import NIOCore
import Strata
import Synchronization

/// One client's live feed: the tenant's events after a position as Server-Sent Events, caught up from the store
/// and then live (the subscription reads after the last position it delivered, so the switch neither skips nor
/// repeats an event).
///
/// Four tasks: the subscription puts each event's `id:`/`data:` block into a channel that holds none (it waits
/// until the writer takes it: a client that reads slowly slows its own subscription, and memory stays one event
/// plus the connection's buffer); the writer writes them; a heartbeat sends a comment line when nothing was
/// written for `liveFeedHeartbeat`; a watchdog ends the stream when one write has waited `liveFeedStallTimeout`
/// (a client that stopped reading) — the client resumes with the id of the last event it received.
struct LiveFeed<Store: EventStore>: Sendable {
    let store: Store
    let filter: EventFilter
    let after: Store.Position?
    let limits: HTTPLimits
    let jsonPayloads: Bool
    let logger: Logger

    /// A client that stopped reading.
    struct Stalled: Error, CustomStringConvertible {
        var description: String { "the client did not read for longer than the live feed's stall timeout" }
    }

    private enum Finished { case writer, subscription, timer }

    /// One event's block (with its id) or a comment line.
    struct Chunk: Sendable {
        var id: String?
        var bytes: ByteBuffer
    }

    func run(_ writer: inout any ResponseBodyWriter) async throws {
        let channel = AsyncChannel<Chunk>()
        let progress = WriteProgress()
        let box = WriterBox(writer)
        let ended = store.observability.counter(StrataMetric.liveFeedEnded, [("reason", "stalled")])
        do {
            // A graceful shutdown of the server ends the stream cleanly (the client resumes elsewhere or later).
            try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: Finished.self) { group in
                    group.addTask { await subscribe(into: channel) }
                    group.addTask { try await write(from: channel, box: box, progress: progress) }
                    group.addTask { try await heartbeat(into: channel, progress: progress) }
                    group.addTask { try await watch(progress) }
                    defer { group.cancelAll() }
                    while let finished = try await group.next(), finished != .writer {}
                }
            } onGracefulShutdown: {
                channel.finish()
            }
        } catch let error as Stalled {
            ended.increment()
            logger.info("live feed ended: \(error)", metadata: ["filter": "\(filter)", "last event id": "\(progress.lastId ?? "none")"])
            throw error
        }
    }

    /// Puts each event of the subscription into the channel; finishes the channel when the subscription ends.
    private func subscribe(into channel: AsyncChannel<Chunk>) async -> Finished {
        defer { channel.finish() }
        do {
            for try await event in store.subscribe(after: after, filter: filter, batchSize: limits.liveFeedBatchSize) {
                var writer = JSONWriter(capacity: event.record.payload.count + 384)
                let id = event.position.description
                writer.buffer.writeStaticString("id: ")
                writer.buffer.writeString(id)
                writer.buffer.writeStaticString("\ndata: ")
                writer.event(event.record, version: event.version, position: id, jsonPayloads: jsonPayloads)
                writer.buffer.writeStaticString("\n\n")
                await channel.send(Chunk(id: id, bytes: writer.buffer))
                if Task.isCancelled { break }
            }
        } catch is CancellationError {
        } catch EventStoreError.closed {
            logger.info("live feed ended: the event store closed", metadata: ["filter": "\(filter)"])
        } catch {
            store.observability.counter(StrataMetric.liveFeedEnded, [("reason", "failed")]).increment()
            logger.error("live feed ended: its subscription failed", metadata: ["filter": "\(filter)", "error": "\(error)"])
        }
        return .subscription
    }

    private func write(from channel: AsyncChannel<Chunk>, box: WriterBox, progress: WriteProgress) async throws -> Finished {
        var writer = box.take()
        // A comment first: the client sees the stream open before the first event.
        progress.begin()
        try await writer.write(ByteBuffer(string: ": live feed\n\n"))
        progress.end(id: nil)
        for await chunk in channel {
            progress.begin()
            try await writer.write(chunk.bytes)
            progress.end(id: chunk.id)
        }
        try await writer.finish(nil)
        return .writer
    }

    private func heartbeat(into channel: AsyncChannel<Chunk>, progress: WriteProgress) async throws -> Finished {
        let every = limits.liveFeedHeartbeat
        while true {
            try await Task.sleep(for: every)
            if progress.idle(for: every) { await channel.send(Chunk(id: nil, bytes: ByteBuffer(string: ": heartbeat\n\n"))) }
        }
    }

    private func watch(_ progress: WriteProgress) async throws -> Finished {
        let limit = limits.liveFeedStallTimeout
        let tick = min(limit / 4, .seconds(1))
        while true {
            try await Task.sleep(for: tick)
            if progress.stalled(longerThan: limit) { throw Stalled() }
        }
    }
}

/// Where the feed's writer is: since when a write waits (none: 0), when the last one ended, the id last written.
private final class WriteProgress: Sendable {
    private let clock = ContinuousClock()
    private let start = ContinuousClock.now
    private let pendingSince = Atomic<Int64>(0)
    private let lastEnded = Atomic<Int64>(0)
    private let last = Mutex<String?>(nil)

    private func now() -> Int64 {
        let elapsed = start.duration(to: clock.now).components
        return elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000 + 1
    }

    func begin() { pendingSince.store(now(), ordering: .relaxed) }

    func end(id: String?) {
        pendingSince.store(0, ordering: .relaxed)
        lastEnded.store(now(), ordering: .relaxed)
        if let id { last.withLock { $0 = id } }
    }

    var lastId: String? { last.withLock { $0 } }

    func stalled(longerThan limit: Duration) -> Bool {
        let since = pendingSince.load(ordering: .relaxed)
        return since != 0 && now() - since > nanoseconds(limit)
    }

    func idle(for interval: Duration) -> Bool {
        pendingSince.load(ordering: .relaxed) == 0 && now() - lastEnded.load(ordering: .relaxed) >= nanoseconds(interval)
    }

    private func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }
}

/// Moves the response's writer into the task that writes it.
///
/// `@unchecked Sendable`, safe because: the box is filled before the task group starts, emptied once by the
/// writer task (`take`, the only task that touches it), and the group — with it every use of the writer — ends
/// before the response's body closure returns. No two tasks ever access `writer`.
private final class WriterBox: @unchecked Sendable {
    private var writer: (any ResponseBodyWriter)?

    init(_ writer: any ResponseBodyWriter) { self.writer = writer }

    func take() -> any ResponseBodyWriter {
        defer { writer = nil }
        return writer!
    }
}
