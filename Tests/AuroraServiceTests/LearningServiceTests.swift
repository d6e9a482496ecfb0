import AuroraLearning
@testable import AuroraLearningService
import AuroraProtocol
import AuroraRPC
import AuroraStatistics
import AuroraStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// Log lines captured from the service under test (the privacy test searches them).
final class CapturedLogs: Sendable {
    static let shared = CapturedLogs()
    let lines = Mutex<[String]>([])
    func append(_ line: String) { self.lines.withLock { $0.append(line) } }
    var text: String { self.lines.withLock { $0.joined(separator: "\n") } }
}

struct CapturingLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }
    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        CapturedLogs.shared.append("\(level) \(message) \(self.metadata.merging(metadata ?? [:]) { $1 })")
    }
}

let databaseURL = ProcessInfo.processInfo.environment["AURORA_TEST_DATABASE_URL"]

/// The whole test database as `pg_dump` prints it (nil, with an issue recorded, outside test.sh).
func dumpStore() throws -> String? {
    guard let script = ProcessInfo.processInfo.environment["AURORA_TEST_POSTGRES_SCRIPT"] else {
        Issue.record("AURORA_TEST_POSTGRES_SCRIPT is not set (Deploy/scripts/test.sh sets it)")
        return nil
    }
    let dump = Process()
    dump.executableURL = URL(fileURLWithPath: script)
    dump.arguments = ["dump"]
    let output = Pipe()
    dump.standardOutput = output
    try dump.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    dump.waitUntilExit()
    #expect(dump.terminationStatus == 0)
    return text
}

/// How the store knows `user` when the learning-service runs in this process.
func stored(_ user: String) -> String { PseudonymKeys.processWide.user(user) }

/// A pool on the test PostgreSQL (or on `url`), its schema migrated.
func migratedPool(connections: Int, url: String? = nil, logger: Logger) async throws -> PostgresPool {
    guard let url = url ?? databaseURL else {
        Issue.record("AURORA_TEST_DATABASE_URL is not set: run the tests through Deploy/scripts/test.sh, which starts PostgreSQL")
        throw CancellationError()
    }
    let pool = PostgresPool(configuration: .init(url: url, connections: connections), logger: logger)
    try await Migrations.apply(pool)
    return pool
}

/// Runs a learning-service against the test PostgreSQL on an ephemeral port.
func withLearningService<T: Sendable>(
    configuration: LearningService.Configuration = .init(), _ body: @Sendable (Int) async throws -> T
) async throws -> T {
    let logger = Logger(label: "test.learning-service") { _ in CapturingLogHandler() }
    let pool = try await migratedPool(connections: 4, logger: logger)
    return try await serving(LearningService(configuration: configuration, pool: pool, logger: logger), logger: logger, body)
}

/// Serves `learning` on an ephemeral port with its background work running as a Service; as in
/// the daemon, the server drains before that work is stopped (and flushed).
func serving<T: Sendable>(_ learning: LearningService, logger: Logger, _ body: @Sendable (Int) async throws -> T) async throws -> T {
    var router = Router()
    learning.register(into: &router)
    let background = ServiceGroup(services: [learning], logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await background.run() }
        let result: Result<T, any Error>
        do { result = .success(try await withInternalServer(router: router, logger: logger, body)) } catch { result = .failure(error) }
        await background.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return try result.get()
    }
}

/// A client for one user.
struct LearningClient: Sendable {
    let connection: RPCConnection
    let user: String

    static func connect(_ port: Int, user: String) async throws -> LearningClient {
        var configuration = ClientConfiguration()
        configuration.credential = internalSecret
        return LearningClient(connection: try await RPCConnection.connect(host: "127.0.0.1", port: port, configuration: configuration), user: user)
    }

    var options: CallOptions { CallOptions(timeout: .seconds(30), metadata: [MetadataKeys.user: self.user]) }

    func recommend(_ columns: [Aurora_Profile_V1_ColumnStatistics], domain: String = "") async throws -> [Aurora_Learning_V1_Recommendation] {
        var request = Aurora_Learning_V1_RecommendRequest()
        request.batch.columns = columns
        request.batch.domain = domain
        return try await self.connection.unary(LearningAPI.recommend, request, options: self.options).recommendations
    }

    @discardableResult
    func feedback(_ stats: Aurora_Profile_V1_ColumnStatistics, recommended: String, accepted: String, id: String = UUID().uuidString, domain: String = "", recommendationID: UInt64 = 0) async throws -> Aurora_Learning_V1_FeedbackResponse {
        var item = Aurora_Learning_V1_FeedbackItem()
        item.feedbackID = id
        item.stats = stats
        item.domain = domain
        item.recommendedAction = recommended
        item.acceptedAction = accepted
        item.recommendationID = recommendationID
        var request = Aurora_Learning_V1_FeedbackRequest()
        request.items = [item]
        return try await self.connection.unary(LearningAPI.feedback, request, options: self.options)
    }

    func rules(includeInactive: Bool = false, includeShared: Bool = false) async throws -> [Aurora_Learning_V1_Rule] {
        var request = Aurora_Learning_V1_ListRulesRequest()
        request.includeInactive = includeInactive
        request.includeShared = includeShared
        return try await self.connection.unary(LearningAPI.listRules, request, options: self.options).rules
    }

    func stats() async throws -> Aurora_Learning_V1_StatsResponse {
        try await self.connection.unary(LearningAPI.stats, Aurora_Learning_V1_StatsRequest(), options: self.options)
    }
}

