import AuroraLearningService
import AuroraProtocol
import AuroraRPC
import AuroraStore
import CLibFuzzer
import Foundation
import FuzzSupport
import Logging
import SwiftProtobuf

/// Feeds arbitrary bytes to the learning-service's real handlers, in process (the router's own
/// decode-and-dispatch path), against the PostgreSQL named by AURORA_TEST_DATABASE_URL. The first
/// byte picks the method (its low three bits, modulo 6: Recommend, Feedback, ListRules,
/// DisableRule, Forget, Stats) and the user (the next two bits: three users, or none); the rest is
/// the request message. Refusals are expected; a crash, trap, hang, or an INTERNAL status (a value
/// the checks let through to the store) is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLearning(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    quietLogging
    guard let data, size > 0 else { return 0 }
    let selector = data[0]
    let request = [UInt8](UnsafeBufferPointer(start: data + 1, count: size - 1))
    let router = LearningFuzzState.router
    let method = LearningFuzzState.methods[Int(selector & 0x07) % LearningFuzzState.methods.count]
    let user = (selector >> 3) & 0x03
    runBlocking {
        do {
            _ = try await router.callInProcess(
                method: method, requests: [request], principal: Principal(id: "learning-fuzz", scopes: ["internal"]),
                metadata: user == 3 ? [:] : [MetadataKeys.user: "fuzz-\(user)"], timeout: .seconds(60))
        } catch let error as RPCError {
            // A store error from a request: a value reached PostgreSQL that the checks should have refused.
            if error.code == .internal || error.code == .unknown { fatalError("\(method) answered \(error)") }
        } catch {
            fatalError("\(method) threw \(type(of: error)), not a status: \(error)")
        }
    }
    return 0
}

enum LearningFuzzState {
    static let methods = [
        LearningAPI.recommend.name, LearningAPI.feedback.name, LearningAPI.listRules.name,
        LearningAPI.disableRule.name, LearningAPI.forget.name, LearningAPI.stats.name,
    ]

    /// One service for the whole run, as a daemon has: its caches, queues and refits carry over
    /// from one input to the next. Refits and cross-user rules come quickly, so they run on what
    /// the fuzzer sends too.
    static let router: Router = {
        guard let url = ProcessInfo.processInfo.environment["AURORA_TEST_DATABASE_URL"] else {
            fatalError("set AURORA_TEST_DATABASE_URL to a PostgreSQL for the learning-service (Deploy/scripts/postgres.sh start)")
        }
        let logger = Logger(label: "fuzz.learning-service")
        let pool = PostgresPool(configuration: .init(url: url, connections: 4), logger: logger)
        runBlocking {
            do { _ = try await Migrations.apply(pool) } catch { fatalError("migrations failed: \(error)") }
        }
        var configuration = LearningService.Configuration()
        configuration.refitDelay = .milliseconds(20)
        configuration.globalRefreshInterval = .milliseconds(200)
        configuration.kAnonymity = 2
        var router = Router()
        let learning = LearningService(configuration: configuration, pool: pool, logger: logger)
        learning.register(into: &router)
        // Its background work (group commits, refits) runs for the whole run, as in the daemon.
        Task { await learning.run() }
        return router
    }()
}

#if FUZZING
/// libFuzzer's entry point (SwiftPM links executables with `--defsym main=LearningFuzz_main`).
@_cdecl("LearningFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzLearning)
}
#else
/// Without libFuzzer: replays the corpus given as arguments, or with `--write-seeds DIR` writes
/// the seed corpus (Tests/Fuzz/corpus/learning).
@main
struct LearningFuzzReplay {
    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard arguments.first == "--write-seeds", arguments.count == 2 else { return try replayCorpus(arguments, through: fuzzLearning) }
        for (name, bytes) in try LearningSeeds.all() {
            try Data(bytes).write(to: URL(fileURLWithPath: arguments[1]).appendingPathComponent(name))
        }
    }
}

