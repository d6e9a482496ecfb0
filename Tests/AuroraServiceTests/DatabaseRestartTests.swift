import AuroraLearning
@testable import AuroraLearningService
import AuroraProtocol
import AuroraRPC
import AuroraStore
import Foundation
import Logging
import Synchronization
import Testing

/// A PostgreSQL cluster of one test's own (`Deploy/scripts/postgres.sh` with its own directory and
/// port), for tests that restart the database: the shared test database is never disturbed.
struct PrivateCluster: Sendable {
    let script: String
    let directory: String
    let port: Int
    let url: String

    static func start() async throws -> PrivateCluster {
        guard let script = ProcessInfo.processInfo.environment["AURORA_TEST_POSTGRES_SCRIPT"] else {
            Issue.record("AURORA_TEST_POSTGRES_SCRIPT is not set (Deploy/scripts/test.sh sets it)")
            throw CancellationError()
        }
        // Not created here: postgres.sh creates it for the user the server runs as.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("aurora-pg-\(UUID().uuidString.prefix(8))").path
        var cluster = PrivateCluster(script: script, directory: directory, port: try LocalSystem.freePort(), url: "")
        let url = try await cluster.run("start").trimmingCharacters(in: .whitespacesAndNewlines)
        cluster = PrivateCluster(script: script, directory: directory, port: cluster.port, url: url)
        return cluster
    }

    /// Runs a postgres.sh verb on this cluster; returns what it printed.
    @discardableResult
    func run(_ verb: String) async throws -> String {
        // Output to a file, not a pipe: a server started by the script must not hold our pipe open.
        let output = self.directory + ".\(verb).out"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: output) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: self.script)
        process.arguments = [verb]
        var environment = ProcessInfo.processInfo.environment
        environment["AURORA_PG_DIR"] = self.directory
        environment["AURORA_PG_PORT"] = "\(self.port)"
        process.environment = environment
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = FileHandle.nullDevice
        try process.run()
        while process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        try #require(process.terminationStatus == 0, "postgres.sh \(verb) failed")
        return (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    }

    /// Waits until a new connection gets an answer (what readiness means for a client).
    func waitUntilReady() async throws {
        let probe = PostgresPool(configuration: .init(url: self.url, connections: 1), logger: Logger(label: "probe"))
        defer { probe.close() }
        let deadline = ContinuousClock.now + .seconds(60)
        while (try? await probe.execute("SELECT 1")) == nil {
            try #require(ContinuousClock.now < deadline, "the restarted database did not answer within 60 s")
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    func stop() async {
        _ = try? await self.run("stop")
        try? FileManager.default.removeItem(atPath: self.directory)
    }
}

/// Log lines of one test's service, kept apart from the other tests'.
final class LogLines: Sendable {
    let lines = Mutex<[String]>([])
    var all: [String] { self.lines.withLock { $0 } }

    var logger: Logger {
        Logger(label: "test.learning-service") { _ in Handler(lines: self) }
    }

    struct Handler: LogHandler {
        let lines: LogLines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { self.metadata[key] }
            set { self.metadata[key] = newValue }
        }
        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
            let text = "\(level) \(message) \(self.metadata.merging(metadata ?? [:]) { $1 })"
            self.lines.lines.withLock { $0.append(text) }
        }
    }
}

/// Finding 3 of issue 19: after PostgreSQL restarts in immediate mode (every backend killed at
/// once, as in a crash), the pool's connections are all dead. Once the database answers again, no
/// call of any kind may fail, and no background write may be lost.
@Suite("learning-service across an immediate PostgreSQL restart")
struct DatabaseRestartTests {
    static let callsPerKind = 100

