/// Quantiles in bounded memory: a KLL sketch (Karnin, Lang, Liberty 2016). Level h holds items
/// of weight 2^h; a full level gives every other item of its sorted order (random offset) to the
/// level above. Capacities shrink by 2/3 per level below the top, down to a floor of 8 (as in
/// Apache DataSketches), except level 0, which always holds k: new values are sorted in batches
/// of k rather than of 8 (a compaction per 8 values cost more than the values), for k - 8 more
/// items of memory and no loss of accuracy (a larger level compacts less often). Levels above 0
/// are kept sorted and compaction merges into them, so no upper level is ever re-sorted. Two
/// sketches merge by concatenating levels and compacting. Rank error is about 1-2% at k = 200.
public struct KLLSketch: Sendable {
    public let k: Int
    /// levels[0] in arrival order; every level above it sorted.
    private var levels: [[Double]] = [[]]
    /// New values, kept apart from level 0 until a batch is full: the first `buffered` elements
    /// of a preallocated array (cheaper per value than appending to an element of `levels`).
    private var buffer: [Double]
    private var buffered = 0
    /// Reused by compaction for the merged level.
    private var merged: [Double] = []
    public private(set) var count = 0
    private var randomState: UInt64
    /// capacity(level) for each level, cached: it changes only when a level is added (level 0's never).
    private var capacities: [Int]
    private let level0Capacity: Int

    private static let minimumCapacity = 8

    public init(k: Int = 200, seed: UInt64 = 0x853C_49E6_748F_EA9B) {
        self.k = k
        self.randomState = seed | 1
        self.capacities = [max(Self.minimumCapacity, k)]
        self.level0Capacity = self.capacities[0]
        self.buffer = [Double](repeating: 0, count: self.capacities[0])
    }

    private mutating func addLevel() {
        self.levels.append([])
        self.capacities = self.levels.indices.map { level in
            let depth = self.levels.count - level - 1
            var capacity = Double(self.k)
            for _ in 0..<depth { capacity *= 2.0 / 3.0 }
            return max(Self.minimumCapacity, Int(capacity.rounded(.up)))
        }
        self.capacities[0] = max(Self.minimumCapacity, self.k)
    }

    @inline(__always)
    public mutating func add(_ value: Double) {
        self.buffer[self.buffered] = value
        self.buffered += 1
        self.count += 1
        if self.buffered >= self.level0Capacity { self.flush() }
    }

    /// Adds values in bulk (the same sketch as adding them one by one).
    public mutating func add(contentsOf values: UnsafeBufferPointer<Double>) {
        var offset = 0
        while offset < values.count {
            let count = min(values.count - offset, self.level0Capacity - self.buffered)
            self.buffer.withUnsafeMutableBufferPointer { buffer in
                (buffer.baseAddress! + self.buffered).update(from: values.baseAddress! + offset, count: count)
            }
            self.buffered += count
            self.count += count
            offset += count
            if self.buffered >= self.level0Capacity { self.flush() }
        }
    }

    private mutating func flush() {
        self.levels[0].append(contentsOf: self.buffer[0..<self.buffered])
        self.buffered = 0
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
            if self.levels[level].count >= self.capacities[level] { self.compact(level) }
            level += 1
        }
    }

    /// Halves `level` into `level + 1`. Arrays are swapped out of `levels` while they change, so
    /// each is uniquely referenced and nothing is copied.
    private mutating func compact(_ level: Int) {
        if level + 1 == self.levels.count { self.addLevel() }
        var items: [Double] = []
        swap(&items, &self.levels[level])
        // With an odd count one item stays behind, at its weight.
        let odd = items.count % 2 == 1 ? items.removeLast() : nil
        if level == 0 { items.sort() }
        var above: [Double] = []
        swap(&above, &self.levels[level + 1])
        // Every other item of `items` (sorted, from a random offset) merged with `above` (sorted).
        let first = self.nextRandomBit()
        let picked = (items.count - first + 1) / 2
        let total = above.count + picked
        if self.merged.count < total { self.merged = [Double](repeating: 0, count: total) }
        items.withUnsafeBufferPointer { items in
            above.withUnsafeBufferPointer { above in
                self.merged.withUnsafeMutableBufferPointer { merged in
                    var pick = first
                    var index = 0
                    var out = 0
                    while pick < items.count {
                        let value = items[pick]
                        while index < above.count && above[index] < value {
                            merged[out] = above[index]
                            out += 1
                            index += 1
                        }
                        merged[out] = value
                        out += 1
                        pick += 2
                    }
                    while index < above.count {
                        merged[out] = above[index]
                        out += 1
                        index += 1
                    }
                }
            }
        }
        above.removeAll(keepingCapacity: true)
        above.append(contentsOf: self.merged[0..<total])
        swap(&above, &self.levels[level + 1])
        items.removeAll(keepingCapacity: true)
        if let odd { items.append(odd) }
        swap(&items, &self.levels[level])
    }

    public mutating func merge(_ other: KLLSketch) {
        self.flush()
        self.levels[0].append(contentsOf: other.buffer[0..<other.buffered])
        while self.levels.count < other.levels.count { self.addLevel() }
        for (level, items) in other.levels.enumerated() {
            self.levels[level].append(contentsOf: items)
            if level > 0 { self.levels[level].sort() }  // two sorted runs: the stable sort merges them
        }
        self.count += other.count
        self.compress()
    }

    /// Items with their weights, sorted by value.
    private func weighted() -> [(value: Double, weight: Double)] {
        var items: [(value: Double, weight: Double)] = self.buffer[0..<self.buffered].map { ($0, 1) }
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
