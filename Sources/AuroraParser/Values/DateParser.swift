/// How a column writes its dates; two cells agree when their shapes are equal.
public struct DateShape: Sendable, Hashable {
    public enum Layout: UInt8, Sendable {
        /// Three numbers: 2024-01-31, 31/01/2024, 01/31/24.
        case numeric
        /// Day, month name, year: 31-Jan-2024, 31 Jan 2024.
        case dayMonthName
        /// Month name, day, year: Jan 31, 2024.
        case monthNameDay
    }

    public var layout: Layout
    public var separator: UInt8
    public var yearDigits: UInt8
    public var hasTime: Bool
    /// The time flavour, merged over a column ("T" or " "; seconds, fraction, zone, AM/PM).
    public var timeSeparator: UInt8 = 0
    public var seconds = false
    public var fraction = false
    public var zone = false
    public var meridiem = false

    /// The part that must agree across a column.
    func agrees(with other: DateShape) -> Bool {
        self.layout == other.layout && self.separator == other.separator && self.yearDigits == other.yearDigits
            && self.hasTime == other.hasTime && self.timeSeparator == other.timeSeparator && self.meridiem == other.meridiem
    }

    mutating func absorb(_ other: DateShape) {
        self.seconds = self.seconds || other.seconds
        self.fraction = self.fraction || other.fraction
        self.zone = self.zone || other.zone
    }
}

/// Orders in which three date numbers can be read.
public struct DateOrders: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let ymd = DateOrders(rawValue: 1)
    public static let dmy = DateOrders(rawValue: 2)
    public static let mdy = DateOrders(rawValue: 4)
}

/// A date or date-time read from a cell: its shape, the orders it can be read in, and the Unix
/// time (seconds, UTC unless the cell gives a zone) for each of them.
public struct ParsedDate: Sendable {
    public var shape: DateShape
    public var orders: DateOrders
    /// Indexed by order: 0 ymd, 1 dmy, 2 mdy (valid only where `orders` has the order).
    public var seconds: (Int64, Int64, Int64)
}

