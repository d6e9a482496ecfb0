import AuroraStatistics

/// What the user fixes by hand; nil fields are detected.
public struct DialectOverrides: Sendable, Hashable {
    public var delimiter: UInt8?
    /// .some(nil): fields are never quoted.
    public var quote: UInt8??
    public var escape: Dialect.Escape?
    public var header: Bool?
    /// Physical lines above the table (title, comments) to skip.
    public var skipLines: Int?

    public init(delimiter: UInt8? = nil, quote: UInt8?? = nil, escape: Dialect.Escape? = nil, header: Bool? = nil, skipLines: Int? = nil) {
        self.delimiter = delimiter
        self.quote = quote
        self.escape = escape
        self.header = header
        self.skipLines = skipLines
    }
}

/// The sniffer's decision about a file's layout.
public struct SniffedLayout: Sendable, Equatable {
    public var dialect: Dialect
    public var header: Bool
    /// Physical lines above the table (title lines, comments, blank lines).
    public var skippedLines: Int
    public var lineTerminator: String
    /// Fields per row of the table.
    public var columns: Int
    /// Column names: the header's, made unique, or column_1, column_2, ...
    public var names: [String]
    public var decimalStyles: [DecimalStyle]
    /// Ambiguous dates such as 03/04/2024 are read day first (European files).
    public var preferDayFirst: Bool
    /// Share of the sample's rows that fit the table (0...1).
    public var consistency: Double
    /// 0.5 (another reading of the file scores as well) to 1 (no other reading comes close).
    public var confidence: Double = 1
    public var reason: String
}

/// Decides delimiter, quote, escape, the table's first line and whether it has a header, from a
/// bounded UTF-8 sample. Every candidate dialect parses the sample; the winner is the one whose
/// rows are most consistent in length and whose cells most often read as typed values (numbers,
/// dates, booleans, missing markers, plain words) — the data consistency measure of CleverCSV
/// (van den Burg et al. 2019) — rather than the one whose character happens to be most frequent.
public enum DialectSniffer {
    /// , ; tab | : ^ ~ # space, in order of preference.
    static let preferredDelimiters: [UInt8] = [0x2C, 0x3B, 0x09, 0x7C, 0x3A, 0x5E, 0x7E, 0x23, 0x20]
    static let maximumSampleRows = 1_000

    /// - Throws: the limit the sample breaks under every candidate dialect (a field, row or
    ///   column count past `limits`): the user's limits bind detection too, never a silent fallback.
    public static func sniff(
        _ sample: [UInt8], isWholeFile: Bool, overrides: DialectOverrides = DialectOverrides(), missingMarkers: MissingMarkers = MissingMarkers(),
        limits: TokenizerLimits = TokenizerLimits()
    ) throws(TokenizerError) -> SniffedLayout {
        let text = Self.completeLines(sample, isWholeFile: isWholeFile)
        var best: (score: Double, candidate: Candidate)?
        var evaluated: [Candidate] = []
        var broken: TokenizerError?
        for dialect in Self.candidates(text, overrides: overrides) {
            let candidate: Candidate?
            do {
                candidate = try Self.evaluate(text, dialect: dialect, overrides: overrides, missingMarkers: missingMarkers, limits: limits)
            } catch {
                broken = broken ?? error
                continue
            }
            guard let candidate else { continue }
            evaluated.append(candidate)
            // Strictly better wins; candidates come in order of preference, so ties keep the earlier one.
            if best == nil || candidate.score > best!.score + 1e-9 { best = (candidate.score, candidate) }
        }
        if let broken {
            // More columns than allowed, under a usual delimiter, is not a one-column file.
            if best == nil || (broken.kind == .tooManyColumns && best!.candidate.dialect.delimiter == Dialect.noDelimiter) { throw broken }
        }
        let chosen = best?.candidate ?? Candidate(dialect: Dialect(), rows: [], start: 0, columns: 1, score: 0, consistency: 1)
        var layout = Self.layout(chosen, text: text, isWholeFile: isWholeFile, overrides: overrides, missingMarkers: missingMarkers)
        // The best reading with another delimiter: how close it comes is how uncertain the choice
        // is, and a close one is named.
        let rival = evaluated.filter { $0.dialect.delimiter != chosen.dialect.delimiter }.max { $0.score < $1.score }
        if let rival, chosen.score > 0 {
            layout.confidence = max(0.5, 1 - rival.score / chosen.score / 2)
            if layout.confidence < 0.6 {
                let option = rival.dialect.delimiter == Dialect.noDelimiter ? "none" : Self.describe(rival.dialect.delimiter).replacingOccurrences(of: "'", with: "")
                layout.reason += "; uncertain: delimiter \(Self.describe(rival.dialect.delimiter)) (\(rival.columns) columns) reads almost as well; if it is right, give --delimiter \(option)"
            }
        }
        return layout
    }

