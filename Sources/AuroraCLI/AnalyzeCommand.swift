import ArgumentParser
import AuroraParser
import AuroraParserService
import AuroraProtocol
import AuroraRPC
import Foundation
import SwiftProtobuf

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
            let read = try self.reading.profileOptions().readOptionsMessage
            guard let handle = FileHandle(forReadingAtPath: self.file) else {
                throw CLIError(.data, "\(self.file): cannot open the file (\(String(cString: strerror(errno))))")
            }
            defer { try? handle.close() }
            let size = (try? FileManager.default.attributesOfItem(atPath: self.file)[.size] as? Int) ?? 0
            let bar = ProgressBar(total: size, enabled: self.progress ?? (isatty(2) == 1))
            let response: Aurora_Gateway_V1_AnalyzeResponse
            do {
                response = try await self.connection.withClient { client in
                    try await client.clientStreaming(GatewayAPI.analyze) { writer in
                        var start = Aurora_Gateway_V1_AnalyzeUpload()
                        start.start.read = read
                        start.start.domain = self.domain ?? ""
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
            if self.json {
                try JSONOutput.print(try AnalysisJSON.object(response))
            } else {
                print(AnalysisTable.render(response, file: self.file))
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

/// The `--json` form of an analysis.
enum AnalysisJSON {
    static func object(_ response: Aurora_Gateway_V1_AnalyzeResponse) throws -> [String: Any] {
        let profile = response.profile
        let dialect = profile.dialect
        let file: [String: Any] = [
            "encoding": profile.encoding, "bom": profile.bom, "bytes": profile.bytes, "rows": profile.rows,
            "malformed_rows": profile.malformedRows, "malformed": profile.malformed.map(\.line),
            "dialect": [
                "delimiter": dialect.delimiter, "quote": dialect.quote.isEmpty ? NSNull() : dialect.quote as Any,
                "escape": dialect.escape.isEmpty || dialect.escape == dialect.quote ? NSNull() : dialect.escape as Any,
                "header": dialect.header, "skipped_lines": dialect.skippedLines,
            ] as [String: Any],
        ]
        var columns: [[String: Any]] = []
        for column in profile.columns {
            var options = JSONEncodingOptions()
            options.preserveProtoFieldNames = true
            var stats = column.stats
            stats.type = .unspecified  // said once, as "type"
            let statsObject = try JSONSerialization.jsonObject(with: Data(try stats.jsonString(options: options).utf8))
            var entry: [String: Any] = ["index": column.index, "name": column.name, "type": Self.typeName(column.stats.type), "stats": statsObject]
            if let recommendation = response.recommendations.first(where: { $0.columnIndex == column.index }) {
                entry["recommendation"] = [
                    "action": recommendation.action, "confidence": recommendation.confidence, "source": recommendation.source,
                    "explanation": recommendation.explanation,
                    "alternatives": recommendation.alternatives.map { ["action": $0.action, "confidence": $0.confidence, "source": $0.source] },
                ] as [String: Any]
            }
            columns.append(entry)
        }
        return ["analysis_id": response.analysisID, "file": file, "columns": columns]
    }

    static func typeName(_ type: Aurora_Profile_V1_ColumnType) -> String {
        switch type {
        case .integer: "integer"
        case .float: "float"
        case .boolean: "boolean"
        case .date: "date"
        case .datetime: "datetime"
        case .categorical: "categorical"
        case .text: "text"
        case .identifier: "identifier"
        case .empty: "empty"
        default: "unknown"
        }
    }
}

/// The readable form of an analysis.
enum AnalysisTable {
    static func render(_ response: Aurora_Gateway_V1_AnalyzeResponse, file: String) -> String {
        let profile = response.profile
        var lines: [String] = []
        let delimiter = profile.dialect.delimiter == "\t" ? "tab" : "'\(profile.dialect.delimiter)'"
        lines.append(
            "\(file): \(profile.encoding)\(profile.bom ? " with BOM" : ""), delimiter \(delimiter), header \(profile.dialect.header ? "yes" : "no"), \(profile.rows) rows, \(profile.columns.count) columns"
                + (profile.malformedRows > 0 ? ", \(profile.malformedRows) malformed rows (\(profile.raggedPolicy))" : ""))
        lines.append("analysis \(response.analysisID)")
        lines.append("")
        var rows: [[String]] = [["#", "column", "type", "key stats", "action", "conf", "why"]]
        for column in profile.columns {
            let recommendation = response.recommendations.first { $0.columnIndex == column.index }
            rows.append([
                "\(column.index)", Self.clip(column.name, 24), AnalysisJSON.typeName(column.stats.type), Self.keyStats(column.stats),
                recommendation?.action ?? "-", recommendation.map { String(format: "%.2f", $0.confidence) } ?? "-",
                recommendation.map { Self.clip($0.explanation, 70) + ($0.source.hasPrefix("learned:") ? " [\($0.source)]" : "") } ?? "",
            ])
        }
        let widths = (0..<rows[0].count).map { index in rows.map { $0[index].count }.max() ?? 0 }
        for row in rows {
            lines.append(zip(row, widths).map { $0.0.padding(toLength: $0.1, withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
        lines.append("")
        lines.append("Accept or correct: aurora feedback \(response.analysisID) --accept COLUMN --correct COLUMN=ACTION")
        return lines.joined(separator: "\n")
    }

    static func keyStats(_ stats: Aurora_Profile_V1_ColumnStatistics) -> String {
        var parts: [String] = []
        let total = stats.count + stats.missing
        if stats.missing > 0, total > 0 { parts.append(String(format: "missing %.0f%%", 100 * Double(stats.missing) / Double(total))) }
        switch stats.type {
        case .integer, .float:
            parts.append(String(format: "skew %.1f", stats.numeric.skewness))
            parts.append("range \(Self.number(stats.numeric.min))..\(Self.number(stats.numeric.max))")
        case .categorical, .boolean, .identifier, .text:
            parts.append("distinct \(stats.distinctEstimate)")
        case .date, .datetime:
            parts.append(stats.date.format)
        default:
            break
        }
        return parts.joined(separator: ", ")
    }

    static func number(_ value: Double) -> String {
        abs(value) >= 1e6 || (abs(value) < 0.01 && value != 0) ? String(format: "%.2g", value) : String(format: "%.4g", value)
    }

    static func clip(_ text: String, _ width: Int) -> String {
        text.count <= width ? text : String(text.prefix(width - 1)) + "…"
    }
}
