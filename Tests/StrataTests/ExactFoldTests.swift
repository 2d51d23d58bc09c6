import Foundation
import PropertyBased
import Strata
import Synchronization
import Testing

/// Every kind of field `@Event` certifies as read back exactly (`roundTripsExactly`).
@Event("ExactSample")
struct ExactSample: Equatable {
    var text: String
    var count: Int
    var ratio: Double
    var single: Float
    var flag: Bool
    var small: Int8
    var wide: UInt64
    var at: Date
    var id: UUID
    var note: String?
    var maybe: Optional<Int32>
    var qualified: Swift.Int16

    static func random(_ seed: UInt64) -> ExactSample {
        var rng = SeededGenerator(seed: seed)
        let doubles: [Double] = [0, -0.0, 1e-308, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -123.456, 0.1, 1e20, 1e21, 3.0e-7]
        let texts = ["", "tea", "é (\u{E9}) vs e\u{301}", "quote \" backslash \\ slash / tab \t nul \u{0}", "😀 𝄞", "\u{7F}\u{80}\u{FFFF}"]
        func pick<T>(_ values: [T]) -> T { values[Int(rng.next() % UInt64(values.count))] }
        let bits = rng.next()
        return ExactSample(
            text: pick(texts) + String(bits % 1000), count: Int(bitPattern: UInt(truncatingIfNeeded: rng.next())),
            ratio: bits % 3 == 0 ? pick(doubles) : Double(bitPattern: rng.next() & 0x7FEF_FFFF_FFFF_FFFF),
            single: Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0x7F7F_FFFF), flag: bits % 2 == 0,
            small: Int8(truncatingIfNeeded: rng.next()), wide: rng.next(),
            at: Date(timeIntervalSinceReferenceDate: Double(Int64(truncatingIfNeeded: rng.next()) % 4_000_000_000) / 7),
            id: withUnsafeBytes(of: (rng.next(), rng.next())) { UUID(uuid: $0.loadUnaligned(as: uuid_t.self)) }, note: bits % 5 == 0 ? nil : pick(texts), maybe: bits % 7 == 0 ? nil : Int32(truncatingIfNeeded: rng.next()),
            qualified: Int16(truncatingIfNeeded: rng.next()))
    }
}

/// A type named like one that reads back exactly, and an event with a field of it: the compiler, not the name, decides.
enum Shadowing {
    struct Date: Codable, Equatable {
        var day: Int
    }

    @Event("Shadowed")
    struct Shadowed: Equatable {
        var at: Date
    }
}

/// An event whose fields read back exactly, by hand, counting its decodes.
struct CountedNote: Event, FieldDecodable, FieldEncodable, Equatable {
    static let eventType = "CountedNote"
    static let decodes = Mutex(0)
    static var roundTripsExactly: Bool { true }
    var text: String
    init(text: String) { self.text = text }
    init(fields: borrowing PayloadFields) throws {
        Self.decodes.withLock { $0 += 1 }
        text = try fields.decode(forKey: "text")
    }
    func encode(fields: inout PayloadFieldsWriter) throws { try fields.write(text, forKey: "text") }
}

/// An event whose decoding changes what it reads (trims the text): not read back exactly, so the executor must fold
/// what it decodes from its record, as a load does.
struct TrimmedNote: Event, Equatable {
    static let eventType = "TrimmedNote"
    var text: String
    init(text: String) { self.text = text }
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        text = try container.decode(String.self, forKey: .text).trimmingCharacters(in: .whitespaces)
    }
}

enum Notebook: AggregateProjector {
    typealias State = [String]
    @EventSet enum Events { case counted(CountedNote), trimmed(TrimmedNote) }
    static let group = "Notebook"
    static let initialState: [String] = []
    static func apply(_ state: consuming [String], _ event: Events) -> [String] {
        switch event {
        case .counted(let e): state.append(e.text)
        case .trimmed(let e): state.append(e.text)
        }
        return state
    }
}

struct Write: Command {
    typealias Projector = Notebook
    var key: PartitionKey
    var events: [any Event]
    func handle(_ notebook: Aggregate<Notebook>) throws -> [any Event] { events }
}

/// Records the aggregate a command saw.
struct Peek: Command {
    typealias Projector = Notebook
    var key: PartitionKey
    let seen: Seen
    final class Seen: Sendable { let state = Mutex<[String]?>(nil) }
    func handle(_ notebook: Aggregate<Notebook>) throws -> [any Event] {
        seen.state.withLock { $0 = notebook.state }
        return []
    }
}

@Suite struct ExactFoldTests {
    /// `@Event` says its fields read back exactly only where every field is a primitive, a `Date` or a `UUID` (or an
    /// optional of one), and they do: through either codec, random values (extreme doubles, escapes, astral
    /// characters, nil optionals) read back equal.
    @Test(arguments: EventMacroTests.codecs)
    func whatTheMacroCertifiesReadsBackEqual(codec: any EventCodec) async throws {
        #expect(ExactSample.roundTripsExactly)
        #expect(!MacroSample.roundTripsExactly && !Renamed.roundTripsExactly && !MacroAdded.roundTripsExactly)
        #expect(!Shadowing.Shadowed.roundTripsExactly, "a field of a type only named Date")
        // Its lazy form reads the field as the event's own type (generated in the event's body, where `Date` is the
        // nested one).
        let shadowed = try Shadowing.Shadowed.Lazy(Shadowing.Shadowed(at: Shadowing.Date(day: 3)))
        #expect(try shadowed.at == Shadowing.Date(day: 3))
        await propertyCheck(count: 300, input: Gen<UInt64>.value(in: 0...UInt64.max)) { seed in
            let sample = ExactSample.random(seed)
            let bytes = try codec.encode(sample)
            #expect(try bytes.withUnsafeBytes { try codec.decode(fields: ExactSample.self, from: $0) } == sample)
        }
    }

    /// The executor folds its own events into its cached aggregate as they are when their type reads back exactly (no
    /// decode), and decodes the others from their records; either way the cache equals a load.
    @Test(arguments: EventMacroTests.codecs)
    func theExecutorFoldsExactEventsAsTheyAre(codec: any EventCodec) async throws {
        let store = InMemoryEventStore()
        let executor = CommandExecutor(store: store, codec: codec)
        let key = PartitionKey(tenant: "t", group: "Notebook", id: "n1")
        try await executor.execute(Write(key: key, events: [CountedNote(text: "first")]))  // (a load of nothing before)
        let before = CountedNote.decodes.withLock { $0 }
        try await executor.execute(Write(key: key, events: [CountedNote(text: "a"), TrimmedNote(text: "  b  "), CountedNote(text: "c")]))
        let seen = Peek.Seen()
        try await executor.execute(Peek(key: key, seen: seen))
        #expect(CountedNote.decodes.withLock { $0 } == before, "the executor decoded its own exact events")
        let cached = try #require(seen.state.withLock { $0 })
        let loaded = try await store.load(Notebook.self, key, codec: codec)
        #expect(cached == ["first", "a", "b", "c"] && cached == loaded.state)
    }
}
