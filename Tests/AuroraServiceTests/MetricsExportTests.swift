import Foundation
import Testing

/// What operators see: every metric the Grafana dashboard and the alerting rules query is exported
/// by some daemon from start-up (at zero), and the flow moves the counters it should.
extension LearningServiceTests.EndToEndTests {
    static let observability = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Deploy/observability")

    /// The `aurora_*` metric names an observability file queries, with histogram suffixes removed.
    static func queriedMetrics(in file: String) throws -> Set<String> {
        let text = try String(contentsOf: Self.observability.appendingPathComponent(file), encoding: .utf8)
        let names = text.matches(of: /aurora_[a-z_]+/).map { String($0.output) }
        return Set(names.map { name in
            for suffix in ["_bucket", "_count", "_sum"] where name.hasSuffix(suffix) { return String(name.dropLast(suffix.count)) }
            return name
        })
    }

    /// `name` → the sum of its samples, over every daemon's /metrics.
    static func samples(_ system: LocalSystem) throws -> [String: Double] {
        var sums: [String: Double] = [:]
        for daemon in LocalSystem.names {
            for line in try system.metrics(daemon).split(separator: "\n") where line.hasPrefix("aurora_") {
                let name = String(line.prefix { $0 != "{" && $0 != " " })
                let value = Double(line.split(separator: " ").last ?? "") ?? .nan
                sums[name, default: 0] += value
            }
        }
        return sums
    }

    /// A histogram is exported as `name_bucket`, `name_count` and `name_sum`.
    static func exported(_ name: String, in samples: [String: Double]) -> Double? {
        samples[name] ?? samples[name + "_count"]
    }

    @Test func everyQueriedMetricIsExportedFromStartUpAndMovesWithUse() async throws {
        let queried = try Self.queriedMetrics(in: "grafana-dashboard.json").union(Self.queriedMetrics(in: "alerts.yml"))
        #expect(queried.count >= 14)
        let system = try await LocalSystem.start()
        defer { system.stop() }

        let idle = try Self.samples(system)
        for name in queried.sorted() {
            #expect(Self.exported(name, in: idle) != nil, "\(name) is queried by Deploy/observability but no daemon exports it before the first call")
        }

        let token = try await system.token(user: "metrics-\(UUID().uuidString)")
        let path = system.directory.appendingPathComponent("metrics.csv").path
        try Data(SimilarFiles.customers(seed: 3).utf8).write(to: URL(fileURLWithPath: path))
        let analysis = try system.aurora(["analyze", path, "--json"], token: token)
        #expect(analysis.status == 0, "\(analysis.errors)")
        let id = (try JSONSerialization.jsonObject(with: Data(analysis.output.utf8)) as? [String: Any])?["analysis_id"] as? String ?? ""
        let feedback = try system.aurora(["feedback", id, "--correct", "income=log_transform", "--accept-rest"], token: token)
        #expect(feedback.status == 0, "\(feedback.errors)")
        let refused = try system.aurora(["stats"], token: "not-a-token")
        #expect(refused.status != 0)

        let used = try Self.samples(system)
        for name in [
            "aurora_gateway_analyses_total", "aurora_gateway_upload_bytes_total", "aurora_gateway_authentication_failures_total",
            "aurora_learning_recommendations_total", "aurora_learning_feedback_total", "aurora_learning_epsilon_spent_millis_total",
            "aurora_parser_profiles_total", "aurora_rpc_calls_total", "aurora_rpc_duration_seconds",
        ] {
            #expect((Self.exported(name, in: used) ?? 0) > (Self.exported(name, in: idle) ?? 0), "\(name) did not move with an analysis and its feedback")
        }
    }
}
