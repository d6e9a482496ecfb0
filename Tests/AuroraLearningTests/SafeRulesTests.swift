@testable import AuroraLearning
import AuroraStatistics
import Testing

/// Issue 21: no source recommends an action that does not apply, and a learned rule covers only
/// the region its own examples occupy.
@Suite("Safe rules")
struct SafeRulesTests {
    static func numbers(_ kind: ColumnKind = .float, min: Double, max: Double, skew: Double, missing: Int = 0, distinct: Int = 700) -> ColumnStatistics {
        var summary = NumericSummary.zero
        summary.min = min
        summary.max = max
        summary.mean = (min + max) / 2
        summary.skewness = skew
        summary.zeroRatio = min == 0 ? 0.1 : 0
        summary.negativeRatio = min < 0 ? 0.3 : 0
        return ColumnStatistics(kind: kind, count: 1000, missing: missing, distinct: distinct, numeric: summary)
    }

    static func categories(_ distinct: Int, missing: Int = 0) -> ColumnStatistics {
        ColumnStatistics(kind: .categorical, count: 344, missing: missing, distinct: distinct, text: TextSummary(minLength: 4, maxLength: 9, meanLength: 6), topValueRatio: 0.44)
    }

    static func rules(from examples: [(ColumnStatistics, Action)]) -> [ActiveRule] {
        let drafts = DecisionTreeLearner().fit(examples.map { Example(features: Fingerprint($0.0).features, action: $0.1) })
        return drafts.enumerated().map { index, draft in
            ActiveRule(
                id: Int64(index + 1), scope: "user", domain: "", conditions: draft.allConditions, path: draft.conditions, bucket: nil, action: draft.action,
                alpha: draft.alpha, beta: draft.beta, support: draft.support, conditionText: draft.fullText)
        }
    }

    /// A user who only corrects: the built-in "standard" rule was wrong for them five times of
    /// five (they chose robust_scale), and a new column lies outside the region of those
    /// examples. With the built-in demoted that far, the tree leaf holding the column decides,
    /// said as such; for a user whose built-in was right, the built-in stays.
    @Test func aFailedBuiltinGivesWayToTheNearestRule() {
        // The leaf holds every numeric column; its examples had no negative values.
        let negative = RuleCondition(feature: Fingerprint.index("non_negative"), threshold: 0.5, above: true)
        let rules = [ActiveRule(
            id: 7, scope: "user", domain: "", conditions: [negative], path: [], bucket: nil, action: .robustScale, alpha: 6, beta: 1, support: 5,
            conditionText: RuleDraft.describe([negative]))]
        let outside = Self.numbers(min: -5000, max: 80_000, skew: 0.1, distinct: 990)
        #expect(Recommender.recommend(outside, domain: "", rules: RuleBook(rules)).ruleID == nil, "the column lies outside the rule's region")
        let failed = BuiltinRecord(agreeing: 0, total: 5, choices: [.robustScale: 2, .minmaxScale: 2, .keep: 1])
        let decision = Recommender.recommend(outside, domain: "", rules: RuleBook(rules, builtinRecords: ["builtin:standard": failed]))
        #expect(decision.chosen.action == .robustScale && decision.chosen.explanation.contains("nearest of your rules"), "\(decision.chosen)")
        let trusted = BuiltinRecord(agreeing: 9, total: 10, choices: [.robustScale: 1])
        let kept = Recommender.recommend(outside, domain: "", rules: RuleBook(rules, builtinRecords: ["builtin:standard": trusted]))
        #expect(kept.chosen.action == .standardScale, "\(kept.chosen)")
    }

    /// A recommendation is a chain: the gaps filled before a transform that cannot take them,
    /// and after a fill, what the complete column needs. Each step says why.
    @Test func recommendationsArePipelines() {
        var skewed = Self.numbers(min: 0.5, max: 900, skew: 3.1, missing: 200)
        skewed.numeric!.zeroRatio = 0
        let filled = Recommender.recommend(skewed, domain: "", rules: RuleBook([]))
        let steps = Pipeline.steps(around: filled.chosen, for: skewed)
        #expect(steps.map(\.action) == [.imputeMedian, .logTransform], "\(steps)")
        #expect(steps[1].explanation.hasPrefix("Then, once filled:"), "\(steps[1].explanation)")
        // A learned scaling on a column with a few gaps: the fill comes first.
        let gaps = Self.numbers(min: 1, max: 90, skew: 0.2, missing: 5)
        let scaled = Pipeline.steps(around: Suggestion(action: .robustScale, confidence: 0.8, source: "learned:4", explanation: "Your rule 4."), for: gaps)
        #expect(scaled.map(\.action) == [.imputeMean, .robustScale] && scaled[0].source == "builtin:fill_first", "\(scaled)")
        // Heavy gaps in categories: filled, with an indicator suggested.
        let sparse = Self.categories(5, missing: 140)
        let encoded = Pipeline.steps(around: Suggestion(action: .oneHotEncode, confidence: 0.7, source: "learned:5", explanation: "Your rule 5."), for: sparse)
        #expect(encoded.map(\.action) == [.imputeMode, .oneHotEncode] && encoded[0].explanation.contains("missing-value indicator"), "\(encoded)")
        // A dropped column has nothing more to do.
        #expect(Pipeline.steps(around: Suggestion(action: .dropColumn, confidence: 0.9, source: "builtin:empty", explanation: "Empty."), for: sparse).count == 1)
    }

