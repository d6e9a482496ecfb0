import AuroraGateway
import AuroraRPC
import Foundation
import JWTKit
import Testing

/// The gateway's building blocks, without daemons.
struct KeySetTests {
    func keySet(_ entries: [[String: String]]) async throws -> KeySet {
        try await KeySet.parse(try JSONSerialization.data(withJSONObject: ["keys": entries]))
    }

    @Test func badKeySetsAreRefusedNamingTheKey() async throws {
        let short = ["kty": "oct", "kid": "short", "alg": "HS256", "k": Data(repeating: 7, count: 31).base64EncodedString()]
        await #expect(throws: KeySetError.self) { _ = try await self.keySet([short]) }
        do {
            _ = try await self.keySet([short])
        } catch let error as KeySetError {
            #expect(error.description.contains("short") && error.description.contains("31 bytes") && error.description.contains("at least 32"))
        }
        var noKid = KeyGenerator.entry(algorithm: .eddsa, kid: "x")
        noKid["kid"] = nil
        await #expect(throws: KeySetError.self) { _ = try await self.keySet([noKid]) }
        var noAlg = KeyGenerator.entry(algorithm: .hs256, kid: "x")
        noAlg["alg"] = "none"
        await #expect(throws: KeySetError.self) { _ = try await self.keySet([noAlg]) }
        let twice = KeyGenerator.entry(algorithm: .hs256, kid: "same")
        await #expect(throws: KeySetError.self) { _ = try await self.keySet([twice, KeyGenerator.entry(algorithm: .eddsa, kid: "same")]) }
        var mismatched = KeyGenerator.entry(algorithm: .eddsa, kid: "ed")
        mismatched["x"] = KeyGenerator.entry(algorithm: .eddsa, kid: "other")["x"]
        await #expect(throws: KeySetError.self) { _ = try await self.keySet([mismatched]) }
        await #expect(throws: KeySetError.self) { _ = try await KeySet.parse(Data("{\"keys\": []}".utf8)) }
        await #expect(throws: KeySetError.self) { _ = try await KeySet.parse(Data("not json".utf8)) }
    }

    @Test func theLastPrivateKeySignsAndPublicKeysOnlyVerify() async throws {
        let signer = KeyGenerator.entry(algorithm: .eddsa, kid: "old")
        var publicOnly = KeyGenerator.entry(algorithm: .eddsa, kid: "public")
        publicOnly["d"] = nil
        let newest = KeyGenerator.entry(algorithm: .hs256, kid: "new")
        let keys = try await self.keySet([signer, newest, publicOnly])
        #expect(keys.signingKID == "new")
        #expect(keys.keys["public"]?.canSign == false)
        let chosen = try await KeySet.parse(try JSONSerialization.data(withJSONObject: ["keys": [signer, newest]]), signingKID: "old")
        #expect(chosen.signingKID == "old")
        await #expect(throws: KeySetError.self) {
            _ = try await KeySet.parse(try JSONSerialization.data(withJSONObject: ["keys": [signer, publicOnly]]), signingKID: "public")
        }
    }

    @Test func verifierChecksKeyAlgorithmAndClaims() async throws {
        let keys = try await self.keySet([KeyGenerator.entry(algorithm: .eddsa, kid: "ed"), KeyGenerator.entry(algorithm: .hs256, kid: "hs")])
        let policy = TokenPolicy(leeway: 30)
        let verifier = TokenVerifier(keys: keys, policy: policy)
        let now = Date()
        let token = try await TokenIssuer.issue(keys: keys, policy: policy, user: "ann", scopes: ["analyze", "feedback"], ttl: 60, now: now)
        let principal = try await verifier.verify(token, now: now)
        #expect(principal.id == "ann" && principal.scopes == ["analyze", "feedback"])
        // Within the leeway on both sides, and outside it.
        _ = try await verifier.verify(token, now: now.addingTimeInterval(60 + 20))
        await #expect(throws: TokenError.self) { _ = try await verifier.verify(token, now: now.addingTimeInterval(60 + 40)) }
        let later = try await TokenIssuer.issue(keys: keys, policy: policy, user: "ann", scopes: [], ttl: 600, notBefore: now.addingTimeInterval(20), now: now)
        _ = try await verifier.verify(later, now: now)
        let muchLater = try await TokenIssuer.issue(keys: keys, policy: policy, user: "ann", scopes: [], ttl: 600, notBefore: now.addingTimeInterval(120), now: now)
        await #expect(throws: TokenError.self) { _ = try await verifier.verify(muchLater, now: now) }
        // Another issuer or audience.
        for other in [TokenPolicy(issuer: "someone-else"), TokenPolicy(audience: "another-service")] {
            let foreign = try await TokenIssuer.issue(keys: keys, policy: other, user: "ann", scopes: [], ttl: 60, now: now)
            await #expect(throws: TokenError.self) { _ = try await verifier.verify(foreign, now: now) }
        }
        // A kid that is not in the set is refused, even though jwt-kit has a default key.
        let stranger = try await self.keySet([KeyGenerator.entry(algorithm: .hs256, kid: "stranger")])
        let unknown = try await TokenIssuer.issue(keys: stranger, policy: policy, user: "ann", scopes: [], ttl: 60, now: now)
        do {
            _ = try await verifier.verify(unknown, now: now)
            Issue.record("a token with an unknown kid was accepted")
        } catch {
            #expect(error.reason == .unknownKey)
        }
    }

    /// RFC 7515 §4.1.11: a `crit` header naming any extension (this gateway understands none) is
    /// refused, however good the signature (issue 19, finding 7).
    @Test func criticalHeaderExtensionsAreRefused() async throws {
        let entry = KeyGenerator.entry(algorithm: .hs256, kid: "hs")
        let keys = try await self.keySet([entry])
        let verifier = TokenVerifier(keys: keys, policy: TokenPolicy())
        var k = entry["k"]!.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while k.count % 4 != 0 { k += "=" }
        let signer = JWTKeyCollection()
        await signer.add(hmac: HMACKey(from: Data(base64Encoded: k)!), digestAlgorithm: .sha256, kid: "hs")
        let now = Date()
        let claims = TestClaims(
            sub: .init(value: "ann"), iss: .init(value: "aurora"), aud: .init(value: ["aurora-gateway"]),
            exp: .init(value: now.addingTimeInterval(60)), scope: "analyze")
        var plain = JWTHeader()
        plain.alg = "HS256"
        _ = try await verifier.verify(try await signer.sign(claims, kid: "hs", header: plain), now: now)
        for critical in [["exp"], ["b64"], ["x-unknown"], []] {
            var header = plain
            header.crit = critical
            let token = try await signer.sign(claims, kid: "hs", header: header)
            do {
                _ = try await verifier.verify(token, now: now)
                Issue.record("a token with crit \(critical) was accepted")
            } catch {
                #expect(error.reason == .malformed && error.description.contains("crit"), "\(error)")
            }
        }
    }
}

