/// Hard limits of the wire, checked before anything is allocated for a frame or a message.
///
/// Every limit is configurable; the defaults are the ones Protocol/SPEC.md documents.
public struct WireLimits: Sendable, Hashable {
    /// Largest value accepted in a frame's length prefix: header plus compressed body.
    public var maxFrameBytes: Int
    /// Largest decompressed message body. A zstd frame declaring more is refused unread.
    public var maxMessageBytes: Int
    /// Largest zstd window a body may require (as a power of two); larger frames are refused.
    public var maxWindowLog: Int

    public init(maxFrameBytes: Int = 4_325_376, maxMessageBytes: Int = 4_194_304, maxWindowLog: Int = 23) {
        self.maxFrameBytes = maxFrameBytes
        self.maxMessageBytes = maxMessageBytes
        self.maxWindowLog = maxWindowLog
    }

    public static let `default` = WireLimits()
}
