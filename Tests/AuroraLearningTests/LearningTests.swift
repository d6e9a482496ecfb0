@testable import AuroraLearning
import AuroraProtocol
import Foundation
import Testing

/// Statistics of a float column, for the noise tests.
func floatColumn(count: UInt64, distinct: UInt64, min: Double, max: Double) -> Aurora_Profile_V1_ColumnStatistics {
    var stats = Aurora_Profile_V1_ColumnStatistics()
    stats.type = .float
    stats.count = count
    stats.distinctEstimate = distinct
    stats.numeric.min = min
    stats.numeric.max = max
    return stats
}

@Suite("Privacy noise: the snapping mechanism")
struct SnappingTests {
    /// Across several refills: no repeated word (a stale or zeroed buffer repeats) and every bit
    /// position set about half the time.
    @Test func bufferedSystemRandomLooksUniform() {
        var generator = BufferedSystemRandom()
        let draws = (0..<4096).map { _ in generator.next() }
        #expect(Set(draws).count == draws.count)
        for bit in 0..<64 {
            let ones = draws.filter { $0 >> UInt64(bit) & 1 == 1 }.count
            #expect((1848...2248).contains(ones), "bit \(bit) set \(ones) times of 4096")
        }
    }

    @Test func outputsSitOnTheGridWithinBoundsAndAreLaplace() {
        let mechanism = SnappingLaplace(scale: 0.3, bounds: -6...6)
        #expect(mechanism.granularity == 0.5)
        var generator = SystemRandomNumberGenerator()
        let truth = 1.234_567_89
        var sum = 0.0
        var absolute = 0.0
        let draws = 200_000
        var distinct = Set<Double>()
        for _ in 0..<draws {
            let output = mechanism.noised(truth, using: &generator)
            #expect(output >= -6 && output <= 6)
            // On the grid: the low bits carry nothing about the true value.
            #expect((output / mechanism.granularity).rounded() == output / mechanism.granularity)
            sum += output - truth
            absolute += abs(output - truth)
            distinct.insert(output)
        }
        #expect(abs(sum / Double(draws)) < 0.02, "unbiased")
        // E|Laplace(λ) + rounding to a 0.5 grid| is close to λ plus the rounding's share.
        #expect(abs(absolute / Double(draws) - 0.3) < 0.15)
        #expect(distinct.count < 40, "a few dozen grid points, not a distinct double per draw")
        // Two true values half a grid step apart give outputs on the same grid.
        let other = mechanism.noised(truth + 0.25, using: &generator)
        #expect((other / mechanism.granularity).rounded() == other / mechanism.granularity)
    }

    @Test func uniformCoversTheFullPrecisionRange() {
        var generator = SystemRandomNumberGenerator()
        var smallest = 1.0
        for _ in 0..<100_000 {
            let value = SnappingLaplace.uniformFullPrecision(using: &generator)
            #expect(value > 0 && value <= 1)
            smallest = min(smallest, value)
        }
        #expect(smallest < 1e-3)
    }

