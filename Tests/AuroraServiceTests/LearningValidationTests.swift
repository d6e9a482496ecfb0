@testable import AuroraGateway
import AuroraLearning
@testable import AuroraLearningService
import AuroraParser
import AuroraParserService
import AuroraProtocol
@testable import AuroraRPC
import Foundation
import Logging
import Testing

/// Statistics no real column has, each with the field a refusal must name (issue 19, findings 1
/// and 8). Applied to `HostileStatistics.sane`, which is accepted as it is.
struct HostileStatistics: CustomTestStringConvertible, Sendable {
    let name: String
    /// Path of the refused field below the column ("missing", "numeric.skewness", ...).
    let field: String
    let change: @Sendable (inout Aurora_Profile_V1_ColumnStatistics) -> Void

    var testDescription: String { self.name }

    /// A float column of 1,000 rows with every sub-message a profile may carry.
    static var sane: Aurora_Profile_V1_ColumnStatistics {
        var stats = Aurora_Profile_V1_ColumnStatistics()
        stats.type = .float
        stats.count = 1000
        stats.missing = 10
        stats.distinctEstimate = 600
        stats.invalid = 1
        stats.topValueRatio = 0.02
        stats.numeric.min = 1
        stats.numeric.max = 500
        stats.numeric.mean = 40
        stats.numeric.variance = 900
        stats.numeric.skewness = 2.5
        stats.numeric.kurtosis = 9
        stats.numeric.zeroRatio = 0
        stats.numeric.negativeRatio = 0
        stats.numeric.outlierRatio = 0.03
        stats.numeric.quantiles = [1.5, 3, 10, 25, 50, 150, 400]
        stats.numeric.histogram = [UInt64](repeating: 49, count: 20)
        stats.text.minLength = 1
        stats.text.maxLength = 6
        stats.text.meanLength = 2.4
        return stats
    }

