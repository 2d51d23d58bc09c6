/// The recovery decision table (FORMAT.md, "Recovery"): every situation `LogStore.open` can meet and what it does
/// about it. This enum is the table: FORMAT.md's copy is rendered from ``markdownTable`` (a test compares them),
/// `Recovery` records the rule behind each of its decisions in ``RecoveryReport/decisions``, and the recovery
/// tests have one case per rule.
///
/// Opening decides before it changes anything: every segment is judged first, and a refusal leaves every file as
/// it was. Only then are superseded segments and temporary files removed, a torn tail cut and a checkpoint written.
public enum RecoveryRule: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    /// A repair was interrupted: refused until a repair finishes it.
    case repairInterrupted
    /// An empty folder: a new store.
    case createStore
    /// The checkpoint cannot be read: every segment is judged without it.
    case checkpointUnusable
    /// The checkpoint names a last segment that is gone: refused.
    case checkpointListsMissingSegment
    /// The log does not start at sequence 1: refused.
    case logStartsAfterOne
    /// An input a cold compaction merged and did not yet remove: removed.
    case supersededSegment
    /// A segment numbered as merged but outside the merged range: refused.
    case supersededOutsideItsRange
    /// A segment number is missing: refused.
    case segmentNumberGap
    /// Sequences do not continue from one segment to the next: refused.
    case sequenceGap
    /// A sealed segment as the checkpoint describes it: trusted.
    case trustSealed
    /// A sealed segment the checkpoint does not describe: header and footer verified.
    case verifySealed
    /// The active segment as a clean close left it: trusted.
    case trustActive
    /// The active segment is shorter than what was committed: refused.
    case truncatedBelowCheckpoint
    /// The active segment grew after the checkpoint (a crash): the new frames are scanned.
    case scanAfterCheckpoint
    /// The active segment is not in the checkpoint: scanned whole.
    case scanWholeSegment
    /// A compacted segment is last: verified, never scanned or cut.
    case verifyCompactedLast
    /// A scan ends in a valid footer: the segment is sealed.
    case sealedByFooter
    /// A torn final write (nothing valid after it): cut and kept in quarantine.
    case cutTornTail
    /// Damage that valid data follows: refused, nothing changed.
    case refuseDamage
    /// The last segment is sealed: the next one is created.
    case startNextSegment
    /// Leftover temporary files: removed.
    case removeTemporaryFiles
    /// Anything was not trusted: a new checkpoint is written.
    case writeCheckpoint

    /// Whether the rule makes `open` throw (the store is not opened and nothing on disk changes).
    public var refuses: Bool {
        switch self {
        case .repairInterrupted, .checkpointListsMissingSegment, .logStartsAfterOne, .supersededOutsideItsRange,
            .segmentNumberGap, .sequenceGap, .truncatedBelowCheckpoint, .refuseDamage:
            true
        default:
            false
        }
    }

    /// The situation, as FORMAT.md's table states it.
    public var situation: String {
        switch self {
        case .repairInterrupted: "a `REPAIRING` file in the store"
        case .createStore: "no segment file at all"
        case .checkpointUnusable: "`CHECKPOINT` damaged or of an unknown version"
        case .checkpointListsMissingSegment: "the checkpoint's last segment is not in the folder"
        case .logStartsAfterOne: "the first segment's base sequence is not 1"
        case .supersededSegment:
            "a segment whose number ≤ the previous segment's `lastNumber`, its base sequence inside the previous segment's range (a cold compaction merged it and stopped before removing it)"
        case .supersededOutsideItsRange: "such a segment whose base sequence lies outside the previous segment's range"
        case .segmentNumberGap: "a segment number ≠ the previous segment's `lastNumber` + 1"
        case .sequenceGap: "a segment whose base sequence ≠ the previous segment's last sequence + 1"
        case .trustSealed:
            "a sealed segment whose checkpoint entry matches it (sealed, same base, size = dataEnd + tableBytes + 56)"
        case .verifySealed: "a segment before the last that the checkpoint does not list (or lists otherwise)"
        case .trustActive: "the last segment, its size = the checkpoint's dataEnd (a clean close)"
        case .truncatedBelowCheckpoint: "the last segment, smaller than the checkpoint's dataEnd"
        case .scanAfterCheckpoint: "the last segment, larger than the checkpoint's dataEnd (a crash)"
        case .scanWholeSegment: "the last segment, not in the checkpoint"
        case .verifyCompactedLast: "a compacted last segment the checkpoint does not describe"
        case .sealedByFooter: "in a scan: a valid footer at the end of the file, consistent with the frames"
        case .cutTornTail:
            "in a scan: a frame (or a footer) fails a check — length, trailer, checksum, kind, codec, sizes — and nothing valid follows it in the file: a torn final write"
        case .refuseDamage:
            "in a scan: a frame fails a check and a valid frame continuing the sequence, or a valid footer, follows it; or a valid frame or footer does not continue the sequence: damage, not a torn write"
        case .startNextSegment: "the last segment is sealed (a crash between sealing it and creating the next)"
        case .removeTemporaryFiles: "`*.tmp` files (interrupted creations, never acknowledged)"
        case .writeCheckpoint: "anything was verified, scanned, cut, removed or created"
        }
    }

    /// What `open` does, as FORMAT.md's table states it.
    public var action: String {
        switch self {
        case .repairInterrupted:
            "refuse: `repairInterrupted`, before anything is read (a repair stopped half way may have replaced an active segment but not yet the checkpoint; only a repair may finish it)"
        case .createStore: "create segment 1 (base sequence 1) and a checkpoint"
        case .checkpointUnusable:
            "report it (`checkpointProblem`) and judge every segment as one the checkpoint does not list"
        case .checkpointListsMissingSegment: "refuse: `corrupt(.missingSegment)`"
        case .logStartsAfterOne: "refuse: `corrupt(.missingSegment)` (the segments before it are missing)"
        case .supersededSegment: "remove it (after every segment is judged) and fsync the folder"
        case .supersededOutsideItsRange: "refuse: `corrupt(.badSequence)`"
        case .segmentNumberGap: "refuse: `corrupt(.missingSegment)`"
        case .sequenceGap: "refuse: `corrupt(.badSequence)`"
        case .trustSealed: "trust it: nothing read"
        case .verifySealed: "verify header and footer; refuse (`corrupt`) if either is bad"
        case .trustActive: "trust it: nothing read"
        case .truncatedBelowCheckpoint: "refuse: `corrupt(.truncated)` (acknowledged data is gone)"
        case .scanAfterCheckpoint: "scan the frames after dataEnd"
        case .scanWholeSegment: "verify its header, scan all its frames"
        case .verifyCompactedLast:
            "verify header and footer like a sealed segment (it was written whole and synced: never scanned or cut)"
        case .sealedByFooter: "the segment is sealed"
        case .cutTornTail:
            "cut: copy the bytes from that frame on to `quarantine/` (unless all zeros), truncate the file there and fsync it; everything from there on was never acknowledged"
        case .refuseDamage:
            "refuse: `damagedLog`, naming the file, the offset of the damage, where valid data resumes and `strata fsck --repair`; nothing on disk changes"
        case .startNextSegment: "create the next segment"
        case .removeTemporaryFiles: "remove them (after every segment is judged)"
        case .writeCheckpoint: "write a new checkpoint, so that the next open reads nothing"
        }
    }

    public var description: String { rawValue }

    /// The table as FORMAT.md holds it, one row per rule in declaration order.
    public static var markdownTable: String {
        var lines = ["| rule | situation | action |", "|---|---|---|"]
        for rule in allCases { lines.append("| `\(rule.rawValue)` | \(rule.situation) | \(rule.action) |") }
        return lines.joined(separator: "\n")
    }
}
