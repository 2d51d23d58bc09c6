import Strata

extension EventStoreConformance {
    @Sendable func appendedEventsReadBackWhole(_ store: Store, _ expect: Expectations) async throws {
        let a = counter("a"), b = counter("b"), unicode = counter("ünï/cödé id 🙂")
        let batch = [try added(a, 1), try added(a, 2), try added(b, 3), opaque(unicode, 4)]
        let first = try await store.append(batch)
        expect(first.first < first.last, "a batch of four has its first position before its last: \(first.first), \(first.last)")
        expect(first.versions == [a: 2, b: 1, unicode: 1], "versions after the first batch: \(first.versions)")
        let fifth = try added(b, 5)
        let second = try await store.append([fifth])
        expect(second.first == second.last && second.first > first.last, "a later append comes later: \(second.first) after \(first.last)")
        expect(second.versions == [b: 2], "\(second.versions)")
        let versions = [try await store.version(of: a), try await store.version(of: b), try await store.version(of: unicode)]
        expect(versions == [2, 2, 1], "stream versions: \(versions)")
        expect(try await store.version(of: counter("none")) == 0, "a stream without events is at version 0")

        let all = try await store.everything()
        guard all.count == 5 else {
            expect.fail("five events appended, \(all.count) read back")
            return
        }
        expect(all.map(\.record) == batch + [fifth], "every field reads back as appended (key, type, type version, timestamp, id, metadata, payload)")
        expect(all.map(\.version) == [1, 2, 1, 1, 2], "versions in global order: \(all.map(\.version))")
        expect(all.first?.position == first.first && all[3].position == first.last && all.last?.position == second.last,
               "the receipt's positions are the events' positions")
        let streamB = try await store.streamEvents(b)
        expect(streamB.map(\.version) == [1, 2] && streamB.map(\.position) == [all[2].position, all[4].position], "stream b in version order")
        let unicodeEvents = try await store.streamEvents(unicode)
        expect(unicodeEvents.count == 1 && unicodeEvents.first?.record == batch[3], "a key of any UTF-8 and a payload of every byte value")
        // The view's fields and the record's agree.
        var viewed = 0
        try await store.readStream(a) { event, position in
            viewed += 1
            guard viewed <= 2 else { return }
            expect(event.hasKey(a) && event.tenant == a.tenant && event.group == a.group && event.id == a.id, "the view's key")
            expect(event.typeName == Added.eventType && event.typeVersion == Added.schemaVersion, "the view's type: \(event.typeName) v\(event.typeVersion)")
            expect(event.record == batch[viewed - 1] && event.version == UInt64(viewed), "the view's record")
            expect(event.metadata == batch[viewed - 1].metadata, "the view's metadata")
        }
        expect(viewed == 2, "two events in stream a")
    }

    @Sendable func expectedVersionsAreAtomicAcrossStreams(_ store: Store, _ expect: Expectations) async throws {
        let a = counter("a"), b = counter("b")
        try await store.append([try added(a, 1)], expecting: [a: .noStream])
        await expect.throwsStoreError("noStream on a stream with events", { $0 == .versionConflict(stream: a, expected: .noStream, actual: 1) }) {
            try await store.append([try added(a, 2)], expecting: [a: .noStream])
        }
        await expect.throwsStoreError("exactly(0) on a stream at 1", { $0 == .versionConflict(stream: a, expected: .exactly(0), actual: 1) }) {
            try await store.append([try added(a, 2)], expecting: [a: .exactly(0)])
        }
        try await store.append([try added(a, 2)], expecting: [a: .exactly(1)])
        try await store.append([try added(a, 3)], expecting: [a: .any])
        // A batch over two streams fails whole when one check fails, including a check on a stream the batch does
        // not write.
        await expect.throwsStoreError("one failed check of two", { if case .versionConflict(b, _, 0) = $0 { true } else { false } }) {
            try await store.append([try added(a, 4), try added(b, 5)], expecting: [a: .exactly(3), b: .exactly(7)])
        }
        await expect.throwsStoreError("a failed check-only expectation", { if case .versionConflict(a, _, 3) = $0 { true } else { false } }) {
            try await store.append([try added(b, 5)], expecting: [a: .exactly(2)])
        }
        let versions = [try await store.version(of: a), try await store.version(of: b)]
        expect(versions == [3, 0], "a failed batch changes no version: \(versions)")
        expect(try await store.everything().count == 3, "nothing of a failed batch is visible")
        let receipt = try await store.append([try added(b, 5), try added(a, 6)], expecting: [a: .exactly(3), b: .noStream])
        expect(receipt.versions == [a: 4, b: 1], "a two-stream batch with both checks holding: \(receipt.versions)")
    }

    @Sendable func invalidBatchesAreRefusedWhole(_ store: Store, _ expect: Expectations) async throws {
        let good = counter("a")
        await expect.throwsStoreError("a key that breaks the rules", { if case .invalidKey = $0 { true } else { false } }) {
            try await store.append([try added(good, 1), try added(PartitionKey(tenant: "bad tenant", group: Counter.group, id: "x"), 2)])
        }
        await expect.throwsStoreError("a check on a key that breaks the rules", { if case .invalidKey = $0 { true } else { false } }) {
            try await store.append([try added(good, 1)], expecting: [PartitionKey(tenant: "t", group: "", id: "x"): .any])
        }
        var huge = try added(good, 3)
        huge.payload = [UInt8](repeating: 0x20, count: RecordLimits.payloadBytesMax + 1)
        await expect.throwsStoreError("a payload over the limit", { if case .invalidEvent(1, _) = $0 { true } else { false } }) {
            try await store.append([try added(good, 2), huge])
        }
        var longType = try added(good, 4)
        longType.typeName = String(repeating: "t", count: RecordLimits.typeNameBytesMax + 1)
        await expect.throwsStoreError("a type name over the limit", { if case .invalidEvent(0, _) = $0 { true } else { false } }) {
            try await store.append([longType])
        }
        var longUser = try added(good, 5)
        longUser.metadata.user = String(repeating: "u", count: RecordLimits.metadataFieldBytesMax + 1)
        await expect.throwsStoreError("a user over the limit", { if case .invalidEvent = $0 { true } else { false } }) {
            try await store.append([longUser])
        }
        await expect.throwsStoreError("an empty batch", { if case .invalidEvent = $0 { true } else { false } }) {
            try await store.append([])
        }
        let version = try await store.version(of: good)
        let stored = try await store.everything()
        expect(version == 0 && stored.isEmpty, "nothing of a refused batch was appended")
        // Right at the limits is fine.
        var largest = try added(good, 6)
        largest.payload = [UInt8](repeating: 0x41, count: RecordLimits.payloadBytesMax)
        largest.typeName = String(repeating: "é", count: RecordLimits.typeNameBytesMax / 2)
        try await store.append([largest])
        expect(try await store.streamEvents(good).first?.record == largest, "an event right at the limits reads back whole")
    }
}
