import AuroraGateway
import AuroraParserService
import AuroraProtocol
import AuroraRPC
import CLibFuzzer
import Foundation
import FuzzSupport
import Logging
import NIOCore
import SwiftProtobuf

/// Runs arbitrary calls through the gateway's real handlers in process. The parser-service behind
/// it is real too (in this process, over loopback TCP); the learning-service is a stand-in that
/// answers every call with an empty response, so what is fuzzed is the gateway's own admission,
/// validation, orchestration and error translation. Refusals are expected; a crash, trap or hang
/// is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGateway(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    quietLogging
    var input = FuzzInput(data, size)
    let router = GatewayFuzzState.router
    let method = input.pick(router.methodNames)
    var requests: [[UInt8]] = []
    if method == GatewayAPI.analyze.name && input.byte() & 1 == 1 {
        // A well-formed upload: the start message, then the file in chunks.
        var start = Aurora_Gateway_V1_AnalyzeUpload()
        start.start.domain = String(decoding: input.chunk(), as: UTF8.self)
        start.start.read.delimiter = input.pick(["", ",", ";", "\t"])
        requests.append((try? start.serializedBytes()) ?? [])
        while !input.isEmpty {
            var chunk = Aurora_Gateway_V1_AnalyzeUpload()
            chunk.data = Data(input.chunk())
            requests.append((try? chunk.serializedBytes()) ?? [])
        }
    } else {
        while !input.isEmpty { requests.append(input.chunk()) }
    }
    let frozen = requests
    runBlocking {
        _ = try? await router.callInProcess(
            method: method, requests: frozen, principal: Principal(id: "fuzz-user", scopes: ["admin"]))
    }
    return 0
}

/// Answers every unary call with an empty message (every field at its default).
struct EmptyLearningService: RPCCaller {
    func unary(method: String, request: [UInt8], options: CallOptions) async throws -> ByteBuffer { ByteBuffer() }
    func openStream(method: String, options: CallOptions, first: [UInt8]?, endAfterFirst: Bool) async throws -> ClientStreamHandle {
        throw RPCError(.unimplemented, "the learning-service stand-in has no streaming methods")
    }
}

enum GatewayFuzzState {
    static let secret = String(repeating: "fuzz-secret-", count: 4)

    /// The gateway's router, with a parser-service started once for the whole run.
    static let router: Router = {
        var parserRouter = Router()
        ParserService(configuration: .init()).register(into: &parserRouter)
        let parserServer = RPCServer(
            configuration: .init(port: 0), router: parserRouter, authenticator: SharedSecretAuthenticator(secret: secret),
            logger: Logger(label: "fuzz.parser-service"))
        Task { try await parserServer.run() }
        let bound = PortBox()
        runBlocking { bound.port = (try? await parserServer.listeningAddress.port) ?? 0 }
        let port = bound.port
        var client = RPCClient.Configuration()
        client.connection.credential = secret
        let parser = RPCClient(host: "127.0.0.1", port: port, configuration: client)
        var configuration = GatewayService.Configuration()
        // Rate limits would refuse nearly every call after the first second; the limiter itself is
        // exercised by its own tests.
        configuration.calls = .init(rate: 1e12, burst: 1e12)
        configuration.uploadBytes = .init(rate: 1e15, burst: 1e15)
        var router = Router()
        GatewayService(configuration: configuration, parser: parser, learning: EmptyLearningService(), internalSecret: secret, logger: Logger(label: "fuzz.gateway"))
            .register(into: &router)
        return router
    }()
}

/// The parser-service's port, handed out of the task that waits for it to bind.
final class PortBox: @unchecked Sendable {
    var port = 0
}

#if FUZZING
/// libFuzzer's entry point (SwiftPM links executables with `--defsym main=GatewayFuzz_main`).
@_cdecl("GatewayFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzGateway)
}
#else
/// Without libFuzzer: replays the corpus given as arguments.
@main
struct GatewayFuzzReplay {
    static func main() throws { try replayCorpus(Array(CommandLine.arguments.dropFirst()), through: fuzzGateway) }
}
#endif
