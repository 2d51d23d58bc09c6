import PropertyBased
import StrataTestSupport
import Testing

@_spi(StrataInternals) @testable import StrataStorage

/// Random records covering every optional field and the limits.
/// A stream version for a generated record, of any magnitude (varints of every length), never 0.
func generatedVersion(_ record: EventRecord) -> UInt64 { max(record.eventId.high >> (record.eventId.low % 64), 1) }

let recordGenerator = Generator<EventRecord, Shrink.None<EventRecord>> { rng in
    func string(_ maxBytes: Int, allowEmpty: Bool = false) -> String {
        let n = Int.random(in: (allowEmpty ? 0 : 1)...maxBytes, using: &rng)
        // Mix ASCII and multi-byte characters, staying within the byte limit.
        var s = ""
        while s.utf8.count < n {
            let c: Character = Int.random(in: 0..<10, using: &rng) == 0 ? "é" : Character(UnicodeScalar(UInt8.random(in: 97...122, using: &rng)))
            if s.utf8.count + String(c).utf8.count > n { break }
            s.append(c)
        }
        return s.isEmpty && !allowEmpty ? "x" : s
    }
    /// Absent, free text, a canonical UUID (stored as 16 bytes) or an uppercase one (stored as text).
    func metadataId() -> String? {
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: return nil
        case 1: return string(255, allowEmpty: true)
        case 2: return EventID(high: rng.next(), low: rng.next()).description
        default: return EventID(high: rng.next(), low: rng.next()).description.uppercased()
        }
    }
    let payloadCount = Int.random(in: 0...2_000, using: &rng)
    return EventRecord(
        key: PartitionKey(
            tenant: string(Limits.tenantBytesMax), group: string(Limits.groupBytesMax),
            id: string(Limits.aggregateIdBytesMax)),
        typeName: string(Limits.typeNameBytesMax),
        typeVersion: UInt32.random(in: 0...UInt32.max, using: &rng),
        timestampMicros: Int64.random(in: Int64.min...Int64.max, using: &rng),
        eventId: EventID(high: rng.next(), low: rng.next()),
        metadata: RecordMetadata(
            correlationId: metadataId(),
            causationId: metadataId(),
            user: Bool.random(using: &rng) ? string(255, allowEmpty: true) : nil),
        payload: (0..<payloadCount).map { _ in UInt8.random(in: 0...3, using: &rng) })
}

@Suite struct CodecTests {
    @Test func varintsRoundTripAndRejectOverflow() throws {
        var values: [UInt64] = [0, 1, 127, 128, 255, 16_383, 16_384, UInt64(UInt32.max), UInt64.max - 1, UInt64.max]
        var rng = SplitMix64(seed: 7)
        for _ in 0..<1000 { values.append(rng.next() >> (rng.next() % 64)) }
        var w = ByteWriter()
        for v in values { w.varint(v) }
        try w.bytes.withRawBytes { (raw) throws(DecodeError) in
            var r = ByteReader(raw)
            for v in values { #expect(try r.varint() == v) }
            #expect(r.isAtEnd)
        }
        // 11 continuation bytes, and a 10th byte above 1, both overflow.
        for bad in [[UInt8](repeating: 0xFF, count: 11), [UInt8](repeating: 0xFF, count: 9) + [0x02]] {
            #expect(throws: DecodeError.self) {
                try bad.withRawBytes { (raw) throws(DecodeError) in
                    var r = ByteReader(raw)
                    _ = try r.varint()
                }
            }
        }
    }

