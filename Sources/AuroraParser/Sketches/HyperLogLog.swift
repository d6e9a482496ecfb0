/// Distinct-count estimate in fixed memory (2^precision one-byte registers; standard error about
/// 1.04 / sqrt(2^precision), 1.6% at the default 12). Two sketches merge by taking the maxima.
public struct HyperLogLog: Sendable, Equatable {
    public let precision: Int
    private var registers: [UInt8]

    public init(precision: Int = 12) {
        precondition((4...16).contains(precision), "HyperLogLog precision must be 4...16")
        self.precision = precision
        self.registers = [UInt8](repeating: 0, count: 1 << precision)
    }

    @inline(__always)
    public mutating func add(hash: UInt64) {
        let index = Int(truncatingIfNeeded: hash >> UInt64(64 - self.precision))
        let rest = (hash << UInt64(self.precision)) | (1 << UInt64(self.precision - 1))
        let rank = UInt8(truncatingIfNeeded: rest.leadingZeroBitCount + 1)
        self.registers.withUnsafeMutableBufferPointer { registers in
            if rank > registers[index] { registers[index] = rank }
        }
    }

    /// Adds many hashes with one exclusive access to the registers.
    public mutating func add(hashes: UnsafeBufferPointer<UInt64>) {
        let precision = UInt64(self.precision)
        self.registers.withUnsafeMutableBufferPointer { registers in
            for hash in hashes {
                let index = Int(truncatingIfNeeded: hash >> (64 - precision))
                let rest = (hash << precision) | (1 << (precision - 1))
                let rank = UInt8(truncatingIfNeeded: rest.leadingZeroBitCount + 1)
                if rank > registers[index] { registers[index] = rank }
            }
        }
    }

    public mutating func merge(_ other: HyperLogLog) {
        precondition(other.precision == self.precision)
        for index in self.registers.indices where other.registers[index] > self.registers[index] {
            self.registers[index] = other.registers[index]
        }
    }

    public var estimate: Double {
        let m = Double(self.registers.count)
        var sum = 0.0
        var zeros = 0
        for register in self.registers {
            sum += 1.0 / Double(UInt64(1) << UInt64(register))
            if register == 0 { zeros += 1 }
        }
        let alpha = 0.7213 / (1 + 1.079 / m)
        let raw = alpha * m * m / sum
        // Linear counting is the better estimate while many registers are still empty.
        if raw <= 2.5 * m && zeros > 0 { return m * log(m / Double(zeros)) }
        return raw
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
