import AuroraLearningService
import AuroraProtocol
import AuroraRPC
import Foundation
import Testing

/// A per-user ε budget: once it is spent, recommendations go on from the rules already learned,
/// but nothing new about the user is stored; Forget resets it.
extension LearningServiceTests {
    @Test func aSpentPrivacyBudgetStopsStoringButNotRecommending() async throws {
        var configuration = LearningService.Configuration()
        configuration.epsilon = 4
        configuration.epsilonBudget = 20  // five column fingerprints
        try await withLearningService(configuration: configuration) { port in
            let client = try await LearningClient.connect(port, user: "budget-\(UUID().uuidString)")
            var random = SeededRandomGenerator(seed: 21)
            func column() -> Aurora_Profile_V1_ColumnStatistics { Columns.numeric(skew: Double.random(in: -0.3...0.3, using: &random), min: -10, using: &random) }
            // Three corrections with their statistics (ε 12) make a rule.
            for _ in 0..<3 { try await client.feedback(column(), recommended: "standard_scale", accepted: "robust_scale") }
            #expect(try await client.stats().epsilonSpent == 12)

            func analyze(_ count: Int) async throws -> Aurora_Learning_V1_RecommendResponse {
                var request = Aurora_Learning_V1_RecommendRequest()
                request.batch.columns = (0..<count).map { _ in column() }
                request.analysisID = "analysis-\(UUID().uuidString)"
                return try await client.connection.unary(LearningAPI.recommend, request, options: client.options)
            }
            // Two columns fit (ε 20 of 20); the next analysis does not, and is answered all the same.
            let recorded = try await analyze(2)
            #expect(!recorded.privacyBudgetSpent)
            let unrecorded = try await analyze(1)
            #expect(unrecorded.privacyBudgetSpent)
            #expect(unrecorded.recommendations.count == 1 && unrecorded.recommendations[0].action == "robust_scale", "the learned rule still applies")
            let stats = try await client.stats()
            #expect(stats.epsilonSpent == 20 && stats.epsilonBudget == 20 && stats.epsilonPerColumn == 4)
            // New statistics are refused, saying why; verdicts on the recorded analysis are still taken.
            do {
                try await client.feedback(column(), recommended: "standard_scale", accepted: "robust_scale")
                Issue.record("feedback past the budget was stored")
            } catch let error as RPCError {
                #expect(error.code == .failedPrecondition && error.message.contains("privacy budget is spent"), "\(error)")
                #expect(error.details["reason"] == "privacy_budget")
            }
            // Forget erases everything, the ledger too: the budget is whole again.
            _ = try await client.connection.unary(LearningAPI.forget, Aurora_Learning_V1_ForgetRequest(), options: client.options)
            #expect(try await client.stats().epsilonSpent == 0)
            #expect(try await !analyze(2).privacyBudgetSpent)
            await client.connection.close()
        }
    }
}

extension LearningServiceTests.EndToEndTests {
    @Test func theCLIExplainsEpsilonAndWhatASpentBudgetMeans() async throws {
        let system = try await LocalSystem.start()
        defer { system.stop() }
        // LocalSystem runs ε = 64 per column; the file has 4 columns: one analysis fits, two do not.
        system.kill("learning-service", signal: SIGTERM)
        try await system.launch("learning-service", extra: ["AURORA_EPSILON_BUDGET": "300"])
        let token = try await system.token(user: "budget-\(UUID().uuidString)")
        let path = try self.writeFile(SimilarFiles.customers(seed: 9), in: system, name: "budget.csv")
        var first: (status: Int32, output: String, errors: String) = (1, "", "")
        for _ in 0..<40 {  // the gateway may still be in its backoff window after the restart
            first = try system.aurora(["analyze", path, "--json"], token: token)
            if first.output.contains("analysis_id") { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(first.status == 0 && first.output.contains("analysis_id"), "\(first.errors)")

        let stats = try system.aurora(["stats"], token: token)
        #expect(stats.status == 0)
        #expect(stats.output.contains("ε measures how much"), "\(stats.output)")
        #expect(stats.output.contains("ε spent 256.0 of your budget of 300.0: 44.0 left, about 0 more columns"), "\(stats.output)")
        #expect(stats.output.contains("Your budget is spent"), "\(stats.output)")

        let second = try system.aurora(["analyze", path], token: token)
        #expect(second.status == 0, "\(second.errors)")
        #expect(second.output.contains("warning: your privacy budget is spent") && !second.output.contains("aurora feedback"), "\(second.output)")
        let json = try system.aurora(["analyze", path, "--json"], token: token)
        let report = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any] ?? [:]
        #expect(report["analysis_id"] == nil && (report["warnings"] as? [String])?.count == 1)
        #expect(JSONSchemaCheck.analysisReport.violations(report) == [])
    }
}
