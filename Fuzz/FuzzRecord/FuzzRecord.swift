// libFuzzer target: record bodies (FORMAT.md, "Records") behind a valid frame header, so every input reaches
// both record decoders (the fast one and the checked one it falls back to). The first byte picks the record
// count the header claims.
@_spi(StrataInternals) import StrataStorage
import CFuzzDriver

// One walker for every input (it keeps its decompression buffer). `nonisolated(unsafe)` is safe: libFuzzer calls
// the entry point from one thread, one input at a time, so the walker is never used concurrently.
nonisolated(unsafe) let walker = FrameCoding.RecordWalker()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let frame = FrameCoding.frame(rawBody: body, recordCount: Int(data[0] % 64) + 1, baseSequence: 1 + UInt64(data[0]))
    frame.withUnsafeBytes { frame in
        guard let header = try? FrameCoding.validate(frame) else { return }
        _ = try? walker.forEachRecord(in: frame, header: header) { record in
            _ = record.materialize()
            _ = record.hasKey(PartitionKey(tenant: "t", group: "g", id: "i"))
        }
    }
    return 0
}

// The entry point: libFuzzer's driver, in builds of Fuzz/run.sh (see Fuzz/CFuzzDriver).
strata_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, fuzz)