/// Column statistics generators (statistics only, as the gateway would send them).
enum Columns {
    static func numeric<G: RandomNumberGenerator>(skew: Double, min: Double, missing: Double = 0, rows: UInt64 = 1000, outliers: Double = 0.01, using random: inout G) -> Aurora_Profile_V1_ColumnStatistics {
        var stats = Aurora_Profile_V1_ColumnStatistics()
        stats.type = .float
        stats.count = rows
        stats.missing = UInt64(Double(rows) * missing)
        stats.distinctEstimate = rows / 2 + UInt64.random(in: 0...100, using: &random)
        var numeric = Aurora_Profile_V1_NumericStats()
        numeric.min = min
        numeric.max = min + Double.random(in: 50...5000, using: &random)
        numeric.mean = (numeric.min + numeric.max) / 3
        numeric.variance = 100
        numeric.skewness = skew
        numeric.kurtosis = abs(skew) * 2
        numeric.outlierRatio = outliers
        numeric.zeroRatio = 0
        stats.numeric = numeric
        stats.topValueRatio = 0.01
        return stats
    }

    static func categorical<G: RandomNumberGenerator>(distinct: UInt64, missing: Double = 0, using random: inout G) -> Aurora_Profile_V1_ColumnStatistics {
        var stats = Aurora_Profile_V1_ColumnStatistics()
        stats.type = .categorical
        stats.count = 1000
        stats.missing = UInt64(1000 * missing)
        stats.distinctEstimate = distinct
        stats.topValueRatio = Double.random(in: 0.1...0.5, using: &random)
        var text = Aurora_Profile_V1_TextStats()
        text.meanLength = Double.random(in: 3...12, using: &random)
        stats.text = text
        return stats
    }
}

@Suite("learning-service against PostgreSQL", .serialized)
struct LearningServiceTests {
    @Test func ruleAppearsAfterTheThirdCorrectionAndNotBefore() async throws {
        try await withLearningService { port in
            let client = try await LearningClient.connect(port, user: "rule-\(UUID().uuidString)")
            var random = SeededRandomGenerator(seed: 1)
            for correction in 1...4 {
                let column = Columns.numeric(skew: Double.random(in: -0.3...0.3, using: &random), min: -10, using: &random)
                let recommendation = try await client.recommend([column])[0]
                if correction <= 3 {
                    #expect(recommendation.action == "standard_scale", "correction \(correction): \(recommendation.source)")
                    #expect(recommendation.source.hasPrefix("builtin:"))
                } else {
                    #expect(recommendation.action == "robust_scale", "after 3 corrections: \(recommendation.explanation)")
                    #expect(recommendation.source.hasPrefix("learned:"))
                }
                try await client.feedback(column, recommended: recommendation.action, accepted: "robust_scale", recommendationID: recommendation.recommendationID)
                let active = try await client.rules().filter(\.active)
                #expect(active.count == (correction >= 3 ? 1 : 0), "after \(correction) corrections: \(active.map(\.description_p))")
            }
            let rule = try await client.rules()[0]
            #expect(rule.description_p.contains("robust_scale"))
            #expect(rule.description_p.contains("of 4 such columns"))
            await client.connection.close()
        }
    }

    @Test func confidenceMovesBothWaysAndDisablingSticks() async throws {
        try await withLearningService { port in
            let client = try await LearningClient.connect(port, user: "conf-\(UUID().uuidString)")
            var random = SeededRandomGenerator(seed: 2)
            func column() -> Aurora_Profile_V1_ColumnStatistics { Columns.numeric(skew: 0.1, min: 5, using: &random) }
            for _ in 0..<3 { try await client.feedback(column(), recommended: "standard_scale", accepted: "minmax_scale") }
            let first = try await client.rules()[0].confidence
            for _ in 0..<3 { try await client.feedback(column(), recommended: "minmax_scale", accepted: "minmax_scale") }
            let raised = try await client.rules()[0].confidence
            #expect(raised > first)
            try await client.feedback(column(), recommended: "minmax_scale", accepted: "robust_scale")
            let lowered = try await client.rules().first { $0.action == "minmax_scale" }!.confidence
            #expect(lowered < raised)
            // Disabled by the user: not used, and a refit does not revive it.
            let id = try await client.rules().first { $0.action == "minmax_scale" }!.id
            var disable = Aurora_Learning_V1_DisableRuleRequest()
            disable.id = id
            _ = try await client.connection.unary(LearningAPI.disableRule, disable, options: client.options)
            try await client.feedback(column(), recommended: "standard_scale", accepted: "minmax_scale")
            let recommendation = try await client.recommend([column()])[0]
            #expect(recommendation.source != "learned:\(id)")
            #expect(try await client.rules(includeInactive: true).first { $0.id == id }?.active == false)
            await client.connection.close()
        }
    }

