// libFuzzer target: the small fixed-layout files and blocks — segment header, segment footer, checkpoint,
// index manifest, a compacted segment's frame table. The first byte picks the decoder; the rest is the input.
import StrataStorage
import CFuzzDriver

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let bytes = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    switch data[0] % 5 {
    case 0: _ = try? SegmentHeader.decode(bytes)
    case 1: _ = try? SegmentFooter.decode(bytes)
    case 2: _ = try? Checkpoint.decode(bytes)
    case 3: _ = try? IndexManifest.decode(bytes)
    default:
        // As many frames as the bytes can hold, in a segment of up to 1 MiB of frames.
        let frames = bytes.count >= 8 ? UInt64((bytes.count - 8) / 16) : 0
        if let table = try? FrameTable.decode(bytes, frames: frames, dataEnd: 1 << 20, firstSequence: 1, lastSequence: 1 << 40) {
            for sequence in [0, 1, 2, 1 << 20, 1 << 40, UInt64.max] as [UInt64] {
                if let i = table.frameIndex(holding: sequence) {
                    precondition(table.baseSequences[i] <= sequence && table.offsets[i] < 1 << 20)
                }
            }
        }
    }
    return 0
}

// The entry point: libFuzzer's driver, in builds of Fuzz/run.sh (see Fuzz/CFuzzDriver).
strata_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, fuzz)
