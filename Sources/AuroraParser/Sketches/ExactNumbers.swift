/// A column's numbers kept exactly while they fit a limit, so that small columns get the figures
/// pandas and numpy give (two-pass moments with pandas' bias corrections, linearly interpolated
/// quantiles, exact outlier and distinct counts); past the limit the sketches answer.
struct ExactNumbers: Sendable {
    private(set) var values: [Double] = []
    let limit: Int
    /// False once more than `limit` numbers came (the array is then freed).
    private(set) var isExact = true

    init(limit: Int) { self.limit = limit }

    /// `prior`: about how many numbers of the column come before these in the file (a later
    /// part's): past the limit with them, the merged column cannot be exact, so none are kept.
    mutating func add(contentsOf numbers: UnsafeBufferPointer<Double>, prior: Int = 0) {
        guard self.isExact else { return }
        guard prior + self.values.count + numbers.count <= self.limit else { return self.giveUp() }
        self.values.append(contentsOf: numbers)
    }

    mutating func merge(_ other: ExactNumbers) {
        guard self.isExact else { return }
        guard other.isExact, self.values.count + other.values.count <= self.limit else { return self.giveUp() }
        self.values.append(contentsOf: other.values)
    }

    /// Drops the numbers (the column became text); exactness stays possible for what follows.
    mutating func clear() { self.values = [] }

    private mutating func giveUp() {
        self.isExact = false
        self.values = []
    }
}

/// The statistics of a list of numbers, computed the way pandas and numpy compute them.
struct ExactSummary {
    let sorted: [Double]
    let mean: Double
    let variance: Double
    let skewness: Double
    let kurtosis: Double

    init(_ values: [Double]) {
        self.sorted = values.sorted()
        let n = Double(values.count)
        // pandas' nanops: the mean, then sums of powers of the deviations from it (in the file's
        // order, as numpy sums; Neumaier's compensation keeps the sums closer than 1e-15).
        let mean = Self.sum(values) / n
        var d2 = CompensatedSum()
        var d3 = CompensatedSum()
        var d4 = CompensatedSum()
        for value in values {
            let d = value - mean
            let square = d * d
            d2.add(square)
            d3.add(square * d)
            d4.add(square * square)
        }
        self.mean = values.isEmpty ? 0 : mean
        self.variance = values.count > 1 ? d2.value / (n - 1) : 0
        // pandas zeroes sums below 1e-14 ("floating point error") before it divides.
        func zeroOutError(_ value: Double) -> Double { abs(value) < 1e-14 ? 0 : value }
        let m2 = zeroOutError(d2.value)
        let m3 = zeroOutError(d3.value)
        if values.count < 3 || m2 == 0 {
            self.skewness = 0
        } else {
            self.skewness = (n * (n - 1).squareRoot() / (n - 2)) * (m3 / (m2 * m2.squareRoot()))
        }
        let adjustment = 3 * (n - 1) * (n - 1) / ((n - 2) * (n - 3))
        let numerator = zeroOutError(n * (n + 1) * (n - 1) * d4.value)
        let denominator = zeroOutError((n - 2) * (n - 3) * m2 * m2)
        if values.count < 4 || denominator == 0 {
            self.kurtosis = 0
        } else {
            self.kurtosis = numerator / denominator - adjustment
        }
    }

    static func sum(_ values: [Double]) -> Double {
        var sum = CompensatedSum()
        for value in values { sum.add(value) }
        return sum.value
    }

    /// numpy's default ("linear") quantile of the sorted values.
    func quantile(_ q: Double) -> Double {
        let n = self.sorted.count
        guard n > 1 else { return self.sorted.first ?? 0 }
        // numpy: virtual index n·q + (1 + q·(1 − 1 − 1)) − 1, i.e. (n − 1)·q as it rounds it.
        let index = Double(n) * q + (1 + q * -1) - 1
        let below = Swift.min(Swift.max(0, Int(index.rounded(.down))), n - 1)
        let above = Swift.min(below + 1, n - 1)
        let t = index - Double(below)
        let a = self.sorted[below]
        let b = self.sorted[above]
        // numpy's _lerp: from the nearer end, so that t = 1 gives b exactly.
        let difference = b - a
        return t >= 0.5 ? b - difference * (1 - t) : a + difference * t
    }

    /// Values strictly below `value`.
    func countBelow(_ value: Double) -> Int {
        var low = 0
        var high = self.sorted.count
        while low < high {
            let middle = (low + high) / 2
            if self.sorted[middle] < value { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Values at most `value`.
    func countAtMost(_ value: Double) -> Int {
        var low = 0
        var high = self.sorted.count
        while low < high {
            let middle = (low + high) / 2
            if self.sorted[middle] <= value { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Distinct values (0 and -0 are one, as in pandas).
    var distinct: Int {
        guard var previous = self.sorted.first else { return 0 }
        var count = 1
        for value in self.sorted.dropFirst() where value != previous {
            count += 1
            previous = value
        }
        return count
    }
}

/// Neumaier's compensated summation.
struct CompensatedSum {
    private var sum = 0.0
    private var compensation = 0.0

    @inline(__always)
    mutating func add(_ value: Double) {
        let total = self.sum + value
        if abs(self.sum) >= abs(value) {
            self.compensation += (self.sum - total) + value
        } else {
            self.compensation += (value - total) + self.sum
        }
        self.sum = total
    }

    var value: Double { self.sum + self.compensation }
}
