import ServiceLifecycle

/// The learning-service's background work as a ServiceLifecycle `Service`. The daemon stops it
/// after the RPC server has drained, so no call can queue more; it then writes what is queued
/// (feedback batches, then recommendation-log rows) and runs the pending refits at once rather
/// than dropping them: a dropped refit would leave the user's rules behind their feedback until
/// their next one. All of it within `shutdownTimeout`; what is left then (the database does not
/// answer) is dropped and logged as counts, and the writes still waiting are cancelled.
extension LearningService: Service {
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.background.run() }
            try? await gracefulShutdown()
            if !(await self.finishBackground()) { group.cancelAll() }
        }
        // Its own pool; the request pool is the daemon's (its maintenance uses it too).
        self.store.background.close()
    }

    /// Writes what is queued and runs the pending refits; false if that did not end in time.
    func finishBackground() async -> Bool {
        let started = ContinuousClock.now
        let rows = await self.recommendationLog.queuedItems
        let feedback = await self.batcher.queuedItems
        let refits = await self.refits.pending
        let done = Latch()
        let spawned = self.background.spawn {
            // Feedback first: refits read it.
            await self.batcher.drained()
            await self.recommendationLog.drained()
            await self.refits.finish()
            done.open()
        }
        let finished = spawned ? await done.wait(timeout: self.configuration.shutdownTimeout) : true
        self.background.close()
        if finished {
            self.logger.info(
                "queued work written", metadata: ["log_rows": "\(rows)", "feedback": "\(feedback)", "refits": "\(refits)", "duration": "\(ContinuousClock.now - started)"])
            return true
        }
        let lostRows = await self.recommendationLog.abandon()
        let lostFeedback = await self.batcher.abandon()
        let lostRefits = await self.refits.pending
        self.logger.warning(
            "queued work not written within the shutdown timeout; dropped",
            metadata: ["log_rows": "\(lostRows)", "feedback": "\(lostFeedback)", "refits": "\(lostRefits)"])
        return false
    }
}
