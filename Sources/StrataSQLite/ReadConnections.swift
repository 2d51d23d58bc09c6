import Foundation
import GRDB
import Strata
import Synchronization

/// The read connections of a store that opened its own file: read-only connections of the store's alone, used on the
/// calling thread and never waited for — a read takes an idle one, or opens one when none is idle.
///
/// Why not GRDB's pool of readers: its asynchronous reads cost two thread hops each (a load is two reads: about
/// 100 µs of a 300 µs load on the benchmark machine), and its blocking reads wait for a free reader, which an
/// asynchronous read of the same pool (the application's, on `SQLiteEventStore.writer`) gives back on the
/// cooperative thread pool — threads of that pool blocked waiting for it could wait for ever. Here nothing waits:
/// a read blocks its thread only for the SQLite work itself (at most a page of `SQLiteEventStore.pageRows` rows),
/// as the native store's reads block on `pread`. In WAL mode a reader never waits for the writer.
final class ReadConnections: Sendable {
    private let path: String
    private let configuration: Configuration
    /// Idle connections, and whether the store closed.
    private let state = Mutex<(idle: [DatabaseQueue], closed: Bool)>(([], false))
    /// Idle connections kept; more are closed when given back (there are as many as reads at one time).
    static let idleMax = 8

    init(path: String, busyTimeout: TimeInterval) {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(busyTimeout)
        configuration.label = "strata.sqlite.read"
        self.path = path
        self.configuration = configuration
    }

    /// Runs `body` in a read transaction on an idle connection, or a new one.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        let taken = try state.withLock { state -> DatabaseQueue? in
            if state.closed { throw EventStoreError.closed }
            return state.idle.popLast()
        }
        let connection = try taken ?? DatabaseQueue(path: path, configuration: configuration)
        defer { giveBack(connection) }
        return try connection.read(body)
    }

    private func giveBack(_ connection: DatabaseQueue) {
        let kept = state.withLock { state -> Bool in
            guard !state.closed, state.idle.count < Self.idleMax else { return false }
            state.idle.append(connection)
            return true
        }
        if !kept { try? connection.close() }
    }

    /// Closes the idle connections; later reads throw.
    func close() {
        let idle = state.withLock { state -> [DatabaseQueue] in
            state.closed = true
            defer { state.idle = [] }
            return state.idle
        }
        for connection in idle { try? connection.close() }
    }
}
