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
}
