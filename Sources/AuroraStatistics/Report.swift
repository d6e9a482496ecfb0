/// The JSON that `aurora profile --json` and `aurora analyze --json` print: one model, the same
/// names, numbers as JSON numbers, every statistic present (zeros too; a summary that does not
/// apply is null). Protocol/schemas/report/analysis-report.schema.json documents it; a test checks it.
public struct AnalysisReport: Sendable, Encodable {
    /// Only for an analysis (the id `aurora feedback` quotes).
    public var analysisID: String?
    public var profile: DatasetProfile
    /// Per column index; only for an analysis.
    public var recommendations: [Int: RecommendationReport]
    /// What the user should know about the answer as a whole (e.g. learned rules missing because
    /// the learning-service was unavailable); only for an analysis, empty when all went well.
    public var warnings: [String]?

    public init(analysisID: String? = nil, profile: DatasetProfile, recommendations: [Int: RecommendationReport] = [:], warnings: [String]? = nil) {
        self.analysisID = analysisID
        self.profile = profile
        self.recommendations = recommendations
        self.warnings = warnings
    }

    enum Keys: String, CodingKey {
        case analysisID = "analysis_id", warnings, file, columns
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encodeIfPresent(self.analysisID, forKey: .analysisID)
        try container.encodeIfPresent(self.warnings, forKey: .warnings)
        try container.encode(FileReport(self.profile), forKey: .file)
        try container.encode(self.profile.columns.map { ColumnReport(column: $0, recommendation: self.recommendations[$0.index]) }, forKey: .columns)
    }
}

/// One column's recommendation as the user reads it.
public struct RecommendationReport: Sendable, Equatable, Encodable {
    public var action: String
    public var confidence: Double
    /// "builtin:<rule>", "learned:<id>" or "corrected:<rule>".
    public var source: String
    public var explanation: String
    public var alternatives: [Alternative]
    /// The preparation in order, `action` among them.
    public var steps: [Step]

    public struct Step: Sendable, Equatable, Encodable {
        public var action: String
        public var confidence: Double
        public var source: String
        public var explanation: String

        public init(action: String, confidence: Double, source: String, explanation: String) {
            self.action = action
            self.confidence = confidence
            self.source = source
            self.explanation = explanation
        }
    }

    public struct Alternative: Sendable, Equatable, Encodable {
        public var action: String
        public var confidence: Double
        public var source: String

        public init(action: String, confidence: Double, source: String) {
            self.action = action
            self.confidence = confidence
            self.source = source
        }
    }

    public init(action: String, confidence: Double, source: String, explanation: String, alternatives: [Alternative], steps: [Step] = []) {
        self.action = action
        self.confidence = confidence
        self.source = source
        self.explanation = explanation
        self.alternatives = alternatives
        self.steps = steps
    }
}

/// A Double as a JSON number; a non-finite one (never produced, but never a crash) as null.
struct JSONNumber: Encodable {
    let value: Double
    init(_ value: Double) { self.value = value }
    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if self.value.isFinite { try container.encode(self.value) } else { try container.encodeNil() }
    }
}

struct FileReport: Encodable {
    let profile: DatasetProfile
    init(_ profile: DatasetProfile) { self.profile = profile }

    enum Keys: String, CodingKey {
        case encoding, bom, encodingConfidence = "encoding_confidence", encodingReason = "encoding_reason"
        case replacedCharacters = "replaced_characters", bytes, rows, malformedRows = "malformed_rows", malformed
        case raggedPolicy = "ragged_policy", dialect
    }
    enum DialectKeys: String, CodingKey {
        case delimiter, quote, escape, skipInitialSpace = "skip_initial_space", confidence, header, skippedLines = "skipped_lines", lineTerminator = "line_terminator", reason
    }
    enum RowKeys: String, CodingKey { case line, fields, expected }

    func encode(to encoder: any Encoder) throws {
        let p = self.profile
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(p.encoding, forKey: .encoding)
        try c.encode(p.bom, forKey: .bom)
        try c.encode(JSONNumber(p.encodingConfidence), forKey: .encodingConfidence)
        try c.encode(p.encodingReason, forKey: .encodingReason)
        try c.encode(p.replacedCharacters, forKey: .replacedCharacters)
        try c.encode(p.bytes, forKey: .bytes)
        try c.encode(p.rows, forKey: .rows)
        try c.encode(p.malformedRows, forKey: .malformedRows)
        var rows = c.nestedUnkeyedContainer(forKey: .malformed)
        for row in p.malformed {
            var r = rows.nestedContainer(keyedBy: RowKeys.self)
            try r.encode(row.line, forKey: .line)
            try r.encode(row.fields, forKey: .fields)
            try r.encode(row.expected, forKey: .expected)
        }
        try c.encode(p.raggedPolicy.rawValue, forKey: .raggedPolicy)
        var d = c.nestedContainer(keyedBy: DialectKeys.self, forKey: .dialect)
        try d.encode(p.dialect.delimiter, forKey: .delimiter)
        try d.encode(p.dialect.quote, forKey: .quote)
        try d.encode(p.dialect.escape, forKey: .escape)
        try d.encode(p.dialect.skipInitialSpace, forKey: .skipInitialSpace)
        try d.encode(p.dialect.confidence, forKey: .confidence)
        try d.encode(p.dialect.header, forKey: .header)
        try d.encode(p.dialect.skippedLines, forKey: .skippedLines)
        try d.encode(p.dialect.lineTerminator, forKey: .lineTerminator)
        try d.encode(p.dialect.reason, forKey: .reason)
    }
}

struct ColumnReport: Encodable {
    let column: ColumnProfile
    let recommendation: RecommendationReport?

