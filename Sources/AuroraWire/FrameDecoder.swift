import NIOCore

/// Splits the inbound byte stream into frames, validating each header as soon as its 12 bytes
/// are buffered: a length over `maxFrameBytes` is refused on the prefix alone, before any of the
/// body is buffered, and a bad version, kind, flag or stream id is refused before the body arrives.
///
/// The body is returned still compressed; `BodyCodec` inflates it with its own limits.
/// Byte layout: see `Frame`. Install behind `ByteToMessageHandler(_, maximumBufferSize:)` as a
/// second guard.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = Frame

    public let limits: WireLimits
    /// A server's lower limit until its handshake completes (nil: `limits.maxFrameBytes` throughout).
    let handshakeLimit: HandshakeFrameLimit?

    public init(limits: WireLimits = .default, handshakeLimit: HandshakeFrameLimit? = nil) {
        self.limits = limits
        self.handshakeLimit = handshakeLimit
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> Frame? {
        let start = buffer.readerIndex
        guard let length = buffer.getInteger(at: start, endianness: .big, as: UInt32.self) else { return nil }
        if let early = self.handshakeLimit?.maxFrameBytes, length > early {
            throw WireError(.frameTooLarge, "frame length \(length) exceeds the limit of \(early) bytes before the handshake completes")
        }
        if length > self.limits.maxFrameBytes {
            throw WireError(.frameTooLarge, "frame length \(length) exceeds the limit of \(self.limits.maxFrameBytes) bytes")
        }
        if length < Frame.headerSize {
            throw WireError(.protocolError, "frame length \(length) is shorter than the \(Frame.headerSize)-byte header")
        }
        guard buffer.readableBytes >= Frame.prefixSize + Frame.headerSize else { return nil }
        let header = start + Frame.prefixSize
        let version = buffer.getInteger(at: header, as: UInt8.self)!
        let kind = FrameKind(rawValue: buffer.getInteger(at: header + 1, as: UInt8.self)!)
        let flags = FrameFlags(rawValue: buffer.getInteger(at: header + 2, as: UInt8.self)!)
        let reserved = buffer.getInteger(at: header + 3, as: UInt8.self)!
        let streamID = StreamID(buffer.getInteger(at: header + 4, endianness: .big, as: UInt32.self)!)
        let bodyLength = Int(length) - Frame.headerSize
        try Self.validate(version: version, kind: kind, flags: flags, reserved: reserved, streamID: streamID, bodyLength: bodyLength)

        guard buffer.readableBytes >= Frame.prefixSize + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: Frame.prefixSize + Frame.headerSize)
        let body = buffer.readSlice(length: bodyLength)!
        return Frame(kind: kind, flags: flags, streamID: streamID, body: body)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> Frame? {
        if let frame = try self.decode(buffer: &buffer) { return frame }
        if buffer.readableBytes > 0 {
            throw WireError(.truncatedFrame, "connection ended \(buffer.readableBytes) bytes into an incomplete frame")
        }
        return nil
    }

    static func validate(
        version: UInt8, kind: FrameKind, flags: FrameFlags, reserved: UInt8, streamID: StreamID, bodyLength: Int
    ) throws {
        guard version == Frame.version else {
            throw WireError(.unsupportedVersion, "frame version \(version) is not supported (this peer speaks \(Frame.version))")
        }
        guard kind.isKnown else {
            throw WireError(.unknownFrameKind, "unknown frame kind 0x\(String(kind.rawValue, radix: 16))")
        }
        guard reserved == 0 else {
            throw WireError(.protocolError, "\(kind) frame has a non-zero reserved byte")
        }
        guard kind.allowedFlags.isSuperset(of: flags) else {
            throw WireError(.protocolError, "\(kind) frame has flags 0x\(String(flags.rawValue, radix: 16)) it may not carry")
        }
        if flags.contains(.dictionary) && bodyLength == 0 {
            throw WireError(.protocolError, "\(kind) frame sets the dictionary flag on an empty body")
        }
        if kind.isConnectionLevel {
            guard streamID == .connection else {
                throw WireError(.streamIDError, "\(kind) frame must be on stream 0, not \(streamID)")
            }
        } else {
            guard streamID.rawValue % 2 == 1 else {
                throw WireError(.streamIDError, "\(kind) frame on stream \(streamID): stream ids are odd and non-zero")
            }
        }
        if kind == .end && bodyLength != 0 {
            throw WireError(.protocolError, "END frame on stream \(streamID) must have an empty body")
        }
    }
}

/// The frame size a server accepts from a peer that has not completed the handshake, so an
/// unauthenticated peer can make it buffer a few KiB, not `maxFrameBytes` (SPEC.md §11). Shared by
/// a connection's decoder and its handler, on the connection's event loop; the handler lifts it
/// once it sends WELCOME.
public final class HandshakeFrameLimit {
    /// Nil once lifted.
    public var maxFrameBytes: Int?

    public init(maxFrameBytes: Int) { self.maxFrameBytes = maxFrameBytes }

    /// The HELLO frame's largest length and body for a server whose credential limit is
    /// `maxCredentialBytes`: the credential, the 256-byte client name and the other fields, with
    /// room for a body that compresses badly.
    public static func helloBytes(maxCredentialBytes: Int) -> Int { maxCredentialBytes + 2048 }

    /// Called once the handshake has completed.
    public func lift() { self.maxFrameBytes = nil }
}

@available(*, unavailable)
extension HandshakeFrameLimit: Sendable {}

/// Writes frames: the length prefix and header, then the body. Small frames are copied into one
/// buffer; large bodies are written as a second buffer so they are not copied (writev sends both).
public struct FrameEncoder: Sendable {
    /// Bodies up to this size are copied next to their header.
    public static let copyThreshold = 16 * 1024

    public init() {}

    /// Writes the prefix and header of `frame` into `buffer`, and its body too when it is small.
    /// Returns whether the body was written (if not, the caller writes `frame.body` itself).
    @inlinable
    public func encodeHeader(_ frame: Frame, into buffer: inout ByteBuffer) -> Bool {
        let bodyLength = frame.body.readableBytes
        buffer.writeInteger(UInt32(Frame.headerSize + bodyLength), endianness: .big)
        buffer.writeInteger(Frame.version)
        buffer.writeInteger(frame.kind.rawValue)
        buffer.writeInteger(frame.flags.rawValue)
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(frame.streamID.rawValue, endianness: .big)
        if bodyLength <= Self.copyThreshold {
            var body = frame.body
            buffer.writeBuffer(&body)
            return true
        }
        return false
    }

    /// The whole frame as one buffer (tests, vectors, tools).
    public func encode(_ frame: Frame, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: frame.wireSize)
        if !self.encodeHeader(frame, into: &buffer) {
            var body = frame.body
            buffer.writeBuffer(&body)
        }
        return buffer
    }
}
