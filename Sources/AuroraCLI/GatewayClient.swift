import ArgumentParser
import AuroraProtocol
import AuroraRPC
import Foundation

/// Where the gateway is and which token to present: flags, then AURORA_GATEWAY / AURORA_TOKEN,
/// then the config file `aurora login` writes.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "Gateway address host:port [AURORA_GATEWAY, then the login config, default 127.0.0.1:7101].")
    var gateway: String?

    @Option(help: "Access token (JWT) [AURORA_TOKEN, then the login config].")
    var token: String?

    @Option(help: "Seconds to wait for a reply (analyze waits for the whole upload instead).")
    var timeout: Int = 60

    func resolve() throws -> (host: String, port: Int, token: String) {
        let environment = ProcessInfo.processInfo.environment
        let saved = LoginConfig.load()
        let address = self.gateway ?? environment["AURORA_GATEWAY"].flatMap { $0.isEmpty ? nil : $0 } ?? saved?.gateway ?? "127.0.0.1:7101"
        let token = self.token ?? environment["AURORA_TOKEN"].flatMap { $0.isEmpty ? nil : $0 } ?? saved?.token
        guard let token else {
            throw CLIError(.auth, "no access token: run `aurora login --token TOKEN` (an operator issues one with `gateway token issue --user YOU`), or set AURORA_TOKEN")
        }
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port) else {
            throw ValidationError("the gateway address '\(address)' must be host:port")
        }
        return (String(address[..<colon]), port, token)
    }

    /// Runs `body` with a client connected to the gateway, and closes it afterwards.
    /// `file`: the file the call uploads, so that a refusal of its content is reported as a data
    /// error about it (exit 65) rather than as a bad option.
    func withClient<T>(file: String? = nil, _ body: (RPCClient) async throws -> T) async throws -> T {
        let (host, port, token) = try self.resolve()
        var configuration = RPCClient.Configuration(maxConnections: 1, maxConnectAttempts: 2)
        configuration.connection.credential = token
        configuration.connection.clientName = "aurora-cli"
        let client = RPCClient(host: host, port: port, configuration: configuration)
        do {
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw CLIError.from(error, gateway: "\(host):\(port)", file: file)
        }
    }

    var callOptions: CallOptions { CallOptions(timeout: .seconds(max(1, self.timeout))) }
}

/// What `aurora login` saves: `$AURORA_CONFIG`, else `$XDG_CONFIG_HOME/aurora/config.json`, else
/// `~/.config/aurora/config.json`, with mode 0600 (it holds a bearer token).
struct LoginConfig: Codable {
    var gateway: String
    var token: String

    static var path: String {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["AURORA_CONFIG"], !path.isEmpty { return path }
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.config")
        return base + "/aurora/config.json"
    }

    static func load() -> LoginConfig? {
        guard let data = FileManager.default.contents(atPath: Self.path) else { return nil }
        return try? JSONDecoder().decode(LoginConfig.self, from: data)
    }

