import AuroraGateway
import AuroraProtocol
import AuroraRPC
import Foundation
import Testing

/// The whole system: the three daemon binaries as processes, the `aurora` CLI, real PostgreSQL.
/// Nested in the serialized PostgreSQL suite, so that one test at a time starts three daemons
/// (their timing checks assume the machine is not running another system beside them).
extension LearningServiceTests {
    @Suite("end to end: three daemons, the CLI, PostgreSQL", .serialized)
    struct EndToEndTests {
        func writeFile(_ text: String, in system: LocalSystem, name: String) throws -> String {
            let path = system.directory.appendingPathComponent(name).path
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            return path
        }

        func analyzeJSON(_ system: LocalSystem, _ path: String, token: String) throws -> [String: Any] {
            let result = try system.aurora(["analyze", path, "--json", "--domain", "sales"], token: token)
            #expect(result.status == 0, "aurora analyze failed: \(result.errors)")
            return try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any] ?? [:]
        }

        func recommendation(_ analysis: [String: Any], column name: String) -> [String: Any] {
            let columns = analysis["columns"] as? [[String: Any]] ?? []
            return columns.first { $0["name"] as? String == name }?["recommendation"] as? [String: Any] ?? [:]
        }

        @Test func correctionsBecomeARuleThatDrivesTheNextAnalysis() async throws {
            let system = try await LocalSystem.start()
            defer { system.stop() }
            let token = try await system.token(user: "e2e-\(UUID().uuidString)")

            let first = try self.analyzeJSON(system, try self.writeFile(SimilarFiles.customers(seed: 1), in: system, name: "a.csv"), token: token)
            // The documented shape.
            #expect((first["analysis_id"] as? String)?.hasPrefix("an_") == true)
            let file = first["file"] as? [String: Any] ?? [:]
            #expect(file["encoding"] as? String == "UTF-8")
            #expect(file["rows"] as? Int == 400)
            #expect(file["malformed_rows"] as? Int == 0)
            #expect((file["dialect"] as? [String: Any])?["delimiter"] as? String == ",")
            let columns = first["columns"] as? [[String: Any]] ?? []
            #expect(columns.map { $0["name"] as? String ?? "" } == ["customer_id", "income", "segment", "score"])
            #expect(columns.map { $0["index"] as? Int ?? -1 } == [0, 1, 2, 3])
            #expect(columns[1]["type"] as? String == "float" || columns[1]["type"] as? String == "integer")
            // One report model: it follows the schema, and `aurora profile --json` of the same
            // file (no daemons) prints the same statistics, to the last digit.
            #expect(JSONSchemaCheck.analysisReport.violations(first) == [])
            let path = try self.writeFile(SimilarFiles.customers(seed: 1), in: system, name: "local.csv")
            let local = try system.aurora(["profile", path, "--json"], token: token)
            let localReport = try JSONSerialization.jsonObject(with: Data(local.output.utf8)) as? [String: Any] ?? [:]
            #expect(JSONSchemaCheck.analysisReport.violations(localReport) == [])
            let localColumns = localReport["columns"] as? [[String: Any]] ?? []
            #expect(localColumns.count == columns.count)
            for (remote, here) in zip(columns, localColumns) {
                func canonical(_ stats: Any?) throws -> String {
                    String(decoding: try JSONSerialization.data(withJSONObject: stats ?? [:], options: [.sortedKeys]), as: UTF8.self)
                }
                #expect(try canonical(remote["stats"]) == canonical(here["stats"]))
                #expect(remote["type"] as? String == here["type"] as? String)
            }
            let income = (columns[1]["stats"] as? [String: Any]) ?? [:]
            #expect(income["missing"] as? Int != nil && income["invalid"] as? Int == 0, "counts are JSON numbers and zeros are present: \(income)")
            let builtin = self.recommendation(first, column: "income")
            #expect((builtin["source"] as? String)?.hasPrefix("builtin:") == true, "\(builtin)")
            #expect(builtin["action"] as? String != "keep", "the built-in recommender should not keep a skewed income as it is: \(builtin)")
            #expect(!(builtin["explanation"] as? String ?? "").isEmpty)
            #expect(builtin["alternatives"] is [Any])
            // The recommendation is one step of the column's pipeline.
            let steps = builtin["steps"] as? [[String: Any]] ?? []
            #expect(steps.contains { $0["action"] as? String == builtin["action"] as? String }, "\(builtin)")

            // This user keeps incomes as they are: three corrections on three similar files.
            var analysisID = first["analysis_id"] as! String
            for seed in 2...4 {
                let feedback = try system.aurora(
                    ["feedback", analysisID, "--correct", "income=keep", "--accept", "segment", "--accept", "3"], token: token)
                #expect(feedback.status == 0, "aurora feedback failed: \(feedback.errors)")
                #expect(feedback.output.contains("recorded 3"), "\(feedback.output) \(feedback.errors)")
                // customer_id got no verdict: the CLI says so and how to accept it.
                #expect(feedback.output.contains("column 0 has no verdict yet") && feedback.output.contains("--accept-rest"), "\(feedback.output)")
                let next = try self.analyzeJSON(system, try self.writeFile(SimilarFiles.customers(seed: UInt64(seed)), in: system, name: "s\(seed).csv"), token: token)
                analysisID = next["analysis_id"] as! String
                if seed == 4 {
                    let learned = self.recommendation(next, column: "income")
                    #expect(learned["action"] as? String == "keep", "after three corrections: \(learned)")
                    #expect((learned["source"] as? String)?.hasPrefix("learned:") == true, "\(learned)")
                }
            }
            // A retry of the same verdict counts once.
            let again = try system.aurora(["feedback", analysisID, "--accept", "income"], token: token)
            #expect(again.status == 0)
            let duplicate = try system.aurora(["feedback", analysisID, "--accept", "income"], token: token)
            #expect(duplicate.output.contains("already recorded"))
            // Unknown columns and analyses are explained.
            let unknown = try system.aurora(["feedback", analysisID, "--accept", "no_such_column"], token: token)
            #expect(unknown.status != 0 && unknown.errors.contains("no such column"))
            // "The rest is right": the three columns without a verdict are accepted, income's stays.
            let rest = try system.aurora(["feedback", analysisID, "--accept-rest", "--json"], token: token)
            let restObject = try JSONSerialization.jsonObject(with: Data(rest.output.utf8)) as? [String: Any] ?? [:]
            #expect(restObject["stored"] as? Int == 3 && restObject["unanswered_columns"] as? [Int] == [], "\(rest.output) \(rest.errors)")
            let restAgain = try system.aurora(["feedback", analysisID, "--accept-rest"], token: token)
            #expect(restAgain.output.contains("recorded 0") && !restAgain.output.contains("no verdict"), "\(restAgain.output)")

            let rules = try system.aurora(["rules", "--json"], token: token)
            let ruleList = (try JSONSerialization.jsonObject(with: Data(rules.output.utf8)) as? [String: Any])?["rules"] as? [[String: Any]] ?? []
            #expect(ruleList.contains { $0["action"] as? String == "keep" }, "\(rules.output)")
            let stats = try system.aurora(["stats", "--json"], token: token)
            let statsObject = try JSONSerialization.jsonObject(with: Data(stats.output.utf8)) as? [String: Any] ?? [:]
            #expect(statsObject["feedback"] as? Int == 13)
            #expect((statsObject["epsilon_spent"] as? Double ?? 0) > 0)

            // The readable table names the analysis and the action.
            let table = try system.aurora(["analyze", try self.writeFile(SimilarFiles.customers(seed: 9), in: system, name: "t.csv")], token: token)
            #expect(table.status == 0 && table.output.contains("analysis an_") && table.output.contains("income"))

            let forget = try system.aurora(["forget", "--yes"], token: token)
            #expect(forget.status == 0 && forget.output.contains("deleted 13 feedback records"))
        }

