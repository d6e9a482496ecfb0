import Foundation

/// What a column holds, as AURORA reports it.
public enum ColumnKind: String, Sendable, Codable, CaseIterable {
    case integer, float, boolean, date, datetime, categorical, text, identifier, empty
}

public struct NumericSummary: Sendable, Codable, Equatable {
    public var min: Double
    public var max: Double
    public var mean: Double
    public var std: Double
    public var variance: Double
    public var skewness: Double
    public var kurtosis: Double
    public var zeroRatio: Double
    public var negativeRatio: Double
    /// Share of values beyond 1.5 IQR from the quartiles (Tukey's fences), from the sketch.
    public var outlierRatio: Double
    public var quantiles: Quantiles
    public var histogram: Histogram
    /// How the numbers were written: "comma" decimals, currency signs, percent, digit groups.
    public var decimal: DecimalStyle
    public var currency: Bool
    public var percent: Bool
    public var thousandsSeparators: Bool

    public struct Quantiles: Sendable, Codable, Equatable {
        public var p01, p05, p25, p50, p75, p95, p99: Double
        public var array: [Double] { [self.p01, self.p05, self.p25, self.p50, self.p75, self.p95, self.p99] }
    }

    /// Equal-width bins from `lower` to `upper`.
    public struct Histogram: Sendable, Codable, Equatable {
        public var lower: Double
        public var upper: Double
        public var counts: [Int]
    }
}

public struct TextSummary: Sendable, Codable, Equatable {
    public var minLength: Int
    public var maxLength: Int
    public var meanLength: Double
}

public struct DateSummary: Sendable, Codable, Equatable {
    /// ISO 8601 (UTC).
    public var min: String
    public var max: String
    public var minUnix: Int64
    public var maxUnix: Int64
    /// strftime-style, e.g. "%d/%m/%Y".
    public var format: String
}

public struct BooleanSummary: Sendable, Codable, Equatable {
    public var trueCount: Int
    public var falseCount: Int
}

public struct ValueCount: Sendable, Codable, Equatable {
    public var value: String
    public var count: Int
}

public struct ColumnStats: Sendable, Codable, Equatable {
    public var count: Int
    public var missing: Int
    public var missingRatio: Double
    public var distinct: Int
    public var distinctRatio: Double
    /// Non-missing cells that do not fit the column's type (kept as a count, never dropped silently).
    public var invalid: Int
    public var numeric: NumericSummary?
    public var text: TextSummary?
    public var date: DateSummary?
    public var boolean: BooleanSummary?
    public var topValues: [ValueCount]
    /// Share of non-missing cells holding the most frequent value.
    public var topValueRatio: Double
}

public struct ColumnProfile: Sendable, Codable, Equatable {
    public var index: Int
    public var name: String
    public var type: ColumnKind
    /// One line on why the type was chosen.
    public var reason: String
    public var stats: ColumnStats
}

