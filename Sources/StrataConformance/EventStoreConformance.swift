import Foundation
import Strata
import Synchronization

/// The conformance suite of the `EventStore` contract: what every backend — the native engine, the in-memory
/// store, SQLite, yours — must do, check by check. A backend's tests make one with a factory for fresh, empty
/// stores and run every check; a failed check throws a `ConformanceFailure` that lists what did not hold, so the
/// suite works under Swift Testing and XCTest alike.
///
/// ```swift
/// let conformance = EventStoreConformance(makeStore: { try MyStore.temporary() }, closeStore: { try await $0.close() })
///
/// @Test(arguments: EventStoreConformance<MyStore>.Check.allCases)
/// func conformance(_ check: EventStoreConformance<MyStore>.Check) async throws {
///     try await conformance.run(check)
/// }
/// ```
public struct EventStoreConformance<Store: EventStore>: Sendable {
    /// One check of the suite, by what it holds the store to.
    public enum Check: String, CaseIterable, Sendable, CustomStringConvertible {
        /// Appended events read back with every field, versions from 1 per stream, positions in order.
        case appendedEventsReadBackWhole
        /// Expected versions (`.any`, `.noStream`, `.exactly`), checks on streams without events in the batch, and
        /// a multi-stream batch that fails whole.
        case expectedVersionsAreAtomicAcrossStreams
        /// Invalid keys, events over `RecordLimits` and empty batches are refused with `EventStoreError`, whole.
        case invalidBatchesAreRefusedWhole
        /// Stream reads by version range, limit and `asOf` position.
        case streamReadsHonourRangesLimitsAndAsOf
        /// Global reads page by position without skipping or repeating, and a read's closure error comes back as
        /// it was thrown.
        case globalReadsResumeExactlyWhereAsked
        /// Positions: ordered as read, `origin` before every event, the string form parses back to the position.
        case positionsRoundTripTheirStringForm
        /// `waitForEvents` returns at once for stored events, wakes on an append, throws `CancellationError`.
        case waitingForEventsWakesOnAppend
        /// Snapshots: written, found at or before a bound, passed over when refused — or, for a backend without
        /// snapshots, none found and writing refused as `unsupported`.
        case snapshotsAreFoundByBoundAndPassedOverWhenRefused
        /// Aggregates load the same with and without snapshots, as of any version and position.
        case aggregatesLoadTheSameFromSnapshots
        /// A subscription delivers every event once, in order, across catch-up and live.
        case subscriptionsDeliverEveryEventOnceInOrder
        /// A durable subscription resumes after its last checkpoint; a second consumer's stale commit conflicts.
        case durableSubscriptionsResumeAfterTheirCheckpoint
        /// Many tasks append to a few streams with exact expectations: one winner per version, none lost.
        case concurrentWritersGetOneWinnerPerVersion
        /// Many tasks execute commands on a few aggregates through `CommandExecutor`: no lost update.
        case concurrentCommandsLoseNoUpdate
        /// A typed event decodes from a delivered event in one call, through the registry.
        case deliveredEventsDecodeThroughTheRegistry

        public var description: String { rawValue }
    }

    /// Whether the store keeps snapshots (else the suite checks that it says so: none found, writes refused).
    public let supportsSnapshots: Bool
    let makeStore: @Sendable () async throws -> Store
    let closeStore: @Sendable (Store) async throws -> Void

    /// A suite for stores that `makeStore` creates fresh and empty, and `closeStore` closes (and removes) after
    /// each check.
    public init(
        supportsSnapshots: Bool = true, makeStore: @escaping @Sendable () async throws -> Store,
        closeStore: @escaping @Sendable (Store) async throws -> Void = { _ in }
    ) {
        self.supportsSnapshots = supportsSnapshots
        self.makeStore = makeStore
        self.closeStore = closeStore
    }

    /// Runs one check on a fresh store; throws `ConformanceFailure` when something did not hold (and what the store
    /// threw where it should not have).
    public func run(_ check: Check) async throws {
        let store = try await makeStore()
        let expectations = Expectations(check: check.rawValue)
        do {
            try await body(of: check)(store, expectations)
        } catch let failure as ConformanceFailure {
            try? await closeStore(store)
            throw failure
        } catch {
            try? await closeStore(store)
            expectations.fail("threw \(type(of: error)): \(error)")
            try expectations.finish()
        }
        try await closeStore(store)
        try expectations.finish()
    }

