// libFuzzer target: the JSONL import line parser (README, "The JSONL event format"): any bytes either decode
// to a valid record or are refused with a column and a reason.
import StrataTools
import CFuzzDriver

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? EventLine.decode(Array(UnsafeBufferPointer(start: data, count: size)), now: 0)
    return 0
}

// The entry point: libFuzzer's driver, in builds of Fuzz/run.sh (see Fuzz/CFuzzDriver).
strata_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, fuzz)
