import ArgumentParser
import AuroraDaemon
import AuroraParser
import AuroraParserService
import AuroraRPC
import Logging

/// parser-service: streamed CSV in, dataset profile out, for the gateway (internal callers only).
@main
struct ParserDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parser-service",
        abstract: "AURORA parser-service: streaming CSV ingestion and column profiling.",
        discussion: """
            Every option can also be set by the environment variable in brackets; a flag wins over \
            the environment, the environment over the default.
            """
    )

    @Option(help: "Address to listen on [AURORA_PARSER_HOST, default 127.0.0.1].")
    var host: String?

    @Option(help: "Port to listen on; 0 picks a free one [AURORA_PARSER_PORT, default 7102].")
    var port: Int?

    @Option(help: "File holding the internal service credential [AURORA_INTERNAL_SECRET_FILE, or AURORA_INTERNAL_SECRET itself].")
    var internalSecretFile: String?

    @Option(help: "Largest upload in bytes [AURORA_PARSER_MAX_UPLOAD_BYTES, default 10 GiB].")
    var maxUploadBytes: Int?

    @Option(help: "Largest field in bytes [AURORA_PARSER_MAX_FIELD_BYTES, default 1 MiB].")
    var maxFieldBytes: Int?

    @Option(help: "Largest row in bytes [AURORA_PARSER_MAX_ROW_BYTES, default 8 MiB].")
    var maxRowBytes: Int?

    @Option(help: "Most columns per file [AURORA_PARSER_MAX_COLUMNS, default 4096].")
    var maxColumns: Int?

    @Option(help: "Most bytes a gzip or zstd upload may inflate to [AURORA_PARSER_MAX_INFLATED_BYTES, default 1 TiB].")
    var maxInflatedBytes: Int?

    @Option(help: "Upload chunks profiled at once (CPU slots); more wait [AURORA_PARSER_MAX_CONCURRENT, default 4].")
    var maxConcurrent: Int?

    @Option(help: "Uploads in progress at once; more are refused [AURORA_PARSER_MAX_UPLOADS, default 12].")
    var maxUploads: Int?

    @Option(help: "Uploads in progress at once per user; more are refused [AURORA_PARSER_MAX_UPLOADS_PER_USER, default 4].")
    var maxUploadsPerUser: Int?

    @Option(help: "Seconds an upload may send nothing before it is ended [AURORA_UPLOAD_IDLE_SECONDS, default 30].")
    var uploadIdleSeconds: Int?

    @Option(help: "Concurrent calls per connection [AURORA_PARSER_MAX_STREAMS, default 100].")
    var maxStreams: Int?

    @Option(help: "Seconds in-flight calls get to finish on shutdown [AURORA_DRAIN_SECONDS, default 25].")
    var drainSeconds: Int?

    @Option(help: "trace, debug, info, notice, warning, error or critical [AURORA_LOG_LEVEL, default info].")
    var logLevel: String?

    @OptionGroup(title: "Admin port")
    var admin: AdminOptions

    func run() async throws {
        // Before any metric exists: metrics made earlier would report to no registry.
        let registry = Daemon.bootstrapMetrics()
        let logger = try Daemon.logger(label: "aurora.parser-service", level: Daemon.setting(self.logLevel, env: "AURORA_LOG_LEVEL", default: "info"))
        var service = ParserService.Configuration()
        service.maxUploadBytes = try Daemon.setting(self.maxUploadBytes, env: "AURORA_PARSER_MAX_UPLOAD_BYTES", default: 10 << 30)
        service.maxConcurrentProfiles = try Daemon.setting(self.maxConcurrent, env: "AURORA_PARSER_MAX_CONCURRENT", default: 4)
        service.uploads = .init(
            total: try Daemon.setting(self.maxUploads, env: "AURORA_PARSER_MAX_UPLOADS", default: 12),
            perUser: try Daemon.setting(self.maxUploadsPerUser, env: "AURORA_PARSER_MAX_UPLOADS_PER_USER", default: 4))
        let uploadIdleSeconds = try Daemon.setting(self.uploadIdleSeconds, env: "AURORA_UPLOAD_IDLE_SECONDS", default: 30)
        service.profile.limits = TokenizerLimits(
            maxFieldBytes: try Daemon.setting(self.maxFieldBytes, env: "AURORA_PARSER_MAX_FIELD_BYTES", default: 1 << 20),
            maxColumns: try Daemon.setting(self.maxColumns, env: "AURORA_PARSER_MAX_COLUMNS", default: 4096),
            maxRowBytes: try Daemon.setting(self.maxRowBytes, env: "AURORA_PARSER_MAX_ROW_BYTES", default: 8 << 20))
        service.profile.maxInflatedBytes = try Daemon.setting(self.maxInflatedBytes, env: "AURORA_PARSER_MAX_INFLATED_BYTES", default: 1 << 40)
        for (name, value) in [("max-upload-bytes", service.maxUploadBytes), ("max-concurrent", service.maxConcurrentProfiles),
                              ("max-field-bytes", service.profile.limits.maxFieldBytes), ("max-columns", service.profile.limits.maxColumns),
                              ("max-row-bytes", service.profile.limits.maxRowBytes), ("max-uploads", service.uploads.total),
                              ("max-uploads-per-user", service.uploads.perUser), ("upload-idle-seconds", uploadIdleSeconds),
                              ("max-inflated-bytes", service.profile.maxInflatedBytes)] where value <= 0 {
            throw ValidationError("--\(name) must be positive")
        }
        var connection = ServerConnectionConfiguration()
        connection.maxConcurrentStreams = try Daemon.setting(self.maxStreams, env: "AURORA_PARSER_MAX_STREAMS", default: 100)
        connection.drainTimeout = .seconds(try Daemon.setting(self.drainSeconds, env: "AURORA_DRAIN_SECONDS", default: 25))
        connection.uploadIdleTimeout = .seconds(uploadIdleSeconds)
        var router = Router()
        ParserService(configuration: service).register(into: &router)
        let server = RPCServer(
            configuration: .init(
                host: try Daemon.setting(self.host, env: "AURORA_PARSER_HOST", default: "127.0.0.1"),
                port: try Daemon.setting(self.port, env: "AURORA_PARSER_PORT", default: 7102),
                connection: connection, serverName: "aurora-parser-service"),
            router: router,
            authenticator: SharedSecretAuthenticator(secret: try Daemon.internalSecret(file: self.internalSecretFile)),
            logger: logger)
        let readiness = Readiness()
        readiness.set(ready: true, reason: "serving")
        try await Daemon.serve(server, name: "parser-service", admin: self.admin, defaultAdminPort: 9102, metrics: registry, readiness: readiness, logger: logger)
    }
}
