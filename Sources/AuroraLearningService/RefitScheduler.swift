/// Runs one refit at a time per user and coalesces requests made while one runs or waits. Each
/// refit waits `delay` first, so a steady stream of feedback from a user costs one refit per
/// period; a reader cuts the wait short and resumes once the rules reflect every feedback
/// committed before it asked (read-your-writes without slowing Feedback). Refits run as
/// `background` jobs; `finish()` runs the pending ones at once (at shutdown).
actor RefitScheduler {
    private let delay: Duration
    private let background: BackgroundWork
    /// Per user: feedback batches committed, and how many of them the last refit saw.
    private var committed: [String: Int] = [:]
    private var fitted: [String: Int] = [:]
    private var running: Set<String> = []
    /// Readers, each with the count of committed batches their rules must reflect.
    private var waiters: [String: [(target: Int, continuation: CheckedContinuation<Void, Never>)]] = [:]
    /// Opened to cut the delay before a user's next refit short (a reader arrived, or shutdown).
    private var wakeups: [String: Latch] = [:]
    /// Set by `finish()`: no more delays.
    private var finishing = false
    /// Opened when no refit runs or waits (for `finish()`).
    private var idle: Latch?
    private var lastGlobalRefresh = ContinuousClock.now - .seconds(3600)

    init(delay: Duration = .zero, background: BackgroundWork) {
        self.delay = delay
        self.background = background
    }

    func schedule(_ user: String, refit: @escaping @Sendable () async -> Void) {
        self.committed[user, default: 0] += 1
        guard !self.running.contains(user) else { return }
        // After shutdown nothing runs it: the rules follow with the user's next feedback (a refit
        // reads all their stored corrections).
        guard self.background.spawn({ await self.refits(user, refit) }) else { return }
        self.running.insert(user)
    }

    private func refits(_ user: String, _ refit: @Sendable () async -> Void) async {
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
        if self.running.isEmpty {
            self.idle?.open()
            self.idle = nil
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
        guard self.delay > .zero, self.waiters[user] == nil, !self.finishing else { return }
        let wakeup = Latch()
        self.wakeups[user] = wakeup
        _ = await wakeup.wait(timeout: self.delay)
        self.wakeups[user] = nil
    }

    /// Returns once the user's rules reflect every feedback committed before the call.
    func waitUntilFresh(_ user: String) async {
        let target = self.committed[user, default: 0]
        guard self.running.contains(user), self.fitted[user, default: 0] < target else { return }
        self.wakeups[user]?.open()
        await withCheckedContinuation { self.waiters[user, default: []].append((target, $0)) }
    }

    /// Runs the pending refits without their delay; returns once none runs or waits, or when the
    /// caller is cancelled.
    func finish() async {
        self.finishing = true
        for wakeup in self.wakeups.values { wakeup.open() }
        guard !self.running.isEmpty else { return }
        let idle = self.idle ?? Latch()
        self.idle = idle
        await idle.wait()
    }

    /// Users whose refit runs or waits.
    var pending: Int { self.running.count }

    /// Cross-user rules are recomputed at most once per `interval`.
    func globalRefreshDue(interval: Duration) -> Bool {
        guard ContinuousClock.now - self.lastGlobalRefresh >= interval else { return false }
        self.lastGlobalRefresh = ContinuousClock.now
        return true
    }
}
