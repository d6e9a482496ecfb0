import Metrics

extension Metrics.Timer {
    /// Records the time elapsed since `start` (services time their work with ContinuousClock).
    public func recordInterval(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        self.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}