    @Test func retriesCountOnceAndForgetLeavesNothing() async throws {
        try await withLearningService { port in
            let user = "forget-\(UUID().uuidString)"
            let client = try await LearningClient.connect(port, user: user)
            var random = SeededRandomGenerator(seed: 3)
            let column = Columns.categorical(distinct: 12, using: &random)
            let recommendation = try await client.recommend([column])[0]
            let first = try await client.feedback(column, recommended: recommendation.action, accepted: "ordinal_encode", id: "fb-1", recommendationID: recommendation.recommendationID)
            let retry = try await client.feedback(column, recommended: recommendation.action, accepted: "ordinal_encode", id: "fb-1", recommendationID: recommendation.recommendationID)
            #expect(first.stored == 1 && first.duplicates == 0)
            #expect(retry.stored == 0 && retry.duplicates == 1)
            // The same id twice in one call: stored (and paid for in ε) once. The id holds what an
            // array literal must escape (rows travel to PostgreSQL as arrays).
            let oddID = #"fb-2 "quoted", {braced} \ NULL é"#
            var item = Aurora_Learning_V1_FeedbackItem()
            item.feedbackID = oddID
            item.stats = column
            item.recommendedAction = "one_hot_encode"
            item.acceptedAction = "ordinal_encode"
            var twice = Aurora_Learning_V1_FeedbackRequest()
            twice.items = [item, item]
            let both = try await client.connection.unary(LearningAPI.feedback, twice, options: client.options)
            #expect(both.stored == 1 && both.duplicates == 1)
            let stats = try await client.stats()
            #expect(stats.feedback == 2)
            #expect(stats.epsilonSpent == 8)
            #expect(stats.acceptance.first?.corrected == 1)  // counted from answered recommendations
            // The recommendation the first feedback answered has its outcome.
            let pool = PostgresPool(configuration: .init(url: databaseURL!, connections: 1), logger: Logger(label: "check"))
            let outcome = try await pool.execute(
                "SELECT outcome FROM recommendation_log WHERE user_id = $1 AND id = $2", [stored(user), "\(recommendation.recommendationID)"]).value(0, 0)
            #expect(outcome == "corrected")
            let storedIDs = try await pool.execute("SELECT feedback_id FROM feedback WHERE user_id = $1 ORDER BY feedback_id", [stored(user)]).rows.map { $0[0] }
            #expect(storedIDs == ["fb-1", oddID])
            for _ in 0..<2 { try await client.feedback(column, recommended: "one_hot_encode", accepted: "ordinal_encode") }
            #expect(try await client.rules().isEmpty == false)
            let forgotten = try await client.connection.unary(LearningAPI.forget, Aurora_Learning_V1_ForgetRequest(), options: client.options)
            #expect(forgotten.feedbackDeleted == 4)
            for table in ["feedback", "rules", "recommendation_log", "privacy_ledger", "bucket_votes", "builtin_records"] {
                let count = try await pool.execute("SELECT count(*) FROM \(table) WHERE user_id = $1", [stored(user)]).value(0, 0)
                #expect(count == "0", "\(table) still holds \(count) rows of the user")
            }
            #expect(try await client.stats().feedback == 0)
            await client.connection.close()
        }
    }

    /// A built-in rule the user keeps correcting loses confidence for them (that a learned rule
    /// with modest evidence then outranks it is the unit test's), and the record counts feedback
    /// given on an analysis too.
    @Test func aBuiltinRuleTheUserKeepsCorrectingGivesWay() async throws {
        try await withLearningService { port in
            let user = "record-\(UUID().uuidString)"
            let client = try await LearningClient.connect(port, user: user)
            var random = SeededRandomGenerator(seed: 9)
            func column() -> Aurora_Profile_V1_ColumnStatistics { Columns.numeric(skew: Double.random(in: -0.3...0.3, using: &random), min: -10, using: &random) }
            let before = try await client.recommend([column()])[0]
            #expect(before.source == "builtin:standard" && abs(before.confidence - 0.7) < 1e-9)
            // Three corrections through statistics, two through an analysis's columns, and one
            // stored before the built-in choice was kept (none in its row): it teaches the tree
            // but is no part of the record.
            for _ in 0..<3 { try await client.feedback(column(), recommended: "standard_scale", accepted: "robust_scale") }
            let pool = PostgresPool(configuration: .init(url: databaseURL!, connections: 1), logger: Logger(label: "check"))
            let old = Fingerprint(ColumnStatistics(column()))
            try await pool.execute(
                "INSERT INTO feedback (user_id, feedback_id, features, bucket, recommended, accepted) VALUES ($1, 'old', $2::float8[], $3, 'standard_scale', 'robust_scale')",
                [stored(user), LearningStore.arrayLiteral(old.features), old.bucket])
            var analysis = Aurora_Learning_V1_RecommendRequest()
            analysis.batch.columns = [column(), column()]
            analysis.analysisID = "analysis-\(UUID().uuidString)"
            _ = try await client.connection.unary(LearningAPI.recommend, analysis, options: client.options)
            var request = Aurora_Learning_V1_FeedbackRequest()
            request.items = (0..<2).map { index in
                var item = Aurora_Learning_V1_FeedbackItem()
                item.analysisID = analysis.analysisID
                item.columnIndex = UInt32(index)
                item.acceptedAction = "robust_scale"
                return item
            }
            _ = try await client.connection.unary(LearningAPI.feedback, request, options: client.options)
            let rules = try await client.rules()  // waits for the refit
            #expect(rules.contains { $0.action == "robust_scale" && $0.support == 6 }, "\(rules)")
            let record = try await pool.execute("SELECT source, agreeing, total FROM builtin_records WHERE user_id = $1", [stored(user)]).rows
            #expect(record.map { $0.compactMap { $0 } } == [["builtin:standard", "0", "5"]])
            // The learned rule (6 of 6) was already more confident than the default 0.7; check the
            // lowered built-in confidence among the alternatives: (0.7 × 4 + 0) / (4 + 5).
            let after = try await client.recommend([column()])[0]
            #expect(after.source.hasPrefix("learned:"))
            let builtin = after.alternatives.first { $0.source == "builtin:standard" }
            #expect(builtin.map { abs($0.confidence - 2.8 / 9) < 1e-9 } == true, "\(after.alternatives)")
            await client.connection.close()
        }
    }

