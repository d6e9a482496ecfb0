import AuroraLearningService
import AuroraProtocol
import AuroraRPC
import AuroraStore
import Foundation
import Logging
import Testing

/// A database of one test's own on the test cluster: the locks the test takes on its tables reach
/// no other test.
struct ScratchDatabase: Sendable {
    let url: String
    let name: String

    static func create() async throws -> ScratchDatabase {
        let shared = try #require(databaseURL, "AURORA_TEST_DATABASE_URL is not set: run the tests through Deploy/scripts/test.sh")
        let name = "aurora_test_\(UUID().uuidString.prefix(8).lowercased())"
        var components = try #require(URLComponents(string: shared))
        components.path = "/\(name)"
        let admin = PostgresPool(configuration: .init(url: shared, connections: 1), logger: Logger(label: "scratch"))
        defer { admin.close() }
        try await admin.execute("CREATE DATABASE \(name)")
        return ScratchDatabase(url: try #require(components.string), name: name)
    }

    func drop() async {
        guard let shared = databaseURL else { return }
        let admin = PostgresPool(configuration: .init(url: shared, connections: 1), logger: Logger(label: "scratch"))
        defer { admin.close() }
        _ = try? await admin.execute("DROP DATABASE IF EXISTS \(self.name) WITH (FORCE)")
    }
}

/// Another session's lock on a table, held until `open()`: writes to the table wait meanwhile. The
/// locking transaction waits on an advisory lock that a third session holds until then.
final class TableGate: Sendable {
    let holder: PostgresPool
    let key = Int64.random(in: 1...Int64.max)
    let locked: Task<Void, any Error>