    enum Keys: String, CodingKey { case index, name, type, typeReason = "type_reason", stats, recommendation }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(self.column.index, forKey: .index)
        try c.encode(self.column.name, forKey: .name)
        try c.encode(self.column.type.rawValue, forKey: .type)
        try c.encode(self.column.reason, forKey: .typeReason)
        try c.encode(StatisticsReport(self.column.stats), forKey: .stats)
        try c.encodeIfPresent(self.recommendation, forKey: .recommendation)
    }
}

struct StatisticsReport: Encodable {
    let stats: ColumnStatistics
    init(_ stats: ColumnStatistics) { self.stats = stats }

    enum Keys: String, CodingKey {
        case count, missing, missingRatio = "missing_ratio", distinct, distinctRatio = "distinct_ratio", invalid, exact
        case topValues = "top_values", topValueRatio = "top_value_ratio", orderedScale = "ordered_scale", numeric, text, date, boolean
    }
    enum ValueKeys: String, CodingKey { case value, count }
    enum NumericKeys: String, CodingKey {
        case min, max, mean, std, variance, skewness, kurtosis, zeroRatio = "zero_ratio", negativeRatio = "negative_ratio"
        case outlierRatio = "outlier_ratio", quantiles, histogram, decimal, currency, percent
        case thousandsSeparators = "thousands_separators"
    }
    enum QuantileKeys: String, CodingKey { case p01, p05, p25, p50, p75, p95, p99 }
    enum HistogramKeys: String, CodingKey { case lower, upper, counts }
    enum TextKeys: String, CodingKey { case minLength = "min_length", maxLength = "max_length", meanLength = "mean_length" }
    enum DateKeys: String, CodingKey { case min, max, minUnix = "min_unix", maxUnix = "max_unix", format }
    enum BooleanKeys: String, CodingKey { case trueCount = "true_count", falseCount = "false_count" }

    func encode(to encoder: any Encoder) throws {
        let s = self.stats
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(s.count, forKey: .count)
        try c.encode(s.missing, forKey: .missing)
        try c.encode(JSONNumber(s.missingRatio), forKey: .missingRatio)
        try c.encode(s.distinct, forKey: .distinct)
        try c.encode(JSONNumber(s.distinctRatio), forKey: .distinctRatio)
        try c.encode(s.invalid, forKey: .invalid)
        try c.encode(s.exact, forKey: .exact)
        var values = c.nestedUnkeyedContainer(forKey: .topValues)
        for value in s.topValues {
            var v = values.nestedContainer(keyedBy: ValueKeys.self)
            try v.encode(value.value, forKey: .value)
            try v.encode(value.count, forKey: .count)
        }
        try c.encode(JSONNumber(s.topValueRatio), forKey: .topValueRatio)
        try c.encode(s.orderedScale?.rawValue, forKey: .orderedScale)
        if let n = s.numeric {
            var nc = c.nestedContainer(keyedBy: NumericKeys.self, forKey: .numeric)
            let fields: [(NumericKeys, Double)] = [
                (.min, n.min), (.max, n.max), (.mean, n.mean), (.std, n.std), (.variance, n.variance), (.skewness, n.skewness),
                (.kurtosis, n.kurtosis), (.zeroRatio, n.zeroRatio), (.negativeRatio, n.negativeRatio), (.outlierRatio, n.outlierRatio),
            ]
            for (key, value) in fields { try nc.encode(JSONNumber(value), forKey: key) }
            var q = nc.nestedContainer(keyedBy: QuantileKeys.self, forKey: .quantiles)
            let quantiles: [(QuantileKeys, Double)] = [
                (.p01, n.quantiles.p01), (.p05, n.quantiles.p05), (.p25, n.quantiles.p25), (.p50, n.quantiles.p50),
                (.p75, n.quantiles.p75), (.p95, n.quantiles.p95), (.p99, n.quantiles.p99),
            ]
            for (key, value) in quantiles { try q.encode(JSONNumber(value), forKey: key) }
            var h = nc.nestedContainer(keyedBy: HistogramKeys.self, forKey: .histogram)
            try h.encode(JSONNumber(n.histogram.lower), forKey: .lower)
            try h.encode(JSONNumber(n.histogram.upper), forKey: .upper)
            try h.encode(n.histogram.counts, forKey: .counts)
            try nc.encode(n.decimal.rawValue, forKey: .decimal)
            try nc.encode(n.currency, forKey: .currency)
            try nc.encode(n.percent, forKey: .percent)
            try nc.encode(n.thousandsSeparators, forKey: .thousandsSeparators)
        } else {
            try c.encodeNil(forKey: .numeric)
        }
        if let t = s.text {
            var tc = c.nestedContainer(keyedBy: TextKeys.self, forKey: .text)
            try tc.encode(t.minLength, forKey: .minLength)
            try tc.encode(t.maxLength, forKey: .maxLength)
            try tc.encode(JSONNumber(t.meanLength), forKey: .meanLength)
        } else {
            try c.encodeNil(forKey: .text)
        }
        if let d = s.date {
            var dc = c.nestedContainer(keyedBy: DateKeys.self, forKey: .date)
            try dc.encode(d.min, forKey: .min)
            try dc.encode(d.max, forKey: .max)
            try dc.encode(d.minUnix, forKey: .minUnix)
            try dc.encode(d.maxUnix, forKey: .maxUnix)
            try dc.encode(d.format, forKey: .format)
        } else {
            try c.encodeNil(forKey: .date)
        }
        if let b = s.boolean {
            var bc = c.nestedContainer(keyedBy: BooleanKeys.self, forKey: .boolean)
            try bc.encode(b.trueCount, forKey: .trueCount)
            try bc.encode(b.falseCount, forKey: .falseCount)
        } else {
            try c.encodeNil(forKey: .boolean)
        }
    }
}