    /// Issue 21: a rule keeps its id while its condition and action survive refits, its
    /// thresholds and region moving with each new example; ids are never reused.
    @Test func ruleIdsSurviveAHundredRefits() async throws {
        try await withLearningService { port in
            let client = try await LearningClient.connect(port, user: "ids-\(UUID().uuidString)")
            var random = SeededRandomGenerator(seed: 21)
            // Fingerprints are noised, so a refit may split the examples one way or another; a
            // rule whose path keeps its features and directions keeps its id, so over 100 refits
            // only a handful of ids ever appear (unstable ids would give one or two per refit).
            var seen = Set<UInt64>()
            var latest: UInt64 = 0
            for step in 0..<100 {
                // Skewed numbers are logged, symmetric ones scaled: the split between them is a
                // skewness threshold, which moves as examples come.
                let skewed = step % 2 == 0
                let column = Columns.numeric(
                    skew: skewed ? Double.random(in: 1.5...6, using: &random) : Double.random(in: -0.4...0.4, using: &random),
                    min: Double.random(in: 0.5...20, using: &random), using: &random)
                _ = try await client.feedback(column, recommended: "", accepted: skewed ? "log_transform" : "standard_scale")
                let rules = try await client.rules()  // after this feedback's refit
                for rule in rules where !seen.contains(rule.id) {
                    #expect(rule.id > latest, "id \(rule.id) reused")  // new ids only grow: never reused
                    latest = rule.id
                    seen.insert(rule.id)
                }
            }
            #expect(seen.count <= 8, "\(seen.count) rule ids over 100 refits")
            #expect(Set(try await client.rules().map(\.action)) == ["log_transform", "standard_scale"])
            // The rules read as what they are: a kind, and the region the examples span.
            let rules = try await client.rules()
            let log = rules.first { $0.action == "log_transform" }
            #expect(log?.condition.hasPrefix("numeric columns") == true, "\(rules.map(\.condition))")
            #expect(log?.description_p.contains("in 50 of 50 such columns") == true, "\(rules.map(\.description_p))")
            await client.connection.close()
        }
    }

    /// A refit whose tree moved a threshold (same feature, direction, action) keeps the rule's id
    /// and updates its text; a rule testing another feature is a new rule with a new id.
    @Test func aMovedThresholdKeepsTheRuleID() async throws {
        let pool = try await migratedPool(connections: 1, logger: Logger(label: "test.ids"))
        let store = LearningStore(pool: pool, background: pool)
        let user = "moved-\(UUID().uuidString)"
        let skewness = Fingerprint.index("skewness")
        func refit(_ conditions: [RuleCondition]) async throws -> [(rule: ActiveRule, active: Bool)] {
            let draft = RuleDraft(conditions: conditions, action: .logTransform, support: 4, agreeing: 4)
            try await store.replaceRules(
                user: user, sets: [.init(scope: "user", domain: "", drafts: [draft])], builtinRecords: [:], minimumSupport: 3, failingConfidence: 0.5)
            return try await store.listRules(user: user, includeInactive: true)
        }
        let first = try await refit([RuleCondition(feature: skewness, threshold: 1.0, above: true)])
        let moved = try await refit([RuleCondition(feature: skewness, threshold: 1.6, above: true)])
        #expect(first.count == 1 && moved.count == 1)
        #expect(moved.first?.rule.id == first.first?.rule.id)
        #expect(first.first?.rule.conditionText != moved.first?.rule.conditionText, "\(moved)")
        let other = try await refit([RuleCondition(feature: Fingerprint.index("kurtosis"), threshold: 1.0, above: true)])
        #expect(other.count == 1 && other.first.map { $0.rule.id > first.first!.rule.id } == true, "\(other)")
        pool.close()
    }

    @Test func badInputIsRefusedNamingTheItem() async throws {
        var configuration = LearningService.Configuration()
        configuration.maximumColumns = 3
        try await withLearningService(configuration: configuration) { port in
            let client = try await LearningClient.connect(port, user: "bad-\(UUID().uuidString)")
            var random = SeededRandomGenerator(seed: 6)
            let column = Columns.numeric(skew: 0, min: 1, using: &random)
            func expectRefusal(_ code: StatusCode, _ text: String, _ call: () async throws -> Void) async {
                do {
                    try await call()
                    Issue.record("accepted: expected \(code) naming '\(text)'")
                } catch let error as RPCError {
                    #expect(error.code == code)
                    #expect(error.message.contains(text), "\(error.message)")
                } catch {
                    Issue.record("\(error)")
                }
            }
            await expectRefusal(.invalidArgument, "unknown action 'scale_it'") {
                try await client.feedback(column, recommended: "keep", accepted: "scale_it")
            }
            await expectRefusal(.invalidArgument, "items[0].feedback_id") {
                try await client.feedback(column, recommended: "keep", accepted: "keep", id: "")
            }
            await expectRefusal(.invalidArgument, "at most 3") { _ = try await client.recommend([column, column, column, column]) }
            var noUser = client.options
            noUser.metadata = [:]
            await expectRefusal(.unauthenticated, "aurora-user") {
                _ = try await client.connection.unary(LearningAPI.stats, Aurora_Learning_V1_StatsRequest(), options: noUser)
            }
            var disable = Aurora_Learning_V1_DisableRuleRequest()
            disable.id = 999_999_999
            await expectRefusal(.notFound, "no rule 999999999") {
                _ = try await client.connection.unary(LearningAPI.disableRule, disable, options: client.options)
            }
            // Nothing of the refused calls was stored.
            #expect(try await client.stats().feedback == 0)
            await client.connection.close()
        }
    }

    /// A refit waits for more feedback, but a reader never waits for that delay: ListRules right
    /// after the third correction shows the rule although the delay is a minute.
    @Test func aReaderCutsTheRefitDelayShort() async throws {
        var configuration = LearningService.Configuration()
        configuration.refitDelay = .seconds(60)
        try await withLearningService(configuration: configuration) { port in
            let client = try await LearningClient.connect(port, user: "delay-\(UUID().uuidString)")
            var random = SeededRandomGenerator(seed: 5)
            let column = Columns.categorical(distinct: 12, using: &random)
            for _ in 0..<3 { try await client.feedback(column, recommended: "one_hot_encode", accepted: "ordinal_encode") }
            let started = ContinuousClock.now
            let rules = try await client.rules()
            #expect(rules.contains { $0.action == "ordinal_encode" }, "\(rules)")
            #expect(ContinuousClock.now - started < .seconds(30), "ListRules waited for the refit delay")
            await client.connection.close()
        }
    }

