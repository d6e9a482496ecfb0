/// Who is on the other end of a connection, as its handshake credential established.
public struct Principal: Sendable, Hashable {
    /// A user id at the gateway; the calling service's name at internal services.
    public var id: String
    /// What the principal may do, e.g. `analyze`, `feedback`, `admin`, `internal`.
    public var scopes: Set<String>

    public init(id: String, scopes: Set<String> = []) {
        self.id = id
        self.scopes = scopes
    }

    public static let anonymous = Principal(id: "anonymous")
}

/// What a server learns from HELLO before it decides who the client is.
public struct HandshakeRequest: Sendable {
    public var credential: String
    public var clientName: String
    /// "host:port" of the peer, for logs and per-peer limits.
    public var peer: String
}

/// Decides whether a connection's credential is good. Throw an `RPCError` (usually
/// UNAUTHENTICATED) to refuse: the server answers GOAWAY UNAUTHENTICATED with its message.
public protocol Authenticator: Sendable {
    func authenticate(_ request: HandshakeRequest) async throws -> Principal
}

/// Accepts every connection as `Principal.anonymous` (tests, local tools).
public struct AllowAllAuthenticator: Authenticator {
    public init() {}
    public func authenticate(_ request: HandshakeRequest) async throws -> Principal { .anonymous }
}

/// Accepts only callers that present the shared internal service credential, compared in
/// constant time. Internal services use it: the gateway (and trusted services) hold the secret.
public struct SharedSecretAuthenticator: Authenticator {
    private let secret: [UInt8]
    private let principal: Principal

    public init(secret: String, principal: Principal = Principal(id: "internal", scopes: ["internal"])) {
        precondition(!secret.isEmpty, "the internal service credential must not be empty")
        self.secret = Array(secret.utf8)
        self.principal = principal
    }

    public func authenticate(_ request: HandshakeRequest) async throws -> Principal {
        let presented = Array(request.credential.utf8)
        var difference = UInt8(truncatingIfNeeded: presented.count ^ self.secret.count)
        for index in 0..<self.secret.count {
            difference |= self.secret[index] ^ (index < presented.count ? presented[index] : 0)
        }
        guard difference == 0 else {
            throw RPCError(.unauthenticated, "the internal service credential is missing or wrong")
        }
        return self.principal
    }
}
