import AuroraStore

/// Group commit: items submitted concurrently are written together, one transaction per batch,
/// and each caller resumes after the COMMIT that holds its items with the outcomes of its own.
/// Feedback uses it for durability at the database's pace. The recommendation log also takes
/// items without a caller waiting (`enqueue`), and readers that need those rows `flush` first.
/// Writers run as `background` jobs; at shutdown, `drained()` waits for them.
actor GroupCommit<Item: Sendable, Outcome: Sendable> {
    typealias Write = @Sendable ([Item]) async throws(StoreError) -> [Outcome]
    /// Told how many enqueued items (which no caller waits for) a failed write lost.
    typealias Lost = @Sendable (_ items: Int, _ error: StoreError) -> Void

    private struct Entry {
        var items: [Item]
        /// nil: enqueued, nobody waits for the outcome.
        var continuation: CheckedContinuation<[Outcome], any Error>?
    }

    private let write: Write
    private let lost: Lost?
    private let background: BackgroundWork
    private let maximumBatch: Int
    /// Batches written at once (each takes what has queued when it starts).
    private let writers: Int
    private var queue: [Entry] = []
    private var activeWriters = 0
    /// Items queued and not yet taken by a writer.
    private(set) var queuedItems = 0
    /// Opened when nothing is queued or being written (for `drained()`).
    private var idle: Latch?

    init(maximumBatch: Int, writers: Int = 1, background: BackgroundWork, lost: Lost? = nil, write: @escaping Write) {
        self.write = write
        self.lost = lost
        self.background = background
        self.maximumBatch = maximumBatch
        self.writers = max(1, writers)
    }

    /// Returns after the COMMIT that holds `items`, with their outcomes.
    func submit(_ items: [Item]) async throws(StoreError) -> [Outcome] {
        do {
            return try await withCheckedThrowingContinuation { continuation in
                if !self.append(Entry(items: items, continuation: continuation)) { continuation.resume(throwing: Self.closed) }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw .unavailable("\(error)")
        }
    }

    /// Queues `items` without waiting for their write, unless more than `maximumQueued` items are
    /// queued already: then it waits like `submit`, so a slow database slows callers down instead
    /// of growing the queue.
    func enqueue(_ items: [Item], maximumQueued: Int) async throws(StoreError) {
        if self.queuedItems + items.count > maximumQueued {
            _ = try await self.submit(items)
        } else if !self.append(Entry(items: items, continuation: nil)) {
            throw Self.closed
        }
    }

    /// Returns once nothing is queued or being written, or when the caller is cancelled.
    func drained() async {
        guard !self.queue.isEmpty || self.activeWriters > 0 else { return }
        let idle = self.idle ?? Latch()
        self.idle = idle
        await idle.wait()
    }

    /// Drops what is queued (at a shutdown out of time; callers waiting get `.unavailable`) and
    /// returns how many items that was.
    func abandon() -> Int {
        let dropped = self.queuedItems
        for entry in self.queue { entry.continuation?.resume(throwing: Self.closed) }
        self.queue = []
        self.queuedItems = 0
        return dropped
    }

    private static var closed: StoreError { .unavailable("the learning-service is shutting down") }

    /// Returns once everything queued before the call has been written (or has failed). Batches
    /// are written in order only with a single writer, which is what this promise rests on.
    func flush() async {
        precondition(self.writers == 1, "flush needs batches written in order (one writer)")
        guard !self.queue.isEmpty || self.activeWriters > 0 else { return }
        _ = try? await self.submit([])
    }

    /// False if nothing would write the entry (shut down).
    private func append(_ entry: Entry) -> Bool {
        if self.activeWriters < self.writers {
            if self.background.spawn({ await self.drain() }) {
                self.activeWriters += 1
            } else if self.activeWriters == 0 {
                return false
            }
        }
        self.queue.append(entry)
        self.queuedItems += entry.items.count
        return true
    }

    private func drain() async {
        while !self.queue.isEmpty {
            var batch: [Entry] = []
            var size = 0
            while let next = self.queue.first, batch.isEmpty || size + next.items.count <= self.maximumBatch {
                batch.append(self.queue.removeFirst())
                size += next.items.count
            }
            self.queuedItems -= size
            do throws(StoreError) {
                let outcomes = try await self.write(batch.flatMap(\.items))
                var offset = 0
                for entry in batch {
                    entry.continuation?.resume(returning: Array(outcomes[offset..<offset + entry.items.count]))
                    offset += entry.items.count
                }
            } catch {
                var unattended = 0
                for entry in batch {
                    if let continuation = entry.continuation { continuation.resume(throwing: error) } else { unattended += entry.items.count }
                }
                if unattended > 0 { self.lost?(unattended, error) }
            }
        }
        self.activeWriters -= 1
        if self.activeWriters == 0 {
            self.idle?.open()
            self.idle = nil
        }
    }
}
