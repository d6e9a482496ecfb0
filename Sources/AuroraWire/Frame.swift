import NIOCore

/// The kind byte of a frame header.
public struct FrameKind: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let hello = FrameKind(rawValue: 0x01)
    public static let welcome = FrameKind(rawValue: 0x02)
    public static let call = FrameKind(rawValue: 0x03)
    public static let message = FrameKind(rawValue: 0x04)
    public static let end = FrameKind(rawValue: 0x05)
    public static let status = FrameKind(rawValue: 0x06)
    public static let cancel = FrameKind(rawValue: 0x07)
    public static let credit = FrameKind(rawValue: 0x08)
    public static let ping = FrameKind(rawValue: 0x09)
    public static let pong = FrameKind(rawValue: 0x0A)
    public static let goAway = FrameKind(rawValue: 0x0B)

    /// Kinds that belong to the connection and travel on stream 0.
    public var isConnectionLevel: Bool {
        self == .hello || self == .welcome || self == .ping || self == .pong || self == .goAway
    }

    /// Whether this byte names a kind of this protocol version.
    public var isKnown: Bool { (0x01...0x0B).contains(rawValue) }

    /// Flags this kind may carry; any other bit set is a protocol error.
    public var allowedFlags: FrameFlags {
        switch self {
        case .call, .message: [.endStream, .dictionary]
        case .hello, .end: []
        default: [.dictionary]
        }
    }

    public var description: String {
        switch rawValue {
        case 0x01: "HELLO"
        case 0x02: "WELCOME"
        case 0x03: "CALL"
        case 0x04: "MESSAGE"
        case 0x05: "END"
        case 0x06: "STATUS"
        case 0x07: "CANCEL"
        case 0x08: "CREDIT"
        case 0x09: "PING"
        case 0x0A: "PONG"
        case 0x0B: "GOAWAY"
        default: "KIND_0x" + String(rawValue, radix: 16)
        }
    }
}

/// The flags byte of a frame header.
public struct FrameFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// CALL or MESSAGE: the sender sends no more messages on this stream.
    public static let endStream = FrameFlags(rawValue: 0x01)
    /// The body was compressed with the dictionary negotiated in the handshake.
    public static let dictionary = FrameFlags(rawValue: 0x02)
}

/// Stream identifier. Clients open streams with odd ids, strictly increasing; 0 is the connection.
public struct StreamID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    public static let connection = StreamID(0)
    public static func < (lhs: StreamID, rhs: StreamID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
}

/// One frame as it travels: header fields and the still-compressed body.
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +---------------------------------------------------------------+
/// |                     length (u32, big-endian)                  |  bytes after this field: 8 + body
/// +---------------+---------------+---------------+---------------+
/// |  version (1)  |     kind      |     flags     |  reserved (0) |
/// +---------------+---------------+---------------+---------------+
/// |                    stream id (u32, big-endian)                |
/// +---------------------------------------------------------------+
/// |                body: empty, or exactly one zstd frame ...     |
/// +---------------------------------------------------------------+
/// ```
public struct Frame: Sendable, Hashable {
    /// Size of the fixed header that follows the length prefix.
    public static let headerSize = 8
    /// Size of the length prefix.
    public static let prefixSize = 4
    /// The only framing version this implementation speaks.
    public static let version: UInt8 = 1

    public var kind: FrameKind
    public var flags: FrameFlags
    public var streamID: StreamID
    /// Empty, or exactly one zstd frame (see `BodyCodec`).
    public var body: ByteBuffer

    public init(kind: FrameKind, flags: FrameFlags = [], streamID: StreamID, body: ByteBuffer = ByteBuffer()) {
        self.kind = kind
        self.flags = flags
        self.streamID = streamID
        self.body = body
    }

    /// Bytes this frame occupies on the wire.
    public var wireSize: Int { Self.prefixSize + Self.headerSize + body.readableBytes }
}
