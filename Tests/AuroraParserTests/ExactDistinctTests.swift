@testable import AuroraParser
import Testing

/// The exact distinct count: exact up to its limit over batches of any size (the table grows
/// mid-batch), given up and freed past it, and merged like one column.
@Suite("Exact distinct count")
struct ExactDistinctTests {
    /// Distinct 64-bit hashes (a multiplicative sequence), each given `repeats` times.
    static func hashes(_ distinct: Int, repeats: Int) -> [UInt64] {
        (0..<distinct * repeats).map { UInt64($0 % distinct + 1) &* 0x9E37_79B9_7F4A_7C15 }
    }

    static func add(_ hashes: [UInt64], batch: Int, to table: inout ExactDistinct) {
        var start = 0
        while start < hashes.count {
            let end = min(hashes.count, start + batch)
            hashes[start..<end].withUnsafeBufferPointer { table.add(hashes: $0) }
            start = end
        }
    }

    @Test(arguments: [1, 7, 1000, 100_000])
    func countsExactlyUpToTheLimit(batch: Int) {
        for distinct in [1, 15, 16, 17, 1000, 5000] {
            var table = ExactDistinct(limit: 5000)
            Self.add(Self.hashes(distinct, repeats: 3), batch: batch, to: &table)
            #expect(table.isExact && table.count == distinct, "batch \(batch), \(distinct) distinct: \(table.count)")
        }
        var over = ExactDistinct(limit: 5000)
        Self.add(Self.hashes(5001, repeats: 2), batch: batch, to: &over)
        #expect(!over.isExact)
    }

    @Test func mergesLikeOneColumn() {
        var left = ExactDistinct(limit: 100)
        var right = ExactDistinct(limit: 100)
        Self.add(Array(Self.hashes(60, repeats: 1)), batch: 13, to: &left)
        Self.add(Array(Self.hashes(80, repeats: 1).suffix(50)), batch: 13, to: &right)  // 20 new, 30 shared
        left.merge(right)
        #expect(left.isExact && left.count == 80)
        right = ExactDistinct(limit: 100)
        Self.add(Self.hashes(101, repeats: 1), batch: 50, to: &right)
        left.merge(right)
        #expect(!left.isExact)
    }

    /// Exact to the limit, then the sketch (fed only from there on, with the set's hashes):
    /// within HyperLogLog's error of the truth in one part or merged from several, whichever
    /// side gave up first.
    @Test func sketchTakesOverPastTheLimit() {
        func values(_ hashes: [UInt64], limit: Int = 1000) -> DistinctValues {
            var values = DistinctValues(limit: limit, precision: 12)
            var start = 0
            while start < hashes.count {
                let end = min(hashes.count, start + 777)
                hashes[start..<end].withUnsafeBufferPointer { values.add(hashes: $0) }
                start = end
            }
            return values
        }
        // Well mixed, as the profiler's hashes are (the sketch reads their top bits).
        func mixed(_ hashes: [UInt64]) -> [UInt64] { hashes.map(Hash64.finish) }
        let few = values(mixed(Self.hashes(900, repeats: 4)))
        #expect(few.isExact && few.estimate == 900)
        let many = values(mixed(Self.hashes(50_000, repeats: 2)))
        #expect(!many.isExact && abs(many.estimate - 50_000) < 50_000 * 0.05, "\(many.estimate)")
        let all = mixed(Self.hashes(50_000, repeats: 1))
        for split in [300, 25_000, 49_700] {
            var left = values(Array(all[..<split]))
            left.merge(values(Array(all[split...])))
            #expect(!left.isExact && abs(left.estimate - 50_000) < 50_000 * 0.05, "split at \(split): \(left.estimate)")
        }
        var small = values(Array(all[..<600]))
        small.merge(values(Array(all[300..<900])))
        #expect(small.isExact && small.estimate == 900)
        // Past the limit in values, a small set stays exact; a larger one gives way.
        let repeated = values(mixed(Self.hashes(900, repeats: 50)), limit: 10_000)
        #expect(repeated.isExact && repeated.estimate == 900)
        let wide = values(mixed(Self.hashes(5000, repeats: 3)), limit: 10_000)
        #expect(!wide.isExact && abs(wide.estimate - 5000) < 5000 * 0.05, "\(wide.estimate)")
    }
}