    /// The sample up to its last line end (a row cut by the sample's edge would look ragged).
    static func completeLines(_ sample: [UInt8], isWholeFile: Bool) -> [UInt8] {
        if isWholeFile { return sample }
        guard let last = sample.lastIndex(where: { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }) else { return sample }
        return Array(sample[...last])
    }

    static func candidates(_ text: [UInt8], overrides: DialectOverrides) -> [Dialect] {
        var counts = [Int](repeating: 0, count: 128)
        for byte in text where byte < 128 { counts[Int(byte)] += 1 }
        var delimiters: [UInt8]
        if let fixed = overrides.delimiter {
            delimiters = [fixed]
        } else {
            delimiters = Self.preferredDelimiters.filter { counts[Int($0)] > 0 }
            // Any other punctuation the data shows.
            for byte in UInt8(33)..<UInt8(127) where counts[Int(byte)] > 0 && !delimiters.contains(byte) {
                let scalar = Unicode.Scalar(byte)
                if scalar.properties.isAlphabetic || (48...57).contains(byte) { continue }
                if [UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "\\")].contains(byte) { continue }
                delimiters.append(byte)
            }
            if delimiters.isEmpty { delimiters = [UInt8(ascii: ",")] }
        }
        // A tab in the sample, or a comma, semicolon or pipe on most lines, makes space a poor
        // guess: spaces are then inside the cells (or after the delimiter).
        if overrides.delimiter == nil, counts[9] > 0 || Self.shareOfLinesWithUnquotedDelimiters(text, quote: nil) >= 0.8 { delimiters.removeAll { $0 == UInt8(ascii: " ") } }
        var quotes: [UInt8?]
        if let fixed = overrides.quote {
            quotes = [fixed]
        } else {
            // The RFC's double quote first (without one in the sample it parses as no quoting), then
            // no quoting, then the apostrophe, which is more often that of O'Brien or '90s than a
            // quote: it is tried only where it encloses whole fields.
            quotes = [UInt8(ascii: "\"")]
            if counts[Int(UInt8(ascii: "\""))] > 0 { quotes.append(nil) }
            if counts[Int(UInt8(ascii: "'"))] > 0 { quotes.append(UInt8(ascii: "'")) }
        }
        var dialects: [Dialect] = []
        for delimiter in delimiters {
            for quote in quotes where quote != delimiter {
                if overrides.quote == nil, quote == UInt8(ascii: "'"), !Self.enclosesFields(text, delimiter: delimiter, quote: quote!) { continue }
                var escapes: [Dialect.Escape] = [.doubledQuote]
                if let fixed = overrides.escape {
                    escapes = [fixed]
                } else if Self.hasBackslashEscapes(text, quote: quote, delimiter: delimiter) {
                    escapes.append(.backslash)
                }
                let spaced = delimiter != UInt8(ascii: " ") && Self.spaceFollows(text, delimiter: delimiter)
                for escape in escapes {
                    dialects.append(Dialect(delimiter: delimiter, quote: quote, escape: escape))
                    if spaced {
                        var skipping = Dialect(delimiter: delimiter, quote: quote, escape: escape)
                        skipping.skipInitialSpace = true
                        dialects.append(skipping)
                    }
                }
            }
        }
        // One column: no delimiter at all (what a wrong one would split is kept whole).
        if overrides.delimiter == nil, counts[Int(Dialect.noDelimiter)] == 0 {
            for quote in quotes where quote == nil || quote == UInt8(ascii: "\"") {
                dialects.append(Dialect(delimiter: Dialect.noDelimiter, quote: quote, escape: .doubledQuote))
            }
        }
        return dialects
    }

    /// Most occurrences of the delimiter (at least 4 of 5) are followed by a space: `a, b, c`.
    static func spaceFollows(_ text: [UInt8], delimiter: UInt8) -> Bool {
        var total = 0
        var spaced = 0
        for index in 0..<max(0, text.count - 1) where text[index] == delimiter {
            total += 1
            if text[index + 1] == UInt8(ascii: " ") { spaced += 1 }
        }
        return total >= 3 && spaced * 5 >= total * 4
    }

    /// Some field, on one line, starts with `quote` (after the delimiter or the line's start) and
    /// ends with it (before the delimiter or the line's end).
    static func enclosesFields(_ text: [UInt8], delimiter: UInt8, quote: UInt8) -> Bool {
        var index = 0
        var fieldStart = true
        while index < text.count {
            let byte = text[index]
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") || byte == delimiter {
                fieldStart = true
            } else if byte == quote && fieldStart {
                // The closing quote: the next one (doubled quotes skipped) before the line's end.
                var close = index + 1
                while close < text.count, text[close] != UInt8(ascii: "\n"), text[close] != UInt8(ascii: "\r") {
                    if text[close] == quote {
                        if close + 1 < text.count, text[close + 1] == quote {
                            close += 2
                            continue
                        }
                        let after = close + 1 < text.count ? text[close + 1] : UInt8(ascii: "\n")
                        if after == delimiter || after == UInt8(ascii: "\n") || after == UInt8(ascii: "\r") { return true }
                        break
                    }
                    close += 1
                }
                fieldStart = false
            } else if byte != UInt8(ascii: " ") {
                fieldStart = false
            }
            index += 1
        }
        return false
    }

    /// A backslash before what only an escape explains: the quote, the delimiter, a line end
    /// or another backslash.
    static func hasBackslashEscapes(_ text: [UInt8], quote: UInt8?, delimiter: UInt8) -> Bool {
        guard text.count > 1 else { return false }
        for index in 0..<(text.count - 1) where text[index] == UInt8(ascii: "\\") {
            let next = text[index + 1]
            if next == quote || next == delimiter || next == UInt8(ascii: "\n") || next == UInt8(ascii: "\r") || next == UInt8(ascii: "\\") { return true }
        }
        return false
    }

    struct Row {
        var fields: [String]
        var line: Int
        /// Fields without the trailing empty ones (a trailing delimiter adds one).
        var effective: Int
    }

    struct Candidate {
        var dialect: Dialect
        var rows: [Row]
        /// Index of the table's first row.
        var start: Int
        var columns: Int
        var score: Double
        var consistency: Double
    }

    /// The sample's rows under `dialect`; nil if it cannot parse them, and the limit's error if a
    /// row breaks one.
    static func parse(_ text: [UInt8], dialect: Dialect, limits: TokenizerLimits) throws(TokenizerError) -> [Row]? {
        var tokenizer = CSVTokenizer(dialect: dialect, limits: limits)
        var rows: [Row] = []
        func add(_ row: CSVRow) {
            guard rows.count < Self.maximumSampleRows else { return }
            var effective = row.count
            while effective > 1 && row[effective - 1].isEmpty { effective -= 1 }
            rows.append(Row(fields: row.strings, line: row.line, effective: effective))
        }
        do {
            try tokenizer.feed(text) { add($0) }
            try tokenizer.finish { add($0) }
        } catch let error as TokenizerError {
            throw error
        } catch {
            return nil
        }
        return rows
    }

    @inline(__always)
    static func fits(_ row: Row, _ columns: Int) -> Bool { row.effective <= columns && columns <= row.fields.count }

    static func evaluate(
        _ text: [UInt8], dialect: Dialect, overrides: DialectOverrides, missingMarkers: MissingMarkers, limits: TokenizerLimits
    ) throws(TokenizerError) -> Candidate? {
        guard let rows = try Self.parse(text, dialect: dialect, limits: limits), !rows.isEmpty else { return nil }
        // The table's width: the one most rows fit (ties: the wider).
        var votes: [Int: Int] = [:]
        for row in rows {
            for width in Set([row.fields.count, row.effective]) { votes[width, default: 0] += 1 }
        }
        let columns = votes.max { $0.value != $1.value ? $0.value < $1.value : $0.key < $1.key }!.key
        // A one-column table is the no-delimiter candidate's: a delimiter that leaves most rows
        // whole would cut the others (`n/a` read as `n`).
        if columns == 1 && dialect.delimiter != Dialect.noDelimiter && overrides.delimiter == nil { return nil }
        // A rare delimiter that cuts lines which read as one value (dates, numbers, links,
        // missing markers) whole is cutting values.
        if overrides.delimiter == nil, !Self.preferredDelimiters.prefix(4).contains(dialect.delimiter), dialect.delimiter != Dialect.noDelimiter,
            Self.cutsWholeValues(rows, dialect: dialect, missingMarkers: missingMarkers) || Self.cutsLinks(rows)
        {
            return nil
        }
        // The table starts at the first row that fits and is followed by a row that fits.
        var start = 0
        if let skip = overrides.skipLines {
            start = rows.firstIndex { $0.line > skip } ?? rows.count
        } else if columns > 1 {
            // The table starts at the first row of its width; rows above it are titles or comments.
            start = rows.firstIndex { Self.fits($0, columns) } ?? 0
            // One single-field line above a table split by a rare delimiter (space, `@`, `:`) is
            // the header of a one-column file whose values hold that character.
            if start == 1 && rows[0].fields.count == 1 && !Self.preferredDelimiters.prefix(4).contains(dialect.delimiter) && overrides.delimiter == nil {
                return nil
            }
            // A rare delimiter that opens every row (`#tag`) marks the values, it does not separate them.
            if !Self.preferredDelimiters.prefix(4).contains(dialect.delimiter), overrides.delimiter == nil,
                rows[start...].allSatisfy({ $0.fields.first?.isEmpty == true })
            {
                return nil
            }
            // A header one field short of the data (an exported index column) belongs to the table.
            if start > 0 && rows[start - 1].fields.count == columns - 1 && rows[start - 1].fields.count > 1 { start -= 1 }
        }
        let table = rows[start...]
        guard !table.isEmpty else { return nil }
        let fitting = table.filter { Self.fits($0, columns) }.count
        let consistency = Double(fitting) / Double(table.count)
        let coverage = Double(fitting) / Double(rows.count)
        // One column scores below two consistent ones, and the no-delimiter candidate above a
        // delimiter that yields one column anyway.
        let widthTerm = columns == 1 ? (dialect.delimiter == Dialect.noDelimiter ? 0.3 : 0.1) : Double(columns - 1) / Double(columns)
        // Cells that read as something typed, in the rows below the first.
        var typed = 0
        var cells = 0
        for row in table.dropFirst() where Self.fits(row, columns) {
            for field in row.fields.prefix(columns) {
                cells += 1
                if Self.isTyped(field, dialect: dialect, missingMarkers: missingMarkers) { typed += 1 }
            }
        }
        let typeScore = cells == 0 ? 0.5 : Double(typed) / Double(cells)
        // Unusual delimiters need better evidence than the usual ones.
        var prior = Self.preferredDelimiters.contains(dialect.delimiter) ? 1.0 : 0.8
        // One column where lines hold a usual delimiter outside quotes: those lines have fields.
        if dialect.delimiter == Dialect.noDelimiter {
            let clean = 1 - Self.shareOfLinesWithUnquotedDelimiters(text, quote: dialect.quote)
            prior = clean * clean
        }
        let score = prior * coverage * consistency * widthTerm * max(typeScore, 0.01)
        return Candidate(dialect: dialect, rows: rows, start: start, columns: columns, score: score, consistency: consistency)
    }

    /// The share of non-empty lines with a comma, semicolon, tab or pipe outside quotes (`quote`
    /// nil: anywhere).
    static func shareOfLinesWithUnquotedDelimiters(_ text: [UInt8], quote: UInt8?) -> Double {
        var lines = 0
        var marked = 0
        var inQuotes = false
        var lineHasContent = false
        var lineMarked = false
        for byte in text {
            if let quote, byte == quote {
                inQuotes.toggle()
            } else if !inQuotes && (byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")) {
                if lineHasContent {
                    lines += 1
                    if lineMarked { marked += 1 }
                }
                lineHasContent = false
                lineMarked = false
                continue
            } else if !inQuotes && (byte == UInt8(ascii: ",") || byte == UInt8(ascii: ";") || byte == 9 || byte == UInt8(ascii: "|")) {
                lineMarked = true
            }
            lineHasContent = true
        }
        if lineHasContent {
            lines += 1
            if lineMarked { marked += 1 }
        }
        return lines == 0 ? 0 : Double(marked) / Double(lines)
    }

    /// Most of the rows the delimiter splits read, joined back, as one typed value other than text.
    static func cutsWholeValues(_ rows: [Row], dialect: Dialect, missingMarkers: MissingMarkers) -> Bool {
        var split = 0
        var whole = 0
        let separator = String(UnicodeScalar(dialect.delimiter))
        // The first 200 split rows tell (the sniffer runs on every file: it must stay cheap).
        for row in rows where row.fields.count > 1 {
            split += 1
            var joined = row.fields.joined(separator: separator)
            let kind = Self.kind(joined, missingMarkers: missingMarkers)
            if kind != .text || joined.withUTF8({ Self.isURL($0) || Self.isClockTime($0) }) { whole += 1 }
            if split == 200 { break }
        }
        return split > 0 && whole * 2 >= split
    }

    /// `…https:` then an empty field: the delimiter is the `/` of `://`.
    static func cutsLinks(_ rows: [Row]) -> Bool {
        for row in rows.prefix(200) where row.fields.count > 1 {
            for index in 0..<(row.fields.count - 1) where row.fields[index + 1].isEmpty {
                let field = row.fields[index]
                if field.hasSuffix("http:") || field.hasSuffix("https:") || field.hasSuffix("ftp:") { return true }
            }
        }
        return false
    }

    /// `12:30`, `08:15:59` or `23:59:59.250`.
    static func isClockTime(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        func digits(_ from: Int) -> Int {
            var end = from
            while end < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[end]) { end += 1 }
            return end - from
        }
        let hours = digits(0)
        guard (1...2).contains(hours), hours < bytes.count, bytes[hours] == UInt8(ascii: ":"), digits(hours + 1) == 2 else { return false }
        var index = hours + 3
        if index < bytes.count, bytes[index] == UInt8(ascii: ":") {
            guard digits(index + 1) == 2 else { return false }
            index += 3
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                let fraction = digits(index + 1)
                guard fraction > 0 else { return false }
                index += 1 + fraction
            }
        }
        return index == bytes.count
    }

    /// A cell that reads as a value rather than as a fragment of a badly split one.
    static func isTyped(_ field: String, dialect: Dialect, missingMarkers: MissingMarkers) -> Bool {
        var field = field
        return field.withUTF8 { bytes in
            if missingMarkers.isMissing(bytes) { return true }
            if NumberParser.parse(bytes, style: .point) != nil || NumberParser.parse(bytes, style: .comma) != nil { return true }
            if BooleanParser.parse(bytes) != nil || DateParser.parse(bytes) != nil { return true }
            // 'Smith' under a dialect that does not quote with apostrophes: their debris.
            let apostrophe = UInt8(ascii: "'")
            if dialect.quote != apostrophe, bytes.count >= 2, bytes.first == apostrophe, bytes.last == apostrophe { return false }
            return Self.isPlainText(bytes, dialect: dialect) || Self.isURL(bytes)
        }
    }

    /// `scheme://` then no space: a link, whose `/` and `:` are not the debris of a wrong split
    /// (a column of URLs would otherwise make `/` look like the delimiter).
    static func isURL(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        while index < bytes.count, case UInt8(ascii: "a")...UInt8(ascii: "z") = bytes[index] { index += 1 }
        guard index >= 2, index + 3 < bytes.count, bytes[index] == UInt8(ascii: ":"), bytes[index + 1] == UInt8(ascii: "/"),
              bytes[index + 2] == UInt8(ascii: "/") else { return false }
        return !bytes[(index + 3)...].contains { $0 <= UInt8(ascii: " ") || $0 == UInt8(ascii: "\"") }
    }

    /// Words, digits, spaces and the punctuation of ordinary prose and codes. The dialect's own
    /// delimiter and quote may appear (a quoted cell holds them); other delimiter-like characters
    /// and backslashes are the debris of a wrong split or a wrong escape.
    static func isPlainText(_ bytes: UnsafeBufferPointer<UInt8>, dialect: Dialect) -> Bool {
        guard let first = bytes.first, let last = bytes.last, first != UInt8(ascii: " "), last != UInt8(ascii: " ") else { return false }
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: " "), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "/"), UInt8(ascii: "("),
                UInt8(ascii: ")"), UInt8(ascii: "&"), UInt8(ascii: "+"), UInt8(ascii: "@"), UInt8(ascii: "!"), UInt8(ascii: "?"),
                UInt8(ascii: "%"), UInt8(ascii: "$"), UInt8(ascii: "*"), UInt8(ascii: "="), UInt8(ascii: "'"), UInt8(ascii: "["),
                UInt8(ascii: "]"), UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "<"), UInt8(ascii: ">"):
                continue
            case 0x80...0xFF: continue  // non-ASCII letters
            case UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "|"), 9 where dialect.delimiter == Dialect.noDelimiter:
                // One column ("Smith, John"): lines with these outside quotes are already penalised.
                continue
            default:
                if byte == dialect.delimiter || byte == dialect.quote { continue }
                return false
            }
        }
        return true
    }

    enum CellKind: Equatable { case missing, number, boolean, date, text }

    static func kind(_ field: String, missingMarkers: MissingMarkers) -> CellKind {
        var field = field
        return field.withUTF8 { bytes in
            if missingMarkers.isMissing(bytes) { return .missing }
            if NumberParser.parse(bytes, style: .point) != nil || NumberParser.parse(bytes, style: .comma) != nil { return .number }
            if BooleanParser.parse(bytes) != nil { return .boolean }
            if DateParser.parse(bytes) != nil { return .date }
            return .text
        }
    }

    static func layout(_ chosen: Candidate, text: [UInt8], isWholeFile: Bool, overrides: DialectOverrides, missingMarkers: MissingMarkers) -> SniffedLayout {
        let columns = chosen.columns
        let table = Array(chosen.rows[min(chosen.start, chosen.rows.count)...])
        let skipped = overrides.skipLines ?? (table.first.map { $0.line - 1 } ?? 0)
        var reasons: [String] = []
        // Header: the first row compared with the rows below it.
        var header = true
        var headerReason = "first row taken as the header"
        if let fixed = overrides.header {
            header = fixed
            headerReason = "header \(fixed ? "on" : "off") as asked"
        } else if table.count == 1 && isWholeFile {
            // One row and nothing below to compare it with: data (a header alone is no table).
            header = false
            headerReason = "a single row, read as data"
        } else if let first = table.first {
            let body = table.dropFirst().filter { Self.fits($0, columns) }.map(\.fields)
            let decision = HeaderDetector.decide(first: first.fields, body: body, columns: columns, missingMarkers: missingMarkers)
            header = decision.header
            headerReason = decision.reason
        }
        reasons.append(headerReason)
        // Names.
        var names: [String] = []
        if header, let first = table.first {
            var used = Set<String>()
            for column in 0..<columns {
                var name = column < first.fields.count ? first.fields[column].trimmingSpaces : ""
                if name.isEmpty { name = "column_\(column + 1)" }
                var unique = name
                var suffix = 2
                while used.contains(unique) {
                    unique = "\(name)_\(suffix)"
                    suffix += 1
                }
                used.insert(unique)
                names.append(unique)
            }
        } else {
            names = (0..<columns).map { "column_\($0 + 1)" }
        }
        // Decimal style per column, from the body cells.
        let body = table.dropFirst(header ? 1 : 0).filter { Self.fits($0, columns) }
        var styles: [DecimalStyle] = []
        var anyComma = false
        for column in 0..<columns {
            var pointOnly = 0
            var commaOnly = 0
            var both = 0
            for row in body where column < row.fields.count {
                var field = row.fields[column]
                let (point, comma) = field.withUTF8 { (NumberParser.parse($0, style: .point) != nil, NumberParser.parse($0, style: .comma) != nil) }
                if point && comma { both += 1 } else if point { pointOnly += 1 } else if comma { commaOnly += 1 }
            }
            let comma = commaOnly > pointOnly || (commaOnly == pointOnly && both > 0 && chosen.dialect.delimiter == UInt8(ascii: ";") && Self.hasGroupedOrDecimalComma(body, column))
            if comma { anyComma = true }
            styles.append(comma ? .comma : .point)
        }
        let terminator = Self.lineTerminator(text)
        let delimiterName = Self.describe(chosen.dialect.delimiter)
        reasons.insert(
            "\(Int((chosen.consistency * 100).rounded()))% of the sample's rows have \(columns) fields with delimiter \(delimiterName)"
                + (chosen.dialect.skipInitialSpace ? " and the spaces after it skipped" : ""), at: 0)
        if skipped > 0 { reasons.append("\(skipped) line(s) above the table skipped") }
        if anyComma { reasons.append("decimal comma in \(styles.filter { $0 == .comma }.count) column(s)") }
        return SniffedLayout(
            dialect: chosen.dialect, header: header, skippedLines: skipped, lineTerminator: terminator, columns: columns,
            names: names, decimalStyles: styles, preferDayFirst: anyComma || chosen.dialect.delimiter == UInt8(ascii: ";"),
            consistency: chosen.consistency, reason: reasons.joined(separator: "; "))
    }

    /// "1,5" or "1.234,5": a value only a decimal comma explains.
    static func hasGroupedOrDecimalComma(_ rows: [Row], _ column: Int) -> Bool {
        rows.contains { row in
            column < row.fields.count && row.fields[column].contains(",")
        }
    }

    static func majority(_ kinds: [CellKind]) -> CellKind? {
        guard !kinds.isEmpty else { return nil }
        var counts: [CellKind: Int] = [:]
        for kind in kinds { counts[kind, default: 0] += 1 }
        let (kind, count) = counts.max { $0.value < $1.value }!
        return count * 10 >= kinds.count * 9 ? kind : .text
    }

    static func lineTerminator(_ text: [UInt8]) -> String {
        guard let index = text.firstIndex(where: { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }) else { return "\n" }
        if text[index] == UInt8(ascii: "\n") { return "\n" }
        return index + 1 < text.count && text[index + 1] == UInt8(ascii: "\n") ? "\r\n" : "\r"
    }

    public static func describe(_ byte: UInt8) -> String {
        switch byte {
        case 9: "tab"
        case 32: "space"
        case Dialect.noDelimiter: "none (one column)"
        default: "'\(String(UnicodeScalar(byte)))'"
        }
    }
}

extension DialectSniffer.CellKind: Hashable {}

extension String {
    var trimmingSpaces: String {
        var scalars = Substring(self)
        while scalars.first == " " { scalars.removeFirst() }
        while scalars.last == " " { scalars.removeLast() }
        return String(scalars)
    }
}
