import AuroraStatistics

/// Where each action applies: the column kinds and conditions under which a data scientist would
/// accept it at all. Every source (built-in, learned, shared) is filtered by it, so a rule learned
/// from numbers never recommends a log for categories, and one-hot never meets ten thousand levels.
public enum ActionApplicability {
    /// One-hot encoding makes one column per level: beyond this many it is hashing's job.
    public static let maximumOneHotLevels = 100
    /// Category encoders (ordinal, target, frequency) on numbers need few distinct values.
    public static let maximumNumericLevels = 1_000

    /// Nil when `action` may be recommended for a column with `stats`; otherwise why not, as a
    /// clause ("log_transform needs values ≥ 0; the minimum is -3.2").
    public static func refusal(_ action: Action, for stats: ColumnStatistics) -> String? {
        let kind = stats.kind
        let numbers = kind.isNumeric && stats.numeric != nil
        let levels = stats.distinct
        func needsNumbers() -> String? { numbers ? nil : "\(action.rawValue) needs numbers; the column is \(kind.rawValue)" }
        func needsMissing() -> String? { stats.missing > 0 ? nil : "\(action.rawValue) needs missing cells; the column has none" }
        switch action {
        case .keep, .dropColumn:
            return nil
        case .standardScale, .minmaxScale, .robustScale, .quantileTransform, .yeoJohnson, .clipOutliers:
            return needsNumbers()
        case .logTransform:
            if let refusal = needsNumbers() { return refusal }
            let minimum = stats.numeric?.min ?? 0
            return minimum >= 0 ? nil : "log_transform needs values ≥ 0; the minimum is \(Fingerprint.format(minimum))"
        case .imputeMean, .imputeMedian:
            return needsNumbers() ?? needsMissing()
        case .imputeMode, .imputeConstant:
            return kind == .empty ? "\(action.rawValue) needs values to fill from; the column is empty" : needsMissing()
        case .oneHotEncode:
            if kind == .empty || kind == .identifier {
                return "one_hot_encode needs categories; the column is \(kind.rawValue)"
            }
            return levels <= Self.maximumOneHotLevels
                ? nil : "one_hot_encode needs at most \(Self.maximumOneHotLevels) levels; the column has \(levels)"
        case .ordinalEncode, .targetEncode, .frequencyEncode, .hashEncode:
            switch kind {
            case .empty: return "\(action.rawValue) needs values; the column is empty"
            case .date, .datetime: return "\(action.rawValue) needs categories; the column holds dates (datetime_features)"
            case .integer, .float:
                return levels <= Self.maximumNumericLevels
                    ? nil : "\(action.rawValue) needs categories; the column has \(levels) distinct numbers"
            case .boolean, .categorical, .text, .identifier:
                return nil
            }
        case .datetimeFeatures:
            return kind == .date || kind == .datetime ? nil : "datetime_features needs dates; the column is \(kind.rawValue)"
        case .textTfidf:
            return kind == .text || kind == .categorical ? nil : "text_tfidf needs text; the column is \(kind.rawValue)"
        }
    }

    /// What `action` needs of a column, without the column's own figures (said where only the
    /// refusal, not the statistics, is kept).
    public static func requirement(of action: Action) -> String {
        switch action {
        case .keep, .dropColumn: "nothing"
        case .standardScale, .minmaxScale, .robustScale, .quantileTransform, .yeoJohnson, .clipOutliers: "numbers"
        case .logTransform: "numbers, none below 0"
        case .imputeMean, .imputeMedian: "numbers with missing cells"
        case .imputeMode, .imputeConstant: "missing cells"
        case .oneHotEncode: "categories, at most \(Self.maximumOneHotLevels) levels"
        case .ordinalEncode, .targetEncode, .frequencyEncode, .hashEncode: "categories (or at most \(Self.maximumNumericLevels) distinct numbers)"
        case .datetimeFeatures: "dates"
        case .textTfidf: "text"
        }
    }

    public static func applies(_ action: Action, to stats: ColumnStatistics) -> Bool {
        Self.refusal(action, for: stats) == nil
    }
}
