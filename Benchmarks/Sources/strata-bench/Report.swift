import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The run's output: the table on stdout (workload, Strata, SQLite, ratio, goal) and every figure for the JSON
/// file. A ratio is always "times better for Strata": Strata / SQLite for rates, SQLite / Strata for latencies
/// and sizes, so > 1 means Strata wins.
final class Report {
    struct Row {
        var workload: String
        var strata: String
        var sqlite: String
        var ratio: String
        var goal: String
    }

    private(set) var rows: [Row] = []
    private(set) var figures: [String: Double] = [:]
    private(set) var goals: [String: Bool] = [:]

    func record(_ name: String, _ value: Double) { figures[name] = value }

    /// Adds a table row and prints it at once (long runs show results as they come).
    func row(_ workload: String, strata: String, sqlite: String = "", ratio: Double? = nil, goal: String = "", met: Bool? = nil, goalKey: String? = nil) {
        let mark = met.map { $0 ? " (met)" : " (not met)" } ?? ""
        let row = Row(
            workload: workload, strata: strata, sqlite: sqlite, ratio: ratio.map { fixed($0, 2) + "×" } ?? "",
            goal: goal.isEmpty ? "" : goal + mark)
        if let goalKey, let met { goals[goalKey] = met }
        if rows.isEmpty { printHeader() }
        rows.append(row)
        say(Self.format(row))
    }

    func note(_ text: String) { say("  " + text) }

    private static let widths = [50, 38, 30, 9]

    private static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    private static func format(_ row: Row) -> String {
        [pad(row.workload, widths[0]), pad(row.strata, widths[1]), pad(row.sqlite, widths[2]), pad(row.ratio, widths[3]), row.goal]
            .joined(separator: " | ")
    }

    private func printHeader() {
        say(Self.format(Row(workload: "workload", strata: "Strata", sqlite: "SQLite (GRDB)", ratio: "ratio", goal: "goal")))
        say(Self.widths.map { String(repeating: "-", count: $0) }.joined(separator: "-|-") + "-|-----")
    }

    /// Writes every figure, the table, the machine and the commit as JSON.
    func writeJSON(to path: String, size: String, command: String, elapsed: Double) throws {
        var uts = utsname()
        uname(&uts)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        }
        let machine: [String: Any] = [
            "cores": sysconf(Int32(_SC_NPROCESSORS_ONLN)),
            "kernel": "\(field(uts.sysname)) \(field(uts.release)) \(field(uts.machine))",
            "cpu": cpuModel() ?? "unknown",
            "memory_gib": Double(sysconf(Int32(_SC_PHYS_PAGES)) * sysconf(Int32(_SC_PAGESIZE))) / Double(1 << 30),
            "swift": commandOutput("swift --version") ?? "unknown",
            "sqlite": SQLiteBaseline.libraryVersion(),
        ]
        let object: [String: Any] = [
            "date": ISO8601DateFormatter().string(from: Date()),
            "command": command,
            "size": size,
            "git_commit": commandOutput("git rev-parse HEAD") ?? "unknown",
            "git_dirty": (commandOutput("git status --porcelain --untracked-files=no") ?? "").isEmpty ? false : true,
            "machine": machine,
            "elapsed_s": elapsed,
            "figures": figures.mapValues { $0.isFinite ? $0 : -1 },
            "goals_met": goals,
            "table": rows.map { ["workload": $0.workload, "strata": $0.strata, "sqlite": $0.sqlite, "ratio": $0.ratio, "goal": $0.goal] },
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: path))
    }

    private func cpuModel() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }
}
