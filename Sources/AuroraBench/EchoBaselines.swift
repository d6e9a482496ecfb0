import AuroraWire
import DequeModule
import NIOCore
import NIOPosix

/// The two references the RPC runtime is measured against: plain SwiftNIO length-prefixed echoes
/// with no multiplexing (responses come back in order on one pipelined connection). One sends raw
/// bytes; the other zstd-compresses every message with reused contexts, on both sides.
enum EchoBaseline: String, CaseIterable, Sendable {
    case raw
    case zstd
}

/// 4-byte big-endian length prefix, then the payload; refuses lengths over `max` on the prefix.
struct LengthPrefixDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let max: Int

    mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length <= self.max else { throw WireError(.frameTooLarge, "length \(length)") }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return buffer.readSlice(length: Int(length))
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
        try self.decode(buffer: &buffer)
    }
}

/// Server side of both baselines: echo each message; the zstd one inflates and deflates it.
final class EchoServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let kind: EchoBaseline
    private let compressor = ZstdCompressor()
    private let decompressor = ZstdDecompressor()

    init(kind: EchoBaseline) { self.kind = kind }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var message = Self.unwrapInboundIn(data)
        if self.kind == .zstd {
            do {
                let plain = try self.decompressor.decompress(message, useDictionary: false, maxBytes: 4 << 20)
                message = try self.compressor.compress(plain, level: 1, useDictionary: false)
            } catch {
                context.close(promise: nil)
                return
            }
        }
        var out = context.channel.allocator.buffer(capacity: 4 + message.readableBytes)
        out.writeInteger(UInt32(message.readableBytes))
        out.writeBuffer(&message)
        context.write(Self.wrapOutboundOut(out), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }
}

/// Client side: writes requests, matches responses to callers in order (no stream ids).
final class PipelinedClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = (ByteBuffer, EventLoopPromise<ByteBuffer>)
    typealias OutboundOut = ByteBuffer

    private var waiting = Deque<EventLoopPromise<ByteBuffer>>()

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var (payload, response) = Self.unwrapOutboundIn(data)
        self.waiting.append(response)
        var out = context.channel.allocator.buffer(capacity: 4 + payload.readableBytes)
        out.writeInteger(UInt32(payload.readableBytes))
        out.writeBuffer(&payload)
        context.write(Self.wrapOutboundOut(out), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.waiting.popFirst()?.succeed(Self.unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        while let promise = self.waiting.popFirst() { promise.fail(ChannelError.ioOnClosedChannel) }
    }
}

enum EchoBaselineServer {
    static func start(kind: EchoBaseline, host: String, port: Int, group: any EventLoopGroup) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LengthPrefixDecoder(max: 4 << 20)))
                    try channel.pipeline.syncOperations.addHandler(EchoServerHandler(kind: kind))
                }
            }
            .bind(host: host, port: port).get()
    }
}

/// One pipelined client connection; each caller task keeps its own zstd contexts.
final class EchoBaselineClient: Sendable {
    let channel: any Channel

    init(host: String, port: Int, group: any EventLoopGroup) async throws {
        self.channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LengthPrefixDecoder(max: 4 << 20)))
                    try channel.pipeline.syncOperations.addHandler(PipelinedClientHandler())
                }
            }
            .connect(host: host, port: port).get()
    }

    func call(_ payload: ByteBuffer) async throws -> ByteBuffer {
        let promise = self.channel.eventLoop.makePromise(of: ByteBuffer.self)
        self.channel.writeAndFlush((payload, promise), promise: nil)
        return try await promise.futureResult.get()
    }
}
