import AuroraDiagnostics
import AuroraGateway
import AuroraLearning
import AuroraParserService
import AuroraProtocol
import AuroraRPC
import Foundation
import Logging
import SwiftProtobuf
import Testing

/// Protocol/SPEC.md and the schemas are what an outside client author has: what they state is
/// what the servers do.
@Suite("the spec and the servers agree")
struct SpecConformanceTests {
    static let protocolDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Protocol")
    static var spec: String { get throws { try String(contentsOf: Self.protocolDirectory.appendingPathComponent("SPEC.md"), encoding: .utf8) } }

    struct Declared: Equatable, CustomStringConvertible {
        var shape: CallShape
        var request: String
        var response: String
        var description: String { "\(self.shape) \(self.request) → \(self.response)" }
    }

    /// Every `rpc` of every `service` block under Protocol/schemas, by full method name.
    static func declaredMethods() throws -> [String: Declared] {
        var methods: [String: Declared] = [:]
        let schemas = Self.protocolDirectory.appendingPathComponent("schemas")
        let files = FileManager.default.enumerator(at: schemas, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL }.filter { $0.pathExtension == "proto" } ?? []
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            guard let package = text.firstMatch(of: /\npackage ([\w.]+);/)?.output.1 else { continue }
            func qualified(_ type: Substring) -> String { type.contains(".") ? String(type) : "\(package).\(type)" }
            for service in text.matches(of: /\nservice (\w+) \{([^}]*)\}/) {
                for rpc in service.output.2.matches(of: /rpc (\w+)\((stream )?([\w.]+)\) returns \((stream )?([\w.]+)\);/) {
                    let shape: CallShape =
                        switch (rpc.output.2 != nil, rpc.output.4 != nil) {
                        case (false, false): .unary
                        case (true, false): .clientStreaming
                        case (false, true): .serverStreaming
                        case (true, true): .bidirectional
                        }
                    methods["\(package).\(service.output.1)/\(rpc.output.1)"] = Declared(shape: shape, request: qualified(rpc.output.3), response: qualified(rpc.output.5))
                }
            }
        }
        return methods
    }

    static func described<Request, Response>(_ method: Method<Request, Response>) -> (String, Declared) {
        (method.name, Declared(shape: method.shape, request: Request.protoMessageName, response: Response.protoMessageName))
    }

    /// The method descriptors the Swift code calls and serves with.
    static let implemented: [(String, Declared)] = [
        described(ParserAPI.profile),
        described(LearningAPI.recommend), described(LearningAPI.feedback), described(LearningAPI.listRules),
        described(LearningAPI.disableRule), described(LearningAPI.forget), described(LearningAPI.stats),
        described(GatewayAPI.analyze), described(GatewayAPI.recommend), described(GatewayAPI.feedback), described(GatewayAPI.rules),
        described(GatewayAPI.disableRule), described(GatewayAPI.forget), described(GatewayAPI.stats),
        described(Diagnostics.echo), described(Diagnostics.upload), described(Diagnostics.download),
    ]

    @Test func everyServedMethodIsDeclaredInTheSchemasWithItsShapeAndMessages() throws {
        let declared = try Self.declaredMethods()
        #expect(declared.count == Self.implemented.count, "declared: \(declared.keys.sorted())")
        for (name, method) in Self.implemented {
            #expect(declared[name] == method, "\(name): the schema says \(declared[name].map(\.description) ?? "nothing"), the code \(method)")
        }
        // The servers register exactly the declared methods of their service.
        let client = RPCClient(host: "127.0.0.1", port: 1)
        var gateway = Router()
        GatewayService(configuration: .init(), parser: client, learning: client, internalSecret: "x", logger: Logger(label: "test")).register(into: &gateway)
        var parser = Router()
        ParserService(configuration: .init()).register(into: &parser)
        var diagnostics = Router()
        Diagnostics.register(into: &diagnostics)
        for (router, prefix) in [(gateway, "aurora.gateway.v1.Gateway/"), (parser, "aurora.parser.v1.ParserService/"), (diagnostics, "aurora.diag.v1.Diagnostics/")] {
            #expect(router.methodNames == declared.keys.filter { $0.hasPrefix(prefix) }.sorted())
        }
    }

    @Test func theSpecListsExactlyTheActions() throws {
        let spec = try Self.spec
        let paragraph = try #require(spec.firstMatch(of: /every Recommendation uses:\n\n([^\n]+(\n[^\n]+)*)/)?.output.1)
        let listed = paragraph.matches(of: /`([a-z_]+)`/).map { String($0.output.1) }
        #expect(listed == Action.allCases.map(\.rawValue))
    }

    /// The `| Limit | Default |` rows of the spec's limits table, by name.
    static func specLimits() throws -> [String: Int] {
        let spec = try Self.spec
        let table = try #require(spec.firstMatch(of: /## 11\. Limits\n(?<body>[\s\S]*?)\n## 12/)?.output.body)
        var limits: [String: Int] = [:]
        for row in table.matches(of: /\n\| `(\w+)`[^|]*\| ([\d,]+)/) {
            limits[String(row.output.1)] = Int(row.output.2.filter(\.isNumber))
        }
        return limits
    }

    @Test func theSpecsLimitsAreTheDefaults() throws {
        let limits = try Self.specLimits()
        let defaults = ServerConnectionConfiguration()
        #expect(limits["max_frame_bytes"] == defaults.wire.maxFrameBytes)
        #expect(limits["max_message_bytes"] == defaults.wire.maxMessageBytes)
        #expect(limits["max_concurrent_streams"] == defaults.maxConcurrentStreams)
        #expect(limits["max_metadata_bytes"] == defaults.maxMetadataBytes)
        #expect(limits["idle_timeout_ms"] != nil)
    }
}

