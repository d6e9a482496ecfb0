import AuroraProtocol
import AuroraRPC
import AuroraWire
import NIOCore
import NIOPosix
import Testing

/// A server that completes the handshake and then goes silent: it reads everything and answers
/// nothing, as a hung process or a black-holed path would.
final class SilentServerHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = ByteBuffer
    private var welcomed = false
    /// When set, every CALL is answered with this MESSAGE body (and an OK status).
    let responseBody: [UInt8]?

    init(responseBody: [UInt8]? = nil) { self.responseBody = responseBody }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        if self.welcomed, frame.kind == .call, let body = self.responseBody {
            var out = FrameEncoder().encode(Frame(kind: .message, streamID: frame.streamID, body: ByteBuffer(bytes: body)))
            var status = FrameEncoder().encode(Frame(kind: .status, streamID: frame.streamID))
            out.writeBuffer(&status)
            context.writeAndFlush(NIOAny(out), promise: nil)
        }
        guard !self.welcomed else { return }
        self.welcomed = true
        var welcome = Aurora_Wire_V1_Welcome()
        welcome.version = 1
        welcome.limits.maxConcurrentStreams = 10
        welcome.limits.initialStreamCredit = 4
        welcome.limits.maxFrameBytes = 1 << 20
        welcome.limits.maxMessageBytes = 1 << 20
        let reply = try! BodyCodec(limits: .default).frame(.welcome, streamID: .connection, message: welcome, allocator: context.channel.allocator)
        context.writeAndFlush(NIOAny(FrameEncoder().encode(reply)), promise: nil)
    }
}

@Suite("Misbehaving servers")
struct MisbehavingServerTests {
    static func startServer(responseBody: [UInt8]? = nil) async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addFrameDecoder(limits: .default)
                    try channel.pipeline.syncOperations.addHandler(SilentServerHandler(responseBody: responseBody))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    @Test func aResponseThatDoesNotDecodeClosesTheConnection() async throws {
        let server = try await Self.startServer(responseBody: Array("not zstd at all".utf8))
        let connection = try await connect(server.localAddress!.port!)
        let error = await #expect(throws: RPCError.self) {
            _ = try await connection.unary(Diagnostics.echo, echoRequest("hello"))
        }
        #expect(error?.code == .unavailable)
        #expect(error?.details["goaway"] == "COMPRESSION_ERROR")
        try await withTimeout(.seconds(5)) { while connection.isUsable { try await Task.sleep(for: .milliseconds(10)) } }
        try await server.close()
    }

    @Test func aServerThatStopsAnsweringIsDetected() async throws {
        let server = try await Self.startServer()
        let connection = try await connect(server.localAddress!.port!) { $0.keepaliveInterval = .milliseconds(100) }
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: RPCError.self) {
            _ = try await withTimeout(.seconds(10)) {
                try await connection.unary(Diagnostics.echo, echoRequest("anyone there?"))
            }
        }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("keepalive") == true, "\(String(describing: error))")
        // A few 100 ms intervals normally; the bound only has to tell the keepalive apart from
        // the 10 s timeout around the call (a loaded CI machine took 2.4 s once).
        #expect(clock.now - start < .seconds(5))
        #expect(!connection.isUsable)
        try await server.close()
    }
}
