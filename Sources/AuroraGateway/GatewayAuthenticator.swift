import AuroraRPC
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Authenticates gateway connections with the user's JWT from HELLO.
///
/// Repeated failures from one peer address are slowed down: after `freeFailures` failures inside
/// `failureWindow`, each refusal waits twice as long as the previous one (up to `maximumDelay`),
/// which makes guessing tokens slow without locking out a user who mistyped one.
public final class GatewayAuthenticator: Authenticator, Sendable {
    public struct Configuration: Sendable {
        public var freeFailures = 3
        public var failureWindow: Duration = .seconds(60)
        public var firstDelay: Duration = .milliseconds(100)
        public var maximumDelay: Duration = .seconds(5)
        /// Peers tracked at once; beyond it the oldest records are dropped.
        public var maximumPeers = 50_000

        public init() {}
    }

    private let verifier: Mutex<TokenVerifier>
    private let configuration: Configuration
    private struct Failures {
        var byHost: [String: (count: Int, since: ContinuousClock.Instant)] = [:]
        /// Records past their window are swept once the table has doubled since the last sweep.
        var sweepAt = 1024
    }

    private let failures = Mutex(Failures())
    private let logger: Logger
    private let refused = Counter(label: "aurora_gateway_authentication_failures_total")

    public init(verifier: TokenVerifier, configuration: Configuration = .init(), logger: Logger) {
        self.verifier = Mutex(verifier)
        self.configuration = configuration
        self.logger = logger
    }

    /// Swaps in a reloaded key set (key rotation without restart).
    public func replace(_ verifier: TokenVerifier) {
        self.verifier.withLock { $0 = verifier }
    }

    public var current: TokenVerifier { self.verifier.withLock { $0 } }

    public func authenticate(_ request: HandshakeRequest) async throws -> Principal {
        let verifier = self.current
        do {
            return try await verifier.verify(request.credential)
        } catch {
            let host = Self.host(of: request.peer)
            let delay = self.recordFailure(host)
            self.refused.increment()
            self.logger.info("authentication refused", metadata: ["peer": "\(request.peer)", "reason": "\(error.reason.rawValue)"])
            if delay > .zero { try? await Task.sleep(for: delay) }
            throw error
        }
    }

    /// Counts a failure and returns how long to hold the refusal back.
    func recordFailure(_ host: String) -> Duration {
        let now = ContinuousClock.now
        let configuration = self.configuration
        return self.failures.withLock { failures in
            if failures.byHost.count >= min(failures.sweepAt, configuration.maximumPeers) {
                failures.byHost = failures.byHost.filter { now - $0.value.since < configuration.failureWindow }
                if failures.byHost.count >= configuration.maximumPeers { failures.byHost.removeAll() }
                failures.sweepAt = max(1024, failures.byHost.count * 2)
            }
            var record = failures.byHost[host] ?? (0, now)
            if now - record.since > configuration.failureWindow { record = (0, now) }
            record.count += 1
            failures.byHost[host] = record
            let excess = record.count - configuration.freeFailures
            guard excess > 0 else { return .zero }
            return min(configuration.maximumDelay, configuration.firstDelay * (1 << min(excess - 1, 20)))
        }
    }

    static func host(of peer: String) -> String {
        guard let colon = peer.lastIndex(of: ":") else { return peer }
        return String(peer[..<colon])
    }
}

/// Reloads the key set file when it changes, so keys rotate without a restart. A file that does
/// not parse is reported and the keys in use are kept.
public struct KeySetReloader: Service {
    let path: String
    let signingKID: String?
    let policy: TokenPolicy
    let authenticator: GatewayAuthenticator
    let interval: Duration
    let logger: Logger

    public init(path: String, signingKID: String?, policy: TokenPolicy, authenticator: GatewayAuthenticator, interval: Duration, logger: Logger) {
        self.path = path
        self.signingKID = signingKID
        self.policy = policy
        self.authenticator = authenticator
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown { try await self.poll() }
    }

    private func poll() async throws {
        var last = FileManager.default.contents(atPath: self.path)
        while true {
            try await Task.sleep(for: self.interval)
            let data = FileManager.default.contents(atPath: self.path)
            guard data != last else { continue }
            last = data
            do {
                guard let data else { throw KeySetError("cannot read \(self.path)") }
                let keys = try await KeySet.parse(data, signingKID: self.signingKID, source: self.path)
                self.authenticator.replace(TokenVerifier(keys: keys, policy: self.policy))
                self.logger.notice("key set reloaded", metadata: ["kids": "\(keys.keys.keys.sorted().joined(separator: ","))"])
            } catch {
                self.logger.error("key set file changed but cannot be used; keeping the previous keys", metadata: ["error": "\(error)"])
            }
        }
    }
}
