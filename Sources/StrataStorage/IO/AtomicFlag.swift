import Synchronization

/// A one-way flag: `setOnce()` returns true exactly once, for the first caller.
final class AtomicFlag: Sendable {
    private let value = Atomic<Bool>(false)

    func setOnce() -> Bool {
        value.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }
}
