import AuroraProtocol
import Foundation

/// A learned rule as the recommender uses it.
public struct ActiveRule: Sendable, Equatable {
    public var id: Int64
    /// "user", "user_domain" or "global".
    public var scope: String
    public var domain: String
    public var conditions: [RuleCondition]
    /// Global rules match a bucket instead of conditions.
    public var bucket: String?
    public var action: Action
    public var alpha: Double
    public var beta: Double
    public var support: Int
    public var conditionText: String

    public init(id: Int64, scope: String, domain: String, conditions: [RuleCondition], bucket: String?, action: Action, alpha: Double, beta: Double, support: Int, conditionText: String) {
        self.id = id
        self.scope = scope
        self.domain = domain
        self.conditions = conditions
        self.bucket = bucket
        self.action = action
        self.alpha = alpha
        self.beta = beta
        self.support = support
        self.conditionText = conditionText
    }

    public var confidence: Double { self.alpha / (self.alpha + self.beta) }
    public var agreeing: Int { Int((self.alpha - 1).rounded()) }

    func matches(_ fingerprint: Fingerprint) -> Bool {
        if let bucket { return bucket == fingerprint.bucket }
        return self.conditions.allSatisfy { $0.holds(fingerprint.features) }
    }

    public var description: String {
        "\(self.conditionText) → \(self.action.rawValue), \(self.agreeing) of \(self.support) accepted"
    }
}

/// Combines the built-in suggestion with the user's learned rules: the most specific matching
/// learned rule (user+domain, then user, then global) wins only when its confidence is higher.
public enum Recommender {
    public static func recommend(_ stats: Aurora_Profile_V1_ColumnStatistics, domain: String, rules: [ActiveRule]) -> (chosen: Suggestion, alternatives: [Suggestion], ruleID: Int64?, bucket: String) {
        let fingerprint = Fingerprint(stats)
        let builtin = BuiltinRecommender.suggestions(for: stats)
        var learned: [(Suggestion, Int64)] = []
        for scope in ["user_domain", "user", "global"] {
            for rule in rules where rule.scope == scope && (scope != "user_domain" || rule.domain == domain) && rule.matches(fingerprint) {
                let suggestion = Suggestion(
                    action: rule.action, confidence: rule.confidence, source: "learned:\(rule.id)",
                    explanation: "your rule \(rule.id)\(scope == "user_domain" ? " for \(domain)" : scope == "global" ? " (shared by several users)" : ""): \(rule.description)")
                learned.append((suggestion, rule.id))
                break
            }
        }
        var candidates = builtin
        var ruleID: Int64?
        if let best = learned.first, best.0.confidence > builtin[0].confidence {
            candidates.insert(best.0, at: 0)
            ruleID = best.1
            if best.0.action != builtin[0].action {
                candidates[0].explanation += "; instead of \(builtin[0].action.rawValue) (\(builtin[0].explanation))"
            }
        } else if let best = learned.first {
            candidates.insert(best.0, at: 1)
        }
        // Alternatives: the rest, best first, one per action.
        var seen: Set<Action> = [candidates[0].action]
        var alternatives: [Suggestion] = []
        for suggestion in candidates.dropFirst() where !seen.contains(suggestion.action) {
            seen.insert(suggestion.action)
            alternatives.append(suggestion)
        }
        return (candidates[0], alternatives, ruleID, fingerprint.bucket)
    }
}
