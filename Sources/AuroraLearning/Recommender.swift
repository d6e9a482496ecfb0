import AuroraStatistics
import Foundation

/// A learned rule as the recommender uses it.
public struct ActiveRule: Sendable, Equatable {
    public var id: Int64
    /// "user", "user_domain" or "global".
    public var scope: String
    public var domain: String
    public var conditions: [RuleCondition]
    /// The tree path alone (`conditions` without the region of the rule's own examples): where
    /// the rule's leaf reaches. Used only when the built-in rule has failed this user.
    public var path: [RuleCondition]
    /// Global rules match a bucket instead of conditions.
    public var bucket: String?
    public var action: Action
    public var alpha: Double
    public var beta: Double
    public var support: Int
    public var conditionText: String

    public init(
        id: Int64, scope: String, domain: String, conditions: [RuleCondition], path: [RuleCondition]? = nil, bucket: String?, action: Action,
        alpha: Double, beta: Double, support: Int, conditionText: String
    ) {
        self.id = id
        self.scope = scope
        self.domain = domain
        self.conditions = conditions
        self.path = path ?? conditions
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
        "\(self.conditionText) → \(self.action.rawValue), your choice in \(self.agreeing) of \(self.support) such columns"
    }
}

/// What the built-in rules would recommend for a column, whatever was recommended: feedback
/// keeps it, so that each user's record with each built-in rule can be counted.
public struct BuiltinChoice: Sendable, Equatable {
    /// "builtin:outliers"
    public var source: String
    public var action: Action

    public init(source: String, action: Action) {
        self.source = source
        self.action = action
    }

    /// Stored rows hold the two as text; nil when either is missing (a row stored before they
    /// were kept) or names no action.
    public init?(source: String?, action: String?) {
        guard let source, let action = action.flatMap(Action.init(rawValue:)) else { return nil }
        self.init(source: source, action: action)
    }

    /// The built-in rules' first suggestion.
    public init(_ top: Suggestion) {
        self.init(source: top.source, action: top.action)
    }

    public init(_ stats: ColumnStatistics) {
        self.init(BuiltinRecommender.suggestions(for: stats)[0])
    }
}

/// How often a built-in rule's action was what this user chose, over the columns of their
/// feedback where that rule would have made the recommendation, and what they chose instead.
public struct BuiltinRecord: Sendable, Equatable {
    public var agreeing: Int
    public var total: Int
    /// The actions chosen where the user disagreed, with how often.
    public var choices: [Action: Int]

    public init(agreeing: Int, total: Int, choices: [Action: Int] = [:]) {
        self.agreeing = agreeing
        self.total = total
        self.choices = choices
    }

    /// The default confidence counts as this many columns of evidence.
    public static let priorWeight = 4.0

    /// The rule's confidence for this user: the default, moved towards the user's record by a
    /// Beta update, and never above the default. A user who keeps correcting a built-in rule
    /// lowers it, so a learned rule with modest evidence outranks it; agreement does not raise it,
    /// because it says nothing about the corner where a learned rule disagrees.
    public func confidence(default value: Double) -> Double {
        min(value, (value * Self.priorWeight + Double(self.agreeing)) / (Self.priorWeight + Double(self.total)))
    }

    /// A choice counts once the user made it this often: as much evidence as a learned rule needs.
    public static let minimumChoices = 3
    public static let preferenceThreshold = 0.7

