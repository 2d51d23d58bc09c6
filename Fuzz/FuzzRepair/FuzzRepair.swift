// libFuzzer target: `strata fsck --repair` on a store folder of two hostile segment files (and a hostile
// CHECKPOINT). Input: u16 checkpoint length, u32 first segment length, then the checkpoint, the first segment and
// the second segment. Each file is named after the number and base sequence its own header bytes hold (clamped
// to valid names), so intact segments get their real names. The oracle: a repair either says what it could not
// repair, or leaves a store that fsck finds clean, and it never traps. Everything goes through the simulated
// file system.
import Dispatch
import StrataStorage
import StrataTestSupport
import Synchronization

/// Runs async work from the synchronous fuzz entry point: waits on a semaphore (this thread is not one of the
/// concurrency pool's, so blocking it cannot starve the work).
func blocking<T: Sendable>(_ work: @escaping @Sendable () async -> T) -> T {
    let result = Mutex<T?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let value = await work()
        result.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    return result.withLock { $0! }
}

/// The number and base sequence a segment's header bytes hold, clamped to what a file name can carry.
func nameFields(_ bytes: [UInt8], fallback: (UInt64, UInt64)) -> (number: UInt64, base: UInt64) {
    guard bytes.count >= 32 else { return fallback }
    func u64(_ at: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) } }
    return (min(max(u64(16), 1), 9_999_999_999), max(u64(24), 1))
}

func segmentName(_ number: UInt64, _ base: UInt64) -> String {
    let n = String(min(max(number, 1), 9_999_999_999)), b = String(max(base, 1))
    return String(repeating: "0", count: 10 - n.count) + n + "-" + String(repeating: "0", count: 20 - b.count) + b + ".segment"
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 6 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let checkpointLength = min(Int(input[0]) | Int(input[1]) << 8, size - 6)
    let firstLength = min(Int(input[2]) | Int(input[3]) << 8 | Int(input[4]) << 16 | Int(input[5]) << 24, size - 6 - checkpointLength)
    let checkpoint = Array(input[6..<(6 + checkpointLength)])
    let first = Array(input[(6 + checkpointLength)..<(6 + checkpointLength + firstLength)])
    let second = Array(input[(6 + checkpointLength + firstLength)...])
    let fs = SimulatedFileSystem()
    try! fs.createDirectory("/s")
    if !checkpoint.isEmpty { fs.setContents(of: "/s/CHECKPOINT", to: checkpoint) }
    let a = nameFields(first, fallback: (1, 1))
    var b = nameFields(second, fallback: (a.number &+ 1, max(a.base &+ 1, 1)))
    if b.number == a.number { b.number = a.number == 9_999_999_999 ? a.number - 1 : a.number + 1 }
    fs.setContents(of: "/s/" + segmentName(a.number, a.base), to: first)
    if !second.isEmpty { fs.setContents(of: "/s/" + segmentName(b.number, b.base), to: second) }
    guard let report = try? StoreCheck.check(store: "/s", fileSystem: fs), !report.problems.isEmpty else { return 0 }
    let problems = report.problems
    let outcome = blocking { () -> Result<[StoreRepair.RepairStep], StorageError> in
        do throws(StorageError) {
            return .success(try await StoreRepair.repair(store: "/s", problems: problems, fileSystem: fs, observability: .silent))
        } catch { return .failure(error) }
    }
    let done: [StoreRepair.RepairStep]
    switch outcome {
    case .success(let lines): done = lines
    case .failure(let error): preconditionFailure("repair threw \(error) for \(problems)")
    }
    guard !done.contains(where: { $0.outcome == .notRepaired }) else { return 0 }
    let after = try! StoreCheck.check(store: "/s", fileSystem: fs)
    precondition(after.problems.isEmpty, "after a repair that refused nothing (\(done)): \(after.problems)")
    return 0
}
