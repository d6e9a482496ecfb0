import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A small pool of connections to one server, for callers that make many calls.
///
/// Calls go to the open connection with the fewest calls in flight; a new connection is opened
/// (up to `maxConnections`) when every open one is at the server's stream limit. Connections that
/// close or receive GOAWAY are dropped and replaced on demand; failed connection attempts back off
/// exponentially (with jitter), and calls fail fast while a server is known down, so a down server
/// is not hammered and callers are not held. As a `Service`, `run()` keeps
/// the pool until graceful shutdown and then closes it.
public final class RPCClient: RPCCaller, Service {
    public struct Configuration: Sendable {
        public var connection: ClientConfiguration
        public var maxConnections: Int
        /// Attempts per call to open a connection before giving up with UNAVAILABLE.
        public var maxConnectAttempts: Int
        public var initialBackoff: Duration
        public var maxBackoff: Duration

        public init(
            connection: ClientConfiguration = .init(), maxConnections: Int = 2, maxConnectAttempts: Int = 4,
            initialBackoff: Duration = .milliseconds(100), maxBackoff: Duration = .seconds(5)
        ) {
            self.connection = connection
            self.maxConnections = maxConnections
            self.maxConnectAttempts = maxConnectAttempts
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
        }
    }

    private struct State {
        var connections: [RPCConnection] = []
        var connecting: Task<RPCConnection, any Error>?
        /// Rounds of connection attempts that failed in a row; until `failingUntil`, calls fail
        /// with `lastFailure` without trying.
        var consecutiveFailures = 0
        var failingUntil: ContinuousClock.Instant?
        var lastFailure: RPCError?
        var closed = false
    }

    public let host: String
    public let port: Int
    private let configuration: Configuration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    public init(
        host: String, port: Int, configuration: Configuration = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger = Logger(label: "aurora.rpc.client")
    ) {
        self.host = host
        self.port = port
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    public func unary(method: String, request: [UInt8], options: CallOptions) async throws -> ByteBuffer {
        do {
            return try await self.connection().unary(method: method, request: request, options: options)
        } catch let error as RPCError where error.details["processed"] == "false" {
            // The server never saw the call (GOAWAY raced it): safe to send once more.
            return try await self.connection().unary(method: method, request: request, options: options)
        }
    }

    public func openStream(method: String, options: CallOptions, first: [UInt8]?, endAfterFirst: Bool) async throws
        -> ClientStreamHandle
    {
        try await self.connection().openStream(method: method, options: options, first: first, endAfterFirst: endAfterFirst)
    }

    /// A usable connection, opening one if needed.
    public func connection() async throws -> RPCConnection {
        enum Plan {
            case use(RPCConnection)
            case wait(Task<RPCConnection, any Error>)
        }
        let plan: Plan = try self.state.withLockedValue { state in
            guard !state.closed else { throw RPCError(.unavailable, "the client was shut down") }
            state.connections.removeAll { !$0.isUsable }
            let best = state.connections.min { $0.activeCalls < $1.activeCalls }
            if let best, best.activeCalls < best.maxConcurrentStreams || state.connections.count >= self.configuration.maxConnections {
                return .use(best)
            }
            if let connecting = state.connecting { return .wait(connecting) }
            let task = Task { try await self.connectWithBackoff() }
            state.connecting = task
            return .wait(task)
        }
        switch plan {
        case .use(let connection):
            return connection
        case .wait(let task):
            return try await task.value
        }
    }

    /// One call's connection attempts: a few, with short backoff (under a second in all with the
    /// defaults), so a restarting server is caught. When they all fail, calls during the next
    /// backoff window fail at once with the same error, as gRPC does for a channel in transient
    /// failure: a down server costs callers no wait and gets no storm of connects. The window
    /// grows with each failed round, up to `maxBackoff`.
    private func connectWithBackoff() async throws -> RPCConnection {
        defer { self.state.withLockedValue { $0.connecting = nil } }
        if let failure = self.state.withLockedValue({ state in state.failingUntil.map { ContinuousClock.now < $0 } == true ? state.lastFailure : nil }) {
            throw failure
        }
        var lastError: any Error = RPCError(.unavailable, "no attempt made")
        for attempt in 0..<self.configuration.maxConnectAttempts {
            if attempt > 0 {
                try await Task.sleep(for: self.backoff(failures: attempt))
            }
            do {
                let connection = try await RPCConnection.connect(
                    host: self.host, port: self.port, configuration: self.configuration.connection, group: self.group,
                    logger: self.logger)
                let closed = self.state.withLockedValue { state in
                    state.consecutiveFailures = 0
                    state.failingUntil = nil
                    if !state.closed { state.connections.append(connection) }
                    return state.closed
                }
                if closed {
                    await connection.close()
                    throw RPCError(.unavailable, "the client was shut down")
                }
                return connection
            } catch let error as RPCError where error.code == .unauthenticated {
                throw error  // retrying the same credential cannot help
            } catch {
                lastError = error
                self.logger.debug("connect failed", metadata: ["attempt": "\(attempt + 1)", "error": "\(error)"])
            }
        }
        let failure = lastError as? RPCError ?? RPCError(.unavailable, "cannot reach \(self.host):\(self.port): \(ConnectionFailure.describe(lastError))")
        self.state.withLockedValue { state in
            state.consecutiveFailures += 1
            state.failingUntil = ContinuousClock.now + self.backoff(failures: state.consecutiveFailures)
            state.lastFailure = failure
        }
        throw failure
    }

    /// Exponential backoff with "equal jitter": half fixed, half random.
    private func backoff(failures: Int) -> Duration {
        let exponent = min(failures - 1, 16)
        let base = min(self.configuration.maxBackoff, self.configuration.initialBackoff * (1 << exponent))
        return base / 2 + base / 2 * Double.random(in: 0...1)
    }

    /// Closes every connection; later calls fail with UNAVAILABLE.
    public func shutdown() async {
        let connections = self.state.withLockedValue { state in
            state.closed = true
            state.connecting?.cancel()
            defer { state.connections = [] }
            return state.connections
        }
        for connection in connections { await connection.close() }
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await self.shutdown()
    }
}
