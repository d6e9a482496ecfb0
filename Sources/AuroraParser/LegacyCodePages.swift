#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Legacy code pages through the C library's iconv (glibc has them all): the single-byte ones
/// as 128-entry tables built once, the double-byte ones (Shift_JIS, GBK, Big5, EUC-KR) as a
/// streaming converter.
enum LegacyCodePages {
    /// The iconv name of a code page AURORA reads through iconv.
    static func iconvName(_ encoding: TextEncoding) -> String? {
        switch encoding {
        case .windows1250: "WINDOWS-1250"
        case .windows1251: "WINDOWS-1251"
        case .shiftJIS: "SHIFT_JIS"
        // GB18030 is GBK's superset (and what files labelled GBK or GB2312 decode as).
        case .gbk: "GB18030"
        case .big5: "BIG5"
        case .eucKR: "EUC-KR"
        default: nil
        }
    }

    static let windows1250 = Self.table("WINDOWS-1250")
    static let windows1251 = Self.table("WINDOWS-1251")

    /// The Unicode scalar of each byte 0x80-0xFF (0: undefined in the code page).
    static func table(_ name: String) -> [UInt32] {
        guard let converter = IconvConverter(from: name) else { return [UInt32](repeating: 0, count: 128) }
        return (0x80...0xFF).map { byte in
            var output: [UInt8] = []
            let (consumed, replaced) = converter.convert([UInt8(byte)], isLast: true, into: &output)
            guard consumed == 1, replaced == 0 else { return 0 }
            return String(decoding: output, as: UTF8.self).unicodeScalars.first?.value ?? 0
        }
    }
}

/// One iconv conversion to UTF-8. Invalid input becomes U+FFFD (counted); an incomplete
/// character at the end of a chunk is left for the next one.
final class IconvConverter: @unchecked Sendable {
    private let handle: iconv_t

    init?(from name: String) {
        let handle = iconv_open("UTF-8", name)
        guard let handle, handle != iconv_t(bitPattern: -1) else { return nil }
        self.handle = handle
    }

    deinit { iconv_close(self.handle) }

    /// Returns the input bytes consumed and the replacement characters written.
    func convert(_ input: [UInt8], isLast: Bool, into output: inout [UInt8]) -> (consumed: Int, replaced: Int) {
        var replaced = 0
        var position = 0
        var buffer = [UInt8](repeating: 0, count: max(64, input.count * 4))
        while position < input.count {
            let (read, written, failure): (Int, Int, Int32) = input.withUnsafeBufferPointer { source in
                buffer.withUnsafeMutableBufferPointer { target in
                    var inPointer: UnsafeMutablePointer<CChar>? = UnsafeMutablePointer(mutating: UnsafeRawPointer(source.baseAddress! + position).assumingMemoryBound(to: CChar.self))
                    var inLeft = source.count - position
                    var outPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(target.baseAddress!).assumingMemoryBound(to: CChar.self)
                    var outLeft = target.count
                    let result = iconv(self.handle, &inPointer, &inLeft, &outPointer, &outLeft)
                    return (source.count - position - inLeft, target.count - outLeft, result == -1 ? errno : 0)
                }
            }
            output.append(contentsOf: buffer[0..<written])
            position += read
            switch failure {
            case 0: continue
            case E2BIG: continue
            case EINVAL where !isLast:
                return (position, replaced)  // a character cut by the chunk's end
            default:
                // EILSEQ (or EINVAL at the very end): one byte becomes U+FFFD, then on.
                output.append(contentsOf: [0xEF, 0xBF, 0xBD])
                replaced += 1
                position += 1
                iconv(self.handle, nil, nil, nil, nil)
            }
        }
        return (position, replaced)
    }
}
