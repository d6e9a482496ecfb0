import AuroraStatistics

/// Exact distinct count of 64-bit hashes up to a limit: an open-addressing table that grows with
/// the distinct values (a categorical column of a million cells stays a few KiB) and is given up,
/// memory freed, once the limit is passed; the caller then reads the HyperLogLog estimate.
/// Two hashes of 64 bits collide about once in 2^32 distinct pairs: exact for any real column.
struct ExactDistinct: Sendable {
    /// Slots hold hash | 1 (never 0, which marks an empty slot); the low bit is lost, which
    /// halves the hash space to 2^63 and is still exact in practice.
    private var slots: [UInt64]
    private(set) var count = 0
    let limit: Int

    init(limit: Int) {
        self.limit = limit
        self.slots = [UInt64](repeating: 0, count: 16)
    }

    /// Whether the count is still exact (false once more than `limit` distinct hashes came).
    var isExact: Bool { self.count <= self.limit }

    /// One pass over the batch inside the table's buffer (entering it per cell, with its
    /// uniqueness check, cost more than the probe); it steps out only to grow the table.
    mutating func add(hashes: UnsafeBufferPointer<UInt64>) {
        var next = 0
        while next < hashes.count, self.isExact {
            if (self.count + 1) * 2 > self.slots.count { self.grow() }
            var count = self.count
            let limit = self.limit
            next = self.slots.withUnsafeMutableBufferPointer { slots in
                let mask = slots.count - 1
                var index = next
                while index < hashes.count, (count + 1) * 2 <= slots.count, count <= limit {
                    let key = hashes[index] | 1
                    var position = Int(truncatingIfNeeded: key >> 32) & mask
                    while true {
                        let slot = slots[position]
                        if slot == key { break }
                        if slot == 0 {
                            slots[position] = key
                            count += 1
                            break
                        }
                        position = (position + 1) & mask
                    }
                    index += 1
                }
                return index
            }
            self.count = count
        }
        if !self.isExact { self.slots = [] }
    }

    @inline(__always)
    private mutating func insert(_ key: UInt64) {
        if (self.count + 1) * 2 > self.slots.count { self.grow() }
        let mask = self.slots.count - 1
        // The hash's high bits pick the slot (its low bit is forced to 1).
        var position = Int(truncatingIfNeeded: key >> 32) & mask
        let added: Bool = self.slots.withUnsafeMutableBufferPointer { slots in
            while true {
                let slot = slots[position]
                if slot == key { return false }
                if slot == 0 {
                    slots[position] = key
                    return true
                }
                position = (position + 1) & mask
            }
        }
        if added { self.count += 1 }
    }

    private mutating func grow() {
        let old = self.slots
        self.slots = [UInt64](repeating: 0, count: max(16, old.count * 2))
        self.count = 0
        for key in old where key != 0 { self.insert(key) }
    }

    mutating func merge(_ other: ExactDistinct) {
        guard self.isExact else { return }
        guard other.isExact else {
            self.count = self.limit + 1
            self.slots = []
            return
        }
        for key in other.slots where key != 0 {
            self.insert(key)
            if self.count > self.limit {
                self.slots = []
                return
            }
        }
    }
}
