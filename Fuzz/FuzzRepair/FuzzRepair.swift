// libFuzzer target: `strata fsck --repair` on a store folder of two hostile segment files (and a hostile
// CHECKPOINT), laid out as `RepairFuzzInput` (StrataTestSupport) says. The oracle: a repair either says what it
// could not repair, or leaves a store that fsck finds clean, and it never traps. Everything goes through the
// simulated file system.
import Dispatch
import StrataStorage
import StrataTestSupport
import Synchronization
import CFuzzDriver

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

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let fs = SimulatedFileSystem()
    try! fs.createDirectory("/s")
    guard RepairFuzzInput.write(Array(UnsafeBufferPointer(start: data, count: size)), to: fs, folder: "/s") else { return 0 }
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

// The entry point: libFuzzer's driver, in builds of Fuzz/run.sh (see Fuzz/CFuzzDriver).
strata_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, fuzz)
