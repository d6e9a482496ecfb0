import ArgumentParser
import AuroraProtocol
import AuroraRPC
import Foundation
import Histogram

/// `aurora-bench gateway`: Recommend through a running gateway from many client connections at
/// once, each with one call in flight: closed loop (as fast as answers come) and, with `--rate`,
/// open loop (a fixed total rate spread over the connections, as many idle users would make).
struct GatewayBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gateway", abstract: "Recommend calls/s and p50/p99 through a gateway with many connections.")

    @Option(help: "host:port of the gateway.") var address = "127.0.0.1:7101"
    @Option(help: "A token with the analyze scope (default: AURORA_TOKEN).") var token: String?
    @Option(help: "Client connections, each with one call in flight.") var connections = 1000
    @Option(help: "Columns per Recommend call.") var columns = 10
    @Option(help: "Seconds measured (after a warm-up of a third of that).") var seconds = 10.0
    @Option(help: "Total calls/s spread over the connections (open loop); 0 = closed loop.") var rate = 0.0

    func run() async throws {
        let parts = self.address.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw ValidationError("--address must be host:port") }
        let host = String(parts[0])
        var configuration = ClientConfiguration()
        configuration.credential = self.token ?? ProcessInfo.processInfo.environment["AURORA_TOKEN"] ?? ""
        configuration.connectTimeout = .seconds(30)
        configuration.handshakeTimeout = .seconds(30)
        let started = ContinuousClock.now
        // Open the connections a few at a time, as a crowd of clients would.
        var opened: [RPCConnection] = []
        let frozenConfiguration = configuration
        for start in stride(from: 0, to: self.connections, by: 50) {
            let count = min(50, self.connections - start)
            let batch = try await withThrowingTaskGroup(of: RPCConnection.self) { group in
                for _ in 0..<count {
                    group.addTask { try await RPCConnection.connect(host: host, port: port, configuration: frozenConfiguration) }
                }
                var batch: [RPCConnection] = []
                for try await connection in group { batch.append(connection) }
                return batch
            }
            opened += batch
        }
        print(String(format: "%d connections open in %.1f s", opened.count, LearningBench.seconds(ContinuousClock.now - started)))
        var random = SystemRandomNumberGenerator()
        var request = Aurora_Learning_V1_RecommendRequest()
        request.batch.columns = (0..<self.columns).map { _ in LearningBench.column(using: &random) }
        let frozen = request
        let clock = ContinuousClock()
        let warmUpEnd = clock.now + .seconds(self.seconds / 3)
        let end = warmUpEnd + .seconds(self.seconds)
        let interval: Duration? = self.rate > 0 ? .nanoseconds(Int64(Double(self.connections) / self.rate * 1e9)) : nil
        let results = try await withThrowingTaskGroup(of: (Histogram<UInt64>, Int).self) { group in
            for connection in opened {
                group.addTask {
                    var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
                    var failures = 0
                    // Open loop: each connection starts at a random offset and calls on a fixed schedule;
                    // latency counts from the scheduled time, so a slow answer delays no measurement.
                    var next = clock.now + (interval.map { $0 * Double.random(in: 0..<1) } ?? .zero)
                    while true {
                        if let interval {
                            if next >= end { break }
                            if next > clock.now { try await Task.sleep(until: next, clock: clock) }
                        } else {
                            next = clock.now
                        }
                        let scheduled = next
                        if scheduled >= end { break }
                        do {
                            _ = try await connection.unary(GatewayAPI.recommend, frozen, options: CallOptions(timeout: .seconds(30)))
                        } catch {
                            failures += 1
                        }
                        if scheduled >= warmUpEnd {
                            let elapsed = clock.now - scheduled
                            _ = histogram.record(UInt64(elapsed.components.seconds) * 1_000_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000))
                        }
                        if let interval { next = scheduled + interval }
                    }
                    return (histogram, failures)
                }
            }
            var merged = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
            var failures = 0
            for try await (histogram, failed) in group {
                merged.add(histogram)
                failures += failed
            }
            return (merged, failures)
        }
        let (merged, failures) = results
        // Calls measured over the time they took to finish: in an open loop that falls behind,
        // the last answers come after the window, and the rate shows it.
        let measuredSeconds = max(self.seconds, LearningBench.seconds(clock.now - warmUpEnd))
        print(
            String(
                format: "Recommend (%d columns) via gateway, %d connections, %@: %.0f calls/s, p50 %.2f ms, p99 %.2f ms, %d failed",
                self.columns, opened.count, self.rate > 0 ? String(format: "open loop at %.0f calls/s", self.rate) : "closed loop",
                Double(merged.totalCount) / measuredSeconds, Double(merged.valueAtPercentile(50)) / 1e6, Double(merged.valueAtPercentile(99)) / 1e6,
                failures))
        for connection in opened { await connection.close() }
    }
}
