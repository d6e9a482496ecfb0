import AuroraStatistics
import Foundation

/// A column reduced to what learning needs: a fixed vector of features computed from its
/// statistics (never from values), and a coarse bucket key for logs and cross-user rules.
/// Continuous features are clamped to a known range, so noise can be calibrated to it.
public struct Fingerprint: Sendable, Equatable {
    public var features: [Double]
    public var bucket: String

    /// Features that only numbers have (0, or -1 for a level, in any other column).
    static let numericOnly: Set<String> = [
        "skewness", "kurtosis", "outliers", "zeros", "all_positive", "non_negative", "unit_interval", "integer", "range_log",
        "skewness_level", "outliers_level", "skewness_fine", "kurtosis_level", "outliers_fine", "zeros_level", "range_level",
    ]

    public static let typeNames = ["numeric", "boolean", "datetime", "categorical", "text", "identifier", "empty"]

    /// One feature: its name, range and how a threshold on it reads to a person.
    public struct Feature: Sendable {
        public var name: String
        public var range: ClosedRange<Double>
        /// Binary features (type flags, all-positive, ...) are not noised: they are coarse by design.
        public var continuous: Bool
        /// How far one row of the table can move the feature, in units of range / rows: exactly 1
        /// for the missing ratio (a share of all rows); a heuristic 10 for the rest, which one row
        /// can move further (skewness, kurtosis, range) or which are shares of the non-missing rows.
        public var rowSensitivity: Double = 10
        /// This feature's share of a fingerprint's ε, relative to the other continuous features.
        public var epsilonWeight: Double = 1
        /// A threshold as the quantity a person reads ("distinct ratio", 0.1), nil for a flag:
        /// several features read as one quantity, and a rule says each quantity's bound once.
        public var quantity: (@Sendable (_ threshold: Double, _ above: Bool) -> (label: String, value: Double)?)? = nil
        public var describe: @Sendable (_ threshold: Double, _ above: Bool) -> String
    }

    public static let schema: [Feature] = {
        // Type flags are 0 or 3 (weighted for the tree), the other flags 0 or 1.
        func flag(_ name: String, _ yes: String, _ no: String, maximum: Double = 1) -> Feature {
            Feature(name: name, range: 0...maximum, continuous: false) { _, above in above ? yes : no }
        }
        func continuous(
            _ name: String, _ range: ClosedRange<Double>, _ label: String, rowSensitivity: Double = 10, epsilonWeight: Double = 1,
            wholeNumbers: Bool = false, _ inverse: @escaping @Sendable (Double) -> Double
        ) -> Feature {
            Feature(
                name: name, range: range, continuous: true, rowSensitivity: rowSensitivity, epsilonWeight: epsilonWeight,
                quantity: { threshold, _ in (label, inverse(threshold)) }
            ) { threshold, above in
                // A count reads as a count: "distinct values > 56", not "> 56.8".
                let value = inverse(threshold)
                return "\(label) \(above ? ">" : "≤") \(wholeNumbers ? Self.fixed(value.rounded(.down), decimals: 0) : Self.format(value))"
            }
        }
        var features = Self.typeNames.map { type in flag("type_\(type)", type, "not \(type)", maximum: 3) }
        features += [
            continuous("missing", 0...4, "missing ratio", rowSensitivity: 1, epsilonWeight: 2, { $0 / 4 }),
            continuous("distinct_log", 0...12, "distinct values", epsilonWeight: 1.5, wholeNumbers: true, { exp2($0 * 2) - 1 }),
            continuous("distinct_ratio", 0...2, "distinct ratio", epsilonWeight: 0.5, { $0 / 2 }),
            flag("constant", "constant", "not constant"),
            flag("near_constant", "near-constant", "not near-constant"),
            continuous("skewness", -6...6, "skewness", epsilonWeight: 2, { t in (t < 0 ? -1 : 1) * expm1(abs(t) / 1.5) }),
            continuous("kurtosis", 0...5, "kurtosis", { expm1($0 / 0.5) }),
            continuous("outliers", 0...10, "outlier ratio", epsilonWeight: 1.5, { $0 / 10 }),
            continuous("zeros", 0...2, "zero ratio", epsilonWeight: 0.5, { $0 / 2 }),
            flag("all_positive", "all values > 0", "some values ≤ 0"),
            flag("non_negative", "no negative values", "some negative values"),
            flag("unit_interval", "values within [0, 1]", "values outside [0, 1]"),
            flag("integer", "whole numbers", "fractional numbers"),
            continuous("range_log", 0...6, "range", epsilonWeight: 0.5, { pow(10, $0 / 0.3) - 1 }),
            continuous("length_log", 0...4, "mean length", epsilonWeight: 0.5, { expm1($0 * 1.5) }),
        ]
        // The bucket's levels (stored with every fingerprint anyway, for cross-user rules) as
        // features: exact but coarse, where the noised values above are fine but blurred. Last,
        // so the indices in rules stored before them still hold.
        func level(_ name: String, _ edges: [Double], _ label: String, numericOnly: Bool, wholeNumbers: Bool = false) -> Feature {
            // Thresholds come from the store: clamped before the conversion, which traps on NaN or ±inf.
            @Sendable func edge(_ threshold: Double) -> Double? {
                let index = threshold.isFinite ? Int(min(max(threshold, -1), Double(edges.count)).rounded(.down)) : -1
                return index >= 0 ? edges[min(index, edges.count - 1)] : nil
            }
            return Feature(
                name: name, range: (numericOnly ? -1 : 0)...Double(edges.count), continuous: false,
                quantity: { threshold, _ in edge(threshold).map { (label, $0) } }
            ) { threshold, above in
                guard let value = edge(threshold) else { return above ? "\(label) measured" : "no \(label)" }
                // Counts read as counts ("distinct values ≤ 10"), ratios and moments as before.
                let edge = wholeNumbers ? Self.fixed(value, decimals: 0) : Self.format(value)
                return above ? "\(label) > \(edge)" : "\(label) ≤ \(edge)\(numericOnly ? " or none" : "")"
            }
        }
        features += [
            level("missing_level", Self.missingEdges, "missing ratio", numericOnly: false),
            level("distinct_ratio_level", Self.distinctRatioEdges, "distinct ratio", numericOnly: false),
            level("skewness_level", Self.skewnessEdges, "skewness", numericOnly: true),
            level("outliers_level", Self.outlierEdges, "outlier ratio", numericOnly: true),
        ]
        // Finer exact levels at the cut points people write in their own rules (5% missing, 10 or
        // 50 categories, skewness 0.75, kurtosis 7, 2% outliers): a threshold there is learned
        // exactly, where the noised value alone blurs it on small tables. Not in the bucket key,
        // which stays coarse for cross-user rules.
        features += Self.fineLevels.map { fine in level(fine.name, fine.edges, fine.label, numericOnly: fine.numericOnly, wholeNumbers: fine.wholeNumbers) }
        return features
    }()

