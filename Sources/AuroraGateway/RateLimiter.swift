import Synchronization

/// Per-key rate limiting with the generic cell rate algorithm (GCRA): each key has a "theoretical
/// arrival time"; a request of cost n moves it n emission intervals later, and is allowed while
/// that stays within `burst` intervals of now. One number per key, no timers; keys whose time has
/// passed hold no information and are swept whenever the table has doubled since the last sweep
/// (amortised O(1)), so it holds about twice the users active within a burst, never more than
/// `maximumKeys`.
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
    private struct Table {
        /// Per key: theoretical arrival time, in seconds since `origin`.
        var arrivals: [String: Double] = [:]
        /// The size at which the next sweep runs.
        var sweepAt = Table.smallest
        static let smallest = 1024
    }

    private let table = Mutex(Table())

    /// Keys held now (for tests and soak figures).
    public var keys: Int { self.table.withLock { $0.arrivals.count } }

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
        return self.table.withLock { state in
            if state.arrivals.count >= min(state.sweepAt, self.maximumKeys) {
                state.arrivals = state.arrivals.filter { $0.value > now }
                if state.arrivals.count >= self.maximumKeys { state.arrivals.removeAll() }
                state.sweepAt = max(Table.smallest, state.arrivals.count * 2)
            }
            let arrival = max(state.arrivals[key] ?? now, now)
            let next = arrival + cost * interval
            let allowedAt = next - tolerance
            // A nanosecond of slack absorbs rounding when a request takes exactly the burst.
            if allowedAt <= now + 1e-9 {
                state.arrivals[key] = next
                return .allowed
            }
            // Clamped: a cost far over the rate (a huge chunk) must not trap the conversion.
            let wait = Duration.milliseconds(Int64(clamping: UInt64(min(((allowedAt - now) * 1000).rounded(.up), 1e15))))
            if wait <= maximumWait { state.arrivals[key] = next }
            return .limited(retryAfter: wait)
        }
    }
}
