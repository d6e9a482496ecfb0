import NIOCore

/// Outbound half of the codec: turns `Frame`s into bytes (see `FrameEncoder`).
public final class FrameEncoderHandler: ChannelOutboundHandler {
    public typealias OutboundIn = Frame
    public typealias OutboundOut = ByteBuffer

    private let encoder = FrameEncoder()

    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = Self.unwrapOutboundIn(data)
        var header = context.channel.allocator.buffer(capacity: Frame.prefixSize + Frame.headerSize + min(frame.body.readableBytes, FrameEncoder.copyThreshold))
        if self.encoder.encodeHeader(frame, into: &header) {
            context.write(Self.wrapOutboundOut(header), promise: promise)
        } else {
            context.write(Self.wrapOutboundOut(header), promise: nil)
            context.write(Self.wrapOutboundOut(frame.body), promise: promise)
        }
    }
}

@available(*, unavailable)
extension FrameEncoderHandler: Sendable {}

extension ChannelPipeline.SynchronousOperations {
    /// Adds the frame codec: a decoder that refuses oversized frames on their prefix (with a
    /// buffer cap as a second guard) and the encoder.
    public func addFrameCodec(limits: WireLimits) throws {
        try self.addHandler(ByteToMessageHandler(FrameDecoder(limits: limits), maximumBufferSize: limits.maxFrameBytes + 64 * 1024))
        try self.addHandler(FrameEncoderHandler())
    }
}