    @Test func fingerprintNoiseTouchesOnlyContinuousFeatures() {
        var stats = floatColumn(count: 1000, distinct: 800, min: 2, max: 900)
        stats.numeric.skewness = 3
        let exact = Fingerprint(stats)
        var generator = SystemRandomNumberGenerator()
        let noised = FingerprintNoise(epsilon: 4).noised(exact, rows: 1000, using: &generator)
        for (index, feature) in Fingerprint.schema.enumerated() {
            #expect(feature.range.contains(noised.features[index]))
            if !feature.continuous { #expect(noised.features[index] == exact.features[index], "\(feature.name)") }
        }
        #expect(noised.features != exact.features)
    }

    /// The shares of ε add up to the ε charged to the ledger, follow the declared weights, and
    /// each feature's noise has the scale its share and sensitivity give: sensitivity / ε_i.
    @Test func epsilonIsSplitByWeightAndNoiseFollowsEachShare() {
        let noise = FingerprintNoise(epsilon: 4)
        let shares = noise.epsilonPerFeature
        #expect(abs(shares.reduce(0, +) - 4) < 1e-12)
        let missing = Fingerprint.index("missing")
        let kurtosis = Fingerprint.index("kurtosis")
        let zeros = Fingerprint.index("zeros")
        #expect(abs(shares[missing] / shares[kurtosis] - 2) < 1e-12)
        #expect(abs(shares[zeros] / shares[kurtosis] - 0.5) < 1e-12)
        for (index, feature) in Fingerprint.schema.enumerated() where !feature.continuous { #expect(shares[index] == 0) }

        // Mean absolute noise of a feature well inside its range: about its Laplace scale.
        var stats = floatColumn(count: 50, distinct: 20, min: 1, max: 9)
        stats.missing = 25
        stats.numeric.kurtosis = 6
        let exact = Fingerprint(stats)
        var generator = SystemRandomNumberGenerator()
        var spread = [0.0, 0.0]
        let draws = 20_000
        for _ in 0..<draws {
            let noised = noise.noised(exact, rows: 50, using: &generator)
            spread[0] += abs(noised.features[missing] - exact.features[missing]) / Double(draws)
            spread[1] += abs(noised.features[kurtosis] - exact.features[kurtosis]) / Double(draws)
        }
        // missing: range 4, exact sensitivity 1 row in 50 → scale 4 × (1/50) / ε_missing.
        let missingScale = 4 * (1.0 / 50) / shares[missing]
        #expect(abs(spread[0] / missingScale - 1) < 0.15, "missing: \(spread[0]) against a scale of \(missingScale)")
        // kurtosis: range 5, heuristic sensitivity 10 rows in 50 → scale 5 × (10/50) / ε_kurtosis,
        // less what clamping to the range removes.
        let kurtosisScale = 5 * (10.0 / 50) / shares[kurtosis]
        #expect(spread[1] < kurtosisScale && spread[1] > 0.4 * kurtosisScale, "kurtosis: \(spread[1]) against a scale of \(kurtosisScale)")
    }
}

@Suite("Recommendations and rules")
struct RecommenderTests {
    func numeric(skew: Double, min: Double, missing: UInt64 = 0, outliers: Double = 0) -> Aurora_Profile_V1_ColumnStatistics {
        var stats = Aurora_Profile_V1_ColumnStatistics()
        stats.type = .float
        stats.count = 1000
        stats.missing = missing
        stats.distinctEstimate = 700
        stats.numeric.min = min
        stats.numeric.max = min + 1000
        stats.numeric.skewness = skew
        stats.numeric.outlierRatio = outliers
        return stats
    }

    /// Explanations format numbers without Foundation; they must read exactly as "%.Nf" would.
    @Test func numbersInExplanationsMatchPrintf() {
        var generator = SystemRandomNumberGenerator()
        var values: [Double] = [0, -0.0, 0.125, 0.375, 2.675, 1.005, -0.001, 9.995, 99.95, 99.995, 100.5, 101.5, 1e14 + 0.5, -123.456]
        for _ in 0..<20_000 {
            let magnitude = pow(10, Double.random(in: -4...6, using: &generator))
            values.append(Double.random(in: -magnitude...magnitude, using: &generator))
            values.append((Double(Int.random(in: -100_000...100_000, using: &generator)) + 0.5) / 100)  // ties
        }
        for value in values {
            for decimals in 0...3 {
                #expect(Fingerprint.fixed(value, decimals: decimals) == String(format: "%.\(decimals)f", value), "\(value) with \(decimals) decimals")
            }
        }
    }

    @Test func builtinExplainsWithTheNumbers() {
        let skewed = BuiltinRecommender.suggestions(for: self.numeric(skew: 4.2, min: 0.5))
        #expect(skewed[0].action == .logTransform)
        #expect(skewed[0].source == "builtin:skewed_positive")
        #expect(skewed[0].explanation.contains("skewness is 4.20"))
        #expect(skewed[0].explanation.contains("all values > 0"))
        // Whole sentences.
        #expect(skewed.allSatisfy { $0.explanation.first?.isUppercase == true && $0.explanation.hasSuffix(".") }, "\(skewed.map(\.explanation))")
        // Confidence graded by the evidence.
        let mild = BuiltinRecommender.suggestions(for: self.numeric(skew: 1.2, min: 0.5))[0]
        #expect(mild.action == .logTransform && mild.confidence < skewed[0].confidence, "\(mild.confidence) vs \(skewed[0].confidence)")
        let fewGaps = BuiltinRecommender.suggestions(for: self.numeric(skew: 0.2, min: 0, missing: 40))[0]
        let manyGaps = BuiltinRecommender.suggestions(for: self.numeric(skew: 0.2, min: 0, missing: 400))[0]
        #expect(fewGaps.action == .imputeMean && manyGaps.action == .imputeMean && fewGaps.confidence < manyGaps.confidence)
        #expect(manyGaps.explanation.contains("missing-value flag"), "\(manyGaps.explanation)")
        // Ordered categories are numbered in order, not one-hot encoded.
        var grades = self.column(.categorical, count: 1000, missing: 0, distinct: 5)
        grades.orderedScale = .quality
        let ordinal = BuiltinRecommender.suggestions(for: grades)[0]
        #expect(ordinal.action == .ordinalEncode && ordinal.explanation.contains("quality grades"), "\(ordinal)")
        // Mostly missing: dropped, not filled.
        #expect(BuiltinRecommender.suggestions(for: self.numeric(skew: 0.2, min: 0, missing: 700))[0].action == .dropColumn)
        // A few zeros in an otherwise positive measure are flagged.
        var sizes = self.numeric(skew: 0.3, min: 0)
        sizes.numeric.zeroRatio = 0.002
        sizes.numeric.quantiles = [0, 3.1, 4.7, 5.7, 6.5, 8.0, 8.9]
        let flagged = BuiltinRecommender.suggestions(for: sizes)[0]
        #expect(flagged.explanation.contains("2 zeros (0.2%)") && flagged.explanation.contains("missing values"), "\(flagged.explanation)")
        #expect(skewed.count >= 2, "runners-up")
        #expect(BuiltinRecommender.suggestions(for: self.numeric(skew: 0.1, min: -5))[0].action == .standardScale)
        #expect(BuiltinRecommender.suggestions(for: self.numeric(skew: 2, min: -5))[0].action == .yeoJohnson)
        #expect(BuiltinRecommender.suggestions(for: self.numeric(skew: 0.2, min: 0, missing: 100))[0].action == .imputeMean)
        #expect(BuiltinRecommender.suggestions(for: self.numeric(skew: 0.2, min: 0, outliers: 0.1))[0].action == .robustScale)
        #expect(BuiltinRecommender.suggestions(for: self.column(.empty, count: 10, missing: 10, distinct: 0))[0].action == .dropColumn)
    }

    @Test func treeLeavesAreReadableRules() {
        var examples: [Example] = []
        for index in 0..<40 {
            let skew = Double(index % 10) - 2
            let stats = self.numeric(skew: skew, min: 1)
            examples.append(Example(features: Fingerprint(stats).features, action: skew > 1 ? .yeoJohnson : .keep))
        }
        let rules = DecisionTreeLearner().fit(examples)
        #expect(rules.count == 2)
        let yeo = rules.first { $0.action == .yeoJohnson }!
        #expect(yeo.conditionText.contains("skewness >"), "\(yeo.conditionText)")
        #expect(yeo.agreeing == yeo.support)
        #expect(yeo.matches(Fingerprint(self.numeric(skew: 5, min: 1)).features))
        #expect(!yeo.matches(Fingerprint(self.numeric(skew: 0, min: 1)).features))
        // Leaves are capped.
        let noisy = (0..<200).map { index in Example(features: [Double(index), Double(index * 7 % 13)], action: Action.allCases[index % 5]) }
        #expect(DecisionTreeLearner(maxLeaves: 10).fit(noisy).count <= 10)
    }

    /// Three skewed columns kept, three symmetric ones scaled, none missing anything. The noise
    /// on the missing ratio happens to put the kept ones a hair higher: that split separates the
    /// examples as well as skewness does, but only by chance. The tree must split on skewness, so
    /// a new skewed column with the noise the other way is still kept (a CI run once saw this).
    @Test func equalSplitsGoToTheWidestGapNotToNoise() {
        let missing = Fingerprint.index("missing")
        var examples: [Example] = []
        for (index, skew) in [3.5, 4.0, 4.5, 0.1, -0.2, 0.3].enumerated() {
            var features = Fingerprint(self.numeric(skew: skew, min: 1)).features
            features[missing] = skew > 1 ? 0.0003 + Double(index) * 0.0001 : Double(index) * 0.00001
            examples.append(Example(features: features, action: skew > 1 ? .keep : .standardScale))
        }
        let rules = DecisionTreeLearner().fit(examples)
        var fresh = Fingerprint(self.numeric(skew: 4.2, min: 1)).features
        fresh[missing] = 0
        let matching = rules.filter { $0.matches(fresh) }
        #expect(matching.map(\.action) == [.keep], "\(rules.map(\.conditionText))")
        #expect(!rules.contains { $0.conditionText.contains("missing ratio") }, "\(rules.map(\.conditionText))")
    }

    func column(_ type: Aurora_Profile_V1_ColumnType, count: UInt64, missing: UInt64, distinct: UInt64) -> Aurora_Profile_V1_ColumnStatistics {
        var stats = Aurora_Profile_V1_ColumnStatistics()
        stats.type = type
        stats.count = count
        stats.missing = missing
        stats.distinctEstimate = distinct
        return stats
    }

    @Test func bucketLevelsAreExactFeaturesAndReadAsThresholds() {
        let names = ["missing_level", "distinct_ratio_level", "skewness_level", "outliers_level"]
        let columns = [
            self.numeric(skew: 4.2, min: 0.5, missing: 100, outliers: 0.06),  // m2 s5 o3
            self.numeric(skew: -0.7, min: -5),  // m0 s1 o0
            self.column(.text, count: 20, missing: 19, distinct: 1),
            // The type's name starts with the distinct ratio's letter ("datetime|m1|d2").
            self.column(.date, count: 100, missing: 4, distinct: 30),
        ]
        let expected: [[Double]] = [[2, 3, 5, 3], [0, 3, 1, 0], [4, 4, -1, -1], [1, 2, -1, -1]]
        for (stats, levels) in zip(columns, expected) {
            let fingerprint = Fingerprint(stats)
            #expect(fingerprint.features.count == Fingerprint.schema.count)
            #expect(names.map { fingerprint.features[Fingerprint.index($0)] } == levels, "\(fingerprint.bucket)")
            // Not noised: they carry what the stored bucket key carries, no more.
            var generator = SystemRandomNumberGenerator()
            let noised = FingerprintNoise(epsilon: 0.1).noised(fingerprint, rows: 10, using: &generator)
            #expect(names.map { noised.features[Fingerprint.index($0)] } == levels)
            // A fingerprint stored before the levels existed gets them back from its bucket, and
            // the fine levels estimated from its (here exact) values: the same, or one off where
            // a value sits on an edge and its round trip through the feature's scale does not.
            let old = Array(fingerprint.features.prefix(Fingerprint.index("missing_level")))
            let completed = Fingerprint.completed(old, bucket: fingerprint.bucket)
            let fine = Fingerprint.index("missing_fine")
            #expect(completed.count == fingerprint.features.count)
            #expect(completed.prefix(fine) == fingerprint.features.prefix(fine))
            #expect(zip(completed, fingerprint.features).dropFirst(fine).allSatisfy { abs($0 - $1) <= 1 }, "\(completed.dropFirst(fine))")
            let beforeFine = Array(fingerprint.features.prefix(fine))
            let estimated = Fingerprint.completed(beforeFine, bucket: fingerprint.bucket)
            #expect(estimated.count == fingerprint.features.count)
            #expect(zip(estimated, fingerprint.features).dropFirst(fine).allSatisfy { abs($0 - $1) <= 1 })
        }
        // The fine levels: missing, distinct count, skewness, kurtosis, outliers, zeros, range.
        let fineNames = Fingerprint.fineLevels.map(\.name)
        let expectedFine: [[Double]] = [[3, 10, 13, 0, 4, 0, 3], [0, 10, 4, 0, 0, 0, 3], [9, 0, -1, -1, -1, -1, -1], [2, 7, -1, -1, -1, -1, -1]]
        for (stats, levels) in zip(columns, expectedFine) {
            let fingerprint = Fingerprint(stats)
            #expect(fineNames.map { fingerprint.features[Fingerprint.index($0)] } == levels, "\(fingerprint.bucket)")
            var generator = SystemRandomNumberGenerator()
            let noised = FingerprintNoise(epsilon: 0.1).noised(fingerprint, rows: 10, using: &generator)
            #expect(fineNames.map { noised.features[Fingerprint.index($0)] } == levels)
        }
        #expect(RuleDraft.describe([RuleCondition(feature: Fingerprint.index("skewness_fine"), threshold: 8.5, above: true)]) == "skewness > 0.75")
        #expect(RuleDraft.describe([RuleCondition(feature: Fingerprint.index("distinct_count_level"), threshold: 4.5, above: false)]) == "distinct values ≤ 10")
        #expect(RuleDraft.describe([RuleCondition(feature: Fingerprint.index("kurtosis_level"), threshold: 3.5, above: true)]) == "kurtosis > 7.00")
        #expect(RuleDraft.describe([RuleCondition(feature: Fingerprint.index("range_level"), threshold: 1.5, above: true)]) == "range > 10")
        let skew = Fingerprint.index("skewness_level")
        let missing = Fingerprint.index("missing_level")
        #expect(RuleDraft.describe([RuleCondition(feature: skew, threshold: 3.5, above: true)]) == "skewness > 1.00")
        #expect(RuleDraft.describe([RuleCondition(feature: skew, threshold: 3.5, above: false)]) == "skewness ≤ 1.00 or none")
        #expect(RuleDraft.describe([RuleCondition(feature: skew, threshold: -0.5, above: true)]) == "skewness measured")
        #expect(RuleDraft.describe([RuleCondition(feature: missing, threshold: 1.5, above: true)]) == "missing ratio > 0.05")
        #expect(RuleDraft.describe([RuleCondition(feature: missing, threshold: 0.5, above: false)]) == "missing ratio ≤ 0.00")
        // One bound per quantity, the tightest, whichever features read as it; bounds outside a
        // feature's range say nothing and are left out.
        let ratio = Fingerprint.index("distinct_ratio")
        let ratioLevel = Fingerprint.index("distinct_ratio_level")
        let merged = RuleDraft.describe([
            RuleCondition(feature: ratio, threshold: 1.0, above: false), RuleCondition(feature: ratioLevel, threshold: 1.5, above: false),
            RuleCondition(feature: missing, threshold: 1.5, above: true),
        ])
        #expect(merged == "distinct ratio ≤ 0.10, missing ratio > 0.05", "\(merged)")
        #expect(RuleDraft.describe([RuleCondition(feature: Fingerprint.index("missing"), threshold: -0.15, above: true)]) == "any column")
        // A flag's region around examples that all have it: "all values > 0", not also "some values ≤ 0".
        let positive = Fingerprint.index("all_positive")
        #expect(RuleDraft.describe([RuleCondition(feature: positive, threshold: 0.5, above: true), RuleCondition(feature: positive, threshold: 1.5, above: false)]) == "all values > 0")
    }

    @Test func learnedRuleWinsOnlyWhenMoreConfident() {
        let stats = self.numeric(skew: 0.1, min: -5)
        func rule(agreeing: Int, support: Int) -> ActiveRule {
            ActiveRule(id: 7, scope: "user", domain: "", conditions: [], bucket: nil, action: .keep,
                       alpha: Double(1 + agreeing), beta: Double(1 + support - agreeing), support: support, conditionText: "any column")
        }
        let weak = Recommender.recommend(stats, domain: "", rules: [rule(agreeing: 3, support: 6)])
        #expect(weak.chosen.action == .standardScale)
        #expect(weak.alternatives.contains { $0.source == "learned:7" })
        let strong = Recommender.recommend(stats, domain: "", rules: [rule(agreeing: 9, support: 9)])
        #expect(strong.chosen.action == .keep)
        #expect(strong.chosen.source == "learned:7")
        #expect(strong.chosen.explanation.contains("your choice in 9 of 9 such columns"))
        #expect(strong.alternatives.first?.action == .standardScale)
    }

    @Test func aUsersRecordLowersABuiltinRuleButNeverRaisesIt() {
        let stats = self.numeric(skew: 0.1, min: -5)  // builtin:standard, 0.7
        let weak = ActiveRule(id: 7, scope: "user", domain: "", conditions: [], bucket: nil, action: .keep, alpha: 4, beta: 4, support: 6, conditionText: "any column")
        // Without a record, or with one that agrees: the default confidence, which a 0.5 rule does not beat.
        for records in [[:], ["builtin:standard": BuiltinRecord(agreeing: 8, total: 8)]] {
            let decision = Recommender.recommend(stats, domain: "", rules: RuleBook([weak], builtinRecords: records))
            #expect(decision.chosen.source == "builtin:standard" && decision.chosen.confidence == 0.7)
            #expect(decision.builtin == BuiltinChoice(source: "builtin:standard", action: .standardScale))
        }
        // Corrected in 7 of 8 columns: (0.7 × 4 + 1) / 12 ≈ 0.32, below the learned rule's 0.5.
        let corrected = Recommender.recommend(stats, domain: "", rules: RuleBook([weak], builtinRecords: ["builtin:standard": BuiltinRecord(agreeing: 1, total: 8)]))
        #expect(corrected.chosen.source == "learned:7")
        let lowered = corrected.alternatives.first { $0.source == "builtin:standard" }
        #expect(lowered.map { abs($0.confidence - 3.8 / 12) < 1e-12 } == true)
        #expect(lowered?.explanation.hasSuffix("You agreed with this rule in 1 of 8 such columns.") == true)
        // With no learned rule and no record of what the user chose instead, the built-in stays,
        // with its lowered confidence: never an untested runner-up.
        let alone = Recommender.recommend(stats, domain: "", rules: RuleBook([], builtinRecords: ["builtin:standard": BuiltinRecord(agreeing: 0, total: 20)]))
        #expect(alone.chosen.action == .standardScale && alone.chosen.confidence < 0.2)
        #expect(alone.builtin.action == .standardScale)
        // With one, the user's own choice takes over (Beta posterior (1 + 15) / (2 + 20)); an
        // action that does not apply to the column (a log of negative numbers) is never it.
        let choices: [Action: Int] = [.robustScale: 15, .logTransform: 17, .minmaxScale: 1]
        let chosen = Recommender.recommend(stats, domain: "", rules: RuleBook([], builtinRecords: ["builtin:standard": BuiltinRecord(agreeing: 0, total: 20, choices: choices)]))
        #expect(chosen.chosen.action == .robustScale && chosen.chosen.source == "corrected:standard", "\(chosen.chosen)")
        #expect(abs(chosen.chosen.confidence - 16.0 / 22) < 1e-12)
        #expect(!chosen.alternatives.contains { $0.action == .logTransform })
        // Records count, per built-in source, the columns whose choice was the built-in action.
        let records = BuiltinRecord.records([
            (BuiltinChoice(source: "builtin:standard", action: .standardScale), .standardScale),
            (BuiltinChoice(source: "builtin:standard", action: .standardScale), .robustScale),
            (BuiltinChoice(source: "builtin:outliers", action: .robustScale), .clipOutliers),
        ])
        #expect(records == [
            "builtin:standard": BuiltinRecord(agreeing: 1, total: 2, choices: [.robustScale: 1]),
            "builtin:outliers": BuiltinRecord(agreeing: 0, total: 1, choices: [.clipOutliers: 1]),
        ])
        let record = BuiltinRecord(agreeing: 0, total: 5, choices: [.robustScale: 3, .logTransform: 2])
        #expect(record.choicesText == "log_transform:2,robust_scale:3")
        #expect(BuiltinRecord.choices(from: record.choicesText + ",bogus:4,keep:x,:") == record.choices)
    }
}
