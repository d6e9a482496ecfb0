import AuroraGateway
import AuroraProtocol
import AuroraRPC
import Foundation
import Testing

/// The three daemons as real processes (the binaries built next to the tests), on ports chosen for
/// this run, against the test PostgreSQL; their logs go to files that tests can search.
final class LocalSystem: @unchecked Sendable {
    let directory: URL
    let binaries: URL
    let databaseURL: String
    let secretFile: URL
    let keysFile: URL
    let pseudonymKeysFile: URL
    var ports: [String: Int] = [:]
    var adminPorts: [String: Int] = [:]
    var processes: [String: Process] = [:]
    var keys: KeySet!
    let policy = TokenPolicy()

    static let names = ["parser-service", "learning-service", "gateway"]

    init() throws {
        guard let url = ProcessInfo.processInfo.environment["AURORA_TEST_DATABASE_URL"] else {
            Issue.record("AURORA_TEST_DATABASE_URL is not set: run the tests through Deploy/scripts/test.sh, which starts PostgreSQL")
            throw CancellationError()
        }
        self.databaseURL = url
        let test = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [test, test.deletingLastPathComponent(), test.deletingLastPathComponent().deletingLastPathComponent()]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent("gateway").path) }) else {
            Issue.record("the daemons were not built next to the tests (\(candidates)); run `swift build --build-tests` first")
            throw CancellationError()
        }
        self.binaries = found
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("aurora-e2e-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        self.secretFile = self.directory.appendingPathComponent("internal-secret")
        try Data((0..<48).map { _ in UInt8.random(in: 97...122) }).write(to: self.secretFile)
        self.keysFile = self.directory.appendingPathComponent("jwks.json")
        self.pseudonymKeysFile = self.directory.appendingPathComponent("pseudonym-keys")
        try Data("k1 \(Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString())\n".utf8).write(to: self.pseudonymKeysFile)
        try KeyGenerator.append(KeyGenerator.entry(algorithm: .eddsa, kid: "ed-1"), to: self.keysFile.path)
        try KeyGenerator.append(KeyGenerator.entry(algorithm: .hs256, kid: "hs-1"), to: self.keysFile.path)
        for name in Self.names { self.ports[name] = try Self.freePort() }
    }

    /// Starts all three daemons and waits until each serves.
    static func start(gatewayEnvironment: [String: String] = [:]) async throws -> LocalSystem {
        let system = try LocalSystem()
        system.keys = try await KeySet.load(path: system.keysFile.path)
        try await system.launch("parser-service")
        try await system.launch("learning-service")
        try await system.launch("gateway", extra: gatewayEnvironment)
        return system
    }

    func environment(_ name: String) -> [String: String] {
        var environment = ["AURORA_INTERNAL_SECRET_FILE": self.secretFile.path, "AURORA_LOG_LEVEL": "debug", "AURORA_ADMIN_PORT": "0"]
        environment["PATH"] = ProcessInfo.processInfo.environment["PATH"]
        switch name {
        case "parser-service":
            environment["AURORA_PARSER_PORT"] = "\(self.ports[name]!)"
        case "learning-service":
            environment["AURORA_LEARNING_PORT"] = "\(self.ports[name]!)"
            environment["AURORA_DATABASE_URL"] = self.databaseURL
            environment["AURORA_PSEUDONYM_KEY_FILE"] = self.pseudonymKeysFile.path
            // Cross-user rules would make each test depend on the users earlier runs left in the
            // database: ask for more agreeing users than any run creates.
            environment["AURORA_K_ANONYMITY"] = "1000000"
            // These tests check the flow (corrections become a rule that drives the next analysis),
            // not learning under heavy noise: at the default ε = 4, a rare draw blurs the three
            // corrections of a 400-row file enough that no rule forms (seen once in CI). The
            // learning-curve tests and Deploy/bench/simulate.sh measure learning at the default.
            environment["AURORA_EPSILON"] = "64"
        default:
            environment["AURORA_GATEWAY_PORT"] = "\(self.ports[name]!)"
            environment["AURORA_PARSER_ADDRESS"] = "127.0.0.1:\(self.ports["parser-service"]!)"
            environment["AURORA_LEARNING_ADDRESS"] = "127.0.0.1:\(self.ports["learning-service"]!)"
            environment["AURORA_JWT_KEYS_FILE"] = self.keysFile.path
            environment["AURORA_JWT_RELOAD_SECONDS"] = "1"
        }
        return environment
    }

    func log(_ name: String) -> URL { self.directory.appendingPathComponent("\(name).log") }

    /// Starts one daemon (again) on its port; its log is appended to.
    func launch(_ name: String, extra: [String: String] = [:]) async throws {
        let ready = self.directory.appendingPathComponent("\(name).ready")
        try? FileManager.default.removeItem(at: ready)
        let process = Process()
        process.executableURL = self.binaries.appendingPathComponent(name)
        process.environment = self.environment(name).merging(extra) { $1 }.merging(["AURORA_READY_FILE": ready.path]) { $1 }
        if !FileManager.default.fileExists(atPath: self.log(name).path) { FileManager.default.createFile(atPath: self.log(name).path, contents: nil) }
        let output = try FileHandle(forWritingTo: self.log(name))
        output.seekToEndOfFile()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        self.processes[name] = process
        let deadline = ContinuousClock.now + .seconds(60)
        while !FileManager.default.fileExists(atPath: ready.path) {
            guard process.isRunning else {
                let log = (try? String(contentsOf: self.log(name), encoding: .utf8)) ?? ""
                Issue.record("\(name) exited during start-up: \(log.suffix(2000))")
                throw CancellationError()
            }
            guard ContinuousClock.now < deadline else {
                Issue.record("\(name) did not become ready within 60 s")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let bound = try JSONSerialization.jsonObject(with: Data(contentsOf: ready)) as? [String: Int]
        self.adminPorts[name] = bound?["admin_port"]
    }

    /// A daemon's Prometheus metrics, read from its admin port.
    func metrics(_ name: String) throws -> String {
        try Self.adminGet("/metrics", port: self.adminPorts[name] ?? 0)
    }

    /// The whole response (status line, headers, body) to a GET over plain HTTP/1.0 on a local port.
    static func adminGet(_ path: String, port: Int) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { throw CancellationError() }
        let request = Array("GET \(path) HTTP/1.0\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        return String(decoding: response, as: UTF8.self)
    }

    func kill(_ name: String, signal: Int32 = SIGKILL) {
        guard let process = self.processes[name], process.isRunning else { return }
        Foundation.kill(process.processIdentifier, signal)
        process.waitUntilExit()
    }

    func stop() {
        for name in Self.names.reversed() { self.kill(name, signal: SIGTERM) }
        try? FileManager.default.removeItem(at: self.directory)
    }

    var logs: String {
        Self.names.map { (try? String(contentsOf: self.log($0), encoding: .utf8)) ?? "" }.joined(separator: "\n")
    }

    func token(user: String, scopes: [String] = ["analyze", "feedback"], ttl: TimeInterval = 3600, notBefore: Date? = nil, now: Date = Date()) async throws -> String {
        try await TokenIssuer.issue(keys: self.keys, policy: self.policy, user: user, scopes: scopes, ttl: ttl, notBefore: notBefore, now: now)
    }

    /// A client of the gateway presenting `token`.
    func client(token: String) -> RPCClient {
        var configuration = RPCClient.Configuration(maxConnections: 1, maxConnectAttempts: 1)
        configuration.connection.credential = token
        return RPCClient(host: "127.0.0.1", port: self.ports["gateway"]!, configuration: configuration)
    }

    /// Runs the `aurora` CLI against the gateway; returns exit status, stdout and stderr.
    func aurora(_ arguments: [String], token: String) throws -> (status: Int32, output: String, errors: String) {
        let process = Process()
        process.executableURL = self.binaries.appendingPathComponent("aurora")
        process.arguments = arguments
        process.environment = [
            "AURORA_GATEWAY": "127.0.0.1:\(self.ports["gateway"]!)", "AURORA_TOKEN": token,
            "AURORA_CONFIG": self.directory.appendingPathComponent("cli.json").path,
        ]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    /// A port nothing listens on now (bound and released; the daemons bind it with SO_REUSEADDR).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0 else { throw CancellationError() }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// CSV files with the same kinds of columns and different values.
enum SimilarFiles {
    /// id (identifier), income (positive, right-skewed), segment (categorical), score (symmetric).
    static func customers(seed: UInt64, rows: Int = 400, canary: String? = nil, incomeName: String = "income") -> String {
        var random = SeededRandomGenerator(seed: seed)
        var lines = ["customer_id,\(incomeName),segment,score"]
        let segments = ["retail", "smb", "enterprise", "public"]
        for row in 0..<rows {
            let u = Double(random.next() % 1_000_000 + 1) / 1_000_001
            let income = (20_000 * exp(1.2 * sqrt(-2 * log(u)) * cos(Double(random.next() % 6283) / 1000))).rounded()
            let segment = canary.map { row % 7 == 0 ? $0 : segments[Int(random.next() % 4)] } ?? segments[Int(random.next() % 4)]
            let score = 50 + Double(Int(random.next() % 2000) - 1000) / 40
            lines.append("C\(seed)-\(row),\(income),\(segment),\(score)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
