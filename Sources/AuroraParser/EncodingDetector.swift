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
    /// Central European (Polish, Czech, Hungarian, ...).
    case windows1250 = "windows-1250"
    /// Cyrillic.
    case windows1251 = "windows-1251"
    case shiftJIS = "Shift_JIS"
    case gbk = "GBK"
    case big5 = "Big5"
    case eucKR = "EUC-KR"

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
        case "windows-1250", "cp1250", "win-1250": self = .windows1250
        case "windows-1251", "cp1251", "win-1251": self = .windows1251
        case "shift-jis", "shiftjis", "sjis", "cp932", "windows-31j": self = .shiftJIS
        case "gbk", "gb2312", "gb18030", "cp936": self = .gbk
        case "big5", "cp950": self = .big5
        case "euc-kr", "euckr", "cp949": self = .eucKR
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
            // A few bad bytes in text that is otherwise UTF-8 (a truncated copy, one mangled
            // cell) do not make every `ü` of the file `Ã¼`: single-byte text almost never holds
            // valid multi-byte sequences, so many of them against a few invalid bytes is UTF-8.
            let (valid, invalid) = Self.utf8Sequences(sample, allowTruncatedEnd: !isWholeFile)
            if valid >= 4 * invalid {
                return EncodingDetection(
                    encoding: .utf8, bom: false, bomLength: 0, confidence: 0.9,
                    reason: "UTF-8 (\(valid) multi-byte sequences) except \(invalid) invalid byte sequence(s), the first at byte \(offset), read as U+FFFD")
            }
            return Self.legacy(sample, firstInvalidUTF8: offset)
        }
    }

    /// The legacy code pages a non-UTF-8 file is tried in, and how much more a reading in it
    /// must explain than windows-1252 (the most common) to win.
    static let legacyCandidates: [(encoding: TextEncoding, prior: Double)] = [
        (.windows1252, 1), (.windows1250, 0.98), (.windows1251, 0.98), (.shiftJIS, 0.97), (.gbk, 0.97),
    ]

    /// Czech and Hungarian read in windows-1252 are still words (`Dvoøák`, `Szûcs`): the bytes
    /// tell them apart. These are letters of their alphabets in windows-1250 (ő ű ř Ř Č ě ů ň ď
    /// č) and rare in Western text, whose own frequent letters (à â ç ê î å æ ñ À ã ð Ç) are
    /// missing or few.
    static func centralEuropeanLetters(_ sample: [UInt8]) -> Bool {
        var central = 0
        var western = 0
        for byte in sample where byte >= 0xC0 {
            switch byte {
            case 0xF5, 0xFB, 0xF8, 0xD8, 0xC8, 0xEC, 0xF9, 0xF2, 0xEF, 0xE8: central += 1
            case 0xE0, 0xE2, 0xE7, 0xEA, 0xEE, 0xE5, 0xE6, 0xF1, 0xC0, 0xE3, 0xF0, 0xC7: western += 1
            default: break
            }
        }
        return central >= 3 && western * 4 <= central
    }

    /// Reads the sample in each legacy code page and keeps the one whose words are words of one
    /// script: Russian in windows-1252 is `Ìîñêâà` (a word of accented capitals), Polish in it is
    /// `£ódŸ` (symbols inside words), Latin text in GBK is `Z` + a hanzi + `ich`.
    static func legacy(_ sample: [UInt8], firstInvalidUTF8 offset: Int) -> EncodingDetection {
        var scored: [(encoding: TextEncoding, score: Double, plausible: Int, words: Int)] = []
        for (encoding, prior) in Self.legacyCandidates {
            var transcoder = Transcoder(encoding: encoding)
            var text: [UInt8] = []
            transcoder.transcode(sample, isLast: true, into: &text)
            let (plausible, words) = LegacyWords.plausibleWords(String(decoding: text, as: UTF8.self), script: LegacyWords.Script(encoding))
            guard words > 0 else { continue }
            var score = prior * Double(plausible) / Double(words)
            // Japanese has kana, Chinese none: the two double-byte readings of CJK text tie otherwise.
            if encoding == .shiftJIS { score *= LegacyWords.kanaShare(String(decoding: text, as: UTF8.self)) >= 0.05 ? 1.02 : 0.9 }
            scored.append((encoding, score, plausible, words))
        }
        scored.sort { $0.score > $1.score }
        guard var best = scored.first else { return Self.singleByte(sample, firstInvalidUTF8: offset) }
        if best.encoding == .windows1252, let central = scored.first(where: { $0.encoding == .windows1250 }), central.score >= best.score * 0.98,
            Self.centralEuropeanLetters(sample)
        {
            best = central
        }
        guard best.encoding != .windows1252 else { return Self.singleByte(sample, firstInvalidUTF8: offset) }
        let runnerUp = scored.dropFirst().first
        let alternative = runnerUp.map { "; the next best reading, \($0.encoding.rawValue), explains \($0.plausible) of \($0.words); name the encoding with --encoding if it is another" } ?? ""
        return EncodingDetection(
            encoding: best.encoding, bom: false, bomLength: 0, confidence: min(0.95, best.score),
            reason: "not UTF-8 (byte \(offset)); \(best.plausible) of \(best.words) words with non-ASCII letters read as words in \(best.encoding.rawValue)\(alternative)")
    }

    /// Valid multi-byte UTF-8 sequences and invalid bytes (each resynchronised) in the sample.
    static func utf8Sequences(_ bytes: [UInt8], allowTruncatedEnd: Bool) -> (valid: Int, invalid: Int) {
        var index = 0
        var valid = 0
        var invalid = 0
        while index < bytes.count {
            let length = UTF8Sequence.length(bytes, at: index)
            if length == -1 && allowTruncatedEnd { break }
            if length > 0 {
                if length > 1 { valid += 1 }
                index += length
            } else {
                invalid += 1
                index += 1
            }
        }
        return (valid, invalid)
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