    /// The fine levels: name, edges (each coarse level's edges among them), label, numeric only,
    /// edges that read as whole numbers.
    static let fineLevels: [(name: String, edges: [Double], label: String, numericOnly: Bool, wholeNumbers: Bool)] = [
        ("missing_fine", [0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9], "missing ratio", false, false),
        ("distinct_count_level", [1, 2, 3, 5, 10, 15, 20, 30, 50, 100, 1000], "distinct values", false, true),
        ("skewness_fine", [-3, -2, -1, -0.75, -0.5, -0.25, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5], "skewness", true, false),
        ("kurtosis_level", [0, 1, 3, 7, 10, 20, 50], "kurtosis", true, false),
        ("outliers_fine", [0, 0.01, 0.02, 0.05, 0.1, 0.2], "outlier ratio", true, false),
        ("zeros_level", [0, 0.1, 0.5, 0.9], "zero ratio", true, false),
        ("range_level", [1, 10, 100, 1000, 10_000, 1_000_000], "range", true, true),
    ]

    /// The fine levels of a column (-1 for a numeric-only level of a column without numbers).
    static func fineLevelValues(missing: Double, distinct: Double, numeric: (skewness: Double, kurtosis: Double, outliers: Double, zeros: Double, range: Double)?) -> [Double] {
        let values: [Double?] = [missing, distinct, numeric?.skewness, numeric?.kurtosis, numeric?.outliers, numeric?.zeros, numeric?.range]
        return zip(values, Self.fineLevels).map { value, fine in
            guard let value else { return -1 }
            return Double(Self.level(value.isFinite ? value : 0, fine.edges))
        }
    }

    static let missingEdges: [Double] = [0, 0.05, 0.3, 0.9]
    static let distinctRatioEdges: [Double] = [0.01, 0.1, 0.5, 0.95]
    static let skewnessEdges: [Double] = [-1, -0.5, 0.5, 1, 3]
    static let outlierEdges: [Double] = [0, 0.01, 0.05]

