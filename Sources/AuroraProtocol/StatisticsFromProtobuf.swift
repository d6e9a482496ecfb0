import AuroraStatistics

// Wire messages (profile.proto) to statistics. The only place that reads them. Counts beyond
// Int are clamped; a service validates a request (RequestValidation) before it converts it.

extension ColumnKind {
    /// nil for COLUMN_TYPE_UNSPECIFIED and values this build does not know.
    public init?(_ message: Aurora_Profile_V1_ColumnType) {
        switch message {
        case .integer: self = .integer
        case .float: self = .float
        case .boolean: self = .boolean
        case .date: self = .date
        case .datetime: self = .datetime
        case .categorical: self = .categorical
        case .text: self = .text
        case .identifier: self = .identifier
        case .empty: self = .empty
        default: return nil
        }
    }
}

extension OrderedScale {
    /// nil for ORDERED_SCALE_UNSPECIFIED and values this build does not know.
    public init?(_ message: Aurora_Profile_V1_OrderedScale) {
        switch message {
        case .size: self = .size
        case .level: self = .level
        case .agreement: self = .agreement
        case .frequency: self = .frequency
        case .quality: self = .quality
        case .letterGrade: self = .letterGrade
        case .clarity: self = .clarity
        case .education: self = .education
        case .rank: self = .rank
        default: return nil
        }
    }
}

extension ColumnStatistics {
    /// An unknown type reads as `.empty` (validation refuses it before).
    public init(_ message: Aurora_Profile_V1_ColumnStatistics) {
        let kind = ColumnKind(message.type) ?? .empty
        self.init(
            kind: kind, count: Int(clamping: message.count), missing: Int(clamping: message.missing),
            distinct: Int(clamping: message.distinctEstimate), invalid: Int(clamping: message.invalid), exact: message.exact,
            topValues: message.topValues.map { ValueCount(value: $0.value, count: Int(clamping: $0.count)) },
            topValueRatio: message.topValueRatio)
        self.orderedScale = OrderedScale(message.orderedScale)
        if message.hasNumeric {
            let n = message.numeric
            self.numeric = NumericSummary(
                min: n.min, max: n.max, mean: n.mean, std: n.variance > 0 ? n.variance.squareRoot() : 0, variance: n.variance,
                skewness: n.skewness, kurtosis: n.kurtosis, zeroRatio: n.zeroRatio, negativeRatio: n.negativeRatio,
                outlierRatio: n.outlierRatio, quantiles: NumericSummary.Quantiles(n.quantiles),
                histogram: .init(lower: n.min, upper: n.max, counts: n.histogram.map { Int(clamping: $0) }),
                decimal: n.decimalComma ? .comma : .point, currency: n.currency, percent: n.percent,
                thousandsSeparators: n.thousandsSeparators)
        }
        if message.hasText {
            let t = message.text
            self.text = TextSummary(minLength: Int(clamping: t.minLength), maxLength: Int(clamping: t.maxLength), meanLength: t.meanLength)
        }
        if message.hasDate {
            let d = message.date
            self.date = DateSummary(minUnix: d.min, maxUnix: d.max, format: d.format, hasTime: kind == .datetime)
        }
        if message.hasBoolean {
            let b = message.boolean
            self.boolean = BooleanSummary(trueCount: Int(clamping: b.trueCount), falseCount: Int(clamping: b.falseCount))
        }
    }
}

extension ColumnProfile {
    public init(_ message: Aurora_Profile_V1_ColumnProfile) {
        self.init(index: Int(message.index), name: message.name, reason: message.typeReason, stats: ColumnStatistics(message.stats))
    }
}

extension DatasetProfile {
    public init(_ message: Aurora_Profile_V1_DatasetProfile) {
        let d = message.dialect
        self.init(
            encoding: message.encoding, bom: message.bom, encodingConfidence: message.encodingConfidence,
            encodingReason: message.encodingReason, replacedCharacters: Int(clamping: message.replacedCharacters),
            dialect: DialectReport(
                delimiter: d.delimiter, quote: d.quote.isEmpty ? nil : d.quote, escape: d.escape.isEmpty ? nil : d.escape,
                header: d.header, skippedLines: Int(d.skippedLines), lineTerminator: d.lineTerminator, reason: d.reason,
                skipInitialSpace: d.skipInitialSpace, confidence: d.confidence),
            bytes: Int(clamping: message.bytes), rows: Int(clamping: message.rows), malformedRows: Int(clamping: message.malformedRows),
            malformed: message.malformed.map { MalformedRow(line: Int(clamping: $0.line), fields: Int($0.fields), expected: Int($0.expected)) },
            raggedPolicy: RaggedPolicy(rawValue: message.raggedPolicy) ?? .pad, columns: message.columns.map(ColumnProfile.init))
    }
}
