import Foundation

/// Threads for CPU-bound background work (fitting users' trees) at a lower scheduling priority
/// (nice +10), off Swift's cooperative pool: a refit neither holds one of the pool's few threads
/// nor takes a core from requests in flight and PostgreSQL's commits; it uses what they leave.
final class BackgroundThreads: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var closed = false

    init(count: Int, name: String, niceness: Int32 = 10) {
        for index in 0..<max(1, count) {
            let thread = Thread { [self] in
                // On Linux the nice value belongs to the calling thread, not the whole process.
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
                self.work()
            }
            thread.name = "\(name).\(index)"
            thread.start()
        }
    }

    deinit { self.close() }

    /// Runs `body` on one of the threads and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            self.condition.lock()
            self.jobs.append { continuation.resume(returning: body()) }
            self.condition.signal()
            self.condition.unlock()
        }
    }

    /// Lets the threads finish the queued jobs and exit.
    func close() {
        self.condition.lock()
        self.closed = true
        self.condition.broadcast()
        self.condition.unlock()
    }

    private func work() {
        while true {
            self.condition.lock()
            while self.jobs.isEmpty && !self.closed { self.condition.wait() }
            if self.jobs.isEmpty {
                self.condition.unlock()
                return
            }
            let job = self.jobs.removeFirst()
            self.condition.unlock()
            job()
        }
    }
}