    /// A bucket key ("numeric|m1|d2|s3|o0|pos") as a person reads it: "numeric columns, 0–5%
    /// missing, distinct values 10–50% of rows, skewness 0.5 to 1, outliers ≤ 0%, all positive".
    public static func describeBucket(_ key: String) -> String {
        let parts = key.split(separator: "|").map(String.init)
        guard let type = parts.first else { return key }
        func level(_ prefix: Character) -> Int? { parts.dropFirst().lazy.compactMap { $0.first == prefix ? Int($0.dropFirst()) : nil }.first }
        func span(_ level: Int, _ edges: [Double], percent: Bool, separator: String) -> String {
            func show(_ value: Double) -> String {
                percent ? "\(Self.plain(value * 100))%" : Self.plain(value)
            }
            if level <= 0 { return "≤ \(show(edges[0]))" }
            if level >= edges.count { return "> \(show(edges[edges.count - 1]))" }
            return "\(show(edges[level - 1]))\(separator)\(show(edges[level]))"
        }
        var clauses = ["\(type) columns"]
        if let missing = level("m") { clauses.append(missing == 0 ? "no missing values" : "missing \(span(missing, Self.missingEdges, percent: true, separator: "–"))") }
        if let distinct = level("d") { clauses.append("distinct values \(span(distinct, Self.distinctRatioEdges, percent: true, separator: "–")) of rows") }
        if let skewness = level("s"), skewness >= 0 { clauses.append("skewness \(span(skewness, Self.skewnessEdges, percent: false, separator: " to "))") }
        if let outliers = level("o"), outliers >= 0 { clauses.append(outliers == 0 ? "no outliers" : "outliers \(span(outliers, Self.outlierEdges, percent: true, separator: "–"))") }
        if parts.contains("pos") { clauses.append("all positive") } else if parts.contains("nonneg") { clauses.append("none negative") } else if parts.contains("neg") { clauses.append("some negative") }
        return clauses.joined(separator: ", ")
    }