    /// What the user chose most often instead (at least `minimumChoices` times, with a Beta
    /// posterior of choosing it in such a column above `preferenceThreshold`), among the actions
    /// that apply to `stats`. A plurality, or a bare majority, is no preference: the columns a
    /// built-in rule lumps together may have had different answers for different reasons, which
    /// the user's tree tells apart better (simulated corrections-only users: a 0.5 threshold sent
    /// 39% of such columns to the wrong choice).
    public func preferredChoice(for stats: ColumnStatistics) -> (action: Action, count: Int, confidence: Double)? {
        let applicable = self.choices.filter { $0.value >= Self.minimumChoices && ActionApplicability.applies($0.key, to: stats) }
        guard let best = applicable.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key.rawValue > $1.key.rawValue }) else { return nil }
        let confidence = (1 + Double(best.value)) / (2 + Double(self.total))
        guard confidence > Self.preferenceThreshold else { return nil }
        return (best.key, best.value, confidence)
    }

    /// Per built-in source ("builtin:outliers"), the record over `examples`: the built-in source
    /// and action each had, and the action the user chose.
    public static func records(_ examples: [(builtin: BuiltinChoice, accepted: Action)]) -> [String: BuiltinRecord] {
        var records: [String: BuiltinRecord] = [:]
        for example in examples {
            records[example.builtin.source, default: BuiltinRecord(agreeing: 0, total: 0)].total += 1
            if example.builtin.action == example.accepted {
                records[example.builtin.source]!.agreeing += 1
            } else {
                records[example.builtin.source]!.choices[example.accepted, default: 0] += 1
            }
        }
        return records
    }

    /// The choices as stored: "log_transform:3,robust_scale:1" (sorted by action).
    public var choicesText: String {
        self.choices.filter { $0.value > 0 }.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue):\($0.value)" }.joined(separator: ",")
    }

    /// Reads `choicesText` back; unknown actions and malformed parts are skipped.
    public static func choices(from text: String) -> [Action: Int] {
        var choices: [Action: Int] = [:]
        for part in text.split(separator: ",") {
            let fields = part.split(separator: ":")
            guard fields.count == 2, let action = Action(rawValue: String(fields[0])), let count = Int(fields[1]), count > 0 else { continue }
            choices[action] = count
        }
        return choices
    }
}

/// A user's active rules indexed the way the recommender looks them up: per domain, the user's
/// own, and the cross-user ones by fingerprint bucket. Built once per rule-cache load instead of
/// scanning every rule with string comparisons for every column. With them, the user's record
/// with each built-in rule.
public struct RuleBook: Sendable {
    var domainRules: [String: [ActiveRule]] = [:]
    var userRules: [ActiveRule] = []
    var globalRules: [String: ActiveRule] = [:]
    var builtinRecords: [String: BuiltinRecord] = [:]

    /// The same rules with one domain's known by another name: the store keeps domains as
    /// pseudonyms, explanations name them as the user did.
    public func naming(domain stored: String, as name: String) -> RuleBook {
        guard stored != name, let rules = self.domainRules[stored] else { return self }
        var book = self
        book.domainRules[stored] = nil
        book.domainRules[name] = rules.map { rule in
            var named = rule
            named.domain = name
            return named
        }
        return book
    }

    /// Keeps the order of `rules` within each scope: the first matching rule of a scope wins.
    public init(_ rules: [ActiveRule], builtinRecords: [String: BuiltinRecord] = [:]) {
        self.builtinRecords = builtinRecords
        for rule in rules {
            switch rule.scope {
            case "user_domain": self.domainRules[rule.domain, default: []].append(rule)
            case "user": self.userRules.append(rule)
            case "global":
                if let bucket = rule.bucket, self.globalRules[bucket] == nil { self.globalRules[bucket] = rule }
            default: continue
            }
        }
    }

    /// The first matching rule of each scope, most specific first, with how to name its scope.
    func matching(_ fingerprint: Fingerprint, domain: String) -> [(rule: ActiveRule, scopeText: String)] {
        var found: [(rule: ActiveRule, scopeText: String)] = []
        if let rule = self.domainRules[domain]?.first(where: { $0.matches(fingerprint) }) { found.append((rule, " for \(domain)")) }
        if let rule = self.userRules.first(where: { $0.matches(fingerprint) }) { found.append((rule, "")) }
        if let rule = self.globalRules[fingerprint.bucket] { found.append((rule, " (shared by several users)")) }
        return found
    }