/// The same, against the real daemons: what the gateway announces and refuses is what the spec
/// states, and each daemon's default settings (from `--help`) are the spec's numbers.
extension LearningServiceTests.EndToEndTests {
    static func help(_ system: LocalSystem, _ binary: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = system.binaries.appendingPathComponent(binary)
        process.arguments = arguments + ["--help"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: #"\s+"#, with: " ", options: .regularExpression)
    }

    @Test func theGatewayAnnouncesAndEnforcesWhatTheSpecStates() async throws {
        let system = try await LocalSystem.start()
        defer { system.stop() }
        let spec = try SpecConformanceTests.spec
        let limits = try SpecConformanceTests.specLimits()

        // WELCOME announces the spec's limits.
        var configuration = ClientConfiguration()
        configuration.credential = try await system.token(user: "spec-\(UUID().uuidString)")
        let connection = try await RPCConnection.connect(host: "127.0.0.1", port: system.ports["gateway"]!, configuration: configuration)
        let announced = connection.announcedLimits
        #expect(Int(announced.maxFrameBytes) == limits["max_frame_bytes"])
        #expect(Int(announced.maxMessageBytes) == limits["max_message_bytes"])
        #expect(Int(announced.maxConcurrentStreams) == limits["max_concurrent_streams"])
        #expect(Int(announced.maxMetadataBytes) == limits["max_metadata_bytes"])
        #expect(Int(announced.idleTimeoutMs) == limits["idle_timeout_ms"])

        // Tokens: over 8,192 bytes UNAUTHENTICATED, a credential over 16,384 PROTOCOL_ERROR.
        #expect(spec.contains("a token over 8,192 bytes: GOAWAY UNAUTHENTICATED"))
        for (size, code, words) in [(8193, StatusCode.unauthenticated, "longer than 8192 bytes"), (16_385, .unavailable, "over its size limit")] {
            var oversized = ClientConfiguration()
            oversized.credential = String(repeating: "a", count: size)
            do {
                _ = try await RPCConnection.connect(host: "127.0.0.1", port: system.ports["gateway"]!, configuration: oversized)
                Issue.record("a \(size)-byte credential was accepted")
            } catch let error as RPCError {
                #expect(error.code == code && error.message.lowercased().contains(words), "\(size) bytes: \(error)")
                if size > 16_384 { #expect(error.details["goaway"] == "PROTOCOL_ERROR", "\(error.details)") }
            }
        }

        // A column reference that names no column is NOT_FOUND; an unknown action INVALID_ARGUMENT
        // listing the spec's actions; a domain over 64 bytes INVALID_ARGUMENT.
        let token = configuration.credential
        let path = system.directory.appendingPathComponent("spec.csv").path
        try Data(SimilarFiles.customers(seed: 4).utf8).write(to: URL(fileURLWithPath: path))
        let analysis = try system.aurora(["analyze", path, "--json"], token: token)
        let id = (try JSONSerialization.jsonObject(with: Data(analysis.output.utf8)) as? [String: Any])?["analysis_id"] as? String ?? ""
        func feedback(_ column: String, _ action: String) async -> RPCError? {
            var request = Aurora_Gateway_V1_FeedbackRequest()
            request.analysisID = id
            var verdict = Aurora_Gateway_V1_ColumnVerdict()
            verdict.column = column
            verdict.action = action
            request.verdicts = [verdict]
            do {
                _ = try await connection.unary(GatewayAPI.feedback, request)
                return nil
            } catch {
                return error as? RPCError
            }
        }
        #expect(await feedback("no such column", "keep")?.code == .notFound)
        #expect(await feedback("17", "keep")?.code == .notFound)
        let unknown = await feedback("income", "normalize")
        #expect(unknown?.code == .invalidArgument && Action.allCases.allSatisfy { unknown?.message.contains($0.rawValue) == true }, "\(String(describing: unknown))")
        var recommend = Aurora_Learning_V1_RecommendRequest()
        recommend.batch.domain = String(repeating: "d", count: 65)
        await #expect(throws: RPCError.self) { _ = try await connection.unary(GatewayAPI.recommend, recommend) }
        await connection.close()

        // The defaults the daemons run with are the spec's numbers.
        let gateway = try Self.help(system, "gateway", ["serve"])
        for (setting, value) in [
            ("AURORA_RATE_CALLS", "20"), ("AURORA_RATE_CALLS_BURST", "40"), ("AURORA_RATE_UPLOAD_BYTES", "67108864"),
            ("AURORA_RATE_UPLOAD_BURST", "268435456"), ("AURORA_RATE_UPLOAD_MAX_WAIT_SECONDS", "5"),
            ("AURORA_GATEWAY_MAX_UPLOADS_PER_USER", "4"), ("AURORA_GATEWAY_MAX_UPLOADS", "32"),
            ("AURORA_GATEWAY_MAX_UPLOAD_BYTES", "10 GiB"), ("AURORA_GATEWAY_MAX_STREAMS", "100"),
            ("AURORA_GATEWAY_MAX_CONNECTIONS_PER_PEER", "256"), ("AURORA_UPLOAD_IDLE_SECONDS", "30"),
            ("AURORA_JWT_ISSUER", "aurora"), ("AURORA_JWT_AUDIENCE", "aurora-gateway"), ("AURORA_JWT_LEEWAY_SECONDS", "30"),
        ] {
            #expect(gateway.contains("[\(setting), default \(value)]") || gateway.contains("\(setting), default \(value)"), "gateway --help: \(setting) is not \(value)")
            #expect(spec.contains("`\(setting)`"), "SPEC.md does not name \(setting)")
        }
        let parser = try Self.help(system, "parser-service", [])
        for (setting, value) in [("AURORA_PARSER_MAX_FIELD_BYTES", "1 MiB"), ("AURORA_PARSER_MAX_ROW_BYTES", "8 MiB"), ("AURORA_PARSER_MAX_COLUMNS", "4096")] {
            #expect(parser.contains("\(setting), default \(value)"), "parser-service --help: \(setting) is not \(value)")
            #expect(spec.contains("`\(setting)`"))
        }
        let learning = try Self.help(system, "learning-service", [])
        for (setting, value) in [("AURORA_EPSILON", "4"), ("AURORA_EPSILON_BUDGET", "40000"), ("AURORA_ANALYSIS_LIFETIME_HOURS", "168")] {
            #expect(learning.contains("\(setting), default \(value)]"), "learning-service --help: \(setting) is not \(value)")
            #expect(spec.contains("`\(setting)`"))
        }
    }
}
