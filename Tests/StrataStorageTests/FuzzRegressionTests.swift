import Foundation
import StrataTestSupport
import Testing

@_spi(StrataInternals) @testable import StrataStorage

/// Inputs the fuzz targets once failed on, run through the same steps as the target (Fuzz/<target>/), with the
/// target's oracle.
@Suite struct FuzzRegressionTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("FuzzRegressions").path

    /// FuzzRepair: a damaged last segment numbered 9999999999 with a valid footer was rewritten sealed; the open
    /// after the repair started segment 10000000000, a name of 11 digits that the store ignores (fsck then found
    /// it and a CHECKPOINT listing it). Now the repair refuses that segment, and no open creates such a name.
    @Test func aRepairNeverLeavesASegmentNamedPastTenDigits() async throws {
        let input = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.folder + "/repair-max-segment-number.bin")))
        // (FuzzRepair's input layout: u16 checkpoint length, u32 first segment length, then the three files.)
        let checkpointLength = min(Int(input[0]) | Int(input[1]) << 8, input.count - 6)
        let firstLength = min(
            Int(input[2]) | Int(input[3]) << 8 | Int(input[4]) << 16 | Int(input[5]) << 24, input.count - 6 - checkpointLength)
        let checkpoint = Array(input[6..<(6 + checkpointLength)])
        let first = Array(input[(6 + checkpointLength)..<(6 + checkpointLength + firstLength)])
        let second = Array(input[(6 + checkpointLength + firstLength)...])
        func fields(_ bytes: [UInt8], fallback: (UInt64, UInt64)) -> (number: UInt64, base: UInt64) {
            guard bytes.count >= 32 else { return fallback }
            func u64(_ at: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) } }
            return (min(max(u64(16), 1), SegmentFileName.maxNumber), max(u64(24), 1))
        }
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/s")
        if !checkpoint.isEmpty { fs.setContents(of: "/s/CHECKPOINT", to: checkpoint) }
        let a = fields(first, fallback: (1, 1))
        var b = fields(second, fallback: (a.number &+ 1, max(a.base &+ 1, 1)))
        if b.number == a.number { b.number = a.number == SegmentFileName.maxNumber ? a.number - 1 : a.number + 1 }
        fs.setContents(of: "/s/" + SegmentFileName.make(number: a.number, baseSequence: a.base), to: first)
        if !second.isEmpty { fs.setContents(of: "/s/" + SegmentFileName.make(number: b.number, baseSequence: b.base), to: second) }
        #expect([a.number, b.number].contains(SegmentFileName.maxNumber))

        let report = try StoreCheck.check(store: "/s", fileSystem: fs)
        try #require(!report.problems.isEmpty)
        let done = try await StoreRepair.repair(store: "/s", problems: report.problems, fileSystem: fs, observability: .silent)
        let refused = done.filter { $0.outcome == .notRepaired }
        #expect(refused.contains { "\($0)".contains("could not start a segment after it") }, "\(done)")
        // Whatever was repaired or refused, no file carries a segment name the store would ignore.
        let names = try fs.listDirectory("/s")
        #expect(!names.contains { $0.hasSuffix(".segment") && SegmentFileName.parse($0) == nil }, "\(names)")
    }

    /// No open or rollover creates a segment past the largest number a name carries: it fails with a typed error.
    @Test func creatingASegmentPastTheLargestNumberFailsWithATypedError() throws {
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/s")
        #expect(throws: IOError.self) {
            _ = try LogStore.createSegment(
                fileSystem: fs, directory: "/s", number: SegmentFileName.maxNumber + 1, baseSequence: 1, handles: SegmentHandleCache(capacity: 4))
        }
        #expect(try fs.listDirectory("/s").isEmpty)
    }
}