    func save() throws {
        let path = Self.path
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: try encoder.encode(self), attributes: [.posixPermissions: 0o600]) else {
            throw CLIError(.failure, "cannot write \(temporary)")
        }
        guard chmod(temporary, 0o600) == 0, rename(temporary, path) == 0 else {
            throw CLIError(.failure, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// A failure explained for the user, with an exit status that scripts can act on.
struct CLIError: Error, CustomStringConvertible {
    enum Kind: Int32 {
        case failure = 1
        /// A bad option: an unknown column, analysis, rule or target (sysexits EX_USAGE).
        case usage = 64
        /// The input file cannot be read as a table (sysexits EX_DATAERR).
        case data = 65
        /// The service cannot be reached or is failing (EX_UNAVAILABLE).
        case unavailable = 69
        /// Try again later: rate limited (EX_TEMPFAIL).
        case retryLater = 75
        /// Token missing, expired, refused or lacking a scope (EX_NOPERM).
        case auth = 77
    }

    let kind: Kind
    let description: String

    init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    static func from(_ error: any Error, gateway: String, file: String? = nil) -> any Error {
        guard let error = error as? RPCError else { return error }
        let details = error.details.filter { !["goaway", "processed", "reason", "service"].contains($0.key) }
            .sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let context = details.isEmpty ? "" : " (\(details))"
        switch error.code {
        case .unauthenticated:
            return CLIError(.auth, "the gateway refused your token: \(error.message). \(Self.newTokenAdvice(gateway: gateway))")
        case .permissionDenied:
            return CLIError(.auth, "not allowed: \(error.message)")
        case .resourceExhausted where error.retryAfter != nil:
            let seconds = error.retryAfter.map { Double($0.components.seconds) + Double($0.components.attoseconds) * 1e-18 } ?? 1
            return CLIError(.retryLater, "rate limited: \(error.message). Retry in \(Self.wait(seconds)).")
        case .unavailable, .deadlineExceeded:
            // A service behind the gateway (named in `service`) is the operator's to mend; the
            // gateway itself unreachable is most often a wrong address.
            if error.details["service"] != nil { return CLIError(.unavailable, error.message) }
            return CLIError(
                .unavailable, "cannot reach the AURORA gateway at \(gateway): \(error.message). Check the address (--gateway, AURORA_GATEWAY) and that the gateway runs.")
        case .invalidArgument where error.message.hasPrefix("the target"):
            return CLIError(.usage, "--target: \(error.message)")
        case .invalidArgument, .outOfRange, .resourceExhausted, .failedPrecondition:
            // About the file when there is one; otherwise about what the options asked for.
            return CLIError(file == nil ? .usage : .data, "\(file.map { "\($0): " } ?? "")\(error.message)\(context)")
        case .notFound:
            return CLIError(.usage, "\(error.message)\(context)")
        default:
            return CLIError(.failure, "\(error.code): \(error.message)\(context)")
        }
    }
}

extension CLIError {
    /// Where a new token comes from, once, fitting the setup: a gateway on this machine is the
    /// user's own (Deploy/scripts/local.sh signs tokens); a remote one has an operator.
    static func newTokenAdvice(gateway: String) -> String {
        let host = gateway.hasPrefix("[") ? String(gateway.dropFirst().prefix { $0 != "]" }) : String(gateway.prefix { $0 != ":" })
        if ["127.0.0.1", "localhost", "::1"].contains(host) {
            return "This gateway runs on this machine: sign a new token with `Deploy/scripts/local.sh token YOU` (or `gateway token issue --user YOU`) and run `aurora login --token TOKEN`."
        }
        return "Ask whoever runs the gateway at \(gateway) for a new token, then run `aurora login --token TOKEN`."
    }
}

extension CLIError {
    /// A wait in a unit a person uses, rounded up (a retry sooner than the limiter allows is
    /// refused again): "1 s" at least, seconds up to two minutes, then minutes, then hours.
    static func wait(_ seconds: Double) -> String {
        let whole = max(1, Int(seconds.rounded(.up)))
        if whole < 120 { return "\(whole) s" }
        let minutes = Int((Double(whole) / 60).rounded(.up))
        if minutes < 120 { return "\(minutes) min" }
        return "\(Int((Double(whole) / 3600).rounded(.up))) h"
    }
}

/// Prints a CLIError and exits with its status (other errors go to ArgumentParser).
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as CLIError {
        FileHandle.standardError.write(Data("aurora: \(error.description)\n".utf8))
        throw ExitCode(error.kind.rawValue)
    }
}

enum JSONOutput {
    /// A Codable report (e.g. `AnalysisReport`), keys sorted, as the schema in Protocol/ names them.
    static func print<Value: Encodable>(_ value: Value) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        Swift.print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static func print(_ object: Any) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        Swift.print(String(decoding: data, as: UTF8.self))
    }
}
