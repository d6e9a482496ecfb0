import Foundation
import NIOCore
import SwiftProtobuf

/// Turns message payloads into frame bodies and back, for one connection.
///
/// Small payloads are compressed with the negotiated dictionary (plain zstd gains nothing on a
/// few hundred bytes); large ones, such as upload chunks, with plain zstd at the fast level -5:
/// an upload is compressed once per hop (client to gateway, gateway to parser-service), and at
/// level 1 that cost as much CPU as profiling the file; -5 is about twice as fast and still halves
/// CSV. An empty payload travels as an empty body.
/// Not thread-safe: owned by a connection's channel handler and used on its event loop.
public final class BodyCodec {
    /// Payloads up to this size use the dictionary, when one was negotiated.
    public static let dictionaryPayloadLimit = 16 * 1024
    /// Level for payloads compressed without the dictionary.
    public static let plainLevel: Int32 = -5

    public let limits: WireLimits
    private let compressor: ZstdCompressor
    private let decompressor: ZstdDecompressor

    public init(limits: WireLimits) {
        self.limits = limits
        self.compressor = ZstdCompressor()
        self.decompressor = ZstdDecompressor(maxWindowLog: limits.maxWindowLog)
    }

    /// The dictionary negotiated in the handshake, used from the frame after WELCOME on.
    public var dictionary: DigestedDictionary? {
        get { self.compressor.dictionary }
        set {
            self.compressor.dictionary = newValue
            self.decompressor.dictionary = newValue
        }
    }

    /// Compresses `payload` into a body and says which flags the frame needs.
    public func encode(_ payload: UnsafeRawBufferPointer, allocator: ByteBufferAllocator) throws -> (
        body: ByteBuffer, flags: FrameFlags
    ) {
        if payload.isEmpty { return (ByteBuffer(), []) }
        if payload.count > self.limits.maxMessageBytes {
            throw WireError(.messageTooLarge, "message of \(payload.count) bytes is over the limit of \(self.limits.maxMessageBytes)")
        }
        let useDictionary = self.compressor.dictionary != nil && payload.count <= Self.dictionaryPayloadLimit
        var body = allocator.buffer(capacity: payload.count / 2 + 64)
        try self.compressor.compress(payload, level: Self.plainLevel, useDictionary: useDictionary, into: &body)
        return (body, useDictionary ? .dictionary : [])
    }

    /// Serializes and compresses a control or service message into a frame.
    public func frame(
        _ kind: FrameKind, streamID: StreamID, flags: FrameFlags = [], message: some SwiftProtobuf.Message,
        allocator: ByteBufferAllocator
    ) throws -> Frame {
        let bytes: [UInt8]
        do {
            bytes = try message.serializedBytes()
        } catch {
            throw WireError(.internalError, "\(kind) body does not serialize")
        }
        let (body, bodyFlags) = try bytes.withUnsafeBytes { raw in try self.encode(raw, allocator: allocator) }
        return Frame(kind: kind, flags: flags.union(bodyFlags), streamID: streamID, body: body)
    }

    /// Appends a whole frame to `buffer`: header, then `payload` compressed straight into place
    /// (no intermediate body buffer). On error nothing is appended.
    public func appendFrame(
        _ kind: FrameKind, streamID: StreamID, flags: FrameFlags = [], payload: UnsafeRawBufferPointer,
        to buffer: inout ByteBuffer
    ) throws {
        if payload.count > self.limits.maxMessageBytes {
            throw WireError(.messageTooLarge, "message of \(payload.count) bytes is over the limit of \(self.limits.maxMessageBytes)")
        }
        let start = buffer.writerIndex
        var flags = flags
        let useDictionary = !payload.isEmpty && self.compressor.dictionary != nil && payload.count <= Self.dictionaryPayloadLimit
        if useDictionary { flags.insert(.dictionary) }
        buffer.writeInteger(UInt32(0), endianness: .big)  // length, patched below
        buffer.writeInteger(Frame.version)
        buffer.writeInteger(kind.rawValue)
        buffer.writeInteger(flags.rawValue)
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(streamID.rawValue, endianness: .big)
        if !payload.isEmpty {
            do {
                try self.compressor.compress(payload, level: Self.plainLevel, useDictionary: useDictionary, into: &buffer)
            } catch {
                buffer.moveWriterIndex(to: start)
                throw error
            }
        }
        buffer.setInteger(UInt32(buffer.writerIndex - start - Frame.prefixSize), at: start, endianness: .big)
    }

