// libFuzzer target: a whole store folder holding one hostile segment file (and, when the first two bytes say
// so, a hostile CHECKPOINT): fsck and stats read it without changing it; open runs recovery (checkpoint, tail
// scan, cut and quarantine, index rebuild); then every committed record is read back and the streams listed.
// Everything goes through the simulated file system, so nothing touches the disk. (FuzzRepair repairs such
// stores.)
import Dispatch
import StrataStorage
import StrataTestSupport
import CFuzzDriver

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let checkpointLength = min(Int(data[0]) | Int(data[1]) << 8, size - 2)
    let fs = SimulatedFileSystem()
    try! fs.createDirectory("/s")
    if checkpointLength > 0 {
        fs.setContents(of: "/s/CHECKPOINT", to: Array(UnsafeBufferPointer(start: data + 2, count: checkpointLength)))
    }
    fs.setContents(
        of: "/s/0000000001-00000000000000000001.segment",
        to: Array(UnsafeBufferPointer(start: data + 2 + checkpointLength, count: size - 2 - checkpointLength)))
    // fsck first (it must not change anything, and must survive anything), then open and read.
    if let report = try? StoreCheck.check(store: "/s", fileSystem: fs) {
        precondition(report.segments == 1, "fsck saw \(report.segments) segments")
    }
    _ = try? StoreStats.collect(store: "/s", deep: true, fileSystem: fs)
    _ = try? StoreStats.collect(store: "/s", deep: false, fileSystem: fs)
    precondition(fs.files.filter { $0.hasPrefix("/s/") }.count == (checkpointLength > 0 ? 2 : 1), "fsck or stats changed the store")
    // Damage that valid data follows is refused, and the refusal changes nothing on disk (FORMAT.md, "Recovery":
    // every segment is judged before anything is written, removed or cut).
    let before = fs.files.filter { !$0.hasSuffix("/LOCK") }.map { ($0, fs.contents(of: $0)) }
    let store: LogStore
    do throws(StorageError) {
        store = try LogStore.open(at: "/s", options: LogStore.Options(createIfMissing: false, fileSystem: fs, observability: .silent))
    } catch {
        if case .damagedLog = error {
            let after = fs.files.filter { !$0.hasSuffix("/LOCK") }.map { ($0, fs.contents(of: $0)) }
            precondition(
                after.count == before.count && zip(after, before).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 },
                "a refused open (\(error)) changed the store")
        }
        return 0
    }
    let reader = store.makeReader()
    var keys: [PartitionKey] = []
    _ = try? reader.read(maxRecords: 10_000) { record in
        if keys.count < 8 { keys.append(record.key) }
    }
    for key in keys {
        _ = try? store.readStream(key) { _ in }
        _ = try? store.streamVersion(key)
        _ = try? store.listStreams(tenant: key.tenant, group: nil, after: nil, limit: 10)
    }
    // The fuzz entry point is synchronous: wait for the asynchronous close on a semaphore (this thread is not
    // one of the concurrency pool's, so blocking it cannot starve the close).
    let closed = DispatchSemaphore(value: 0)
    Task {
        try? await store.close()
        closed.signal()
    }
    closed.wait()
    return 0
}

// The entry point: libFuzzer's driver, in builds of Fuzz/run.sh (see Fuzz/CFuzzDriver).
strata_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, fuzz)
