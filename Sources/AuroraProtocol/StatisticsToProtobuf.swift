import AuroraStatistics

// Statistics to their wire messages (profile.proto). The only place that writes them.

extension ColumnKind {
    public var message: Aurora_Profile_V1_ColumnType {
        switch self {
        case .integer: .integer
        case .float: .float
        case .boolean: .boolean
        case .date: .date
        case .datetime: .datetime
        case .categorical: .categorical
        case .text: .text
        case .identifier: .identifier
        case .empty: .empty
        }
    }
}

extension OrderedScale {
    public var message: Aurora_Profile_V1_OrderedScale {
        switch self {
        case .size: .size
        case .level: .level
        case .agreement: .agreement
        case .frequency: .frequency
        case .quality: .quality
        case .letterGrade: .letterGrade
        case .clarity: .clarity
        case .education: .education
        case .rank: .rank
        }
    }
}

extension ColumnStatistics {
    public var message: Aurora_Profile_V1_ColumnStatistics {
        var stats = Aurora_Profile_V1_ColumnStatistics()
        stats.type = self.kind.message
        stats.count = UInt64(clamping: self.count)
        stats.missing = UInt64(clamping: self.missing)
        stats.distinctEstimate = UInt64(clamping: self.distinct)
        stats.invalid = UInt64(clamping: self.invalid)
        stats.exact = self.exact
        stats.topValueRatio = self.topValueRatio
        stats.orderedScale = self.orderedScale?.message ?? .unspecified
        stats.topValues = self.topValues.map { value in
            var count = Aurora_Profile_V1_ValueCount()
            count.value = value.value
            count.count = UInt64(clamping: value.count)
            return count
        }
        if let numeric = self.numeric {
            var n = Aurora_Profile_V1_NumericStats()
            n.min = numeric.min
            n.max = numeric.max
            n.mean = numeric.mean
            n.variance = numeric.variance
            n.skewness = numeric.skewness
            n.kurtosis = numeric.kurtosis
            n.zeroRatio = numeric.zeroRatio
            n.negativeRatio = numeric.negativeRatio
            n.outlierRatio = numeric.outlierRatio
            n.quantiles = numeric.quantiles.array
            n.histogram = numeric.histogram.counts.map { UInt64(clamping: $0) }
            n.decimalComma = numeric.decimal == .comma
            n.currency = numeric.currency
            n.percent = numeric.percent
            n.thousandsSeparators = numeric.thousandsSeparators
            stats.numeric = n
        }
        if let text = self.text {
            var t = Aurora_Profile_V1_TextStats()
            t.meanLength = text.meanLength
            t.minLength = UInt64(clamping: text.minLength)
            t.maxLength = UInt64(clamping: text.maxLength)
            stats.text = t
        }
        if let date = self.date {
            var d = Aurora_Profile_V1_DateStats()
            d.min = date.minUnix
            d.max = date.maxUnix
            d.format = date.format
            stats.date = d
        }
        if let boolean = self.boolean {
            var b = Aurora_Profile_V1_BooleanStats()
            b.trueCount = UInt64(clamping: boolean.trueCount)
            b.falseCount = UInt64(clamping: boolean.falseCount)
            stats.boolean = b
        }
        return stats
    }

    /// What the learning-service may see: everything but the cell values (`topValues`).
    public var learningMessage: Aurora_Profile_V1_ColumnStatistics {
        var message = self.message
        message.topValues = []
        return message
    }
}

extension ColumnProfile {
    public var message: Aurora_Profile_V1_ColumnProfile {
        var message = Aurora_Profile_V1_ColumnProfile()
        message.index = UInt32(clamping: self.index)
        message.name = self.name
        message.typeReason = self.reason
        message.stats = self.stats.message
        return message
    }
}

extension DatasetProfile {
    public var message: Aurora_Profile_V1_DatasetProfile {
        var message = Aurora_Profile_V1_DatasetProfile()
        message.encoding = self.encoding
        message.bom = self.bom
        message.encodingConfidence = self.encodingConfidence
        message.encodingReason = self.encodingReason
        message.replacedCharacters = UInt64(clamping: self.replacedCharacters)
        var dialect = Aurora_Profile_V1_DialectInfo()
        dialect.delimiter = self.dialect.delimiter
        dialect.quote = self.dialect.quote ?? ""
        dialect.escape = self.dialect.escape ?? ""
        dialect.header = self.dialect.header
        dialect.skippedLines = UInt32(clamping: self.dialect.skippedLines)
        dialect.lineTerminator = self.dialect.lineTerminator
        dialect.reason = self.dialect.reason
        dialect.skipInitialSpace = self.dialect.skipInitialSpace
        dialect.confidence = self.dialect.confidence
        message.dialect = dialect
        message.bytes = UInt64(clamping: self.bytes)
        message.rows = UInt64(clamping: self.rows)
        message.malformedRows = UInt64(clamping: self.malformedRows)
        message.malformed = self.malformed.map { row in
            var malformed = Aurora_Profile_V1_MalformedRow()
            malformed.line = UInt64(clamping: row.line)
            malformed.fields = UInt32(clamping: row.fields)
            malformed.expected = UInt32(clamping: row.expected)
            return malformed
        }
        message.raggedPolicy = self.raggedPolicy.rawValue
        message.columns = self.columns.map(\.message)
        return message
    }
}