    static let all: [HostileStatistics] = [
        // Finding 1 exactly: the numbers that trapped Feedback.
        .init(name: "finding 1: count 2^64-1, missing 2^64-2, distinct 2^64-1", field: "count") {
            $0 = Aurora_Profile_V1_ColumnStatistics()
            $0.type = .integer
            $0.count = UInt64.max
            $0.missing = UInt64.max - 1
            $0.distinctEstimate = UInt64.max
        },
        .init(name: "count Int64.max", field: "count") { $0.count = UInt64(Int64.max) },
        .init(name: "count 2^53 + 1", field: "count") { $0.count = (1 << 53) + 1 },
        .init(name: "missing -1 (as a varint)", field: "missing") { $0.missing = UInt64.max },
        .init(name: "missing > count", field: "missing") {
            $0.count = 4
            $0.missing = 5
            $0.distinctEstimate = 2
            $0.invalid = 0
            $0.numeric.histogram = []
        },
        .init(name: "distinct > count", field: "distinct_estimate") { $0.distinctEstimate = 1001 },
        .init(name: "invalid > non-missing", field: "invalid") { $0.invalid = 991 },
        .init(name: "unknown type", field: "type") { $0.type = .UNRECOGNIZED(42) },
        .init(name: "top_value_ratio 1.5", field: "top_value_ratio") { $0.topValueRatio = 1.5 },
        .init(name: "top_value_ratio NaN", field: "top_value_ratio") { $0.topValueRatio = .nan },
        .init(name: "min NaN", field: "numeric.min") { $0.numeric.min = .nan },
        .init(name: "min -inf", field: "numeric.min") { $0.numeric.min = -.infinity },
        .init(name: "max +inf", field: "numeric.max") { $0.numeric.max = .infinity },
        .init(name: "max 1e308", field: "numeric.max") { $0.numeric.max = 1e308 },
        .init(name: "min -1e308", field: "numeric.min") { $0.numeric.min = -1e308 },
        .init(name: "mean NaN", field: "numeric.mean") { $0.numeric.mean = .nan },
        .init(name: "min > max", field: "numeric.min") { $0.numeric.min = 600 },
        .init(name: "variance NaN", field: "numeric.variance") { $0.numeric.variance = .nan },
        .init(name: "variance negative", field: "numeric.variance") { $0.numeric.variance = -1 },
        .init(name: "variance 1e308", field: "numeric.variance") { $0.numeric.variance = 1e308 },
        .init(name: "skewness NaN", field: "numeric.skewness") { $0.numeric.skewness = .nan },
        .init(name: "skewness -inf", field: "numeric.skewness") { $0.numeric.skewness = -.infinity },
        .init(name: "skewness 1e20", field: "numeric.skewness") { $0.numeric.skewness = 1e20 },
        .init(name: "kurtosis +inf", field: "numeric.kurtosis") { $0.numeric.kurtosis = .infinity },
        .init(name: "zero_ratio 1.5", field: "numeric.zero_ratio") { $0.numeric.zeroRatio = 1.5 },
        .init(name: "negative_ratio NaN", field: "numeric.negative_ratio") { $0.numeric.negativeRatio = .nan },
        .init(name: "outlier_ratio negative", field: "numeric.outlier_ratio") { $0.numeric.outlierRatio = -0.1 },
        .init(name: "zero_ratio + negative_ratio > 1", field: "numeric.zero_ratio") {
            $0.numeric.zeroRatio = 0.7
            $0.numeric.negativeRatio = 0.7
        },
        .init(name: "a quantile NaN", field: "numeric.quantiles[0]") { $0.numeric.quantiles[0] = .nan },
        .init(name: "quantiles decreasing", field: "numeric.quantiles[3]") { $0.numeric.quantiles[3] = 5 },
        .init(name: "a quantile beyond max", field: "numeric.quantiles[6]") { $0.numeric.quantiles[6] = 501 },
        .init(name: "100,000 quantiles", field: "numeric.quantiles") { $0.numeric.quantiles = [Double](repeating: 2, count: 100_000) },
        .init(name: "100,000 histogram bins", field: "numeric.histogram") { $0.numeric.histogram = [UInt64](repeating: 0, count: 100_000) },
        .init(name: "a histogram bin > non-missing", field: "numeric.histogram[2]") { $0.numeric.histogram[2] = UInt64.max },
        .init(name: "histogram total > non-missing", field: "numeric.histogram") { $0.numeric.histogram = [UInt64](repeating: 50, count: 20) },
        .init(name: "mean_length negative", field: "text.mean_length") { $0.text.meanLength = -1 },
        .init(name: "mean_length +inf", field: "text.mean_length") { $0.text.meanLength = .infinity },
        .init(name: "min_length > max_length", field: "text.min_length") { $0.text.minLength = 7 },
        .init(name: "max_length 2^64-1", field: "text.max_length") { $0.text.maxLength = UInt64.max },
        .init(name: "date min > max", field: "date.min") {
            $0.date.min = 2
            $0.date.max = 1
        },
        .init(name: "date format of 10,000 bytes", field: "date.format") { $0.date.format = String(repeating: "%Y", count: 5000) },
        .init(name: "boolean counts > non-missing", field: "boolean") {
            $0.boolean.trueCount = 600
            $0.boolean.falseCount = 600
        },
        .init(name: "true_count 2^64-1", field: "boolean.true_count") { $0.boolean.trueCount = UInt64.max },
    ]

    var statistics: Aurora_Profile_V1_ColumnStatistics {
        var stats = Self.sane
        self.change(&stats)
        return stats
    }
}

/// The status a refused call must end with: INVALID_ARGUMENT whose message starts with the field's
/// path and whose details name it.
func expectRefusal(naming field: String, _ comment: Comment? = nil, _ call: () async throws -> Void) async {
    do {
        try await call()
        Issue.record("accepted; expected INVALID_ARGUMENT naming \(field). \(comment?.rawValue ?? "")")
    } catch let error as RPCError {
        #expect(error.code == .invalidArgument, "\(error)")
        #expect(error.message.hasPrefix(field + " "), "\(error.message)")
        #expect(error.details["field"] == field, "\(error.details)")
    } catch {
        Issue.record("\(error)")
    }
}

