import AuroraStatistics
import Foundation

extension ColumnAccumulator {
    /// The column's report. `name` helps only to tell identifiers ("id", "customer_id") from counts.
    public func profile(index: Int, name: String, settings: ProfileSettings, preferDayFirst: Bool) -> ColumnProfile {
        let nonMissing = self.nonMissing
        let exactNumbers = self.exactNumbers.isExact && self.hypothesis == .number && self.exactNumbers.values.count == Int(self.moments.count)
        let exactSummary = exactNumbers ? ExactSummary(self.exactNumbers.values) : nil
        let distinct: Int
        if let exactSummary, self.invalid == 0 {
            distinct = exactSummary.distinct  // by value: "1.0" and "1" are one number
        } else if self.distinct.isExact {
            distinct = self.distinct.exact.count
        } else {
            distinct = nonMissing == 0 ? 0 : max(1, min(nonMissing, Int(self.distinct.estimate.rounded())))
        }
        let distinctRatio = Ratio.of(distinct, nonMissing, empty: 0)
        // Values seen once are not "top" values: in a column of distinct values they are noise.
        let top = self.frequent.top(settings.topValues).filter { $0.count > 1 }.map { ValueCount(value: $0.value, count: $0.count) }
        var stats = ColumnStatistics(
            kind: .empty, count: self.cells, missing: self.missing, distinct: distinct, invalid: 0,
            exact: self.distinct.isExact || exactSummary != nil, topValues: top,
            topValueRatio: Ratio.of(top.first?.count ?? 0, nonMissing, empty: 0))
        if nonMissing > 0 {
            stats.text = TextSummary(
                minLength: self.minimumLength, maxLength: self.maximumLength,
                meanLength: Double(self.totalLength) / Double(nonMissing))
        }
        func done(_ kind: ColumnKind, _ reason: String) -> ColumnProfile {
            stats.kind = kind
            var reason = reason
            // Every value known (within the frequent-value summary), repeated (a label per row is
            // an index, not a scale) and on one ordered scale.
            if kind == .categorical && distinct <= 20 && distinct * 2 <= nonMissing {
                let values = self.frequent.top(self.frequent.capacity).map(\.value)
                if values.count == distinct, let scale = OrderedScales.scale(of: values) {
                    stats.orderedScale = scale
                    reason += "; the values are \(scale.readable), an ordered scale"
                }
            }
            return ColumnProfile(index: index, name: name, reason: reason, stats: stats)
        }
        if nonMissing == 0 { return done(.empty, "every cell is missing") }

        // Numbers hold when at most 5% of the non-missing cells are not numbers (pandas users
        // coerce such columns and so does the simulated user); other types when at most 0.1% disagree.
        let holds = self.hypothesis == .number ? self.invalid * 20 <= nonMissing : self.invalid * 1000 <= nonMissing
        let looksLikeIdentifierName = Self.identifierName(name)
        switch self.hypothesis {
        case .number where holds:
            stats.invalid = self.invalid
            stats.numeric = self.numericSummary(settings: settings, exact: exactSummary)
            stats.exact = stats.exact && exactSummary != nil
            if self.leadingZeros > 0 && self.fractional == 0 {
                stats.numeric = nil
                if distinctRatio >= 0.95 && nonMissing >= 20 {
                    return done(.identifier, "digits with leading zeros, almost all distinct: codes, not quantities")
                }
                return done(.categorical, "digits with leading zeros (\(self.leadingZeros) cells): codes, not quantities")
            }
            if self.fractional == 0 {
                // Strictly ascending whole numbers are all distinct: a row number is found at any
                // size, past the exact distinct count too.
                let unique = distinctRatio >= 0.98 || self.strictlyAscending
                if unique && nonMissing >= 2 && (looksLikeIdentifierName
                    || (nonMissing >= 20 && self.strictlyAscending && self.minimum >= 0 && self.maximum - self.minimum + 1 <= Double(nonMissing) * 1.05))
                {
                    return done(.identifier, looksLikeIdentifierName ? "distinct whole numbers in a column named like an identifier" : "distinct, ascending, gap-free whole numbers: a row number")
                }
                // Every number from min to max exactly once, in any order (a shuffled row index,
                // record numbers): known only when the distinct count is exact.
                if exactSummary != nil && self.invalid == 0 && nonMissing >= 10 && distinct == nonMissing
                    && self.maximum - self.minimum + 1 == Double(nonMissing)
                {
                    return done(.identifier, "each whole number from \(Self.plain(self.minimum)) to \(Self.plain(self.maximum)) exactly once: a row index")
                }
                return done(.integer, (self.invalid > 0 ? "whole numbers" : "every value is a whole number") + self.nonNumericNote)
            }
            return done(.float, "numbers, \(self.fractional) with a fractional part" + self.nonNumericNote)
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
                stats.date = DateSummary(minUnix: low, maxUnix: high, format: format, hasTime: shape.hasTime)
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
        // Free text runs to sentences: three words a cell on average (AutoGluon's rule), or long
        // cells. Shorter multi-word values ("South Los Angeles", "Cesar A.") are labels.
        let meanWords = 1 + Double(self.spaces) / Double(nonMissing)
        if distinctRatio >= 0.95 && nonMissing >= 20 && self.cellsWithSpace == 0 && self.maximumLength <= 64 {
            return done(.identifier, "almost every value distinct, short and without spaces")
        }
        if looksLikeIdentifierName && distinctRatio >= 0.95 && self.cellsWithSpace == 0 && nonMissing >= 2 {
            return done(.identifier, "distinct values in a column named like an identifier")
        }
        // One value per row, short and not sentences: names of rows (R's row names, countries,
        // animals, people). Nothing a model can generalise from, like any key.
        if distinctRatio >= 0.99 && nonMissing >= 10 && meanWords < 3 && meanLength <= 40 {
            return done(.identifier, "every value distinct, short labels: a name per row")
        }
        if meanLength <= 40 && ((distinct <= 50 && Double(distinct) <= 0.5 * Double(nonMissing)) || distinctRatio <= 0.05) {
            return done(.categorical, "\(distinct) distinct values over \(nonMissing) cells")
        }
        if meanWords >= 3 || meanLength > 40 {
            return done(.text, "free text: mean length \(Int(meanLength.rounded())), \(Self.plain((meanWords * 10).rounded() / 10)) words a value")
        }
        return done(.categorical, "short labels, \(distinct) distinct over \(nonMissing) cells")
    }

    static func identifierName(_ name: String) -> Bool {
        let lowered = name.lowercased().trimmingCharacters(in: .whitespaces)
        if ["id", "uuid", "guid", "key", "index", "idx", "#", "no", "number", "row", "rowid", "row_id"].contains(lowered) { return true }
        for suffix in ["_id", " id", "-id", "_key", "_uuid", "_no", "_number", "id"] where lowered.hasSuffix(suffix) {
            // "id" as a suffix only for camelCase names such as "customerId".
            if suffix == "id" { return name.hasSuffix("Id") || name.hasSuffix("ID") }
            // "_no" as the answer of a yes/no level ("smoking_yes_cancer_no"), not a number.
            if suffix == "_no" && (lowered.contains("yes") || lowered.dropLast(3).contains("_no")) { continue }
            return true
        }
        return false
    }

    static func chooseOrder(_ orders: DateOrders, preferDayFirst: Bool) -> DateOrders {
        if orders.contains(.ymd) { return .ymd }
        if orders.contains(.dmy) && orders.contains(.mdy) { return preferDayFirst ? .dmy : .mdy }
        return orders.contains(.dmy) ? .dmy : .mdy
    }

    /// A whole number as written ("1", "53940"), without Foundation's formatter.
    static func plain(_ value: Double) -> String {
        abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }

    /// ", 3 cells not numbers (0.4%)" when some cells of a numeric column are not numbers.
    var nonNumericNote: String {
        guard self.invalid > 0 else { return "" }
        let share = Double(self.invalid) / Double(max(1, self.nonMissing)) * 100
        return "; \(self.invalid) cell\(self.invalid == 1 ? "" : "s") not numbers (\(share < 0.1 ? "< 0.1" : String(format: "%.1f", share))%), left out of the statistics"
    }

    /// The numbers' summary: computed from the numbers themselves when `exact` has them (the
    /// figures pandas gives), else from the moments and the quantile sketch.
    func numericSummary(settings: ProfileSettings, exact: ExactSummary?) -> NumericSummary {
        let count = Int(self.moments.count)
        let n = Double(count)
        let bins = max(1, settings.histogramBins)
        var counts = [Int](repeating: 0, count: bins)
        let quantiles: NumericSummary.Quantiles
        let outliers: Int
        let mean, variance, skewness, kurtosis: Double
        if let exact {
            quantiles = NumericSummary.Quantiles(NumericSummary.Quantiles.levels.map(exact.quantile))
            // Tukey's fences, counted.
            let iqr = quantiles.p75 - quantiles.p25
            outliers = exact.countBelow(quantiles.p25 - 1.5 * iqr) + (count - exact.countAtMost(quantiles.p75 + 1.5 * iqr))
            // numpy.histogram's bins: equal widths, the last one closed.
            if self.maximum > self.minimum {
                let width = (self.maximum - self.minimum) / Double(bins)
                for value in exact.sorted { counts[min(bins - 1, Int((value - self.minimum) / width))] += 1 }
            } else {
                counts[0] = count
            }
            (mean, variance, skewness, kurtosis) = (exact.mean, exact.variance, exact.skewness, exact.kurtosis)
        } else {
            quantiles = NumericSummary.Quantiles(self.quantiles.quantiles(NumericSummary.Quantiles.levels))
            // Tukey's fences from the sketch's quartiles.
            let iqr = quantiles.p75 - quantiles.p25
            let below = self.quantiles.cumulativeFractions([quantiles.p25 - 1.5 * iqr], inclusive: false)[0]
            let atOrBelow = self.quantiles.cumulativeFractions([quantiles.p75 + 1.5 * iqr], inclusive: true)[0]
            outliers = iqr > 0 ? max(0, Int(((below + (1 - atOrBelow)) * n).rounded())) : 0
            // Histogram from the sketch's distribution function.
            if self.maximum > self.minimum {
                let width = (self.maximum - self.minimum) / Double(bins)
                let bounds = (1..<bins).map { self.minimum + width * Double($0) }
                let fractions = self.quantiles.cumulativeFractions(bounds, inclusive: false)
                var previous = 0
                for bin in 0..<bins {
                    let cumulative = bin == bins - 1 ? count : Int((fractions[bin] * n).rounded())
                    counts[bin] = max(0, cumulative - previous)
                    previous = max(previous, cumulative)
                }
            } else {
                counts[0] = count
            }
            // pandas' sample adjustments applied to the population skewness g1 and kurtosis g2.
            let moments = self.moments
            mean = moments.mean
            variance = moments.variance
            skewness = count > 2 ? moments.skewness * (n * (n - 1)).squareRoot() / (n - 2) : 0
            kurtosis = count > 3 ? ((n + 1) * moments.kurtosis + 6) * (n - 1) / ((n - 2) * (n - 3)) : 0
        }
        return NumericSummary(
            min: self.minimum, max: self.maximum, mean: mean, std: variance.squareRoot(), variance: variance,
            skewness: skewness, kurtosis: kurtosis, zeroRatio: Ratio.of(self.zeros, count, empty: 0),
            negativeRatio: Ratio.of(self.negatives, count, empty: 0), outlierRatio: Ratio.of(outliers, count, empty: 0),
            quantiles: quantiles, histogram: .init(lower: self.minimum, upper: self.maximum, counts: counts),
            decimal: self.style, currency: self.currencies > 0, percent: self.percents > 0,
            thousandsSeparators: self.grouped > 0)
    }
}