    /// The user's rule (for the domain first) whose tree leaf holds the column, region aside: the
    /// learner's best guess where none of the user's examples lie.
    func nearest(_ fingerprint: Fingerprint, domain: String) -> (rule: ActiveRule, scopeText: String)? {
        if let rule = self.domainRules[domain]?.first(where: { $0.bucket == nil && $0.path.allSatisfy { $0.holds(fingerprint.features) } }) {
            return (rule, " for \(domain)")
        }
        return self.userRules.first { $0.bucket == nil && $0.path.allSatisfy { $0.holds(fingerprint.features) } }.map { ($0, "") }
    }
}

/// Combines the built-in suggestion with the user's learned rules: the most specific matching
/// learned rule (user+domain, then user, then global) wins only when its confidence is higher.
public enum Recommender {
    public typealias Decision = (chosen: Suggestion, alternatives: [Suggestion], ruleID: Int64?, bucket: String, builtin: BuiltinChoice)

    /// The column a model will predict: encoded for the model's output, never treated as a
    /// feature (no learned rule, no feature transform). Classes become integer labels; a
    /// strongly right-skewed positive quantity may be modelled on a log scale.
    public static func recommendTarget(_ stats: ColumnStatistics) -> Decision {
        let fingerprint = Fingerprint(stats)
        func make(_ action: Action, _ confidence: Double, _ why: String) -> Suggestion {
            Suggestion(action: action, confidence: confidence, source: "target", explanation: why)
        }
        var candidates: [Suggestion]
        switch stats.kind {
        case .categorical, .boolean, .text, .identifier:
            candidates = [make(.ordinalEncode, 0.8, "The target's \(BuiltinRecommender.count(Double(stats.distinct))) classes become integer labels (a label encoder); it is not a feature."),
                          make(.keep, 0.3, "Keep the labels as they are, if the model takes strings.")]
        case .integer where stats.distinct <= 10:
            candidates = [make(.keep, 0.8, "The target's \(BuiltinRecommender.count(Double(stats.distinct))) classes are integer labels already; it is not a feature.")]
        case .integer, .float:
            let n = stats.numeric ?? .zero
            if n.min > 0 && n.skewness > 1 {
                candidates = [make(.logTransform, 0.55, "The target is skewed (skewness \(BuiltinRecommender.number(n.skewness))) and positive: a model fitted on its log predicts it better; take exp of the predictions."),
                              make(.keep, 0.5, "Keep the target as it is; it is not a feature.")]
            } else {
                candidates = [make(.keep, 0.8, "The target stays as it is; it is not a feature.")]
            }
        default:
            candidates = [make(.keep, 0.6, "The target stays as it is; it is not a feature.")]
        }
        candidates = candidates.filter { ActionApplicability.applies($0.action, to: stats) }
        if candidates.isEmpty { candidates = [make(.keep, 0.5, "The target stays as it is; it is not a feature.")] }
        // Rows without a target teach a model nothing, and a filled-in target would be invented.
        if stats.missing > 0 {
            candidates[0].explanation += " \(BuiltinRecommender.percent(stats.missingRatio)) of the rows have no target: drop them before training; do not fill them."
        }
        return (candidates[0], Array(candidates.dropFirst()), nil, fingerprint.bucket, BuiltinChoice(candidates[0]))
    }

    public static func recommend(_ stats: ColumnStatistics, domain: String, rules: [ActiveRule]) -> Decision {
        Self.recommend(stats, domain: domain, rules: RuleBook(rules))
    }

