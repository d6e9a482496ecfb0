/// How fields and rows are written in a file.
public struct Dialect: Sendable, Hashable {
    public enum Escape: Sendable, Hashable {
        /// A quote inside a quoted field is written twice (RFC 4180).
        case doubledQuote
        /// A quote (or any character) inside a quoted field is preceded by a backslash.
        case backslash
    }

    public var delimiter: UInt8
    /// nil: fields are never quoted.
    public var quote: UInt8?
    public var escape: Escape

    public init(delimiter: UInt8 = UInt8(ascii: ","), quote: UInt8? = UInt8(ascii: "\""), escape: Escape = .doubledQuote) {
        self.delimiter = delimiter
        self.quote = quote
        self.escape = escape
    }
}

/// Limits that keep one hostile row from taking unbounded memory.
public struct TokenizerLimits: Sendable, Hashable {
    public var maxFieldBytes: Int
    public var maxColumns: Int
    public var maxRowBytes: Int

    public init(maxFieldBytes: Int = 1 << 20, maxColumns: Int = 16_384, maxRowBytes: Int = 8 << 20) {
        self.maxFieldBytes = maxFieldBytes
        self.maxColumns = maxColumns
        self.maxRowBytes = maxRowBytes
    }
}

/// A row that breaks a limit; names the row (1-based, counting physical rows of the table).
public struct TokenizerError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case fieldTooLarge
        case tooManyColumns
        case rowTooLarge
    }

    public var kind: Kind
    public var row: Int
    public var limit: Int

    public init(kind: Kind, row: Int, limit: Int) {
        self.kind = kind
        self.row = row
        self.limit = limit
    }

    public var description: String {
        switch self.kind {
        case .fieldTooLarge: "row \(self.row): a field is longer than the limit of \(self.limit) bytes"
        case .tooManyColumns: "row \(self.row): more than the limit of \(self.limit) columns"
        case .rowTooLarge: "row \(self.row): the row is longer than the limit of \(self.limit) bytes"
        }
    }
}

/// Splits UTF-8 text into rows of fields, chunk by chunk (a quoted field may span any number of
/// chunks and lines). RFC 4180 plus what real files do: quotes inside unquoted fields are kept
/// as text, a quote followed by text after a closing quote keeps the text, CRLF, LF and CR-only
/// line ends, blank lines skipped, a last line without a terminator.
public struct CSVTokenizer: Sendable {
    private enum State {
        case fieldStart
        case unquoted
        case quoted
        /// Inside a quoted field, just after a quote: closing, or the first of a doubled quote.
        case quoteInQuoted
        /// Inside a quoted field, just after a backslash.
        case escapedInQuoted
    }

    public let dialect: Dialect
    public let limits: TokenizerLimits
    private var state = State.fieldStart
    private var field: [UInt8] = []
    private var row: [String] = []
    private var rowBytes = 0
    private var lastWasCR = false
    /// Physical rows emitted (blank lines not counted).
    public private(set) var rowsEmitted = 0

    public init(dialect: Dialect, limits: TokenizerLimits = .init()) {
        self.dialect = dialect
        self.limits = limits
    }

    /// Feeds `bytes`; `emit` receives each completed row.
    public mutating func feed(_ bytes: some Sequence<UInt8>, emit: (inout [String]) throws -> Void) throws {
        let delimiter = self.dialect.delimiter
        let quote = self.dialect.quote
        let backslash = self.dialect.escape == .backslash
        for byte in bytes {
            // A LF right after a CR that ended a row belongs to that line end.
            if self.lastWasCR {
                self.lastWasCR = false
                if byte == UInt8(ascii: "\n") && self.state == .fieldStart && self.row.isEmpty && self.field.isEmpty {
                    continue
                }
            }
            switch self.state {
            case .fieldStart, .unquoted:
                if byte == delimiter {
                    try self.endField()
                } else if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                    try self.endRow(emit: emit)
                    self.lastWasCR = byte == UInt8(ascii: "\r")
                } else if let quote, byte == quote, self.state == .fieldStart {
                    self.state = .quoted
                } else {
                    try self.append(byte)
                    self.state = .unquoted
                }
            case .quoted:
                if let quote, byte == quote {
                    self.state = .quoteInQuoted
                } else if backslash && byte == UInt8(ascii: "\\") {
                    self.state = .escapedInQuoted
                } else {
                    try self.append(byte)
                }
            case .escapedInQuoted:
                try self.append(byte)
                self.state = .quoted
            case .quoteInQuoted:
                if let quote, byte == quote, !backslash {
                    try self.append(quote)
                    self.state = .quoted
                } else if byte == delimiter {
                    try self.endField()
                } else if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                    try self.endRow(emit: emit)
                    self.lastWasCR = byte == UInt8(ascii: "\r")
                } else {
                    // Text after a closing quote ("abc"def): keep it, as spreadsheets do.
                    try self.append(byte)
                    self.state = .unquoted
                }
            }
        }
    }

    /// Ends the input: a last row without a line terminator is emitted.
    public mutating func finish(emit: (inout [String]) throws -> Void) throws {
        if self.state != .fieldStart || !self.field.isEmpty || !self.row.isEmpty {
            try self.endRow(emit: emit)
        }
    }

    private mutating func append(_ byte: UInt8) throws {
        self.field.append(byte)
        self.rowBytes += 1
        if self.field.count > self.limits.maxFieldBytes {
            throw TokenizerError(kind: .fieldTooLarge, row: self.rowsEmitted + 1, limit: self.limits.maxFieldBytes)
        }
        if self.rowBytes > self.limits.maxRowBytes {
            throw TokenizerError(kind: .rowTooLarge, row: self.rowsEmitted + 1, limit: self.limits.maxRowBytes)
        }
    }

    private mutating func endField() throws {
        self.row.append(String(decoding: self.field, as: UTF8.self))
        self.field.removeAll(keepingCapacity: true)
        self.state = .fieldStart
        if self.row.count > self.limits.maxColumns {
            throw TokenizerError(kind: .tooManyColumns, row: self.rowsEmitted + 1, limit: self.limits.maxColumns)
        }
    }

    private mutating func endRow(emit: (inout [String]) throws -> Void) throws {
        let blank = self.row.isEmpty && self.field.isEmpty && self.state == .fieldStart
        if blank { return }
        try self.endField()
        self.rowsEmitted += 1
        try emit(&self.row)
        self.row.removeAll(keepingCapacity: true)
        self.rowBytes = 0
    }
}