        /// `--target`: the label column gets its own encoding, no feature rule, and no verdict is
        /// asked of it; an unknown target is refused with a message that says how to name it.
        @Test func theTargetIsLeftOutOfTheFeatures() async throws {
            let system = try await LocalSystem.start()
            defer { system.stop() }
            let token = try await system.token(user: "e2e-target-\(UUID().uuidString)")
            let path = try self.writeFile(SimilarFiles.customers(seed: 3), in: system, name: "target.csv")
            let result = try system.aurora(["analyze", path, "--json", "--target", "segment"], token: token)
            #expect(result.status == 0, "\(result.errors)")
            let analysis = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any] ?? [:]
            let target = self.recommendation(analysis, column: "segment")
            #expect(target["source"] as? String == "target" && target["action"] as? String == "ordinal_encode", "\(target)")
            #expect(self.recommendation(analysis, column: "income")["source"] as? String != "target")
            let id = analysis["analysis_id"] as? String ?? ""
            let rest = try system.aurora(["feedback", id, "--correct", "income=keep", "--json"], token: token)
            let restObject = try JSONSerialization.jsonObject(with: Data(rest.output.utf8)) as? [String: Any] ?? [:]
            #expect(restObject["unanswered_columns"] as? [Int] == [0, 3], "the target needs no verdict: \(rest.output) \(rest.errors)")
            let table = try system.aurora(["analyze", path, "--target", "2"], token: token)
            #expect(table.status == 0 && table.output.contains("segment (target)"), "\(table.output)")
            let unknown = try system.aurora(["analyze", path, "--target", "no_such_column"], token: token)
            #expect(unknown.status == 64 && unknown.errors.contains("zero-based index"), "\(unknown.status) \(unknown.errors)")
            let long = try system.aurora(["analyze", path, "--target", String(repeating: "t", count: 1025)], token: token)
            #expect(long.status == 64 && long.errors.contains("longer than 1024 bytes"), "\(long.status) \(long.errors)")
            // Verdicts are named as the user wrote them; a column named twice is refused before any call.
            let missing = try system.aurora(["feedback", id, "--correct", "nosuch=keep"], token: token)
            #expect(missing.status == 64 && missing.errors.contains("--correct nosuch=keep: analysis") && !missing.errors.contains("items["), "\(missing.errors)")
            // A correction to an action that cannot apply to the column is refused, saying what it needs.
            let impossible = try system.aurora(["feedback", id, "--correct", "customer_id=log_transform"], token: token)
            #expect(impossible.status == 64 && impossible.errors.contains("--correct customer_id=log_transform: log_transform does not apply")
                && impossible.errors.contains("it needs numbers"), "\(impossible.errors)")
            let twice = try system.aurora(["feedback", id, "--accept", "income", "--correct", "income=keep"], token: token)
            #expect(twice.status != 0 && twice.errors.contains("named twice"), "\(twice.errors)")
            // A header cannot drive the terminal: control characters are shown as U+FFFD.
            let hostile = try self.writeFile("\u{1B}[2Jname,value\na,1\nb,2\nc,3\n", in: system, name: "escape.csv")
            let shown = try system.aurora(["analyze", hostile], token: token)
            #expect(shown.status == 0 && !shown.output.contains("\u{1B}") && shown.output.contains("\u{FFFD}[2Jname"), "\(shown.output)")
        }

        @Test func badTokensAreRefusedWithAClearStatus() async throws {
            let system = try await LocalSystem.start()
            defer { system.stop() }
            let user = "e2e-\(UUID().uuidString)"
            func refusal(_ token: String) async -> RPCError? {
                let client = system.client(token: token)
                defer { Task { await client.shutdown() } }
                do {
                    _ = try await client.unary(GatewayAPI.stats, Aurora_Learning_V1_StatsRequest())
                    return nil
                } catch {
                    return error as? RPCError
                }
            }
            let now = Date()
            let expired = try await system.token(user: user, ttl: 600, now: now.addingTimeInterval(-3600))
            let early = try await system.token(user: user, notBefore: now.addingTimeInterval(3600))
            let other = try await KeySet.parse(
                Data(#"{"keys":[\#(String(decoding: try JSONSerialization.data(withJSONObject: KeyGenerator.entry(algorithm: .eddsa, kid: "ed-1")), as: UTF8.self))]}"#.utf8))
            let forged = try await TokenIssuer.issue(keys: other, policy: system.policy, user: user, scopes: ["admin"], ttl: 600)
            let valid = try await system.token(user: user)
            let parts = valid.split(separator: ".")
            let noneHeader = Data(#"{"alg":"none","kid":"ed-1","typ":"JWT"}"#.utf8).base64EncodedString()
                .replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            let unsigned = "\(noneHeader).\(parts[1])."
            let confusedHeader = Data(#"{"alg":"HS256","kid":"ed-1","typ":"JWT"}"#.utf8).base64EncodedString()
                .replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            let confused = "\(confusedHeader).\(parts[1]).\(parts[2])"
            let cases: [(String, String, String)] = [
                ("missing", "", "no token"), ("expired", expired, "expired"), ("not yet valid", early, "not valid before"),
                ("wrongly signed", forged, "signature"), ("alg none", unsigned, "alg none"), ("algorithm confusion", confused, "alg HS256"),
                ("garbage", "not-a-jwt", "not a JWT"),
            ]
            for (name, token, phrase) in cases {
                let error = await refusal(token)
                #expect(error?.code == .unauthenticated, "\(name): \(String(describing: error))")
                #expect(error?.message.contains(phrase) == true, "\(name): \(error?.message ?? "accepted")")
            }
            #expect(await refusal(valid) == nil)

            // The CLI tells the user what to do with an expired token.
            let cli = try system.aurora(["stats"], token: expired)
            #expect(cli.status == 77)
            #expect(cli.errors.contains("expired") && cli.errors.contains("aurora login"))
            // The advice comes once, and fits a gateway on this machine (no operator to ask).
            #expect(cli.errors.components(separatedBy: "aurora login").count == 2, "\(cli.errors)")
            #expect(cli.errors.contains("runs on this machine") && !cli.errors.contains("operator"), "\(cli.errors)")

            // Scopes per method.
            let readOnly = try await system.token(user: user, scopes: ["analyze"])
            let client = system.client(token: readOnly)
            await #expect(throws: RPCError.self) { _ = try await client.unary(GatewayAPI.forget, Aurora_Learning_V1_ForgetRequest()) }
            _ = try await client.unary(GatewayAPI.stats, Aurora_Learning_V1_StatsRequest())
            await client.shutdown()

            // Keys rotate without a restart: a token from a newly added key is accepted once reloaded.
            try KeyGenerator.append(KeyGenerator.entry(algorithm: .hs256, kid: "hs-2"), to: system.keysFile.path)
            let rotated = try await KeySet.load(path: system.keysFile.path, signingKID: "hs-2")
            let fresh = try await TokenIssuer.issue(keys: rotated, policy: system.policy, user: user, scopes: ["analyze"], ttl: 600)
            var accepted = false
            for _ in 0..<50 where !accepted {
                accepted = await refusal(fresh) == nil
                if !accepted { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(accepted, "a token signed with the rotated-in key was still refused after 10 s")
        }

        @Test func rateLimitRefusalsStartAndThenRecover() async throws {
            let system = try await LocalSystem.start(gatewayEnvironment: [
                "AURORA_RATE_CALLS": "2", "AURORA_RATE_CALLS_BURST": "3", "AURORA_RATE_UPLOAD_BYTES": "100000",
                "AURORA_RATE_UPLOAD_BURST": "200000", "AURORA_RATE_UPLOAD_MAX_WAIT_SECONDS": "2", "AURORA_GATEWAY_MAX_CONNECTIONS_PER_PEER": "3",
            ])
            defer { system.stop() }
            let token = try await system.token(user: "e2e-\(UUID().uuidString)")
            let client = system.client(token: token)
            var refusal: RPCError?
            for _ in 0..<10 where refusal == nil {
                do {
                    _ = try await client.unary(GatewayAPI.stats, Aurora_Learning_V1_StatsRequest())
                } catch let error as RPCError {
                    refusal = error
                }
            }
            #expect(refusal?.code == .resourceExhausted, "\(String(describing: refusal))")
            let retryAfter = try #require(refusal?.retryAfter)
            #expect(retryAfter > .zero && retryAfter <= .seconds(1))
            // The CLI says when to retry, and exits 75.
            let limited = try system.aurora(["stats"], token: token)
            // Rounded up to a whole second: the refusal said at most 1 s.
            #expect(limited.status == 75 && limited.errors.contains("rate limited") && limited.errors.contains("Retry in 1 s."), "\(limited.errors)")
            try await Task.sleep(for: .seconds(2))  // the call budget refills
            _ = try await client.unary(GatewayAPI.stats, Aurora_Learning_V1_StatsRequest())

            // Upload bytes at 100 kB/s (burst 200 kB): an 830 kB file is slowed down, not refused...
            try await Task.sleep(for: .seconds(1))
            let big = try self.writeFile(SimilarFiles.customers(seed: 8, rows: 20_000), in: system, name: "big.csv")
            let size = try FileManager.default.attributesOfItem(atPath: big)[.size] as! Int
            let started = ContinuousClock.now
            let throttled = try system.aurora(["analyze", big, "--chunk-bytes", "65536"], token: token)
            let took = ContinuousClock.now - started
            #expect(throttled.status == 0, "\(throttled.errors)")
            #expect(took >= .milliseconds((size - 200_000) * 1000 / 100_000 - 500), "\(size) bytes in \(took)")
            // ...while one chunk that would wait longer than the allowed 2 s is refused with a retry time.
            try await Task.sleep(for: .seconds(1))
            do {
                _ = try await client.clientStreaming(GatewayAPI.analyze) { writer in
                    var start = Aurora_Gateway_V1_AnalyzeUpload()
                    start.start.domain = ""
                    try await writer.send(start)
                    var chunk = Aurora_Gateway_V1_AnalyzeUpload()
                    chunk.data = Data(repeating: UInt8(ascii: "1"), count: 1_000_000)
                    try await writer.send(chunk)
                }
                Issue.record("a 1 MB chunk against 100 kB/s was accepted")
            } catch let error as RPCError {
                #expect(error.code == .resourceExhausted && error.message.contains("upload rate limit") && error.retryAfter != nil, "\(error)")
            }

            // Connections per peer: the client above holds one; two more fit, the next is refused.
            var extra: [RPCConnection] = []
            var configuration = ClientConfiguration()
            configuration.credential = token
            for _ in 0..<2 {
                extra.append(try await RPCConnection.connect(host: "127.0.0.1", port: system.ports["gateway"]!, configuration: configuration))
            }
            do {
                let over = try await RPCConnection.connect(host: "127.0.0.1", port: system.ports["gateway"]!, configuration: configuration)
                Issue.record("a fourth connection from one peer was accepted")
                await over.close()
            } catch let error as RPCError {
                #expect(error.code == .resourceExhausted && error.message.contains("too many connections"), "\(error)")
            }
            for connection in extra { await connection.close() }
            await client.shutdown()
        }

        @Test func parserKilledMidUploadGivesAClearErrorAndTheGatewayKeepsServing() async throws {
            let system = try await LocalSystem.start()
            defer { system.stop() }
            let token = try await system.token(user: "e2e-\(UUID().uuidString)")
            let client = system.client(token: token)
            let row = Array("1,2.5,abc,2024-01-01\n".utf8)
            let chunk = Data((0..<(64 << 10) / row.count).flatMap { _ in row })
            let outcome: (any Error)? = await {
                do {
                    _ = try await client.clientStreaming(GatewayAPI.analyze) { writer in
                        var start = Aurora_Gateway_V1_AnalyzeUpload()
                        start.start.domain = ""
                        try await writer.send(start)
                        var header = Aurora_Gateway_V1_AnalyzeUpload()
                        header.data = Data("id,amount,code,day\n".utf8)
                        try await writer.send(header)
                        for index in 0..<2000 {
                            var message = Aurora_Gateway_V1_AnalyzeUpload()
                            message.data = chunk
                            try await writer.send(message)
                            if index == 20 { system.kill("parser-service") }
                        }
                    }
                    return nil
                } catch {
                    return error
                }
            }()
            let error = outcome as? RPCError
            #expect(error?.code == .unavailable, "\(String(describing: outcome))")
            #expect(error?.message.contains("parser-service") == true, "\(String(describing: outcome))")
            // The gateway still serves what does not need the parser, and analyses once it is back.
            _ = try await client.unary(GatewayAPI.stats, Aurora_Learning_V1_StatsRequest())
            try await system.launch("parser-service")
            let path = try self.writeFile(SimilarFiles.customers(seed: 5), in: system, name: "after.csv")
            var analysed = false
            for _ in 0..<20 where !analysed {
                analysed = try system.aurora(["analyze", path, "--json"], token: token).status == 0
                if !analysed { try await Task.sleep(for: .milliseconds(250)) }
            }
            #expect(analysed)
            await client.shutdown()
        }

        @Test func clientDisconnectMidUploadCancelsTheParserWork() async throws {
            let system = try await LocalSystem.start()
            defer { system.stop() }
            let token = try await system.token(user: "e2e-\(UUID().uuidString)")
            var configuration = ClientConfiguration()
            configuration.credential = token
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: system.ports["gateway"]!, configuration: configuration)
            let row = Array("1,2.5,abc,2024-01-01\n".utf8)
            let chunk = Data((0..<(64 << 10) / row.count).flatMap { _ in row })
            let upload = Task {
                try await connection.clientStreaming(GatewayAPI.analyze) { writer in
                    var start = Aurora_Gateway_V1_AnalyzeUpload()
                    start.start.domain = ""
                    try await writer.send(start)
                    for _ in 0..<100_000 {
                        var message = Aurora_Gateway_V1_AnalyzeUpload()
                        message.data = chunk
                        try await writer.send(message)
                    }
                }
            }
            // Once the parser-service is working on it, the client goes away without a word.
            let cancelled = #"aurora_rpc_calls_total{method="aurora.parser.v1.ParserService/Profile",status="CANCELLED"} 1"#
            try await Task.sleep(for: .milliseconds(500))
            #expect(try !system.metrics("parser-service").contains(cancelled))
            await connection.close()
            upload.cancel()
            var seen = false
            for _ in 0..<50 where !seen {
                seen = try system.metrics("parser-service").contains(cancelled)
                if !seen { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(seen, "the parser-service's upload was not cancelled when the client went away")
        }

        @Test func learningServiceRestartLosesNoAcknowledgedFeedback() async throws {
            let system = try await LocalSystem.start()
            defer { system.stop() }
            let token = try await system.token(user: "e2e-\(UUID().uuidString)")
            let path = try self.writeFile(SimilarFiles.customers(seed: 6), in: system, name: "f.csv")
            var acknowledged = 0
            for _ in 0..<5 {
                let analysis = try self.analyzeJSON(system, path, token: token)
                let id = try #require(analysis["analysis_id"] as? String)
                let result = try system.aurora(["feedback", id, "--correct", "income=keep", "--accept", "segment"], token: token)
                if result.status == 0 { acknowledged += 2 }
            }
            #expect(acknowledged == 10)
            system.kill("learning-service")  // SIGKILL: no drain, no flush
            let down = try system.aurora(["stats"], token: token)
            #expect(down.status == 69 && down.errors.contains("learning-service"), "\(down.errors)")
            try await system.launch("learning-service")
            var feedback: Int?
            for _ in 0..<20 where feedback == nil {
                let stats = try system.aurora(["stats", "--json"], token: token)
                if stats.status == 0 {
                    feedback = (try JSONSerialization.jsonObject(with: Data(stats.output.utf8)) as? [String: Any])?["feedback"] as? Int
                } else {
                    try await Task.sleep(for: .milliseconds(250))
                }
            }
            #expect(feedback == acknowledged)
        }

        /// A learning-service whose database is not up yet is alive (its admin port answers) but
        /// not ready, and says why; its RPC port waits for the schema. So an orchestrator neither
        /// restarts it while it waits (or migrates a large table) nor sends it traffic.
        @Test func learningServiceWaitingForItsDatabaseIsAliveButNotReady() async throws {
            let system = try LocalSystem()
            defer { system.stop() }
            let admin = try LocalSystem.freePort()
            let nothingListens = try LocalSystem.freePort()
            let process = Process()
            process.executableURL = system.binaries.appendingPathComponent("learning-service")
            process.environment = system.environment("learning-service").merging(
                ["AURORA_DATABASE_URL": "postgresql://aurora@127.0.0.1:\(nothingListens)/aurora", "AURORA_ADMIN_PORT": "\(admin)"]) { $1 }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            defer {
                process.terminate()
                process.waitUntilExit()
            }
            var health = ""
            for _ in 0..<300 where !health.hasPrefix("HTTP/1.0 200") {
                try await Task.sleep(for: .milliseconds(100))
                health = (try? LocalSystem.adminGet("/healthz", port: admin)) ?? ""
            }
            #expect(health.hasPrefix("HTTP/1.0 200"), "/healthz: \(health)")
            let ready = try LocalSystem.adminGet("/readyz", port: admin)
            #expect(ready.hasPrefix("HTTP/1.0 503") && ready.contains("not ready: waiting for the database and applying schema migrations"), "/readyz: \(ready)")
            await #expect(throws: (any Error).self, "the RPC port listens before the schema is ready") {
                _ = try await RPCConnection.connect(host: "127.0.0.1", port: system.ports["learning-service"]!, configuration: ClientConfiguration())
            }
        }

        /// The log's retention is checked at start-up: a value out of range, or one shorter than
        /// the analysis lifetime (feedback on an analysis reads its log rows), stops the daemon
        /// with a message naming the setting, before it touches the database.
        @Test(arguments: [("1", "168"), ("40000", "168"), ("30", "721")])
        func learningServiceRefusesABadLogRetention(days: String, lifetimeHours: String) async throws {
            let system = try LocalSystem()
            defer { system.stop() }
            let process = Process()
            process.executableURL = system.binaries.appendingPathComponent("learning-service")
            process.environment = system.environment("learning-service").merging(["AURORA_LOG_RETENTION_DAYS": days, "AURORA_ANALYSIS_LIFETIME_HOURS": lifetimeHours]) { $1 }
            let errors = system.directory.appendingPathComponent("refused.log")
            FileManager.default.createFile(atPath: errors.path, contents: nil)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = try FileHandle(forWritingTo: errors)
            try process.run()
            // A daemon that accepted the setting would serve on: stop it rather than wait forever.
            for _ in 0..<100 where process.isRunning { try await Task.sleep(for: .milliseconds(100)) }
            let refused = !process.isRunning
            if !refused { process.terminate() }
            process.waitUntilExit()
            let text = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            #expect(refused && process.terminationStatus != 0, "the daemon started: \(text)")
            #expect(text.contains("log-retention-days must be 1 to 36500 and cover the analysis lifetime (\(lifetimeHours) hours)"), "\(text)")
        }

        @Test func canaryValuesReachNoTableAndNoLog() async throws {
            let system = try await LocalSystem.start()
            defer { system.stop() }
            // Who uses AURORA and for what is private too: user ids and domains are stored only as pseudonyms.
            let user = "USERCANARY\(UUID().uuidString.prefix(8))"
            let domain = "DOMAINCANARY\(UUID().uuidString.prefix(8))"
            let token = try await system.token(user: user)
            let canary = "CANARY\(UUID().uuidString.prefix(8))"
            let column = "COLNAME\(UUID().uuidString.prefix(8))"
            let path = try self.writeFile(SimilarFiles.customers(seed: 7, canary: canary, incomeName: column), in: system, name: "canary.csv")
            let analyzed = try system.aurora(["analyze", path, "--json", "--domain", domain], token: token)
            #expect(analyzed.status == 0, "\(analyzed.errors)")
            let analysis = try JSONSerialization.jsonObject(with: Data(analyzed.output.utf8)) as? [String: Any] ?? [:]
            let id = try #require(analysis["analysis_id"] as? String)
            // The uploader gets their own values back (top values), and nobody else keeps them.
            #expect(String(decoding: try JSONSerialization.data(withJSONObject: analysis), as: UTF8.self).contains(canary))
            let feedback = try system.aurora(["feedback", id, "--correct", "\(column)=keep", "--accept", "segment"], token: token)
            #expect(feedback.status == 0, "\(feedback.errors)")
            _ = try system.aurora(["rules"], token: token)
            _ = try system.aurora(["stats"], token: token)
            guard let text = try dumpStore() else { return }
            #expect(text.contains("recommendation_log"), "the dump is not a dump of the store")
            #expect(text.contains(id), "the analysis should be in the store")
            let logs = system.logs
            #expect(logs.contains("analysis done"), "the daemons' logs were not captured")
            // The store knows the user and the domain, by their pseudonyms: the dump is of their rows.
            #expect(text.contains("k1."), "no pseudonym in the dump")
            for secret in [canary, column, user, domain] {
                #expect(!text.contains(secret), "\(secret) found in pg_dump")
                #expect(!logs.contains(secret), "\(secret) found in a daemon's log")
            }
        }
    }
}
