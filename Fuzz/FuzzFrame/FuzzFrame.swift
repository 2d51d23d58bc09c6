// libFuzzer target: one frame (FORMAT.md, "Frames") — length check, header and checksum validation,
// decompression in every codec, the record walk. Bad input must throw, never crash, hang or over-allocate.
@_spi(StrataInternals) import StrataStorage
import CFuzzDriver

// One walker for every input (it keeps its decompression buffer). `nonisolated(unsafe)` is safe: libFuzzer calls
// the entry point from one thread, one input at a time, so the walker is never used concurrently.
nonisolated(unsafe) let walker = FrameCoding.RecordWalker()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    // What a reader does: the declared length is checked against the limit and the bytes at hand first.
    guard let length = FrameCoding.declaredLength(bytes), Int(length) <= min(size, Limits.frameBytesMax) else { return 0 }
    let frame = UnsafeRawBufferPointer(rebasing: bytes[0..<Int(length)])
    guard let header = try? FrameCoding.validate(frame) else { return 0 }
    var payloadBytes = 0
    _ = try? walker.forEachRecord(in: frame, header: header) { record in
        payloadBytes &+= record.payload.count + record.tenantBytes.count + record.idBytes.count
        _ = record.materialize()
    }
    return 0
}

// The entry point: libFuzzer's driver, in builds of Fuzz/run.sh (see Fuzz/CFuzzDriver).
strata_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, fuzz)
