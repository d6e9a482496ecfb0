/// Runs one refit at a time per user and coalesces requests made while one runs or waits. Each
/// refit waits `delay` first, so a steady stream of feedback from a user costs one refit per
/// period; a reader cuts the wait short and resumes once the rules reflect every feedback
/// committed before it asked (read-your-writes without slowing Feedback).
actor RefitScheduler {
    private let delay: Duration
    /// Per user: feedback batches committed, and how many of them the last refit saw.
    private var committed: [String: Int] = [:]
    private var fitted: [String: Int] = [:]
    private var running: Set<String> = []
    /// Readers, each with the count of committed batches their rules must reflect.
    private var waiters: [String: [(target: Int, continuation: CheckedContinuation<Void, Never>)]] = [:]
    /// The delay before a user's next refit, cancelled when a reader arrives.
    private var delays: [String: Task<Void, Never>] = [:]
    private var lastGlobalRefresh = ContinuousClock.now - .seconds(3600)

    init(delay: Duration = .zero) {
        self.delay = delay
    }

    func schedule(_ user: String, refit: @escaping @Sendable () async -> Void) {
        self.committed[user, default: 0] += 1
        guard !self.running.contains(user) else { return }
        self.running.insert(user)
        Task {
            while self.fitted[user, default: 0] < self.committed[user, default: 0] {
                await self.wait(before: user)
                let target = self.committed[user, default: 0]
                await refit()
                self.finished(user, target)
            }
            self.running.remove(user)
            // Nothing pending for this user: forget the counters (memory stays bounded by active users).
            self.committed[user] = nil
            self.fitted[user] = nil
        }
    }

    private func finished(_ user: String, _ target: Int) {
        self.fitted[user] = target
        guard let waiting = self.waiters[user] else { return }
        for waiter in waiting where waiter.target <= target { waiter.continuation.resume() }
        let rest = waiting.filter { $0.target > target }
        self.waiters[user] = rest.isEmpty ? nil : rest
    }

    /// Lets more feedback gather before a refit, unless a reader is already waiting.
    private func wait(before user: String) async {
        guard self.delay > .zero, self.waiters[user] == nil else { return }
        let delay = self.delay
        let pause = Task { _ = try? await Task.sleep(for: delay) }
        self.delays[user] = pause
        await pause.value
        self.delays[user] = nil
    }

    /// Returns once the user's rules reflect every feedback committed before the call.
    func waitUntilFresh(_ user: String) async {
        let target = self.committed[user, default: 0]
        guard self.running.contains(user), self.fitted[user, default: 0] < target else { return }
        self.delays[user]?.cancel()
        await withCheckedContinuation { self.waiters[user, default: []].append((target, $0)) }
    }

    /// Cross-user rules are recomputed at most once per `interval`.
    func globalRefreshDue(interval: Duration) -> Bool {
        guard ContinuousClock.now - self.lastGlobalRefresh >= interval else { return false }
        self.lastGlobalRefresh = ContinuousClock.now
        return true
    }
}
