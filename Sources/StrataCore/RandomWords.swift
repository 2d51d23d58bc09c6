import CStrataSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Random 64-bit words from the operating system's generator, fetched 4 KiB at a time: a random event id costs
/// one system call per 256 ids instead of two per id (`SystemRandomNumberGenerator` asks the kernel for every
/// 8 bytes; at one event per command that was four `getrandom` calls per command). The words are as random as the
/// system generator's; a forked child throws away what its parent fetched, so parent and child never hand out
/// the same words.
final class RandomWords: Sendable {
    static let shared = RandomWords()

    private struct Pool {
        var words: [UInt64] = []
        var next = 0
        var generation = -1
    }

    private let pool = Mutex(Pool())

    private init() {
        pthread_atfork(nil, nil) { RandomWords.forks.add(1, ordering: .relaxed) }
    }

    /// Counts forks (in the child), so a pool filled before a fork is refilled after it.
    private static let forks = Atomic<Int>(0)

    /// Two random words.
    func pair() -> (UInt64, UInt64) {
        pool.withLock { pool in
            let generation = Self.forks.load(ordering: .relaxed)
            if pool.next + 2 > pool.words.count || pool.generation != generation {
                pool.words = Self.fetch(count: 512)
                pool.next = 0
                pool.generation = generation
            }
            defer { pool.next += 2 }
            return (pool.words[pool.next], pool.words[pool.next + 1])
        }
    }

    /// `count` words straight from the operating system (the standard library's generator, 8 bytes at a time,
    /// if the system call fails).
    private static func fetch(count: Int) -> [UInt64] {
        [UInt64](unsafeUninitializedCapacity: count) { buffer, initialized in
            if strata_random_bytes(buffer.baseAddress!, count * 8) != 0 {
                var generator = SystemRandomNumberGenerator()
                for i in 0..<count { buffer[i] = generator.next() }
            }
            initialized = count
        }
    }
}
