import PropertyBased
import StrataTestSupport
import Testing

@_spi(StrataInternals) @testable import StrataStorage

/// The read side keeps FORMAT.md's promises about record contents, whoever wrote the bytes: a payload over the
/// 4 MiB limit and a string field that is not UTF-8 are damage (`badRecord`), on every read path (the fast and the
/// checked decoder, the log reader, a stream read, fsck), never delivered — not as a big blob, not with U+FFFD.
@Suite struct RecordLimitsOnReadTests {
    /// One record body written by hand from FORMAT.md's grammar ("Records"), so nothing of the encoder's own
    /// validation stands in the way.
    static func handWrittenRecord(tenant: [UInt8] = Array("t0".utf8), typeName: [UInt8] = Array("ItemAdded".utf8), payload: [UInt8]) -> [UInt8] {
        var body = ByteWriter(capacity: 64 + payload.count)
        body.varint(0)  // sequence delta
        body.varint(1)  // stream version
        body.varint(1)  // type version
        body.varint(0)  // zigzag(timestamp)
        body.u64(0x0123_4567_89AB_CDEF)
        body.u64(0x0FED_CBA9_8765_4321)
        for field in [tenant, Array("Cart".utf8), Array("s0".utf8), typeName] {
            body.u8(UInt8(field.count))
            body.raw(field)
        }
        body.u8(0)  // no metadata
        body.varint(UInt64(payload.count))
        body.raw(payload)
        var record = ByteWriter(capacity: body.count + 10)
        record.varint(UInt64(body.count))
        record.raw(body.bytes)
        return record.bytes
    }

    static func frame(_ recordBytes: [UInt8], baseSequence: UInt64 = 1) -> [UInt8] {
        var out = ByteWriter(capacity: recordBytes.count + 64)
        recordBytes.withUnsafeBytes { raw in
            FrameHeader.encode(codec: .none, recordCount: 1, baseSequence: baseSequence, rawBodyBytes: raw.count, body: raw, into: &out)
        }
        return out.bytes
    }

    /// A store whose only segment holds this one frame (written after a clean close, as a hand would).
    func store(with recordBytes: [UInt8]) throws -> SimulatedFileSystem {
        let fs = SimulatedFileSystem()
        try fs.createDirectory(simulatedStorePath)
        let header = SegmentHeader(segmentNumber: 1, baseSequence: 1, createdMicros: 0).encode()
        fs.setContents(of: simulatedStorePath + "/" + SegmentFileName.make(number: 1, baseSequence: 1), to: header + Self.frame(recordBytes))
        return fs
    }

    static let hostile: [(String, [UInt8])] = [
        ("a payload of 5 MiB", handWrittenRecord(payload: Array(repeating: UInt8(ascii: "x"), count: 5 << 20))),
        ("a tenant that is not UTF-8", handWrittenRecord(tenant: [0x74, 0xFF], payload: Array("{}".utf8))),
        ("a type name with an overlong encoding", handWrittenRecord(typeName: [0xC0, 0xAF], payload: Array("{}".utf8))),
        ("a surrogate in the tenant", handWrittenRecord(tenant: [0xED, 0xA0, 0x80], payload: Array("{}".utf8))),
    ]

    @Test(arguments: 0..<4)
    func hostileContentsAreDamageOnEveryReadPath(_ i: Int) throws {
        let (what, bytes) = Self.hostile[i]
        // Both decoders refuse it.
        bytes.withUnsafeBytes { raw in
            #expect(RecordView.decodeFast(raw, at: 0, baseSequence: 1) == nil, "\(what): the fast decoder took it")
            var reader = ByteReader(raw)
            #expect(throws: DecodeError.self, "\(what)") { _ = try RecordView.decode(&reader, baseSequence: 1) }
        }
        // Without a checkpoint, opening would scan the frame and, finding nothing valid after it, cut it as a torn
        // tail: with a checkpoint that says it was committed, it is committed data and reads report it.
        let fs = try store(with: bytes)
        let segment = segmentPaths(fs)[0]
        var checkpoint = Checkpoint(nextSequence: 2, segments: [
            Checkpoint.Segment(
                number: 1, baseSequence: 1, lastSequence: 1, dataEnd: UInt64(fs.contents(of: segment)!.count), frameCount: 1,
                sealed: false, tableBytes: 0, lastNumber: 1),
        ])
        checkpoint.nextSequence = 2
        fs.setContents(of: simulatedStorePath + "/CHECKPOINT", to: checkpoint.encode())
        // Open (which indexes the frame) or the read after it reports the damage, naming the segment.
        do {
            let opened = try openSimulated(fs)
            _ = try opened.readRecords()
            Issue.record("\(what): read back")
        } catch let error as StorageError {
            guard case .corrupt(let corruption) = error else { Issue.record("\(what): \(error)"); return }
            #expect(corruption.kind == .badRecord && corruption.file == segment, "\(what): \(corruption)")
            #expect(error.description.contains("strata fsck --repair"), "\(what): \(error)")
        }
        let report = try StoreCheck.check(store: simulatedStorePath, fileSystem: fs)
        #expect(report.problems.contains { $0.kind == .badRecord }, "\(what): \(report.problems)")
    }

    /// The validator agrees with Swift's own UTF-8 validation on random and on mutated valid text.
    @Test func utf8ValidationAgreesWithTheStandardLibrary() async {
        let samples = ["", "tenant-1", "café", "日本語", "🇯🇵 flag", "\u{10FFFF}", "a\u{0}b"]
        await propertyCheck(count: 3_000, input: Gen<UInt8>.value(in: 0...255).array(of: 0...12), Gen.int(in: 0...6)) { random, pick in
            for bytes in [random, Array(samples[pick].utf8) + random.prefix(2), Array(samples[pick].utf8.dropLast())] {
                let expected = String(validating: bytes, as: UTF8.self) != nil
                bytes.withUnsafeBytes { raw in #expect(isValidUTF8(raw) == expected, "\(bytes)") }
            }
        }
    }
}
