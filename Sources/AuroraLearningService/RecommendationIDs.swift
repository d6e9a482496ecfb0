import AuroraStore

/// Recommendation ids taken from the log's sequence in blocks, so that Recommend can answer with
/// its ids before the log rows are written. A new block is fetched in the background when half of
/// the current one is used. Ids left unused at shutdown are gaps in the sequence, nothing more.
actor RecommendationIDs {
    typealias Fetch = @Sendable (_ count: Int) async throws(StoreError) -> [UInt64]

    private let block: Int
    private let fetch: Fetch
    private var available: [UInt64] = []
    private var next = 0
    /// The fetch in flight, shared by every caller that runs short meanwhile.
    private var refill: Task<Void, any Error>?

    init(block: Int, fetch: @escaping Fetch) {
        self.block = max(1, block)
        self.fetch = fetch
    }

    func take(_ count: Int) async throws(StoreError) -> [UInt64] {
        while self.available.count - self.next < count {
            let refill = self.startRefill(atLeast: count)
            do {
                try await refill.value
            } catch {
                throw error as? StoreError ?? .unavailable("\(error)")
            }
        }
        let ids = Array(self.available[self.next..<self.next + count])
        self.next += count
        if self.available.count - self.next < self.block / 2 { _ = self.startRefill(atLeast: 0) }
        return ids
    }

    private func startRefill(atLeast count: Int) -> Task<Void, any Error> {
        if let refill = self.refill { return refill }
        let size = max(self.block, count)
        let fetch = self.fetch
        let refill = Task {
            do throws(StoreError) {
                self.add(try await fetch(size))
            } catch {
                // The next caller that runs short tries again.
                self.refill = nil
                throw error
            }
        }
        self.refill = refill
        return refill
    }

    private func add(_ ids: [UInt64]) {
        self.available.removeFirst(self.next)
        self.next = 0
        self.available += ids
        self.refill = nil
    }
}
