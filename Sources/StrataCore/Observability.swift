import CoreMetrics
import Logging

/// Where Strata's logs and metrics go: a swift-log `Logger` and a swift-metrics factory. Both follow the
/// application's bootstrap (`LoggingSystem.bootstrap`, `MetricsSystem.bootstrap`). With nothing bootstrapped,
/// metrics go to swift-metrics' no-op handler, and swift-log's default handler prints what an operator must not
/// miss to standard error — a recovery after a crash (notice), a cut torn write or a rebuilt index (warning), a
/// refused open or a failed background task (error), a stopped writer (critical) — while routine work (opening
/// from a checkpoint, creating a store, index merges) logs at `debug`. Nothing is logged or measured per event:
/// per append at most, and recovery, failures and background work once each.
///
/// Pass one to `LogStore.Options`, and to the event-sourcing layer's projections, compactor and command
/// executor, to send them elsewhere — tests pass a capturing logger and `MetricsTestKit.TestMetrics`.
public struct Observability: Sendable {
    /// Where Strata logs.
    public var logger: Logger
    /// The metrics factory; nil means `MetricsSystem.factory` at the time a store or component is created.
    public var metricsFactory: (any MetricsFactory)?
    /// Dimensions added to every metric (say `("store", "orders")` when a process opens several stores).
    public var dimensions: [(String, String)]

    public init(
        logger: Logger = Logger(label: "strata"), metricsFactory: (any MetricsFactory)? = nil,
        dimensions: [(String, String)] = []
    ) {
        self.logger = logger
        self.metricsFactory = metricsFactory
        self.dimensions = dimensions
    }

    /// The application's logger and metrics (swift-log and swift-metrics as bootstrapped).
    public static var standard: Observability { Observability() }

    /// Neither logs nor metrics, whatever is bootstrapped (fuzz targets, benchmarks).
    public static var silent: Observability {
        Observability(logger: Logger(label: "strata", factory: { _ in SwiftLogNoOpLogHandler() }), metricsFactory: NOOPMetricsHandler.instance)
    }

    /// The factory metrics are made with.
    public var factory: any MetricsFactory { metricsFactory ?? MetricsSystem.factory }

    /// A counter named `label` with this observability's dimensions plus `extra`.
    public func counter(_ label: String, _ extra: [(String, String)] = []) -> Counter {
        Counter(label: label, dimensions: dimensions + extra, factory: factory)
    }

    /// A timer named `label` with this observability's dimensions plus `extra`.
    public func timer(_ label: String, _ extra: [(String, String)] = []) -> CoreMetrics.Timer {
        CoreMetrics.Timer(label: label, dimensions: dimensions + extra, factory: factory)
    }

    /// A recorder (a histogram when `aggregate`) named `label` with this observability's dimensions plus `extra`.
    public func recorder(_ label: String, _ extra: [(String, String)] = [], aggregate: Bool = true) -> Recorder {
        Recorder(label: label, dimensions: dimensions + extra, aggregate: aggregate, factory: factory)
    }

    /// A gauge named `label` with this observability's dimensions plus `extra`.
    public func gauge(_ label: String, _ extra: [(String, String)] = []) -> Gauge {
        Gauge(label: label, dimensions: dimensions + extra, factory: factory)
    }
}

/// The metric names Strata reports (Prometheus style: a `_total` counter, a `_seconds` timer). The DocC article
/// "Logs and metrics" lists them with their kinds and dimensions.
public enum StrataMetric {
    /// Timer: one `append` call, from the call to its acknowledgement.
    public static let appendDuration = "strata_append_duration_seconds"
    /// Timer: one `fdatasync` (or `F_FULLFSYNC`) of a segment by the commit path.
    public static let syncDuration = "strata_fsync_duration_seconds"
    /// Counter: acknowledged appends (batches).
    public static let commits = "strata_commits_total"
    /// Counter: frames written by the commit path (one per committed append; a repair's lost-range frames are not
    /// counted).
    public static let frames = "strata_frames_total"
    /// Counter: records (events) committed.
    public static let records = "strata_records_total"
    /// Counter: bytes written to segments by the commit path.
    public static let bytesWritten = "strata_bytes_written_total"
    /// Recorder (histogram): appends committed by one group commit (one write, one sync).
    public static let groupCommitAppends = "strata_group_commit_appends"
    /// Timer: opening a store (recovery and index recovery).
    public static let recoveryDuration = "strata_recovery_duration_seconds"
    /// Counter: torn tails cut by recovery; bytes cut.
    public static let recoveryCuts = "strata_recovery_cuts_total"
    public static let recoveryCutBytes = "strata_recovery_cut_bytes_total"
    /// Counter, dimension `rule`: opens refused by a rule of the recovery table.
    public static let recoveryRefusals = "strata_recovery_refusals_total"
    /// Counter, dimension `step`: writers stopped by a failed write or sync.
    public static let writerFailures = "strata_writer_failures_total"
    /// Counter: partition-index rebuilds from the segments (at open, or after a lookup found damage).
    public static let indexRebuilds = "strata_index_rebuilds_total"
    /// Counter: background merges of index runs and stream-heads files.
    public static let indexMerges = "strata_index_merges_total"
    /// Counter, dimension `task`: background work that failed (it is logged, and retried where it can be).
    public static let backgroundFailures = "strata_background_failures_total"
    /// Counter: files (or tails of files) set aside in `quarantine/`.
    public static let quarantined = "strata_quarantined_total"
    /// Counter, dimension `reason`: snapshots a load passed over.
    public static let snapshotRejections = "strata_snapshot_rejections_total"
    /// Gauge, dimensions `projection` and `tenant` (`all` for a projection over every tenant): how old the last
    /// event a projection folded is while it has more to read, in seconds; 0 once it has caught up.
    public static let projectionLag = "strata_projection_lag_seconds"
    /// Counter, dimensions `projection` and `tenant`: events a projection could not fold (skipped under `.skip`, or
    /// the one it stopped on under `.stop`).
    public static let projectionFailures = "strata_projection_failures_total"
    /// Counter: commands run again after a version conflict with another writer.
    public static let commandRetries = "strata_command_retries_total"
    /// Live-feed (Server-Sent Events) streams the HTTP server ended itself, by `reason`: `stalled` (the client
    /// stopped reading), `failed` (the store failed under the feed).
    public static let liveFeedEnded = "strata_http_live_feed_ended_total"
}
