/// A fast 64-bit hash of a cell's bytes (8 bytes per step, folded multiply), good enough for
/// HyperLogLog and the frequent-values table; not for anything an attacker could exploit.
enum Hash64 {
    @inline(__always)
    static func fold(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let product = a.multipliedFullWidth(by: b)
        return product.high ^ product.low
    }

    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let count = bytes.count
        // The length is mixed in at the end, not into the first word: XORed there, it shared bits
        // with short tails ("a" and "aac" hashed alike).
        var state: UInt64 = 0x243F_6A88_85A3_08D3
        let length = UInt64(truncatingIfNeeded: count) &* 0x9E37_79B9_7F4A_7C15
        guard count > 0, let base = bytes.baseAddress else { return Self.finish(state ^ length) }
        let raw = UnsafeRawPointer(base)
        var index = 0
        while index + 8 <= count {
            let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            state = Self.fold(state ^ word, 0x9E37_79B9_7F4A_7C15)
            index += 8
        }
        if index < count {
            // The last one to seven bytes without a loop: the last eight bytes of a longer cell
            // (overlapping ones already mixed in), two overlapping four-byte loads for four to
            // seven, and first, middle and last byte for one to three (as wyhash does). Each still
            // covers every byte: for a given length the input to the mix stays one-to-one.
            let tail: UInt64
            if count >= 8 {
                tail = raw.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
            } else if count >= 4 {
                tail = UInt64(raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) << 32 | UInt64(raw.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self))
            } else {
                tail = UInt64(base[0]) << 16 | UInt64(base[count >> 1]) << 8 | UInt64(base[count - 1])
            }
            state = Self.fold(state ^ tail, 0xBF58_476D_1CE4_E5B9)
        }
        return Self.finish(state ^ length)
    }

    /// Murmur3's finaliser: every input bit affects every output bit.
    @inline(__always)
    static func finish(_ value: UInt64) -> UInt64 {
        var x = value
        x ^= x >> 33
        x &*= 0xFF51_AFD7_ED55_8CCD
        x ^= x >> 33
        x &*= 0xC4CE_B9FE_1A85_EC53
        x ^= x >> 33
        return x
    }
}
