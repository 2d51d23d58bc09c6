import Strata

extension EventStoreConformance {
    /// 16 writers race on 4 streams with exact expectations, retrying on conflicts: no version is written twice
    /// and every append lands exactly once.
    @Sendable func concurrentWritersGetOneWinnerPerVersion(_ store: Store, _ expect: Expectations) async throws {
        let streams = (0..<4).map { counter("s\($0)") }
        let writers = 16, appends = 20
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for n in 0..<appends {
                        let stream = streams[(writer + n) % streams.count]
                        while true {
                            let version = try await store.version(of: stream)
                            do {
                                let receipt = try await store.append(
                                    [try added(stream, writer * 1_000 + n)], expecting: [stream: .exactly(version)])
                                expect(receipt.versions[stream] == version + 1, "the winner of version \(version + 1) got it")
                                break
                            } catch EventStoreError.versionConflict(_, _, let actual) {
                                expect(actual > version, "a conflict reports the newer version: \(actual) after \(version)")
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        var total = 0
        var amounts: Set<Int> = []
        for stream in streams {
            let events = try await store.streamEvents(stream)
            expect(events.map(\.version) == Array(1...UInt64(events.count)), "dense versions in \(stream)")
            total += events.count
            for event in events {
                if case .registered(.added(let added)) = try event.decode(Counter.events) { amounts.insert(added.amount) }
            }
        }
        expect(total == writers * appends && amounts.count == writers * appends, "each append exactly once: \(total), \(amounts.count) distinct")
    }

    /// 32 tasks run commands through two executors (two "processes" with their own caches) on 8 aggregates.
    @Sendable func concurrentCommandsLoseNoUpdate(_ store: Store, _ expect: Expectations) async throws {
        let executors = [CommandExecutor(store: store, maxAttempts: 1_000), CommandExecutor(store: store, maxAttempts: 1_000)]
        let keys = (0..<8).map { counter("c\($0)") }
        let tasks = 32, commands = 10
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    for n in 0..<commands {
                        let result = try await executors[task % 2].execute(Add(key: keys[(task + n) % keys.count], amount: 1))
                        expect(result.eventCount == 1 && result.position > .origin, "a command that wrote reports its position")
                    }
                }
            }
            try await group.waitForAll()
        }
        var total = 0
        for key in keys {
            let counter = try await store.load(Counter.self, key)
            expect(counter.state.total == Int(counter.version), "\(key): every command once, none lost (\(counter.state.total) at version \(counter.version))")
            total += counter.state.total
        }
        expect(total == tasks * commands, "\(total) of \(tasks * commands) commands")
        // Read your writes: the result's position is the command's event.
        let result = try await executors[0].execute(Add(key: keys[0], amount: 5))
        let last = try await store.streamEvents(keys[0]).last
        expect(last?.position == result.position && last?.version == result.version, "the result names the event it wrote")
    }

    @Sendable func deliveredEventsDecodeThroughTheRegistry(_ store: Store, _ expect: Expectations) async throws {
        let a = counter("a")
        try await store.append([try added(a, 7), try EventRecord(Noted(text: "ünïcödé"), key: a), opaque(a, 1)])
        let events = try await store.streamEvents(a)
        expect(events.count == 3, "three events")
        guard events.count == 3 else { return }
        if case .registered(.added(let added)) = try events[0].decode(Counter.events) {
            expect(added == Added(amount: 7), "decoded through the registry: \(added)")
        } else {
            expect.fail("the first event is a registered Added")
        }
        expect(try events[1].decode(as: Noted.self) == Noted(text: "ünïcödé"), "decoded as its type")
        if case .unregistered(let unknown) = try events[2].decode(Counter.events) {
            expect(unknown.typeName == "conformance.Opaque" && unknown.payload == events[2].record.payload, "an unregistered event with its bytes")
        } else {
            expect.fail("the third event is not registered")
        }
        do {
            _ = try events[0].decode(as: Noted.self)
            expect.fail("decoding an Added as a Noted must fail")
        } catch {
            expect(error.kind == .otherType(expected: Noted.eventType, expectedVersion: Noted.schemaVersion), "\(error)")
        }
        // The binary codec too.
        try await store.append([try added(counter("b"), 9, codec: BinaryEventCodec())])
        let binary = try await store.streamEvents(counter("b"))
        expect(try binary.first?.decode(as: Added.self, codec: BinaryEventCodec()) == Added(amount: 9), "a binary payload")
    }
}