@Suite("learning-service input validation", .serialized)
struct LearningValidationTests {
    func item(_ stats: Aurora_Profile_V1_ColumnStatistics, id: String = UUID().uuidString) -> Aurora_Learning_V1_FeedbackItem {
        var item = Aurora_Learning_V1_FeedbackItem()
        item.feedbackID = id
        item.stats = stats
        item.recommendedAction = "log_transform"
        item.acceptedAction = "robust_scale"
        return item
    }

    /// Finding 1 as reported: one Feedback call trapped the learning-service. It is refused naming
    /// the field, and the service keeps answering, Recommend with the same numbers too.
    @Test func finding1FeedbackIsRefusedAndTheServiceKeepsAnswering() async throws {
        try await withLearningService(configuration: .isolated) { port in
            let client = try await LearningClient.connect(port, user: "finding1-\(UUID().uuidString)")
            var stats = Aurora_Profile_V1_ColumnStatistics()
            stats.type = .integer
            stats.count = UInt64.max
            stats.missing = UInt64.max - 1
            stats.distinctEstimate = UInt64.max
            await expectRefusal(naming: "items[0].stats.count") {
                try await client.feedback(stats, recommended: "keep", accepted: "keep")
            }
            await expectRefusal(naming: "batch.columns[0].count") { _ = try await client.recommend([stats]) }
            // Still serving: a sane column goes through both, and nothing refused was stored.
            let recommendation = try await client.recommend([HostileStatistics.sane])[0]
            #expect(!recommendation.action.isEmpty)
            #expect(try await client.feedback(HostileStatistics.sane, recommended: recommendation.action, accepted: "robust_scale").stored == 1)
            #expect(try await client.stats().feedback == 1)
            await client.connection.close()
        }
    }

    /// Each hostile column is refused by Recommend (after a sane column, so the index counts) and
    /// by Feedback, naming the field; the sane column alone is accepted by both.
    @Test func hostileStatisticsAreRefusedNamingTheField() async throws {
        try await withLearningService(configuration: .isolated) { port in
            let client = try await LearningClient.connect(port, user: "hostile-\(UUID().uuidString)")
            for hostile in HostileStatistics.all {
                await expectRefusal(naming: "batch.columns[1].\(hostile.field)", "\(hostile.name)") {
                    _ = try await client.recommend([HostileStatistics.sane, hostile.statistics])
                }
                var request = Aurora_Learning_V1_FeedbackRequest()
                request.items = [self.item(HostileStatistics.sane), self.item(hostile.statistics)]
                await expectRefusal(naming: "items[1].stats.\(hostile.field)", "\(hostile.name)") {
                    _ = try await client.connection.unary(LearningAPI.feedback, request, options: client.options)
                }
            }
            // Nothing of the refused calls was stored, not even their sane first items.
            #expect(try await client.stats().feedback == 0)
            #expect(try await client.recommend([HostileStatistics.sane]).count == 1)
            #expect(try await client.feedback(HostileStatistics.sane, recommended: "log_transform", accepted: "robust_scale").stored == 1)
            // The parts a column may leave out are optional: a bare text and a bare boolean column pass.
            var text = Aurora_Profile_V1_ColumnStatistics()
            text.type = .text
            text.count = 10
            text.distinctEstimate = 10
            text.text.meanLength = 30
            var boolean = Aurora_Profile_V1_ColumnStatistics()
            boolean.type = .boolean
            boolean.count = 10
            boolean.missing = 1
            boolean.distinctEstimate = 2
            boolean.boolean.trueCount = 4
            boolean.boolean.falseCount = 5
            #expect(try await client.recommend([text, boolean]).count == 2)
            await client.connection.close()
        }
    }

