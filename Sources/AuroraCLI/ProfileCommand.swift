import ArgumentParser
import AuroraParser
import AuroraProtocol
import AuroraStatistics
import Foundation

/// `aurora profile FILE`: parses and profiles a file in this process (no daemons involved).
struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Profile a CSV file locally: encoding, dialect, column types and statistics.",
        discussion: """
            Everything is detected; each decision can be overridden. .gz and .zst files are read \
            through (detected by their content, not their name). Exit status: 0 on success, \
            65 when the content is not a readable table (the message says what it is, or names \
            the line), 66 when the file cannot be opened, 64 for bad options.
            """
    )

    @Argument(help: "The CSV file.")
    var file: String

    @Flag(help: "Print the profile as JSON.")
    var json = false

    @Flag(help: "Print the parsed table as JSON lines instead: the column names, then one array per data row.")
    var rows = false

    @OptionGroup var reading: ReadingOptions

    func run() throws {
        let options = try self.reading.profileOptions()
        do {
            if self.rows {
                let output = FileHandle.standardOutput
                var buffer = ""
                _ = try Profiler.profile(path: self.file, options: options) { cells in
                    buffer += JSONLines.array(cells)
                    buffer += "\n"
                    if buffer.utf8.count >= 1 << 16 {
                        output.write(Data(buffer.utf8))
                        buffer = ""
                    }
                }
                output.write(Data(buffer.utf8))
                return
            }
            let profile = try Profiler.profile(path: self.file, options: options)
            // For memory tests and benchmarks: the kernel's high-water mark of this process's RSS.
            if ProcessInfo.processInfo.environment["AURORA_REPORT_PEAK_RSS"] == "1",
                let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
            {
                FileHandle.standardError.write(Data("peak_rss_kib \(line.split(separator: " ")[1])\n".utf8))
            }
            if self.json {
                try JSONOutput.print(AnalysisReport(profile: profile))
            } else {
                print(Terminal.printable(ProfileTable.render(profile, file: self.file)))
            }
        } catch let error as ProfileError {
            FileHandle.standardError.write(Data("aurora: \(self.file): \(error)\n".utf8))
            // sysexits: 66 the file cannot be opened or read, 65 its content is not a readable table.
            throw ExitCode(error.message.hasPrefix("cannot open") || error.message.hasPrefix("cannot read") ? 66 : 65)
        }
    }
}

/// Flags that say how to read a file; shared by the commands that read one.
struct ReadingOptions: ParsableArguments {
    @Option(help: "Text encoding (UTF-8, UTF-16LE, UTF-16BE, UTF-32LE, UTF-32BE, windows-1252, ISO-8859-1, windows-1250, windows-1251, Shift_JIS, GBK, Big5, EUC-KR); detected if omitted.")
    var encoding: String?

    @Option(help: "Field delimiter: a character, or tab, space, comma, semicolon, pipe; none for a one-column file.")
    var delimiter: String?

    @Option(help: "Quote character, or none.")
    var quote: String?

    @Option(help: "How quotes are escaped inside quoted fields: double or backslash.")
    var escape: String?

    @Option(help: "Whether the first row of the table is a header: yes or no.")
    var header: String?

    @Option(help: "Physical lines above the table to skip (titles, comments).")
    var skipLines: Int?

    @Option(help: "Rows with the wrong number of fields: pad, skip or fail.")
    var ragged: String = "pad"

    @Option(help: "Comma-separated texts that mean a missing value (an empty cell always does).")
    var missing: String?

    @Option(help: "Cores to use.")
    var threads: Int = 1

    @Option(help: "Largest field, in bytes.")
    var maxFieldBytes: Int = 1 << 20

    @Option(help: "Largest row, in bytes.")
    var maxRowBytes: Int = 8 << 20

    @Option(help: "Most columns.")
    var maxColumns: Int = 4096

