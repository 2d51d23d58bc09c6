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
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/s")
        try #require(RepairFuzzInput.write(input, to: fs, folder: "/s"))
        #expect(try fs.listDirectory("/s").contains { SegmentFileName.parse($0)?.number == SegmentFileName.maxNumber })

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
