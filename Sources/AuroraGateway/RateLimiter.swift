import Synchronization

/// Per-key rate limiting with the generic cell rate algorithm (GCRA): each key has a "theoretical
/// arrival time"; a request of cost n moves it n emission intervals later, and is allowed while
/// that stays within `burst` intervals of now. One number per key, no timers; keys whose time has
/// passed hold no information and are swept when the table is full.
public final class RateLimiter: Sendable {
    public struct Limit: Sendable, CustomStringConvertible {
        /// Sustained units per second (calls, or bytes).
        public var rate: Double
        /// Units allowed at once after a quiet period.
        public var burst: Double

        public init(rate: Double, burst: Double) {
            precondition(rate > 0 && burst >= 1, "a rate limit needs rate > 0 and burst >= 1")
            self.rate = rate
            self.burst = burst
        }

        public var description: String { "\(self.rate)/s, burst \(self.burst)" }
    }

    public enum Decision: Sendable, Equatable {
        case allowed
        /// Not allowed now; the same request is allowed after this long.
        case limited(retryAfter: Duration)
    }

    public let limit: Limit
    private let maximumKeys: Int
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant
    /// Per key: theoretical arrival time, in seconds since `origin`.
    private let table = Mutex<[String: Double]>([:])

    public init(limit: Limit, maximumKeys: Int = 100_000) {
        self.limit = limit
        self.maximumKeys = maximumKeys
        self.origin = self.clock.now
    }

    private var now: Double {
        let elapsed = self.clock.now - self.origin
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    /// Takes `cost` units if they fit now.
    /// Takes `cost` units now or within `maximumWait`: `.allowed`, or `.limited` with how long the
    /// caller must wait before using them. A wait longer than `maximumWait` takes nothing (the
    /// request is refused, and `retryAfter` says when it would fit). For throttling a stream.
    public func reserve(_ key: String, cost: Double, maximumWait: Duration) -> (wait: Duration, taken: Bool) {
        switch self.take(key, cost: cost, maximumWait: maximumWait) {
        case .allowed: (.zero, true)
        case .limited(let wait): (wait, wait <= maximumWait)
        }
    }

    public func acquire(_ key: String, cost: Double = 1) -> Decision {
        self.take(key, cost: cost, maximumWait: .zero)
    }

    private func take(_ key: String, cost: Double, maximumWait: Duration) -> Decision {
        let interval = 1 / self.limit.rate
        let tolerance = self.limit.burst * interval
        let now = self.now
        return self.table.withLock { table in
            if table.count >= self.maximumKeys {
                table = table.filter { $0.value > now }
                if table.count >= self.maximumKeys { table.removeAll() }
            }
            let arrival = max(table[key] ?? now, now)
            let next = arrival + cost * interval
            let allowedAt = next - tolerance
            // A nanosecond of slack absorbs rounding when a request takes exactly the burst.
            if allowedAt <= now + 1e-9 {
                table[key] = next
                return .allowed
            }
            let wait = Duration.milliseconds(Int64(((allowedAt - now) * 1000).rounded(.up)))
            if wait <= maximumWait { table[key] = next }
            return .limited(retryAfter: wait)
        }
    }
}
