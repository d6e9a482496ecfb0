import Foundation

/// Laplace noise with the snapping mechanism (Mironov 2012). A textbook sampler
/// (`x + λ·ln(U)` with `U = Double.random(in:)`) leaks the true value through the floating-point
/// pattern of its outputs; snapping clamps, draws U from the full-precision distribution of
/// doubles in (0, 1], and rounds the result to a multiple of Λ, the smallest power of two ≥ λ,
/// so the low bits carry nothing.
public struct SnappingLaplace: Sendable {
    /// Noise scale λ = sensitivity / ε.
    public let scale: Double
    public let bounds: ClosedRange<Double>
    /// Λ: outputs are multiples of it.
    public let granularity: Double

    public init(scale: Double, bounds: ClosedRange<Double>) {
        precondition(scale > 0 && scale.isFinite, "the noise scale must be positive")
        self.scale = scale
        self.bounds = bounds
        var lambda = 1.0
        while lambda < scale { lambda *= 2 }
        while lambda / 2 >= scale { lambda /= 2 }
        self.granularity = lambda
    }

    public func noised<G: RandomNumberGenerator>(_ value: Double, using generator: inout G) -> Double {
        let clamped = min(max(value, self.bounds.lowerBound), self.bounds.upperBound)
        let sign: Double = generator.next() & 1 == 0 ? 1 : -1
        let uniform = Self.uniformFullPrecision(using: &generator)
        let noisy = clamped + sign * self.scale * log(uniform)
        let snapped = (noisy / self.granularity).rounded(.toNearestOrEven) * self.granularity
        return min(max(snapped, self.bounds.lowerBound), self.bounds.upperBound)
    }

    /// A double in (0, 1] drawn as a real number would be, then rounded: the exponent from a
    /// geometric distribution (one per leading zero bit), all 52 mantissa bits random.
    static func uniformFullPrecision<G: RandomNumberGenerator>(using generator: inout G) -> Double {
        var exponent = -1
        while true {
            let bits = generator.next()
            if bits != 0 {
                exponent -= bits.leadingZeroBitCount
                break
            }
            exponent -= 64
            if exponent < -1074 { return Double.leastNonzeroMagnitude }
        }
        let mantissa = generator.next() >> 12
        // (1 + m / 2^52) · 2^exponent lies in [2^exponent, 2^(exponent+1)); with exponent ≤ -1 that is within (0, 1].
        return Double(sign: .plus, exponent: exponent, significand: 1 + Double(mantissa) / 4_503_599_627_370_496)
    }
}

/// Noise for a fingerprint's continuous features at a total ε per fingerprint, split across them
/// by `Fingerprint.Feature.epsilonWeight` (sequential composition: the shares add up to ε).
/// Sensitivity: a feature is clamped to its range, and one row of the user's table moves it by at
/// most `rowSensitivity` × range / count (exactly 1 for the missing ratio; a heuristic 10 for
/// statistics such as skewness), so the sensitivity used is range × min(1, rowSensitivity ×
/// `rowsFactor` / count), never less than `minimumSensitivityFraction` of the range.
public struct FingerprintNoise: Sendable {
    public var epsilon: Double
    /// Multiplies every feature's row sensitivity (1: as declared; more is more cautious).
    public var rowsFactor: Double = 1
    public var minimumSensitivityFraction: Double = 0.01

    public init(epsilon: Double) {
        precondition(epsilon > 0, "epsilon must be positive")
        self.epsilon = epsilon
    }

    /// ε spent on each feature (0 for the ones not noised); the values add up to `epsilon`.
    public var epsilonPerFeature: [Double] {
        let weights = Fingerprint.schema.map { $0.continuous ? $0.epsilonWeight : 0 }
        let total = weights.reduce(0, +)
        return weights.map { self.epsilon * $0 / total }
    }

    public func noised<G: RandomNumberGenerator>(_ fingerprint: Fingerprint, rows: Int, using generator: inout G) -> Fingerprint {
        var result = fingerprint
        for (index, epsilon) in self.epsilonPerFeature.enumerated() where epsilon > 0 {
            let feature = Fingerprint.schema[index]
            let width = feature.range.upperBound - feature.range.lowerBound
            let fraction = max(self.minimumSensitivityFraction, min(1, feature.rowSensitivity * self.rowsFactor / Double(max(rows, 1))))
            let mechanism = SnappingLaplace(scale: width * fraction / epsilon, bounds: feature.range)
            result.features[index] = mechanism.noised(fingerprint.features[index], using: &generator)
        }
        return result
    }
}

/// The kernel's CSPRNG (getentropy, the getrandom system call that `SystemRandomNumberGenerator`
/// uses too) read 256 bytes at a time instead of 8: noising one fingerprint takes about 30 draws,
/// which were 30 system calls. One per request; unused bytes are dropped with it.
public struct BufferedSystemRandom: RandomNumberGenerator {
    /// getentropy's largest request.
    private var buffer = [UInt64](repeating: 0, count: 32)
    private var position = 32

    public init() {}

    public mutating func next() -> UInt64 {
        if self.position == self.buffer.count { self.refill() }
        defer { self.position += 1 }
        return self.buffer[self.position]
    }

    private mutating func refill() {
        let status = self.buffer.withUnsafeMutableBytes { getentropy($0.baseAddress!, $0.count) }
        // As the standard library's generator does: without randomness, the noise is not safe.
        precondition(status == 0, "getentropy failed: errno \(errno)")
        self.position = 0
    }
}