    /// Runs `calls` calls of one kind, 8 at a time; returns the failures.
    static func run(_ kind: String, _ calls: Int = Self.callsPerKind, _ call: @escaping @Sendable (Int) async throws -> Void) async -> [String] {
        await withTaskGroup(of: [String].self) { group in
            for lane in 0..<8 {
                group.addTask {
                    var failures: [String] = []
                    for index in stride(from: lane, to: calls, by: 8) {
                        do { try await call(index) } catch { failures.append("\(kind) \(index): \(error)") }
                    }
                    return failures
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
    }

    @Test func everyKindOfCallSucceedsOnceTheDatabaseIsBack() async throws {
        let cluster = try await PrivateCluster.start()
        do {
            try await self.restartAndCall(cluster)
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    func restartAndCall(_ cluster: PrivateCluster) async throws {
        let logs = LogLines()
        let pool = try await migratedPool(connections: 4, url: cluster.url, logger: logs.logger)
        var configuration = LearningService.Configuration()
        configuration.refitDelay = .zero
        // Rules form from three corrections whatever the noise draws (the flow is tested, not learning).
        configuration.epsilon = 64
        let learning = LearningService(configuration: configuration, pool: pool, logger: logs.logger)
        try await serving(learning, logger: logs.logger) { port in
            let connection = try await LearningClient.connect(port, user: "setup").connection
            let prefix = "restart-\(UUID().uuidString.prefix(8))"
            @Sendable func client(_ user: String) -> LearningClient { LearningClient(connection: connection, user: "\(prefix)-\(user)") }
            var random = SeededRandomGenerator(seed: 19)
            let column = Columns.numeric(skew: 0.1, min: -10, using: &random)
            let columns = (0..<3).map { _ in Columns.numeric(skew: Double.random(in: 1.5...4, using: &random), min: 1, using: &random) }

            // A rule to disable, made before the restart.
            let owner = client("owner")
            for _ in 0..<3 { try await owner.feedback(column, recommended: "standard_scale", accepted: "robust_scale") }
            let ruleID = try #require(try await owner.rules().first { $0.action == "robust_scale" }?.id)
            // Refits commit without waiting for the WAL flush (a crash may lose one, by design):
            // this rule must outlive the crash below.
            try await Self.query(cluster, "CHECKPOINT")

            // Every connection of both pools open: each of these holds one while the others start.
            async let requests: Void = Self.hold(learning.store.pool, pool.configuration.connections)
            async let background: Void = Self.hold(learning.store.background, learning.store.background.configuration.connections)
            _ = try await (requests, background)
            let open = try await Self.query(
                cluster, "SELECT count(*) FROM pg_stat_activity WHERE datname = 'aurora' AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
            #expect(open == "\(pool.configuration.connections + learning.store.background.configuration.connections)")

            try await cluster.run("restart-immediate")
            try await cluster.waitUntilReady()

            var failures: [String] = []
            // Recommend: half of them for an analysis (the log row is written before the answer).
            failures += await Self.run("recommend") { index in
                var request = Aurora_Learning_V1_RecommendRequest()
                request.batch.columns = columns
                if index.isMultiple(of: 2) { request.analysisID = "analysis-\(index)" }
                let user = client("user-\(index % 20)")
                _ = try await connection.unary(LearningAPI.recommend, request, options: user.options)
            }
            await learning.recommendationLog.flush()
            let logged = try await Self.query(cluster, "SELECT count(*) FROM recommendation_log WHERE user_id = ANY($1::text[])",
                ["{" + (0..<20).map { stored("\(prefix)-user-\($0)") }.joined(separator: ",") + "}"])
            #expect(logged == "\(Self.callsPerKind * columns.count)", "recommendation-log rows lost")
            // Feedback: on an analysis's columns, and with statistics.
            failures += await Self.run("feedback") { index in
                let user = client("user-\(index % 20)")
                if index.isMultiple(of: 2) {
                    var item = Aurora_Learning_V1_FeedbackItem()
                    item.analysisID = "analysis-\(index)"
                    item.columnIndex = 0
                    item.acceptedAction = "log_transform"
                    var request = Aurora_Learning_V1_FeedbackRequest()
                    request.items = [item]
                    _ = try await connection.unary(LearningAPI.feedback, request, options: user.options)
                } else {
                    try await user.feedback(columns[1], recommended: "yeo_johnson", accepted: "log_transform", id: "f-\(index)")
                }
            }
            failures += await Self.run("list rules") { index in _ = try await client("user-\(index % 20)").rules() }
            failures += await Self.run("disable rule") { _ in
                var request = Aurora_Learning_V1_DisableRuleRequest()
                request.id = ruleID
                _ = try await connection.unary(LearningAPI.disableRule, request, options: owner.options)
            }
            failures += await Self.run("stats") { index in _ = try await client("user-\(index % 20)").stats() }
            failures += await Self.run("forget") { index in
                _ = try await connection.unary(LearningAPI.forget, Aurora_Learning_V1_ForgetRequest(), options: client("user-\(index)").options)
            }
            #expect(failures.isEmpty, "\(failures.count) calls failed: \(failures.prefix(5))")
            // Background work (log writes, refits) failed nowhere either.
            let warnings = logs.all.filter { $0.contains("refit failed") || $0.contains("not written") }
            #expect(warnings.isEmpty, "\(warnings.prefix(5))")
            await connection.close()
        }
    }

    /// The first value of a query on a connection of its own (none of the test's outlives a restart).
    static func query(_ cluster: PrivateCluster, _ sql: String, _ parameters: [String?] = []) async throws -> String {
        let pool = PostgresPool(configuration: .init(url: cluster.url, connections: 1), logger: Logger(label: "check"))
        defer { pool.close() }
        let result = try await pool.execute(sql, parameters)
        return result.rows.first?.first.flatMap { $0 } ?? ""
    }

    /// Holds `count` connections of `pool` at once for a moment (so that each is opened).
    static func hold(_ pool: PostgresPool, _ count: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<count { group.addTask { try await pool.execute("SELECT pg_sleep(0.3)") } }
            try await group.waitForAll()
        }
    }
}
