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

extension Dialect {
    /// Bytes that end a run of ordinary bytes: outside quotes (delimiter, quote, CR, LF) and inside
    /// quotes (quote, CR, LF, and backslash with backslash escapes). The tokenizer and the row
    /// boundary scanner skip everything else in bulk.
    var specialBytes: (outside: [Bool], inside: [Bool]) {
        var outside = [Bool](repeating: false, count: 256)
        var inside = [Bool](repeating: false, count: 256)
        for byte in [UInt8(ascii: "\n"), UInt8(ascii: "\r")] {
            outside[Int(byte)] = true
            inside[Int(byte)] = true
        }
        outside[Int(self.delimiter)] = true
        if let quote = self.quote {
            outside[Int(quote)] = true
            inside[Int(quote)] = true
        }
        if self.escape == .backslash { inside[Int(UInt8(ascii: "\\"))] = true }
        return (outside, inside)
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

/// A row that breaks a limit; names the physical line (1-based) where the row starts.
public struct TokenizerError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case fieldTooLarge
        case tooManyColumns
        case rowTooLarge
    }

    public var kind: Kind
    public var line: Int
    public var limit: Int

    public init(kind: Kind, line: Int, limit: Int) {
        self.kind = kind
        self.line = line
        self.limit = limit
    }

    /// What is wrong, without the line.
    public var message: String {
        switch self.kind {
        case .fieldTooLarge: "a field is longer than the limit of \(self.limit) bytes (an unclosed quote?)"
        case .tooManyColumns: "more than the limit of \(self.limit) columns"
        case .rowTooLarge: "the row is longer than the limit of \(self.limit) bytes (an unclosed quote?)"
        }
    }

    public var description: String { "line \(self.line): \(self.message)" }
}

/// One parsed row, valid only inside the callback that receives it: the fields' bytes (quotes
/// removed, escapes resolved) sit back to back in one buffer, so no field is copied twice.
public struct CSVRow {
    public let bytes: UnsafeBufferPointer<UInt8>
    /// ends[i] is the offset one past field i.
    public let ends: UnsafeBufferPointer<Int>
    /// Physical line (1-based) where the row starts.
    public let line: Int

    public var count: Int { self.ends.count }

    public subscript(index: Int) -> UnsafeBufferPointer<UInt8> {
        let start = index == 0 ? 0 : self.ends[index - 1]
        return UnsafeBufferPointer(rebasing: self.bytes[start..<self.ends[index]])
    }

    public func string(_ index: Int) -> String { String(decoding: self[index], as: UTF8.self) }

    public var strings: [String] { (0..<self.count).map(self.string) }
}

