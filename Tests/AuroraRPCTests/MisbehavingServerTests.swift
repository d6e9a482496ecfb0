import AuroraProtocol
import AuroraRPC
import AuroraWire
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// A server that completes the handshake and then goes silent: it reads everything and answers
/// nothing, as a hung process or a black-holed path would.
final class SilentServerHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = ByteBuffer
    private var welcomed = false
    /// When set, every CALL is answered with this MESSAGE body (and an OK status).
    let responseBody: [UInt8]?
    /// Where to note when the client closed the connection, as the event loop saw it.
    let closedAt: CloseTime?

    init(responseBody: [UInt8]? = nil, closedAt: CloseTime? = nil) {
        self.responseBody = responseBody
        self.closedAt = closedAt
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closedAt?.instant.withLock { $0 = ContinuousClock.now }
        context.fireChannelInactive()
    }

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

final class CloseTime: Sendable {
    let instant = Mutex<ContinuousClock.Instant?>(nil)
}

@Suite("Misbehaving servers")
struct MisbehavingServerTests {
    static func startServer(responseBody: [UInt8]? = nil, closedAt: CloseTime? = nil) async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addFrameDecoder(limits: .default)
                    try channel.pipeline.syncOperations.addHandler(SilentServerHandler(responseBody: responseBody, closedAt: closedAt))
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
        let closedAt = CloseTime()
        let server = try await Self.startServer(closedAt: closedAt)
        let connection = try await connect(server.localAddress!.port!) { $0.keepaliveInterval = .milliseconds(100) }
        let start = ContinuousClock.now
        let error = await #expect(throws: RPCError.self) {
            _ = try await withTimeout(.seconds(10)) {
                try await connection.unary(Diagnostics.echo, echoRequest("anyone there?"))
            }
        }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("keepalive") == true, "\(String(describing: error))")
        // A few 100 ms intervals. Timed where the server's event loop sees the close, not where
        // this task resumes: other suites' CPU-bound work can hold the cooperative threads for
        // seconds (11 s once, in a full run).
        // The server's event loop may see the close after this task resumes (it did once in CI):
        // wait for it; the instant it records does not depend on when this reads it.
        try? await withTimeout(.seconds(10)) { while closedAt.instant.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(10)) } }
        let closed = closedAt.instant.withLock { $0 }
        #expect(closed.map { $0 - start < .seconds(2) } == true, "closed after \(closed.map { $0 - start }.debugDescription)")
        #expect(!connection.isUsable)
        try await server.close()
    }
}
