import NIOCore

extension ChannelPipeline.SynchronousOperations {
    /// Adds the inbound frame decoder: it refuses oversized frames on their prefix, with a
    /// buffer cap as a second guard. Outbound, connections append frames to a `FrameWriter`.
    /// A server passes `handshakeLimit` to refuse large frames from a peer not yet authenticated.
    public func addFrameDecoder(limits: WireLimits, handshakeLimit: HandshakeFrameLimit? = nil) throws {
        try self.addHandler(
            ByteToMessageHandler(
                FrameDecoder(limits: limits, handshakeLimit: handshakeLimit), maximumBufferSize: limits.maxFrameBytes + 64 * 1024))
    }
}

/// Collects a connection's outbound frames into one buffer per flush, compressing bodies straight
/// into it: one allocation and one pipeline write for many small frames (GRPCMessageFramer's idea).
/// Not thread-safe: owned by a connection handler and used on its event loop.
public struct FrameWriter {
    /// Past this many pending bytes the owner should write them out without waiting for a flush.
    public static let highWaterMark = 64 * 1024

    private var pending: ByteBuffer
    private let allocator: ByteBufferAllocator

    public init(allocator: ByteBufferAllocator) {
        self.allocator = allocator
        self.pending = allocator.buffer(capacity: 0)
    }

    public var pendingBytes: Int { self.pending.readableBytes }

    /// Appends a frame whose body is already encoded (or empty).
    public mutating func append(_ frame: Frame) {
        if self.pending.capacity == 0 { self.pending = self.allocator.buffer(capacity: 4096) }
        _ = FrameEncoder().encodeHeader(frame, into: &self.pending)
        if frame.body.readableBytes > FrameEncoder.copyThreshold {
            var body = frame.body
            self.pending.writeBuffer(&body)
        }
    }

    /// Appends a frame built by `body(&buffer)` (see `BodyCodec.appendFrame`).
    public mutating func append(_ body: (inout ByteBuffer) throws -> Void) rethrows {
        if self.pending.capacity == 0 { self.pending = self.allocator.buffer(capacity: 4096) }
        try body(&self.pending)
    }

    /// The bytes to write, if any; the writer starts a fresh buffer afterwards.
    public mutating func take() -> ByteBuffer? {
        guard self.pending.readableBytes > 0 else { return nil }
        defer { self.pending = self.allocator.buffer(capacity: 0) }
        return self.pending
    }
}
