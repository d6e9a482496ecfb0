import AuroraLearningService
import AuroraProtocol
import AuroraRPC
import AuroraStore
import Foundation
import Logging
import Testing

/// User ids and domains are stored only as keyed pseudonyms; rotating the key loses nobody's
/// rules, and a store written before pseudonyms is converted.
extension LearningServiceTests {
    @Suite("pseudonymous store")
    struct PseudonymTests {
        static func secret() -> String { Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString() }

        static func count(_ pool: PostgresPool, _ sql: String, _ value: String) async throws -> Int {
            Int(try await pool.execute(sql, [value]).value(0, 0) ?? "") ?? -1
        }

        @Test func keyFilesAreCheckedLineByLine() throws {
            let good = Self.secret()
            #expect(throws: PseudonymKeyError.self) { try PseudonymKeys(text: "# only a comment\n", source: "f") }
            #expect(throws: PseudonymKeyError.self) { try PseudonymKeys(text: "k1\n", source: "f") }
            #expect(throws: PseudonymKeyError.self) { try PseudonymKeys(text: "k1 c2hvcnQ=\n", source: "f") }  // 5 bytes
            #expect(throws: PseudonymKeyError.self) { try PseudonymKeys(text: "k.1 \(good)\n", source: "f") }
            #expect(throws: PseudonymKeyError.self) { try PseudonymKeys(text: "k1 \(good)\nk1 \(Self.secret())\n", source: "f") }
            do {
                _ = try PseudonymKeys(text: "k1 \(good)\nk2 nope\n", source: "keys.txt")
                Issue.record("a bad second line was accepted")
            } catch {
                #expect(error.description.hasPrefix("keys.txt line 2:"), "\(error)")
            }
            let keys = try PseudonymKeys(text: "# current first\nk2 \(good)\n\nk1 \(Self.secret())\n", source: "f")
            let user = keys.user("alice@example.com")
            #expect(user.hasPrefix("k2.") && user.count == 3 + 32 && !user.contains("alice"))
            #expect(keys.user("alice@example.com") == user && keys.user("bob") != user)
            #expect(keys.domain("") == "" && keys.domain("sales") != keys.user("sales"))
        }

        @Test func rotatingTheKeyKeepsEveryRuleAndLeavesNoOldPseudonym() async throws {
            let first = Self.secret()
            let old = try PseudonymKeys(text: "old \(first)\n", source: "test")
            let rotated = try PseudonymKeys(text: "new \(Self.secret())\nold \(first)\n", source: "test")
            let user = "rotate-\(UUID().uuidString)"
            let domain = "clinic-\(UUID().uuidString.prefix(8))"
            var configuration = LearningService.Configuration()
            configuration.pseudonyms = old
            let learnedRules = try await withLearningService(configuration: configuration) { port in
                let client = try await LearningClient.connect(port, user: user)
                var random = SeededRandomGenerator(seed: 11)
                for _ in 1...4 {
                    let column = Columns.numeric(skew: Double.random(in: -0.3...0.3, using: &random), min: -10, using: &random)
                    let recommendation = try await client.recommend([column], domain: domain)[0]
                    try await client.feedback(column, recommended: recommendation.action, accepted: "robust_scale", domain: domain, recommendationID: recommendation.recommendationID)
                }
                let rules = try await client.rules()
                await client.connection.close()
                return rules
            }
            #expect(!learnedRules.isEmpty)
            let pool = try await migratedPool(connections: 1, logger: Logger(label: "check"))
            defer { pool.close() }
            #expect(try await Self.count(pool, "SELECT count(*) FROM feedback WHERE user_id = $1", old.user(user)) == 4)
            #expect(try await Self.count(pool, "SELECT count(*) FROM feedback WHERE domain = $1", old.domain(domain)) == 4)

            configuration.pseudonyms = rotated
            try await withLearningService(configuration: configuration) { port in
                let client = try await LearningClient.connect(port, user: user)
                // The same rules, same ids, after the first call under the new key.
                let rules = try await client.rules()
                #expect(rules.map(\.id) == learnedRules.map(\.id))
                // A domain rule is labelled with its name when the caller names it, else shows its pseudonym.
                var request = Aurora_Learning_V1_ListRulesRequest()
                request.domains = [domain]
                let named = try await client.connection.unary(LearningAPI.listRules, request, options: client.options).rules
                let domainRules = named.filter { $0.scope == "user_domain" }
                #expect(!domainRules.isEmpty && domainRules.allSatisfy { $0.domain == domain }, "\(named.map(\.domain))")
                // Naming the domain moved its rows to the new key; unnamed, it shows its new pseudonym.
                let unnamed = try await client.rules().filter { $0.scope == "user_domain" }
                #expect(!unnamed.isEmpty && unnamed.allSatisfy { $0.domain == rotated.domain(domain) }, "\(unnamed.map(\.domain))")
                // The learned rule still drives the domain's next recommendation, named in its explanation.
                var random = SeededRandomGenerator(seed: 12)
                let column = Columns.numeric(skew: 0.1, min: -10, using: &random)
                let recommendation = try await client.recommend([column], domain: domain)[0]
                #expect(recommendation.action == "robust_scale" && recommendation.source.hasPrefix("learned:"), "\(recommendation.explanation)")
                await client.connection.close()
            }
            for table in ["feedback", "rules", "recommendation_log", "privacy_ledger", "bucket_votes", "builtin_records"] {
                #expect(try await Self.count(pool, "SELECT count(*) FROM \(table) WHERE user_id = $1", old.user(user)) == 0, "\(table) keeps the old pseudonym")
            }
            #expect(try await Self.count(pool, "SELECT count(*) FROM feedback WHERE user_id = $1", rotated.user(user)) == 4)
            #expect(try await Self.count(pool, "SELECT count(*) FROM feedback WHERE domain = $1", rotated.domain(domain)) == 4)
            #expect(try await Self.count(pool, "SELECT count(*) FROM rules WHERE domain = $1", old.domain(domain)) == 0)
        }