    /// Appends a control or service message as a whole frame.
    public func appendFrame(
        _ kind: FrameKind, streamID: StreamID, flags: FrameFlags = [], message: some SwiftProtobuf.Message,
        to buffer: inout ByteBuffer
    ) throws {
        let bytes: [UInt8]
        do {
            bytes = try message.serializedBytes()
        } catch {
            throw WireError(.internalError, "\(kind) body does not serialize")
        }
        try bytes.withUnsafeBytes { try self.appendFrame(kind, streamID: streamID, flags: flags, payload: $0, to: &buffer) }
    }

    /// Inflates a frame's body within the message limit (or the lower `maxBytes`).
    public func decode(_ frame: Frame, maxBytes: Int? = nil, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        if frame.body.readableBytes == 0 { return ByteBuffer() }
        return try self.decompressor.decompress(
            frame.body, useDictionary: frame.flags.contains(.dictionary),
            maxBytes: min(maxBytes ?? self.limits.maxMessageBytes, self.limits.maxMessageBytes), allocator: allocator)
    }

    /// Inflates and parses a control frame's body; a body that does not parse is MALFORMED_BODY.
    public func decodeControl<M: SwiftProtobuf.Message>(
        _ frame: Frame, as type: M.Type, maxBytes: Int? = nil, allocator: ByteBufferAllocator
    ) throws -> M {
        let payload = try self.decode(frame, maxBytes: maxBytes, allocator: allocator)
        do {
            return try payload.parseProtobuf(as: M.self)
        } catch {
            throw WireError(.malformedBody, "\(frame.kind) frame on stream \(frame.streamID) has a body that is not a valid \(M.protoMessageName)")
        }
    }
}

/// Body codecs for work done off the event loop (for example a caller compressing its own request
/// before handing it to the connection), so the event loop only moves bytes. Each codec is used
/// by one thread at a time: `withCodec` lends one out under a lock and takes it back.
public final class BodyCodecPool: @unchecked Sendable {
    // @unchecked: `idle` is guarded by `lock`; a lent codec is touched by one thread only.
    private let lock = NSLock()
    private var idle: [BodyCodec] = []
    private let limits: WireLimits
    private let dictionary: DigestedDictionary?

    public init(limits: WireLimits, dictionary: DigestedDictionary?) {
        self.limits = limits
        self.dictionary = dictionary
    }

    public func withCodec<T>(_ body: (BodyCodec) throws -> T) rethrows -> T {
        let codec: BodyCodec = self.lock.withLock { self.idle.popLast() } ?? {
            let codec = BodyCodec(limits: self.limits)
            codec.dictionary = self.dictionary
            return codec
        }()
        defer { self.lock.withLock { self.idle.append(codec) } }
        return try body(codec)
    }
}

extension ByteBuffer {
    /// Parses the readable bytes as a protobuf message without copying them first. Safe because
    /// SwiftProtobuf copies every bytes field out of its input, so nothing refers to the buffer
    /// after the call.
    public func parseProtobuf<M: SwiftProtobuf.Message>(as type: M.Type) throws -> M {
        try self.withUnsafeReadableBytes { raw in
            guard let base = raw.baseAddress, raw.count > 0 else { return M() }
            return try M(serializedBytes: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: raw.count, deallocator: .none))
        }
    }
}
