/// Runs one refit at a time per user and coalesces requests made while one runs; readers wait
/// until the rules reflect every committed feedback (read-your-writes without slowing Feedback).
actor RefitScheduler {
    private let delay: Duration
    private var committed: [String: Int] = [:]
    private var fitted: [String: Int] = [:]
    private var running: Set<String> = []
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]
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
            await self.wait(before: user)
            while let target = self.nextTarget(user) {
                await refit()
                self.finished(user, target)
            }
        }
    }

    private func nextTarget(_ user: String) -> Int? {
        let target = self.committed[user, default: 0]
        if self.fitted[user, default: 0] >= target {
            self.running.remove(user)
            // Nothing pending for this user: forget the counters (memory stays bounded by active users).
            self.committed[user] = nil
            self.fitted[user] = nil
            for waiter in self.waiters.removeValue(forKey: user) ?? [] { waiter.resume() }
            return nil
        }
        return target
    }

    private func finished(_ user: String, _ target: Int) {
        self.fitted[user] = target
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

    func waitUntilFresh(_ user: String) async {
        guard self.running.contains(user) else { return }
        self.delays[user]?.cancel()
        await withCheckedContinuation { self.waiters[user, default: []].append($0) }
    }

    /// Cross-user rules are recomputed at most every 10 seconds.
    func globalRefreshDue() -> Bool {
        guard ContinuousClock.now - self.lastGlobalRefresh >= .seconds(10) else { return false }
        self.lastGlobalRefresh = ContinuousClock.now
        return true
    }
}
