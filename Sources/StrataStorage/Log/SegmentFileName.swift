/// Segment files are named `<number, 10 digits>-<base sequence, 20 digits>.segment`, so a directory listing
/// sorts them in log order and an operator sees where each begins (FORMAT.md, "Store folder").
package enum SegmentFileName {
    static let suffix = ".segment"
    /// The largest segment number a name carries (10 digits): a store whose last segment has it cannot start another.
    package static let maxNumber: UInt64 = 9_999_999_999

    package static func make(number: UInt64, baseSequence: UInt64) -> String {
        pad(number, 10) + "-" + pad(baseSequence, 20) + suffix
    }

    /// (number, base sequence), or nil for names that are not segment files.
    package static func parse(_ name: String) -> (number: UInt64, baseSequence: UInt64)? {
        guard name.hasSuffix(suffix) else { return nil }
        let stem = name.dropLast(suffix.count)
        let parts = stem.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 10, parts[1].count == 20,
            parts[0].allSatisfy({ $0.isASCII && $0.isNumber }), parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
            let number = UInt64(parts[0]), let base = UInt64(parts[1])
        else { return nil }
        return (number, base)
    }

    private static func pad(_ value: UInt64, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

/// Fixed names inside a store folder.
enum StoreFileName {
    static let lock = "LOCK"
    static let checkpoint = "CHECKPOINT"
    static let temporarySuffix = ".tmp"
    /// Present while `strata fsck --repair` changes segments; an open refuses the store while it exists.
    static let repairMarker = "REPAIRING"
    /// Folder for bytes recovery cut off and files repair moved aside; never read by the engine.
    static let quarantine = "quarantine"
}

func joinPath(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}