extension ColumnAccumulator {
    /// The column's report. `name` helps only to tell identifiers ("id", "customer_id") from counts.
    public func profile(index: Int, name: String, settings: ProfileSettings, preferDayFirst: Bool) -> ColumnProfile {
        let nonMissing = self.nonMissing
        let distinct = nonMissing == 0 ? 0 : max(1, min(nonMissing, Int(self.distinct.estimate.rounded())))
        let distinctRatio = nonMissing == 0 ? 0 : Double(distinct) / Double(nonMissing)
        // Values seen once are not "top" values: in a column of distinct values they are noise.
        let top = self.frequent.top(settings.topValues).filter { $0.count > 1 }.map { ValueCount(value: $0.value, count: $0.count) }
        var stats = ColumnStats(
            count: self.cells, missing: self.missing,
            missingRatio: self.cells == 0 ? 0 : Double(self.missing) / Double(self.cells),
            distinct: distinct, distinctRatio: distinctRatio, invalid: 0, numeric: nil, text: nil, date: nil,
            boolean: nil, topValues: top,
            topValueRatio: nonMissing == 0 ? 0 : Double(top.first?.count ?? 0) / Double(nonMissing))
        if nonMissing > 0 {
            stats.text = TextSummary(
                minLength: self.minimumLength, maxLength: self.maximumLength,
                meanLength: Double(self.totalLength) / Double(nonMissing))
        }
        func done(_ kind: ColumnKind, _ reason: String) -> ColumnProfile {
            ColumnProfile(index: index, name: name, type: kind, reason: reason, stats: stats)
        }
        if nonMissing == 0 { return done(.empty, "every cell is missing") }

        // A type holds when at most 0.1% of the non-missing cells disagree.
        let holds = self.invalid * 1000 <= nonMissing
        let looksLikeIdentifierName = Self.identifierName(name)
        switch self.hypothesis {
        case .number where holds:
            stats.invalid = self.invalid
            stats.numeric = self.numericSummary(settings: settings)
            if self.leadingZeros > 0 && self.fractional == 0 {
                stats.numeric = nil
                if distinctRatio >= 0.95 && nonMissing >= 20 {
                    return done(.identifier, "digits with leading zeros, almost all distinct: codes, not quantities")
                }
                return done(.categorical, "digits with leading zeros (\(self.leadingZeros) cells): codes, not quantities")
            }
            if self.fractional == 0 {
                let unique = distinctRatio >= 0.98
                if unique && nonMissing >= 2 && (looksLikeIdentifierName
                    || (nonMissing >= 20 && self.ascending && self.minimum >= 0 && self.maximum - self.minimum + 1 <= Double(nonMissing) * 1.05))
                {
                    return done(.identifier, looksLikeIdentifierName ? "distinct whole numbers in a column named like an identifier" : "distinct, ascending, gap-free whole numbers: a row number")
                }
                return done(.integer, "every value is a whole number")
            }
            return done(.float, "numbers, \(self.fractional) with a fractional part")
        case .boolean where holds:
            stats.invalid = self.invalid
            stats.boolean = BooleanSummary(trueCount: self.trues, falseCount: self.falses)
            return done(.boolean, "only true/false-like words")
        case .date where holds:
            stats.invalid = self.invalid
            if let shape = self.dateShape {
                let order = Self.chooseOrder(self.dateOrders, preferDayFirst: preferDayFirst)
                let (low, high) = switch order {
                case .ymd: (self.dateMinimum.0, self.dateMaximum.0)
                case .dmy: (self.dateMinimum.1, self.dateMaximum.1)
                default: (self.dateMinimum.2, self.dateMaximum.2)
                }
                let format = DateParser.format(shape, order: order)
                stats.date = DateSummary(min: Self.iso(low, time: shape.hasTime), max: Self.iso(high, time: shape.hasTime), minUnix: low, maxUnix: high, format: format)
                let ambiguous = self.dateOrders.contains(.dmy) && self.dateOrders.contains(.mdy)
                let reason = "every value reads as \(format)" + (ambiguous ? " (day and month both ≤ 12 throughout; \(preferDayFirst ? "day-first" : "month-first") assumed)" : "")
                return done(shape.hasTime ? .datetime : .date, reason)
            }
            return done(.text, "dates without a consistent format")
        default:
            break
        }
        // Text: categories, identifiers or free text.
        let meanLength = Double(self.totalLength) / Double(nonMissing)
        let mostlyMultiWord = self.cellsWithSpace * 2 >= nonMissing
        if distinctRatio >= 0.95 && nonMissing >= 20 && self.cellsWithSpace == 0 && self.maximumLength <= 64 {
            return done(.identifier, "almost every value distinct, short and without spaces")
        }
        if looksLikeIdentifierName && distinctRatio >= 0.95 && self.cellsWithSpace == 0 && nonMissing >= 2 {
            return done(.identifier, "distinct values in a column named like an identifier")
        }
        if meanLength <= 40 && ((distinct <= 50 && Double(distinct) <= 0.5 * Double(nonMissing)) || distinctRatio <= 0.05) {
            return done(.categorical, "\(distinct) distinct values over \(nonMissing) cells")
        }
        if mostlyMultiWord || meanLength > 40 {
            return done(.text, "free text: mean length \(Int(meanLength.rounded())), \(Int((Double(self.cellsWithSpace) / Double(nonMissing) * 100).rounded()))% with spaces")
        }
        return done(.categorical, "short labels, \(distinct) distinct over \(nonMissing) cells")
    }