    /// The record decoder's fast varint (a word at a time when eight bytes are left) takes exactly what the checked
    /// reader takes: the same value and length, or both refuse. Every length from 1 to 11 bytes, overlong forms,
    /// 10th bytes above 1, with and without bytes after the varint.
    @Test func fastVarintAgreesWithTheCheckedReader() {
        var rng = SplitMix64(seed: 11)
        var inputs: [[UInt8]] = []
        for _ in 0..<20_000 {
            let length = 1 + Int(rng.next() % 11)
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) | 0x80 }
            if rng.next() % 8 != 0 { bytes[length - 1] &= rng.next() % 4 == 0 ? 0x01 : 0x7F }  // usually terminated
            let trailing = Int(rng.next() % 10)
            inputs.append(bytes + (0..<trailing).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        }
        for value in [0, 1, 127, 128, 1 << 56 - 1, 1 << 56, UInt64.max] as [UInt64] {
            var w = ByteWriter()
            w.varint(value)
            inputs.append(w.bytes)
            inputs.append(w.bytes + [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80])
        }
        inputs.append([0x80, 0x00] + [UInt8](repeating: 0xFF, count: 8))  // overlong zero
        for input in inputs {
            input.withUnsafeBytes { raw in
                var reader = ByteReader(raw)
                let checked: (UInt64, Int)? = { () -> (UInt64, Int)? in
                    guard let value = try? reader.varint() else { return nil }
                    return (value, reader.position)
                }()
                var p = raw.baseAddress!
                let fast = RecordView.fastVarint(&p, raw.baseAddress! + raw.count).map { ($0, p - raw.baseAddress!) }
                #expect(fast?.0 == checked?.0 && fast?.1 == checked?.1, "\(input)")
            }
        }
    }

    @Test func zigzagRoundTrips() {
        for v: Int64 in [0, -1, 1, Int64.min, Int64.max, -123_456, 1_700_000_000_000_000] {
            #expect(zigzagDecode(zigzagEncode(v)) == v)
        }
    }

    @Test func eventIdParsesItsOwnDescription() {
        var rng = SplitMix64(seed: 1)
        for _ in 0..<100 {
            let id = EventID.random(using: &rng)
            #expect(EventID(uuidString: id.description) == id)
            #expect(EventID(uuidString: id.description.uppercased()) == id)
        }
        #expect(EventID(uuidString: "not-a-uuid") == nil)
        #expect(EventID(uuidString: "123e4567-e89b-12d3-a456-426614174000")?.description == "123e4567-e89b-12d3-a456-426614174000")
    }

    /// Random ids come from the system generator in blocks: across many blocks and threads, all distinct, all
    /// version 4 with the RFC 4122 variant, and their bits look random (each bit set about half the time).
    @Test func randomEventIdsAreDistinctVersion4Uuids() async {
        let ids = await withTaskGroup(of: [EventID].self) { group in
            for _ in 0..<4 { group.addTask { (0..<5_000).map { _ in EventID.random() } } }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.high & 0xF000 == 0x4000 && $0.low >> 62 == 0b10 })
        let ones = ids.reduce(0) { $0 + ($1.high & 0xFFFF_FFFF_FFFF_0FFF).nonzeroBitCount + ($1.low & 0x3FFF_FFFF_FFFF_FFFF).nonzeroBitCount }
        let bits = ids.count * (60 + 62)
        #expect(abs(Double(ones) / Double(bits) - 0.5) < 0.01)
    }

    @Test(arguments: [Compression.none, .lz4, .zlib(level: 6)])
    func framesRoundTripRandomBatches(compression: Compression) async {
        await propertyCheck(count: 60, input: recordGenerator.array(of: 1...40)) { records in
            let frame = try FrameCoding.encodeFrame(
                records, versions: records.map(generatedVersion), baseSequence: 1_000, compression: compression)
            var decoded: [StoredRecord] = []
            try frame.withUnsafeBytes { frame in
                #expect(FrameCoding.declaredLength(frame) == UInt32(frame.count))
                let header = try FrameCoding.validate(frame)
                #expect(header.baseSequence == 1_000)
                #expect(Int(header.recordCount) == records.count)
                let walked = try? FrameCoding.RecordWalker().forEachRecord(in: frame, header: header) { record in
                    decoded.append(record.materialize())
                }
                #expect(walked == records.count)
            }
            #expect(decoded.map(\.record) == records)
            #expect(decoded.map(\.version) == records.map(generatedVersion))
            #expect(decoded.map(\.sequence) == (0..<records.count).map { 1_000 + UInt64($0) })
        }
    }

    /// `FrameCoding` (what the CLI, fuzz targets and micro-benchmarks use) produces the very bytes the store
    /// writes, so what they measure and check is the store's own format.
    @Test(arguments: [Compression.none, .lz4, .zlib(level: 6)])
    func frameCodingWritesWhatTheStoreWrites(compression: Compression) async throws {
        let fs = SimulatedFileSystem()
        let store = try openSimulated(fs, compression: compression)
        let records = sampleBatch(stream: 4, after: 0, count: 50, payloadBytes: 120)
        try await store.append(records)
        try await store.close()
        let segment = try #require(fs.files.first { $0.hasSuffix(".segment") })
        let bytes = try #require(fs.contents(of: segment))
        let frame = try FrameCoding.encodeFrame(records, baseSequence: 1, compression: compression)
        #expect(Array(bytes[SegmentHeader.byteCount..<(SegmentHeader.byteCount + frame.count)]) == frame)
    }

    /// The fast record decoder accepts exactly what the checked one accepts, with the same result, on valid
    /// records and on damaged ones.
    @Test func fastAndCheckedRecordDecodersAgree() async {
        await propertyCheck(count: 300, input: recordGenerator.array(of: 1...8), Gen<UInt64>.value(in: 0...UInt64.max)) { records, seed in
            var body = RecordCodec.encodeBatch(records, versions: records.map(generatedVersion))
            var rng = SplitMix64(seed: seed)
            if seed % 3 != 0 {
                for _ in 0..<(1 + Int(rng.next() % 3)) { body[Int(rng.next() % UInt64(body.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            body.withUnsafeBytes { raw in
                var position = 0
                while position < raw.count {
                    var reader = ByteReader(raw, position: position)
                    let checked = try? RecordView.decode(&reader, baseSequence: 7)
                    let fast = RecordView.decodeFast(raw, at: position, baseSequence: 7)
                    #expect((checked == nil) == (fast == nil), "position \(position)")
                    guard let checked, let fast else { break }
                    #expect(checked.materialize() == fast.0.materialize())
                    #expect(reader.position == fast.1)
                    position = fast.1
                }
            }
        }
    }

    @Test func compressionIsSkippedWhenItDoesNotPay() {
        var rng = SplitMix64(seed: 3)
        let noise = (0..<10_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        var out: [UInt8] = []
        let codec = noise.withUnsafeBytes { FrameCompressor.compress($0, with: .lz4, into: &out) }
        #expect(codec == .none)
        #expect(out == noise)
        let text = Array(String(repeating: #"{"item":"coffee","quantity":1}"#, count: 200).utf8)
        for compression in [Compression.lz4, .zlib(level: 6)] {
            let used = text.withUnsafeBytes { FrameCompressor.compress($0, with: compression, into: &out) }
            #expect(used != .none)
            #expect(out.count < text.count / 4)
            var back = [UInt8](repeating: 0, count: text.count)
            let ok: Bool = out.withUnsafeBytes { stored in
                back.withUnsafeMutableBytes { target in
                    (try? FrameCompressor.decompress(used, stored, into: target)) != nil
                }
            }
            #expect(ok)
            #expect(back == text)
        }
    }

    @Test func segmentHeaderFooterAndCheckpointRoundTrip() throws {
        let header = SegmentHeader(segmentNumber: 7, baseSequence: 12_345, createdMicros: 99)
        let decodedHeader = try header.encode().withRawBytes { (raw) throws(DecodeError) in try SegmentHeader.decode(raw) }
        #expect(decodedHeader == header)
        let footer = SegmentFooter(frameCount: 3, recordCount: 10, firstSequence: 5, lastSequence: 14, dataEnd: 4096)
        let decodedFooter = try footer.encode().withRawBytes { (raw) throws(DecodeError) in try SegmentFooter.decode(raw) }
        #expect(decodedFooter == footer)
        let checkpoint = Checkpoint(nextSequence: 42, segments: [
            .init(number: 1, baseSequence: 1, lastSequence: 30, dataEnd: 900, frameCount: 3, sealed: true),
            .init(number: 2, baseSequence: 31, lastSequence: 41, dataEnd: 500, frameCount: 1, sealed: false),
        ])
        let decodedCheckpoint = try checkpoint.encode().withRawBytes { (raw) throws(DecodeError) in try Checkpoint.decode(raw) }
        #expect(decodedCheckpoint == checkpoint)
    }

    @Test func recordValidationNamesTheFieldAndIndex() async throws {
        let store = try openSimulated(SimulatedFileSystem())
        var record = sampleRecord(stream: 1, version: 1)
        record.key.tenant = String(repeating: "x", count: Limits.tenantBytesMax + 1)
        await #expect(throws: StorageError.invalidRecord(index: 1, reason: "tenant is 65 bytes; the limit is 64")) {
            try await store.append([sampleRecord(stream: 1, version: 1), record])
        }
        record = sampleRecord(stream: 1, version: 1)
        record.key.id = ""
        await #expect(throws: StorageError.invalidRecord(index: 0, reason: "aggregate id is empty")) {
            try await store.append([record])
        }
        record = sampleRecord(stream: 1, version: 1)
        record.payload = [UInt8](repeating: 1, count: Limits.payloadBytesMax + 1)
        await #expect(throws: StorageError.self) { try await store.append([record]) }
        await #expect(throws: StorageError.emptyBatch) { try await store.append([]) }
        #expect(store.lastSequence == 0)
        try await store.close()
    }

    /// Valid frames with random bytes changed or cut off: no decoder crashes, and the damage is reported — the
    /// frame decoder refuses every changed frame (its checksum covers every byte), structures of other kinds refuse
    /// a frame's bytes, and the record decoders, run past the checksum on the damaged body, agree record by record
    /// (the fast one refuses exactly what the checked one refuses) and never run past the body.
    @Test func decodersSurviveHostileBytes() async throws {
        let frames: [[UInt8]] = try (0..<8).map { seed in
            let records = (0..<5).map { sampleRecord(stream: seed, version: UInt64($0 + 1)) }
            let encoded = try EncodedBatch.encode(records, versions: (1...5).map { UInt64($0) }, compression: seed % 2 == 0 ? .lz4 : .none)
            var out = ByteWriter()
            encoded.body.withUnsafeBytes { body in
                FrameHeader.encode(
                    codec: encoded.codec, recordCount: encoded.recordCount, baseSequence: 1,
                    rawBodyBytes: encoded.rawBytes, body: body, into: &out)
            }
            return out.bytes
        }
        await propertyCheck(count: 500, input: Gen.int(in: 0...7), Gen<UInt64>.value(in: 0...UInt64.max)) { index, seed in
            var rng = SplitMix64(seed: seed)
            let original = frames[index]
            var bytes = original
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            if rng.next() % 4 == 0 { bytes.removeLast(Int(rng.next() % UInt64(bytes.count))) }
            bytes.withUnsafeBytes { raw in
                #expect(throws: DecodeError.self) { _ = try SegmentHeader.decode(raw) }
                #expect(throws: DecodeError.self) { _ = try SegmentFooter.decode(raw) }
                #expect(throws: DecodeError.self) { _ = try Checkpoint.decode(raw) }
                let header = try? FrameHeader.decode(raw)
                if bytes != original {
                    #expect(header == nil, "seed \(seed): a changed frame passed its checksum")
                } else if let header {
                    let result = FrameRecordDecoder().forEachRecord(in: raw, header: header, from: 0) { _ in true }
                    if case .failure(let error) = result { Issue.record("seed \(seed): the unchanged frame fails: \(error)") }
                }
                // Past the checksum, on an uncompressed body: both record decoders see the damage.
                guard original[9] == FrameCodec.none.rawValue, raw.count > FrameHeader.byteCount + 4 else { return }
                let body = UnsafeRawBufferPointer(rebasing: raw[FrameHeader.byteCount..<(raw.count - 4)])
                var position = 0
                while position < body.count {
                    var reader = ByteReader(body, position: position)
                    let checked = try? RecordView.decode(&reader, baseSequence: 1)
                    let fast = RecordView.decodeFast(body, at: position, baseSequence: 1)
                    #expect((checked == nil) == (fast == nil), "seed \(seed): the decoders disagree at \(position)")
                    guard let checked, let fast else { break }
                    #expect(fast.1 == reader.position && fast.1 <= body.count, "seed \(seed)")
                    #expect(checked.materialize() == fast.0.materialize(), "seed \(seed)")
                    position = reader.position
                }
            }
        }
    }
}