    /// A cross-user rule needs k = 5 distinct users to agree; a user who did not correct anything
    /// then gets it, sees it in `rules --all`, and can disable it for themselves alone; its id
    /// survives later refreshes; once the users Forget, it is gone. The column's bucket (95%
    /// missing, skewed left, 20% outliers, negative) and action (hash_encode) are ones no other
    /// test uses.
    @Test func crossUserRulesNeedFiveUsersAndForgetUndoesThem() async throws {
        var configuration = LearningService.Configuration()
        configuration.globalRefreshInterval = .zero
        let logger = Logger(label: "test.learning-service") { _ in CapturingLogHandler() }
        let learning = LearningService(configuration: configuration, pool: try await migratedPool(connections: 4, logger: logger), logger: logger)
        try await serving(learning, logger: logger) { port in
            var random = SeededRandomGenerator(seed: 11)
            let column = Columns.numeric(skew: -2, min: -50, missing: 0.95, outliers: 0.2, using: &random)
            let prefix = "crowd-\(UUID().uuidString)"
            func sharedSuggestion(for user: String? = nil) async throws -> Bool {
                let newcomer = try await LearningClient.connect(port, user: user ?? "\(prefix)-newcomer-\(UUID().uuidString)")
                defer { Task { await newcomer.connection.close() } }
                let recommendation = try await newcomer.recommend([column])[0]
                let learned = [(recommendation.action, recommendation.source)] + recommendation.alternatives.map { ($0.action, $0.source) }
                return learned.contains { $0.0 == "hash_encode" && $0.1.hasPrefix("learned:") }
            }
            var users: [LearningClient] = []
            for index in 0..<5 {
                let client = try await LearningClient.connect(port, user: "\(prefix)-\(index)")
                users.append(client)
                for _ in 0..<2 { try await client.feedback(column, recommended: "impute_median", accepted: "hash_encode") }
                _ = try await client.rules()  // waits for this user's refit, which refreshes the cross-user rules
                let shared = try await sharedSuggestion()
                #expect(shared == (index == 4), "after \(index + 1) users agreeing, a shared rule: \(shared)")
            }
            // Listed for a user who never corrected anything, readably.
            let picky = try await LearningClient.connect(port, user: "\(prefix)-picky")
            func listed(_ client: LearningClient) async throws -> Aurora_Learning_V1_Rule? {
                try await client.rules(includeInactive: true, includeShared: true).first { $0.scope == "global" && $0.action == "hash_encode" && $0.description_p.contains("missing > 90%") }
            }
            let rule = try #require(try await listed(picky), "the shared rule is not listed")
            #expect(rule.active && rule.description_p.hasPrefix("numeric columns"), "\(rule.description_p)")
            #expect(try await picky.rules().allSatisfy { $0.scope != "global" }, "shared rules are listed only when asked for")
            // Its id survives a refresh of its bucket (one more user agreeing).
            let sixth = try await LearningClient.connect(port, user: "\(prefix)-5")
            users.append(sixth)
            try await sixth.feedback(column, recommended: "impute_median", accepted: "hash_encode")
            _ = try await sixth.rules()
            #expect(try await listed(picky)?.id == rule.id, "a refresh gave the shared rule a new id")
            await learning.refreshSharedRules()  // the scheduled full refresh
            #expect(try await listed(picky)?.id == rule.id, "the scheduled refresh gave the shared rule a new id")
            // Disabled for the picky user alone.
            var disable = Aurora_Learning_V1_DisableRuleRequest()
            disable.id = rule.id
            #expect(try await picky.connection.unary(LearningAPI.disableRule, disable, options: picky.options).disabled)
            #expect(try await picky.connection.unary(LearningAPI.disableRule, disable, options: picky.options).disabled, "disabling twice is not an error")
            #expect(try await sharedSuggestion(for: picky.user) == false, "the user opted out, yet the shared rule still applies to them")
            #expect(try await listed(picky)?.active == false)
            #expect(try await sharedSuggestion(), "another user lost the shared rule")
            _ = try await picky.connection.unary(LearningAPI.forget, Aurora_Learning_V1_ForgetRequest(), options: picky.options)
            #expect(try await sharedSuggestion(for: picky.user), "Forget left the user's opt-out behind")
            await picky.connection.close()
            for client in users {
                _ = try await client.connection.unary(LearningAPI.forget, Aurora_Learning_V1_ForgetRequest(), options: client.options)
                await client.connection.close()
            }
            #expect(try await sharedSuggestion() == false, "the shared rule outlived the users who made it")
        }
    }

