/// What a column holds, as AURORA reports it.
public enum ColumnKind: String, Sendable, Codable, CaseIterable {
    case integer, float, boolean, date, datetime, categorical, text, identifier, empty

    /// Integer or float: the column has a numeric summary.
    public var isNumeric: Bool { self == .integer || self == .float }
}

/// How a column's numbers write decimals: `1,234.5` (point) or `1.234,5` (comma, as in most of Europe).
public enum DecimalStyle: String, Sendable, Codable {
    case point
    case comma
}

/// A column's statistics: the one form the parser computes, the learner reads, the CLI prints
/// and the wire carries (through the conversions in AuroraProtocol). Never a cell value, except
/// in `topValues`, which only go back to the client that uploaded the file.
public struct ColumnStatistics: Sendable, Equatable {
    public var kind: ColumnKind
    /// Every cell of the column, missing ones included: the table's data rows.
    public var count: Int
    /// Cells that are empty or hold a missing-value marker ("NA", "null", ...).
    public var missing: Int
    /// Distinct non-missing values (numbers by value, so "1.0" and "1" are one).
    public var distinct: Int
    /// Non-missing cells that do not fit `kind`, e.g. text in a numeric column: counted here,
    /// left out of the numeric summary (as pandas' `to_numeric(errors="coerce")` would).
    public var invalid: Int
    /// Whether `distinct` and the quantiles (and the outlier ratio from them) are exact; false
    /// when a column outgrew the exact limits and they come from sketches.
    public var exact: Bool
    public var numeric: NumericSummary?
    public var text: TextSummary?
    public var date: DateSummary?
    public var boolean: BooleanSummary?
    /// The most frequent values seen more than once, most frequent first.
    public var topValues: [ValueCount]
    /// Share of the non-missing cells holding the most frequent value.
    public var topValueRatio: Double
    /// The known ordered scale every value of a categorical column belongs to, if any.
    public var orderedScale: OrderedScale?

    public init(
        kind: ColumnKind, count: Int, missing: Int, distinct: Int, invalid: Int = 0, exact: Bool = true,
        numeric: NumericSummary? = nil, text: TextSummary? = nil, date: DateSummary? = nil, boolean: BooleanSummary? = nil,
        topValues: [ValueCount] = [], topValueRatio: Double = 0
    ) {
        self.kind = kind
        self.count = count
        self.missing = missing
        self.distinct = distinct
        self.invalid = invalid
        self.exact = exact
        self.numeric = numeric
        self.text = text
        self.date = date
        self.boolean = boolean
        self.topValues = topValues
        self.topValueRatio = topValueRatio
    }

    public var nonMissing: Int { max(0, self.count - self.missing) }
    /// Share of all cells that are missing; 1 for a column without cells.
    public var missingRatio: Double { Ratio.of(self.missing, self.count, empty: 1) }
    /// Distinct values per non-missing cell, at most 1.
    public var distinctRatio: Double { min(1, Ratio.of(self.distinct, self.nonMissing, empty: 0)) }
}

/// Ratios of counts, correctly rounded: 5 of 100 is exactly 0.05 (as a Double), so a rule that
/// compares with 0.05 sees what a person computes, never 0.050000000000000044 from 1 - 0.95.
public enum Ratio {
    public static func of(_ part: Int, _ whole: Int, empty: Double) -> Double {
        whole > 0 ? Double(part) / Double(whole) : empty
    }
}

public struct NumericSummary: Sendable, Equatable {
    public var min: Double
    public var max: Double
    public var mean: Double
    /// Sample standard deviation and variance (n - 1 in the denominator, as pandas).
    public var std: Double
    public var variance: Double
    /// Adjusted Fisher-Pearson skewness (pandas' `skew()`); 0 below three values or without spread.
    public var skewness: Double
    /// Excess kurtosis with the small-sample adjustment (pandas' `kurt()`); 0 below four values.
    public var kurtosis: Double
    public var zeroRatio: Double
    public var negativeRatio: Double
    /// Share of values beyond 1.5 IQR from the quartiles (Tukey's fences).
    public var outlierRatio: Double
    /// Linearly interpolated quantiles (numpy's default) when the column is exact.
    public var quantiles: Quantiles
    public var histogram: Histogram
    /// How the numbers were written: decimal comma, currency signs, percent, digit groups.
    public var decimal: DecimalStyle
    public var currency: Bool
    public var percent: Bool
    public var thousandsSeparators: Bool