    public static func recommend(_ stats: ColumnStatistics, domain: String, rules: RuleBook) -> Decision {
        let fingerprint = Fingerprint(stats)
        let suggestions = BuiltinRecommender.suggestions(for: stats)
        let builtinChoice = BuiltinChoice(suggestions[0])
        // No source recommends an action that does not apply to the column.
        var builtin = suggestions.filter { ActionApplicability.applies($0.action, to: stats) }
        if builtin.isEmpty { builtin = [Suggestion(action: .keep, confidence: 0.2, source: "builtin:keep", explanation: "Keep it as it is.")] }
        var fallback: Suggestion?
        if let record = rules.builtinRecords[builtin[0].source], record.total > 0 {
            let calibrated = record.confidence(default: builtin[0].confidence)
            if calibrated < builtin[0].confidence {
                builtin[0].confidence = calibrated
                builtin[0].explanation += " You agreed with this rule in \(record.agreeing) of \(record.total) such columns."
                // Demoted, the rule gives way only to what this user chose instead in such
                // columns, never to a runner-up nobody asked for.
                if let choice = record.preferredChoice(for: stats), choice.confidence > calibrated {
                    let rule = builtin[0].source.dropFirst("builtin:".count)
                    fallback = Suggestion(
                        action: choice.action, confidence: choice.confidence, source: "corrected:\(rule)",
                        explanation: "You chose \(choice.action.rawValue) in \(choice.count) of \(record.total) columns where the built-in rule said \(builtin[0].action.rawValue).")
                }
            }
        }
        var matches = rules.matching(fingerprint, domain: domain).filter { ActionApplicability.applies($0.rule.action, to: stats) }
        var learned = matches.map { rule, scopeText in
            Suggestion(
                action: rule.action, confidence: rule.confidence, source: "learned:\(rule.id)",
                explanation: "Your rule \(rule.id)\(scopeText): \(rule.description).")
        }
        // The built-in rule has failed this user in such columns (agreed in under 40% of at
        // least `minimumChoices`) and nothing narrower covers the column: the tree leaf that
        // holds it is a better guess than a rule the user keeps rejecting. Still only an action
        // that applies to the column.
        if learned.isEmpty, fallback == nil, let record = rules.builtinRecords[builtin[0].source], record.total >= BuiltinRecord.minimumChoices,
            builtin[0].confidence < 0.4, let (rule, scopeText) = rules.nearest(fingerprint, domain: domain),
            ActionApplicability.applies(rule.action, to: stats), rule.action != builtin[0].action
        {
            let confidence = max(builtin[0].confidence + 0.01, rule.confidence * 0.8)
            matches = [(rule, scopeText)]
            learned = [Suggestion(
                action: rule.action, confidence: confidence, source: "learned:\(rule.id)",
                explanation: "The nearest of your rules, \(rule.id)\(scopeText), outside the columns it was learned from: \(rule.description).")]
        }
        var candidates = builtin
        if let fallback { candidates.insert(fallback, at: 0) }
        var ruleID: Int64?
        // A learned rule beats the built-in only when more confident, and the user's fallback
        // choice when as confident: its region is narrower, so it knows the column better.
        if let best = learned.first, best.confidence > candidates[0].confidence || fallback != nil && best.confidence >= candidates[0].confidence {
            candidates.insert(best, at: 0)
            ruleID = matches[0].rule.id
            // (A fill the rule replaces still comes first in the column's steps: not "instead".)
            if best.action != builtin[0].action && !(Pipeline.filling.contains(builtin[0].action) && stats.missing > 0) {
                candidates[0].explanation += " Instead of \(builtin[0].action.rawValue): \(builtin[0].explanation)"
            }
        } else if let best = learned.first {
            candidates.insert(best, at: 1)
        }
        // A log of a column with zeros is log(1 + x): say so, where it is recommended.
        if let numbers = stats.numeric, numbers.min <= 0 {
            for index in candidates.indices where candidates[index].action == .logTransform {
                candidates[index].explanation += " The column has zeros, so the log is taken of 1 + x."
            }
        }
        // Alternatives: the rest, best first, one per action.
        var seen: Set<Action> = [candidates[0].action]
        var alternatives: [Suggestion] = []
        for suggestion in candidates.dropFirst() where !seen.contains(suggestion.action) {
            seen.insert(suggestion.action)
            alternatives.append(suggestion)
        }
        return (candidates[0], alternatives, ruleID, fingerprint.bucket, builtinChoice)
    }
}
