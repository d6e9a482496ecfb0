import ArgumentParser
import AuroraDaemon
import AuroraLearningService
import AuroraRPC
import AuroraStore
import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// learning-service: recommendations, feedback and learned rules; the only owner of PostgreSQL.
@main
struct LearningDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learning-service",
        abstract: "AURORA learning-service: fingerprints, recommendations, learned rules (PostgreSQL).",
        discussion: "Every option can also be set by the environment variable in brackets; a flag wins over the environment."
    )

    @Option(help: "Address to listen on [AURORA_LEARNING_HOST, default 127.0.0.1].")
    var host: String?

    @Option(help: "Port to listen on; 0 picks a free one [AURORA_LEARNING_PORT, default 7103].")
    var port: Int?

    @Option(help: "libpq connection string or URL [AURORA_DATABASE_URL, or a file named by AURORA_DATABASE_URL_FILE].")
    var databaseURL: String?

    @Option(help: "Database connections [AURORA_DATABASE_CONNECTIONS, default 4].")
    var databaseConnections: Int?

    @Option(help: "File holding the internal service credential [AURORA_INTERNAL_SECRET_FILE, or AURORA_INTERNAL_SECRET itself].")
    var internalSecretFile: String?

    @Option(help: "File of the keys user ids and domains are stored under, one `ID BASE64` per line, current first [AURORA_PSEUDONYM_KEY_FILE, or AURORA_PSEUDONYM_KEYS itself; required].")
    var pseudonymKeyFile: String?

    @Option(help: "Privacy budget ε spent per stored fingerprint [AURORA_EPSILON, default 4].")
    var epsilon: Double?

    @Option(help: "Most ε spent on one user's fingerprints; past it analyses are not recorded, Forget resets it [AURORA_EPSILON_BUDGET, default 40000].")
    var epsilonBudget: Double?

    @Option(help: "Agreeing corrections before a learned rule is active [AURORA_RULE_MIN_SUPPORT, default 3].")
    var ruleMinSupport: Int?

    @Option(help: "Most rules per user tree [AURORA_MAX_RULES, default 40].")
    var maxRules: Int?

    @Option(help: "Distinct users before a cross-user rule applies [AURORA_K_ANONYMITY, default 5].")
    var kAnonymity: Int?

    @Option(help: "Seconds in-flight calls get to finish on shutdown, and then queued writes [AURORA_DRAIN_SECONDS, default 25].")
    var drainSeconds: Int?

    @Option(help: "Hours an analysis's fingerprints are kept for feedback [AURORA_ANALYSIS_LIFETIME_HOURS, default 168].")
    var analysisLifetimeHours: Int?

    @Option(help: "Days the recommendation log keeps a row, at least the analysis lifetime [AURORA_LOG_RETENTION_DAYS, default 90].")
    var logRetentionDays: Int?

    @Option(help: "Minutes between full recomputations of the shared rules (feedback refreshes its own buckets at once) [AURORA_SHARED_RULES_REFRESH_MINUTES, default 60].")
    var sharedRulesRefreshMinutes: Int?

    @Option(help: "Feedback batches committing at once [AURORA_FEEDBACK_WRITERS, default 1].")
    var feedbackWriters: Int?

    @Option(help: "Milliseconds a refit waits for more feedback; a rules reader cuts it short [AURORA_REFIT_DELAY_MS, default 1000].")
    var refitDelayMs: Int?

    @Option(help: "Recommendation-log rows queued before Recommend waits for their write [AURORA_LOG_QUEUE_ROWS, default 65536].")
    var logQueueRows: Int?

    @Option(help: "trace, debug, info, notice, warning, error or critical [AURORA_LOG_LEVEL, default info].")
    var logLevel: String?

    @OptionGroup(title: "Admin port")
    var admin: AdminOptions

    func run() async throws {
        // Before any metric exists: metrics made earlier would report to no registry.
        // Before any metric exists: metrics made earlier would report to no registry.
        let registry = Daemon.bootstrapMetrics()
        let logger = try Daemon.logger(label: "aurora.learning-service", level: Daemon.setting(self.logLevel, env: "AURORA_LOG_LEVEL", default: "info"))
        var url = Daemon.optionalSetting(self.databaseURL, env: "AURORA_DATABASE_URL")
        if url == nil, let path = ProcessInfo.processInfo.environment["AURORA_DATABASE_URL_FILE"] {
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read AURORA_DATABASE_URL_FILE \(path)") }
            url = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let url else { throw ValidationError("no database: set --database-url, AURORA_DATABASE_URL or AURORA_DATABASE_URL_FILE") }
        var service = LearningService.Configuration()
        service.pseudonyms = try Self.pseudonymKeys(Daemon.optionalSetting(self.pseudonymKeyFile, env: "AURORA_PSEUDONYM_KEY_FILE"))
        service.epsilon = try Daemon.setting(self.epsilon, env: "AURORA_EPSILON", default: 4)
        service.epsilonBudget = try Daemon.setting(self.epsilonBudget, env: "AURORA_EPSILON_BUDGET", default: 40_000)
        guard service.epsilonBudget.isFinite, service.epsilonBudget >= service.epsilon else {
            throw ValidationError("epsilon-budget must be a number at least epsilon (\(service.epsilon)): one column's fingerprint")
        }
        service.minimumSupport = try Daemon.setting(self.ruleMinSupport, env: "AURORA_RULE_MIN_SUPPORT", default: 3)
        service.maximumRules = try Daemon.setting(self.maxRules, env: "AURORA_MAX_RULES", default: 40)
        service.kAnonymity = try Daemon.setting(self.kAnonymity, env: "AURORA_K_ANONYMITY", default: 5)
        service.analysisLifetimeHours = try Daemon.setting(self.analysisLifetimeHours, env: "AURORA_ANALYSIS_LIFETIME_HOURS", default: 168)
        guard (1...876_000).contains(service.analysisLifetimeHours) else { throw ValidationError("analysis-lifetime-hours must be 1 to 876000") }
        service.logRetentionDays = try Daemon.setting(self.logRetentionDays, env: "AURORA_LOG_RETENTION_DAYS", default: 90)
        guard (1...36_500).contains(service.logRetentionDays), service.logRetentionDays * 24 >= service.analysisLifetimeHours else {
            throw ValidationError("log-retention-days must be 1 to 36500 and cover the analysis lifetime (\(service.analysisLifetimeHours) hours)")
        }
        let sharedRefresh = try Daemon.setting(self.sharedRulesRefreshMinutes, env: "AURORA_SHARED_RULES_REFRESH_MINUTES", default: 60)
        guard (1...10_080).contains(sharedRefresh) else { throw ValidationError("shared-rules-refresh-minutes must be 1 to 10080 (a week)") }
        let refitDelay = try Daemon.setting(self.refitDelayMs, env: "AURORA_REFIT_DELAY_MS", default: 1000)
        guard (0...60_000).contains(refitDelay) else { throw ValidationError("refit-delay-ms must be 0 to 60000") }
        service.refitDelay = .milliseconds(refitDelay)
        service.feedbackWriters = try Daemon.setting(self.feedbackWriters, env: "AURORA_FEEDBACK_WRITERS", default: 1)
        guard (1...64).contains(service.feedbackWriters) else { throw ValidationError("feedback-writers must be 1 to 64") }
        service.maximumQueuedLogRows = try Daemon.setting(self.logQueueRows, env: "AURORA_LOG_QUEUE_ROWS", default: 65_536)
        guard service.maximumQueuedLogRows >= 0 else { throw ValidationError("log-queue-rows must be 0 or more (0: Recommend always waits)") }
        guard service.epsilon > 0, service.minimumSupport > 0, service.maximumRules > 1, service.kAnonymity > 1 else {
            throw ValidationError("epsilon, rule-min-support and max-rules must be positive, k-anonymity at least 2")
        }
        let pool = PostgresPool(
            configuration: .init(url: url, connections: try Daemon.setting(self.databaseConnections, env: "AURORA_DATABASE_CONNECTIONS", default: 4)),
            logger: logger)
        var connection = ServerConnectionConfiguration()
        connection.drainTimeout = .seconds(try Daemon.setting(self.drainSeconds, env: "AURORA_DRAIN_SECONDS", default: 25))
        service.shutdownTimeout = connection.drainTimeout
        var router = Router()
        let learning = LearningService(configuration: service, pool: pool, logger: logger)
        learning.register(into: &router)
        let server = RPCServer(
            configuration: .init(
                host: try Daemon.setting(self.host, env: "AURORA_LEARNING_HOST", default: "127.0.0.1"),
                port: try Daemon.setting(self.port, env: "AURORA_LEARNING_PORT", default: 7103),
                connection: connection, serverName: "aurora-learning-service"),
            router: router,
            authenticator: SharedSecretAuthenticator(secret: try Daemon.internalSecret(file: self.internalSecretFile)),
            logger: logger)
        let readiness = Readiness()
        readiness.set(ready: false, reason: Self.preparing)
        let maintenance = Maintenance(pool: pool, learning: learning, readiness: readiness, logger: logger, sharedRulesRefresh: .seconds(sharedRefresh * 60))
        // Stopped in reverse order: the server drains, maintenance stops, then `learning` writes
        // what its calls queued; the pool closes last.
        defer { pool.close() }
        try await Daemon.serve(
            server, name: "learning-service", admin: self.admin, defaultAdminPort: 9103, metrics: registry, readiness: readiness, background: [learning, maintenance],
            prepare: { [keys = service.pseudonyms] in
                try await Self.migrate(pool, readiness: readiness, logger: logger)
                let converted = try await LearningService.convertClearNames(pool, keys: keys)
                if converted > 0 { logger.notice("user ids and domains stored in clear replaced by their pseudonyms", metadata: ["rows": "\(converted)"]) }
                // Shared rules follow this daemon's k-anonymity from its first call on (a raised
                // AURORA_K_ANONYMITY retires the rules too few users agree on before anyone sees them).
                await learning.refreshSharedRules()
            }, logger: logger)
    }

    /// The pseudonym keys; refuses to start without them (the store would name people).
    static func pseudonymKeys(_ path: String?) throws -> PseudonymKeys {
        if path == nil, let text = ProcessInfo.processInfo.environment["AURORA_PSEUDONYM_KEYS"], !text.isEmpty {
            do {
                return try PseudonymKeys(text: text, source: "AURORA_PSEUDONYM_KEYS")
            } catch {
                throw ValidationError("\(error)")
            }
        }
        guard let path else {
            throw ValidationError("no pseudonym key: set --pseudonym-key-file, AURORA_PSEUDONYM_KEY_FILE or AURORA_PSEUDONYM_KEYS; \(PseudonymKeys.howToMake)")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read the pseudonym key file \(path)") }
        do {
            return try PseudonymKeys(text: String(decoding: data, as: UTF8.self), source: path)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// Why /readyz says no until `migrate` returns. One reason for both steps: the first sign
    /// that the database answers is the migrations' own connection.
    static let preparing = "waiting for the database and applying schema migrations"

    /// Applies the schema migrations; while the database is not there yet, waits for it (with backoff).
    static func migrate(_ pool: PostgresPool, readiness: Readiness, logger: Logger) async throws {
        var delay = Duration.milliseconds(200)
        while true {
            do throws(StoreError) {
                let applied = try await Migrations.apply(pool)
                logger.notice("database schema ready", metadata: ["applied": "\(applied)"])
                readiness.set(ready: true, reason: "database reachable")
                return
            } catch {
                if case .unavailable = error {
                    logger.warning("database not reachable yet; retrying", metadata: ["error": "\(error)"])
                    try await Task.sleep(for: delay)
                    delay = min(delay * 2, .seconds(5))
                    continue
                }
                throw error
            }
        }
    }
}

/// Background upkeep: readiness follows the database (probed every 5 seconds), the learned-rule
/// gauges (every 30 seconds), analyses past their lifetime lose their fingerprints (hourly), and
/// the shared rules are recomputed from all votes (every `sharedRulesRefresh`).
struct Maintenance: Service {
    let pool: PostgresPool
    let learning: LearningService
    let readiness: Readiness
    let logger: Logger
    let sharedRulesRefresh: Duration
    let rulesActive = Gauge(label: "aurora_learning_rules_active")
    let rulesTotal = Gauge(label: "aurora_learning_rules")

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var lastExpiry = ContinuousClock.now - .seconds(3600)
            var lastCount = ContinuousClock.now - .seconds(30)
            var lastSharedRefresh = ContinuousClock.now
            while true {
                do throws(StoreError) {
                    _ = try await self.pool.execute("SELECT 1")
                    if !self.readiness.current.ready { self.logger.notice("database reachable again") }
                    self.readiness.set(ready: true, reason: "database reachable")
                } catch {
                    if self.readiness.current.ready { self.logger.warning("database unreachable", metadata: ["error": "\(error)"]) }
                    self.readiness.set(ready: false, reason: "database unreachable")
                }
                if ContinuousClock.now - lastCount >= .seconds(30) {
                    lastCount = ContinuousClock.now
                    if let result = try? await self.pool.execute("SELECT count(*) FILTER (WHERE active), count(*) FROM rules"),
                        let active = (try? result.value(0, 0)).flatMap({ Int($0) }), let total = (try? result.value(0, 1)).flatMap({ Int($0) })
                    {
                        self.rulesActive.record(active)
                        self.rulesTotal.record(total)
                    }
                }
                if ContinuousClock.now - lastExpiry >= .seconds(3600) {
                    lastExpiry = ContinuousClock.now
                    await self.learning.expireOldData()
                }
                if ContinuousClock.now - lastSharedRefresh >= self.sharedRulesRefresh {
                    lastSharedRefresh = ContinuousClock.now
                    await self.learning.refreshSharedRules()
                }
                try await Task.sleep(for: .seconds(5))
            }
        }
    }
}
