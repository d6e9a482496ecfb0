#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How fields and rows are written in a file.
public struct Dialect: Sendable, Hashable {
    public enum Escape: Sendable, Hashable {
        /// A quote inside a quoted field is written twice (RFC 4180).
        case doubledQuote
        /// A backslash makes the next character literal, inside quoted fields (a quote) and
        /// outside them (a delimiter, a line end, a backslash): MySQL's and PostgreSQL's text
        /// exports, Python's `escapechar`.
        case backslash
    }

    /// `noDelimiter` for a one-column file.
    public var delimiter: UInt8
    /// The delimiter of a one-column file: the ASCII unit separator, which text does not hold
    /// (the sniffer offers it only when the sample has none).
    public static let noDelimiter: UInt8 = 0x1F
    /// nil: fields are never quoted.
    public var quote: UInt8?
    public var escape: Escape
    /// Spaces right after a delimiter are skipped (`a, "b, c"`: the quote opens the field).
    public var skipInitialSpace: Bool = false

    public init(delimiter: UInt8 = UInt8(ascii: ","), quote: UInt8? = UInt8(ascii: "\""), escape: Escape = .doubledQuote) {
        self.delimiter = delimiter
        self.quote = quote
        self.escape = escape
    }
}

extension Dialect {
    /// Bytes that end a run of ordinary bytes: outside quotes (delimiter, quote, CR, LF) and inside
    /// quotes (quote, CR, LF, and backslash with backslash escapes). The tokenizer skips everything
    /// else in bulk.
    var specialByteSets: (outside: [UInt8], inside: [UInt8]) {
        var inside = [UInt8(ascii: "\n"), UInt8(ascii: "\r")]
        if let quote = self.quote { inside.append(quote) }
        var outside = inside + [self.delimiter]
        if self.escape == .backslash {
            inside.append(UInt8(ascii: "\\"))
            outside.append(UInt8(ascii: "\\"))  // not among the outside needles (they are full): found with memchr
        }
        return (outside, inside)
    }

    /// `specialByteSets` as tables, for testing one byte.
    var specialBytes: (outside: [Bool], inside: [Bool]) {
        func table(_ bytes: [UInt8]) -> [Bool] {
            var table = [Bool](repeating: false, count: 256)
            for byte in bytes { table[Int(byte)] = true }
            return table
        }
        let sets = self.specialByteSets
        return (table(sets.outside), table(sets.inside))
    }

    /// `specialByteSets` as needles of `ByteMaskWindow`s, for skipping runs of ordinary bytes
    /// (LF repeated where a set has fewer than four bytes).
    var specialNeedles: (outside: (UInt8, UInt8, UInt8, UInt8), inside: (UInt8, UInt8, UInt8, UInt8)) {
        let lf = UInt8(ascii: "\n")
        let cr = UInt8(ascii: "\r")
        let quote = self.quote ?? lf
        return ((self.delimiter, quote, lf, cr), (quote, lf, cr, self.escape == .backslash ? UInt8(ascii: "\\") : lf))
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
        case .fieldTooLarge:
            "a field is longer than the limit of \(self.limit) bytes (an unclosed quote? If the field is meant to be that long, raise the limit: --max-field-bytes, or AURORA_PARSER_MAX_FIELD_BYTES on the parser-service)"
        case .tooManyColumns:
            "more than the limit of \(self.limit) columns (raise it with --max-columns, or AURORA_PARSER_MAX_COLUMNS on the parser-service)"
        case .rowTooLarge:
            "the row is longer than the limit of \(self.limit) bytes (an unclosed quote? If the row is meant to be that long, raise the limit: --max-row-bytes, or AURORA_PARSER_MAX_ROW_BYTES on the parser-service)"
        }
    }

    public var description: String { "line \(self.line): \(self.message)" }
}

