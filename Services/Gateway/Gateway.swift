import ArgumentParser
import AuroraDaemon
import AuroraGateway
import AuroraRPC
import Foundation
import Logging

/// gateway: the only door from outside. Authenticates users (JWT), limits their rates, and
/// orchestrates the parser-service and the learning-service.
@main
struct Gateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "AURORA gateway: authentication, rate limits, orchestration.",
        discussion: "Every option can also be set by the environment variable in brackets; a flag wins over the environment.",
        subcommands: [Serve.self, Token.self, Keys.self],
        defaultSubcommand: Serve.self
    )
}

/// Where the signing keys are and what tokens must say (shared by `serve` and `token issue`).
struct TokenOptions: ParsableArguments {
    @Option(help: "JSON Web Key Set file with the token keys; reloaded when it changes [AURORA_JWT_KEYS_FILE].")
    var keysFile: String?

    @Option(help: "kid of the key that signs new tokens [AURORA_JWT_SIGNING_KID, default: the last key with a private part].")
    var signingKid: String?

    @Option(help: "Required token issuer (iss) [AURORA_JWT_ISSUER, default aurora].")
    var issuer: String?

    @Option(help: "Required token audience (aud) [AURORA_JWT_AUDIENCE, default aurora-gateway].")
    var audience: String?

    @Option(help: "Clock skew tolerated on exp and nbf, in seconds [AURORA_JWT_LEEWAY_SECONDS, default 30].")
    var leewaySeconds: Int?

    func keysPath() throws -> String {
        guard let path = Daemon.optionalSetting(self.keysFile, env: "AURORA_JWT_KEYS_FILE") else {
            throw ValidationError("no key set: set --keys-file or AURORA_JWT_KEYS_FILE (create one with `gateway keys generate`)")
        }
        return path
    }

    func policy() throws -> TokenPolicy {
        let leeway = try Daemon.setting(self.leewaySeconds, env: "AURORA_JWT_LEEWAY_SECONDS", default: 30)
        guard (0...600).contains(leeway) else { throw ValidationError("leeway-seconds must be 0 to 600") }
        return TokenPolicy(
            issuer: try Daemon.setting(self.issuer, env: "AURORA_JWT_ISSUER", default: "aurora"),
            audience: try Daemon.setting(self.audience, env: "AURORA_JWT_AUDIENCE", default: "aurora-gateway"),
            leeway: TimeInterval(leeway))
    }

