/// Turns a file's bytes into UTF-8, chunk by chunk: a character split across two chunks is
/// carried over, never lost. Bytes that are invalid in the encoding become U+FFFD and are
/// counted, so a damaged file is still read and the damage is reported, never a crash.
public struct Transcoder: Sendable {
    public let encoding: TextEncoding
    /// Replacement characters written for invalid input so far.
    public private(set) var replacements = 0
    private var carry: [UInt8] = []
    private var bomToSkip: Int
    /// The double-byte code pages' converter.
    private let converter: IconvConverter?

    public init(encoding: TextEncoding, bomLength: Int = 0) {
        self.encoding = encoding
        self.bomToSkip = bomLength
        self.converter = LegacyCodePages.iconvName(encoding).flatMap { [.shiftJIS, .gbk, .big5, .eucKR].contains(encoding) ? IconvConverter(from: $0) : nil }
    }

    /// Appends the UTF-8 for `chunk` to `output`. With `isLast`, an unfinished character at the
    /// end is replaced instead of carried.
    public mutating func transcode(_ chunk: [UInt8], isLast: Bool, into output: inout [UInt8]) {
        var input = self.carry.isEmpty ? chunk : self.carry + chunk
        self.carry = []
        if self.bomToSkip > 0 {
            let skipped = min(self.bomToSkip, input.count)
            input.removeFirst(skipped)
            self.bomToSkip -= skipped
        }
        output.reserveCapacity(output.count + input.count + input.count / 2)
        let consumed: Int
        switch self.encoding {
        case .utf8: consumed = self.utf8(input, isLast: isLast, into: &output)
        case .utf16LE: consumed = self.utf16(input, bigEndian: false, isLast: isLast, into: &output)
        case .utf16BE: consumed = self.utf16(input, bigEndian: true, isLast: isLast, into: &output)
        case .utf32LE: consumed = self.utf32(input, bigEndian: false, isLast: isLast, into: &output)
        case .utf32BE: consumed = self.utf32(input, bigEndian: true, isLast: isLast, into: &output)
        case .windows1252, .iso88591, .windows1250, .windows1251: consumed = self.singleByte(input, into: &output)
        case .shiftJIS, .gbk, .big5, .eucKR: consumed = self.doubleByte(input, isLast: isLast, into: &output)
        }
        if consumed < input.count { self.carry = Array(input[consumed...]) }
    }

    static let replacement: [UInt8] = [0xEF, 0xBF, 0xBD]

    private mutating func replace(into output: inout [UInt8]) {
        self.replacements += 1
        output.append(contentsOf: Self.replacement)
    }

    static func appendScalar(_ value: UInt32, to output: inout [UInt8]) {
        switch value {
        case 0..<0x80:
            output.append(UInt8(value))
        case 0x80..<0x800:
            output.append(UInt8(0xC0 | (value >> 6)))
            output.append(UInt8(0x80 | (value & 0x3F)))
        case 0x800..<0x10000:
            output.append(UInt8(0xE0 | (value >> 12)))
            output.append(UInt8(0x80 | ((value >> 6) & 0x3F)))
            output.append(UInt8(0x80 | (value & 0x3F)))
        default:
            output.append(UInt8(0xF0 | (value >> 18)))
            output.append(UInt8(0x80 | ((value >> 12) & 0x3F)))
            output.append(UInt8(0x80 | ((value >> 6) & 0x3F)))
            output.append(UInt8(0x80 | (value & 0x3F)))
        }
    }

    /// Returns how many input bytes were consumed (the rest is an unfinished sequence).
    private mutating func utf8(_ input: [UInt8], isLast: Bool, into output: inout [UInt8]) -> Int {
        var index = 0
        while index < input.count {
            // Copy the longest valid run at once.
            var runEnd = index
            var truncatedAt: Int?
            while runEnd < input.count {
                let length = UTF8Sequence.length(input, at: runEnd)
                if length > 0 {
                    runEnd += length
                } else {
                    if length == -1 { truncatedAt = runEnd }
                    break
                }
            }
            output.append(contentsOf: input[index..<runEnd])
            index = runEnd
            if index == input.count { break }
            if truncatedAt != nil && !isLast { return index }
            self.replace(into: &output)
            index += 1
        }
        return input.count
    }

