import AuroraParser
import AuroraStatistics
import Foundation
import Testing

/// `../shared/corpus`, used as it is.
enum Corpus {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/corpus")

    static func bytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: root.appendingPathComponent(path)))
    }
}

/// Decodes a whole file through the streaming transcoder in chunks of `chunkSize`.
func transcode(_ bytes: [UInt8], chunkSize: Int = 3) -> (text: String, detection: EncodingDetection, replacements: Int) {
    let (output, detection, replacements) = transcodeBytes(bytes, chunkSize: chunkSize)
    return (String(decoding: output, as: UTF8.self), detection, replacements)
}

func transcodeBytes(_ bytes: [UInt8], chunkSize: Int) -> (output: [UInt8], detection: EncodingDetection, replacements: Int) {
    let detection = EncodingDetector.detect(Array(bytes.prefix(64 * 1024)), isWholeFile: bytes.count <= 64 * 1024)
    var transcoder = Transcoder(encoding: detection.encoding, bomLength: detection.bomLength)
    var output: [UInt8] = []
    var offset = 0
    repeat {
        let end = min(offset + chunkSize, bytes.count)
        transcoder.transcode(Array(bytes[offset..<end]), isLast: end == bytes.count, into: &output)
        offset = end
    } while offset < bytes.count
    return (output, detection, transcoder.replacements)
}

@Suite("Encoding detection and transcoding")
struct EncodingTests {
    @Test(arguments: [
        ("csvkit-examples/test_utf8.csv", TextEncoding.utf8, false),
        ("csvkit-examples/test_utf8_bom.csv", .utf8, true),
        ("csvkit-examples/test_utf16_big.csv", .utf16BE, true),
        ("csvkit-examples/test_utf16_little.csv", .utf16LE, true),
        ("csvkit-examples/test_latin1.csv", .iso88591, false),
        ("csv-spectrum/csvs/utf8.csv", .utf8, false),
    ])
    func corpusFiles(path: String, encoding: TextEncoding, bom: Bool) throws {
        let bytes = try Corpus.bytes(path)
        let (text, detection, replacements) = transcode(bytes)
        #expect(detection.encoding == encoding, "\(path): \(detection.reason)")
        #expect(detection.bom == bom)
        #expect(replacements == 0)
        #expect(!text.hasPrefix("\u{FEFF}"), "the BOM is not part of the text")
    }

    @Test func corpusTextComesOutRight() throws {
        #expect(transcode(try Corpus.bytes("csvkit-examples/test_utf16_big.csv")).text.hasPrefix("a,b,c\n1,2,3\n4,5,\u{02A4}"))
        #expect(transcode(try Corpus.bytes("csvkit-examples/test_utf16_little.csv")).text.hasPrefix("a,b,c\n1,2,3\n4,5,\u{02A4}"))
        #expect(transcode(try Corpus.bytes("csvkit-examples/test_latin1.csv")).text.hasPrefix("a,b,c\n1,2,3\n4,5,©"))
        #expect(transcode(try Corpus.bytes("csvkit-examples/test_utf8_bom.csv")).text.hasPrefix("foo,bar,baz\n1,2,3\n4,5,ʤ"))
    }

    static let sample = "name;price;city\n\"Müller, Zoë\";12,50 €;Kraków\n“quoted” – dash;3,00;São Paulo\n😀 emoji;1;Ørsted\n"

    /// Every encoding the issue names, generated from one text, with and without BOM, read back
    /// through chunks of every small size (so characters split across chunks are exercised).
    @Test(arguments: [
        (String.Encoding.utf8, TextEncoding.utf8, [UInt8]()),
        (.utf8, .utf8, [0xEF, 0xBB, 0xBF]),
        (.utf16LittleEndian, .utf16LE, []),
        (.utf16LittleEndian, .utf16LE, [0xFF, 0xFE]),
        (.utf16BigEndian, .utf16BE, []),
        (.utf16BigEndian, .utf16BE, [0xFE, 0xFF]),
        (.utf32LittleEndian, .utf32LE, [0xFF, 0xFE, 0x00, 0x00]),
        (.utf32BigEndian, .utf32BE, [0x00, 0x00, 0xFE, 0xFF]),
    ])
    func unicodeEncodingsRoundTrip(foundation: String.Encoding, expected: TextEncoding, bom: [UInt8]) throws {
        let bytes = bom + [UInt8](Self.sample.data(using: foundation)!)
        for chunkSize in [1, 2, 3, 5, 7, 64] {
            let (text, detection, replacements) = transcode(bytes, chunkSize: chunkSize)
            #expect(detection.encoding == expected, "\(detection.reason)")
            #expect(detection.bom == !bom.isEmpty)
            #expect(replacements == 0)
            #expect(text == Self.sample, "chunk size \(chunkSize)")
        }
    }

    @Test func windows1252IsToldFromLatin1ByItsPunctuation() throws {
        let text = "name;note\nZoë;“quoted” – 5 €\n"
        let bytes = [UInt8](text.data(using: .windowsCP1252)!)
        let (decoded, detection, _) = transcode(bytes)
        #expect(detection.encoding == .windows1252, "\(detection.reason)")
        #expect(decoded == text)

        let latin = "name;city\nZoë;Kraków?\nJosé;Ørsted\n".replacingOccurrences(of: "ó", with: "o")
        let latinBytes = [UInt8](latin.data(using: .isoLatin1)!)
        let (latinDecoded, latinDetection, _) = transcode(latinBytes)
        #expect(latinDetection.encoding == .iso88591, "\(latinDetection.reason)")
        #expect(latinDecoded == latin)
    }

    @Test func aUTF8CharacterCutByTheSampleEdgeIsStillUTF8() {
        let bytes = [UInt8]("abc,é".utf8)
        #expect(EncodingDetector.detect(Array(bytes.dropLast()), isWholeFile: false).encoding == .utf8)
        #expect(EncodingDetector.detect(Array(bytes.dropLast()), isWholeFile: true).encoding != .utf8)
    }

    @Test func invalidBytesBecomeCountedReplacements() {
        var transcoder = Transcoder(encoding: .utf8)
        var output: [UInt8] = []
        transcoder.transcode([0x61, 0xFF, 0x62, 0xC3], isLast: false, into: &output)
        transcoder.transcode([0xA9, 0xE2, 0x82], isLast: true, into: &output)
        #expect(String(decoding: output, as: UTF8.self) == "a\u{FFFD}bé\u{FFFD}\u{FFFD}")
        #expect(transcoder.replacements == 3)

        var utf16 = Transcoder(encoding: .utf16LE)
        var out16: [UInt8] = []
        utf16.transcode([0x3D, 0xD8, 0x41, 0x00, 0x00], isLast: true, into: &out16)  // lone high surrogate, 'A', odd byte
        #expect(String(decoding: out16, as: UTF8.self) == "\u{FFFD}A\u{FFFD}")
    }

    @Test func randomBytesNeverCrash() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let (output, _, _) = transcodeBytes(bytes, chunkSize: Int.random(in: 1...17, using: &generator))
            #expect(String(validating: output, as: UTF8.self) != nil, "the transcoder must only ever write valid UTF-8")
        }
    }

    @Test func overridesAcceptCommonNames() {
        #expect(TextEncoding(name: "latin1") == .iso88591)
        #expect(TextEncoding(name: "CP1252") == .windows1252)
        #expect(TextEncoding(name: "utf_16le") == .utf16LE)
        #expect(TextEncoding(name: "klingon") == nil)
    }
}
