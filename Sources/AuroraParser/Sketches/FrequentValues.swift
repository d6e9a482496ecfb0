/// The most frequent values of a column in fixed memory: the Misra-Gries summary with `capacity`
/// counters. Any value more frequent than n / (capacity + 1) is kept; each count is a lower bound,
/// off by at most the number of decrement rounds. Keys are 64-bit hashes in a small open-addressing
/// table (no allocation per cell); each slot keeps the value's first `displayBytes` for display.
public struct FrequentValues: Sendable {
    public let capacity: Int
    public static let displayBytes = 64
    private var keys: [UInt64]
    private var counts: [Int]
    private var lengths: [Int]
    private var display: [UInt8]
    private var used = 0
    /// Slot index + 1 per table position; 0 is empty.
    private var table: [Int32]
    private let mask: Int
    /// Decrement rounds so far: the largest amount by which a count may fall short.
    public private(set) var maximumError = 0

    public init(capacity: Int = 64) {
        self.capacity = capacity
        var size = 1
        while size < capacity * 4 { size <<= 1 }
        self.mask = size - 1
        self.table = [Int32](repeating: 0, count: size)
        self.keys = [UInt64](repeating: 0, count: capacity)
        self.counts = [Int](repeating: 0, count: capacity)
        self.lengths = [Int](repeating: 0, count: capacity)
        self.display = [UInt8](repeating: 0, count: capacity * Self.displayBytes)
    }

    @inline(__always)
    public mutating func add(hash: UInt64, bytes: UnsafeBufferPointer<UInt8>, count: Int = 1) {
        var position = Int(truncatingIfNeeded: hash) & self.mask
        while true {
            let entry = Int(self.table[position])
            if entry == 0 { break }
            if self.keys[entry - 1] == hash {
                self.counts[entry - 1] += count
                return
            }
            position = (position + 1) & self.mask
        }
        if self.used < self.capacity {
            self.insert(hash: hash, count: count, at: position, bytes: bytes)
        } else {
            self.decrementAll(by: 1)
            if count > 1 { self.add(hash: hash, bytes: bytes, count: count - 1) }
        }
    }

    /// Adds many values, each counted once, in order (the same summary as adding them one by
    /// one); `bytes(i)` gives the i-th value's bytes, read only for values not yet kept. Counting
    /// and inserting happen under one exclusive access to the arrays; only the decrement round
    /// of a full summary leaves it.
    mutating func add(hashes: UnsafeBufferPointer<UInt64>, bytes: (Int) -> UnsafeBufferPointer<UInt8>) {
        var next = 0
        while next < hashes.count {
            let (mask, capacity, displayBytes) = (self.mask, self.capacity, Self.displayBytes)
            var used = self.used
            // Counts or inserts every value up to the first that finds the summary full; returns its index.
            let full: Int = self.table.withUnsafeMutableBufferPointer { table in
                self.keys.withUnsafeMutableBufferPointer { keys in
                    self.counts.withUnsafeMutableBufferPointer { counts in
                        self.lengths.withUnsafeMutableBufferPointer { lengths in
                            self.display.withUnsafeMutableBufferPointer { display in
                                var index = next
                                values: while index < hashes.count {
                                    let hash = hashes[index]
                                    var position = Int(truncatingIfNeeded: hash) & mask
                                    while true {
                                        let entry = Int(table[position])
                                        if entry == 0 { break }
                                        if keys[entry - 1] == hash {
                                            counts[entry - 1] += 1
                                            index += 1
                                            continue values
                                        }
                                        position = (position + 1) & mask
                                    }
                                    // Not kept: a free counter takes it, or the summary is full.
                                    guard used < capacity else { break values }
                                    let slot = used
                                    used += 1
                                    keys[slot] = hash
                                    counts[slot] = 1
                                    let value = bytes(index)
                                    let length = min(value.count, displayBytes)
                                    lengths[slot] = length
                                    if length > 0, let source = value.baseAddress {
                                        (display.baseAddress! + slot * displayBytes).update(from: source, count: length)
                                    }
                                    table[position] = Int32(slot + 1)
                                    index += 1
                                }
                                return index
                            }
                        }
                    }
                }
            }
            self.used = used
            guard full < hashes.count else { return }
            // Misra-Gries: a new value meeting a full summary lowers every count by one (its own
            // single occurrence included, so it is not kept).
            self.decrementAll(by: 1)
            next = full + 1
        }
    }

