import AuroraStatistics

/// A column's preparation as a chain of steps around the recommended action: the gaps filled
/// before a transform that cannot take them, and the transform that follows a fill. The
/// recommended action (learned, corrected or built-in) is the step feedback speaks of; the
/// steps around it come from the built-in rules, each with its own confidence and reason.
public enum Pipeline {
    static let filling: Set<Action> = [.imputeMean, .imputeMedian, .imputeMode, .imputeConstant]

    /// The steps in order; `main` among them. A dropped column or a target has no other step.
    public static func steps(around main: Suggestion, for stats: ColumnStatistics) -> [Suggestion] {
        guard main.action != .dropColumn, main.source != "target" else { return [main] }
        var steps: [Suggestion] = []
        if stats.missing > 0 && !Self.filling.contains(main.action) {
            steps.append(Self.fill(stats))
        }
        steps.append(main)
        if Self.filling.contains(main.action), let next = Self.afterFilling(stats) {
            steps.append(next)
        }
        return steps
    }

    /// How to fill the gaps of a column whose recommended action needs complete values.
    static func fill(_ stats: ColumnStatistics) -> Suggestion {
        let missing = stats.missingRatio
        let share = BuiltinRecommender.percent(missing)
        let indicator = missing > 0.3 ? " With this many gaps, add a missing-value indicator beside it: missingness may carry signal." : ""
        let confidence = BuiltinRecommender.graded(0.5, 0.7, excess: missing, span: 0.2)
        func make(_ action: Action, _ why: String) -> Suggestion {
            Suggestion(action: action, confidence: confidence, source: "builtin:fill_first", explanation: BuiltinRecommender.sentence(why) + indicator)
        }
        switch stats.kind {
        case .integer, .float:
            let skewed = abs(stats.numeric?.skewness ?? 0) > 1
            return make(skewed ? .imputeMedian : .imputeMean, "first fill the \(share) missing values with the \(skewed ? "median (the column is skewed)" : "mean")")
        case .text:
            return make(.imputeConstant, "first fill the \(share) missing values with an empty text")
        default:
            return make(.imputeMode, "first fill the \(share) missing values with the most frequent value")
        }
    }

    /// What the column needs once filled: the built-in rules on its complete values.
    static func afterFilling(_ stats: ColumnStatistics) -> Suggestion? {
        var complete = stats
        complete.count = stats.nonMissing
        complete.missing = 0
        let next = BuiltinRecommender.suggestions(for: complete).first {
            !Self.filling.contains($0.action) && $0.action != .dropColumn && $0.action != .keep && ActionApplicability.applies($0.action, to: complete)
        }
        return next.map { suggestion in
            var step = suggestion
            step.explanation = "Then, once filled: " + suggestion.explanation.prefix(1).lowercased() + suggestion.explanation.dropFirst()
            return step
        }
    }
}
