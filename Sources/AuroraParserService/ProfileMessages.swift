import AuroraParser
import AuroraProtocol
import Foundation

/// Conversions between the parser's values and their wire messages.
extension ProfileOptions {
    /// Applies a client's ReadOptions; a bad value is an error that names the option.
    public mutating func apply(_ read: Aurora_Profile_V1_ReadOptions) throws(ReadOptionsError) {
        if !read.encoding.isEmpty {
            guard let encoding = TextEncoding(name: read.encoding) else { throw ReadOptionsError("unknown encoding '\(read.encoding)'") }
            self.encoding = encoding
        }
        if !read.delimiter.isEmpty {
            guard read.delimiter.utf8.count == 1, let byte = read.delimiter.utf8.first else { throw ReadOptionsError("delimiter must be one ASCII character") }
            self.dialect.delimiter = byte
        }
        if !read.quote.isEmpty {
            if read.quote.lowercased() == "none" {
                self.dialect.quote = .some(nil)
            } else {
                guard read.quote.utf8.count == 1, let byte = read.quote.utf8.first else { throw ReadOptionsError("quote must be one ASCII character or none") }
                self.dialect.quote = .some(byte)
            }
        }
        switch read.escape.lowercased() {
        case "": break
        case "double", "doubled": self.dialect.escape = .doubledQuote
        case "backslash": self.dialect.escape = .backslash
        default: throw ReadOptionsError("escape must be double or backslash")
        }
        if read.hasHeader { self.dialect.header = read.header }
        if read.hasSkipLines { self.dialect.skipLines = Int(read.skipLines) }
        if !read.ragged.isEmpty {
            guard let policy = RaggedPolicy(rawValue: read.ragged) else { throw ReadOptionsError("ragged must be pad, skip or fail") }
            self.raggedPolicy = policy
        }
        if read.useMissingMarkers { self.settings.missingMarkers = MissingMarkers(read.missingMarkers) }
    }

    public var readOptionsMessage: Aurora_Profile_V1_ReadOptions {
        var read = Aurora_Profile_V1_ReadOptions()
        if let encoding = self.encoding { read.encoding = encoding.rawValue }
        if let delimiter = self.dialect.delimiter { read.delimiter = String(UnicodeScalar(delimiter)) }
        if let quote = self.dialect.quote { read.quote = quote.map { String(UnicodeScalar($0)) } ?? "none" }
        if let escape = self.dialect.escape { read.escape = escape == .backslash ? "backslash" : "double" }
        if let header = self.dialect.header { read.header = header }
        if let lines = self.dialect.skipLines { read.skipLines = UInt32(lines) }
        read.ragged = self.raggedPolicy.rawValue
        if self.settings.missingMarkers != MissingMarkers() {
            read.useMissingMarkers = true
            read.missingMarkers = self.settings.missingMarkers.markers
        }
        return read
    }
}

public struct ReadOptionsError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension DatasetProfile {
    public var message: Aurora_Profile_V1_DatasetProfile {
        var message = Aurora_Profile_V1_DatasetProfile()
        message.encoding = self.encoding
        message.bom = self.bom
        message.encodingConfidence = self.encodingConfidence
        message.encodingReason = self.encodingReason
        message.replacedCharacters = UInt64(self.replacedCharacters)
        var dialect = Aurora_Profile_V1_DialectInfo()
        dialect.delimiter = self.dialect.delimiter
        dialect.quote = self.dialect.quote ?? ""
        dialect.escape = self.dialect.escape ?? ""
        dialect.header = self.dialect.header
        dialect.skippedLines = UInt32(self.dialect.skippedLines)
        dialect.lineTerminator = self.dialect.lineTerminator
        dialect.reason = self.dialect.reason
        message.dialect = dialect
        message.bytes = UInt64(self.bytes)
        message.rows = UInt64(self.rows)
        message.malformedRows = UInt64(self.malformedRows)
        message.malformed = self.malformed.map { row in
            var malformed = Aurora_Profile_V1_MalformedRow()
            malformed.line = UInt64(row.line)
            malformed.fields = UInt32(row.fields)
            malformed.expected = UInt32(row.expected)
            return malformed
        }
        message.raggedPolicy = self.raggedPolicy.rawValue
        message.columns = self.columns.map(\.message)
        return message
    }
}

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

extension ColumnProfile {
    public var message: Aurora_Profile_V1_ColumnProfile {
        var message = Aurora_Profile_V1_ColumnProfile()
        message.index = UInt32(self.index)
        message.name = self.name
        message.typeReason = self.reason
        var stats = Aurora_Profile_V1_ColumnStatistics()
        stats.type = self.type.message
        stats.count = UInt64(self.stats.count)
        stats.missing = UInt64(self.stats.missing)
        stats.distinctEstimate = UInt64(self.stats.distinct)
        stats.invalid = UInt64(self.stats.invalid)
        stats.topValueRatio = self.stats.topValueRatio
        stats.topValues = self.stats.topValues.map { value in
            var count = Aurora_Profile_V1_ValueCount()
            count.value = value.value
            count.count = UInt64(value.count)
            return count
        }
        if let numeric = self.stats.numeric {
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
            n.histogram = numeric.histogram.counts.map { UInt64($0) }
            n.decimalComma = numeric.decimal == .comma
            n.currency = numeric.currency
            n.percent = numeric.percent
            n.thousandsSeparators = numeric.thousandsSeparators
            stats.numeric = n
        }
        if let text = self.stats.text {
            var t = Aurora_Profile_V1_TextStats()
            t.meanLength = text.meanLength
            t.minLength = UInt64(text.minLength)
            t.maxLength = UInt64(text.maxLength)
            stats.text = t
        }
        if let date = self.stats.date {
            var d = Aurora_Profile_V1_DateStats()
            d.min = date.minUnix
            d.max = date.maxUnix
            d.format = date.format
            stats.date = d
        }
        if let boolean = self.stats.boolean {
            var b = Aurora_Profile_V1_BooleanStats()
            b.trueCount = UInt64(boolean.trueCount)
            b.falseCount = UInt64(boolean.falseCount)
            stats.boolean = b
        }
        message.stats = stats
        return message
    }
}