/// Reads the date and date-time forms found in exported files. Rejects impossible dates
/// (month 13, 30 February), so a column of codes like 2024-99-99 is not called a date.
public enum DateParser {
    private static let monthNames: [[UInt8]] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ].map { Array($0.utf8) }
    private static let fullMonthNames: [[UInt8]] = [
        "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
        "november", "december",
    ].map { Array($0.utf8) }

    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> ParsedDate? {
        var index = 0
        var end = bytes.count
        while index < end && bytes[index] == UInt8(ascii: " ") { index += 1 }
        while end > index && bytes[end - 1] == UInt8(ascii: " ") { end -= 1 }
        // The shortest date is 6 bytes (1/2/24); anything longer than 40 is not one.
        guard end - index >= 6, end - index <= 40 else { return nil }
        let first = bytes[index]
        guard NumberParser.isDigit(first) || Self.isLetter(first) else { return nil }
        var cursor = index
        var shape: DateShape
        // At most two readings (dmy and mdy); kept in a fixed pair so a date costs no allocation.
        typealias Candidate = (order: DateOrders, year: Int, month: Int, day: Int)
        var candidates: (Candidate?, Candidate?) = (nil, nil)
        if NumberParser.isDigit(first) {
            guard let (a, aDigits) = Self.number(bytes, &cursor, end, maxDigits: 4), cursor < end else { return nil }
            let separator = bytes[cursor]
            if separator == UInt8(ascii: "-") || separator == UInt8(ascii: "/") || separator == UInt8(ascii: ".") || separator == UInt8(ascii: " "),
                cursor + 1 < end, Self.isLetter(bytes[cursor + 1])
            {
                // 31-Jan-2024
                cursor += 1
                guard aDigits <= 2, let month = Self.monthName(bytes, &cursor, end), cursor < end, bytes[cursor] == separator else { return nil }
                cursor += 1
                guard let (year, yearDigits) = Self.number(bytes, &cursor, end, maxDigits: 4), yearDigits == 4 || yearDigits == 2 else { return nil }
                shape = DateShape(layout: .dayMonthName, separator: separator, yearDigits: UInt8(yearDigits), hasTime: false)
                candidates.0 = (.dmy, Self.fullYear(year, digits: yearDigits), month, a)
            } else {
                guard separator == UInt8(ascii: "-") || separator == UInt8(ascii: "/") || separator == UInt8(ascii: ".") else { return nil }
                cursor += 1
                guard let (b, bDigits) = Self.number(bytes, &cursor, end, maxDigits: 2), bDigits >= 1,
                    cursor < end, bytes[cursor] == separator
                else { return nil }
                cursor += 1
                guard let (c, cDigits) = Self.number(bytes, &cursor, end, maxDigits: 4) else { return nil }
                if aDigits == 4 {
                    guard cDigits <= 2 else { return nil }
                    shape = DateShape(layout: .numeric, separator: separator, yearDigits: 4, hasTime: false)
                    candidates.0 = (.ymd, a, b, c)
                } else {
                    guard aDigits <= 2, cDigits == 4 || cDigits == 2 else { return nil }
                    let year = Self.fullYear(c, digits: cDigits)
                    shape = DateShape(layout: .numeric, separator: separator, yearDigits: UInt8(cDigits), hasTime: false)
                    candidates = ((.dmy, year, b, a), (.mdy, year, a, b))
                }
            }
        } else {
            // Jan 31, 2024
            guard let month = Self.monthName(bytes, &cursor, end), cursor < end, bytes[cursor] == UInt8(ascii: " ") else { return nil }
            cursor += 1
            guard let (day, _) = Self.number(bytes, &cursor, end, maxDigits: 2) else { return nil }
            if cursor < end && bytes[cursor] == UInt8(ascii: ",") { cursor += 1 }
            guard cursor < end, bytes[cursor] == UInt8(ascii: " ") else { return nil }
            cursor += 1
            guard let (year, yearDigits) = Self.number(bytes, &cursor, end, maxDigits: 4), yearDigits == 4 else { return nil }
            shape = DateShape(layout: .monthNameDay, separator: UInt8(ascii: " "), yearDigits: 4, hasTime: false)
            candidates.0 = (.mdy, year, month, day)
        }
        var timeOfDay: Int64 = 0
        if cursor < end {
            guard bytes[cursor] == UInt8(ascii: "T") || bytes[cursor] == UInt8(ascii: " ") else { return nil }
            shape.hasTime = true
            shape.timeSeparator = bytes[cursor]
            cursor += 1
            guard let time = Self.time(bytes, &cursor, end, shape: &shape), cursor == end else { return nil }
            timeOfDay = time
        }
        var parsed = ParsedDate(shape: shape, orders: [], seconds: (0, 0, 0))
        func consider(_ candidate: Candidate?) {
            guard let candidate, (1...12).contains(candidate.month), candidate.day >= 1,
                candidate.day <= Self.daysInMonth(candidate.year, candidate.month)
            else { return }
            let seconds = Self.daysFromCivil(candidate.year, candidate.month, candidate.day) * 86_400 + timeOfDay
            parsed.orders.insert(candidate.order)
            switch candidate.order {
            case .ymd: parsed.seconds.0 = seconds
            case .dmy: parsed.seconds.1 = seconds
            default: parsed.seconds.2 = seconds
            }
        }
        consider(candidates.0)
        consider(candidates.1)
        return parsed.orders.isEmpty ? nil : parsed
    }

    /// HH:MM[:SS[.fff]][ AM|PM][Z|±HH[:]MM]; returns seconds into the day, corrected to UTC.
    private static func time(_ bytes: UnsafeBufferPointer<UInt8>, _ cursor: inout Int, _ end: Int, shape: inout DateShape) -> Int64? {
        guard let (hour, _) = Self.number(bytes, &cursor, end, maxDigits: 2), cursor < end, bytes[cursor] == UInt8(ascii: ":") else { return nil }
        cursor += 1
        guard let (minute, minuteDigits) = Self.number(bytes, &cursor, end, maxDigits: 2), minuteDigits == 2 else { return nil }
        var second = 0
        if cursor < end && bytes[cursor] == UInt8(ascii: ":") {
            cursor += 1
            guard let (value, digits) = Self.number(bytes, &cursor, end, maxDigits: 2), digits == 2 else { return nil }
            second = value
            shape.seconds = true
            if cursor < end && (bytes[cursor] == UInt8(ascii: ".") || bytes[cursor] == UInt8(ascii: ",")) {
                cursor += 1
                let start = cursor
                while cursor < end && NumberParser.isDigit(bytes[cursor]) { cursor += 1 }
                guard cursor > start, cursor - start <= 9 else { return nil }
                shape.fraction = true
            }
        }
        var hour24 = hour
        // AM/PM, with or without a space before it.
        let meridiemAt = cursor < end && bytes[cursor] == UInt8(ascii: " ") ? cursor + 1 : cursor
        if meridiemAt + 2 <= end, bytes[meridiemAt + 1] | 0x20 == UInt8(ascii: "m") {
            let letter = bytes[meridiemAt] | 0x20
            if letter == UInt8(ascii: "a") || letter == UInt8(ascii: "p") {
                guard (1...12).contains(hour) else { return nil }
                hour24 = hour % 12 + (letter == UInt8(ascii: "p") ? 12 : 0)
                shape.meridiem = true
                cursor = meridiemAt + 2
            }
        }
        guard hour24 < 24, minute < 60, second <= 60 else { return nil }
        var offset = 0
        if cursor < end {
            let sign = bytes[cursor]
            if sign == UInt8(ascii: "Z") {
                cursor += 1
            } else if sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                cursor += 1
                guard let (zoneHour, zoneDigits) = Self.number(bytes, &cursor, end, maxDigits: 2), zoneDigits == 2 else { return nil }
                var zoneMinute = 0
                if cursor < end && bytes[cursor] == UInt8(ascii: ":") { cursor += 1 }
                if cursor < end {
                    guard let (value, digits) = Self.number(bytes, &cursor, end, maxDigits: 2), digits == 2 else { return nil }
                    zoneMinute = value
                }
                guard zoneHour <= 14, zoneMinute < 60 else { return nil }
                offset = (zoneHour * 60 + zoneMinute) * 60 * (sign == UInt8(ascii: "-") ? -1 : 1)
            } else {
                return nil
            }
            shape.zone = true
        }
        return Int64(hour24 * 3600 + minute * 60 + second - offset)
    }

    @inline(__always)
    private static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) &- UInt8(ascii: "a") < 26 }

    private static func number(_ bytes: UnsafeBufferPointer<UInt8>, _ cursor: inout Int, _ end: Int, maxDigits: Int) -> (Int, Int)? {
        var value = 0
        var digits = 0
        while cursor < end && NumberParser.isDigit(bytes[cursor]) {
            digits += 1
            if digits > maxDigits { return nil }
            value = value * 10 + Int(bytes[cursor] - UInt8(ascii: "0"))
            cursor += 1
        }
        return digits == 0 ? nil : (value, digits)
    }

    /// A month's English name or three-letter abbreviation (any case); 1...12.
    private static func monthName(_ bytes: UnsafeBufferPointer<UInt8>, _ cursor: inout Int, _ end: Int) -> Int? {
        let start = cursor
        while cursor < end && Self.isLetter(bytes[cursor]) { cursor += 1 }
        let word = bytes[start..<cursor].map { $0 | 0x20 }
        if let index = Self.monthNames.firstIndex(of: word) ?? Self.fullMonthNames.firstIndex(of: word) { return index + 1 }
        if word == Array("sept".utf8) { return 9 }
        return nil
    }

    /// POSIX %y: 69-99 are 1969-1999, 00-68 are 2000-2068.
    private static func fullYear(_ year: Int, digits: Int) -> Int {
        digits == 2 ? (year >= 69 ? 1900 + year : 2000 + year) : year
    }

    static func daysInMonth(_ year: Int, _ month: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm).
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// A strftime-style description of a shape read in `order`, e.g. "%d/%m/%Y %H:%M:%S".
    public static func format(_ shape: DateShape, order: DateOrders) -> String {
        let separator = String(UnicodeScalar(shape.separator))
        let year = shape.yearDigits == 2 ? "%y" : "%Y"
        var text: String
        switch shape.layout {
        case .numeric:
            switch order {
            case .ymd: text = "%Y\(separator)%m\(separator)%d"
            case .dmy: text = "%d\(separator)%m\(separator)\(year)"
            default: text = "%m\(separator)%d\(separator)\(year)"
            }
        case .dayMonthName: text = "%d\(separator)%b\(separator)\(year)"
        case .monthNameDay: text = "%b %d, %Y"
        }
        if shape.hasTime {
            text += String(UnicodeScalar(shape.timeSeparator))
            text += shape.meridiem ? "%I:%M" : "%H:%M"
            if shape.seconds { text += ":%S" }
            if shape.fraction { text += ".%f" }
            if shape.meridiem { text += " %p" }
            if shape.zone { text += "%z" }
        }
        return text
    }
}
