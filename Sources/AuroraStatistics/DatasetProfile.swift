/// What to do with a row whose field count differs from the table's.
public enum RaggedPolicy: String, Sendable, Codable, CaseIterable {
    /// Pad short rows with missing cells, drop the extra cells of long rows.
    case pad
    /// Leave the row out of the statistics.
    case skip
    /// Stop with an error naming the line.
    case fail
}

public struct DialectReport: Sendable, Equatable {
    public var delimiter: String
    /// nil: fields are never quoted.
    public var quote: String?
    /// nil: no escape; equal to `quote`: a doubled quote.
    public var escape: String?
    public var header: Bool
    public var skippedLines: Int
    public var lineTerminator: String
    public var reason: String
    /// Spaces right after a delimiter are not part of the next field (`a, "b, c"`).
    public var skipInitialSpace: Bool
    /// 0.5 (another delimiter reads the file as well; the reason names it) to 1.
    public var confidence: Double

    public init(
        delimiter: String, quote: String?, escape: String?, header: Bool, skippedLines: Int, lineTerminator: String, reason: String,
        skipInitialSpace: Bool = false, confidence: Double = 1
    ) {
        self.confidence = confidence
        self.delimiter = delimiter
        self.quote = quote
        self.escape = escape
        self.skipInitialSpace = skipInitialSpace
        self.header = header
        self.skippedLines = skippedLines
        self.lineTerminator = lineTerminator
        self.reason = reason
    }
}

public struct MalformedRow: Sendable, Equatable {
    /// Physical line (1-based) where the row starts.
    public var line: Int
    public var fields: Int
    public var expected: Int

    public init(line: Int, fields: Int, expected: Int) {
        self.line = line
        self.fields = fields
        self.expected = expected
    }
}

public struct ColumnProfile: Sendable, Equatable {
    /// Zero-based position in the table.
    public var index: Int
    /// Clear text: only ever shown to the user who owns the file.
    public var name: String
    /// One line on why the type was chosen.
    public var reason: String
    public var stats: ColumnStatistics

    public init(index: Int, name: String, reason: String, stats: ColumnStatistics) {
        self.index = index
        self.name = name
        self.reason = reason
        self.stats = stats
    }

    public var type: ColumnKind { self.stats.kind }
}

/// A file's profile: how it was read and what each column holds.
public struct DatasetProfile: Sendable, Equatable {
    public var encoding: String
    public var bom: Bool
    public var encodingConfidence: Double
    public var encodingReason: String
    /// Bytes that were invalid in the encoding, read as U+FFFD.
    public var replacedCharacters: Int
    public var dialect: DialectReport
    public var bytes: Int
    /// Data rows (header and skipped lines not counted).
    public var rows: Int
    public var malformedRows: Int
    /// The first malformed rows (a bounded list; `malformedRows` has the count).
    public var malformed: [MalformedRow]
    public var raggedPolicy: RaggedPolicy
    public var columns: [ColumnProfile]

    public init(
        encoding: String, bom: Bool, encodingConfidence: Double, encodingReason: String, replacedCharacters: Int, dialect: DialectReport,
        bytes: Int, rows: Int, malformedRows: Int, malformed: [MalformedRow], raggedPolicy: RaggedPolicy, columns: [ColumnProfile]
    ) {
        self.encoding = encoding
        self.bom = bom
        self.encodingConfidence = encodingConfidence
        self.encodingReason = encodingReason
        self.replacedCharacters = replacedCharacters
        self.dialect = dialect
        self.bytes = bytes
        self.rows = rows
        self.malformedRows = malformedRows
        self.malformed = malformed
        self.raggedPolicy = raggedPolicy
        self.columns = columns
    }
}
