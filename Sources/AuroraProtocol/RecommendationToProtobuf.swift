import AuroraLearning
import AuroraStatistics

// A recommender's decision to its wire message (learning.proto). The only place that writes it:
// the learning-service for every analysis, the gateway for built-in answers when the
// learning-service cannot be reached.

extension Aurora_Learning_V1_Recommendation {
    /// Column `index`'s recommendation: the chosen action, its steps (`stats` decides which
    /// preparation steps go around it) and the alternatives. `id` is 0 when nothing was logged.
    public init(_ decision: Recommender.Decision, stats: ColumnStatistics, index: Int, id: UInt64) {
        self.init()
        self.columnIndex = UInt32(index)
        self.action = decision.chosen.action.rawValue
        self.confidence = decision.chosen.confidence
        self.source = decision.chosen.source
        self.explanation = decision.chosen.explanation
        self.recommendationID = id
        self.steps = Pipeline.steps(around: decision.chosen, for: stats).map { suggestion in
            var step = Aurora_Learning_V1_Step()
            step.action = suggestion.action.rawValue
            step.confidence = suggestion.confidence
            step.source = suggestion.source
            step.explanation = suggestion.explanation
            return step
        }
        self.alternatives = decision.alternatives.map { suggestion in
            var alternative = Aurora_Learning_V1_Alternative()
            alternative.action = suggestion.action.rawValue
            alternative.confidence = suggestion.confidence
            alternative.source = suggestion.source
            return alternative
        }
    }
}
