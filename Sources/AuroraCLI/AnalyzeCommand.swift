import ArgumentParser
import AuroraProtocol
import AuroraRPC
import AuroraStatistics
import Foundation

/// `aurora analyze FILE`: uploads the file through the gateway and prints its profile with a
/// recommendation per column.
struct AnalyzeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Upload a CSV file to AURORA and get a preprocessing recommendation for each column.",
        discussion: """
            The file goes to the gateway; only column statistics reach the learning-service. Quote \
            the analysis id in `aurora feedback` to accept or correct recommendations. Exit status: \
            0 success, 65 the file cannot be read (the message says where), 69 service unavailable, \
            75 rate limited (retry later), 77 token problem, 64 bad options.
            """
    )

    @Argument(help: "The CSV file.")
    var file: String

    @Option(help: "Domain that scopes learned rules (finance, clinical, ...).")
    var domain: String?

    @Option(help: "The column a model will predict (name or zero-based index): left out of the features, given its own encoding.")
    var target: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Flag(inversion: .prefixedNo, help: "Show upload progress (default: when stderr is a terminal).")
    var progress: Bool?

    @Option(help: "Upload chunk size in bytes.")
    var chunkBytes: Int = 1 << 20

    @OptionGroup(title: "Reading")
    var reading: ReadingOptions

    @OptionGroup(title: "Connection")
    var connection: ConnectionOptions

    func run() async throws {
        try await reportingErrors {
            guard (4096...(16 << 20)).contains(self.chunkBytes) else { throw ValidationError("--chunk-bytes must be 4096 to 16777216") }
            if let target = self.target, target.isEmpty { throw ValidationError("--target needs a column name or a zero-based index") }
            let read = try self.reading.readOptionsMessage()
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: self.file, isDirectory: &isDirectory), isDirectory.boolValue {
                throw CLIError(.data, "\(self.file) is a directory: give a CSV file")
            }
            if (try? FileManager.default.attributesOfItem(atPath: self.file)[.size] as? Int) == 0 {
                throw CLIError(.data, "\(self.file) is empty: nothing to analyse")
            }
            guard let handle = FileHandle(forReadingAtPath: self.file) else {
                throw CLIError(.data, "\(self.file): cannot open the file (\(String(cString: strerror(errno))))")
            }
            defer { try? handle.close() }
            let size = (try? FileManager.default.attributesOfItem(atPath: self.file)[.size] as? Int) ?? 0
            let bar = ProgressBar(total: size, enabled: self.progress ?? (isatty(2) == 1))
            let response: Aurora_Gateway_V1_AnalyzeResponse
            do {
                response = try await self.connection.withClient(file: self.file) { client in
                    try await client.clientStreaming(GatewayAPI.analyze) { writer in
                        var start = Aurora_Gateway_V1_AnalyzeUpload()
                        start.start.read = read
                        start.start.domain = self.domain ?? ""
                        start.start.target = self.target ?? ""
                        try await writer.send(start)
                        while true {
                            let data: Data
                            do {
                                guard let next = try handle.read(upToCount: self.chunkBytes), !next.isEmpty else { break }
                                data = next
                            } catch {
                                throw CLIError(.data, "\(self.file): read failed: \(error.localizedDescription)")
                            }
                            var chunk = Aurora_Gateway_V1_AnalyzeUpload()
                            chunk.data = data
                            try await writer.send(chunk)
                            bar.advance(data.count)
                        }
                        bar.finish()
                    }
                }
            } catch let error as CLIError where error.kind == .data && !error.description.hasPrefix(self.file) {
                throw CLIError(.data, "\(self.file): \(error.description)")
            }
            let report = AnalysisReport(response)
            if self.json {
                try JSONOutput.print(report)
                // Also on stderr: a script that reads only the JSON's columns still shows it.
                for warning in report.warnings ?? [] { FileHandle.standardError.write(Data("aurora: warning: \(warning)\n".utf8)) }
            } else {
                print(Terminal.printable(AnalysisTable.render(report, file: self.file)))
            }
        }
    }
}

