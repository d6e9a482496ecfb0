import Foundation

/// One stored correction: a (noised) fingerprint and the action the user wanted.
public struct Example: Sendable, Equatable {
    public var features: [Double]
    public var action: Action

    public init(features: [Double], action: Action) {
        self.features = features
        self.action = action
    }
}

/// One test on the path to a leaf: `features[feature] > threshold` (above) or `≤` (not above).
public struct RuleCondition: Sendable, Codable, Hashable {
    public var feature: Int
    public var threshold: Double
    public var above: Bool

    public init(feature: Int, threshold: Double, above: Bool) {
        self.feature = feature
        self.threshold = threshold
        self.above = above
    }

    public func holds(_ features: [Double]) -> Bool {
        guard features.indices.contains(self.feature) else { return false }
        return self.above ? features[self.feature] > self.threshold : features[self.feature] <= self.threshold
    }
}

/// A leaf of a fitted tree: a readable rule with the evidence behind it.
public struct RuleDraft: Sendable, Equatable {
    /// The tree's path to the leaf: what the rule is (its identity across refits).
    public var conditions: [RuleCondition]
    /// Where the examples that chose `action` lie: their column kinds and, for each feature the
    /// path tests, their observed range (with a small margin). A rule applies only there, so three
    /// numeric corrections never become "any column", whatever the tree's path says.
    public var region: [RuleCondition]
    public var action: Action
    /// Examples in the leaf, and how many of them chose `action`.
    public var support: Int
    public var agreeing: Int

    public init(conditions: [RuleCondition], region: [RuleCondition] = [], action: Action, support: Int, agreeing: Int) {
        self.conditions = conditions
        self.region = region
        self.action = action
        self.support = support
        self.agreeing = agreeing
    }

    /// Beta(1 + agreeing, 1 + disagreeing): the posterior of "the user wants `action` here".
    public var alpha: Double { 1 + Double(self.agreeing) }
    public var beta: Double { 1 + Double(self.support - self.agreeing) }
    public var confidence: Double { self.alpha / (self.alpha + self.beta) }

    /// The path and the region: every test a column must pass.
    public var allConditions: [RuleCondition] { self.conditions + self.region }

    public func matches(_ features: [Double]) -> Bool { self.allConditions.allSatisfy { $0.holds(features) } }

    /// The path alone ("skewness > 1.00, all values > 0"): the rule's identity in the store.
    public var conditionText: String { RuleDraft.describe(self.conditions) }

    /// Path and region, as a person reads the rule ("numeric columns, skewness > 1.00, ...").
    public var fullText: String { RuleDraft.describe(self.allConditions) }

    /// Margin around an observed range, as a share of the feature's range: the noise on a
    /// fingerprint must not push a column of the same kind out of it.
    public static let regionMargin = 0.15

    /// Features every region bounds, tested or not: how many distinct values and how skewed the
    /// examples were. A leaf that tests nothing else (all of a user's examples agreed) would
    /// otherwise cover every column of their kinds: three accepted 0/1 flags made "keep" a rule
    /// for every numeric column.
    static let alwaysBounded = ["distinct_log", "skewness"]

    /// The region of `examples`: the kinds they have, and the observed range of each feature in
    /// `tested` and of `alwaysBounded`. Type flags are 3 for the column's kind and 0 otherwise.
    public static func region(of examples: [[Double]], tested: [Int]) -> [RuleCondition] {
        guard let first = examples.first else { return [] }
        var region: [RuleCondition] = []
        for type in Fingerprint.typeNames.indices where type < first.count {
            if !examples.contains(where: { $0[type] > 1.5 }) { region.append(RuleCondition(feature: type, threshold: 1.5, above: false)) }
        }
        let bounded = Set(tested).union(Self.alwaysBounded.map(Fingerprint.index))
        for feature in bounded.sorted() where feature >= Fingerprint.typeNames.count && feature < first.count {
            let values = examples.map { $0[feature] }
            let schema = Fingerprint.schema.indices.contains(feature) ? Fingerprint.schema[feature] : nil
            // Exact features (flags, levels) are whole numbers: their observed range is exact.
            let margin = schema.map { $0.continuous ? Self.regionMargin * ($0.range.upperBound - $0.range.lowerBound) : 0.5 } ?? 0.5
            region.append(RuleCondition(feature: feature, threshold: values.min()! - margin, above: true))
            region.append(RuleCondition(feature: feature, threshold: values.max()! + margin, above: false))
        }
        return region
    }

