import Foundation
import NIOCore
import Strata
import StrataStorage

extension JSONWriter {
    /// An event as the API shows it: where it is (`tenant`, `group`, `id`, `version`, and `position` when known),
    /// what it is (`type`, `typeVersion`, `eventId`, `timestamp` in RFC 3339 with microseconds), who caused it
    /// (`metadata`) and its payload — as `data` when the payload is JSON (copied as stored, on one line), else as
    /// `dataBase64`.
    mutating func event(_ record: EventRecord, version: UInt64, position: String?, jsonPayloads: Bool) {
        object { o in
            o.field("tenant") { $0.string(record.key.tenant) }
            o.field("group") { $0.string(record.key.group) }
            o.field("id") { $0.string(record.key.id) }
            o.field("version") { $0.integer(version) }
            if let position { o.field("position") { $0.string(position) } }
            o.field("type") { $0.string(record.typeName) }
            o.field("typeVersion") { $0.integer(record.typeVersion) }
            o.field("eventId") { $0.string(record.eventId.description) }
            o.field("timestamp") { $0.string(Timestamp.format(micros: record.timestampMicros)) }
            o.field("metadata") { w in
                w.object { m in
                    if let id = record.metadata.correlationId { m.field("correlationId") { $0.string(id) } }
                    if let id = record.metadata.causationId { m.field("causationId") { $0.string(id) } }
                    if let user = record.metadata.user { m.field("user") { $0.string(user) } }
                }
            }
            let isJSON = jsonPayloads && record.payload.withUnsafeBytes { JSONSyntax.isValidDocument($0) }
            if isJSON {
                // Line breaks in a valid document are whitespace between tokens (inside strings they are escaped):
                // spaces keep an event on one line, which a Server-Sent Events `data:` field needs.
                o.field("data") { w in
                    if record.payload.contains(where: { $0 == 0x0A || $0 == 0x0D }) {
                        w.raw(record.payload.map { $0 == 0x0A || $0 == 0x0D ? 0x20 : $0 })
                    } else {
                        w.raw(record.payload)
                    }
                }
            } else {
                o.field("dataBase64") { $0.string(Data(record.payload).base64EncodedString()) }
            }
        }
    }
}