    func load() async throws -> KeySet {
        do {
            return try await KeySet.load(path: try self.keysPath(), signingKID: Daemon.optionalSetting(self.signingKid, env: "AURORA_JWT_SIGNING_KID"))
        } catch let error as KeySetError {
            throw ValidationError(error.description)
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the public API (the default).")

    @Option(help: "Address to listen on [AURORA_GATEWAY_HOST, default 127.0.0.1].")
    var host: String?

    @Option(help: "Port to listen on; 0 picks a free one [AURORA_GATEWAY_PORT, default 7101].")
    var port: Int?

    @Option(help: "parser-service address host:port [AURORA_PARSER_ADDRESS, default 127.0.0.1:7102].")
    var parser: String?

    @Option(help: "learning-service address host:port [AURORA_LEARNING_ADDRESS, default 127.0.0.1:7103].")
    var learning: String?

    @Option(help: "File holding the internal service credential [AURORA_INTERNAL_SECRET_FILE, or AURORA_INTERNAL_SECRET itself].")
    var internalSecretFile: String?

    @OptionGroup(title: "Tokens")
    var tokens: TokenOptions

    @Option(help: "Seconds between checks of the key set file for changes [AURORA_JWT_RELOAD_SECONDS, default 5].")
    var keysReloadSeconds: Int?

    @Option(help: "Calls per second per user [AURORA_RATE_CALLS, default 20].")
    var rateCalls: Double?

    @Option(help: "Calls a user may make at once after a quiet period [AURORA_RATE_CALLS_BURST, default 40].")
    var rateCallsBurst: Double?

    @Option(help: "Upload bytes per second per user [AURORA_RATE_UPLOAD_BYTES, default 67108864].")
    var rateUploadBytes: Double?

    @Option(help: "Upload bytes a user may send at once [AURORA_RATE_UPLOAD_BURST, default 268435456].")
    var rateUploadBurst: Double?

    @Option(help: "Longest an upload chunk is held back by the byte rate before the upload is refused, in seconds [AURORA_RATE_UPLOAD_MAX_WAIT_SECONDS, default 5].")
    var rateUploadMaxWaitSeconds: Double?

    @Option(help: "Largest upload in bytes [AURORA_GATEWAY_MAX_UPLOAD_BYTES, default 10 GiB].")
    var maxUploadBytes: Int?

    @Option(help: "Analyze uploads in progress at once; more are refused [AURORA_GATEWAY_MAX_UPLOADS, default 32].")
    var maxUploads: Int?

    @Option(help: "Analyze uploads in progress at once per user; more are refused [AURORA_GATEWAY_MAX_UPLOADS_PER_USER, default 4].")
    var maxUploadsPerUser: Int?

    @Option(help: "Seconds an upload may send nothing before it is ended [AURORA_UPLOAD_IDLE_SECONDS, default 30].")
    var uploadIdleSeconds: Int?

    @Option(help: "Connections one peer address may hold [AURORA_GATEWAY_MAX_CONNECTIONS_PER_PEER, default 256].")
    var maxConnectionsPerPeer: Int?

    @Option(help: "Concurrent calls per connection [AURORA_GATEWAY_MAX_STREAMS, default 100].")
    var maxStreams: Int?

    @Option(help: "Connections to each internal service [AURORA_GATEWAY_UPSTREAM_CONNECTIONS, default 4].")
    var upstreamConnections: Int?

    @Option(help: "Seconds in-flight calls get to finish on shutdown [AURORA_DRAIN_SECONDS, default 25].")
    var drainSeconds: Int?

    @Option(help: "trace, debug, info, notice, warning, error or critical [AURORA_LOG_LEVEL, default info].")
    var logLevel: String?

    @OptionGroup(title: "Admin port")
    var admin: AdminOptions

    func run() async throws {
        // Before any metric exists: metrics made earlier would report to no registry.
        let registry = Daemon.bootstrapMetrics()
        let logger = try Daemon.logger(label: "aurora.gateway", level: Daemon.setting(self.logLevel, env: "AURORA_LOG_LEVEL", default: "info"))
        let secret = try Daemon.internalSecret(file: self.internalSecretFile)
        let keys = try await self.tokens.load()
        let policy = try self.tokens.policy()
        var service = GatewayService.Configuration()
        service.calls = RateLimiter.Limit(
            rate: try Daemon.setting(self.rateCalls, env: "AURORA_RATE_CALLS", default: 20),
            burst: try Daemon.setting(self.rateCallsBurst, env: "AURORA_RATE_CALLS_BURST", default: 40))
        service.uploadBytes = RateLimiter.Limit(
            rate: try Daemon.setting(self.rateUploadBytes, env: "AURORA_RATE_UPLOAD_BYTES", default: 64 * 1024 * 1024),
            burst: try Daemon.setting(self.rateUploadBurst, env: "AURORA_RATE_UPLOAD_BURST", default: 256 * 1024 * 1024))
        let maximumWait = try Daemon.setting(self.rateUploadMaxWaitSeconds, env: "AURORA_RATE_UPLOAD_MAX_WAIT_SECONDS", default: 5)
        guard maximumWait >= 0 && maximumWait <= 600 else { throw ValidationError("rate-upload-max-wait-seconds must be 0 to 600") }
        service.maximumThrottle = .milliseconds(Int64(maximumWait * 1000))
        service.maximumUploadBytes = try Daemon.setting(self.maxUploadBytes, env: "AURORA_GATEWAY_MAX_UPLOAD_BYTES", default: 10 << 30)
        let reloadSeconds = try Daemon.setting(self.keysReloadSeconds, env: "AURORA_JWT_RELOAD_SECONDS", default: 5)
        let upstreamConnections = try Daemon.setting(self.upstreamConnections, env: "AURORA_GATEWAY_UPSTREAM_CONNECTIONS", default: 4)
        service.uploads = .init(
            total: try Daemon.setting(self.maxUploads, env: "AURORA_GATEWAY_MAX_UPLOADS", default: 32),
            perUser: try Daemon.setting(self.maxUploadsPerUser, env: "AURORA_GATEWAY_MAX_UPLOADS_PER_USER", default: 4))
        let uploadIdleSeconds = try Daemon.setting(self.uploadIdleSeconds, env: "AURORA_UPLOAD_IDLE_SECONDS", default: 30)
        guard service.maximumUploadBytes > 0, reloadSeconds > 0, upstreamConnections > 0, service.uploads.total > 0,
            service.uploads.perUser > 0, uploadIdleSeconds > 0
        else {
            throw ValidationError(
                "max-upload-bytes, keys-reload-seconds, upstream-connections, max-uploads, max-uploads-per-user and upload-idle-seconds must be positive")
        }

        var client = RPCClient.Configuration()
        client.connection.credential = secret
        client.connection.clientName = "aurora-gateway"
        client.maxConnections = upstreamConnections
        let parserAddress = try Self.address(Daemon.setting(self.parser, env: "AURORA_PARSER_ADDRESS", default: "127.0.0.1:7102"), "parser")
        let learningAddress = try Self.address(Daemon.setting(self.learning, env: "AURORA_LEARNING_ADDRESS", default: "127.0.0.1:7103"), "learning")
        let parser = RPCClient(host: parserAddress.host, port: parserAddress.port, configuration: client, logger: logger)
        let learning = RPCClient(host: learningAddress.host, port: learningAddress.port, configuration: client, logger: logger)

        let authenticator = GatewayAuthenticator(verifier: TokenVerifier(keys: keys, policy: policy), logger: logger)
        let reloader = KeySetReloader(
            path: try self.tokens.keysPath(), signingKID: Daemon.optionalSetting(self.tokens.signingKid, env: "AURORA_JWT_SIGNING_KID"),
            policy: policy, authenticator: authenticator, interval: .seconds(reloadSeconds), logger: logger)
        var router = Router()
        GatewayService(configuration: service, parser: parser, learning: learning, internalSecret: secret, logger: logger).register(into: &router)
        var connection = ServerConnectionConfiguration()
        connection.maxConcurrentStreams = try Daemon.setting(self.maxStreams, env: "AURORA_GATEWAY_MAX_STREAMS", default: 100)
        connection.drainTimeout = .seconds(try Daemon.setting(self.drainSeconds, env: "AURORA_DRAIN_SECONDS", default: 25))
        connection.uploadIdleTimeout = .seconds(uploadIdleSeconds)
        var configuration = RPCServer.Configuration(
            host: try Daemon.setting(self.host, env: "AURORA_GATEWAY_HOST", default: "127.0.0.1"),
            port: try Daemon.setting(self.port, env: "AURORA_GATEWAY_PORT", default: 7101),
            connection: connection, serverName: "aurora-gateway")
        configuration.maxConnectionsPerPeer = try Daemon.setting(self.maxConnectionsPerPeer, env: "AURORA_GATEWAY_MAX_CONNECTIONS_PER_PEER", default: 256)
        let server = RPCServer(configuration: configuration, router: router, authenticator: authenticator, logger: logger)
        let readiness = Readiness()
        readiness.set(ready: true, reason: "serving")
        logger.notice(
            "gateway configured",
            metadata: [
                "kids": "\(keys.keys.keys.sorted().joined(separator: ","))", "calls": "\(service.calls)", "upload": "\(service.uploadBytes)",
                "parser": "\(parserAddress.host):\(parserAddress.port)", "learning": "\(learningAddress.host):\(learningAddress.port)",
            ])
        // The upstream clients come after the server in shutdown order: they close once it drained.
        try await Daemon.serve(
            server, name: "gateway", admin: self.admin, defaultAdminPort: 9101, metrics: registry, readiness: readiness, background: [parser, learning, reloader],
            logger: logger)
    }

    static func address(_ text: String, _ name: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            throw ValidationError("the \(name)-service address '\(text)' must be host:port")
        }
        return (String(text[..<colon]), port)
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Operator commands for user tokens.", subcommands: [Issue.self])

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sign a token for a user with the configured key; prints it.")

        @Option(help: "The user id (sub).")
        var user: String

        @Option(help: "Comma-separated scopes: analyze, feedback, admin.")
        var scopes: String = "analyze,feedback"

        @Option(help: "Lifetime: seconds, or a number with s, m, h or d (e.g. 12h).")
        var ttl: String = "12h"

        @Option(help: "Not valid before this many seconds from now (for tests of nbf).")
        var notBeforeIn: Int = 0

        @OptionGroup(title: "Tokens")
        var tokens: TokenOptions

        func run() async throws {
            guard let seconds = Self.seconds(self.ttl), seconds > 0 else { throw ValidationError("--ttl must be like 3600, 30m, 12h or 7d") }
            let scopes = self.scopes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let known: Set = ["analyze", "feedback", "admin"]
            guard !scopes.isEmpty, scopes.allSatisfy(known.contains) else { throw ValidationError("--scopes must be a comma-separated list of analyze, feedback, admin") }
            guard !self.user.isEmpty, self.user.utf8.count <= 256 else { throw ValidationError("--user must be 1 to 256 bytes") }
            let keys = try await self.tokens.load()
            let now = Date()
            let token = try await TokenIssuer.issue(
                keys: keys, policy: try self.tokens.policy(), user: self.user, scopes: scopes, ttl: seconds,
                notBefore: self.notBeforeIn == 0 ? nil : now.addingTimeInterval(TimeInterval(self.notBeforeIn)), now: now)
            print(token)
        }

        static func seconds(_ text: String) -> TimeInterval? {
            let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
            if let last = text.last, let unit = units[last], let value = Double(text.dropLast()) { return value * unit }
            return Double(text)
        }
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Operator commands for the token key set.", subcommands: [Generate.self])

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a new key to a key set file (created with mode 0600 if missing).",
            discussion: "To rotate: add a key, let gateways reload (new tokens are signed with it), remove the old key once its tokens have expired.")

        @Option(help: "The key set file.")
        var out: String

        @Option(help: "HS256 or EdDSA.")
        var alg: String = "EdDSA"

        @Option(help: "The key's id (default: alg and the current time).")
        var kid: String?

        func run() async throws {
            guard let algorithm = KeySet.Algorithm(rawValue: self.alg) else { throw ValidationError("--alg must be HS256 or EdDSA") }
            let kid = self.kid ?? "\(algorithm.rawValue.lowercased())-\(Int(Date().timeIntervalSince1970))"
            try KeyGenerator.append(KeyGenerator.entry(algorithm: algorithm, kid: kid), to: self.out)
            // Prove the file still loads before anyone relies on it.
            _ = try await KeySet.load(path: self.out)
            print(kid)
        }
    }
}
