/// What to do with a row whose field count differs from the table's.
public enum RaggedPolicy: String, Sendable, Codable, CaseIterable {
    /// Pad short rows with missing cells, drop the extra cells of long rows.
    case pad
    /// Leave the row out of the statistics.
    case skip
    /// Stop with an error naming the line.
    case fail
}

public struct DialectReport: Sendable, Codable, Equatable {
    public var delimiter: String
    public var quote: String?
    public var escape: String?
    public var header: Bool
    public var skippedLines: Int
    public var lineTerminator: String
    public var reason: String
}

public struct MalformedRow: Sendable, Codable, Equatable {
    /// Physical line (1-based) where the row starts.
    public var line: Int
    public var fields: Int
    public var expected: Int
}

/// A file's profile: how it was read and what each column holds.
public struct DatasetProfile: Sendable, Codable, Equatable {
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
    /// The first malformed rows (a bounded list; `malformed_rows` has the count).
    public var malformed: [MalformedRow]
    public var raggedPolicy: RaggedPolicy
    public var columns: [ColumnProfile]
}

/// A row that breaks the ragged policy `fail`, or a file that cannot be read.
public struct ProfileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var line: Int?

    public init(_ message: String, line: Int? = nil) {
        self.message = message
        self.line = line
    }

    public var description: String { self.line.map { "line \($0): \(self.message)" } ?? self.message }
}
