import AuroraProtocol
import AuroraWire
import Foundation
import SwiftProtobuf

/// Payloads shaped like the protocol's real traffic: call envelopes with their requests, column
/// statistics (the bulk of service traffic), statuses, handshakes.
enum SampleMessages {
    static let methods = [
        "aurora.diag.v1.Diagnostics/Echo", "aurora.parser.v1.Parser/Profile", "aurora.learning.v1.Learning/Recommend",
        "aurora.learning.v1.Learning/Feedback", "aurora.learning.v1.Learning/ListRules", "aurora.learning.v1.Learning/Stats",
        "aurora.gateway.v1.Gateway/Analyze", "aurora.gateway.v1.Gateway/Feedback", "aurora.gateway.v1.Gateway/Recommend",
    ]
    static let statusMessages = [
        "the call's deadline passed", "rate limit exceeded: retry after the given delay", "no method named",
        "too many concurrent calls on this connection (limit 100)", "the server is draining; retry on a new connection",
        "the token has expired: run `aurora login` for a new one", "unknown analysis id", "row 12, column 3: field too large",
        "the learning store is unavailable; retry shortly", "message is not a valid aurora.profile.v1.StatisticsBatch",
    ]

    static func payload(index: Int, random: inout SplitMix64) throws -> [UInt8] {
        switch index % 8 {
        case 0, 1, 2:
            var batch = Aurora_Profile_V1_StatisticsBatch()
            batch.columns = (0..<Int.random(in: 1...12, using: &random)).map { _ in column(&random) }
            batch.domain = ["", "finance", "clinical", "retail", "sensors"].randomElement(using: &random)!
            return try call(message: batch.serializedBytes(), random: &random).serializedBytes()
        case 3:
            return try column(&random).serializedBytes()
        case 4:
            var status = Aurora_Wire_V1_Status()
            status.code = UInt32([3, 4, 5, 8, 12, 14, 16].randomElement(using: &random)!)
            status.message = statusMessages.randomElement(using: &random)!
            if status.code == 8 { status.retryAfterMs = UInt64.random(in: 100...5000, using: &random) }
            if status.code == 3 {
                status.details = ["row": "\(Int.random(in: 1...100000, using: &random))", "column": "\(Int.random(in: 0...40, using: &random))"]
            }
            return try status.serializedBytes()
        case 5:
            var echo = Aurora_Diag_V1_EchoRequest()
            echo.payload = Data((0..<Int.random(in: 16...200, using: &random)).map { _ in UInt8.random(in: 97...122, using: &random) })
            return try call(message: echo.serializedBytes(), random: &random).serializedBytes()
        case 6:
            var hello = Aurora_Wire_V1_Hello()
            hello.minVersion = 1
            hello.maxVersion = 1
            hello.clientName = ["aurora-cli/0.1", "aurora-gateway/0.1", "aurora-python/0.1"].randomElement(using: &random)!
            hello.credential = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0." + String(repeating: "x", count: 120)
            hello.dictionaries = [1]
            hello.initialStreamCredit = 16
            return try hello.serializedBytes()
        default:
            var welcome = Aurora_Wire_V1_Welcome()
            welcome.version = 1
            welcome.dictionary = 1
            welcome.serverName = ["aurora-gateway", "aurora-parser-service", "aurora-learning-service"].randomElement(using: &random)!
            welcome.principal = "user-\(Int.random(in: 1...5000, using: &random))"
            welcome.limits.maxFrameBytes = 4_325_376
            welcome.limits.maxMessageBytes = 4_194_304
            welcome.limits.maxConcurrentStreams = 100
            welcome.limits.initialStreamCredit = 16
            welcome.limits.idleTimeoutMs = 300_000
            welcome.limits.maxMetadataBytes = 16384
            return try welcome.serializedBytes()
        }
    }

    static func call(message: [UInt8], random: inout SplitMix64) -> Aurora_Wire_V1_Call {
        var call = Aurora_Wire_V1_Call()
        call.method = methods.randomElement(using: &random)!
        call.timeoutMs = [0, 1000, 5000, 30000].randomElement(using: &random)!
        call.metadata["trace-id"] = String(UInt64.random(in: 0...UInt64.max, using: &random), radix: 16)
        if Bool.random(using: &random) { call.metadata["aurora-user"] = "user-\(Int.random(in: 1...5000, using: &random))" }
        call.message = Data(message)
        return call
    }

    static func column(_ random: inout SplitMix64) -> Aurora_Profile_V1_ColumnStatistics {
        var column = Aurora_Profile_V1_ColumnStatistics()
        let types: [Aurora_Profile_V1_ColumnType] = [.integer, .float, .float, .categorical, .boolean, .date, .text, .identifier]
        column.type = types.randomElement(using: &random)!
        column.count = UInt64.random(in: 100...5_000_000, using: &random)
        column.missing = Bool.random(using: &random) ? 0 : UInt64.random(in: 0...(column.count / 5), using: &random)
        column.distinctEstimate = UInt64.random(in: 2...column.count, using: &random)
        switch column.type {
        case .integer, .float:
            var numeric = Aurora_Profile_V1_NumericStats()
            let scale = pow(10, Double.random(in: -2...6, using: &random))
            numeric.min = (column.type == .integer ? 0 : -1) * Double.random(in: 0...scale, using: &random)
            numeric.max = Double.random(in: scale...(scale * 50), using: &random)
            numeric.mean = Double.random(in: numeric.min...numeric.max, using: &random)
            numeric.variance = Double.random(in: 0...(scale * scale), using: &random)
            numeric.skewness = Double.random(in: -3...8, using: &random)
            numeric.kurtosis = Double.random(in: -1.5...40, using: &random)
            numeric.zeroRatio = Double.random(in: 0...0.3, using: &random)
            numeric.negativeRatio = numeric.min < 0 ? Double.random(in: 0...0.5, using: &random) : 0
            numeric.outlierRatio = Double.random(in: 0...0.1, using: &random)
            var quantile = numeric.min
            numeric.quantiles = (0..<7).map { _ in
                quantile += Double.random(in: 0...((numeric.max - numeric.min) / 7), using: &random)
                return column.type == .integer ? quantile.rounded() : quantile
            }
            numeric.histogram = (0..<20).map { _ in UInt64.random(in: 0...(column.count / 10), using: &random) }
            column.numeric = numeric
        case .date:
            column.date.min = Int64.random(in: 946_684_800...1_600_000_000, using: &random)
            column.date.max = column.date.min + Int64.random(in: 86400...400_000_000, using: &random)
            column.date.format = ["%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%Y-%m-%dT%H:%M:%S"].randomElement(using: &random)!
        case .text, .identifier:
            column.text.meanLength = Double.random(in: 3...400, using: &random)
            column.text.minLength = UInt64.random(in: 0...5, using: &random)
            column.text.maxLength = UInt64.random(in: 10...5000, using: &random)
        default:
            column.topValueRatio = Double.random(in: 0...1, using: &random)
        }
        return column
    }
}
