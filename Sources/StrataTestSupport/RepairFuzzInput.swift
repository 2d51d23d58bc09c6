import StrataStorage

/// The input of the FuzzRepair target as a store folder: u16 checkpoint length, u32 first segment length, then the
/// checkpoint, the first segment and the second segment. Each segment file is named after the number and base
/// sequence its own header bytes hold (clamped to valid names), so intact segments get their real names. Shared by
/// the fuzz target and the tests that keep inputs it once failed on.
public enum RepairFuzzInput {
    /// Writes the input's files into the existing folder `folder` of `fs`; false when the input is too short to hold
    /// the lengths.
    public static func write(_ input: [UInt8], to fs: SimulatedFileSystem, folder: String) -> Bool {
        guard input.count >= 6 else { return false }
        let checkpointLength = min(Int(input[0]) | Int(input[1]) << 8, input.count - 6)
        let firstLength = min(
            Int(input[2]) | Int(input[3]) << 8 | Int(input[4]) << 16 | Int(input[5]) << 24, input.count - 6 - checkpointLength)
        let checkpoint = Array(input[6..<(6 + checkpointLength)])
        let first = Array(input[(6 + checkpointLength)..<(6 + checkpointLength + firstLength)])
        let second = Array(input[(6 + checkpointLength + firstLength)...])
        if !checkpoint.isEmpty { fs.setContents(of: folder + "/CHECKPOINT", to: checkpoint) }
        let a = nameFields(first, fallback: (1, 1))
        var b = nameFields(second, fallback: (a.number &+ 1, max(a.base &+ 1, 1)))
        if b.number == a.number { b.number = a.number == SegmentFileName.maxNumber ? a.number - 1 : a.number + 1 }
        fs.setContents(of: folder + "/" + name(a.number, a.base), to: first)
        if !second.isEmpty { fs.setContents(of: folder + "/" + name(b.number, b.base), to: second) }
        return true
    }

    /// A segment file name, number and base clamped to what a name can carry.
    static func name(_ number: UInt64, _ base: UInt64) -> String {
        SegmentFileName.make(number: min(max(number, 1), SegmentFileName.maxNumber), baseSequence: max(base, 1))
    }

    /// The number and base sequence a segment's header bytes hold, clamped to what a file name can carry.
    static func nameFields(_ bytes: [UInt8], fallback: (UInt64, UInt64)) -> (number: UInt64, base: UInt64) {
        guard bytes.count >= 32 else { return fallback }
        func u64(_ at: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) } }
        return (min(max(u64(16), 1), SegmentFileName.maxNumber), max(u64(24), 1))
    }
}
