// libFuzzer target: a snapshot file (FORMAT.md, "Snapshot files") in a store's snapshots/ folder: open (header
// checked against the file size), lookups of the subjects it holds and of absent ones (index read and checked,
// records read and checked), and a merge of it (every record read, the winners copied into a new file).
import StrataStorage
import StrataTestSupport
import CFuzzDriver

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let fs = SimulatedFileSystem()
    try? fs.createDirectory("/store")
    try? fs.createDirectory("/store/snapshots")
    fs.setContents(of: "/store/snapshots/0000000001.snapshots", to: Array(UnsafeBufferPointer(start: data, count: size)))
    guard let store = try? SnapshotStore(storePath: "/store", fileSystem: fs), store.fileCount == 1 else { return 0 }
    let subjects: [SnapshotSubject] = [
        .stream(PartitionKey(tenant: "acme", group: "Cart", id: "cart-1")),
        .stream(PartitionKey(tenant: "ünïcode-tenant", group: "Cart", id: "cart-2")),
        .projection(name: "CartsOverview", tenant: nil), .projection(name: "CartsOverview", tenant: "acme"),
        .stream(PartitionKey(tenant: "t", group: "g", id: "absent")),
    ]
    for subject in subjects {
        for projector in ["Cart", "CartsOverview"] {
            let found = store.latest(subject, projectorName: projector) { _ in nil }.snapshot
            if let found, found.subject != subject || found.projectorName != projector { fatalError("a lookup returned another subject") }
            _ = store.latest(subject, projectorName: projector, maxSequence: 25) { $0.projectorVersion == 1 ? nil : .projectorVersion(found: $0.projectorVersion, expected: 1) }
        }
    }
    try? store.compact(createdMicros: 0)
    return 0
}

// The entry point: libFuzzer's driver, in builds of Fuzz/run.sh (see Fuzz/CFuzzDriver).
strata_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, fuzz)
