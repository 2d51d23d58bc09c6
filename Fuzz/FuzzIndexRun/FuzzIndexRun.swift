// libFuzzer target: an index run file (FORMAT.md, "Index runs"): open (header, block index, Bloom filter, all
// checked), point lookups and a full walk.
import StrataStorage
import StrataTestSupport
import CFuzzDriver

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let fs = SimulatedFileSystem()
    fs.setContents(of: "/run.idx", to: Array(UnsafeBufferPointer(start: data, count: size)))
    guard let reader = try? IndexRunReader.open("/run.idx", fileSystem: fs) else { return 0 }
    let all = (try? reader.allEntries()) ?? []
    for hash in all.prefix(16).map(\.keyHash) + [0, .max, 0x9E37_79B9_7F4A_7C15] {
        _ = reader.mayContain(hash)
        _ = try? reader.entries(for: hash)
    }
    return 0
}

// The entry point: libFuzzer's driver, in builds of Fuzz/run.sh (see Fuzz/CFuzzDriver).
strata_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, fuzz)
