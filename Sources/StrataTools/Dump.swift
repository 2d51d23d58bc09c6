@_spi(StrataInternals) import StrataStorage

/// Which events `strata dump` writes.
public struct DumpFilter: Sendable {
    public var tenant: String?
    public var group: String?
    public var id: String?
    public var from: UInt64
    public var through: UInt64
    public var limit: Int

    public init(tenant: String? = nil, group: String? = nil, id: String? = nil, from: UInt64 = 1, through: UInt64 = .max, limit: Int = .max) {
        self.tenant = tenant
        self.group = group
        self.id = id
        self.from = from
        self.through = through
        self.limit = limit
    }

    func matches(_ record: RecordView) -> Bool { matches(record.event, sequence: record.sequence) }

    /// Whether the event at `sequence` passes the filter.
    public func matches(_ record: EventView, sequence: UInt64) -> Bool {
        sequence >= from && sequence <= through
            && (tenant.map { equal(record.tenantBytes, $0) } ?? true)
            && (group.map { equal(record.groupBytes, $0) } ?? true)
            && (id.map { equal(record.idBytes, $0) } ?? true)
    }

    private func equal(_ bytes: UnsafeRawBufferPointer, _ text: String) -> Bool {
        bytes.elementsEqual(text.utf8)
    }
}

public enum DumpFormat: String, Sendable, CaseIterable {
    /// One JSON object per line (`EventLine`): what `strata import` reads.
    case jsonl
    /// Tab-separated columns for people: sequence, stream, version, type, timestamp, payload (cut at 80 bytes).
    case table
}

public enum Dump {
    static let tableHeader = Array("sequence\tstream\tversion\ttype\ttimestamp\tpayload".utf8)

    /// The line for one record in `format` (no newline).
    public static func line(_ record: RecordView, format: DumpFormat) -> [UInt8] { line(record.event, sequence: record.sequence, format: format) }

    /// The line for the event at `sequence` in `format` (no newline).
    public static func line(_ record: EventView, sequence: UInt64, format: DumpFormat) -> [UInt8] {
        switch format {
        case .jsonl:
            return EventLine.encode(record, sequence: sequence)
        case .table:
            var out = Array("\(sequence)\t\(record.tenant)/\(record.group)/\(record.id)\t\(record.version)\t\(record.typeName)@\(record.typeVersion)\t\(Timestamp.format(micros: record.timestampMicros))\t".utf8)
            for byte in record.payload.prefix(80) { out.append(byte < 0x20 || byte == 0x7F ? UInt8(ascii: ".") : byte) }
            if record.payload.count > 80 { out += Array("…".utf8) }
            return out
        }
    }

    /// Writes the events of an open store that match `filter`, in sequence order. A full stream key reads the
    /// stream through the index; anything else scans the log from `filter.from`. Returns how many it wrote.
    @discardableResult
    public static func store(
        _ store: LogStore, filter: DumpFilter, format: DumpFormat, output: ([UInt8]) throws -> Void
    ) throws -> Int {
        if format == .table { try output(tableHeader) }
        var written = 0
        guard filter.limit > 0 else { return 0 }
        if let tenant = filter.tenant, let group = filter.group, let id = filter.id {
            try store.readStream(PartitionKey(tenant: tenant, group: group, id: id), asOfSequence: filter.through) { record in
                guard written < filter.limit, filter.matches(record) else { return }
                try output(line(record, format: format))
                written += 1
            }
            return written
        }
        let reader = store.makeReader(from: filter.from)
        var done = false
        while !done {
            let delivered = try reader.read(maxRecords: 4_096) { record in
                guard !done else { return }
                if record.sequence > filter.through {
                    done = true
                    return
                }
                guard filter.matches(record) else { return }
                try output(line(record, format: format))
                written += 1
                if written >= filter.limit { done = true }
            }
            if delivered == 0 { break }
        }
        return written
    }

    /// Writes the matching events of one segment file, read-only (no store is opened, nothing is changed).
    /// Returns how many it wrote and, if the walk stopped at damage, what and where.
    public static func segment(
        _ path: String, filter: DumpFilter, format: DumpFormat, output: ([UInt8]) throws -> Void
    ) throws -> (written: Int, problem: String?) {
        if format == .table { try output(tableHeader) }
        var written = 0
        var problem: String?
        let walker = FrameCoding.RecordWalker()
        try SegmentInspector.walk(path, fileSystem: PosixFileSystem()) { step in
            switch step {
            case .header, .footer:
                return true
            case .problem(let offset, let kind, let detail):
                problem = "\(path) at offset \(offset): \(kind.rawValue): \(detail)"
                return false
            case .frame(let header, let offset, let bytes):
                guard header.lastSequence >= filter.from, header.baseSequence <= filter.through else { return true }
                var failure: Error?
                do {
                    try walker.forEachRecord(in: bytes, header: header) { record in
                        guard failure == nil, written < filter.limit, filter.matches(record) else { return }
                        do {
                            try output(line(record, format: format))
                            written += 1
                        } catch {
                            failure = error
                        }
                    }
                } catch {
                    problem = "\(path) frame at offset \(offset): \(error)"
                    return false
                }
                if let failure { throw failure }
                return written < filter.limit && header.lastSequence < filter.through
            }
        }
        return (written, problem)
    }
}
