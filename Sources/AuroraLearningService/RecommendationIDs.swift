import AuroraStore
import Synchronization

/// Recommendation ids taken from the log's sequence in blocks, so that Recommend can answer with
/// its ids before the log rows are written. A new block is fetched in the background when half of
/// the current one is used. Ids left unused at shutdown are gaps in the sequence, nothing more.
actor RecommendationIDs {
    typealias Fetch = @Sendable (_ count: Int) async throws(StoreError) -> [UInt64]

    /// One fetch in flight, shared by every caller that runs short meanwhile.
    private final class Refill: Sendable {
        let done = Latch()
        let error = Mutex<StoreError?>(nil)
    }

    private let block: Int
    private let fetch: Fetch
    private let background: BackgroundWork
    private var available: [UInt64] = []
    private var next = 0
    private var refill: Refill?

    init(block: Int, background: BackgroundWork, fetch: @escaping Fetch) {
        self.block = max(1, block)
        self.background = background
        self.fetch = fetch
    }

    func take(_ count: Int) async throws(StoreError) -> [UInt64] {
        while self.available.count - self.next < count {
            let refill = try self.startRefill(atLeast: count)
            await refill.done.wait()
            if let error = refill.error.withLock({ $0 }) { throw error }
            if Task.isCancelled { throw .unavailable("the call was cancelled") }
        }
        let ids = Array(self.available[self.next..<self.next + count])
        self.next += count
        if self.available.count - self.next < self.block / 2 { _ = try? self.startRefill(atLeast: 0) }
        return ids
    }

    private func startRefill(atLeast count: Int) throws(StoreError) -> Refill {
        if let refill = self.refill { return refill }
        let size = max(self.block, count)
        let fetch = self.fetch
        let refill = Refill()
        let started = self.background.spawn {
            do throws(StoreError) {
                await self.add(try await fetch(size))
            } catch {
                // The next caller that runs short tries again.
                refill.error.withLock { $0 = error }
                await self.failed()
            }
            refill.done.open()
        }
        guard started else { throw .unavailable("the learning-service is shutting down") }
        self.refill = refill
        return refill
    }

    private func add(_ ids: [UInt64]) {
        self.available.removeFirst(self.next)
        self.next = 0
        self.available += ids
        self.refill = nil
    }

    private func failed() { self.refill = nil }
}
