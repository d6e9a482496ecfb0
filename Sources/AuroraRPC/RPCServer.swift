import AuroraWire
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOExtras
import NIOPosix
import ServiceLifecycle

/// Serves a `Router`'s methods over the AURORA wire protocol.
///
/// `run()` binds, serves until graceful shutdown (SIGTERM through a `ServiceGroup`, or
/// `triggerGracefulShutdown()`), then drains: the listener closes, every connection gets GOAWAY,
/// new calls are refused with UNAVAILABLE, and in-flight calls get `drainTimeout` to finish.
public final class RPCServer: Service, Sendable {
    public struct Configuration: Sendable {
        public var host: String
        /// 0 picks a free port; read it from `listeningAddress`.
        public var port: Int
        public var connection: ServerConnectionConfiguration
        /// Software name sent in WELCOME.
        public var serverName: String
        /// Dictionaries this server can use; the client's first preference that is here wins.
        public var dictionaries: [DigestedDictionary]
        public var backlog: Int32
        /// Connections one peer address may hold open at once; 0 = no limit. Connections over it
        /// are refused at the handshake with GOAWAY ENHANCE_YOUR_CALM.
        public var maxConnectionsPerPeer: Int = 0

        public init(
            host: String = "127.0.0.1", port: Int = 0, connection: ServerConnectionConfiguration = .init(),
            serverName: String = "aurora", dictionaries: [DigestedDictionary] = BuiltinDictionaries.all,
            backlog: Int32 = 1024
        ) {
            self.host = host
            self.port = port
            self.connection = connection
            self.serverName = serverName
            self.dictionaries = dictionaries
            self.backlog = backlog
        }
    }

    private let configuration: Configuration
    private let router: Router
    private let authenticator: any Authenticator
    private let group: any EventLoopGroup
    private let logger: Logger
    private let metrics: RPCServerMetrics
    private let bound: EventLoopPromise<SocketAddress>
    private let connectionIDs = ConnectionIDs()
    private let peerConnections = PeerConnections()

    public init(
        configuration: Configuration, router: Router, authenticator: any Authenticator = AllowAllAuthenticator(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger = Logger(label: "aurora.rpc.server")
    ) {
        self.configuration = configuration
        self.router = router
        self.authenticator = authenticator
        self.group = group
        self.logger = logger
        self.bound = group.next().makePromise(of: SocketAddress.self)
        self.metrics = RPCServerMetrics(methods: router.methodNames)
    }

    /// The address the server listens on, once `run()` has bound it.
    public var listeningAddress: SocketAddress {
        get async throws { try await self.bound.futureResult.get() }
    }

    public func run() async throws {
        let quiescing = ServerQuiescingHelper(group: self.group)
        let channel: any Channel
        do {
            channel = try await self.bind(quiescing: quiescing)
        } catch {
            self.bound.fail(error)
            throw error
        }
        self.bound.succeed(channel.localAddress!)
        self.logger.info("listening", metadata: ["address": "\(channel.localAddress!)"])
        let drained = self.group.next().makePromise(of: Void.self)
        let logger = self.logger
        // Graceful shutdown and cancellation (a sibling service failed) both drain, exactly once:
        // waiting for a close that nothing would start kept a failing daemon hanging, deaf even to
        // SIGTERM.
        let draining = NIOLockedValueBox(false)
        let drain: @Sendable () -> Void = {
            guard draining.withLockedValue({ started in defer { started = true }; return !started }) else { return }
            logger.info("draining")
            quiescing.initiateShutdown(promise: drained)
        }
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await channel.closeFuture.get()
                try await drained.futureResult.get()
            } onGracefulShutdown: {
                drain()
            }
        } onCancel: {
            drain()
        }
        self.logger.info("stopped")
    }

    private func bind(quiescing: ServerQuiescingHelper) async throws -> any Channel {
        let configuration = self.configuration
        let router = self.router
        let authenticator = self.authenticator
        let metrics = self.metrics
        let logger = self.logger
        let ids = self.connectionIDs
        let peers = self.peerConnections
        return try await ServerBootstrap(group: self.group)
            .serverChannelOption(.backlog, value: configuration.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    var connectionLogger = logger
                    connectionLogger[metadataKey: "conn.id"] = "\(ids.next())"
                    var connectionAuthenticator = authenticator
                    if configuration.maxConnectionsPerPeer > 0 {
                        let host = channel.remoteAddress?.ipAddress ?? "?"
                        if peers.admit(host, limit: configuration.maxConnectionsPerPeer) {
                            channel.closeFuture.whenComplete { _ in peers.release(host) }
                        } else {
                            connectionAuthenticator = RefusingAuthenticator(
                                error: RPCError(.resourceExhausted, "too many connections from \(host) (at most \(configuration.maxConnectionsPerPeer))"))
                        }
                    }
                    let handshakeLimit = HandshakeFrameLimit(
                        maxFrameBytes: HandshakeFrameLimit.helloBytes(maxCredentialBytes: configuration.connection.maxMetadataBytes))
                    try channel.pipeline.syncOperations.addFrameDecoder(
                        limits: configuration.connection.wire, handshakeLimit: handshakeLimit)
                    try channel.pipeline.syncOperations.addHandler(
                        ServerConnectionHandler(
                            configuration: configuration.connection, router: router, authenticator: connectionAuthenticator,
                            dictionaries: configuration.dictionaries, serverName: configuration.serverName,
                            metrics: metrics, logger: connectionLogger, handshakeLimit: handshakeLimit))
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
    }
}

/// Numbers connections for logs (a locked counter; connections are rare next to calls).
final class ConnectionIDs: Sendable {
    private let value = NIOLockedValueBox<UInt64>(0)
    func next() -> UInt64 { self.value.withLockedValue { $0 += 1; return $0 } }
}

/// Open connections per peer address, for `maxConnectionsPerPeer`.
final class PeerConnections: Sendable {
    private let counts = NIOLockedValueBox<[String: Int]>([:])

    func admit(_ host: String, limit: Int) -> Bool {
        self.counts.withLockedValue { counts in
            let current = counts[host, default: 0]
            guard current < limit else { return false }
            counts[host] = current + 1
            return true
        }
    }

    func release(_ host: String) {
        self.counts.withLockedValue { counts in
            let remaining = counts[host, default: 1] - 1
            counts[host] = remaining > 0 ? remaining : nil
        }
    }
}

/// Refuses every handshake with one error (a connection over a limit).
struct RefusingAuthenticator: Authenticator {
    let error: RPCError
    func authenticate(_ request: HandshakeRequest) async throws -> Principal { throw self.error }
}