/// One parsed row, valid only inside the callback that receives it. A field points into the
/// input when its bytes are there as they are (most fields); only a field with escapes, or one
/// cut by the end of a chunk, is assembled in the tokenizer's own buffer.
public struct CSVRow {
    public let fields: UnsafeBufferPointer<UnsafeBufferPointer<UInt8>>
    /// Physical line (1-based) where the row starts.
    public let line: Int
    /// When every field points into the input: the input from the first field's start to the
    /// last field's end (fields, delimiters and quotes), to copy the row at once; nil otherwise.
    public let span: UnsafeBufferPointer<UInt8>?

    public var count: Int { self.fields.count }

    @inline(__always)
    public subscript(index: Int) -> UnsafeBufferPointer<UInt8> { self.fields[index] }

    public func string(_ index: Int) -> String { String(decoding: self[index], as: UTF8.self) }

    public var strings: [String] { (0..<self.count).map(self.string) }
}

/// Splits UTF-8 text into rows of fields, chunk by chunk (a quoted field may span any number of
/// chunks and lines). RFC 4180 plus what real files do: quotes inside unquoted fields are kept
/// as text, text after a closing quote is kept, CRLF, LF and CR-only line ends, blank lines
/// skipped, a last line without a terminator. Runs of ordinary bytes are skipped in bulk and
/// fields are not copied: a row hands out ranges of the input, except for fields that need
/// unescaping and the row cut by the end of a chunk, which go to a scratch buffer.
/// (Unchecked Sendable: the pointers in `cells` are used only while a row is being emitted.)
public struct CSVTokenizer: @unchecked Sendable {
    private enum State {
        case fieldStart
        case unquoted
        case quoted
        /// Inside a quoted field, just after a quote: closing, or the first of a doubled quote.
        case quoteInQuoted
        /// Inside a quoted field, just after a backslash.
        case escapedInQuoted
        /// Outside quotes, just after a backslash (backslash escapes).
        case escapedInUnquoted
    }

    /// A finished field of the current row: a range of the input or of `scratch`.
    private struct Span {
        var start: Int
        var end: Int
        var inScratch: Bool
    }