    public static func describe(_ conditions: [RuleCondition]) -> String {
        // The kinds first ("numeric or boolean columns"): a type flag above its threshold names
        // the kind, flags below it rule kinds out.
        let typeCount = Fingerprint.typeNames.count
        var allowed = Set(Fingerprint.typeNames.indices)
        for condition in conditions where condition.feature < typeCount {
            if condition.above { allowed = allowed.intersection([condition.feature]) } else { allowed.remove(condition.feature) }
        }
        var parts: [String] = []
        if allowed.count < typeCount {
            let names = allowed.sorted().map { Fingerprint.typeNames[$0] }
            parts.append(names.isEmpty ? "no column" : names.joined(separator: " or ") + " columns")
        }
        // A test on numbers says nothing about columns without them: left out when no allowed kind has numbers.
        let numeric = allowed.contains(Fingerprint.typeNames.firstIndex(of: "numeric")!)
        // One bound per quantity and direction, the tightest: several features read as one
        // quantity ("distinct ratio" from the ratio, its level and its fine level). A bound
        // outside its feature's range excludes nothing ("missing ratio > -0.15") and is left out.
        var tightest: [String: (condition: RuleCondition, value: Double?)] = [:]
        var order: [String] = []
        for condition in conditions where condition.feature >= typeCount {
            // A condition read back from the store may name a feature this version does not have.
            guard Fingerprint.schema.indices.contains(condition.feature) else {
                let key = "feature \(condition.feature)\(condition.above)"
                if tightest[key] == nil { order.append(key) }
                tightest[key] = (condition, nil)
                continue
            }
            let feature = Fingerprint.schema[condition.feature]
            if !numeric, Fingerprint.numericOnly.contains(feature.name) { continue }
            if condition.above ? condition.threshold < feature.range.lowerBound : condition.threshold >= feature.range.upperBound { continue }
            let quantity = feature.quantity?(condition.threshold, condition.above)
            let key = "\(quantity?.label ?? feature.name)\(condition.above)"
            if let existing = tightest[key] {
                let (new, old) = (quantity?.value ?? condition.threshold, existing.value ?? existing.condition.threshold)
                if condition.above ? new > old : new < old { tightest[key] = (condition, quantity?.value) }
            } else {
                tightest[key] = (condition, quantity?.value)
                order.append(key)
            }
        }
        parts += order.compactMap { tightest[$0]?.condition }.map { condition in
            guard Fingerprint.schema.indices.contains(condition.feature) else { return "feature \(condition.feature) \(condition.above ? ">" : "≤") \(condition.threshold)" }
            return Fingerprint.schema[condition.feature].describe(condition.threshold, condition.above)
        }
        return parts.isEmpty ? "any column" : parts.joined(separator: ", ")
    }
}

/// A CART classification tree grown best-first (largest impurity decrease first) up to a number
/// of leaves, so a user's rules stay few and readable. Thresholds are midpoints between observed
/// values; splits need `minSamplesLeaf` examples on each side.
public struct DecisionTreeLearner: Sendable {
    public var minSamplesLeaf = 2
    public var maxDepth = 8
    public var maxLeaves = 40

    public init(minSamplesLeaf: Int = 2, maxDepth: Int = 8, maxLeaves: Int = 40) {
        self.minSamplesLeaf = minSamplesLeaf
        self.maxDepth = maxDepth
        self.maxLeaves = maxLeaves
    }

    private struct Node {
        var indices: [Int]
        var conditions: [RuleCondition]
        var depth: Int
        var split: (feature: Int, threshold: Double, gain: Double)?
    }

