import AuroraRPC
import Foundation
import JWTKit

/// The claims of an AURORA user token. `scope` is space-separated, as in OAuth 2.0.
public struct AuroraClaims: JWTPayload {
    public var sub: SubjectClaim
    public var iss: IssuerClaim
    public var aud: AudienceClaim
    public var exp: ExpirationClaim
    public var nbf: NotBeforeClaim?
    public var iat: IssuedAtClaim?
    public var scope: String

    /// Claims are checked by `TokenVerifier` against its configuration (issuer, audience, skew);
    /// jwt-kit calls this after the signature, and there is nothing configuration-free to add.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// What a token must satisfy besides its signature.
public struct TokenPolicy: Sendable {
    public var issuer: String
    public var audience: String
    /// Clock difference tolerated on `exp` and `nbf`.
    public var leeway: TimeInterval
    /// Longest token accepted, in bytes.
    public var maximumTokenBytes: Int

    public init(issuer: String = "aurora", audience: String = "aurora-gateway", leeway: TimeInterval = 30, maximumTokenBytes: Int = 8192) {
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.maximumTokenBytes = maximumTokenBytes
    }
}

/// Why a token was refused: the message tells the user what to do.
public struct TokenError: Error, CustomStringConvertible, Sendable, RPCErrorConvertible {
    public enum Reason: String, Sendable {
        case missing, malformed, algorithm, unknownKey = "unknown_key", signature, expired, notYetValid = "not_yet_valid", issuer, audience, claims
    }

    public let reason: Reason
    public let description: String

    init(_ reason: Reason, _ description: String) {
        self.reason = reason
        self.description = description
    }

    public var rpcError: RPCError { RPCError(.unauthenticated, self.description, details: ["reason": self.reason.rawValue]) }
}

/// Checks user tokens against a key set.
public struct TokenVerifier: Sendable {
    public let keys: KeySet
    public let policy: TokenPolicy

    public init(keys: KeySet, policy: TokenPolicy) {
        self.keys = keys
        self.policy = policy
    }

    /// The principal a token names, or a `TokenError`.
    ///
    /// The header is checked before jwt-kit sees the token: the `kid` must be in the key set (jwt-kit
    /// would otherwise fall back to a default key) and `alg` must be the algorithm of that key, so
    /// `none` and algorithm confusion (an HS256 token "signed" with an EdDSA public key) never reach
    /// signature verification.
    public func verify(_ token: String, now: Date = Date()) async throws(TokenError) -> Principal {
        guard !token.isEmpty else { throw TokenError(.missing, "no token was presented") }
        guard token.utf8.count <= self.policy.maximumTokenBytes else {
            throw TokenError(.malformed, "the token is longer than \(self.policy.maximumTokenBytes) bytes")
        }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerData = Base64URL.decode(String(parts[0])),
            let header = try? JSONDecoder().decode(Header.self, from: headerData)
        else { throw TokenError(.malformed, "the token is not a JWT (header.payload.signature)") }
        // RFC 7515 §4.1.11: a recipient must refuse a token whose `crit` names an extension it does
        // not understand, and this gateway understands none (an empty list is invalid too).
        if let critical = header.crit {
            throw TokenError(
                .malformed, "the token's header marks extensions as critical (crit: \(critical.prefix(8).joined(separator: ", "))), which this gateway does not support")
        }
        guard let alg = header.alg, alg.lowercased() != "none" else {
            throw TokenError(.algorithm, "unsigned tokens (alg none) are refused")
        }
        guard let kid = header.kid, let key = self.keys.keys[kid] else {
            throw TokenError(.unknownKey, "the token's key (kid '\(header.kid ?? "")') is not in the gateway's key set")
        }
        guard alg == key.algorithm.rawValue else {
            throw TokenError(.algorithm, "the token says alg \(alg) but key '\(kid)' is \(key.algorithm.rawValue)")
        }
        let claims: AuroraClaims
        do {
            claims = try await self.keys.collection.verify(token, as: AuroraClaims.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw TokenError(.signature, "the token's signature is wrong")
        } catch {
            throw TokenError(.claims, "the token could not be verified or lacks required claims (sub, iss, aud, exp, scope)")
        }
        guard now.timeIntervalSince(claims.exp.value) < self.policy.leeway else {
            throw TokenError(.expired, "the token expired at \(Self.format(claims.exp.value))")
        }
        if let nbf = claims.nbf, nbf.value.timeIntervalSince(now) > self.policy.leeway {
            throw TokenError(.notYetValid, "the token is not valid before \(Self.format(nbf.value))")
        }
        guard claims.iss.value == self.policy.issuer else {
            throw TokenError(.issuer, "the token was issued by '\(claims.iss.value)', not '\(self.policy.issuer)'")
        }
        guard claims.aud.value.contains(self.policy.audience) else {
            throw TokenError(.audience, "the token is not meant for '\(self.policy.audience)'")
        }
        let user = claims.sub.value
        guard !user.isEmpty, user.utf8.count <= 256 else { throw TokenError(.claims, "the token's sub must be 1 to 256 bytes") }
        let scopes = Set(claims.scope.split(separator: " ").map(String.init))
        return Principal(id: user, scopes: scopes)
    }

    struct Header: Decodable {
        var alg: String?
        var kid: String?
        var typ: String?
        /// A `crit` that is not a list of strings does not decode: the token is malformed.
        var crit: [String]?
    }

    static func format(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }
}

/// Signs user tokens (`gateway token issue`, and the local scripts).
public enum TokenIssuer {
    public static func issue(
        keys: KeySet, policy: TokenPolicy, user: String, scopes: [String], ttl: TimeInterval, notBefore: Date? = nil, now: Date = Date()
    ) async throws -> String {
        guard let kid = keys.signingKID else { throw KeySetError("the key set has no key with private material to sign with") }
        let claims = AuroraClaims(
            sub: .init(value: user), iss: .init(value: policy.issuer), aud: .init(value: [policy.audience]),
            exp: .init(value: now.addingTimeInterval(ttl)), nbf: .init(value: notBefore ?? now.addingTimeInterval(-1)), iat: .init(value: now),
            scope: scopes.joined(separator: " "))
        return try await keys.collection.sign(claims, kid: JWKIdentifier(string: kid))
    }
}