    public let dialect: Dialect
    public let limits: TokenizerLimits
    /// Bytes that end a run outside quotes (delimiter, quote, CR, LF) and inside quotes (quote,
    /// CR, LF, backslash with backslash escapes).
    private let specialOutside: [Bool]
    private let specialInside: [Bool]
    /// The same sets as needles of mask windows.
    private let needlesOutside: (UInt8, UInt8, UInt8, UInt8)
    private let needlesInside: (UInt8, UInt8, UInt8, UInt8)
    private var state = State.fieldStart
    /// The current row's finished fields: the first `spanCount` elements (the array is reused
    /// across rows; emptying it per row through removeAll costs more than the row).
    private var spans: [Span] = []
    private var spanCount = 0
    /// Bytes of fields that are not in the input as they are; emptied after each row.
    private var scratch: [UInt8] = []
    /// The current row's fields as pointers, rebuilt for each row.
    private var cells: [UnsafeBufferPointer<UInt8>] = []
    /// Where the current field's content starts: an input offset, or a scratch offset once
    /// `fieldInScratch` (then its content is everything from there to the end of `scratch`).
    private var fieldStart = 0
    private var fieldInScratch = false
    /// Bytes in the current row's finished fields.
    private var rowBytes = 0
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
        (self.needlesOutside, self.needlesInside) = dialect.specialNeedles
        self.scratch.reserveCapacity(4096)
        self.spans.reserveCapacity(64)
        self.cells.reserveCapacity(64)
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
        let skipSpaces = self.dialect.skipInitialSpace
        let lf = UInt8(ascii: "\n")
        let cr = UInt8(ascii: "\r")
        // Windows of this input (their indexes are offsets into it).
        var searchOutside = ByteMaskWindow(self.needlesOutside)
        var searchInside = ByteMaskWindow(self.needlesInside)
        var index = 0
        try self.specialOutside.withUnsafeBufferPointer { outside in
            try self.specialInside.withUnsafeBufferPointer { inside in
                while index < count {
                    let byte = base[index]
                    // Line counting: CR, LF and CRLF each end one line.
                    let wasAfterCR = self.afterCR
                    self.afterCR = false
                    switch self.state {
                    case .fieldStart:
                        if byte == lf && wasAfterCR && self.spanCount == 0 {
                            index += 1  // the LF of a CRLF that already ended the row
                            continue
                        }
                        // After a delimiter (not at a row's start), its spaces are no part of the field.
                        if skipSpaces && self.spanCount > 0 {
                            while index < count && base[index] == UInt8(ascii: " ") { index += 1 }
                            guard index < count else { continue }
                        }
                        // Unquoted fields one after another, without a trip through the state
                        // switch for each: the common case.
                        let entry = index
                        var start = index
                        while true {
                            let from = index
                            index = searchOutside.first(in: base, from: index, count: count)
                            if backslash { index = Self.backslash(base, from: from, to: index) }
                            guard index < count && base[index] == delimiter else { break }
                            self.fieldStart = start
                            self.fieldInScratch = false
                            try self.endField(input, contentEnd: index)
                            index += 1
                            if skipSpaces {
                                while index < count && base[index] == UInt8(ascii: " ") { index += 1 }
                            }
                            start = index
                        }
                        self.fieldStart = start
                        self.fieldInScratch = false
                        if index > start {
                            self.state = .unquoted  // it handles the byte that ended the run, if any
                            continue
                        }
                        guard index < count else { continue }
                        // A quote, CR, LF (or an escaping backslash) where a field starts.
                        let byte = base[index]
                        if backslash && byte == UInt8(ascii: "\\") {
                            try self.moveFieldToScratch(input, contentEnd: index)
                            self.state = .escapedInUnquoted
                            index += 1
                            continue
                        }
                        if byte == lf || byte == cr {
                            if !(byte == lf && wasAfterCR && index == entry) { self.line += 1 }
                            self.afterCR = byte == cr
                            if self.spanCount == 0 {
                                self.rowLine = self.line  // a blank line is not a row
                            } else {
                                try self.endField(input, contentEnd: index)
                                try self.endRow(base, emit: emit)
                            }
                        } else {  // the quote opens a quoted field
                            self.state = .quoted
                            self.fieldStart = index + 1
                        }
                        index += 1
                    case .unquoted:
                        if !outside[Int(byte)] {
                            let start = index
                            index += 1
                            index = searchOutside.first(in: base, from: index, count: count)
                            if backslash { index = Self.backslash(base, from: start + 1, to: index) }
                            if self.fieldInScratch { try self.appendToScratch(UnsafeBufferPointer(start: base + start, count: index - start)) }
                            continue
                        }
                        if byte == delimiter {
                            try self.endField(input, contentEnd: index)
                        } else if byte == lf || byte == cr {
                            if !(byte == lf && wasAfterCR) { self.line += 1 }
                            self.afterCR = byte == cr
                            try self.endField(input, contentEnd: index)
                            try self.endRow(base, emit: emit)
                        } else if backslash && byte == UInt8(ascii: "\\") {  // the next byte is literal
                            try self.moveFieldToScratch(input, contentEnd: index)
                            self.state = .escapedInUnquoted
                        } else if self.fieldInScratch {  // a quote inside an unquoted field is text
                            try self.appendToScratch(UnsafeBufferPointer(start: base + index, count: 1))
                        }
                        index += 1
                    case .escapedInUnquoted:
                        if byte == cr || (byte == lf && !wasAfterCR) { self.line += 1 }
                        self.afterCR = byte == cr
                        try self.appendToScratch(UnsafeBufferPointer(start: base + index, count: 1))
                        self.state = .unquoted
                        index += 1
                    case .quoted:
                        if !inside[Int(byte)] {
                            let start = index
                            index += 1
                            index = searchInside.first(in: base, from: index, count: count)
                            if self.fieldInScratch { try self.appendToScratch(UnsafeBufferPointer(start: base + start, count: index - start)) }
                            continue
                        }
                        if byte == quote {
                            self.state = .quoteInQuoted
                        } else if byte == lf || byte == cr {
                            if !(byte == lf && wasAfterCR) { self.line += 1 }
                            self.afterCR = byte == cr
                            if self.fieldInScratch { try self.appendToScratch(UnsafeBufferPointer(start: base + index, count: 1)) }
                        } else {  // backslash: what follows is taken as it is
                            try self.moveFieldToScratch(input, contentEnd: index)
                            self.state = .escapedInQuoted
                        }
                        index += 1
                    case .escapedInQuoted:
                        if byte == cr || (byte == lf && !wasAfterCR) { self.line += 1 }
                        self.afterCR = byte == cr
                        try self.appendToScratch(UnsafeBufferPointer(start: base + index, count: 1))
                        self.state = .quoted
                        index += 1
                    case .quoteInQuoted:
                        // The previous byte (in this input, or the field is already in scratch) was a quote.
                        if byte == quote && !backslash {
                            // A doubled quote: the content so far, with one quote, goes to scratch.
                            if self.fieldInScratch {
                                try self.appendToScratch(UnsafeBufferPointer(start: base + index, count: 1))
                            } else {
                                try self.moveFieldToScratch(input, contentEnd: index)
                            }
                            self.state = .quoted
                        } else if byte == delimiter {
                            try self.endField(input, contentEnd: index - 1)
                        } else if byte == lf || byte == cr {
                            self.line += 1
                            self.afterCR = byte == cr
                            try self.endField(input, contentEnd: index - 1)
                            try self.endRow(base, emit: emit)
                        } else {
                            // Text after a closing quote ("abc"def): keep it, as spreadsheets do.
                            try self.moveFieldToScratch(input, contentEnd: index - 1)
                            try self.appendToScratch(UnsafeBufferPointer(start: base + index, count: 1))
                            self.state = .unquoted
                        }
                        index += 1
                    }
                }
            }
        }
        try self.keepUnfinishedRow(input)
    }

    /// Ends the input: a last row without a line terminator is emitted.
    public mutating func finish(emit: (CSVRow) throws -> Void) throws {
        switch self.state {
        case .fieldStart:
            guard self.spanCount > 0 else { return }
            // After a final delimiter: one more, empty, field.
            self.fieldStart = self.scratch.count
            self.fieldInScratch = true
        case .escapedInUnquoted:
            // A backslash at the very end escapes nothing: it is kept.
            try self.appendToScratch(UnsafeBufferPointer(start: [UInt8(ascii: "\\")], count: 1))
        case .unquoted, .quoted, .quoteInQuoted, .escapedInQuoted:
            break  // the field is in scratch (`keepUnfinishedRow`)
        }
        try self.endField(UnsafeBufferPointer(start: nil, count: 0), contentEnd: 0)
        try self.endRow(nil, emit: emit)
    }

    /// At the end of an input, the unfinished row's fields move to scratch: the input goes away.
    private mutating func keepUnfinishedRow(_ input: UnsafeBufferPointer<UInt8>) throws {
        self.moveFinishedFieldsToScratch(input)
        switch self.state {
        case .fieldStart:
            break
        case .unquoted, .quoted, .escapedInQuoted, .escapedInUnquoted:
            try self.moveFieldToScratch(input, contentEnd: input.count)
        case .quoteInQuoted:
            try self.moveFieldToScratch(input, contentEnd: input.count - 1)  // without the quote
        }
    }

    /// The row's finished fields that are still in the input are copied to scratch. Done before
    /// the current field moves there, because a field in scratch must be its last bytes.
    private mutating func moveFinishedFieldsToScratch(_ input: UnsafeBufferPointer<UInt8>) {
        for index in 0..<self.spanCount where !self.spans[index].inScratch {
            let span = self.spans[index]
            let start = self.scratch.count
            self.scratch.append(contentsOf: UnsafeBufferPointer(rebasing: input[span.start..<span.end]))
            self.spans[index] = Span(start: start, end: self.scratch.count, inScratch: true)
        }
    }

    /// The first backslash in base[from..<to], or `to`.
    @inline(__always)
    static func backslash(_ base: UnsafePointer<UInt8>, from: Int, to: Int) -> Int {
        guard to > from, let found = memchr(base + from, Int32(UInt8(ascii: "\\")), to - from) else { return to }
        return UnsafeRawPointer(found) - UnsafeRawPointer(base)
    }

    /// The current field continues in scratch: its content so far (input[fieldStart..<contentEnd]) is copied there.
    @inline(__always)
    private mutating func moveFieldToScratch(_ input: UnsafeBufferPointer<UInt8>, contentEnd: Int) throws {
        guard !self.fieldInScratch else { return }
        self.moveFinishedFieldsToScratch(input)
        let content = UnsafeBufferPointer(rebasing: input[min(self.fieldStart, contentEnd)..<contentEnd])
        self.fieldInScratch = true
        self.fieldStart = self.scratch.count
        try self.appendToScratch(content)
    }

    @inline(__always)
    private mutating func appendToScratch(_ run: UnsafeBufferPointer<UInt8>) throws {
        self.scratch.append(contentsOf: run)
        let fieldBytes = self.scratch.count - self.fieldStart
        if fieldBytes > self.limits.maxFieldBytes {
            throw TokenizerError(kind: .fieldTooLarge, line: self.rowLine, limit: self.limits.maxFieldBytes)
        }
        if self.rowBytes + fieldBytes > self.limits.maxRowBytes {
            throw TokenizerError(kind: .rowTooLarge, line: self.rowLine, limit: self.limits.maxRowBytes)
        }
    }

    /// Ends the current field; in the input it ends at `contentEnd`.
    @inline(__always)
    private mutating func endField(_ input: UnsafeBufferPointer<UInt8>, contentEnd: Int) throws {
        let span =
            self.fieldInScratch
            ? Span(start: self.fieldStart, end: self.scratch.count, inScratch: true)
            : Span(start: self.fieldStart, end: contentEnd, inScratch: false)
        let length = span.end - span.start
        if length > self.limits.maxFieldBytes {
            throw TokenizerError(kind: .fieldTooLarge, line: self.rowLine, limit: self.limits.maxFieldBytes)
        }
        self.rowBytes += length
        if self.rowBytes > self.limits.maxRowBytes {
            throw TokenizerError(kind: .rowTooLarge, line: self.rowLine, limit: self.limits.maxRowBytes)
        }
        if self.spanCount < self.spans.count { self.spans[self.spanCount] = span } else { self.spans.append(span) }
        self.spanCount += 1
        if self.spanCount > self.limits.maxColumns {
            throw TokenizerError(kind: .tooManyColumns, line: self.rowLine, limit: self.limits.maxColumns)
        }
        self.fieldInScratch = false
        self.state = .fieldStart
    }

    private mutating func endRow(_ input: UnsafePointer<UInt8>?, emit: (CSVRow) throws -> Void) throws {
        self.rowsEmitted += 1
        let count = self.spanCount
        while self.cells.count < count { self.cells.append(UnsafeBufferPointer(start: nil, count: 0)) }
        var inInput = input != nil
        self.scratch.withUnsafeBufferPointer { scratch in
            self.spans.withUnsafeBufferPointer { spans in
                self.cells.withUnsafeMutableBufferPointer { cells in
                    for index in 0..<count {
                        let span = spans[index]
                        if span.inScratch { inInput = false }
                        let base = span.inScratch ? scratch.baseAddress : input
                        cells[index] = UnsafeBufferPointer(start: base.map { $0 + span.start }, count: span.end - span.start)
                    }
                }
            }
        }
        var rowSpan: UnsafeBufferPointer<UInt8>?
        if inInput, count > 0, let input {
            let start = self.spans[0].start
            rowSpan = UnsafeBufferPointer(start: input + start, count: self.spans[count - 1].end - start)
        }
        try self.cells.withUnsafeBufferPointer { cells in
            try emit(CSVRow(fields: UnsafeBufferPointer(rebasing: cells[0..<count]), line: self.rowLine, span: rowSpan))
        }
        self.spanCount = 0
        if !self.scratch.isEmpty { self.scratch.removeAll(keepingCapacity: true) }
        self.rowBytes = 0
        self.state = .fieldStart
        self.rowLine = self.line
    }
}
