/// Count, mean and central moments up to the fourth, updated one value at a time and merged
/// pairwise with the numerically stable formulas of Pébay (2008), so skewness and kurtosis stay
/// accurate for large offsets (values around 1e9 with a spread of 1) where sums of powers fail.
public struct Moments: Sendable, Equatable {
    public private(set) var count: Double = 0
    public private(set) var mean: Double = 0
    private var m2: Double = 0
    private var m3: Double = 0
    private var m4: Double = 0

    public init() {}

    @inline(__always)
    public mutating func add(_ value: Double) {
        let n1 = self.count
        self.count += 1
        let n = self.count
        let delta = value - self.mean
        let deltaN = delta / n
        let deltaN2 = deltaN * deltaN
        let term1 = delta * deltaN * n1
        self.mean += deltaN
        self.m4 += term1 * deltaN2 * (n * n - 3 * n + 3) + 6 * deltaN2 * self.m2 - 4 * deltaN * self.m3
        self.m3 += term1 * deltaN * (n - 2) - 3 * deltaN * self.m2
        self.m2 += term1
    }

    /// Adds a batch: its own mean and central moments in two passes (stable, and no division
    /// per value), then the pairwise merge.
    public mutating func add(contentsOf values: UnsafeBufferPointer<Double>) {
        guard !values.isEmpty else { return }
        let n = Double(values.count)
        var sum = 0.0
        for value in values { sum += value }
        let mean = sum / n
        var m2 = 0.0
        var m3 = 0.0
        var m4 = 0.0
        for value in values {
            let delta = value - mean
            let delta2 = delta * delta
            m2 += delta2
            m3 += delta2 * delta
            m4 += delta2 * delta2
        }
        var batch = Moments()
        batch.count = n
        batch.mean = mean
        batch.m2 = m2
        batch.m3 = m3
        batch.m4 = m4
        self.merge(batch)
    }

    public mutating func merge(_ other: Moments) {
        guard other.count > 0 else { return }
        guard self.count > 0 else {
            self = other
            return
        }
        let na = self.count
        let nb = other.count
        let n = na + nb
        let delta = other.mean - self.mean
        let delta2 = delta * delta
        let delta3 = delta * delta2
        let delta4 = delta2 * delta2
        let m2 = self.m2 + other.m2 + delta2 * na * nb / n
        let m3 = self.m3 + other.m3 + delta3 * na * nb * (na - nb) / (n * n)
            + 3 * delta * (na * other.m2 - nb * self.m2) / n
        let m4 = self.m4 + other.m4 + delta4 * na * nb * (na * na - na * nb + nb * nb) / (n * n * n)
            + 6 * delta2 * (na * na * other.m2 + nb * nb * self.m2) / (n * n)
            + 4 * delta * (na * other.m3 - nb * self.m3) / n
        self.mean += delta * nb / n
        self.count = n
        self.m2 = m2
        self.m3 = m3
        self.m4 = m4
    }

    /// Sample variance (n - 1 in the denominator); 0 below two values.
    public var variance: Double { self.count > 1 ? self.m2 / (self.count - 1) : 0 }

    /// Population skewness g1; 0 when the values do not vary.
    public var skewness: Double {
        guard self.count > 2, self.m2 > 0 else { return 0 }
        return (self.count.squareRoot() * self.m3) / (self.m2 * self.m2.squareRoot())
    }

    /// Excess kurtosis g2 (0 for a normal distribution); 0 when the values do not vary.
    public var kurtosis: Double {
        guard self.count > 3, self.m2 > 0 else { return 0 }
        return self.count * self.m4 / (self.m2 * self.m2) - 3
    }
}
