/// Decompresses a validated frame and walks its records in place. One per reader; the raw-body buffer is made
/// at the first compressed frame and reused from frame to frame, so steady-state reading allocates nothing and
/// a reader of uncompressed frames never allocates it.
final class FrameRecordDecoder {
    private lazy var raw = ScratchBuffer(capacity: 256 << 10)
    /// Size of the body last decompressed into `raw` (-1 when `raw` holds no complete body).
    private var decodedBodyBytes = -1

    /// Calls `body` for each record of the frame with sequence ≥ `from`. `frame` is the whole frame as returned
    /// by `FrameScanner`; errors carry offsets relative to the decompressed body. A lost-range frame has no
    /// records (its body is checked).
    /// Returns false if `body` asked to stop.
    ///
    /// `reusingBody`: the caller knows `frame` is the frame this decoder decoded last (a reader resuming inside the
    /// frame it stopped in), so the decompressed body from then is still valid and is not decompressed again.
    func forEachRecord(
        in frame: UnsafeRawBufferPointer, header: FrameHeader, from: UInt64, reusingBody: Bool = false,
        _ body: (RecordView) throws -> Bool
    ) rethrows -> Result<Bool, DecodeError> {
        if header.kind == .lost {
            // No records: the sequences of a lost range were lost to damage (their bytes are in quarantine/).
            do { _ = try LostRange.decode(frame, header: header) } catch { return .failure(error) }
            return .success(true)
        }
        let stored = UnsafeRawBufferPointer(
            rebasing: frame[FrameHeader.byteCount..<(FrameHeader.byteCount + Int(header.storedBodyBytes))])
        let bodyBytes: UnsafeRawBufferPointer
        if header.codec == .none {
            bodyBytes = stored
        } else if reusingBody, decodedBodyBytes == Int(header.rawBodyBytes) {
            bodyBytes = UnsafeRawBufferPointer(rebasing: raw.memory[0..<decodedBodyBytes])
        } else {
            decodedBodyBytes = -1
            raw.reserve(Int(header.rawBodyBytes))
            let target = UnsafeMutableRawBufferPointer(rebasing: raw.memory[0..<Int(header.rawBodyBytes)])
            do {
                try FrameCompressor.decompress(header.codec, stored, into: target)
            } catch {
                return .failure(error)
            }
            decodedBodyBytes = target.count
            bodyBytes = UnsafeRawBufferPointer(target)
        }
        var position = 0
        var index: UInt64 = 0
        while index < UInt64(header.recordCount) {
            let record: RecordView
            if let (fast, next) = RecordView.decodeFast(bodyBytes, at: position, baseSequence: header.baseSequence) {
                record = fast
                position = next
            } else {
                // Re-decode on the checked path to name the problem (it may also accept: then so do we).
                var reader = ByteReader(bodyBytes, position: position)
                do {
                    record = try RecordView.decode(&reader, baseSequence: header.baseSequence)
                } catch {
                    return .failure(error)
                }
                position = reader.position
            }
            // Format version 1 frames are dense: record i has sequence base + i.
            guard record.sequence == header.baseSequence + index else {
                return .failure(DecodeError(
                    offset: position,
                    kind: .badRecord, reason: "record \(index) has sequence \(record.sequence), expected \(header.baseSequence + index)"))
            }
            index += 1
            if record.sequence >= from {
                if try !body(record) { return .success(false) }
            }
        }
        let reader = ByteReader(bodyBytes, position: position)
        guard reader.isAtEnd else {
            return .failure(DecodeError(offset: reader.position, kind: .badRecord, reason: "\(reader.remaining) bytes follow the last record"))
        }
        return .success(true)
    }
}
