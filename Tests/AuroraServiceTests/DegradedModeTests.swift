import Foundation
import Testing

/// One daemon down: the user gets what can still be given, and messages that name the failing
/// service in plain words (no NIO type names, no advice that does not fit).
extension LearningServiceTests.EndToEndTests {
    /// Words that would mean an internal type or errno leaked to the user.
    static let internals = ["NIO", "SingleConnectionFailure", "IOError", "errno", "ChannelError", "connectionErrors", "RPCError("]

    static func expectPlain(_ text: String, _ comment: String) {
        for word in Self.internals { #expect(!text.contains(word), "\(comment) shows '\(word)': \(text)") }
    }

    @Test func withTheLearningServiceDownAnalyzeGivesTheBuiltinsAndSaysWhy() async throws {
        let system = try await LocalSystem.start()
        defer { system.stop() }
        let token = try await system.token(user: "degraded-\(UUID().uuidString)")
        let path = try self.writeFile(SimilarFiles.customers(seed: 7), in: system, name: "degraded.csv")
        let normal = try self.analyzeJSON(system, path, token: token)
        system.kill("learning-service")

        let json = try system.aurora(["analyze", path, "--json", "--target", "score"], token: token)
        #expect(json.status == 0, "\(json.errors)")
        let report = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any] ?? [:]
        #expect(JSONSchemaCheck.analysisReport.violations(report) == [])
        #expect(report["analysis_id"] == nil, "nothing was recorded, so there is no id to give feedback on")
        let warnings = report["warnings"] as? [String] ?? []
        #expect(warnings.count == 1 && warnings[0].contains("learning-service is unavailable") && warnings[0].contains("built-in"), "\(warnings)")
        #expect(json.errors.contains("warning: learned rules are missing"), "the warning is on stderr too: \(json.errors)")
        Self.expectPlain(json.output + json.errors, "the degraded analysis")
        // The same built-in answers the learning-service gives a user without rules, target included.
        let columns = report["columns"] as? [[String: Any]] ?? []
        #expect(columns.count == 4)
        for column in columns {
            let recommendation = column["recommendation"] as? [String: Any] ?? [:]
            let source = recommendation["source"] as? String ?? ""
            #expect(source.hasPrefix("builtin:") || (column["name"] as? String == "score" && source == "target"), "\(column)")
            #expect(!(recommendation["steps"] as? [Any] ?? []).isEmpty)
            let name = column["name"] as? String ?? ""
            if name != "score" {
                #expect(recommendation["action"] as? String == self.recommendation(normal, column: name)["action"] as? String, "\(name)")
            }
        }
        // The table says it too, and offers no feedback command for an analysis that was not recorded.
        let table = try system.aurora(["analyze", path], token: token)
        #expect(table.status == 0, "\(table.errors)")
        #expect(table.output.contains("warning: learned rules are missing") && !table.output.contains("aurora feedback"), "\(table.output)")

        // What needs the learning-service is refused, naming it, with no address advice (the
        // gateway was reached) and no internals.
        for arguments in [["stats"], ["rules"], ["feedback", normal["analysis_id"] as? String ?? "", "--accept-rest"]] {
            let refused = try system.aurora(arguments, token: token)
            #expect(refused.status == 69, "\(arguments): \(refused.errors)")
            #expect(refused.errors.contains("the learning-service is unavailable"), "\(arguments): \(refused.errors)")
            #expect(!refused.errors.contains("--gateway"), "\(arguments): \(refused.errors)")
            Self.expectPlain(refused.errors, "\(arguments)")
        }
        let metrics = try system.metrics("gateway")
        #expect(metrics.contains("aurora_gateway_degraded_analyses_total 2"), "\(metrics)")

        // Back: learned rules and analysis ids return, at the latest once the gateway's backoff
        // window (at most 5 s) has passed.
        try await system.launch("learning-service")
        var again: [String: Any] = [:]
        let deadline = ContinuousClock.now + .seconds(15)
        repeat {
            again = try self.analyzeJSON(system, path, token: token)
            if again["analysis_id"] == nil { try await Task.sleep(for: .milliseconds(250)) }
        } while again["analysis_id"] == nil && ContinuousClock.now < deadline
        #expect(again["analysis_id"] is String && (again["warnings"] as? [String]) == [])
    }

    @Test func withTheParserServiceDownAnalyzeIsRefusedClearly() async throws {
        let system = try await LocalSystem.start()
        defer { system.stop() }
        let token = try await system.token(user: "degraded-\(UUID().uuidString)")
        let path = try self.writeFile(SimilarFiles.customers(seed: 8), in: system, name: "no-parser.csv")
        system.kill("parser-service")
        let refused = try system.aurora(["analyze", path], token: token)
        #expect(refused.status == 69, "\(refused.errors)")
        #expect(refused.errors.contains("the parser-service is unavailable") && refused.errors.contains("try again"), "\(refused.errors)")
        #expect(refused.output.isEmpty, "nothing half-done: \(refused.output)")
        Self.expectPlain(refused.errors, "the refusal")
        // Nothing reached the learning-service: no analysis was recorded, no privacy budget spent.
        let stats = try system.aurora(["stats"], token: token)
        #expect(stats.status == 0 && stats.output.contains("ε spent 0.0"), "\(stats.output)")
    }

    @Test func anUnreachableGatewayIsDescribedInPlainWords() async throws {
        let system = try await LocalSystem.start()
        defer { system.stop() }
        let token = try await system.token(user: "degraded-\(UUID().uuidString)")
        system.kill("gateway")
        let refused = try system.aurora(["stats"], token: token)
        #expect(refused.status == 69)
        #expect(refused.errors.contains("cannot reach the AURORA gateway") && refused.errors.contains("nothing listens"), "\(refused.errors)")
        #expect(refused.errors.contains("--gateway"), "here the address is the likely cause: \(refused.errors)")
        Self.expectPlain(refused.errors, "the refusal")
    }
}