    public init(
        min: Double, max: Double, mean: Double, std: Double, variance: Double, skewness: Double, kurtosis: Double,
        zeroRatio: Double, negativeRatio: Double, outlierRatio: Double, quantiles: Quantiles, histogram: Histogram,
        decimal: DecimalStyle = .point, currency: Bool = false, percent: Bool = false, thousandsSeparators: Bool = false
    ) {
        self.min = min
        self.max = max
        self.mean = mean
        self.std = std
        self.variance = variance
        self.skewness = skewness
        self.kurtosis = kurtosis
        self.zeroRatio = zeroRatio
        self.negativeRatio = negativeRatio
        self.outlierRatio = outlierRatio
        self.quantiles = quantiles
        self.histogram = histogram
        self.decimal = decimal
        self.currency = currency
        self.percent = percent
        self.thousandsSeparators = thousandsSeparators
    }

    /// The summary of a numeric column whose numbers are unknown (all zero).
    public static let zero = NumericSummary(
        min: 0, max: 0, mean: 0, std: 0, variance: 0, skewness: 0, kurtosis: 0, zeroRatio: 0, negativeRatio: 0, outlierRatio: 0,
        quantiles: Quantiles([0, 0, 0, 0, 0, 0, 0]), histogram: Histogram(lower: 0, upper: 0, counts: []))

    public struct Quantiles: Sendable, Equatable {
        public var p01, p05, p25, p50, p75, p95, p99: Double
        /// The probabilities, in the order of `array`.
        public static let levels = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
        public var array: [Double] { [self.p01, self.p05, self.p25, self.p50, self.p75, self.p95, self.p99] }

        /// From seven values in the order of `levels` (missing ones read as 0).
        public init(_ values: [Double]) {
            func at(_ index: Int) -> Double { index < values.count ? values[index] : 0 }
            (self.p01, self.p05, self.p25, self.p50, self.p75, self.p95, self.p99) = (at(0), at(1), at(2), at(3), at(4), at(5), at(6))
        }
    }

    /// Equal-width bins from `lower` to `upper`.
    public struct Histogram: Sendable, Equatable {
        public var lower: Double
        public var upper: Double
        public var counts: [Int]

        public init(lower: Double, upper: Double, counts: [Int]) {
            self.lower = lower
            self.upper = upper
            self.counts = counts
        }
    }
}

public struct TextSummary: Sendable, Equatable {
    /// Lengths in characters.
    public var minLength: Int
    public var maxLength: Int
    public var meanLength: Double

    public init(minLength: Int, maxLength: Int, meanLength: Double) {
        self.minLength = minLength
        self.maxLength = maxLength
        self.meanLength = meanLength
    }
}

public struct DateSummary: Sendable, Equatable {
    /// Unix seconds (UTC).
    public var minUnix: Int64
    public var maxUnix: Int64
    /// strftime-style, e.g. "%d/%m/%Y".
    public var format: String
    /// Whether the values carry a time of day (ISO forms then include it).
    public var hasTime: Bool

    public init(minUnix: Int64, maxUnix: Int64, format: String, hasTime: Bool) {
        self.minUnix = minUnix
        self.maxUnix = maxUnix
        self.format = format
        self.hasTime = hasTime
    }

    /// ISO 8601 (UTC).
    public var min: String { CivilTime.iso(self.minUnix, time: self.hasTime) }
    public var max: String { CivilTime.iso(self.maxUnix, time: self.hasTime) }
}

public struct BooleanSummary: Sendable, Equatable {
    public var trueCount: Int
    public var falseCount: Int

    public init(trueCount: Int, falseCount: Int) {
        self.trueCount = trueCount
        self.falseCount = falseCount
    }
}

public struct ValueCount: Sendable, Equatable {
    public var value: String
    public var count: Int

    public init(value: String, count: Int) {
        self.value = value
        self.count = count
    }
}

/// Dates from Unix seconds without Foundation's calendars.
public enum CivilTime {
    /// "2024-03-01", or "2024-03-01T12:00:00Z" with `time`.
    public static func iso(_ seconds: Int64, time: Bool) -> String {
        // Clamped to ±10,000 years so the arithmetic below cannot overflow.
        let seconds = Swift.min(Swift.max(seconds, -315_569_520_000), 315_569_520_000)
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
}

/// An order the values of a categorical column follow (sizes, Likert answers, grades, ...).
public enum OrderedScale: String, Sendable, Equatable, CaseIterable {
    case size, level, agreement, frequency, quality
    case letterGrade = "letter_grade"
    case clarity, education, rank

    /// How a person reads it in an explanation.
    public var readable: String {
        switch self {
        case .size: "sizes"
        case .level: "levels (low to high)"
        case .agreement: "agreement (Likert)"
        case .frequency: "frequencies (never to always)"
        case .quality: "quality grades"
        case .letterGrade: "letter grades"
        case .clarity: "clarity grades"
        case .education: "education levels"
        case .rank: "ranks"
        }
    }
}
