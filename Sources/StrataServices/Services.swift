import ServiceLifecycle
import Strata

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

/// Runs `body` (which runs until cancelled) until a graceful shutdown or cancellation, then returns normally.
func untilShutdown(_ body: @escaping @Sendable () async throws -> Void) async throws {
    do {
        try await cancelWhenGracefulShutdown(body)
    } catch is CancellationError {
        return  // the group is shutting down: a clean stop
    }
}