    /// Runs every check, each on a fresh store; throws at the first that fails.
    public func runAll() async throws {
        for check in Check.allCases { try await run(check) }
    }

    private func body(of check: Check) -> @Sendable (Store, Expectations) async throws -> Void {
        switch check {
        case .appendedEventsReadBackWhole: appendedEventsReadBackWhole
        case .expectedVersionsAreAtomicAcrossStreams: expectedVersionsAreAtomicAcrossStreams
        case .invalidBatchesAreRefusedWhole: invalidBatchesAreRefusedWhole
        case .streamReadsHonourRangesLimitsAndAsOf: streamReadsHonourRangesLimitsAndAsOf
        case .globalReadsResumeExactlyWhereAsked: globalReadsResumeExactlyWhereAsked
        case .positionsRoundTripTheirStringForm: positionsRoundTripTheirStringForm
        case .waitingForEventsWakesOnAppend: waitingForEventsWakesOnAppend
        case .snapshotsAreFoundByBoundAndPassedOverWhenRefused: { store, expect in try await snapshotsAreFound(store, expect) }
        case .aggregatesLoadTheSameFromSnapshots: { store, expect in try await aggregatesLoadTheSame(store, expect) }
        case .subscriptionsDeliverEveryEventOnceInOrder: subscriptionsDeliverEveryEventOnceInOrder
        case .durableSubscriptionsResumeAfterTheirCheckpoint: durableSubscriptionsResume
        case .concurrentWritersGetOneWinnerPerVersion: concurrentWritersGetOneWinnerPerVersion
        case .concurrentCommandsLoseNoUpdate: concurrentCommandsLoseNoUpdate
        case .deliveredEventsDecodeThroughTheRegistry: deliveredEventsDecodeThroughTheRegistry
        }
    }
}

/// What a failed conformance check found: each expectation that did not hold, with the line of the suite that
/// checks it.
public struct ConformanceFailure: Error, Sendable, CustomStringConvertible {
    /// The check's name.
    public var check: String
    /// What did not hold.
    public var failures: [String]

    public var description: String {
        "conformance check \(check) failed:\n" + failures.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// Collects what did not hold in one check.
final class Expectations: Sendable {
    let check: String
    private let failures = Mutex<[String]>([])

    init(check: String) { self.check = check }

    func callAsFunction(_ condition: Bool, _ message: @autoclosure () -> String = "", file: StaticString = #fileID, line: UInt = #line) {
        if !condition { fail(message(), file: file, line: line) }
    }

    func fail(_ message: String, file: StaticString = #fileID, line: UInt = #line) {
        failures.withLock { $0.append("\(file):\(line): \(message.isEmpty ? "expectation failed" : message)") }
    }

    /// Expects `body` to throw an `EventStoreError` that `matches`.
    func throwsStoreError(
        _ what: String, file: StaticString = #fileID, line: UInt = #line, _ matches: (EventStoreError) -> Bool = { _ in true }, _ body: () async throws -> Void
    ) async {
        do {
            try await body()
            fail("\(what): nothing was thrown", file: file, line: line)
        } catch let error as EventStoreError {
            if !matches(error) { fail("\(what): threw \(error)", file: file, line: line) }
        } catch {
            fail("\(what): threw \(type(of: error)), not EventStoreError: \(error)", file: file, line: line)
        }
    }

    /// `value`, or — when it is nil — a failed expectation and the check's `ConformanceFailure`, thrown.
    func require<T>(_ value: T?, file: StaticString = #fileID, line: UInt = #line) throws -> T {
        guard let value else {
            fail("a required value is nil", file: file, line: line)
            throw ConformanceFailure(check: check, failures: failures.withLock { $0 })
        }
        return value
    }

    func finish() throws {
        let failures = failures.withLock { $0 }
        if !failures.isEmpty { throw ConformanceFailure(check: check, failures: failures) }
    }
}
