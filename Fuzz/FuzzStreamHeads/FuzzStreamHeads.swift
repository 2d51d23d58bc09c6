// libFuzzer target: a stream-heads file (FORMAT.md, "Stream heads"): open (header, block index, Bloom filter,
// all checked), lookups of the keys it holds and of absent ones, listings, a full walk.
import StrataStorage
import StrataTestSupport
import CFuzzDriver

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let fs = SimulatedFileSystem()
    fs.setContents(of: "/heads.hds", to: Array(UnsafeBufferPointer(start: data, count: size)))
    guard let reader = try? StreamHeadsReader.open("/heads.hds", fileSystem: fs) else { return 0 }
    let all = (try? reader.allHeads()) ?? []
    for key in all.prefix(16).map(\.key) + [PartitionKey(tenant: "t", group: "g", id: "absent"), PartitionKey(tenant: "", group: "", id: "")] {
        _ = try? reader.head(of: key)
        _ = try? reader.list(tenant: key.tenant, group: key.group, after: nil, limit: 5)
        _ = try? reader.list(tenant: key.tenant, group: nil, after: key, limit: 5)
    }
    return 0
}

// The entry point: libFuzzer's driver, in builds of Fuzz/run.sh (see Fuzz/CFuzzDriver).
strata_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, fuzz)