    public func fit(_ examples: [Example]) -> [RuleDraft] {
        guard !examples.isEmpty else { return [] }
        var leaves: [Node] = []
        var frontier = [Node(indices: Array(examples.indices), conditions: [], depth: 0, split: nil)]
        frontier[0].split = self.bestSplit(frontier[0].indices, examples)
        while leaves.count + frontier.count < self.maxLeaves,
            let best = frontier.indices.filter({ frontier[$0].split != nil && frontier[$0].depth < self.maxDepth }).max(by: { frontier[$0].split!.gain < frontier[$1].split!.gain })
        {
            let node = frontier.remove(at: best)
            let split = node.split!
            var left = Node(indices: [], conditions: node.conditions + [RuleCondition(feature: split.feature, threshold: split.threshold, above: false)], depth: node.depth + 1)
            var right = Node(indices: [], conditions: node.conditions + [RuleCondition(feature: split.feature, threshold: split.threshold, above: true)], depth: node.depth + 1)
            for index in node.indices {
                if examples[index].features[split.feature] > split.threshold { right.indices.append(index) } else { left.indices.append(index) }
            }
            left.split = self.bestSplit(left.indices, examples)
            right.split = self.bestSplit(right.indices, examples)
            frontier += [left, right]
        }
        leaves += frontier
        return leaves.map { leaf in
            var counts: [Action: Int] = [:]
            for index in leaf.indices { counts[examples[index].action, default: 0] += 1 }
            let (action, agreeing) = counts.max { $0.value != $1.value ? $0.value < $1.value : $0.key.rawValue > $1.key.rawValue }!
            let region = RuleDraft.region(
                of: leaf.indices.filter { examples[$0].action == action }.map { examples[$0].features }, tested: leaf.conditions.map(\.feature))
            return RuleDraft(conditions: leaf.conditions, region: region, action: action, support: leaf.indices.count, agreeing: agreeing)
        }
    }

    /// Best split by Gini impurity; class counts live in arrays indexed by action, and sums of
    /// squared counts are updated incrementally, so a scan over sorted values is O(1) per step.
    private func bestSplit(_ indices: [Int], _ examples: [Example]) -> (feature: Int, threshold: Double, gain: Double)? {
        guard indices.count >= 2 * self.minSamplesLeaf else { return nil }
        let classes = Action.allCases.count
        var total = [Int](repeating: 0, count: classes)
        for index in indices { total[Self.ordinal[examples[index].action]!] += 1 }
        if total.filter({ $0 > 0 }).count <= 1 { return nil }
        let n = Double(indices.count)
        let totalSquares = total.reduce(0) { $0 + $1 * $1 }
        let parentImpurity = 1 - Double(totalSquares) / (n * n)
        var best: (feature: Int, threshold: Double, gain: Double)?
        // Among splits with equal gain (common with few examples), the one whose two sides lie
        // furthest apart, as a share of the feature's range here: a gap the noise on a fingerprint
        // could have made (say, in the missing ratio of columns that miss nothing) loses to one it
        // could not (skewness 4 against 0, or an exact level).
        var bestSeparation = 0.0
        let featureCount = examples[indices[0]].features.count
        let labels = indices.map { Self.ordinal[examples[$0].action]! }
        // One feature's values with their labels, sorted: contiguous pairs sort and scan faster than
        // indices into the examples. Ties may come in any order: a threshold lies only between two
        // different values, where every tied value is on the same side.
        var pairs = [(value: Double, label: Int)](repeating: (0, 0), count: indices.count)
        for feature in 0..<featureCount {
            for (position, index) in indices.enumerated() { pairs[position] = (examples[index].features[feature], labels[position]) }
            pairs.sort { $0.value < $1.value }
            let range = pairs[pairs.count - 1].value - pairs[0].value
            var left = [Int](repeating: 0, count: classes)
            var right = total
            var leftSquares = 0
            var rightSquares = totalSquares
            for position in 0..<(pairs.count - 1) {
                let label = pairs[position].label
                leftSquares += 2 * left[label] + 1
                left[label] += 1
                rightSquares -= 2 * right[label] - 1
                right[label] -= 1
                let leftSize = position + 1
                let rightSize = pairs.count - leftSize
                guard leftSize >= self.minSamplesLeaf, rightSize >= self.minSamplesLeaf else { continue }
                let here = pairs[position].value
                let next = pairs[position + 1].value
                guard here < next else { continue }
                let l = Double(leftSize)
                let r = Double(rightSize)
                let impurity = (l * (1 - Double(leftSquares) / (l * l)) + r * (1 - Double(rightSquares) / (r * r))) / n
                let gain = parentImpurity - impurity
                guard gain > 1e-12 else { continue }
                let separation = (next - here) / range
                if best == nil || gain > best!.gain + 1e-9 || (gain > best!.gain - 1e-9 && separation > bestSeparation) {
                    best = (feature, (here + next) / 2, gain)
                    bestSeparation = separation
                }
            }
        }
        return best
    }

    private static let ordinal: [Action: Int] = Dictionary(uniqueKeysWithValues: Action.allCases.enumerated().map { ($1, $0) })
}
