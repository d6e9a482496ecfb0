import AuroraLearning
import AuroraProtocol
import AuroraStatistics

// These tests describe columns as the wire does (the messages a service receives); the domain
// code takes `ColumnStatistics`, converted as the learning-service converts them.

extension Fingerprint {
    init(_ message: Aurora_Profile_V1_ColumnStatistics) { self.init(ColumnStatistics(message)) }
}

extension BuiltinRecommender {
    static func suggestions(for message: Aurora_Profile_V1_ColumnStatistics) -> [Suggestion] {
        Self.suggestions(for: ColumnStatistics(message))
    }
}

extension Recommender {
    static func recommend(_ message: Aurora_Profile_V1_ColumnStatistics, domain: String, rules: [ActiveRule]) -> Decision {
        Self.recommend(ColumnStatistics(message), domain: domain, rules: rules)
    }

    static func recommend(_ message: Aurora_Profile_V1_ColumnStatistics, domain: String, rules: RuleBook) -> Decision {
        Self.recommend(ColumnStatistics(message), domain: domain, rules: rules)
    }
}