    /// Recommend answers before its log rows are written; Feedback that answers a recommendation
    /// waits for its row, so the outcome is recorded. Another session holds a lock that blocks
    /// writes to the log for three seconds. With a log queue limit of 0, Recommend waits too.
    @Test(arguments: [65_536, 0])
    func recommendDoesNotWaitForItsLogRowButFeedbackDoes(logQueueRows: Int) async throws {
        let url = try #require(databaseURL)
        var configuration = LearningService.Configuration()
        configuration.maximumQueuedLogRows = logQueueRows
        try await withLearningService(configuration: configuration) { port in
            let user = "log-\(UUID().uuidString)"
            let client = try await LearningClient.connect(port, user: user)
            var random = SeededRandomGenerator(seed: 9)
            let column = Columns.categorical(distinct: 12, using: &random)
            _ = try await client.recommend([column])  // ids reserved, rules cached
            let checker = PostgresPool(configuration: .init(url: url, connections: 1), logger: Logger(label: "check"))
            let locker = PostgresPool(configuration: .init(url: url, connections: 1), logger: Logger(label: "lock"))
            let lockHeld = Atomic<Bool>(true)
            let lock = Task {
                defer { lockHeld.store(false, ordering: .sequentiallyConsistent) }
                try await locker.transaction { (transaction) throws(StoreError) in
                    try transaction.execute("LOCK TABLE recommendation_log IN EXCLUSIVE MODE")
                    try transaction.execute("SELECT pg_sleep(3)")
                }
            }
            while try await checker.execute(
                """
                SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                WHERE c.relname = 'recommendation_log' AND l.mode = 'ExclusiveLock' AND l.granted
                """
            ).value(0, 0) == "0" {
                try await Task.sleep(for: .milliseconds(20))
            }
            let recommendation = try await client.recommend([column])[0]
            let answeredWhileLocked = lockHeld.load(ordering: .sequentiallyConsistent)
            #expect(answeredWhileLocked == (logQueueRows > 0), "log queue limit \(logQueueRows): answered while the log was locked: \(answeredWhileLocked)")
            let alternative = recommendation.action == "ordinal_encode" ? "one_hot_encode" : "ordinal_encode"
            let response = try await client.feedback(
                column, recommended: recommendation.action, accepted: alternative, recommendationID: recommendation.recommendationID)
            #expect(response.stored == 1)
            let outcome = try await checker.execute(
                "SELECT outcome FROM recommendation_log WHERE user_id = $1 AND id = $2", [stored(user), "\(recommendation.recommendationID)"]
            ).rows.first?[0]
            #expect(outcome == "corrected")
            try await lock.value
            await client.connection.close()
        }
    }

    /// With one group-commit writer (the default) and with several batches committing at once.
    @Test(arguments: [1, 4])
    func thirtyTwoClientsAtOnceLoseNothing(writers: Int) async throws {
        var configuration = LearningService.Configuration()
        configuration.feedbackWriters = writers
        try await withLearningService(configuration: configuration) { port in
            let prefix = "many-\(UUID().uuidString)"
            try await withThrowingTaskGroup(of: Void.self) { group in
                for clientIndex in 0..<32 {
                    group.addTask {
                        let client = try await LearningClient.connect(port, user: "\(prefix)-\(clientIndex % 8)")
                        var random = SeededRandomGenerator(seed: UInt64(clientIndex))
                        for item in 0..<20 {
                            let response = try await client.feedback(
                                Columns.numeric(skew: 2, min: 1, using: &random), recommended: "log_transform", accepted: "log_transform",
                                id: "c\(clientIndex)-\(item)")
                            #expect(response.stored == 1)
                        }
                        await client.connection.close()
                    }
                }
                try await group.waitForAll()
            }
            var total: UInt64 = 0
            for user in 0..<8 {
                let client = try await LearningClient.connect(port, user: "\(prefix)-\(user)")
                total += try await client.stats().feedback
                await client.connection.close()
            }
            #expect(total == 32 * 20)
        }
    }

    @Test func valuesNeverReachTheStoreOrTheLogs() async throws {
        let canaryNumber = 987_654.321_9
        let canaryText = "CANARY-\(UUID().uuidString.prefix(8))"
        try await withLearningService { port in
            let client = try await LearningClient.connect(port, user: "privacy-\(UUID().uuidString)")
            var random = SeededRandomGenerator(seed: 4)
            var column = Columns.numeric(skew: 1.5, min: canaryNumber, using: &random)
            column.numeric.max = canaryNumber * 2
            column.numeric.mean = canaryNumber * 1.5
            // Values are refused outright.
            var withValues = column
            var top = Aurora_Profile_V1_ValueCount()
            top.value = canaryText
            top.count = 3
            withValues.topValues = [top]
            await #expect(throws: RPCError.self) { _ = try await client.recommend([withValues]) }
            await #expect(throws: RPCError.self) { try await client.feedback(withValues, recommended: "keep", accepted: "keep") }
            // Statistics go through every API.
            let recommendation = try await client.recommend([column])[0]
            for _ in 0..<4 { try await client.feedback(column, recommended: recommendation.action, accepted: "clip_outliers", recommendationID: recommendation.recommendationID) }
            _ = try await client.rules()
            _ = try await client.stats()
            await client.connection.close()
        }
        guard let text = try dumpStore() else { return }
        #expect(text.contains("CREATE TABLE public.feedback"), "the dump is not a dump of the store")
        for canary in [canaryText, "987654", "1975308", "1481481"] {
            #expect(!text.contains(canary), "\(canary) found in pg_dump")
            #expect(!CapturedLogs.shared.text.contains(canary), "\(canary) found in the service's logs")
        }
    }

    /// With sequential scans priced out, a statement that no index serves still plans one: so every
    /// per-user read of the store must select its rows by an index condition on the user, and the
    /// periodic maintenance by one on the age (the partial index on active rules once left the
    /// refit's read of all a user's rules scanning every user's).
    @Test func perUserReadsAndMaintenanceAreServedByIndexes() async throws {
        let pool = try await migratedPool(connections: 1, logger: Logger(label: "test.plans"))
        // Each statement, sample parameters, and the index condition its plan must show. (Which of
        // the indexes that take an age condition the planner picks varies on the test's small
        // tables, so for the maintenance this checks only that one does.)
        let statements = LearningStore.Reads.all.map { ($0, $0.contains("$2") ? "('someone', '1')" : "('someone')", "Index Cond: (user_id = ") } + [
            (LearningStore.Reads.listSharedRules, "('someone')", "Index Cond: (scope = 'global'"),
            (LearningStore.Maintenance.expireAnalyses, "('168')", "Index Cond: (created_at < "),
            (LearningStore.Maintenance.deleteOldLog, "('90', '10000')", "Index Cond: (created_at < "),
        ]
        for (index, (statement, parameters, expected)) in statements.enumerated() {
            let plan = try await pool.transaction { (transaction) throws(StoreError) in
                try transaction.execute("SET LOCAL enable_seqscan TO off")
                try transaction.execute("PREPARE indexed_statement_\(index) AS \(statement)")
                defer { _ = try? transaction.execute("DEALLOCATE indexed_statement_\(index)") }
                return try transaction.execute("EXPLAIN EXECUTE indexed_statement_\(index) \(parameters)").rows.compactMap { $0[0] }.joined(separator: "\n")
            }
            // Not a scan of all rows; for a user's rows, not a walk of some other index either.
            #expect(!plan.contains("Seq Scan"), "\(statement)\n\(plan)")
            #expect(plan.contains(expected), "\(statement)\n\(plan)")
        }
    }