    /// Strings, lists and ids of every method are bounded, and the store never sees a NUL.
    @Test func requestFieldsAreBounded() async throws {
        var configuration = LearningService.Configuration.isolated
        configuration.maximumColumns = 3
        try await withLearningService(configuration: configuration) { port in
            let client = try await LearningClient.connect(port, user: "bounds-\(UUID().uuidString)")
            let sane = HostileStatistics.sane
            func recommend(_ change: (inout Aurora_Learning_V1_RecommendRequest) -> Void) async throws {
                var request = Aurora_Learning_V1_RecommendRequest()
                request.batch.columns = [sane, sane]
                change(&request)
                _ = try await client.connection.unary(LearningAPI.recommend, request, options: client.options)
            }
            func feedback(_ change: (inout Aurora_Learning_V1_FeedbackItem) -> Void) async throws {
                var request = Aurora_Learning_V1_FeedbackRequest()
                request.items = [self.item(sane)]
                change(&request.items[0])
                _ = try await client.connection.unary(LearningAPI.feedback, request, options: client.options)
            }
            await expectRefusal(naming: "batch.columns") { try await recommend { $0.batch.columns = [sane, sane, sane, sane] } }
            await expectRefusal(naming: "batch.domain") { try await recommend { $0.batch.domain = String(repeating: "d", count: 65) } }
            await expectRefusal(naming: "batch.domain") { try await recommend { $0.batch.domain = "fin\u{0}ance" } }
            await expectRefusal(naming: "analysis_id") { try await recommend { $0.analysisID = String(repeating: "a", count: 65) } }
            await expectRefusal(naming: "column_keys") { try await recommend { $0.columnKeys = ["k"] } }
            await expectRefusal(naming: "column_keys[1]") {
                try await recommend {
                    $0.analysisID = "an_bounds"
                    $0.columnKeys = ["k", String(repeating: "k", count: 129)]
                }
            }
            await expectRefusal(naming: "items[0].feedback_id") { try await feedback { $0.feedbackID = "" } }
            await expectRefusal(naming: "items[0].feedback_id") { try await feedback { $0.feedbackID = "id\u{0}other" } }
            await expectRefusal(naming: "items[0].feedback_id") { try await feedback { $0.feedbackID = String(repeating: "f", count: 129) } }
            await expectRefusal(naming: "items[0].domain") { try await feedback { $0.domain = String(repeating: "d", count: 65) } }
            await expectRefusal(naming: "items[0].accepted_action") { try await feedback { $0.acceptedAction = String(repeating: "x", count: 100_000) } }
            await expectRefusal(naming: "items[0].analysis_id") { try await feedback { $0.analysisID = String(repeating: "a", count: 100_000) } }
            await expectRefusal(naming: "items[0].column_key") { try await feedback { $0.columnKey = String(repeating: "k", count: 129) } }
            await expectRefusal(naming: "items[0].recommendation_id") { try await feedback { $0.recommendationID = UInt64(Int64.max) + 1 } }
            // The rest of an analysis: its id bounded; a column id past the batch refused.
            var rest = Aurora_Learning_V1_FeedbackRequest()
            rest.acceptRestOfAnalysis = String(repeating: "a", count: 65)
            await expectRefusal(naming: "accept_rest_of_analysis") { _ = try await client.connection.unary(LearningAPI.feedback, rest, options: client.options) }
            await expectRefusal(naming: "target_columns[0]") { try await recommend { $0.targetColumns = [2] } }
            var disable = Aurora_Learning_V1_DisableRuleRequest()
            disable.id = UInt64.max
            await expectRefusal(naming: "id") { _ = try await client.connection.unary(LearningAPI.disableRule, disable, options: client.options) }
            // A user id with a NUL would reach the store cut short, as another user.
            var options = client.options
            options.metadata[MetadataKeys.user] = client.user + "\u{0}someone-else"
            do {
                _ = try await client.connection.unary(LearningAPI.stats, Aurora_Learning_V1_StatsRequest(), options: options)
                Issue.record("a user id with a NUL was accepted")
            } catch let error as RPCError {
                #expect(error.code == .unauthenticated, "\(error)")
            }
            #expect(try await client.stats().feedback == 0)
            await client.connection.close()
        }
    }
}

