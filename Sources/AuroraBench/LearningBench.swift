import ArgumentParser
import AuroraProtocol
import AuroraRPC
import Foundation

/// `aurora-bench learning`: against a running learning-service, the Recommend latency for a
/// 50-column batch for a user with many stored corrections, the time a refit takes after one more
/// correction, and durable feedback records/s with concurrent clients; `--phases` picks which, so a
/// script can run a reference between feedback measurements.
struct LearningBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "learning", abstract: "Recommend latency, refit time and feedback throughput of a learning-service.")

    @Option(help: "host:port of the learning-service.") var address = "127.0.0.1:7103"
    @Option(help: "Internal service credential (default: AURORA_INTERNAL_SECRET).") var secret: String?
    @Option(help: "Corrections stored for the measured user first.") var corrections = 10_000
    @Option(help: "Columns per Recommend call.") var columns = 50
    @Option(help: "Concurrent feedback clients.") var clients = 8
    @Option(
        help: "Feedback calls each client keeps in flight on its connection, one measurement per value (comma-separated): 1 is a client that waits for each answer; more is a service that forwards its users' feedback.")
    var inFlight = "1,8"
    @Option(
        help: "Records per Feedback call, one measurement per value and depth (comma-separated): 1 is one column's feedback; 10 is one analysis's, as `aurora feedback` sends it.")
    var recordsPerCall = "1"
    @Option(help: "Seconds per measurement.") var seconds = 10.0
    @Option(
        help: "What to measure (comma-separated): recommend (stored corrections, Recommend latency, refit time), feedback (durable feedback rates).")
    var phases = "recommend,feedback"

    func run() async throws {
        let depths = try Self.positiveIntegers(self.inFlight, option: "--in-flight")
        let recordCounts = try Self.positiveIntegers(self.recordsPerCall, option: "--records-per-call")
        let parts = self.address.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw ValidationError("--address must be host:port") }
        var configuration = ClientConfiguration()
        configuration.credential = self.secret ?? ProcessInfo.processInfo.environment["AURORA_INTERNAL_SECRET"] ?? ""
        func connect() async throws -> RPCConnection { try await RPCConnection.connect(host: String(parts[0]), port: port, configuration: configuration) }
        let phases = Set(self.phases.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        guard !phases.isEmpty, phases.isSubset(of: ["recommend", "feedback"]) else {
            throw ValidationError("--phases must list recommend and/or feedback, got '\(self.phases)'")
        }
        let user = "bench-\(UInt64(Date().timeIntervalSince1970 * 1000))"
        if phases.contains("recommend") {
            let connection = try await connect()
            try await self.measureRecommend(connection: connection, user: user)
            await connection.close()
        }
        guard phases.contains("feedback") else { return }

        // 4. Durable feedback, concurrent clients (each its own user), each keeping `depth` calls
        //    of `records` records in flight on its connection.
        let connections = try await (0..<self.clients).asyncMap { _ in try await connect() }
        for records in recordCounts {
            for depth in depths {
                let rate = try await Self.feedbackRate(connections: connections, user: user, inFlight: depth, records: records, seconds: self.seconds)
                print(String(
                    format: "Feedback, %d clients x %d call(s) in flight, %d record(s) per call: %.0f records/s acknowledged after COMMIT",
                    self.clients, depth, records, rate))
            }
        }
        for client in connections { await client.close() }
    }

    /// Phases 1-3: a user with many stored corrections, Recommend latency, refit time.
    func measureRecommend(connection: RPCConnection, user: String) async throws {
        let options = CallOptions(timeout: .seconds(120), metadata: [MetadataKeys.user: user])
        var random = SystemRandomNumberGenerator()

        // 1. A user with many corrections (batches of 100 per call).
        let seedStart = ContinuousClock.now
        var stored = 0
        while stored < self.corrections {
            var request = Aurora_Learning_V1_FeedbackRequest()
            for index in 0..<min(100, self.corrections - stored) {
                request.items.append(Self.item(id: "seed-\(stored + index)", recommended: "standard_scale", using: &random))
            }
            stored += request.items.count
            _ = try await connection.unary(LearningAPI.feedback, request, options: options)
        }
        _ = try await connection.unary(LearningAPI.listRules, Aurora_Learning_V1_ListRulesRequest(), options: options)
        print(String(format: "stored %d corrections for %@ in %.1f s", stored, user, Self.seconds(ContinuousClock.now - seedStart)))

        // 2. Recommend latency, 50 columns, one call at a time.
        var batch = Aurora_Learning_V1_RecommendRequest()
        batch.batch.columns = (0..<self.columns).map { _ in Self.column(using: &random) }
        let recommend = batch
        let latency = try await RPCBench.drive(call: { _ = try await connection.unary(LearningAPI.recommend, recommend, options: options) }, inFlight: 1, seconds: self.seconds)
        print(String(format: "Recommend, %d columns: %.0f calls/s, p50 %.2f ms, p99 %.2f ms", self.columns, latency.callsPerSecond, latency.p50Milliseconds, latency.p99Milliseconds))

        // 3. Refit time: one more correction, then a call that waits until the rules reflect it.
        var refits: [Double] = []
        for index in 0..<20 {
            var request = Aurora_Learning_V1_FeedbackRequest()
            request.items = [Self.item(id: "refit-\(index)", recommended: "keep", using: &random)]
            _ = try await connection.unary(LearningAPI.feedback, request, options: options)
            let start = ContinuousClock.now
            _ = try await connection.unary(LearningAPI.listRules, Aurora_Learning_V1_ListRulesRequest(), options: options)
            refits.append(Self.seconds(ContinuousClock.now - start) * 1000)
        }
        refits.sort()
        print(String(format: "refit after a correction (user with %d corrections): median %.1f ms, max %.1f ms", stored, refits[refits.count / 2], refits.last!))
    }

    /// "1,8" as [1, 8]; anything but a list of integers >= 1 is an error naming the option.
    static func positiveIntegers(_ list: String, option: String) throws -> [Int] {
        let values = list.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) >= 1 }) else { throw ValidationError("\(option) must list integers >= 1, got '\(list)'") }
        return values.compactMap { $0 }
    }

    /// Records/s acknowledged when each connection (its own user) keeps `inFlight` Feedback calls
    /// of `records` records going for `seconds`.
    static func feedbackRate(connections: [RPCConnection], user: String, inFlight: Int, records: Int, seconds: Double) async throws -> Double {
        let counter = Counter()
        let start = ContinuousClock.now
        let deadline = start + .seconds(seconds)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, client) in connections.enumerated() {
                let options = CallOptions(timeout: .seconds(30), metadata: [MetadataKeys.user: "\(user)-feedback-\(index)"])
                for lane in 0..<inFlight {
                    group.addTask {
                        var random = SystemRandomNumberGenerator()
                        var sent = 0
                        while ContinuousClock.now < deadline {
                            var request = Aurora_Learning_V1_FeedbackRequest()
                            request.items = (0..<records).map { record in
                                Self.item(id: "d\(inFlight)-r\(records)-t\(index)-\(lane)-\(sent)-\(record)", recommended: "keep", using: &random)
                            }
                            let response = try await client.unary(LearningAPI.feedback, request, options: options)
                            counter.add(Int(response.stored))
                            sent += 1
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        return Double(counter.value) / Self.seconds(ContinuousClock.now - start)
    }

    /// A correction of a random column towards the simulated preference.
    static func item<G: RandomNumberGenerator>(id: String, recommended: String, using random: inout G) -> Aurora_Learning_V1_FeedbackItem {
        var item = Aurora_Learning_V1_FeedbackItem()
        item.feedbackID = id
        item.stats = Self.column(using: &random)
        item.recommendedAction = recommended
        item.acceptedAction = Self.preference(item.stats)
        return item
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func preference(_ stats: Aurora_Profile_V1_ColumnStatistics) -> String {
        if stats.type == .categorical { return stats.distinctEstimate > 20 ? "target_encode" : "ordinal_encode" }
        return abs(stats.numeric.skewness) > 1 ? "yeo_johnson" : "keep"
    }

    static func column<G: RandomNumberGenerator>(using random: inout G) -> Aurora_Profile_V1_ColumnStatistics {
        var stats = Aurora_Profile_V1_ColumnStatistics()
        stats.count = 1000
        if Bool.random(using: &random) {
            stats.type = .categorical
            stats.distinctEstimate = UInt64.random(in: 2...100, using: &random)
            stats.topValueRatio = Double.random(in: 0.05...0.6, using: &random)
            stats.text.meanLength = Double.random(in: 2...20, using: &random)
        } else {
            stats.type = .float
            stats.distinctEstimate = UInt64.random(in: 100...1000, using: &random)
            stats.numeric.min = Double.random(in: -100...100, using: &random)
            stats.numeric.max = stats.numeric.min + Double.random(in: 1...10_000, using: &random)
            stats.numeric.skewness = Double.random(in: -3...6, using: &random)
            stats.numeric.kurtosis = Double.random(in: 0...30, using: &random)
            stats.numeric.outlierRatio = Double.random(in: 0...0.1, using: &random)
        }
        return stats
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add(_ amount: Int) { self.lock.withLock { self.count += amount } }
    var value: Int { self.lock.withLock { self.count } }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
