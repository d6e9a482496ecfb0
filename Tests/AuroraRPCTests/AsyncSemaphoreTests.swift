import AuroraRPC
import Synchronization
import Testing

@Suite("AsyncSemaphore")
struct AsyncSemaphoreTests {
    @Test func waitersQueueAndCancellationLeavesTheQueue() async throws {
        let semaphore = AsyncSemaphore(permits: 1)
        try await semaphore.acquire()
        let entered = Mutex(false)
        let waiter = Task {
            try await semaphore.acquire()
            entered.withLock { $0 = true }
            semaphore.release()
        }
        let cancelled = Task { try await semaphore.acquire() }
        try await Task.sleep(for: .milliseconds(50))
        #expect(entered.withLock { $0 } == false, "a second holder got in while the permit was taken")
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        semaphore.release()
        try await waiter.value
        #expect(entered.withLock { $0 })
        // The permit came back: it can be taken again at once.
        try await semaphore.acquire()
        semaphore.release()
    }
}