    /// The hourly maintenance: log rows past the retention go (in batches), newer ones stay, and
    /// an analysis's fingerprints are cleared after its lifetime.
    @Test func oldLogRowsAndAnalysisFingerprintsExpire() async throws {
        let pool = try await migratedPool(connections: 1, logger: Logger(label: "test.retention"))
        let store = LearningStore(pool: pool, background: pool)
        let user = "retention-\(UUID().uuidString)"
        // Five rows 100 days old, three from now, and an analysis 200 hours old still holding its fingerprint.
        try await pool.execute(
            """
            INSERT INTO recommendation_log (user_id, bucket, source, action, created_at)
            SELECT $1, 'b', 'builtin:test', 'keep', now() - make_interval(days => CASE WHEN n <= 5 THEN 100 ELSE 0 END)
            FROM generate_series(1, 8) AS n
            """, [user])
        try await pool.execute(
            """
            INSERT INTO recommendation_log (user_id, bucket, source, action, analysis_id, column_index, features, created_at)
            VALUES ($1, 'b', 'builtin:test', 'keep', 'old-analysis', 0, '{1,2}', now() - interval '200 hours')
            """, [user])
        #expect(try await store.expireAnalyses(olderThanHours: 168) >= 1)
        let features = try await pool.execute("SELECT features IS NULL FROM recommendation_log WHERE user_id = $1 AND analysis_id = 'old-analysis'", [user])
        #expect(features.rows.map { $0[0] } == ["t"])
        // Batches of two: three statements delete the five old rows (other tests' rows are recent).
        #expect(try await store.deleteLog(olderThanDays: 90, batch: 2) == 5)
        let left = try await pool.execute("SELECT count(*) FROM recommendation_log WHERE user_id = $1", [user])
        #expect(left.rows.map { $0[0] } == ["4"])
        #expect(try await store.deleteLog(olderThanDays: 90, batch: 2) == 0)
        try await pool.execute("DELETE FROM recommendation_log WHERE user_id = $1", [user])
    }

