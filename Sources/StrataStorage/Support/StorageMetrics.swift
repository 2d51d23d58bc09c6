import CoreMetrics
import Logging
import StrataCore

/// The engine's metrics, made once per open store.
final class StorageMetrics: Sendable {
    let observability: Observability
    let appendDuration: CoreMetrics.Timer
    let syncDuration: CoreMetrics.Timer
    let commits: Counter
    let frames: Counter
    let records: Counter
    let bytesWritten: Counter
    let groupCommitAppends: Recorder
    let recoveryCuts: Counter
    let recoveryCutBytes: Counter
    let indexRebuilds: Counter
    let indexMerges: Counter
    let quarantined: Counter

    init(_ observability: Observability) {
        self.observability = observability
        appendDuration = observability.timer(StrataMetric.appendDuration)
        syncDuration = observability.timer(StrataMetric.syncDuration)
        commits = observability.counter(StrataMetric.commits)
        frames = observability.counter(StrataMetric.frames)
        records = observability.counter(StrataMetric.records)
        bytesWritten = observability.counter(StrataMetric.bytesWritten)
        groupCommitAppends = observability.recorder(StrataMetric.groupCommitAppends)
        recoveryCuts = observability.counter(StrataMetric.recoveryCuts)
        recoveryCutBytes = observability.counter(StrataMetric.recoveryCutBytes)
        indexRebuilds = observability.counter(StrataMetric.indexRebuilds)
        indexMerges = observability.counter(StrataMetric.indexMerges)
        quarantined = observability.counter(StrataMetric.quarantined)
    }

    var logger: Logger { observability.logger }

    /// Counts and logs a background task's failure (rare: the counter is made when it happens).
    func backgroundFailure(_ task: String, _ error: some Error, _ metadata: Logger.Metadata = [:]) {
        observability.counter(StrataMetric.backgroundFailures, [("task", task)]).increment()
        var metadata = metadata
        metadata["task"] = "\(task)"
        metadata["error"] = "\(error)"
        observability.logger.error("background \(task) failed", metadata: metadata)
    }
}

extension Duration {
    /// Whole nanoseconds (saturating), for swift-metrics timers.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflow2) = product.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflow2 ? .max : sum
    }
}
