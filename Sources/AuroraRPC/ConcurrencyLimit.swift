import Synchronization

/// Calls of one kind in progress, in total and per user, refused beyond either cap.
///
/// A call over a cap is refused at once with RESOURCE_EXHAUSTED, never queued: a queue would let
/// a user whose uploads stall make everybody else wait behind them. Users are tracked only while
/// they have calls in progress, so the table is bounded by `total`.
public final class ConcurrencyLimit: Sendable {
    public struct Limits: Sendable, Hashable {
        /// Calls in progress at once, all users together.
        public var total: Int
        /// Calls in progress at once for one user.
        public var perUser: Int

        public init(total: Int, perUser: Int) {
            self.total = total
            self.perUser = perUser
        }
    }

    private struct State {
        var total = 0
        var perUser: [String: Int] = [:]
    }

    public let limits: Limits
    /// Names the calls in refusals ("Analyze uploads").
    private let what: String
    private let state = Mutex(State())

    public init(limits: Limits, what: String) {
        self.limits = Limits(total: max(1, limits.total), perUser: max(1, limits.perUser))
        self.what = what
    }

    /// Calls in progress now.
    public var active: Int { self.state.withLock { $0.total } }

    /// Runs `body` while holding one of `user`'s places; throws RESOURCE_EXHAUSTED when none is free.
    public func withPermit<T>(user: String, _ body: () async throws -> T) async throws -> T {
        try self.enter(user)
        defer { self.leave(user) }
        return try await body()
    }

    func enter(_ user: String) throws {
        let refusal: String? = self.state.withLock { state in
            let mine = state.perUser[user, default: 0]
            if mine >= self.limits.perUser {
                return "you already have \(mine) \(self.what) in progress (at most \(self.limits.perUser) per user); wait for one to finish"
            }
            if state.total >= self.limits.total {
                return "the server has \(state.total) \(self.what) in progress (at most \(self.limits.total)); try again shortly"
            }
            state.total += 1
            state.perUser[user] = mine + 1
            return nil
        }
        if let refusal { throw RPCError(.resourceExhausted, refusal, retryAfter: .seconds(1)) }
    }

    func leave(_ user: String) {
        self.state.withLock { state in
            state.total -= 1
            let remaining = state.perUser[user, default: 1] - 1
            state.perUser[user] = remaining > 0 ? remaining : nil
        }
    }
}