        @Test func aStoreWrittenInClearIsConvertedOnce() async throws {
            let keys = try PseudonymKeys(text: "k9 \(Self.secret())\n", source: "test")
            let user = "clear-\(UUID().uuidString)"
            let pool = try await migratedPool(connections: 1, logger: Logger(label: "check"))
            defer { pool.close() }
            // As a store before pseudonyms held them; the marker says whether conversion ran.
            try await pool.execute("DELETE FROM pseudonym_conversion")
            try await pool.execute(
                "INSERT INTO privacy_ledger (user_id, epsilon, reason) VALUES ($1, 4, 'test')", [user])
            try await pool.execute(
                "INSERT INTO bucket_votes (bucket, accepted, user_id, n) VALUES ('b', 'keep', $1, 1)", [user])
            let converted = try await LearningService.convertClearNames(pool, keys: keys)
            #expect(converted >= 2)
            #expect(try await Self.count(pool, "SELECT count(*) FROM privacy_ledger WHERE user_id = $1", user) == 0)
            #expect(try await Self.count(pool, "SELECT count(*) FROM privacy_ledger WHERE user_id = $1", keys.user(user)) == 1)
            #expect(try await Self.count(pool, "SELECT count(*) FROM bucket_votes WHERE user_id = $1", keys.user(user)) == 1)
            // Once: a clear value written later is not touched (nothing writes one; the marker holds).
            try await pool.execute("INSERT INTO bucket_votes (bucket, accepted, user_id, n) VALUES ('b', 'keep', $1, 1)", [user])
            #expect(try await LearningService.convertClearNames(pool, keys: keys) == 0)
            try await pool.execute("DELETE FROM bucket_votes WHERE user_id = ANY($1::text[])", ["{\(user),\(keys.user(user))}"])
            try await pool.execute("DELETE FROM privacy_ledger WHERE user_id = $1", [keys.user(user)])
        }
    }
}

extension LearningServiceTests.PseudonymTests {
    @Test func domainNamesInListRulesAreBounded() async throws {
        try await withLearningService { port in
            let client = try await LearningClient.connect(port, user: "domains-\(UUID().uuidString)")
            for domains in [(0..<65).map { "d\($0)" }, [String(repeating: "d", count: 65)], ["a\u{0}b"]] {
                var request = Aurora_Learning_V1_ListRulesRequest()
                request.domains = domains
                do {
                    _ = try await client.connection.unary(LearningAPI.listRules, request, options: client.options)
                    Issue.record("\(domains.count) domain names accepted")
                } catch let error as RPCError {
                    #expect(error.code == .invalidArgument && error.message.hasPrefix("domains:"), "\(error)")
                }
            }
            await client.connection.close()
        }
    }
}

extension LearningServiceTests.EndToEndTests {
    /// The learning-service does not start without a usable pseudonym key, and says how to make one.
    @Test(arguments: [("", "no pseudonym key"), ("k1 c2hvcnQ=\n", "line 1: the secret must be base64 of at least 32 bytes")])
    func learningServiceRefusesAMissingOrBadPseudonymKey(contents: String, expected: String) async throws {
        let system = try LocalSystem()
        defer { system.stop() }
        var environment = system.environment("learning-service")
        if contents.isEmpty {
            environment["AURORA_PSEUDONYM_KEY_FILE"] = nil
        } else {
            try Data(contents.utf8).write(to: system.pseudonymKeysFile)
        }
        let process = Process()
        process.executableURL = system.binaries.appendingPathComponent("learning-service")
        process.environment = environment
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        for _ in 0..<100 where process.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        let refused = !process.isRunning
        if !refused { process.terminate() }
        process.waitUntilExit()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(refused && process.terminationStatus != 0, "the daemon started: \(text)")
        #expect(text.contains(expected) && (!contents.isEmpty || text.contains("head -c 32 /dev/urandom")), "\(text)")
    }

    /// A gateway whose internal secret the services refuse is a configuration error, and the
    /// user is told so in plain words (not "unauthenticated", which would blame their token).
    @Test func aGatewayWithTheWrongInternalSecretIsReportedAsSuch() async throws {
        let system = try await LocalSystem.start()
        defer { system.stop() }
        let token = try await system.token(user: "secret-\(UUID().uuidString)")
        let wrong = system.directory.appendingPathComponent("wrong-secret")
        try Data(String(repeating: "w", count: 48).utf8).write(to: wrong)
        system.kill("gateway", signal: SIGTERM)
        try await system.launch("gateway", extra: ["AURORA_INTERNAL_SECRET_FILE": wrong.path])
        let refused = try system.aurora(["stats"], token: token)
        #expect(refused.status == 69, "\(refused.errors)")
        #expect(refused.errors.contains("the learning-service is unavailable (it refused the gateway's internal credential"), "\(refused.errors)")
    }
}
