/// Cell texts that mean "no value". Matched exactly (case-sensitive, after trimming spaces); an
/// empty or all-space cell is always missing.
public struct MissingMarkers: Sendable, Hashable {
    public static let defaults = [
        "NA", "N/A", "n/a", "na", "NaN", "nan", "NAN", "null", "NULL", "Null", "None", "none", "NONE", "nil",
        "-", "--", "?", "#N/A", "#NA", "#N/A N/A", "<NA>", "missing", "Missing", ".",
    ]

    public let markers: [String]
    /// Markers grouped by byte length, so most cells are rejected by their length alone.
    private let byLength: [[[UInt8]]]
    /// First bytes of the markers: most cells (numbers, words) are rejected by their first byte.
    private let firstBytes: (UInt64, UInt64, UInt64, UInt64)

    public init(_ markers: [String] = MissingMarkers.defaults) {
        self.markers = markers
        let encoded = markers.map { Array($0.utf8) }.filter { !$0.isEmpty }
        var byLength = [[[UInt8]]](repeating: [], count: (encoded.map(\.count).max() ?? 0) + 1)
        for marker in encoded { byLength[marker.count].append(marker) }
        self.byLength = byLength
        var first: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        for marker in encoded {
            let byte = Int(marker[0])
            switch byte >> 6 {
            case 0: first.0 |= 1 << UInt64(byte & 63)
            case 1: first.1 |= 1 << UInt64(byte & 63)
            case 2: first.2 |= 1 << UInt64(byte & 63)
            default: first.3 |= 1 << UInt64(byte & 63)
            }
        }
        self.firstBytes = first
    }

    public static func == (lhs: MissingMarkers, rhs: MissingMarkers) -> Bool { lhs.markers == rhs.markers }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.markers) }

    @inline(__always)
    private func mayStartMarker(_ byte: UInt8) -> Bool {
        let bit = UInt64(1) << UInt64(byte & 63)
        switch byte >> 6 {
        case 0: return self.firstBytes.0 & bit != 0
        case 1: return self.firstBytes.1 & bit != 0
        case 2: return self.firstBytes.2 & bit != 0
        default: return self.firstBytes.3 & bit != 0
        }
    }

    @inline(__always)
    public func isMissing(_ cell: UnsafeBufferPointer<UInt8>) -> Bool {
        var start = 0
        var end = cell.count
        while start < end && cell[start] == UInt8(ascii: " ") { start += 1 }
        if start == end { return true }
        if !self.mayStartMarker(cell[start]) { return false }
        while cell[end - 1] == UInt8(ascii: " ") { end -= 1 }
        let length = end - start
        guard length < self.byLength.count else { return false }
        candidates: for marker in self.byLength[length] {
            for index in 0..<length where marker[index] != cell[start + index] { continue candidates }
            return true
        }
        return false
    }
}

/// true/false, yes/no, t/f, y/n in any case.
public enum BooleanParser {
    @inline(__always)
    public static func parse(_ cell: UnsafeBufferPointer<UInt8>) -> Bool? {
        guard cell.count >= 1, cell.count <= 5 else { return nil }
        // The cell in lower case, packed little-endian into one word (no allocation per cell).
        var word: UInt64 = 0
        for index in 0..<cell.count { word |= UInt64(cell[index] | 0x20) << UInt64(8 * index) }
        switch word {
        case Self.pack("true"), Self.pack("yes"), Self.pack("t"), Self.pack("y"): return true
        case Self.pack("false"), Self.pack("no"), Self.pack("f"), Self.pack("n"): return false
        default: return nil
        }
    }

    @inline(__always)
    private static func pack(_ text: StaticString) -> UInt64 {
        var word: UInt64 = 0
        text.withUTF8Buffer { bytes in
            for index in 0..<bytes.count { word |= UInt64(bytes[index]) << UInt64(8 * index) }
        }
        return word
    }
}