/// Numbers beyond about 1e77 are valid cells whose moments overflow a Double: the parser reports
/// an infinite variance and NaN kurtosis, which the learning-service refuses. The gateway's Analyze
/// brings them into range, so such a file is analysed like any other.
enum OverflowingFile {
    static let text = "big,bigger,small\n1e80,1e200,1\n2e80,-3e200,2\n-1e80,5e199,3\n4e80,7e200,4\n1e81,1e201,5\n"

    static func statistics() throws -> [Aurora_Profile_V1_ColumnStatistics] {
        let profiler = Profiler()
        try profiler.consume(Array(Self.text.utf8))
        return try profiler.finish().message.columns.map { column in
            var stats = column.stats
            stats.topValues = []
            return stats
        }
    }
}

@Suite("statistics of overflowing numbers")
struct OverflowingNumbersTests {
    @Test func clampedParserStatisticsAreAccepted() throws {
        let columns = try OverflowingFile.statistics()
        #expect(columns.count == 3)
        #expect(!columns[0].numeric.kurtosis.isFinite && !columns[1].numeric.variance.isFinite, "the parser's moments no longer overflow: \(columns)")
        #expect(throws: RPCError.self) { try RequestValidation.check(columns[1], at: "bigger") }
        for (index, column) in columns.enumerated() {
            let clamped = RequestValidation.clampingNumbers(column)
            try RequestValidation.check(clamped, at: "columns[\(index)]")
            #expect(clamped.count == column.count && clamped.numeric.histogram == column.numeric.histogram)
        }
        // Statistics in range are left as they are.
        #expect(RequestValidation.clampingNumbers(columns[2]) == columns[2])
        #expect(RequestValidation.clampingNumbers(HostileStatistics.sane) == HostileStatistics.sane)
    }
}

extension LearningServiceTests {
    /// Through the daemons: Analyze of such a file gives every column a recommendation.
    @Suite("end to end: Analyze of overflowing numbers", .serialized)
    struct OverflowingAnalyzeTests {
        @Test func aFileOfHugeNumbersIsAnalysed() async throws {
            let system = try await LocalSystem.start()
            defer { system.stop() }
            let token = try await system.token(user: "overflow-\(UUID().uuidString)")
            let path = system.directory.appendingPathComponent("huge.csv").path
            try Data(OverflowingFile.text.utf8).write(to: URL(fileURLWithPath: path))
            let result = try system.aurora(["analyze", path, "--json"], token: token)
            #expect(result.status == 0, "aurora analyze failed: \(result.errors)")
            let analysis = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any] ?? [:]
            let columns = analysis["columns"] as? [[String: Any]] ?? []
            #expect(columns.count == 3)
            for column in columns { #expect((column["recommendation"] as? [String: Any])?["action"] is String, "\(column)") }
        }
    }
}

/// The committed fuzz corpus (Tests/Fuzz/corpus/learning, the seeds and the inputs that once
/// found a bug) replayed over the wire to a real learning-service, in the fuzz target's format:
/// the first byte picks the method (low three bits, modulo 6) and the user (next two bits; 3:
/// none), the rest is the request. Each is answered, with OK or a status that describes the
/// request; none is INTERNAL (a value that reached the store unchecked), and the service is still
/// up afterwards.
@Suite("learning fuzz corpus")
struct LearningFuzzCorpusTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/corpus/learning")
    static let methods = [
        LearningAPI.recommend.name, LearningAPI.feedback.name, LearningAPI.listRules.name,
        LearningAPI.disableRule.name, LearningAPI.forget.name, LearningAPI.stats.name,
    ]

    @Test func everyCorpusInputIsAnsweredWithoutAnInternalError() async throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).sorted()
        #expect(files.count >= 9, "\(Self.directory.path)")
        try await withLearningService(configuration: .isolated) { port in
            let run = "corpus-\(UUID().uuidString.prefix(8))"
            let client = try await LearningClient.connect(port, user: run)
            for file in files {
                let input = [UInt8](try Data(contentsOf: Self.directory.appendingPathComponent(file)))
                guard let selector = input.first else { continue }
                let method = Self.methods[Int(selector & 0x07) % Self.methods.count]
                let user = (selector >> 3) & 0x03
                var options = client.options
                options.metadata = user == 3 ? [:] : [MetadataKeys.user: "\(run)-\(user)"]
                do {
                    _ = try await client.connection.unary(method: method, request: Array(input.dropFirst()), options: options)
                } catch let error as RPCError {
                    #expect(![.internal, .unknown, .unavailable].contains(error.code), "\(file): \(error)")
                }
            }
            _ = try await client.stats()
            await client.connection.close()
        }
    }
}