/// The claims a user token carries, for tokens the tests sign themselves.
struct TestClaims: JWTPayload {
    var sub: SubjectClaim
    var iss: IssuerClaim
    var aud: AudienceClaim
    var exp: ExpirationClaim
    var scope: String
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

struct RateLimiterTests {
    /// Keys whose time has passed are swept as the table grows, so many users passing by leave
    /// it near the number active now, not the number ever seen (issue 19, finding 4).
    @Test func theTableHoldsRecentKeysOnly() async throws {
        let limiter = RateLimiter(limit: .init(rate: 1000, burst: 1))
        for round in 0..<20 {
            for user in 0..<1000 { _ = limiter.acquire("user-\(round)-\(user)") }
            try await Task.sleep(for: .milliseconds(2))
        }
        #expect(limiter.keys <= 2048, "\(limiter.keys) keys held after 20,000 users came and went")
    }

    @Test func burstThenSustainedRate() {
        let limiter = RateLimiter(limit: .init(rate: 10, burst: 5))
        var allowed = 0
        for _ in 0..<20 where limiter.acquire("u") == .allowed { allowed += 1 }
        // The burst (and at most one more that accrued while looping).
        #expect(allowed >= 5 && allowed <= 6)
        guard case .limited(let wait) = limiter.acquire("u") else {
            Issue.record("the call after the burst was allowed")
            return
        }
        #expect(wait > .zero && wait <= .milliseconds(100))
        // Another key has its own budget.
        #expect(limiter.acquire("v") == .allowed)
    }

    @Test func reservationsWaitOrRefuseWithoutTaking() {
        let limiter = RateLimiter(limit: .init(rate: 1000, burst: 1000))
        #expect(limiter.reserve("u", cost: 1000, maximumWait: .zero) == (.zero, true))
        let (wait, taken) = limiter.reserve("u", cost: 500, maximumWait: .seconds(1))
        #expect(taken && wait > .milliseconds(400) && wait <= .milliseconds(510))
        // Too long a wait takes nothing: a smaller request right after still fits the same window.
        let refused = limiter.reserve("u", cost: 100_000, maximumWait: .seconds(1))
        #expect(!refused.taken && refused.wait > .seconds(90))
        let small = limiter.reserve("u", cost: 100, maximumWait: .seconds(1))
        #expect(small.taken && small.wait <= .milliseconds(610))
    }
}
