import StrataStorage

/// The "carts" domain of Benchmarks/README.md: 10 tenants, group `Cart`, UUID aggregate ids, ItemAdded 70% /
/// ItemRemoved 25% / CartCheckedOut 5%, JSON payloads of 118–132 bytes (~126 on average), full envelopes: a
/// random event id and correlation id per event, a user, a timestamp.
public struct CartsData: Sendable {
    /// Bumped whenever the generated events change, so stores built from older data are not reused.
    public static let dataVersion = 2
    public static let products = (0..<50).map { "product-\($0)-" + String(repeating: "x", count: $0 % 9) }
    public var rng: SplitMix64
    public let streams: [PartitionKey]
    public var versions: [UInt64]

    public init(streamCount: Int, seed: UInt64 = 42) {
        rng = SplitMix64(seed: seed)
        var keys: [PartitionKey] = []
        keys.reserveCapacity(streamCount)
        for i in 0..<streamCount {
            let id = EventID.random(using: &rng).description
            keys.append(PartitionKey(tenant: "tenant-\(i % 10)", group: "Cart", id: id))
        }
        streams = keys
        versions = Array(repeating: 0, count: streamCount)
    }

    public mutating func randomStream() -> Int { Int(rng.next() % UInt64(streams.count)) }

    /// The next event of stream `index`.
    public mutating func event(stream index: Int) -> EventRecord {
        versions[index] += 1
        let roll = rng.next() % 100
        let product = Self.products[Int(rng.next() % 50)]
        let typeName: String
        let payload: String
        let sku = "SKU-" + String(rng.next() % 100_000).leftPadded(to: 5)
        let actor = "user-\(rng.next() % 1000)"
        switch roll {
        case 0..<70:
            typeName = "ItemAdded"
            payload = #"{"item":"\#(product)","sku":"\#(sku)","quantity":\#(1 + rng.next() % 5),"unitPrice":\#(100 + rng.next() % 9900),"currency":"EUR","addedBy":"\#(actor)","channel":"web"}"#
        case 70..<95:
            typeName = "ItemRemoved"
            payload = #"{"item":"\#(product)","sku":"\#(sku)","quantity":\#(1 + rng.next() % 3),"reason":"customer-request","removedBy":"\#(actor)","channel":"web"}"#
        default:
            typeName = "CartCheckedOut"
            payload = #"{"total":\#(rng.next() % 1_000_000),"currency":"EUR","paymentMethod":"card","items":\#(1 + rng.next() % 20),"shippingMethod":"standard","couponCode":null,"channel":"web"}"#
        }
        let correlation = EventID.random(using: &rng).description
        return EventRecord(
            key: streams[index], typeName: typeName, typeVersion: 1,
            timestampMicros: 1_795_000_000_000_000 + Int64(rng.next() % 1_000_000_000),
            eventId: EventID.random(using: &rng),
            metadata: RecordMetadata(correlationId: correlation, user: "user-\(rng.next() % 1000)"),
            payload: Array(payload.utf8))
    }

    /// `count` events of one random stream (the P1 append unit).
    public mutating func batch(count: Int) -> [EventRecord] {
        let stream = randomStream()
        return (0..<count).map { _ in event(stream: stream) }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