    @Option(help: "Most bytes a .gz or .zst file may inflate to (a bound on decompression bombs).")
    var maxInflatedBytes: Int = 1 << 40

    /// The options as the parser-service takes them (checked here first, so a bad flag is a
    /// usage error before anything is uploaded).
    func readOptionsMessage() throws -> Aurora_Profile_V1_ReadOptions {
        let options = try self.profileOptions()
        var read = Aurora_Profile_V1_ReadOptions()
        if let encoding = options.encoding { read.encoding = encoding.rawValue }
        if let delimiter = options.dialect.delimiter { read.delimiter = String(UnicodeScalar(delimiter)) }
        if let quote = options.dialect.quote { read.quote = quote.map { String(UnicodeScalar($0)) } ?? "none" }
        if let escape = options.dialect.escape { read.escape = escape == .backslash ? "backslash" : "double" }
        if let header = options.dialect.header { read.header = header }
        if let lines = options.dialect.skipLines { read.skipLines = UInt32(clamping: lines) }
        read.ragged = options.raggedPolicy.rawValue
        if options.settings.missingMarkers != MissingMarkers() {
            read.useMissingMarkers = true
            read.missingMarkers = options.settings.missingMarkers.markers
        }
        return read
    }

    func profileOptions() throws -> ProfileOptions {
        var options = ProfileOptions()
        if let name = self.encoding {
            guard let encoding = TextEncoding(name: name) else {
                throw ValidationError("unknown encoding '\(name)'; use one of \(TextEncoding.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            options.encoding = encoding
        }
        if let text = self.delimiter {
            let named: [String: String] = [
                "tab": "\t", "\\t": "\t", "space": " ", "comma": ",", "semicolon": ";", "pipe": "|", "none": String(UnicodeScalar(Dialect.noDelimiter)),
            ]
            let value = named[text.lowercased()] ?? text
            guard value.utf8.count == 1, let byte = value.utf8.first else {
                throw ValidationError("--delimiter must be one ASCII character or tab/space/comma/semicolon/pipe/none, not '\(text)'")
            }
            options.dialect.delimiter = byte
        }
        if let text = self.quote {
            if text.lowercased() == "none" {
                options.dialect.quote = .some(nil)
            } else {
                guard text.utf8.count == 1, let byte = text.utf8.first else { throw ValidationError("--quote must be one ASCII character or none") }
                options.dialect.quote = .some(byte)
            }
        }
        if let text = self.escape {
            switch text.lowercased() {
            case "double", "doubled": options.dialect.escape = .doubledQuote
            case "backslash", "\\": options.dialect.escape = .backslash
            default: throw ValidationError("--escape must be double or backslash")
            }
        }
        if let text = self.header {
            switch text.lowercased() {
            case "yes", "true", "1", "on": options.dialect.header = true
            case "no", "false", "0", "off": options.dialect.header = false
            default: throw ValidationError("--header must be yes or no")
            }
        }
        if let lines = self.skipLines {
            guard lines >= 0 else { throw ValidationError("--skip-lines must be 0 or more") }
            options.dialect.skipLines = lines
        }
        guard let policy = RaggedPolicy(rawValue: self.ragged) else { throw ValidationError("--ragged must be pad, skip or fail") }
        options.raggedPolicy = policy
        if let markers = self.missing {
            options.settings.missingMarkers = MissingMarkers(markers.split(separator: ",", omittingEmptySubsequences: false).map(String.init))
        }
        guard self.threads >= 1 && self.threads <= 256 else { throw ValidationError("--threads must be 1...256") }
        options.threads = self.threads
        guard self.maxFieldBytes > 0, self.maxRowBytes > 0, self.maxColumns > 0, self.maxInflatedBytes > 0 else { throw ValidationError("limits must be positive") }
        options.maxInflatedBytes = self.maxInflatedBytes
        options.limits = TokenizerLimits(maxFieldBytes: self.maxFieldBytes, maxColumns: self.maxColumns, maxRowBytes: self.maxRowBytes)
        return options
    }
}

enum JSONLines {
    static func array(_ cells: [String]) -> String {
        "[" + cells.map(Self.string).joined(separator: ",") + "]"
    }

    static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let s where s.value < 0x20: out += String(format: "\\u%04x", s.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// The human-readable rendering of a profile.
enum ProfileTable {
    static func render(_ profile: DatasetProfile, file: String) -> String {
        var lines: [String] = []
        let dialect = profile.dialect
        lines.append("\(file): \(profile.rows) rows, \(profile.columns.count) columns, \(profile.bytes) bytes")
        lines.append("  encoding   \(profile.encoding)\(profile.bom ? " with BOM" : "") (confidence \(format(profile.encodingConfidence))): \(profile.encodingReason)")
        let delimiter = dialect.delimiter.isEmpty ? "none (one column)" : DialectSniffer.describe(UInt8(ascii: Unicode.Scalar(dialect.delimiter) ?? ","))
        lines.append("  dialect    delimiter \(delimiter) (confidence \(String(format: "%.2f", dialect.confidence))), quote \(dialect.quote ?? "none"), escape \(dialect.escape == "\\" ? "backslash" : dialect.escape == nil ? "none" : "doubled"), header \(dialect.header ? "yes" : "no"), \(dialect.skippedLines) line(s) skipped")
        lines.append("             \(dialect.reason)")
        if profile.replacedCharacters > 0 {
            lines.append("  warning    \(profile.replacedCharacters) byte(s) invalid in \(profile.encoding) read as U+FFFD")
        }
        if profile.malformedRows > 0 {
            let listed = profile.malformed.prefix(10).map { "line \($0.line) (\($0.fields) fields)" }.joined(separator: ", ")
            lines.append("  malformed  \(profile.malformedRows) row(s) with the wrong number of fields, policy \(profile.raggedPolicy.rawValue): \(listed)\(profile.malformedRows > 10 ? ", ..." : "")")
        }
        lines.append("")
        var table: [[String]] = [["#", "column", "type", "missing", "distinct", "summary"]]
        for column in profile.columns {
            let stats = column.stats
            table.append([
                "\(column.index)", truncate(column.name, 24), column.type.rawValue,
                "\(format(stats.missingRatio * 100))%", "\(stats.distinct)", Self.summary(column),
            ])
        }
        let widths = (0..<6).map { index in table.map { $0[index].count }.max() ?? 0 }
        for row in table {
            lines.append(row.enumerated().map { index, cell in index == 5 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }

    static func summary(_ column: ColumnProfile) -> String {
        let stats = column.stats
        if let numeric = stats.numeric {
            return "min \(format(numeric.min)), median \(format(numeric.quantiles.p50)), max \(format(numeric.max)), mean \(format(numeric.mean)), skew \(format(numeric.skewness))"
        }
        if let date = stats.date { return "\(date.min) to \(date.max) (\(date.format))" }
        if let boolean = stats.boolean { return "\(boolean.trueCount) true, \(boolean.falseCount) false" }
        if column.type == .empty { return "no values" }
        let top = stats.topValues.prefix(3).map { "\(truncate($0.value, 16)) (\($0.count))" }.joined(separator: ", ")
        if let text = stats.text, column.type == .text || top.isEmpty {
            return "\(top.isEmpty ? "no repeated values; " : "")length \(text.minLength)-\(text.maxLength), mean \(format(text.meanLength))"
        }
        return "top: \(top)"
    }

    static func truncate(_ text: String, _ length: Int) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return flat.count <= length ? flat : String(flat.prefix(length - 1)) + "…"
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        let magnitude = abs(value)
        if magnitude >= 1e6 || magnitude < 1e-3 { return String(format: "%.3g", value) }
        return String(format: "%.3f", value).replacingOccurrences(of: #"\.?0+$"#, with: "", options: .regularExpression)
    }
}