/// A one-line progress bar on stderr, redrawn at most ten times a second.
final class ProgressBar: @unchecked Sendable {
    let total: Int
    let enabled: Bool
    var sent = 0
    var lastDraw = ContinuousClock.now - .seconds(1)
    let started = ContinuousClock.now

    init(total: Int, enabled: Bool) {
        self.total = total
        self.enabled = enabled && total > 0
    }

    func advance(_ bytes: Int) {
        self.sent += bytes
        guard self.enabled, ContinuousClock.now - self.lastDraw >= .milliseconds(100) else { return }
        self.lastDraw = ContinuousClock.now
        self.draw()
    }

    func finish() {
        guard self.enabled else { return }
        self.draw()
        FileHandle.standardError.write(Data("\n".utf8))
    }

    private func draw() {
        let fraction = min(1, Double(self.sent) / Double(max(1, self.total)))
        let width = 30
        let filled = Int(fraction * Double(width))
        let elapsed = ContinuousClock.now - self.started
        let seconds = max(0.001, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
        let line = String(
            format: "\ruploading [%@%@] %3.0f%%  %.1f/%.1f MB  %.1f MB/s", String(repeating: "#", count: filled),
            String(repeating: " ", count: width - filled), fraction * 100, Double(self.sent) / 1e6, Double(self.total) / 1e6,
            Double(self.sent) / 1e6 / seconds)
        FileHandle.standardError.write(Data(line.utf8))
    }
}

extension AnalysisReport {
    static let budgetSpent =
        "your privacy budget is spent: these recommendations still use your learned rules, but this analysis was not recorded and cannot take feedback. `aurora stats` shows the budget; `aurora forget` erases your data and resets it."

    /// The report of a gateway's answer: the same model `aurora profile --json` prints.
    init(_ response: Aurora_Gateway_V1_AnalyzeResponse) {
        var recommendations: [Int: RecommendationReport] = [:]
        for r in response.recommendations {
            recommendations[Int(r.columnIndex)] = RecommendationReport(
                action: r.action, confidence: r.confidence, source: r.source, explanation: r.explanation,
                alternatives: r.alternatives.map { .init(action: $0.action, confidence: $0.confidence, source: $0.source) },
                steps: r.steps.map { .init(action: $0.action, confidence: $0.confidence, source: $0.source, explanation: $0.explanation) })
        }
        self.init(
            analysisID: response.analysisID.isEmpty ? nil : response.analysisID, profile: DatasetProfile(response.profile), recommendations: recommendations,
            warnings: (response.learnedRulesMissing.isEmpty ? [] : [response.learnedRulesMissing])
                + (response.privacyBudgetSpent ? [Self.budgetSpent] : []))
    }
}

/// The readable form of an analysis.
enum AnalysisTable {
    static func render(_ report: AnalysisReport, file: String) -> String {
        let profile = report.profile
        var lines: [String] = []
        let delimiter = profile.dialect.delimiter == "\t" ? "tab" : profile.dialect.delimiter.isEmpty ? "none (one column)" : "'\(profile.dialect.delimiter)'"
        lines.append(
            "\(file): \(profile.encoding)\(profile.bom ? " with BOM" : ""), delimiter \(delimiter), header \(profile.dialect.header ? "yes" : "no"), \(profile.rows) rows, \(profile.columns.count) columns"
                + (profile.malformedRows > 0 ? ", \(profile.malformedRows) malformed rows (\(profile.raggedPolicy.rawValue))" : ""))
        lines.append("analysis \(report.analysisID ?? "- (not recorded)")")
        for warning in report.warnings ?? [] { lines.append("warning: \(warning)") }
        lines.append("")
        var rows: [[String]] = [["#", "column", "type", "key stats", "action", "conf", "why"]]
        for column in profile.columns {
            let recommendation = report.recommendations[column.index]
            rows.append([
                "\(column.index)", Self.clip(column.name, 24) + (recommendation?.source == "target" ? " (target)" : ""), column.type.rawValue, Self.keyStats(column.stats),
                recommendation.map(Self.actions) ?? "-", recommendation.map { String(format: "%.2f", $0.confidence) } ?? "-",
                recommendation.map(Self.why) ?? "",
            ])
        }
        lines += Self.table(rows, wrapLast: Self.terminalWidth())
        lines.append("")
        if let id = report.analysisID { lines.append("Accept or correct: aurora feedback \(id) --correct COLUMN=ACTION --accept-rest") }
        return lines.joined(separator: "\n")
    }

