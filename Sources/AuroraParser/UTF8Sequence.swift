/// Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF), one sequence at a time;
/// shared by the encoding detector and the transcoder.
enum UTF8Sequence {
    /// Length of the valid UTF-8 sequence at `index`; 0 if invalid; -1 if cut off by the end.
    @inline(__always)
    static func length<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes, at index: Int) -> Int where Bytes.Index == Int {
        let lead = bytes[index]
        if lead < 0x80 { return 1 }
        let length: Int
        var lower: UInt8 = 0x80
        var upper: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; upper = 0x9F
        case 0xF0: length = 4; lower = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; upper = 0x8F
        default: return 0
        }
        for position in 1..<length {
            guard index + position < bytes.count else { return -1 }
            let byte = bytes[index + position]
            let (low, high) = position == 1 ? (lower, upper) : (UInt8(0x80), UInt8(0xBF))
            guard byte >= low && byte <= high else { return 0 }
        }
        return length
    }
}
