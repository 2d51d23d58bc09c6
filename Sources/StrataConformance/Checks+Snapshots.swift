import Strata

extension EventStoreConformance {
    func snapshotsAreFound(_ store: Store, _ expect: Expectations) async throws {
        let a = counter("a")
        var positions: [Store.Position] = []
        for n in 1...6 { positions.append(try await store.append([try added(a, n)]).first) }
        func snapshot(at index: Int, projectorVersion: UInt32 = 1, codec: String = "json") -> Snapshot<Store.Position> {
            Snapshot(
                subject: .stream(a), projectorName: Counter.projectorName, projectorVersion: projectorVersion, codecName: codec,
                position: positions[index], version: UInt64(index + 1), createdMicros: 1_000, state: Array("{\"at\":\(index)}".utf8))
        }
        guard supportsSnapshots else {
            let lookup = try await store.latestSnapshot(of: .stream(a), projectorName: Counter.projectorName, atOrBefore: nil) { _ in nil }
            expect(lookup.snapshot == nil, "a store without snapshots finds none")
            await expect.throwsStoreError("writing snapshots to a store without them", { if case .unsupported = $0 { true } else { false } }) {
                try await store.writeSnapshots([snapshot(at: 1)])
            }
            return
        }
        try await store.writeSnapshots([snapshot(at: 1)])
        try await store.writeSnapshots([snapshot(at: 3), snapshot(at: 4, projectorVersion: 2)])
        let projection = Snapshot<Store.Position>(
            subject: .projection(name: "conformance-totals", tenant: nil), projectorName: "conformance-totals", projectorVersion: 1,
            codecName: "json", position: positions[5], version: 0, createdMicros: 2_000, state: [1, 2, 3])
        try await store.writeSnapshots([projection])

        func latest(atOrBefore bound: Store.Position?, version: UInt32 = 1) async throws -> SnapshotLookup<Store.Position> {
            try await store.latestSnapshot(of: .stream(a), projectorName: Counter.projectorName, atOrBefore: bound) { found in
                found.projectorVersion == version ? nil : .projectorVersion(found: found.projectorVersion, expected: version)
            }
        }
        let newest = try await latest(atOrBefore: nil)
        expect(newest.snapshot == snapshot(at: 3), "the latest accepted snapshot, read back whole: \(String(describing: newest.snapshot))")
        expect(newest.ignored.map(\.reason) == [.projectorVersion(found: 2, expected: 1)], "the refused one is passed over with why: \(newest.ignored)")
        expect(newest.ignored.first?.position == positions[4].description, "a passed-over snapshot names its position")
        expect(try await latest(atOrBefore: nil, version: 2).snapshot == snapshot(at: 4, projectorVersion: 2), "another projector version")
        expect(try await latest(atOrBefore: positions[2]).snapshot == snapshot(at: 1), "at or before a bound")
        expect(try await latest(atOrBefore: positions[3]).snapshot == snapshot(at: 3), "exactly at a bound")
        expect(try await latest(atOrBefore: positions[0]).snapshot == nil, "none before the first")
        let other = try await store.latestSnapshot(of: .stream(counter("b")), projectorName: Counter.projectorName, atOrBefore: nil) { _ in nil }
        expect(other.snapshot == nil && other.ignored.isEmpty, "another subject has none")
        let byName = try await store.latestSnapshot(of: projection.subject, projectorName: "conformance-totals", atOrBefore: nil) { _ in nil }
        expect(byName.snapshot == projection, "a projection's snapshot")
        let otherProjector = try await store.latestSnapshot(of: .stream(a), projectorName: "someone-else", atOrBefore: nil) { _ in nil }
        expect(otherProjector.snapshot == nil, "another projector's name finds none")
    }

    func aggregatesLoadTheSame(_ store: Store, _ expect: Expectations) async throws {
        let a = counter("a")
        var positions: [Store.Position] = []
        for n in 1...13 {
            let record = n % 4 == 0 ? try EventRecord(Noted(text: "n\(n)"), key: a) : try added(a, n)
            positions.append(try await store.append([record, try added(counter("other"), n)]).first)
        }
        if supportsSnapshots {
            let written = try await store.snapshot(Counter.self, [a], followingPolicy: true)
            expect(written.map(\.version) == [12] && written.first?.position == positions[11], "the policy's snapshot at version 12: \(written.map(\.version))")
            let lookup = try await store.loadSnapshot(Counter.self, a)
            expect(lookup.aggregate?.version == 12 && lookup.position == positions[11], "the snapshot a load starts from")
        }
        for version in 0...13 {
            let replayed = try await store.load(Counter.self, a, throughVersion: UInt64(version), useSnapshots: false)
            let loaded = try await store.load(Counter.self, a, throughVersion: UInt64(version))
            expect(loaded.state == replayed.state && loaded.version == UInt64(version), "through version \(version)")
            if version > 0 {
                let asOf = try await store.load(Counter.self, a, asOf: positions[version - 1])
                expect(asOf.state == replayed.state && asOf.version == UInt64(version), "as of the position of version \(version)")
            }
        }
        let whole = try await store.load(Counter.self, a)
        expect(whole.state == Counter.State(total: (1...13).filter { $0 % 4 != 0 }.reduce(0, +), notes: 3), "the fold: \(whole.state)")
    }
}
