import AuroraWire
import Foundation
import NIOCore
import NIOPosix
import SwiftProtobuf

/// A byte-level peer for misbehaving on purpose: writes whatever bytes it is given and collects
/// everything the server sends until the server closes the connection.
final class RawConnection: Sendable {
    private let channel: any Channel
    private let received: EventLoopFuture<ByteBuffer>

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var buffer = ByteBuffer()
        let done: EventLoopPromise<ByteBuffer>
        init(done: EventLoopPromise<ByteBuffer>) { self.done = done }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = Self.unwrapInboundIn(data)
            self.buffer.writeBuffer(&bytes)
        }
        func channelInactive(context: ChannelHandlerContext) { self.done.succeed(self.buffer) }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            // With half-closure allowed, the server closing shows up as end of input.
            if let event = event as? ChannelEvent, event == .inputClosed { self.done.succeed(self.buffer) }
        }
    }

    init(port: Int) async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let done = loop.makePromise(of: ByteBuffer.self)
        self.received = done.futureResult
        self.channel = try await ClientBootstrap(group: loop)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(done: done)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
    }

    /// Sends HELLO and waits for WELCOME, as the protocol requires before any other frame.
    func handshake() async throws {
        try await self.send(RawConnection.helloFrame())
        let channel = self.channel
        for _ in 0..<500 {
            let received = try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.handler(type: Collector.self).buffer
            }.get()
            var copy = received
            var decoder = FrameDecoder()
            if let frame = try decoder.decode(buffer: &copy) {
                guard frame.kind == .welcome else { throw WireError(.protocolError, "expected WELCOME, got \(frame.kind)") }
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw WireError(.handshakeTimeout, "no WELCOME")
    }

    func send(_ bytes: [UInt8]) async throws {
        try await self.channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
    }

    func send(_ frame: Frame) async throws {
        try await self.send(Array(FrameEncoder().encode(frame).readableBytesView))
    }

    /// Half-closes: the server sees end of input.
    func finishSending() async throws {
        try await self.channel.close(mode: .output).get()
    }

    /// Closes the socket without a word, as a client that vanishes does.
    func close() async {
        try? await self.channel.close().get()
    }

    /// The local port, to find this connection's socket on the server's side.
    var localPort: Int? { self.channel.localAddress?.port }

    /// Everything the server sent, as frames, once it has closed the connection.
    func framesUntilClosed(timeout: Duration = .seconds(10)) async throws -> [Frame] {
        // Closing the channel at the deadline completes `received`, so a silent server cannot hang the test.
        let channel = self.channel
        let deadline = channel.eventLoop.scheduleTask(in: .init(timeout)) { channel.close(promise: nil) }
        var buffer = try await self.received.get()
        deadline.cancel()
        channel.close(promise: nil)
        var decoder = FrameDecoder()
        var frames: [Frame] = []
        while let frame = try decoder.decode(buffer: &buffer) { frames.append(frame) }
        return frames
    }

    /// The GOAWAY code the server closed with, or nil if it closed without one.
    func goAwayCode() async throws -> WireError.Code? {
        let frames = try await self.framesUntilClosed()
        guard let frame = frames.last(where: { $0.kind == .goAway }) else { return nil }
        let goAway = try BodyCodec(limits: .default).decodeControl(frame, as: Aurora_Wire_V1_GoAway.self, allocator: ByteBufferAllocator())
        return WireError.Code(rawValue: goAway.code)
    }

    static func helloFrame(minVersion: UInt32 = 1, maxVersion: UInt32 = 1, credit: UInt32 = 16) throws -> Frame {
        var hello = Aurora_Wire_V1_Hello()
        hello.minVersion = minVersion
        hello.maxVersion = maxVersion
        hello.initialStreamCredit = credit
        hello.clientName = "raw-test"
        return try BodyCodec(limits: .default).frame(.hello, streamID: .connection, message: hello, allocator: ByteBufferAllocator())
    }

    static func frame(_ kind: FrameKind, stream: UInt32, flags: FrameFlags = [], _ message: (any SwiftProtobuf.Message)? = nil) throws -> Frame {
        guard let message else { return Frame(kind: kind, flags: flags, streamID: StreamID(stream)) }
        return try BodyCodec(limits: .default).frame(kind, streamID: StreamID(stream), flags: flags, message: message, allocator: ByteBufferAllocator())
    }
}
