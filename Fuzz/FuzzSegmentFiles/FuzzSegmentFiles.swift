// libFuzzer target: the small fixed-layout files and blocks — segment header, segment footer, checkpoint,
// index manifest. The first byte picks the decoder; the rest is the input.
import StrataStorage

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let bytes = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    switch data[0] % 4 {
    case 0: _ = try? SegmentHeader.decode(bytes)
    case 1: _ = try? SegmentFooter.decode(bytes)
    case 2: _ = try? Checkpoint.decode(bytes)
    default: _ = try? IndexManifest.decode(bytes)
    }
    return 0
}
