import AuroraStatistics

/// A number read from a cell, with what its text showed.
public struct ParsedNumber: Sendable, Equatable {
    public var value: Double
    public var isIntegral: Bool
    /// Written with a leading zero ("007"): a code, not a quantity.
    public var leadingZero: Bool
    public var percent: Bool
    public var currency: Bool
    public var grouped: Bool
}

/// Reads numbers as people write them in CSV files: sign, currency sign before or after, digit
/// groups of three, decimal point or comma, exponent, percent. Exact for up to 15 significant
/// digits (Clinger's fast path); longer numbers go through strtod.
public enum NumberParser {
    /// Exact powers of ten (a literal, so it is initialised statically: no lazy-init check per use).
    private static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
        1e19, 1e20, 1e21, 1e22,
    ]

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    /// Length of a currency sign at `index` (0 if none): $ £ € ¥.
    @inline(__always)
    static func currencyLength(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int) -> Int {
        let byte = bytes[index]
        if byte == UInt8(ascii: "$") { return 1 }
        if byte == 0xC2 && index + 1 < bytes.count && (bytes[index + 1] == 0xA3 || bytes[index + 1] == 0xA5) { return 2 }
        if byte == 0xE2 && index + 2 < bytes.count && bytes[index + 1] == 0x82 && bytes[index + 2] == 0xAC { return 3 }
        return 0
    }

    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, style: DecimalStyle) -> ParsedNumber? {
        if let number = Self.parsePlain(bytes, style: style) { return number }
        var index = 0
        var end = bytes.count
        while index < end && bytes[index] == UInt8(ascii: " ") { index += 1 }
        while end > index && bytes[end - 1] == UInt8(ascii: " ") { end -= 1 }
        guard index < end else { return nil }
        var negative = false
        var signed = false
        var currency = false
        var percent = false
        // Prefix: sign and currency in either order ("-$5", "$-5").
        for _ in 0..<2 where index < end {
            let byte = bytes[index]
            if byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+") {
                if signed { return nil }
                signed = true
                negative = byte == UInt8(ascii: "-")
                index += 1
            } else if !currency, case let length = Self.currencyLength(bytes, index), length > 0 {
                currency = true
                index += length
                while index < end && bytes[index] == UInt8(ascii: " ") { index += 1 }
            }
        }
        // Suffix: percent or currency, possibly after a space ("12 %", "5 €").
        if end > index && bytes[end - 1] == UInt8(ascii: "%") {
            percent = true
            end -= 1
        } else if !currency && end - index >= 2 {
            for length in 1...3 where end - length > index && Self.currencyLength(bytes, end - length) == length {
                currency = true
                end -= length
                break
            }
        }
        while end > index && bytes[end - 1] == UInt8(ascii: " ") { end -= 1 }
        guard index < end else { return nil }

        let decimalSeparator = style == .point ? UInt8(ascii: ".") : UInt8(ascii: ",")
        let groupSeparator = style == .point ? UInt8(ascii: ",") : UInt8(ascii: ".")
        var mantissa: UInt64 = 0
        var significant = 0
        var dropped = 0  // integer digits beyond 19 significant ones
        var fractionDigits = 0
        var integerDigits = 0
        var grouped = false
        var groupLength = -1  // digits since the last group separator; -1 before the first
        let firstDigit = index
        while index < end {
            let byte = bytes[index]
            if Self.isDigit(byte) {
                Self.accumulate(byte, &mantissa, &significant, &dropped)
                integerDigits += 1
                if groupLength >= 0 { groupLength += 1 }
                index += 1
            } else if byte == groupSeparator || (style == .comma && (byte == UInt8(ascii: " ") || byte == UInt8(ascii: "'"))) {
                // Groups: 1-3 digits, then groups of exactly three.
                if integerDigits == 0 || (groupLength < 0 && integerDigits > 3) || (groupLength >= 0 && groupLength != 3) { return nil }
                grouped = true
                groupLength = 0
                index += 1
            } else {
                break
            }
        }
        if groupLength >= 0 && groupLength != 3 { return nil }
        let leadingZero = integerDigits > 1 && bytes[firstDigit] == UInt8(ascii: "0")
        var isIntegral = true
        if index < end && bytes[index] == decimalSeparator {
            index += 1
            isIntegral = false
            while index < end && Self.isDigit(bytes[index]) {
                if significant < 19 {
                    Self.accumulate(bytes[index], &mantissa, &significant, &dropped)
                    fractionDigits += 1
                }
                index += 1
            }
            if integerDigits == 0 && fractionDigits == 0 { return nil }
        } else if integerDigits == 0 {
            return nil
        }
        var exponent = 0
        if index < end && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
            index += 1
            var exponentNegative = false
            if index < end && (bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+")) {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            var digits = 0
            while index < end && Self.isDigit(bytes[index]) {
                if exponent < 100_000 { exponent = exponent * 10 + Int(bytes[index] - UInt8(ascii: "0")) }
                digits += 1
                index += 1
            }
            if digits == 0 { return nil }
            if exponentNegative { exponent = -exponent }
            isIntegral = false
        }
        guard index == end else { return nil }
        let scale = exponent + dropped - fractionDigits
        var value: Double
        if significant <= 15 && abs(scale) <= 22 {
            value = Double(mantissa)
            value = scale < 0 ? value / Self.powersOfTen[-scale] : value * Self.powersOfTen[scale]
        } else {
            value = Double("\(mantissa)e\(scale)") ?? .nan
        }
        if negative { value = -value }
        guard value.isFinite else { return nil }
        return ParsedNumber(
            value: value, isIntegral: isIntegral, leadingZero: leadingZero, percent: percent, currency: currency,
            grouped: grouped)
    }

    /// The common case in one tight loop: `[-]digits[<decimal separator>digits]`, exact (the
    /// mantissa fits in 53 bits). nil for anything else, which the general parser then reads.
    @inline(__always)
    static func parsePlain(_ bytes: UnsafeBufferPointer<UInt8>, style: DecimalStyle) -> ParsedNumber? {
        let count = bytes.count
        guard count > 0, count <= 17, let base = bytes.baseAddress else { return nil }
        var index = 0
        let negative = base[0] == UInt8(ascii: "-")
        if negative { index = 1 }
        let firstDigit = index
        var mantissa: UInt64 = 0
        while index < count, case let digit = base[index] &- UInt8(ascii: "0"), digit < 10 {
            mantissa = mantissa &* 10 &+ UInt64(digit)
            index += 1
        }
        let integerDigits = index - firstDigit
        guard integerDigits > 0 else { return nil }
        var fractionDigits = 0
        if index < count {
            guard base[index] == (style == .point ? UInt8(ascii: ".") : UInt8(ascii: ",")) else { return nil }
            index += 1
            let fractionStart = index
            while index < count, case let digit = base[index] &- UInt8(ascii: "0"), digit < 10 {
                mantissa = mantissa &* 10 &+ UInt64(digit)
                index += 1
            }
            fractionDigits = index - fractionStart
            guard fractionDigits > 0, index == count else { return nil }
        }
        // 16 digits at most (17 bytes), so no overflow; beyond 2^53 the general path rounds.
        guard mantissa <= 1 << 53 else { return nil }
        var value = Double(mantissa)
        if fractionDigits > 0 { value /= Self.powersOfTen[fractionDigits] }
        return ParsedNumber(
            value: negative ? -value : value, isIntegral: fractionDigits == 0,
            leadingZero: integerDigits > 1 && base[firstDigit] == UInt8(ascii: "0"), percent: false, currency: false,
            grouped: false)
    }

    @inline(__always)
    private static func accumulate(_ byte: UInt8, _ mantissa: inout UInt64, _ significant: inout Int, _ dropped: inout Int) {
        let digit = UInt64(byte - UInt8(ascii: "0"))
        if significant == 0 && digit == 0 { return }  // leading zeros are not significant
        if significant < 19 {
            mantissa = mantissa * 10 + digit
            significant += 1
        } else {
            dropped += 1
        }
    }
}