    static func identifierName(_ name: String) -> Bool {
        let lowered = name.lowercased().trimmingCharacters(in: .whitespaces)
        if ["id", "uuid", "guid", "key", "index", "idx", "#", "no", "number", "row", "rowid", "row_id"].contains(lowered) { return true }
        for suffix in ["_id", " id", "-id", "_key", "_uuid", "_no", "_number", "id"] where lowered.hasSuffix(suffix) {
            // "id" as a suffix only for camelCase names such as "customerId".
            if suffix == "id" { return name.hasSuffix("Id") || name.hasSuffix("ID") }
            return true
        }
        return false
    }

    static func chooseOrder(_ orders: DateOrders, preferDayFirst: Bool) -> DateOrders {
        if orders.contains(.ymd) { return .ymd }
        if orders.contains(.dmy) && orders.contains(.mdy) { return preferDayFirst ? .dmy : .mdy }
        return orders.contains(.dmy) ? .dmy : .mdy
    }

    static func iso(_ seconds: Int64, time: Bool) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = seconds - days * 86_400
        // Civil date from days (H. Hinnant).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        var text = "\(year)-\(two(month))-\(two(day))"
        if time { text += "T\(two(rest / 3600)):\(two(rest / 60 % 60)):\(two(rest % 60))Z" }
        return text
    }

    func numericSummary(settings: ProfileSettings) -> NumericSummary {
        let n = Double(self.moments.count)
        let q = self.quantiles.quantiles([0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])
        let quantiles = NumericSummary.Quantiles(p01: q[0], p05: q[1], p25: q[2], p50: q[3], p75: q[4], p95: q[5], p99: q[6])
        // Tukey's fences from the sketch's quartiles.
        let iqr = quantiles.p75 - quantiles.p25
        let below = self.quantiles.cumulativeFractions([quantiles.p25 - 1.5 * iqr], inclusive: false)[0]
        let atOrBelow = self.quantiles.cumulativeFractions([quantiles.p75 + 1.5 * iqr], inclusive: true)[0]
        let outlierRatio = iqr > 0 ? max(0, below + (1 - atOrBelow)) : 0
        // Histogram from the sketch's distribution function.
        let bins = max(1, settings.histogramBins)
        var counts = [Int](repeating: 0, count: bins)
        if self.maximum > self.minimum {
            let width = (self.maximum - self.minimum) / Double(bins)
            let bounds = (1..<bins).map { self.minimum + width * Double($0) }
            let fractions = self.quantiles.cumulativeFractions(bounds, inclusive: false)
            var previous = 0
            for bin in 0..<bins {
                let cumulative = bin == bins - 1 ? Int(n) : Int((fractions[bin] * n).rounded())
                counts[bin] = max(0, cumulative - previous)
                previous = max(previous, cumulative)
            }
        } else {
            counts[0] = Int(n)
        }
        return NumericSummary(
            min: self.minimum, max: self.maximum, mean: self.moments.mean, std: self.moments.variance.squareRoot(),
            variance: self.moments.variance, skewness: self.moments.skewness, kurtosis: self.moments.kurtosis,
            zeroRatio: n > 0 ? Double(self.zeros) / n : 0, negativeRatio: n > 0 ? Double(self.negatives) / n : 0,
            outlierRatio: outlierRatio, quantiles: quantiles,
            histogram: .init(lower: self.minimum, upper: self.maximum, counts: counts),
            decimal: self.style, currency: self.currencies > 0, percent: self.percents > 0,
            thousandsSeparators: self.grouped > 0)
    }
}
