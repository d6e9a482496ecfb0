import AuroraWire

/// Per-connection limits and timers a server enforces (Protocol/SPEC.md, "Limits").
public struct ServerConnectionConfiguration: Sendable {
    public var wire: WireLimits = .default
    /// Streams that may be open (counted until their handler has finished) at once.
    public var maxConcurrentStreams: Int = 100
    /// MESSAGE frames a client may send on a new stream before the server grants more.
    public var initialStreamCredit: Int = 16
    /// Time from accept to a complete HELLO, and to authenticating it.
    public var handshakeTimeout: Duration = .seconds(10)
    /// A connection with no open stream for this long is closed (GOAWAY IDLE_TIMEOUT).
    public var idleTimeout: Duration = .seconds(300)
    /// Largest method name plus metadata keys and values in one CALL.
    public var maxMetadataBytes: Int = 16 * 1024
    /// CANCEL frames and PINGs allowed per `abuseWindow` before GOAWAY ENHANCE_YOUR_CALM.
    public var maxCancelsPerWindow: Int = 200
    public var maxPingsPerWindow: Int = 100
    public var abuseWindow: Duration = .seconds(30)
    /// On graceful shutdown, in-flight calls get this long to finish before they are cancelled.
    public var drainTimeout: Duration = .seconds(25)
    /// Longest deadline honoured; longer (or none) is capped to it, so no call runs forever.
    public var maxCallDuration: Duration = .seconds(3600)
    /// A call still expecting client messages (an upload, or a request not yet ended) that
    /// receives none for this long while the client has credit to send is ended with
    /// DEADLINE_EXCEEDED and its handler cancelled: an abandoned upload frees its slot. Checked
    /// once a second; bidirectional calls are exempt.
    public var uploadIdleTimeout: Duration = .seconds(30)

    public init() {}
}

/// What a client asks for and how long it waits.
public struct ClientConfiguration: Sendable {
    public var wire: WireLimits = .default
    /// Bearer credential sent in HELLO (a user JWT, or the internal service credential).
    public var credential: String = ""
    public var clientName: String = "aurora-rpc"
    /// MESSAGE frames the server may send on a new stream before the client grants more.
    public var initialStreamCredit: Int = 16
    public var connectTimeout: Duration = .seconds(5)
    public var handshakeTimeout: Duration = .seconds(10)
    /// A PING is sent when nothing was read for this long; a PING still unanswered one interval
    /// later closes the connection (so a dead peer is noticed within two intervals).
    public var keepaliveInterval: Duration = .seconds(30)
    /// Dictionaries offered in HELLO, most preferred first.
    public var dictionaries: [DigestedDictionary] = BuiltinDictionaries.all

    public init() {}
}

/// Per-call options.
public struct CallOptions: Sendable {
    /// Relative deadline; nil = none (servers cap it).
    public var timeout: Duration?
    /// Sent in the CALL frame.
    public var metadata: [String: String]

    public init(timeout: Duration? = nil, metadata: [String: String] = [:]) {
        self.timeout = timeout
        self.metadata = metadata
    }

    public static let `default` = CallOptions()
}