    /// The report's scenario: one numeric column corrected to log_transform in each of three
    /// files, nothing accepted. The rule is for numeric columns only; categories, identifiers,
    /// negative numbers and dates keep the built-in recommendation, and no action recommended
    /// anywhere (chosen or alternative) fails to apply.
    @Test func threeLogCorrectionsDoNotMakeARuleForEveryColumn() {
        let corrected = [
            Self.numbers(min: 0.006, max: 89, skew: 5.2), Self.numbers(min: 1.2, max: 3000, skew: 2.4), Self.numbers(.integer, min: 3, max: 711, skew: 0.7),
        ]
        let rules = Self.rules(from: corrected.map { ($0, .logTransform) })
        #expect(rules.count == 1)
        // Numeric columns like the examples: their distinct counts and skewness, with a margin.
        #expect(rules[0].conditionText == "numeric columns, distinct values > 56, distinct values ≤ 8499, skewness > -0.95, skewness ≤ 19.6", "\(rules[0].conditionText)")
        #expect(rules[0].confidence == 0.8)
        let others: [ColumnStatistics] = [
            Self.categories(3), Self.categories(2, missing: 11), Self.categories(200),
            ColumnStatistics(kind: .identifier, count: 53_940, missing: 0, distinct: 53_940, numeric: Self.numbers(min: 1, max: 53_940, skew: 0).numeric),
            Self.numbers(min: -40, max: 60, skew: 1.7), Self.numbers(min: 0, max: 31, skew: 3),
            ColumnStatistics(kind: .date, count: 500, missing: 0, distinct: 480, date: DateSummary(minUnix: 0, maxUnix: 1_000_000_000, format: "%Y-%m-%d", hasTime: false)),
            ColumnStatistics(kind: .text, count: 500, missing: 0, distinct: 499, text: TextSummary(minLength: 20, maxLength: 900, meanLength: 180)),
        ]
        for stats in others {
            let decision = Recommender.recommend(stats, domain: "", rules: RuleBook(rules))
            for suggestion in [decision.chosen] + decision.alternatives {
                #expect(ActionApplicability.applies(suggestion.action, to: stats), "\(stats.kind): \(suggestion)")
            }
            if stats.kind != .float || stats.numeric!.min < 0 {
                #expect(decision.ruleID == nil, "\(stats.kind) min \(stats.numeric?.min ?? 0): \(decision.chosen)")
            }
        }
        // The identifier is still dropped; the zeros column is logged as log(1 + x), and says so.
        #expect(Recommender.recommend(others[3], domain: "", rules: RuleBook(rules)).chosen.action == .dropColumn)
        let zeros = Recommender.recommend(others[5], domain: "", rules: RuleBook(rules)).chosen
        #expect(zeros.action == .logTransform && zeros.explanation.contains("log is taken of 1 + x"), "\(zeros)")
    }

    /// A tested feature bounds the rule to the observed range of its examples (and a margin).
    @Test func aRuleStaysWithinTheRangeOfItsExamples() {
        var examples: [(ColumnStatistics, Action)] = []
        for skew in [1.5, 2.0, 2.5, 3.0] { examples.append((Self.numbers(min: 1, max: 100, skew: skew), .logTransform)) }
        for skew in [-0.2, 0.0, 0.2, 0.3] { examples.append((Self.numbers(min: 1, max: 100, skew: skew), .standardScale)) }
        let rules = Self.rules(from: examples)
        let log = rules.first { $0.action == .logTransform }
        #expect(log != nil && log!.conditionText.contains("skewness >") && log!.conditionText.contains("skewness ≤"), "\(rules.map(\.conditionText))")
        #expect(Recommender.recommend(Self.numbers(min: 1, max: 100, skew: 2.2), domain: "", rules: RuleBook(rules)).chosen.action == .logTransform)
        // Far beyond anything the user showed: the built-in decides.
        let far = Recommender.recommend(Self.numbers(min: 1, max: 100, skew: 40), domain: "", rules: RuleBook(rules))
        #expect(far.ruleID == nil, "\(far.chosen)")
    }

    @Test func everyActionKnowsWhereItApplies() {
        let negative = Self.numbers(min: -3.2, max: 10, skew: 0.1)
        #expect(ActionApplicability.refusal(.logTransform, for: negative) == "log_transform needs values ≥ 0; the minimum is -3.20")
        #expect(ActionApplicability.refusal(.imputeMedian, for: negative) == "impute_median needs missing cells; the column has none")
        #expect(ActionApplicability.applies(.imputeMedian, to: Self.numbers(min: 0, max: 1, skew: 0, missing: 3)))
        #expect(!ActionApplicability.applies(.standardScale, to: Self.categories(4)))
        #expect(!ActionApplicability.applies(.oneHotEncode, to: Self.categories(5000)))
        #expect(ActionApplicability.applies(.oneHotEncode, to: Self.categories(12)))
        #expect(!ActionApplicability.applies(.datetimeFeatures, to: Self.categories(12)))
        #expect(!ActionApplicability.applies(.textTfidf, to: negative))
        for action in Action.allCases where action != .keep && action != .dropColumn {
            #expect(!ActionApplicability.applies(action, to: ColumnStatistics(kind: .empty, count: 10, missing: 10, distinct: 0)))
        }
        // Every built-in suggestion, for every kind of column here, applies.
        let columns = [negative, Self.numbers(min: 0, max: 1, skew: 0), Self.numbers(min: 2, max: 9, skew: 4, missing: 40), Self.categories(3), Self.categories(300)]
        for stats in columns {
            for suggestion in BuiltinRecommender.suggestions(for: stats) {
                #expect(ActionApplicability.applies(suggestion.action, to: stats), "\(suggestion) for \(stats.kind)")
            }
        }
    }
}