    init(url: String, table: String) async throws {
        self.holder = PostgresPool(configuration: .init(url: url, connections: 1), logger: Logger(label: "gate"))
        try await self.holder.execute("SELECT pg_advisory_lock($1::bigint)", ["\(self.key)"])
        let locker = PostgresPool(configuration: .init(url: url, connections: 1), logger: Logger(label: "gate"))
        let key = self.key
        self.locked = Task {
            defer { locker.close() }
            try await locker.transaction { (transaction) throws(StoreError) in
                try transaction.execute("LOCK TABLE \(table) IN EXCLUSIVE MODE")
                try transaction.execute("SELECT pg_advisory_xact_lock($1::bigint)", ["\(key)"])
            }
        }
        while try await self.holder.execute(
            """
            SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
            WHERE c.relname = $1 AND l.mode = 'ExclusiveLock' AND l.granted
            """, [table]
        ).value(0, 0) == "0" {
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func open() async throws {
        try await self.holder.execute("SELECT pg_advisory_unlock($1::bigint)", ["\(self.key)"])
        try await self.locked.value
        self.holder.close()
    }
}

/// Finding 9 of issue 19: at SIGTERM the learning-service writes what it queued (log rows written
/// after Recommend answered) and runs the refits still waiting, before it exits; and when the
/// database does not take the rows, it still exits within its drain timeout and says how many
/// rows it dropped. The real daemon binary, on a database of the test's own.
@Suite("learning-service shutdown")
struct LearningShutdownTests {
    static let calls = 200
    static let columnsPerCall = 5

    /// Starts the daemon on `database`, teaches one user a rule whose refit waits a minute, then
    /// makes `calls` Recommend calls while the log is locked: their rows are all queued.
    func startWithQueuedRows(_ database: ScratchDatabase, extra: [String: String] = [:]) async throws -> (LocalSystem, TableGate, teacher: String) {
        let system = try LocalSystem()
        try await system.launch(
            "learning-service", extra: ["AURORA_DATABASE_URL": database.url, "AURORA_REFIT_DELAY_MS": "60000"].merging(extra) { $1 })
        var configuration = ClientConfiguration()
        configuration.credential = try String(contentsOf: system.secretFile, encoding: .utf8)
        let connection = try await RPCConnection.connect(host: "127.0.0.1", port: system.ports["learning-service"]!, configuration: configuration)
        var random = SeededRandomGenerator(seed: 9)
        let teacher = LearningClient(connection: connection, user: "teacher")
        let column = Columns.numeric(skew: 0.1, min: -10, using: &random)
        for _ in 0..<3 { try await teacher.feedback(column, recommended: "standard_scale", accepted: "robust_scale") }
        let gate = try await TableGate(url: database.url, table: "recommendation_log")
        let columns = (0..<Self.columnsPerCall).map { _ in Columns.numeric(skew: 2, min: 1, using: &random) }
        for index in 0..<Self.calls {
            _ = try await LearningClient(connection: connection, user: "user-\(index % 10)").recommend(columns)
        }
        await connection.close()
        return (system, gate, teacher.user)
    }

    static func waitForExit(_ process: Process, within limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        while process.isRunning {
            try #require(ContinuousClock.now < deadline, "still running \(limit) later")
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test func sigtermWritesEveryQueuedRowAndRunsThePendingRefit() async throws {
        let database = try await ScratchDatabase.create()
        let (system, gate, teacher) = try await self.startWithQueuedRows(database)
        let process = try #require(system.processes["learning-service"])
        kill(process.processIdentifier, SIGTERM)
        try await Task.sleep(for: .seconds(1))
        let waited = process.isRunning
        try await gate.open()
        try await Self.waitForExit(process, within: .seconds(30))
        #expect(waited, "the daemon exited with its log rows still queued")
        let check = PostgresPool(configuration: .init(url: database.url, connections: 1), logger: Logger(label: "check"))
        // The daemon stores users under the pseudonym key LocalSystem gave it.
        let keys = try PseudonymKeys(text: String(contentsOf: system.pseudonymKeysFile, encoding: .utf8), source: "test")
        let users = "{" + (0..<10).map { keys.user("user-\($0)") }.joined(separator: ",") + "}"
        let rows = try await check.execute("SELECT count(*) FROM recommendation_log WHERE user_id = ANY($1::text[])", [users]).value(0, 0)
        #expect(rows == "\(Self.calls * Self.columnsPerCall)")
        // The refit was waiting for its delay at SIGTERM: it ran before the exit.
        let rules = try await check.execute("SELECT count(*) FROM rules WHERE user_id = $1 AND active", [keys.user(teacher)]).value(0, 0)
        #expect(rules != "0", "the pending refit was dropped")
        #expect(system.logs.contains("queued work written"))
        check.close()
        system.stop()
        await database.drop()
    }

    @Test func aDatabaseThatDoesNotAnswerHoldsTheExitForTheDrainTimeoutOnly() async throws {
        let database = try await ScratchDatabase.create()
        let (system, gate, _) = try await self.startWithQueuedRows(database, extra: ["AURORA_DRAIN_SECONDS": "2"])
        let process = try #require(system.processes["learning-service"])
        let signalled = ContinuousClock.now
        kill(process.processIdentifier, SIGTERM)
        try await Self.waitForExit(process, within: .seconds(30))
        let took = ContinuousClock.now - signalled
        try await gate.open()
        // Nothing in flight to drain, then 2 s for the queued rows; the rest is slack for a loaded machine.
        #expect(took >= .seconds(2) && took < .seconds(8), "exit took \(took)")
        // Every row is counted as dropped: those still queued, and the batch whose write was cancelled.
        let lines = system.logs.split(separator: "\n")
        let dropped = lines.filter { $0.contains("dropped") || $0.contains("rows not written") }
        let counted = dropped.compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("log_rows=") || $0.hasPrefix("rows=") }.flatMap { Int($0.split(separator: "=")[1]) }
        }.reduce(0, +)
        #expect(counted == Self.calls * Self.columnsPerCall, "\(dropped)")
        system.stop()
        await database.drop()
    }

    /// A daemon that cannot take its RPC port exits with an error; it hung with its admin port
    /// open, SIGTERM included, when a failing service cancelled the rest.
    @Test func aTakenPortEndsTheDaemon() async throws {
        let system = try LocalSystem()
        defer { system.stop() }
        let taken = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(taken) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(system.ports["learning-service"]!).bigEndian
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(taken, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        try #require(bound == 0 && listen(taken, 1) == 0)
        let process = Process()
        process.executableURL = system.binaries.appendingPathComponent("learning-service")
        process.environment = system.environment("learning-service")
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        try await Self.waitForExit(process, within: .seconds(30))
        #expect(process.terminationStatus != 0)
    }
}
