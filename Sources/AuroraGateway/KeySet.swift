import Crypto
import Foundation
import JWTKit

/// The gateway's token keys, read from a JSON Web Key Set file (RFC 7517):
///
///     {"keys": [
///       {"kty": "oct", "kid": "2026-11-a", "alg": "HS256", "k": "<base64url, at least 32 bytes>"},
///       {"kty": "OKP", "crv": "Ed25519", "kid": "2026-11-b", "alg": "EdDSA", "x": "<public>", "d": "<private, optional>"}
///     ]}
///
/// Every key must name its `kid` and its `alg` (HS256 or EdDSA), so a token's header can be checked
/// against the key it names before any signature is computed. HMAC keys shorter than 32 bytes are
/// refused. Keys with private material can sign; the signing key is the one named by
/// `signingKID`, else the last such key in the file (append a key to rotate).
public struct KeySet: Sendable {
    public enum Algorithm: String, Sendable {
        case hs256 = "HS256"
        case eddsa = "EdDSA"
    }

    public struct Key: Sendable {
        public var kid: String
        public var algorithm: Algorithm
        public var canSign: Bool
    }

    public let keys: [String: Key]
    public let signingKID: String?
    let collection: JWTKeyCollection

    public static let minimumHMACBytes = 32

    /// Parses a key set; every problem is an error naming the key (by position and kid) and the field.
    public static func parse(_ data: Data, signingKID requested: String? = nil, source: String = "key set") async throws -> KeySet {
        let file: JWKSFile
        do {
            file = try JSONDecoder().decode(JWKSFile.self, from: data)
        } catch {
            throw KeySetError("\(source) is not a JSON Web Key Set ({\"keys\": [...]}): \(error)")
        }
        guard !file.keys.isEmpty else { throw KeySetError("\(source) holds no keys") }
        let collection = JWTKeyCollection()
        var keys: [String: Key] = [:]
        var lastSigner: String?
        for (index, entry) in file.keys.enumerated() {
            let name = "\(source), key \(index)"
            guard let kid = entry.kid, !kid.isEmpty, kid.utf8.count <= 128 else { throw KeySetError("\(name): every key needs a kid (1 to 128 bytes)") }
            guard keys[kid] == nil else { throw KeySetError("\(name): kid '\(kid)' appears twice") }
            guard let alg = entry.alg.flatMap(Algorithm.init(rawValue:)) else {
                throw KeySetError("\(name) (kid '\(kid)'): alg must be HS256 or EdDSA, not '\(entry.alg ?? "")'")
            }
            switch alg {
            case .hs256:
                guard entry.kty == "oct", let secret = entry.k.flatMap(Base64URL.decode) else {
                    throw KeySetError("\(name) (kid '\(kid)'): an HS256 key needs kty \"oct\" and a base64url k")
                }
                guard secret.count >= Self.minimumHMACBytes else {
                    throw KeySetError("\(name) (kid '\(kid)'): HMAC key is \(secret.count) bytes; at least \(Self.minimumHMACBytes) are required")
                }
                await collection.add(hmac: HMACKey(key: SymmetricKey(data: secret)), digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid))
                keys[kid] = Key(kid: kid, algorithm: alg, canSign: true)
                lastSigner = kid
            case .eddsa:
                guard entry.kty == "OKP", entry.crv == "Ed25519" else {
                    throw KeySetError("\(name) (kid '\(kid)'): an EdDSA key needs kty \"OKP\" and crv \"Ed25519\"")
                }
                do {
                    if let d = entry.d {
                        let privateKey = try EdDSA.PrivateKey(d: d, curve: .ed25519)
                        if let x = entry.x, Base64URL.decode(x) != privateKey.publicKey.rawRepresentation {
                            throw KeySetError("\(name) (kid '\(kid)'): x is not the public key of d")
                        }
                        await collection.add(eddsa: privateKey, kid: JWKIdentifier(string: kid))
                        keys[kid] = Key(kid: kid, algorithm: alg, canSign: true)
                        lastSigner = kid
                    } else if let x = entry.x {
                        await collection.add(eddsa: try EdDSA.PublicKey(x: x, curve: .ed25519), kid: JWKIdentifier(string: kid))
                        keys[kid] = Key(kid: kid, algorithm: alg, canSign: false)
                    } else {
                        throw KeySetError("\(name) (kid '\(kid)'): an EdDSA key needs x (public) or d (private)")
                    }
                } catch let error as KeySetError {
                    throw error
                } catch {
                    throw KeySetError("\(name) (kid '\(kid)'): not a valid Ed25519 key: \(error)")
                }
            }
        }
        if let requested, !requested.isEmpty {
            guard let key = keys[requested] else { throw KeySetError("the signing kid '\(requested)' is not in \(source)") }
            guard key.canSign else { throw KeySetError("the signing kid '\(requested)' has no private key in \(source)") }
        }
        return KeySet(keys: keys, signingKID: (requested?.isEmpty == false ? requested : nil) ?? lastSigner, collection: collection)
    }

    public static func load(path: String, signingKID: String? = nil) async throws -> KeySet {
        guard let data = FileManager.default.contents(atPath: path) else { throw KeySetError("cannot read the key set file \(path)") }
        return try await Self.parse(data, signingKID: signingKID, source: path)
    }
}

public struct KeySetError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// One entry of a JWKS file (only the members AURORA uses).
struct JWKSEntry: Codable {
    var kty: String?
    var kid: String?
    var alg: String?
    var use: String?
    var k: String?
    var crv: String?
    var x: String?
    var d: String?
}

struct JWKSFile: Codable {
    var keys: [JWKSEntry]
}

/// Generates key set entries (`gateway keys generate`).
public enum KeyGenerator {
    /// A new key as a JWKS entry, in JSON.
    public static func entry(algorithm: KeySet.Algorithm, kid: String) -> [String: String] {
        switch algorithm {
        case .hs256:
            let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
            return ["kty": "oct", "kid": kid, "alg": "HS256", "use": "sig", "k": Base64URL.encode(secret)]
        case .eddsa:
            let key = Curve25519.Signing.PrivateKey()
            return [
                "kty": "OKP", "crv": "Ed25519", "kid": kid, "alg": "EdDSA", "use": "sig",
                "x": Base64URL.encode(key.publicKey.rawRepresentation), "d": Base64URL.encode(key.rawRepresentation),
            ]
        }
    }

    /// Appends `entry` to the key set at `path` (creating it), written with mode 0600.
    public static func append(_ entry: [String: String], to path: String) throws {
        var keys: [[String: String]] = []
        if let data = FileManager.default.contents(atPath: path) {
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let existing = object["keys"] as? [[String: String]] else {
                throw KeySetError("\(path) exists but is not a JSON Web Key Set")
            }
            keys = existing
        }
        guard !keys.contains(where: { $0["kid"] == entry["kid"] }) else { throw KeySetError("kid '\(entry["kid"] ?? "")' is already in \(path)") }
        keys.append(entry)
        let data = try JSONSerialization.data(withJSONObject: ["keys": keys], options: [.prettyPrinted, .sortedKeys])
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw KeySetError("cannot write \(temporary)")
        }
        // Rename is atomic: a gateway reloading the file never reads half of it.
        guard rename(temporary, path) == 0 else { throw KeySetError("cannot replace \(path): \(String(cString: strerror(errno)))") }
    }
}

enum Base64URL {
    static func encode(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}
