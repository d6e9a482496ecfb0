import AuroraProtocol
import AuroraRPC
import Foundation

/// The adapter `../shared/simulate/simulate.py --external-cmd` talks to: JSON lines on stdin and
/// stdout, each request answered by calling the real learning-service over the real protocol.
/// Settings from the environment: AURORA_LEARNING_ADDRESS (host:port), AURORA_INTERNAL_SECRET.
/// `--via-cli PATH/TO/aurora` answers through the CLI and the gateway instead (CLIAdapter.swift).
@main
struct SimAdapter {
    static func main() async throws {
        if var adapter = CLIAdapter.parse(CommandLine.arguments) {
            adapter.run()
            return
        }
        let environment = ProcessInfo.processInfo.environment
        let address = environment["AURORA_LEARNING_ADDRESS"] ?? "127.0.0.1:7103"
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            FileHandle.standardError.write(Data("AURORA_LEARNING_ADDRESS must be host:port\n".utf8))
            exit(64)
        }
        var configuration = ClientConfiguration()
        configuration.credential = environment["AURORA_INTERNAL_SECRET"] ?? ""
        configuration.clientName = "aurora-sim-adapter"
        let connection = try await RPCConnection.connect(host: String(address[..<colon]), port: port, configuration: configuration)
        var counter = 0
        var recommended: [String: [String: Any]] = [:]
        while let line = readLine() {
            guard let request = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                Self.reply(["error": "not a JSON object"])
                continue
            }
            let user = request["user"] as? String ?? "anonymous"
            let options = CallOptions(timeout: .seconds(30), metadata: [MetadataKeys.user: user])
            do {
                switch request["op"] as? String {
                case "recommend":
                    var message = Aurora_Learning_V1_RecommendRequest()
                    message.batch.columns = [Self.statistics(request["column"] as? [String: Any] ?? [:])]
                    let recommendation = try await connection.unary(LearningAPI.recommend, message, options: options).recommendations[0]
                    let reply: [String: Any] = [
                        "action": recommendation.action, "confidence": recommendation.confidence, "source": recommendation.source,
                        "explanation": recommendation.explanation,
                    ]
                    recommended[user] = reply
                    Self.reply(reply)
                case "feedback":
                    Self.traceVerdict(user: user, request: request, recommendation: recommended.removeValue(forKey: user))
                    counter += 1
                    var item = Aurora_Learning_V1_FeedbackItem()
                    item.feedbackID = "sim-\(ProcessInfo.processInfo.processIdentifier)-\(counter)"
                    item.stats = Self.statistics(request["column"] as? [String: Any] ?? [:])
                    item.recommendedAction = request["recommended"] as? String ?? ""
                    item.acceptedAction = request["accepted_action"] as? String ?? ""
                    var message = Aurora_Learning_V1_FeedbackRequest()
                    message.items = [item]
                    _ = try await connection.unary(LearningAPI.feedback, message, options: options)
                    Self.reply(["ok": true])
                case "summary":
                    var message = Aurora_Learning_V1_ListRulesRequest()
                    message.includeInactive = true
                    let rules = try await connection.unary(LearningAPI.listRules, message, options: options).rules
                    Self.reply(["rules_active": rules.filter(\.active).count, "rules_created": rules.count])
                default:
                    Self.reply(["error": "unknown op"])
                }
            } catch {
                Self.reply(["error": "\(error)"])
            }
        }
        await connection.close()
    }

    /// AURORA_SIM_TRACE=FILE: one JSON line per verdict (column, recommendation, the user's
    /// answer), to compare two runs over the same column sequence column by column.
    /// Appended to: the harness starts one adapter per user and run (simulate.sh empties it first).
    static let trace: FileHandle? = ProcessInfo.processInfo.environment["AURORA_SIM_TRACE"].flatMap { path in
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = FileHandle(forWritingAtPath: path)
        _ = try? handle?.seekToEnd()
        return handle
    }

    static func traceVerdict(user: String, request: [String: Any], recommendation: [String: Any]?) {
        guard let trace else { return }
        let column = request["column"] as? [String: Any] ?? [:]
        var line: [String: Any] = ["user": user, "column": column["name"] ?? "", "accepted": request["accepted_action"] ?? ""]
        if let source = request["source"] as? [String: Any] { line["dataset"] = source["dataset"] ?? "" }
        for (key, value) in recommendation ?? [:] { line[key] = value }
        guard let data = try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]) else { return }
        trace.write(data + Data("\n".utf8))
    }

    static func reply(_ object: [String: Any]) {
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8)
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    /// The harness's flat statistics as the column statistics the gateway would send.
    static func statistics(_ column: [String: Any]) -> Aurora_Profile_V1_ColumnStatistics {
        func number(_ key: String) -> Double? { (column[key] as? NSNumber)?.doubleValue }
        func flag(_ key: String) -> Bool { (column[key] as? NSNumber)?.boolValue ?? false }
        var stats = Aurora_Profile_V1_ColumnStatistics()
        let type = column["inferred_type"] as? String ?? "empty"
        switch type {
        case "numeric": stats.type = flag("is_integer") ? .integer : .float
        case "boolean": stats.type = .boolean
        case "datetime": stats.type = .datetime
        case "categorical": stats.type = .categorical
        case "text": stats.type = .text
        default: stats.type = .empty
        }
        if flag("id_like") { stats.type = .identifier }
        stats.count = UInt64(max(0, number("n_rows") ?? 0))
        stats.missing = UInt64(max(0, number("n_missing") ?? 0))
        stats.distinctEstimate = UInt64(max(0, number("n_unique") ?? 0))
        stats.topValueRatio = number("top_freq_ratio") ?? 0
        if let minimum = number("min"), let maximum = number("max") {
            var numeric = Aurora_Profile_V1_NumericStats()
            numeric.min = minimum
            numeric.max = maximum
            numeric.mean = number("mean") ?? 0
            numeric.variance = pow(number("std") ?? 0, 2)
            numeric.skewness = number("skewness") ?? 0
            numeric.kurtosis = number("kurtosis") ?? 0
            numeric.zeroRatio = number("zeros_ratio") ?? 0
            numeric.negativeRatio = number("negative_ratio") ?? 0
            numeric.outlierRatio = number("outlier_ratio_iqr") ?? 0
            let (q1, median, q3) = (number("q1") ?? minimum, number("median") ?? minimum, number("q3") ?? maximum)
            numeric.quantiles = [minimum, minimum, q1, median, q3, maximum, maximum]
            stats.numeric = numeric
        }
        if let length = number("avg_length") {
            var text = Aurora_Profile_V1_TextStats()
            text.meanLength = length
            text.maxLength = UInt64(max(0, number("max_length") ?? length))
            stats.text = text
        }
        return stats
    }
}
