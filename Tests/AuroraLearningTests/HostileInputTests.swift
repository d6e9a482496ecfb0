@testable import AuroraLearning
import AuroraProtocol
import Foundation
import Testing

/// The services refuse such statistics before the domain code sees them (RequestValidation); the
/// domain code must not trap on them all the same (issue 19, finding 1: `Int(_:)` of a count).
@Suite("Hostile numbers reach no trap")
struct HostileInputTests {
    static let counts: [UInt64] = [0, 1, 5, 1 << 53, UInt64(Int64.max), UInt64.max - 1, UInt64.max]
    static let doubles: [Double] = [0, -1, 1.5, .nan, .infinity, -.infinity, 1e308, -1e308, .leastNonzeroMagnitude]

    @Test(arguments: [Aurora_Profile_V1_ColumnType.integer, .float, .boolean, .date, .categorical, .text, .identifier, .empty, .unspecified, .UNRECOGNIZED(42)])
    func anyStatisticsGiveARecommendationAndAFingerprintInRange(type: Aurora_Profile_V1_ColumnType) {
        var generator = SystemRandomNumberGenerator()
        let noise = FingerprintNoise(epsilon: 4)
        for count in Self.counts {
            for distinct in Self.counts {
                for value in Self.doubles {
                    var stats = Aurora_Profile_V1_ColumnStatistics()
                    stats.type = type
                    stats.count = count
                    stats.missing = count / 2
                    stats.distinctEstimate = distinct
                    stats.topValueRatio = value
                    stats.numeric.min = value
                    stats.numeric.max = -value
                    stats.numeric.skewness = value
                    stats.numeric.kurtosis = value
                    stats.numeric.outlierRatio = value
                    stats.numeric.zeroRatio = value
                    stats.text.meanLength = value
                    let decision = Recommender.recommend(stats, domain: "", rules: [])
                    #expect(!decision.chosen.explanation.isEmpty)
                    let fingerprint = Fingerprint(stats)
                    let noised = noise.noised(fingerprint, rows: Int(clamping: count), using: &generator)
                    for (index, feature) in Fingerprint.schema.enumerated() {
                        #expect(feature.range.contains(fingerprint.features[index]), "\(feature.name) = \(fingerprint.features[index])")
                        #expect(feature.range.contains(noised.features[index]), "\(feature.name) = \(noised.features[index]) noised")
                    }
                }
            }
        }
    }

    /// Conditions come back from the store: a threshold or a feature index this version would not
    /// write is described and evaluated, not trapped on.
    @Test func storedConditionsOfAnyShapeAreDescribedAndEvaluated() {
        let features = [Double](repeating: 1, count: Fingerprint.schema.count)
        for feature in [-1, 0, Fingerprint.index("missing_level"), Fingerprint.index("range_level"), Fingerprint.schema.count, Int.max] {
            for threshold in [Double.nan, .infinity, -.infinity, 1e300, -1e300, 2.5] {
                for above in [false, true] {
                    let condition = RuleCondition(feature: feature, threshold: threshold, above: above)
                    #expect(!RuleDraft.describe([condition]).isEmpty)
                    _ = condition.holds(features)
                }
            }
        }
        #expect(!RuleCondition(feature: -1, threshold: 0, above: false).holds(features))
    }
}
