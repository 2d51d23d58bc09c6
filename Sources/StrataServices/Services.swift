import Logging
import ServiceLifecycle
import Strata
import StrataStorage

/// A ``Compactor`` as a service of a `ServiceGroup`: it follows the store from when the group runs until the group
/// shuts down (gracefully, or by cancellation), then returns.
///
/// ```swift
/// let compactor = Compactor(store: store)
/// compactor.register(Cart.self)
/// let group = ServiceGroup(configuration: .init(
///     services: [CompactorService(compactor), ProjectionService(overview), yourServer], logger: logger))
/// try await group.run()
/// ```
public struct CompactorService<Store: EventStore>: Service where Store.Position: Codable {
    public let compactor: Compactor<Store>

    public init(_ compactor: Compactor<Store>) { self.compactor = compactor }

    public func run() async throws {
        let compactor = self.compactor
        try await untilShutdown { try await compactor.run() }
    }
}

/// A ``Projection`` kept up to date as a service of a `ServiceGroup` (it catches up, then folds new events, and
/// snapshots per its projector's policy) until the group shuts down; a failing event under `.stop` ends it with
/// the `ProjectionError`.
public struct ProjectionService<Projector: MultiProjector, Store: EventStore>: Service {
    public let projection: Projection<Projector, Store>

    public init(_ projection: Projection<Projector, Store>) { self.projection = projection }

    public func run() async throws {
        let projection = self.projection
        try await untilShutdown { try await projection.run() }
    }
}

/// Cold compaction of a native store as a service of a `ServiceGroup`: when the group starts and then every
/// `interval`, the sealed segments older than the policy's threshold are rewritten with zlib
/// (`LogStore.compactColdSegments`), beside appends and reads. A compaction that fails (a full disk, an I/O
/// error) leaves the old files in place; it is logged and tried again at the next interval, and the service
/// goes on. It returns when the group shuts down or the store closes.
public struct ColdCompactionService: Service {
    public let log: LogStore
    public let policy: LogStore.ColdCompaction
    public let interval: Duration
    let logger: Logger

    public init(
        _ store: NativeEventStore, policy: LogStore.ColdCompaction = LogStore.ColdCompaction(),
        every interval: Duration = .seconds(3_600), logger: Logger = Logger(label: "strata.cold-compaction")
    ) {
        self.init(log: store.log, policy: policy, every: interval, logger: logger)
    }

    public init(
        log: LogStore, policy: LogStore.ColdCompaction = LogStore.ColdCompaction(),
        every interval: Duration = .seconds(3_600), logger: Logger = Logger(label: "strata.cold-compaction")
    ) {
        self.log = log
        self.policy = policy
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        let (log, policy, interval, logger) = (self.log, self.policy, self.interval, self.logger)
        try await untilShutdown {
            while !log.isClosed {
                do {
                    let report = try await log.compactColdSegments(policy)
                    if report.segmentsRead > 0 {
                        logger.info(
                            "cold compaction",
                            metadata: [
                                "segmentsRead": "\(report.segmentsRead)", "segmentsWritten": "\(report.segmentsWritten)",
                                "bytesBefore": "\(report.bytesBefore)", "bytesAfter": "\(report.bytesAfter)",
                            ])
                    }
                } catch StorageError.closed {
                    return
                } catch {
                    logger.error("cold compaction failed; the old segments stay, trying again later", metadata: ["error": "\(error)"])
                    log.options.observability.counter(StrataMetric.backgroundFailures, [("task", "cold_compaction")]).increment()
                }
                try await Task.sleep(for: interval)
            }
        }
    }
}

/// Runs `body` (which runs until cancelled) until a graceful shutdown or cancellation, then returns normally.
func untilShutdown(_ body: @escaping @Sendable () async throws -> Void) async throws {
    do {
        try await cancelWhenGracefulShutdown(body)
    } catch is CancellationError {
        return  // the group is shutting down: a clean stop
    }
}
