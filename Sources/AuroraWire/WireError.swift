/// An error in the bytes on the wire: a malformed frame, a body that does not decompress,
/// a limit exceeded, or a frame that breaks the protocol's rules.
///
/// Each code is also the code a GOAWAY frame carries when a peer closes a connection for it
/// (Protocol/SPEC.md, "Connection errors"). Messages name the frame and the limit, never content.
public struct WireError: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    /// GOAWAY codes. Numbers are fixed by the specification.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// Graceful close: no error.
        public static let noError = Code(rawValue: 0)
        /// A frame that is well-formed but breaks a rule (wrong state, bad flags, reserved bits).
        public static let protocolError = Code(rawValue: 1)
        /// The peer failed for a reason of its own.
        public static let internalError = Code(rawValue: 2)
        /// More MESSAGE frames than the stream's credit allowed.
        public static let flowControlError = Code(rawValue: 3)
        /// The length prefix exceeds the maximum frame size.
        public static let frameTooLarge = Code(rawValue: 4)
        /// A body declares (or inflates to) more than the maximum message size.
        public static let messageTooLarge = Code(rawValue: 5)
        /// A body is not exactly one valid zstd frame with its content size.
        public static let compressionError = Code(rawValue: 6)
        /// The header's version byte is not one this peer speaks, or the handshake found no common version.
        public static let unsupportedVersion = Code(rawValue: 7)
        /// The header's kind byte names no frame kind.
        public static let unknownFrameKind = Code(rawValue: 8)
        /// A control frame's body does not decode as its message.
        public static let malformedBody = Code(rawValue: 9)
        /// A stream id that is zero where it must not be, even, reused or going backwards.
        public static let streamIDError = Code(rawValue: 10)
        /// No HELLO within the handshake timeout.
        public static let handshakeTimeout = Code(rawValue: 11)
        /// No stream activity within the idle timeout.
        public static let idleTimeout = Code(rawValue: 12)
        /// The handshake's credential was refused.
        public static let unauthenticated = Code(rawValue: 13)
        /// Too many cancellations or pings: the peer is abusive.
        public static let enhanceYourCalm = Code(rawValue: 14)
        /// The connection ended in the middle of a frame (local only: there is no one left to tell).
        public static let truncatedFrame = Code(rawValue: 15)

        public var description: String {
            switch rawValue {
            case 0: "NO_ERROR"
            case 1: "PROTOCOL_ERROR"
            case 2: "INTERNAL_ERROR"
            case 3: "FLOW_CONTROL_ERROR"
            case 4: "FRAME_TOO_LARGE"
            case 5: "MESSAGE_TOO_LARGE"
            case 6: "COMPRESSION_ERROR"
            case 7: "UNSUPPORTED_VERSION"
            case 8: "UNKNOWN_FRAME_KIND"
            case 9: "MALFORMED_BODY"
            case 10: "STREAM_ID_ERROR"
            case 11: "HANDSHAKE_TIMEOUT"
            case 12: "IDLE_TIMEOUT"
            case 13: "UNAUTHENTICATED"
            case 14: "ENHANCE_YOUR_CALM"
            case 15: "TRUNCATED_FRAME"
            default: "GOAWAY_CODE_\(rawValue)"
            }
        }
    }
}