    /// On a cluster of its own (the shared test database is never restarted).
    @Test func databaseRestartIsSurvived() async throws {
        let cluster = try await PrivateCluster.start()
        do {
            try await self.survive(cluster)
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    func survive(_ cluster: PrivateCluster) async throws {
        let logger = Logger(label: "test.learning-service") { _ in CapturingLogHandler() }
        let pool = try await migratedPool(connections: 4, url: cluster.url, logger: logger)
        try await serving(LearningService(configuration: .init(), pool: pool, logger: logger), logger: logger) { port in
            let client = try await LearningClient.connect(port, user: "restart-\(UUID().uuidString)")
            var random = SeededRandomGenerator(seed: 5)
            let column = Columns.numeric(skew: 0, min: 1, using: &random)
            #expect(try await client.recommend([column]).count == 1)
            try await cluster.run("restart")
            // The pool's connections died with the server: calls get UNAVAILABLE or succeed, never
            // hang, and within a few seconds they succeed again without restarting the service.
            var recovered = false
            for _ in 0..<100 {
                do {
                    _ = try await client.recommend([column])
                    recovered = true
                    break
                } catch let error as RPCError {
                    #expect(error.code == .unavailable, "\(error)")
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            #expect(recovered)
            await client.connection.close()
        }
    }
}

/// Deterministic random numbers for generated statistics.
struct SeededRandomGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { self.state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Simulated users at the statistics level: hidden, consistent preferences that differ from the
/// built-in rules; they accept a recommendation that matches and correct it otherwise. Nested in
/// the serialized PostgreSQL suite, so that it runs alone.
extension LearningServiceTests {
    @Suite("learning curve")
    struct LearningCurveTests {
        struct SimulatedUser {
            let name: String
            /// The least mean acceptance after the first 100 columns, and the least in any block.
            var mean = 0.9
            var block = 0.8
            let prefer: @Sendable (Aurora_Profile_V1_ColumnStatistics) -> String
        }

        static let users: [SimulatedUser] = [
            SimulatedUser(name: "never-scales") { stats in
                switch stats.type {
                case .categorical: stats.missing > 0 ? "impute_mode" : "ordinal_encode"
                default: stats.missing > 0 ? "impute_median" : "keep"
                }
            },
            SimulatedUser(name: "power-transforms") { stats in
                switch stats.type {
                case .categorical: stats.distinctEstimate > 20 ? "target_encode" : "one_hot_encode"
                default: abs(stats.numeric.skewness) > 1 ? "yeo_johnson" : (stats.numeric.min >= 0 ? "minmax_scale" : "robust_scale")
                }
            },
            // Thresholds between the levels' edges (skewness 2 and 3; 30 and 50 distinct values):
            // learned from the noised values within a level. The noise on the distinct count
            // (about ±30% at 1,000 rows) blurs categoricals near 40 values: 0.95-0.97 after the
            // first 100 columns in three runs (blocks down to 0.90).
            SimulatedUser(name: "off-edge-thresholds", mean: 0.88, block: 0.8) { stats in
                switch stats.type {
                case .categorical: stats.distinctEstimate > 40 ? "hash_encode" : "ordinal_encode"
                default: stats.numeric.skewness > 2.2 ? "quantile_transform" : (stats.missing > 0 ? "impute_constant" : "standard_scale")
                }
            },
        ]

        static func column<G: RandomNumberGenerator>(using random: inout G) -> Aurora_Profile_V1_ColumnStatistics {
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<3: return Columns.categorical(distinct: UInt64.random(in: 3...80, using: &random), missing: Bool.random(using: &random) && Bool.random(using: &random) ? 0.1 : 0, using: &random)
            case 3..<6: return Columns.numeric(skew: Double.random(in: 1.2...6, using: &random), min: Double.random(in: 0.5...10, using: &random), using: &random)
            case 6..<8: return Columns.numeric(skew: Double.random(in: -0.5...0.5, using: &random), min: Double.random(in: -50...50, using: &random), using: &random)
            default: return Columns.numeric(skew: Double.random(in: -0.5...3, using: &random), min: Double.random(in: 0...10, using: &random), missing: 0.2, using: &random)
            }
        }

        @Test(arguments: [0, 1, 2])
        func consistentUsersReachNinetyPercent(userIndex: Int) async throws {
            let simulated = Self.users[userIndex]
            try await withLearningService { port in
                let client = try await LearningClient.connect(port, user: "\(simulated.name)-\(UUID().uuidString)")
                var random = SeededRandomGenerator(seed: UInt64(100 + userIndex))
                var accepted: [Bool] = []
                var corrections = 0
                var correctionsToNinety: Int?
                for index in 0..<400 {
                    let column = Self.column(using: &random)
                    let recommendation = try await client.recommend([column])[0]
                    let wanted = simulated.prefer(column)
                    let ok = recommendation.action == wanted
                    accepted.append(ok)
                    if !ok { corrections += 1 }
                    try await client.feedback(column, recommended: recommendation.action, accepted: wanted, id: "col-\(index)", recommendationID: recommendation.recommendationID)
                    // 90% over the last 50 columns.
                    if correctionsToNinety == nil && accepted.count >= 50 && accepted.suffix(50).filter({ $0 }).count >= 45 {
                        correctionsToNinety = corrections
                    }
                }
                let blocks = stride(from: 0, to: accepted.count, by: 50).map { start in
                    Double(accepted[start..<min(start + 50, accepted.count)].filter { $0 }.count) / 50
                }
                let rules = try await client.rules().filter(\.active)
                print("learning curve \(simulated.name): acceptance per 50 columns \(blocks.map { String(format: "%.2f", $0) }), corrections to 90%: \(correctionsToNinety.map(String.init) ?? "never"), active rules \(rules.count)")
                #expect(correctionsToNinety != nil && correctionsToNinety! <= 60, "reached 90% after \(correctionsToNinety.map(String.init) ?? "never") corrections")
                // The noise is random, so single blocks vary: the mean after the first 100 columns
                // must hold the user's bar (90% unless noted), and no block may fall back towards
                // the built-in rules.
                let later = Array(blocks.dropFirst(2))
                #expect(later.reduce(0, +) / Double(later.count) >= simulated.mean, "\(blocks)")
                #expect(later.allSatisfy { $0 >= simulated.block }, "\(blocks)")
                #expect(rules.count <= 40)
                await client.connection.close()
            }
        }
    }
}

/// The array literals the store writes and the float8[] text it reads back.
@Suite("learning store literals")
struct LearningStoreLiteralTests {
    @Test func textArraysEscapeQuotesAndBackslashesAndKeepNulls() {
        #expect(LearningStore.textArray([#"a"b"#, #"c\d"#, nil, "", "NULL", "é,{}"]) == #"{"a\"b","c\\d",NULL,"","NULL","é,{}"}"#)
        #expect(LearningStore.textArray([]) == "{}")
    }

    @Test func floatArraysParseExactly() {
        let values = [1.5, -2, 3e-05, 0.30000000000000004, 1.7976931348623157e308, -0.0]
        let text = "{" + values.map { "\($0)" }.joined(separator: ",") + "}"
        #expect(LearningStore.parseArray(text) == values)
        #expect(LearningStore.parseArray("{}") == [])
        #expect(LearningStore.parseArray("{1,x,3}") == [1])
    }
}


/// `rules.condition` as refits write it (path and region) and as rules stored before regions
/// hold it (the path alone, an array); anything else is no condition, never a crash.
@Suite("Stored rule conditions")
struct StoredConditionTests {
    @Test func bothFormsAreRead() throws {
        let path = [RuleCondition(feature: 7, threshold: 1.5, above: true)]
        let region = [RuleCondition(feature: 0, threshold: 1.5, above: false)]
        let written = String(decoding: try JSONEncoder().encode(StoredCondition(path: path, region: region)), as: UTF8.self)
        #expect(StoredCondition.decode(written) == StoredCondition(path: path, region: region))
        #expect(StoredCondition.decode(#"[{"feature": 7, "threshold": 1.5, "above": true}]"#) == StoredCondition(path: path, region: []))
        #expect(StoredCondition.decode(#"{"bucket": "numeric|m0"}"#) == nil)
        #expect(StoredCondition.decode("not json") == nil)
        let legacy = LearningStore.rule(["5", "user", "", #"[{"feature": 7, "threshold": 1.5, "above": true}]"#, "stored text", "log_transform", "4", "1", "3"])
        #expect(legacy?.conditions == path && legacy?.conditionText == RuleDraft.describe(path))
    }
}
