import Synchronization

/// What the learning-service does after answering (group-commit writers, refits, id prefetches),
/// run as child tasks of its Service's `run()` rather than as unmanaged tasks: a graceful shutdown
/// can wait for it, and a shutdown that runs out of time cancels it.
final class BackgroundWork: Sendable {
    typealias Job = @Sendable () async -> Void

    private let jobs: AsyncStream<Job>
    private let intake: AsyncStream<Job>.Continuation

    init() {
        (self.jobs, self.intake) = AsyncStream.makeStream()
    }

    /// Starts `job` as a child of `run()` (it waits for `run()` to start). False once closed: the
    /// job will not run.
    @discardableResult
    func spawn(_ job: @escaping Job) -> Bool {
        if case .terminated = self.intake.yield(job) { return false }
        return true
    }

    /// Runs jobs until `close()` (or cancellation, which reaches the jobs too), then returns once
    /// the started ones have ended. Called once.
    func run() async {
        await withDiscardingTaskGroup { group in
            for await job in self.jobs { group.addTask { await job() } }
        }
    }

    /// Takes no more jobs.
    func close() { self.intake.finish() }
}

/// A gate that opens once: `wait()` returns when it is open or when the waiting task is
/// cancelled (so nothing in the background hangs on it past a shutdown's deadline).
final class Latch: Sendable {
    private struct State {
        var isOpen = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    var isOpen: Bool { self.state.withLock { $0.isOpen } }

    func open() {
        let waiters = self.state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        let id = self.state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = self.state.withLock { state in
                    if state.isOpen || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            self.state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// Waits until open or until `timeout` has passed; whether it opened.
    func wait(timeout: Duration) async -> Bool {
        await withTaskGroup(of: Void.self) { race in
            race.addTask { await self.wait() }
            race.addTask { try? await Task.sleep(for: timeout) }
            await race.next()
            race.cancelAll()
        }
        return self.isOpen
    }
}