/// Splits UTF-8 text into rows of fields, chunk by chunk (a quoted field may span any number of
/// chunks and lines). RFC 4180 plus what real files do: quotes inside unquoted fields are kept
/// as text, text after a closing quote is kept, CRLF, LF and CR-only line ends, blank lines
/// skipped, a last line without a terminator. Runs of ordinary bytes are copied in bulk.
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
    /// Bytes that end a run outside quotes (delimiter, quote, CR, LF) and inside quotes (quote,
    /// CR, LF, backslash with backslash escapes).
    private let specialOutside: [Bool]
    private let specialInside: [Bool]
    private var state = State.fieldStart
    private var bytes: [UInt8] = []
    private var ends: [Int] = []
    private var fieldStart = 0
    /// The previous byte was a CR (a following LF belongs to the same line end).
    private var afterCR = false
    /// Physical line of the next byte (1-based).
    public private(set) var line = 1
    private var rowLine = 1
    /// Rows emitted (blank lines are not rows).
    public private(set) var rowsEmitted = 0

    public init(dialect: Dialect, limits: TokenizerLimits = .init(), firstLine: Int = 1) {
        self.dialect = dialect
        self.limits = limits
        self.line = firstLine
        self.rowLine = firstLine
        (self.specialOutside, self.specialInside) = dialect.specialBytes
        self.bytes.reserveCapacity(4096)
        self.ends.reserveCapacity(64)
    }

    public mutating func feed(_ chunk: some Collection<UInt8>, emit: (CSVRow) throws -> Void) throws {
        let done: Void? = try chunk.withContiguousStorageIfAvailable { try self.feed($0, emit: emit) }
        if done == nil { try Array(chunk).withUnsafeBufferPointer { try self.feed($0, emit: emit) } }
    }

    /// Feeds `input`; `emit` receives each completed row.
    public mutating func feed(_ input: UnsafeBufferPointer<UInt8>, emit: (CSVRow) throws -> Void) throws {
        let count = input.count
        guard count > 0, let base = input.baseAddress else { return }
        let delimiter = self.dialect.delimiter
        let quote = self.dialect.quote
        let backslash = self.dialect.escape == .backslash
        let lf = UInt8(ascii: "\n")
        let cr = UInt8(ascii: "\r")
        var index = 0
        try self.specialOutside.withUnsafeBufferPointer { outside in
            try self.specialInside.withUnsafeBufferPointer { inside in
                while index < count {
                    let byte = base[index]
                    // Line counting: CR, LF and CRLF each end one line.
                    let wasAfterCR = self.afterCR
                    self.afterCR = false
                    switch self.state {
                    case .fieldStart, .unquoted:
                        if byte == lf && wasAfterCR && self.state == .fieldStart && self.ends.isEmpty
                            && self.bytes.isEmpty
                        {
                            index += 1  // the LF of a CRLF that already ended the row
                            continue
                        }
                        if !outside[Int(byte)] {
                            let start = index
                            index += 1
                            while index < count && !outside[Int(base[index])] { index += 1 }
                            try self.append(UnsafeBufferPointer(start: base + start, count: index - start))
                            self.state = .unquoted
                            continue
                        }
                        if byte == delimiter {
                            try self.endField()
                        } else if byte == lf || byte == cr {
                            if !(byte == lf && wasAfterCR) { self.line += 1 }
                            self.afterCR = byte == cr
                            try self.endRow(emit: emit)
                        } else if self.state == .fieldStart {  // the quote opens a quoted field
                            self.state = .quoted
                        } else {  // a quote inside an unquoted field is text
                            try self.append(UnsafeBufferPointer(start: base + index, count: 1))
                        }
                        index += 1
                    case .quoted:
                        if !inside[Int(byte)] {
                            let start = index
                            index += 1
                            while index < count && !inside[Int(base[index])] { index += 1 }
                            try self.append(UnsafeBufferPointer(start: base + start, count: index - start))
                            continue
                        }
                        if byte == quote {
                            self.state = .quoteInQuoted
                        } else if byte == lf || byte == cr {
                            if !(byte == lf && wasAfterCR) { self.line += 1 }
                            self.afterCR = byte == cr
                            try self.append(UnsafeBufferPointer(start: base + index, count: 1))
                        } else {  // backslash
                            self.state = .escapedInQuoted
                        }
                        index += 1
                    case .escapedInQuoted:
                        if byte == cr || (byte == lf && !wasAfterCR) { self.line += 1 }
                        self.afterCR = byte == cr
                        try self.append(UnsafeBufferPointer(start: base + index, count: 1))
                        self.state = .quoted
                        index += 1
                    case .quoteInQuoted:
                        if byte == quote && !backslash {
                            try self.append(UnsafeBufferPointer(start: base + index, count: 1))
                            self.state = .quoted
                        } else if byte == delimiter {
                            try self.endField()
                        } else if byte == lf || byte == cr {
                            self.line += 1
                            self.afterCR = byte == cr
                            try self.endRow(emit: emit)
                        } else {
                            // Text after a closing quote ("abc"def): keep it, as spreadsheets do.
                            try self.append(UnsafeBufferPointer(start: base + index, count: 1))
                            self.state = .unquoted
                        }
                        index += 1
                    }
                }
            }
        }
    }

    /// Ends the input: a last row without a line terminator is emitted.
    public mutating func finish(emit: (CSVRow) throws -> Void) throws {
        if self.state != .fieldStart || !self.bytes.isEmpty || !self.ends.isEmpty {
            try self.endRow(emit: emit)
        }
    }

    @inline(__always)
    private mutating func append(_ run: UnsafeBufferPointer<UInt8>) throws {
        self.bytes.append(contentsOf: run)
        if self.bytes.count - self.fieldStart > self.limits.maxFieldBytes {
            throw TokenizerError(kind: .fieldTooLarge, line: self.rowLine, limit: self.limits.maxFieldBytes)
        }
        if self.bytes.count > self.limits.maxRowBytes {
            throw TokenizerError(kind: .rowTooLarge, line: self.rowLine, limit: self.limits.maxRowBytes)
        }
    }

    @inline(__always)
    private mutating func endField() throws {
        self.ends.append(self.bytes.count)
        self.fieldStart = self.bytes.count
        self.state = .fieldStart
        if self.ends.count > self.limits.maxColumns {
            throw TokenizerError(kind: .tooManyColumns, line: self.rowLine, limit: self.limits.maxColumns)
        }
    }

    private mutating func endRow(emit: (CSVRow) throws -> Void) throws {
        let blank = self.ends.isEmpty && self.bytes.isEmpty && self.state == .fieldStart
        if !blank {
            try self.endField()
            self.rowsEmitted += 1
            try self.bytes.withUnsafeBufferPointer { bytes in
                try self.ends.withUnsafeBufferPointer { ends in
                    try emit(CSVRow(bytes: bytes, ends: ends, line: self.rowLine))
                }
            }
            self.bytes.removeAll(keepingCapacity: true)
            self.ends.removeAll(keepingCapacity: true)
            self.fieldStart = 0
            self.state = .fieldStart
        }
        self.rowLine = self.line
    }
}
