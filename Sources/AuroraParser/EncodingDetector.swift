import Foundation

/// Text encodings AURORA reads, by their IANA names.
public enum TextEncoding: String, Sendable, CaseIterable {
    case utf8 = "UTF-8"
    case utf16LE = "UTF-16LE"
    case utf16BE = "UTF-16BE"
    case utf32LE = "UTF-32LE"
    case utf32BE = "UTF-32BE"
    case windows1252 = "windows-1252"
    case iso88591 = "ISO-8859-1"

    /// Accepts the IANA name or a common alias, case-insensitively (for user overrides).
    public init?(name: String) {
        let key = name.lowercased().replacingOccurrences(of: "_", with: "-")
        switch key {
        case "utf-8", "utf8": self = .utf8
        case "utf-16le", "utf16le": self = .utf16LE
        case "utf-16be", "utf16be": self = .utf16BE
        case "utf-32le", "utf32le": self = .utf32LE
        case "utf-32be", "utf32be": self = .utf32BE
        case "windows-1252", "cp1252", "win-1252": self = .windows1252
        case "iso-8859-1", "latin1", "latin-1", "iso8859-1": self = .iso88591
        default: return nil
        }
    }
}

/// What the detector decided about a file's encoding, and why.
public struct EncodingDetection: Sendable, Equatable {
    public var encoding: TextEncoding
    /// A byte-order mark was present (its bytes are not part of the text).
    public var bom: Bool
    public var bomLength: Int
    /// 0...1: 1 for a BOM or non-ASCII UTF-8 that validates; lower for guesses.
    public var confidence: Double
    /// One sentence a person can check, e.g. "valid UTF-8 with 12 multi-byte sequences".
    public var reason: String
}

/// Decides a file's encoding from its first bytes (a bounded sample), the way a person would:
/// a byte-order mark wins; then UTF-16 without a BOM shows as zero bytes in every other position;
/// then strict UTF-8 validity; otherwise a single-byte code page, windows-1252 when the sample
/// uses its printable 0x80-0x9F characters (curly quotes, euro sign), ISO-8859-1 when it does not.
public enum EncodingDetector {
    /// - Parameters:
    ///   - sample: the first bytes of the file.
    ///   - isWholeFile: the sample is the whole file, so a multi-byte sequence cut at its end is an
    ///     error rather than the sample's edge.
    public static func detect(_ sample: [UInt8], isWholeFile: Bool) -> EncodingDetection {
        if let bom = Self.byteOrderMark(sample) { return bom }
        if let utf16 = Self.utf16WithoutBOM(sample) { return utf16 }
        switch Self.validateUTF8(sample, allowTruncatedEnd: !isWholeFile) {
        case .valid(let multiByte):
            if multiByte == 0 {
                return EncodingDetection(
                    encoding: .utf8, bom: false, bomLength: 0, confidence: 0.99, reason: "only ASCII bytes in the sample")
            }
            return EncodingDetection(
                encoding: .utf8, bom: false, bomLength: 0, confidence: 1,
                reason: "valid UTF-8 with \(multiByte) multi-byte sequences")
        case .invalid(let offset):
            return Self.singleByte(sample, firstInvalidUTF8: offset)
        }
    }

    static func byteOrderMark(_ bytes: [UInt8]) -> EncodingDetection? {
        func found(_ encoding: TextEncoding, _ length: Int) -> EncodingDetection {
            EncodingDetection(encoding: encoding, bom: true, bomLength: length, confidence: 1, reason: "\(encoding.rawValue) byte-order mark")
        }
        if bytes.starts(with: [0xFF, 0xFE, 0x00, 0x00]) { return found(.utf32LE, 4) }
        if bytes.starts(with: [0x00, 0x00, 0xFE, 0xFF]) { return found(.utf32BE, 4) }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { return found(.utf8, 3) }
        if bytes.starts(with: [0xFF, 0xFE]) { return found(.utf16LE, 2) }
        if bytes.starts(with: [0xFE, 0xFF]) { return found(.utf16BE, 2) }
        return nil
    }

    /// Text in UTF-16 is mostly ASCII in tabular files, so one byte of each pair is zero.
    static func utf16WithoutBOM(_ bytes: [UInt8]) -> EncodingDetection? {
        let pairs = bytes.count / 2
        guard pairs >= 4 else { return nil }
        var evenZeros = 0
        var oddZeros = 0
        for index in 0..<pairs {
            if bytes[2 * index] == 0 { evenZeros += 1 }
            if bytes[2 * index + 1] == 0 { oddZeros += 1 }
        }
        let threshold = Double(pairs) * 0.4
        if Double(oddZeros) >= threshold && Double(evenZeros) < Double(pairs) * 0.05 {
            return EncodingDetection(
                encoding: .utf16LE, bom: false, bomLength: 0, confidence: min(1, Double(oddZeros) / Double(pairs) + 0.1),
                reason: "no BOM, but \(oddZeros) of \(pairs) byte pairs end in a zero byte")
        }
        if Double(evenZeros) >= threshold && Double(oddZeros) < Double(pairs) * 0.05 {
            return EncodingDetection(
                encoding: .utf16BE, bom: false, bomLength: 0, confidence: min(1, Double(evenZeros) / Double(pairs) + 0.1),
                reason: "no BOM, but \(evenZeros) of \(pairs) byte pairs start with a zero byte")
        }
        return nil
    }

    enum UTF8Validity: Equatable {
        case valid(multiByteSequences: Int)
        case invalid(offset: Int)
    }

    /// Strict UTF-8 over the whole sample.
    static func validateUTF8(_ bytes: [UInt8], allowTruncatedEnd: Bool) -> UTF8Validity {
        var index = 0
        var multiByte = 0
        while index < bytes.count {
            let length = UTF8Sequence.length(bytes, at: index)
            if length == -1 && allowTruncatedEnd { break }
            guard length > 0 else { return .invalid(offset: index) }
            if length > 1 { multiByte += 1 }
            index += length
        }
        return .valid(multiByteSequences: multiByte)
    }

    /// The five bytes windows-1252 leaves undefined.
    static let undefinedIn1252: Set<UInt8> = [0x81, 0x8D, 0x8F, 0x90, 0x9D]

    static func singleByte(_ bytes: [UInt8], firstInvalidUTF8 offset: Int) -> EncodingDetection {
        var c1 = 0
        var undefined = 0
        var high = 0
        for byte in bytes where byte >= 0x80 {
            high += 1
            if byte <= 0x9F {
                c1 += 1
                if Self.undefinedIn1252.contains(byte) { undefined += 1 }
            }
        }
        if c1 > 0 && undefined == 0 {
            return EncodingDetection(
                encoding: .windows1252, bom: false, bomLength: 0, confidence: 0.9,
                reason: "not UTF-8 (byte \(offset)); \(c1) bytes in 0x80-0x9F are windows-1252 punctuation")
        }
        let why = undefined > 0 ? "\(undefined) bytes undefined in windows-1252" : "no bytes in 0x80-0x9F"
        return EncodingDetection(
            encoding: .iso88591, bom: false, bomLength: 0, confidence: high > 0 ? 0.8 : 0.5,
            reason: "not UTF-8 (byte \(offset)); \(why)")
    }
}
