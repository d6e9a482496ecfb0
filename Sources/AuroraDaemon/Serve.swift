import ArgumentParser
import AuroraRPC
import Foundation
import Logging
import Prometheus
import ServiceLifecycle

/// Options every daemon has for its admin port and for telling scripts where it listens.
public struct AdminOptions: ParsableArguments {
    @Option(help: "Address of the admin HTTP port (/metrics, /healthz, /readyz) [AURORA_ADMIN_HOST, default 127.0.0.1].")
    public var adminHost: String?

    @Option(help: "Admin HTTP port; 0 picks a free one [AURORA_ADMIN_PORT, default: the daemon's].")
    public var adminPort: Int?

    @Option(help: "Once serving, write {\"port\": N, \"admin_port\": N} to this file, for scripts and tests [AURORA_READY_FILE].")
    public var readyFile: String?

    public init() {}
}

extension Daemon {
    /// Serves `server` and the admin port until SIGTERM/SIGINT, with `background` services alongside.
    /// Shutdown order: readiness turns false, then the RPC server drains, then the rest stop.
    /// `prepare` (migrations, waiting for a database) runs after the admin port is up and before
    /// the RPC server and `background` start: /healthz answers and /readyz says why it is not
    /// ready yet, so an orchestrator neither restarts a daemon that is still preparing nor sends
    /// it traffic. `registry` comes from `bootstrapMetrics()`, called before any metric was made.
    public static func serve(
        _ server: RPCServer, name: String, admin options: AdminOptions, defaultAdminPort: Int, metrics registry: PrometheusCollectorRegistry,
        readiness: Readiness,
        background: [any Service] = [], prepare: (@Sendable () async throws -> Void)? = nil, logger: Logger
    ) async throws {
        let admin = AdminServer(
            host: try Self.setting(options.adminHost, env: "AURORA_ADMIN_HOST", default: "127.0.0.1"),
            port: try Self.setting(options.adminPort, env: "AURORA_ADMIN_PORT", default: defaultAdminPort),
            registry: registry, readiness: readiness, logger: logger)
        let readyFile = Self.optionalSetting(options.readyFile, env: "AURORA_READY_FILE")
        Task {
            guard let address = try? await server.listeningAddress, let adminAddress = try? await admin.listeningAddress else { return }
            logger.notice("\(name) listening", metadata: ["address": "\(address)", "admin": "\(adminAddress)"])
            if let readyFile {
                let text = "{\"port\": \(address.port ?? 0), \"admin_port\": \(adminAddress.port ?? 0)}\n"
                do {
                    try Data(text.utf8).write(to: URL(fileURLWithPath: readyFile + ".tmp"))
                    _ = rename(readyFile + ".tmp", readyFile)
                } catch {
                    logger.error("cannot write the ready file", metadata: ["path": "\(readyFile)", "error": "\(error)"])
                }
            }
        }
        // ServiceGroup stops services in reverse order: readiness first, then the server drains.
        let trimmer = MemoryTrimmer(interval: .seconds(5))
        let served: [any Service] =
            prepare.map { [trimmer, AfterPreparation(prepare: $0, services: background + [server], logger: logger)] } ?? [trimmer] + background + [server]
        let services: [ServiceGroupConfiguration.ServiceConfiguration] =
            ([admin] + served).map { .init(service: $0) }
            + [.init(service: ReadinessService(readiness: readiness), successTerminationBehavior: .ignore)]
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Turns readiness false as soon as shutdown begins, so load balancers stop sending new work
/// while the server drains.
struct ReadinessService: Service {
    let readiness: Readiness

    func run() async throws {
        try? await gracefulShutdown()
        self.readiness.set(ready: false, reason: "draining")
    }
}

/// Runs `prepare`, then `services` as a group of their own, which stops them in reverse order as
/// the daemon's group would: the server (last) drains before the background services stop. A
/// shutdown that comes while `prepare` still runs cancels it and nothing else starts.
struct AfterPreparation: Service {
    let prepare: @Sendable () async throws -> Void
    let services: [any Service]
    let logger: Logger

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await self.prepare() }
        } catch is CancellationError {
            return
        }
        guard !Task.isShuttingDownGracefully else { return }
        // The daemon's graceful shutdown reaches this group, which passes it on in order.
        try await ServiceGroup(services: self.services, logger: self.logger).run()
    }
}
