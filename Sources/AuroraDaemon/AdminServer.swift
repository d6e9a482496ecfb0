import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle

/// Whether a daemon should receive traffic: set by the daemon (e.g. the database answered), and
/// cleared when it starts draining so that load balancers stop sending new work.
/// Exported as the gauge `aurora_ready` (1 ready, 0 not), so alerts can see what /readyz says.
public final class Readiness: Sendable {
    private let state = NIOLockedValueBox<(ready: Bool, reason: String)>((false, "starting"))
    private let gauge = Gauge(label: "aurora_ready")

    public init() {
        self.gauge.record(0)
    }

    public func set(ready: Bool, reason: String) {
        self.state.withLockedValue {
            $0 = (ready, reason)
            self.gauge.record(ready ? 1 : 0)
        }
    }

    public var current: (ready: Bool, reason: String) { self.state.withLockedValue { $0 } }
}

/// The admin HTTP port every daemon serves: `/metrics` (Prometheus text format), `/healthz`
/// (the process is alive and its event loops answer) and `/readyz` (it should receive traffic).
/// Only GET and HEAD are answered; it carries no user data, so it has no authentication and should
/// be reachable only from the cluster's monitoring network.
public final class AdminServer: Service, Sendable {
    public let host: String
    public let port: Int
    private let registry: PrometheusCollectorRegistry
    private let readiness: Readiness
    private let logger: Logger
    private let bound: EventLoopPromise<SocketAddress>

    public init(host: String, port: Int, registry: PrometheusCollectorRegistry, readiness: Readiness, logger: Logger) {
        self.host = host
        self.port = port
        self.registry = registry
        self.readiness = readiness
        self.logger = logger
        self.bound = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: SocketAddress.self)
    }

    public var listeningAddress: SocketAddress {
        get async throws { try await self.bound.futureResult.get() }
    }

    public func run() async throws {
        let registry = self.registry
        let readiness = self.readiness
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(AdminHandler(registry: registry, readiness: readiness))
                    }
                }
                .bind(host: self.host, port: self.port)
                .get()
        } catch {
            self.bound.fail(error)
            throw error
        }
        self.bound.succeed(channel.localAddress!)
        self.logger.notice("admin HTTP listening", metadata: ["address": "\(channel.localAddress!)"])
        try await withGracefulShutdownHandler {
            // Cancelled when another service failed (its port taken, say): the daemon must exit,
            // not wait here for a close that nothing else asks for.
            try await withTaskCancellationHandler {
                try await channel.closeFuture.get()
            } onCancel: {
                channel.close(promise: nil)
            }
        } onGracefulShutdown: {
            readiness.set(ready: false, reason: "draining")
            channel.close(promise: nil)
        }
    }
}

/// Answers one request per read; keep-alive as HTTP/1.1 wants.
final class AdminHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private let readiness: Readiness

    init(registry: PrometheusCollectorRegistry, readiness: Readiness) {
        self.registry = registry
        self.readiness = readiness
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = Self.unwrapInboundIn(data) else { return }
        let (status, contentType, body) = self.respond(to: head)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.count)")
        headers.add(name: "Cache-Control", value: "no-store")
        var response = HTTPResponseHead(version: head.version, status: status, headers: headers)
        response.headers.add(name: "Connection", value: head.isKeepAlive ? "keep-alive" : "close")
        context.write(Self.wrapOutboundOut(.head(response)), promise: nil)
        if head.method != .HEAD {
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let keepAlive = head.isKeepAlive
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { [context] _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }

    private func respond(to head: HTTPRequestHead) -> (HTTPResponseStatus, String, [UInt8]) {
        guard head.method == .GET || head.method == .HEAD else {
            return (.methodNotAllowed, "text/plain; charset=utf-8", Array("only GET and HEAD\n".utf8))
        }
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        switch path {
        case "/metrics":
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16 * 1024)
            self.registry.emit(into: &buffer)
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", buffer)
        case "/healthz":
            return (.ok, "text/plain; charset=utf-8", Array("ok\n".utf8))
        case "/readyz":
            let (ready, reason) = self.readiness.current
            return (ready ? .ok : .serviceUnavailable, "text/plain; charset=utf-8", Array("\(ready ? "ready" : "not ready"): \(reason)\n".utf8))
        default:
            return (.notFound, "text/plain; charset=utf-8", Array("not found; try /metrics, /healthz or /readyz\n".utf8))
        }
    }
}

extension Daemon {
    /// Makes swift-metrics report to a Prometheus registry (once per process) and returns it.
    public static func bootstrapMetrics() -> PrometheusCollectorRegistry {
        MetricsBootstrap.registry
    }
}

private enum MetricsBootstrap {
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()
}
