import Crypto
import Foundation

/// Keyed pseudonyms for what would name people in the store: user ids and domains are stored only
/// as HMAC-SHA256 under a key only the learning-service holds. Equal names give equal pseudonyms
/// (rules and votes still group), a database dump names nobody, and without the key no guess can
/// be checked against the dump.
///
/// The key file has one key per line, `ID SECRET` (SECRET: base64 of at least 32 random bytes);
/// the first line is the current key, later lines are earlier keys still being rotated away from.
/// A pseudonym reads `ID.HEX`, so the store shows which key made it. Rotation (documented in the
/// README): put a new key first and keep the old one below it; each user's and domain's rows are
/// re-keyed the first time they are used, then the old line can go.
public struct PseudonymKeys: Sendable {
    struct Key: Sendable {
        let id: String
        let secret: SymmetricKey
    }

    let current: Key
    let previous: [Key]

    public init(text: String, source: String) throws(PseudonymKeyError) {
        var keys: [Key] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            let location = "\(source) line \(number + 1)"
            guard parts.count == 2 else { throw PseudonymKeyError("\(location): expected `ID SECRET` (an id, a space, base64 of 32+ random bytes)") }
            let id = String(parts[0])
            guard (1...16).contains(id.utf8.count), id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw PseudonymKeyError("\(location): the key id must be 1 to 16 letters, digits, '-' or '_'")
            }
            guard let secret = Data(base64Encoded: String(parts[1])), secret.count >= 32 else {
                throw PseudonymKeyError("\(location): the secret must be base64 of at least 32 bytes")
            }
            guard !keys.contains(where: { $0.id == id }) else { throw PseudonymKeyError("\(location): key id '\(id)' appears twice") }
            keys.append(Key(id: id, secret: SymmetricKey(data: secret)))
        }
        guard let current = keys.first else { throw PseudonymKeyError("\(source) holds no key; \(Self.howToMake)") }
        self.current = current
        self.previous = Array(keys.dropFirst())
    }

    /// One random key for this process: services made in one process (tests, in-process use)
    /// agree on it; nothing made under it can be read back by another process.
    public static let processWide = PseudonymKeys(current: Key(id: "proc", secret: SymmetricKey(size: .bits256)), previous: [])

    private init(current: Key, previous: [Key]) {
        self.current = current
        self.previous = previous
    }

    public static let howToMake = "make one with: printf 'k1 %s\\n' \"$(head -c 32 /dev/urandom | base64 -w0)\" > FILE"

    /// The stored form of a user id.
    public func user(_ id: String) -> String { Self.pseudonym(id, kind: "user", key: self.current) }

    /// The stored form of a domain; no domain stays empty.
    public func domain(_ name: String) -> String { name.isEmpty ? "" : Self.pseudonym(name, kind: "domain", key: self.current) }

    /// The forms earlier keys gave the same user id (rows still to re-key).
    func previousUsers(_ id: String) -> [String] { self.previous.map { Self.pseudonym(id, kind: "user", key: $0) } }

    func previousDomains(_ name: String) -> [String] { name.isEmpty ? [] : self.previous.map { Self.pseudonym(name, kind: "domain", key: $0) } }

    static func pseudonym(_ value: String, kind: String, key: Key) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array("aurora \(kind)\u{0}\(value)".utf8), using: key.secret)
        return key.id + "." + code.prefix(16).map { String(format: "%02x", $0) }.joined()
    }
}

public struct PseudonymKeyError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