    /// 0.05 as "0.05", 5.0 as "5".
    static func plain(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    /// The bucket level of `value`: how many of `edges` it exceeds.
    static func level(_ value: Double, _ edges: [Double]) -> Int { edges.firstIndex { value <= $0 } ?? edges.count }

    public static func index(_ name: String) -> Int { Self.schema.firstIndex { $0.name == name }! }

    public init(features: [Double], bucket: String) {
        self.features = features
        self.bucket = bucket
    }

    /// The fingerprint of a column's statistics.
    public init(_ stats: ColumnStatistics) {
        let type = Self.typeName(stats.kind)
        let missingRatio = stats.missingRatio
        let distinct = Double(stats.distinct)
        let distinctRatio = stats.distinctRatio
        let numeric = stats.numeric ?? (stats.kind.isNumeric ? .zero : nil)
        var v = Self.typeNames.map { $0 == type ? 3.0 : 0.0 }
        v += [
            4 * missingRatio, log2(1 + distinct) / 2, 2 * distinctRatio,
            distinct <= 1 ? 1 : 0, (distinctRatio < 0.05 && stats.topValueRatio > 0.95) ? 1 : 0,
        ]
        if let n = numeric {
            let skew = n.skewness.isFinite ? n.skewness : 0
            v += [
                1.5 * (skew < 0 ? -1 : 1) * log1p(abs(skew)), 0.5 * log1p(max(n.kurtosis.isFinite ? n.kurtosis : 0, 0)),
                10 * n.outlierRatio, 2 * n.zeroRatio, n.min > 0 ? 1 : 0, n.min >= 0 ? 1 : 0,
                (n.min >= 0 && n.max <= 1) ? 1 : 0, stats.kind == .integer ? 1 : 0, 0.3 * log10(1 + max(0, n.max - n.min)),
            ]
        } else {
            v += [0, 0, 0, 0, 0, 0, 0, 0, 0]
        }
        v.append(stats.text.map { log1p($0.meanLength) / 1.5 } ?? 0)
        let levels = Self.levels(missing: missingRatio, distinctRatio: distinctRatio, numeric: numeric)
        v += levels.map(Double.init)
        v += Self.fineLevelValues(
            missing: missingRatio, distinct: distinct,
            numeric: numeric.map { ($0.skewness, $0.kurtosis, $0.outlierRatio, $0.zeroRatio, max(0, $0.max - $0.min)) })
        for index in v.indices {
            let range = Self.schema[index].range
            v[index] = min(max(v[index].isFinite ? v[index] : 0, range.lowerBound), range.upperBound)
        }
        self.features = v
        self.bucket = Self.bucketKey(type: type, levels: levels, numeric: numeric)
    }

    static func typeName(_ kind: ColumnKind) -> String {
        switch kind {
        case .integer, .float: "numeric"
        case .boolean: "boolean"
        case .date, .datetime: "datetime"
        case .categorical: "categorical"
        case .text: "text"
        case .identifier: "identifier"
        case .empty: "empty"
        }
    }

    /// Coarse buckets: what cross-user rules and logs use (no continuous value survives).
    static func bucketKey(type: String, levels: [Int], numeric: NumericSummary?) -> String {
        var key = "\(type)|m\(levels[0])|d\(levels[1])"
        if let n = numeric {
            key += "|s\(levels[2])|o\(levels[3])|\(n.min > 0 ? "pos" : n.min >= 0 ? "nonneg" : "neg")"
        }
        return key
    }

    /// Missing ratio, distinct ratio, skewness and outlier levels (-1: not numeric).
    static func levels(missing: Double, distinctRatio: Double, numeric: NumericSummary?) -> [Int] {
        [
            Self.level(missing, Self.missingEdges), Self.level(distinctRatio, Self.distinctRatioEdges),
            numeric.map { Self.level($0.skewness, Self.skewnessEdges) } ?? -1, numeric.map { Self.level($0.outlierRatio, Self.outlierEdges) } ?? -1,
        ]
    }

    /// The level features of a fingerprint stored before they existed, read back from its bucket
    /// key ("numeric|m1|d2|s3|o0|pos"), so old and new examples train together.
    public static func completed(_ features: [Double], bucket: String) -> [Double] {
        guard features.count < Self.schema.count else { return features }
        var result = features
        result += [Double](repeating: 0, count: max(0, Self.index("missing_level") - result.count))
        let parts = bucket.split(separator: "|")
        // The first part is the type, which may start with the same letter ("datetime").
        func level(_ prefix: Character, absent: Int) -> Double {
            Double(parts.dropFirst().lazy.compactMap { $0.first == prefix ? Int($0.dropFirst()) : nil }.first ?? absent)
        }
        if result.count < Self.index("missing_fine") {
            result += [level("m", absent: 0), level("d", absent: 0), level("s", absent: -1), level("o", absent: -1)]
        }
        if result.count < Self.schema.count {
            // Stored before the fine levels: estimated from the stored (noised) values, which
            // is all that is left of the column.
            func value(_ name: String) -> Double { result[Self.index(name)] }
            let numeric = result[Self.index("skewness_level")] >= 0
            let skew = value("skewness")
            result = Array(result.prefix(Self.index("missing_fine")))
            result += Self.fineLevelValues(
                missing: value("missing") / 4, distinct: (exp2(value("distinct_log") * 2) - 1).rounded(),
                numeric: numeric
                    ? ((skew < 0 ? -1 : 1) * expm1(abs(skew) / 1.5), expm1(value("kurtosis") / 0.5), value("outliers") / 10, value("zeros") / 2, pow(10, value("range_log") / 0.3) - 1)
                    : nil)
        }
        return Array(result.prefix(Self.schema.count))
    }

    public var typeName: String { Self.typeNames[self.features.prefix(Self.typeNames.count).firstIndex { $0 > 1.5 } ?? (Self.typeNames.count - 1)] }

    /// Three significant figures or so: 0 decimals from 100, 1 from 10, else 2 (as "%.Nf").
    static func format(_ value: Double) -> String {
        Self.fixed(value, decimals: abs(value) >= 100 ? 0 : abs(value) >= 10 ? 1 : 2)
    }

    /// `value` with `decimals` (0 to 3) digits after the point, like "%.Nf" (ties to even) but
    /// without Foundation's formatter, which cost more than the rest of a recommendation.
    static func fixed(_ value: Double, decimals: Int) -> String {
        guard value.isFinite, abs(value) < 1e12, (0...3).contains(decimals) else { return String(format: "%.\(decimals)f", value) }
        var scale: Int64 = 1
        for _ in 0..<decimals { scale *= 10 }
        // Round the exact product |value| × scale, as printf does: the product is `product` plus
        // the residual `error` (exact, by fma); a tie in `product` is decided by the residual.
        let product = abs(value) * Double(scale)
        let error = (-product).addingProduct(abs(value), Double(scale))
        let whole = product.rounded(.down)
        let fraction = product - whole
        var units = Int64(whole)
        if fraction > 0.5 || (fraction == 0.5 && (error > 0 || (error == 0 && units % 2 == 1))) { units += 1 }
        var text = value.sign == .minus ? "-" : ""
        text += String(units / scale)
        if decimals > 0 {
            let fraction = String(units % scale)
            text += "." + String(repeating: "0", count: decimals - fraction.count) + fraction
        }
        return text
    }
}