    private mutating func utf16(_ input: [UInt8], bigEndian: Bool, isLast: Bool, into output: inout [UInt8]) -> Int {
        func unit(_ at: Int) -> UInt32 {
            bigEndian ? UInt32(input[at]) << 8 | UInt32(input[at + 1]) : UInt32(input[at + 1]) << 8 | UInt32(input[at])
        }
        var index = 0
        while index + 1 < input.count {
            let first = unit(index)
            if first >= 0xD800 && first <= 0xDBFF {
                guard index + 3 < input.count else {
                    if !isLast { return index }
                    self.replace(into: &output)
                    index += 2
                    continue
                }
                let second = unit(index + 2)
                if second >= 0xDC00 && second <= 0xDFFF {
                    Self.appendScalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00), to: &output)
                    index += 4
                } else {
                    self.replace(into: &output)
                    index += 2
                }
            } else if first >= 0xDC00 && first <= 0xDFFF {
                self.replace(into: &output)
                index += 2
            } else {
                Self.appendScalar(first, to: &output)
                index += 2
            }
        }
        if index < input.count {
            if !isLast { return index }
            self.replace(into: &output)
        }
        return input.count
    }

    private mutating func utf32(_ input: [UInt8], bigEndian: Bool, isLast: Bool, into output: inout [UInt8]) -> Int {
        var index = 0
        while index + 3 < input.count {
            let b = (UInt32(input[index]), UInt32(input[index + 1]), UInt32(input[index + 2]), UInt32(input[index + 3]))
            let value = bigEndian ? b.0 << 24 | b.1 << 16 | b.2 << 8 | b.3 : b.3 << 24 | b.2 << 16 | b.1 << 8 | b.0
            if value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF) {
                self.replace(into: &output)
            } else {
                Self.appendScalar(value, to: &output)
            }
            index += 4
        }
        if index < input.count {
            if !isLast { return index }
            self.replace(into: &output)
        }
        return input.count
    }

    /// windows-1252's printable characters in 0x80-0x9F (0 = undefined there).
    static let windows1252High: [UInt32] = [
        0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
        0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
    ]

    private mutating func doubleByte(_ input: [UInt8], isLast: Bool, into output: inout [UInt8]) -> Int {
        guard let converter = self.converter else {
            // No converter (an iconv without the code page): every high byte is unreadable.
            return self.singleByte(input, into: &output)
        }
        let (consumed, replaced) = converter.convert(input, isLast: isLast, into: &output)
        self.replacements += replaced
        return consumed
    }

    private mutating func singleByte(_ input: [UInt8], into output: inout [UInt8]) -> Int {
        let table: [UInt32]? =
            switch self.encoding {
            case .windows1250: LegacyCodePages.windows1250
            case .windows1251: LegacyCodePages.windows1251
            default: nil
            }
        if let table {
            for byte in input {
                if byte < 0x80 {
                    output.append(byte)
                } else if table[Int(byte - 0x80)] != 0 {
                    Self.appendScalar(table[Int(byte - 0x80)], to: &output)
                } else {
                    self.replace(into: &output)
                }
            }
            return input.count
        }
        for byte in input {
            if byte < 0x80 {
                output.append(byte)
            } else if self.encoding == .windows1252 && byte <= 0x9F {
                let scalar = Self.windows1252High[Int(byte - 0x80)]
                // Undefined bytes pass through as their C1 control, as Python and browsers do.
                Self.appendScalar(scalar == 0 ? UInt32(byte) : scalar, to: &output)
            } else {
                Self.appendScalar(UInt32(byte), to: &output)
            }
        }
        return input.count
    }
}
