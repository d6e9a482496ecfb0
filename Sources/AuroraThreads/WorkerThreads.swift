import Foundation

/// Threads of their own for CPU-bound jobs, off Swift's cooperative pool and Dispatch's: those
/// have one thread per core, so a long job on them holds a thread that requests (or the producer
/// feeding the jobs) need. Jobs run in the order submitted; the threads end on `close()`, after
/// the jobs already queued. Callers bound how many jobs they queue.
public final class WorkerThreads: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var closed = false

    /// `niceness`: a lower scheduling priority for the threads (on Linux the nice value belongs
    /// to the thread that sets it), so their work takes only what other threads leave.
    public init(count: Int, name: String, niceness: Int32? = nil) {
        for index in 0..<max(1, count) {
            let thread = Thread { [self] in
                if let niceness { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness) }
                self.work()
            }
            thread.name = "\(name).\(index)"
            thread.start()
        }
    }

    deinit { self.close() }

    public func submit(_ job: @escaping () -> Void) {
        self.condition.lock()
        self.jobs.append(job)
        self.condition.signal()
        self.condition.unlock()
    }

    /// Runs `body` on one of the threads and returns its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            self.submit { continuation.resume(returning: body()) }
        }
    }

    /// Runs the oldest queued job on the calling thread if at least `backlog` are waiting, so a
    /// producer can help instead of letting jobs pile up; returns whether it ran one.
    public func runOne(ifQueued backlog: Int) -> Bool {
        self.condition.lock()
        guard self.jobs.count >= backlog, !self.jobs.isEmpty else {
            self.condition.unlock()
            return false
        }
        let job = self.jobs.removeFirst()
        self.condition.unlock()
        job()
        return true
    }

    /// Lets the threads finish the queued jobs and exit.
    public func close() {
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
