/// Quantiles in bounded memory: a KLL sketch (Karnin, Lang, Liberty 2016). Level h holds items
/// of weight 2^h; a full level is sorted and every other item (random offset) moves up. Capacities
/// shrink by 2/3 per level below the top, with a floor so the lowest levels stay cheap. Two
/// sketches merge by concatenating levels and compacting. Rank error is about 1% at k = 200.
public struct KLLSketch: Sendable {
    public let k: Int
    private var levels: [[Double]] = [[]]
    /// New values, kept apart from level 0 until a batch is full (one flat array is cheaper to
    /// append to than an element of the levels array).
    private var buffer: [Double] = []
    public private(set) var count = 0
    private var randomState: UInt64
    /// capacity(0), cached: it changes only when a level is added.
    private var level0Capacity = KLLSketch.minimumCapacity

    /// Level 0 is sorted in batches of at least this many (cheaper per value; the error bound
    /// is set by the upper levels).
    private static let minimumCapacity = 128

    public init(k: Int = 200, seed: UInt64 = 0x853C_49E6_748F_EA9B) {
        self.k = k
        self.randomState = seed | 1
        self.buffer.reserveCapacity(Self.minimumCapacity)
    }

    private func capacity(_ level: Int) -> Int {
        let depth = self.levels.count - level - 1
        var capacity = Double(self.k)
        for _ in 0..<depth { capacity *= 2.0 / 3.0 }
        return max(Self.minimumCapacity, Int(capacity.rounded(.up)))
    }

    @inline(__always)
    public mutating func add(_ value: Double) {
        self.buffer.append(value)
        self.count += 1
        if self.buffer.count >= self.level0Capacity { self.flush() }
    }

    private mutating func flush() {
        self.levels[0].append(contentsOf: self.buffer)
        self.buffer.removeAll(keepingCapacity: true)
        self.compress()
    }

    private mutating func nextRandomBit() -> Int {
        self.randomState ^= self.randomState << 13
        self.randomState ^= self.randomState >> 7
        self.randomState ^= self.randomState << 17
        return Int(self.randomState & 1)
    }

    /// Compacts every level that is over its capacity, lowest first.
    private mutating func compress() {
        var level = 0
        while level < self.levels.count {
            if self.levels[level].count >= self.capacity(level) {
                if level + 1 == self.levels.count { self.levels.append([]) }
                var items = self.levels[level]
                items.sort()
                var kept: [Double] = []
                if items.count % 2 == 1 { kept.append(items.removeLast()) }
                var index = self.nextRandomBit()
                while index < items.count {
                    self.levels[level + 1].append(items[index])
                    index += 2
                }
                self.levels[level] = kept
                self.levels[level].reserveCapacity(Self.minimumCapacity)
            }
            level += 1
        }
        self.level0Capacity = self.capacity(0)
    }

    public mutating func merge(_ other: KLLSketch) {
        self.levels[0].append(contentsOf: self.buffer)
        self.buffer.removeAll(keepingCapacity: true)
        self.levels[0].append(contentsOf: other.buffer)
        while self.levels.count < other.levels.count { self.levels.append([]) }
        for (level, items) in other.levels.enumerated() { self.levels[level].append(contentsOf: items) }
        self.count += other.count
        self.compress()
    }

    /// Items with their weights, sorted by value.
    private func weighted() -> [(value: Double, weight: Double)] {
        var items: [(value: Double, weight: Double)] = self.buffer.map { ($0, 1) }
        for (level, values) in self.levels.enumerated() {
            let weight = Double(1 << level)
            for value in values { items.append((value, weight)) }
        }
        items.sort { $0.value < $1.value }
        return items
    }

    /// Values at the given fractions (0...1); empty when the sketch is empty.
    public func quantiles(_ fractions: [Double]) -> [Double] {
        let items = self.weighted()
        guard !items.isEmpty else { return [] }
        let total = items.reduce(0) { $0 + $1.weight }
        return fractions.map { fraction in
            let target = fraction * total
            var cumulative = 0.0
            for item in items {
                cumulative += item.weight
                if cumulative >= target { return item.value }
            }
            return items[items.count - 1].value
        }
    }

    /// Estimated fraction of values ≤ each bound (bounds in any order).
    public func cumulativeFractions(_ bounds: [Double], inclusive: Bool = true) -> [Double] {
        let items = self.weighted()
        let total = items.reduce(0) { $0 + $1.weight }
        guard total > 0 else { return bounds.map { _ in 0 } }
        return bounds.map { bound in
            var below = 0.0
            for item in items where inclusive ? item.value <= bound : item.value < bound { below += item.weight }
            return below / total
        }
    }
}