/// Small valid requests of every method, so the fuzzer starts past the decoding.
enum LearningSeeds {
    static func all() throws -> [(String, [UInt8])] {
        func seed(_ method: Int, user: UInt8 = 0, _ message: some SwiftProtobuf.Message) throws -> [UInt8] {
            [UInt8(method) | user << 3] + (try message.serializedBytes() as [UInt8])
        }
        var numeric = Aurora_Profile_V1_ColumnStatistics()
        numeric.type = .float
        numeric.count = 1000
        numeric.missing = 10
        numeric.distinctEstimate = 600
        numeric.topValueRatio = 0.02
        numeric.numeric.min = 1
        numeric.numeric.max = 500
        numeric.numeric.mean = 40
        numeric.numeric.variance = 900
        numeric.numeric.skewness = 2.5
        numeric.numeric.kurtosis = 9
        numeric.numeric.outlierRatio = 0.03
        numeric.numeric.quantiles = [1.5, 3, 10, 25, 50, 150, 400]
        numeric.numeric.histogram = [UInt64](repeating: 49, count: 20)
        var categorical = Aurora_Profile_V1_ColumnStatistics()
        categorical.type = .categorical
        categorical.count = 200
        categorical.missing = 30
        categorical.distinctEstimate = 12
        categorical.topValueRatio = 0.3
        categorical.text.minLength = 2
        categorical.text.maxLength = 9
        categorical.text.meanLength = 5.5
        var boolean = Aurora_Profile_V1_ColumnStatistics()
        boolean.type = .boolean
        boolean.count = 50
        boolean.distinctEstimate = 2
        boolean.boolean.trueCount = 20
        boolean.boolean.falseCount = 30
        var date = Aurora_Profile_V1_ColumnStatistics()
        date.type = .date
        date.count = 80
        date.distinctEstimate = 70
        date.date.min = 946_684_800
        date.date.max = 1_700_000_000
        date.date.format = "%Y-%m-%d"

        var recommend = Aurora_Learning_V1_RecommendRequest()
        recommend.batch.columns = [numeric, categorical, boolean, date]
        recommend.batch.domain = "finance"
        var analysis = recommend
        analysis.analysisID = "an_seed"
        analysis.columnKeys = ["k0", "k1", "k2", "k3"]
        var feedback = Aurora_Learning_V1_FeedbackRequest()
        for (index, (stats, action)) in [(numeric, "robust_scale"), (categorical, "target_encode"), (numeric, "log_transform")].enumerated() {
            var item = Aurora_Learning_V1_FeedbackItem()
            item.feedbackID = "seed-\(index)"
            item.stats = stats
            item.domain = "finance"
            item.recommendedAction = "standard_scale"
            item.acceptedAction = action
            feedback.items.append(item)
        }
        var onAnalysis = Aurora_Learning_V1_FeedbackRequest()
        var byKey = Aurora_Learning_V1_FeedbackItem()
        byKey.analysisID = "an_seed"
        byKey.columnKey = "k1"
        byKey.acceptedAction = "ordinal_encode"
        var byIndex = Aurora_Learning_V1_FeedbackItem()
        byIndex.analysisID = "an_seed"
        byIndex.columnIndex = 0
        onAnalysis.items = [byKey, byIndex]
        // Issue 19's findings as they were reported: Feedback trapped on these counts (finding 1);
        // NaN, infinities and a ratio of 1.5 were taken (finding 8).
        var finding1 = Aurora_Learning_V1_FeedbackRequest()
        var huge = Aurora_Learning_V1_FeedbackItem()
        huge.feedbackID = "finding-1"
        huge.stats.type = .integer
        huge.stats.count = UInt64.max
        huge.stats.missing = UInt64.max - 1
        huge.stats.distinctEstimate = UInt64.max
        huge.recommendedAction = "keep"
        huge.acceptedAction = "keep"
        finding1.items = [huge]
        var finding8 = Aurora_Learning_V1_RecommendRequest()
        var hostile = numeric
        hostile.numeric.skewness = .nan
        hostile.numeric.kurtosis = .infinity
        hostile.numeric.min = -.infinity
        hostile.numeric.zeroRatio = 1.5
        hostile.missing = 2000
        finding8.batch.columns = [hostile]
        var rules = Aurora_Learning_V1_ListRulesRequest()
        rules.includeInactive = true
        var disable = Aurora_Learning_V1_DisableRuleRequest()
        disable.id = 1
        return [
            ("recommend", try seed(0, recommend)),
            ("recommend-analysis", try seed(0, user: 1, analysis)),
            ("feedback", try seed(1, feedback)),
            ("feedback-analysis", try seed(1, user: 1, onAnalysis)),
            ("list-rules", try seed(2, rules)),
            ("disable-rule", try seed(3, disable)),
            ("forget", try seed(4, user: 2, Aurora_Learning_V1_ForgetRequest())),
            ("stats", try seed(5, Aurora_Learning_V1_StatsRequest())),
            ("no-user", try seed(5, user: 3, Aurora_Learning_V1_StatsRequest())),
            ("finding-1-feedback", try seed(1, finding1)),
            ("finding-8-recommend", try seed(0, finding8)),
        ]
    }
}
#endif