/// The gateway checks statistics before it forwards them: pointed at a server without the
/// learning methods, a hostile request is refused naming the field (a forwarded one would come
/// back UNIMPLEMENTED), and a sane one is forwarded.
@Suite("gateway input validation")
struct GatewayValidationTests {
    func withGateway(_ body: @Sendable (GatewayService, ServerContext) async throws -> Void) async throws {
        try await withInternalServer(router: Router(), logger: Logger(label: "test.nothing")) { port in
            var client = ClientConfiguration()
            client.credential = internalSecret
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port, configuration: client)
            var configuration = GatewayService.Configuration()
            configuration.calls = .init(rate: 100_000, burst: 100_000)
            let gateway = GatewayService(
                configuration: configuration, parser: connection, learning: connection, internalSecret: internalSecret, logger: Logger(label: "test.gateway"))
            let context = ServerContext(
                method: GatewayAPI.feedback.name, metadata: [:], principal: Principal(id: "gateway-validation", scopes: ["admin"]),
                deadline: .now + .seconds(30), peer: "test", streamID: 1, connectionLogger: Logger(label: "test.context"))
            try await body(gateway, context)
            await connection.close()
        }
    }

    @Test func hostileStatisticsAreRefusedBeforeForwarding() async throws {
        try await self.withGateway { gateway, context in
            for hostile in HostileStatistics.all {
                var recommend = Aurora_Learning_V1_RecommendRequest()
                recommend.batch.columns = [HostileStatistics.sane, hostile.statistics]
                await expectRefusal(naming: "batch.columns[1].\(hostile.field)", "\(hostile.name)") { _ = try await gateway.recommend(recommend, context) }
                // Verdicts come first when forwarded; the field is named as the caller numbered it.
                var feedback = Aurora_Gateway_V1_FeedbackRequest()
                feedback.analysisID = "an_x"
                var verdict = Aurora_Gateway_V1_ColumnVerdict()
                verdict.column = "price"
                feedback.verdicts = [verdict]
                var item = Aurora_Learning_V1_FeedbackItem()
                item.feedbackID = "f"
                item.stats = hostile.statistics
                item.acceptedAction = "keep"
                feedback.items = [item]
                await expectRefusal(naming: "items[0].stats.\(hostile.field)", "\(hostile.name)") { _ = try await gateway.feedback(feedback, context) }
            }
            var sane = Aurora_Learning_V1_RecommendRequest()
            sane.batch.columns = [HostileStatistics.sane]
            do {
                _ = try await gateway.recommend(sane, context)
                Issue.record("the test server has no learning methods: the call cannot succeed")
            } catch let error as RPCError {
                #expect(error.code == .unimplemented, "a sane column is forwarded: \(error)")
            }
        }
    }
}

@Suite("gateway feedback requests")
struct GatewayFeedbackValidationTests {
    /// "Accept the rest" needs the analysis whose other columns it accepts.
    @Test func acceptRestNeedsAnAnalysis() throws {
        var request = Aurora_Gateway_V1_FeedbackRequest()
        request.acceptRest = true
        #expect(throws: RPCError.self) { try RequestValidation.check(request, maximumItems: 10) }
        request.analysisID = "an_0123"
        try RequestValidation.check(request, maximumItems: 10)
    }
}

extension LearningService.Configuration {
    /// For suites that run beside the end-to-end tests on the same database: their users' votes
    /// never make shared rules, which would change what the end-to-end users are recommended.
    static var isolated: Self {
        var configuration = Self()
        configuration.kAnonymity = 1_000_000
        return configuration
    }
}
