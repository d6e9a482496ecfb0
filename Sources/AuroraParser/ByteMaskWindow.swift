import CByteMasks

/// Bitmasks of up to four bytes in a 64-byte window of a buffer, computed once per window with
/// SIMD compares, so that finding the next byte of a set within the window is a shift and a bit
/// count instead of a byte-by-byte (or eight-byte) search.
struct ByteMaskWindow {
    /// The bytes looked for; repeat one to look for fewer.
    let needles: (UInt8, UInt8, UInt8, UInt8)
    /// A byte that is none of the needles: fills the end of a last, partial window.
    private let filler: UInt8
    /// Index of the window's first byte (a multiple of 64); masks cover start..<start+64.
    private(set) var start = Int.min
    /// Bit i of `m0` is set when byte start + i is `needles.0`, and so on.
    private(set) var masks = aurora_byte_masks(m0: 0, m1: 0, m2: 0, m3: 0)

    init(_ needles: (UInt8, UInt8, UInt8, UInt8)) {
        self.needles = needles
        var filler: UInt8 = 0
        while filler == needles.0 || filler == needles.1 || filler == needles.2 || filler == needles.3 { filler += 1 }
        self.filler = filler
    }

    /// The index of the first byte in `base[from..<count]` that is any of the needles, or `count`.
    @inline(__always)
    mutating func first(in base: UnsafePointer<UInt8>, from: Int, count: Int) -> Int {
        var index = from
        while index < count {
            self.load(base, index: index, count: count)
            let bits = self.bits(self.masks.m0 | self.masks.m1 | self.masks.m2 | self.masks.m3, from: index)
            if bits != 0 { return index + bits.trailingZeroBitCount }
            index = self.start + 64
        }
        return count
    }

    /// Makes the window the one that holds `index` (an index below `count`).
    @inline(__always)
    mutating func load(_ base: UnsafePointer<UInt8>, index: Int, count: Int) {
        let start = index & ~63
        guard start != self.start else { return }
        self.start = start
        if start + 64 <= count {
            self.masks = aurora_byte_masks64(base + start, self.needles.0, self.needles.1, self.needles.2, self.needles.3)
        } else {
            var tail = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            let filler = self.filler
            let needles = self.needles
            self.masks = withUnsafeMutableBytes(of: &tail) { buffer in
                buffer.initializeMemory(as: UInt8.self, repeating: filler)
                buffer.copyMemory(from: UnsafeRawBufferPointer(start: base + start, count: count - start))
                return aurora_byte_masks64(buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), needles.0, needles.1, needles.2, needles.3)
            }
        }
    }

    /// The bits of `mask` (a window's combination of masks) from `index` on, shifted down so
    /// that bit 0 stands for `index`.
    @inline(__always)
    func bits(_ mask: UInt64, from index: Int) -> UInt64 { mask >> UInt64(index - self.start) }
}
