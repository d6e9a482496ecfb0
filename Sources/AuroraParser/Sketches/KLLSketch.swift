/// Quantiles in bounded memory: a KLL sketch (Karnin, Lang, Liberty 2016). Level h holds items
/// of weight 2^h; a full level gives every other item of its sorted order (random offset) to the
/// level above. Capacities shrink by 2/3 per level below the top, down to a floor of 8 (as in
/// Apache DataSketches), except level 0, which always holds k: new values are sorted in batches
/// of k rather than of 8 (a compaction per 8 values cost more than the values), for k - 8 more
/// items of memory and no loss of accuracy (a larger level compacts less often). Levels above 0
/// are kept sorted and compaction merges into them, so no upper level is ever re-sorted. Two
/// sketches merge by concatenating levels and compacting. Rank error is about 1-2% at k = 200.
///
/// Sorting each value once was still the largest cost of the sketch, so beyond `samplingStart`
/// values it samples, as the KLL paper's lowest levels do: once the sketch has seen
/// samplingStart × 2^s values, it keeps one value, chosen at random, of each block of 2^s, at
/// weight 2^s (level s). That adds a rank error of about sqrt(2^s / n) / 2, under 0.2% with
/// samplingStart = 65,536, well below the compactions' own; the count stays exact.
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
    public let samplingStart: Int
    /// Values that come before this sketch's in the whole (it profiles a later part of a file):
    /// sampling starts as if they had been added, as it would in one sketch of the whole.
    public var priorCount = 0
    /// s: new values are kept one per block of 2^s, at level s (the buffer's items have weight 2^s).
    private var sampleLevel = 0
    /// Values of the current block seen so far, and the index in the block of the one kept.
    private var blockSeen = 0
    private var blockPick = 0

    private static let minimumCapacity = 8

    public init(k: Int = 200, seed: UInt64 = 0x853C_49E6_748F_EA9B, samplingStart: Int = 1 << 16) {
        self.k = k
        self.samplingStart = max(1, samplingStart)
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

    public mutating func add(_ value: Double) {
        withUnsafePointer(to: value) { self.add(contentsOf: UnsafeBufferPointer(start: $0, count: 1)) }
    }

    /// Adds values in bulk (the same sketch as adding them one by one).
    public mutating func add(contentsOf values: UnsafeBufferPointer<Double>) {
        var offset = 0
        while offset < values.count {
            if self.sampleLevel == 0 {
                // Every value is kept, up to the next flush or the start of sampling.
                let untilSampling = self.samplingStart * 2 - self.count - self.priorCount
                let count = min(values.count - offset, self.level0Capacity - self.buffered, max(1, untilSampling))
                self.buffer.withUnsafeMutableBufferPointer { buffer in
                    (buffer.baseAddress! + self.buffered).update(from: values.baseAddress! + offset, count: count)
                }
                self.buffered += count
                self.count += count
                offset += count
                if self.buffered >= self.level0Capacity { self.flush() }
                if self.count + self.priorCount >= self.samplingStart * 2 { self.raiseSampleLevel() }
                continue
            }
            // One value per block of 2^s.
            let blockSize = 1 << self.sampleLevel
            let value = values[offset]
            if self.blockSeen == self.blockPick {
                self.buffer.withUnsafeMutableBufferPointer { $0[self.buffered] = value }
                self.buffered += 1
            }
            self.blockSeen += 1
            self.count += 1
            offset += 1
            if self.blockSeen == blockSize {
                self.blockSeen = 0
                if self.buffered >= self.level0Capacity { self.flush() }
                if self.count + self.priorCount >= self.samplingStart << (self.sampleLevel + 1) { self.raiseSampleLevel() }
                self.blockPick = Int(truncatingIfNeeded: self.nextRandom()) & ((1 << self.sampleLevel) - 1)
            }
        }
    }

    /// At a block's end: the buffer goes to its level, and blocks double.
    private mutating func raiseSampleLevel() {
        self.flush()
        self.sampleLevel += 1
        self.blockSeen = 0
        self.blockPick = Int(truncatingIfNeeded: self.nextRandom()) & ((1 << self.sampleLevel) - 1)
    }

    /// The buffer's items go to their level: level 0 takes them as they are (it is sorted when
    /// compacted); a higher level, kept sorted, takes them sorted.
    private mutating func flush() {
        let level = self.sampleLevel
        while self.levels.count <= level { self.addLevel() }
        self.levels[level].append(contentsOf: self.buffer[0..<self.buffered])
        if level > 0 { self.levels[level].sort() }  // a sorted run and a new one: the stable sort merges them
        self.buffered = 0
        self.compress()
    }

    private mutating func nextRandom() -> UInt64 {
        self.randomState ^= self.randomState << 13
        self.randomState ^= self.randomState >> 7
        self.randomState ^= self.randomState << 17
        return self.randomState
    }

    private mutating func nextRandomBit() -> Int { Int(self.nextRandom() & 1) }

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
        while self.levels.count < max(other.levels.count, other.sampleLevel + 1) { self.addLevel() }
        // The other's buffer belongs to its sampling level.
        self.levels[other.sampleLevel].append(contentsOf: other.buffer[0..<other.buffered])
        for (level, items) in other.levels.enumerated() { self.levels[level].append(contentsOf: items) }
        for level in 1..<self.levels.count {
            self.levels[level].sort()  // sorted runs: the stable sort merges them
        }
        self.count += other.count
        self.compress()
    }

    /// Items with their weights, sorted by value.
    private func weighted() -> [(value: Double, weight: Double)] {
        let bufferWeight = Double(1 << self.sampleLevel)
        var items: [(value: Double, weight: Double)] = self.buffer[0..<self.buffered].map { ($0, bufferWeight) }
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