    /// The recommended action, or its steps in order ("impute_median → log_transform").
    static func actions(_ recommendation: RecommendationReport) -> String {
        recommendation.steps.count > 1 ? recommendation.steps.map(\.action).joined(separator: " → ") : recommendation.action
    }

    /// The recommendation's reason, then the other steps' reasons.
    static func why(_ recommendation: RecommendationReport) -> String {
        var text = recommendation.explanation + (recommendation.source.hasPrefix("learned:") ? " [\(recommendation.source)]" : "")
        for step in recommendation.steps where step.action != recommendation.action || step.source != recommendation.source {
            text += " " + step.explanation
        }
        return text
    }

    /// Rows padded into columns; the last column is wrapped at word boundaries to fit `width`
    /// (never cut: an explanation is read whole).
    static func table(_ rows: [[String]], wrapLast width: Int) -> [String] {
        let count = rows[0].count
        let widths = (0..<count).map { index in rows.map { $0[index].count }.max() ?? 0 }
        let indent = widths.dropLast().reduce(0) { $0 + $1 + 2 }
        let room = max(30, width - indent)
        var lines: [String] = []
        for row in rows {
            let head = zip(row.dropLast(), widths).map { $0.0.padding(toLength: $0.1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
            let wrapped = Self.wrap(row[count - 1], width: room)
            lines.append(head + "  " + (wrapped.first ?? ""))
            for more in wrapped.dropFirst() { lines.append(String(repeating: " ", count: indent) + more) }
        }
        return lines.map { $0.replacingOccurrences(of: #"\s+$"#, with: "", options: .regularExpression) }
    }

    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            if !line.isEmpty && line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty || lines.isEmpty { lines.append(line) }
        return lines
    }

    /// $COLUMNS, else 120 (output to a pipe or a file is not cut either way).
    static func terminalWidth() -> Int {
        Int(ProcessInfo.processInfo.environment["COLUMNS"] ?? "").flatMap { $0 >= 40 ? $0 : nil } ?? 120
    }

    /// Missing share (of all cells), then what matters for the type; non-numbers in a numeric
    /// column are said.
    static func keyStats(_ stats: ColumnStatistics) -> String {
        var parts: [String] = []
        if stats.missing > 0 { parts.append("missing \(Self.percent(stats.missingRatio))") }
        switch stats.kind {
        case .integer, .float:
            let numeric = stats.numeric ?? .zero
            parts.append("skew \(Self.number(numeric.skewness))")
            parts.append("range \(Self.number(numeric.min))..\(Self.number(numeric.max))")
            if stats.invalid > 0 { parts.append("\(stats.invalid) not numbers") }
        case .categorical, .boolean, .identifier, .text:
            parts.append("distinct \(stats.distinct)")
        case .date, .datetime:
            parts.append(stats.date?.format ?? "dates")
        case .empty:
            break
        }
        return parts.joined(separator: ", ")
    }

    /// "61%", "0.4%": a whole percent from 10%, one decimal below.
    static func percent(_ ratio: Double) -> String {
        let value = ratio * 100
        return value >= 10 ? String(format: "%.0f%%", value) : String(format: "%.1f%%", value)
    }

    static func number(_ value: Double) -> String {
        abs(value) >= 1e6 || (abs(value) < 0.01 && value != 0) ? String(format: "%.2g", value) : String(format: "%.4g", value)
    }

    static func clip(_ text: String, _ width: Int) -> String {
        text.count <= width ? text : String(text.prefix(width - 1)) + "…"
    }
}

/// Text from a file (names, values) shown on a terminal: control characters other than line
/// ends and tabs become U+FFFD, so a header cannot move the cursor, clear the screen or retitle
/// the window (ESC sequences), nor ring the bell.
enum Terminal {
    static func printable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { scalar in
            let value = scalar.value
            let control = (value < 0x20 && value != 0x0A && value != 0x09) || (0x7F...0x9F).contains(value)
            return control ? "\u{FFFD}" : scalar
        }))
    }
}
