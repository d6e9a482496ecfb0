import AuroraWire
import Logging
import NIOCore
import SwiftProtobuf

/// A connection's outbound side, shared by the client and server handlers: frames are appended
/// to one buffer (bodies compressed in place) and written once per flush, and writes coming from
/// tasks are flushed once per event-loop turn rather than once each.
///
/// Event-loop confined, like the handler that owns it.
final class ConnectionOutbound {
    private let context: ChannelHandlerContext
    let codec: BodyCodec
    private let logger: Logger
    private var writer: FrameWriter
    private var flushPending = false
    /// Set when the connection closes: nothing more is flushed.
    var closed = false

    init(context: ChannelHandlerContext, codec: BodyCodec, logger: Logger) {
        self.context = context
        self.codec = codec
        self.logger = logger
        self.writer = FrameWriter(allocator: context.channel.allocator)
    }

    /// Adds a frame whose body is already encoded (or empty).
    func enqueue(_ frame: Frame) {
        self.writer.append(frame)
        self.drainIfLarge()
    }

    /// Adds a MESSAGE frame; a payload that cannot be encoded is dropped (its size was checked
    /// by the sender, so this only happens on a bug) and logged.
    func message(_ id: StreamID, _ payload: [UInt8]) {
        do {
            try payload.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                try self.writer.append { try self.codec.appendFrame(.message, streamID: id, payload: raw, to: &$0) }
            }
            self.drainIfLarge()
        } catch {
            self.logger.debug("message not encoded", metadata: ["rpc.stream": "\(id)", "error": "\(error)"])
        }
    }

    /// Adds a control frame.
    func control(_ kind: FrameKind, streamID: StreamID = .connection, flags: FrameFlags = [], message: some SwiftProtobuf.Message) {
        do {
            try self.writer.append { try self.codec.appendFrame(kind, streamID: streamID, flags: flags, message: message, to: &$0) }
            self.drainIfLarge()
        } catch {
            self.logger.debug("control frame not encoded", metadata: ["kind": "\(kind)"])
        }
    }

    /// Flushes at the end of this event-loop turn, once however many frames were added.
    func scheduleFlush() {
        guard !self.flushPending, !self.closed else { return }
        self.flushPending = true
        self.context.eventLoop.assumeIsolated().execute { [self] in
            self.flushPending = false
            self.flushNow()
        }
    }

    /// Writes everything buffered and flushes the socket.
    func flushNow() {
        if let bytes = self.writer.take() {
            self.context.write(NIOAny(bytes), promise: nil)
        }
        self.context.flush()
    }

    /// Writes and flushes everything buffered; the future completes when it is on the wire.
    func flushAndWait() -> EventLoopFuture<Void> {
        guard let bytes = self.writer.take() else { return self.context.eventLoop.makeSucceededVoidFuture() }
        return self.context.writeAndFlush(NIOAny(bytes))
    }

    /// Hands a large outbound buffer to the channel without waiting for the flush.
    private func drainIfLarge() {
        if self.writer.pendingBytes >= FrameWriter.highWaterMark, let bytes = self.writer.take() {
            self.context.write(NIOAny(bytes), promise: nil)
        }
    }
}

@available(*, unavailable)
extension ConnectionOutbound: Sendable {}