    private mutating func insert(hash: UInt64, count: Int, at position: Int, bytes: UnsafeBufferPointer<UInt8>) {
        let slot = self.used
        self.used += 1
        self.keys[slot] = hash
        self.counts[slot] = count
        let length = min(bytes.count, Self.displayBytes)
        self.lengths[slot] = length
        if length > 0, let source = bytes.baseAddress {
            self.display.withUnsafeMutableBufferPointer { display in
                (display.baseAddress! + slot * Self.displayBytes).update(from: source, count: length)
            }
        }
        self.table[position] = Int32(slot + 1)
    }

    /// Lowers every count by `amount`, drops the counters that reach zero, rebuilds the table.
    private mutating func decrementAll(by amount: Int) {
        self.maximumError += amount
        var kept = 0
        for slot in 0..<self.used where self.counts[slot] > amount {
            self.keys[kept] = self.keys[slot]
            self.counts[kept] = self.counts[slot] - amount
            self.lengths[kept] = self.lengths[slot]
            if kept != slot {
                let (from, to, length) = (slot * Self.displayBytes, kept * Self.displayBytes, self.lengths[kept])
                self.display.withUnsafeMutableBufferPointer { display in
                    (display.baseAddress! + to).update(from: display.baseAddress! + from, count: length)
                }
            }
            kept += 1
        }
        self.used = kept
        for index in self.table.indices { self.table[index] = 0 }
        for slot in 0..<kept {
            var position = Int(truncatingIfNeeded: self.keys[slot]) & self.mask
            while self.table[position] != 0 { position = (position + 1) & self.mask }
            self.table[position] = Int32(slot + 1)
        }
    }

    /// Merges another summary (same capacity): counts add; if more than `capacity` values remain,
    /// all are lowered by the (capacity+1)-th largest count, which keeps the error bound.
    public mutating func merge(_ other: FrequentValues) {
        var combined: [UInt64: (count: Int, bytes: [UInt8])] = [:]
        for entry in self.entries() { combined[entry.hash] = (entry.count, entry.bytes) }
        for entry in other.entries() {
            combined[entry.hash, default: (0, entry.bytes)].count += entry.count
        }
        var sorted: [(hash: UInt64, count: Int, bytes: [UInt8])] = combined
            .map { ($0.key, $0.value.count, $0.value.bytes) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.hash < $1.hash }
        var error = self.maximumError + other.maximumError
        if sorted.count > self.capacity {
            let cut = sorted[self.capacity].count
            error += cut
            sorted = Array(sorted[0..<self.capacity]).filter { $0.count > cut }.map { ($0.hash, $0.count - cut, $0.bytes) }
        }
        var merged = FrequentValues(capacity: self.capacity)
        for item in sorted {
            item.bytes.withUnsafeBufferPointer { merged.add(hash: item.hash, bytes: $0, count: item.count) }
        }
        merged.maximumError = error
        self = merged
    }

    public struct Entry: Sendable {
        public var hash: UInt64
        public var count: Int
        public var bytes: [UInt8]
    }

    public func entries() -> [Entry] {
        (0..<self.used).map { slot in
            let offset = slot * Self.displayBytes
            return Entry(hash: self.keys[slot], count: self.counts[slot], bytes: Array(self.display[offset..<offset + self.lengths[slot]]))
        }
    }

    /// The `limit` most frequent values, most frequent first (ties by value, so output is stable).
    public func top(_ limit: Int) -> [(value: String, count: Int)] {
        self.entries()
            .map { (String(decoding: $0.bytes, as: UTF8.self), $0.count) }
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
            .prefix(limit)
            .map { (value: $0.0, count: $0.1) }
    }
}
