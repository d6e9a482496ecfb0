@testable import AuroraParser
import Foundation
import Testing

func tokenize(_ text: String, dialect: Dialect = Dialect(), chunkSize: Int = 1 << 20, limits: TokenizerLimits = .init()) throws -> [[String]] {
    let bytes = Array(text.utf8)
    var tokenizer = CSVTokenizer(dialect: dialect, limits: limits)
    var rows: [[String]] = []
    var offset = 0
    while offset < bytes.count {
        let end = min(offset + chunkSize, bytes.count)
        try tokenizer.feed(bytes[offset..<end]) { rows.append($0.strings) }
        offset = end
    }
    try tokenizer.finish { rows.append($0.strings) }
    return rows
}

@Suite("CSV tokenizer")
struct TokenizerTests {
    static let spectrum = (try? FileManager.default.contentsOfDirectory(
        atPath: Corpus.root.appendingPathComponent("csv-spectrum/csvs").path))?.filter { $0.hasSuffix(".csv") }.sorted() ?? []

    @Test func theCorpusIsThere() {
        #expect(Self.spectrum.count == 11, "../shared/corpus/csv-spectrum must sit beside the repository")
    }

    /// Every csv-spectrum case, cell by cell against its JSON, fed in chunks of 1, 2, 3, 7 and all bytes.
    @Test(arguments: spectrum)
    func csvSpectrum(file: String) throws {
        let name = String(file.dropLast(4))
        let text = String(decoding: try Corpus.bytes("csv-spectrum/csvs/\(file)"), as: UTF8.self)
        let expected = try JSONSerialization.jsonObject(with: Data(try Corpus.bytes("csv-spectrum/json/\(name).json"))) as! [[String: String]]
        for chunkSize in [1, 2, 3, 7, 1 << 20] {
            let rows = try tokenize(text, chunkSize: chunkSize)
            let header = rows.first ?? []
            let records = rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
            #expect(records == expected, "\(file), chunk size \(chunkSize)")
        }
    }

    @Test func lenientCases() throws {
        #expect(try tokenize("a,b\n1,2,\n") == [["a", "b"], ["1", "2", ""]], "trailing delimiter")
        #expect(try tokenize("a,b\n\n\n1,2\n\n") == [["a", "b"], ["1", "2"]], "blank lines")
        #expect(try tokenize("a,b\r1,\"x\ry\"\r2,3") == [["a", "b"], ["1", "x\ry"], ["2", "3"]], "CR-only line ends, no final terminator")
        #expect(try tokenize("a,b\r\n1,2\r\n") == [["a", "b"], ["1", "2"]], "CRLF")
        #expect(try tokenize("5 \"inch\" nail,2\n") == [["5 \"inch\" nail", "2"]], "quotes inside an unquoted field")
        #expect(try tokenize("\"abc\"def,2\n") == [["abcdef", "2"]], "text after a closing quote")
        #expect(try tokenize("\"\",\"\"\n") == [["", ""]], "empty quoted fields")
    }

    @Test func backslashEscapesAndOtherDelimiters() throws {
        let dialect = Dialect(delimiter: UInt8(ascii: ";"), quote: UInt8(ascii: "\""), escape: .backslash)
        #expect(try tokenize("a;b\n\"say \\\"hi\\\"\";2\n", dialect: dialect) == [["a", "b"], ["say \"hi\"", "2"]])
        #expect(try tokenize("a\tb\n1\t2\n", dialect: Dialect(delimiter: 9)) == [["a", "b"], ["1", "2"]])
        #expect(try tokenize("a|b\n\"1|2\"|3\n", dialect: Dialect(delimiter: UInt8(ascii: "|"))) == [["a", "b"], ["1|2", "3"]])
    }

    @Test func limitsNameTheRow() throws {
        let limits = TokenizerLimits(maxFieldBytes: 8, maxColumns: 3, maxRowBytes: 20)
        #expect(throws: TokenizerError(kind: .fieldTooLarge, line: 2, limit: 8)) {
            _ = try tokenize("a,b\nshort,\"much too long a field\"\n", limits: limits)
        }
        #expect(throws: TokenizerError(kind: .tooManyColumns, line: 3, limit: 3)) {
            _ = try tokenize("a,b\n1,2\n1,2,3,4\n", limits: limits)
        }
        #expect(throws: TokenizerError(kind: .rowTooLarge, line: 1, limit: 20)) {
            _ = try tokenize("aaaaaaa,bbbbbbb,ccccccc\n", limits: limits)
        }
        // An unbalanced quote cannot swallow the rest of a large file unnoticed: the field limit stops it.
        #expect(throws: TokenizerError.self) {
            _ = try tokenize("a,b\n\"open," + String(repeating: "x,y\n", count: 100), limits: limits)
        }
    }

    /// The mask-window search finds the same first special byte as a byte-by-byte scan, from
    /// every start (walked forward through one window, as the tokenizer does, and from a fresh
    /// one), for sets of one to four bytes (high bytes and zero included) and inputs of several
    /// windows with any tail length.
    @Test func byteMaskWindowFindsTheFirstSpecialByte() {
        var random = SeededRandom(seed: 17)
        for _ in 0..<300 {
            let specials = (0..<Int.random(in: 1...4, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            let needles = (specials[0], specials[1 % specials.count], specials[2 % specials.count], specials[3 % specials.count])
            let alphabet = specials + (0..<6).map { _ in UInt8.random(in: 0...255, using: &random) }
            let rare = Int.random(in: 2...40, using: &random)
            let bytes = (0..<Int.random(in: 0...200, using: &random)).map { _ in
                Int.random(in: 0..<rare, using: &random) == 0 ? alphabet[Int.random(in: 0..<specials.count, using: &random)] : alphabet[Int.random(in: specials.count..<alphabet.count, using: &random)]
            }
            bytes.withUnsafeBufferPointer { buffer in
                let base = buffer.baseAddress ?? UnsafePointer(bitPattern: 8)!
                var walking = ByteMaskWindow(needles)
                for start in 0...bytes.count {
                    let expected = bytes[start...].firstIndex { specials.contains($0) } ?? bytes.count
                    var fresh = ByteMaskWindow(needles)
                    #expect(walking.first(in: base, from: start, count: bytes.count) == expected, "\(specials) in \(bytes) from \(start)")
                    #expect(fresh.first(in: base, from: start, count: bytes.count) == expected, "\(specials) in \(bytes) from \(start), fresh window")
                }
            }
        }
    }

    /// The validator's eight-byte ASCII fast path counts exactly what the byte-by-byte path counts
    /// (chunks of one byte never take it), across sequences split between chunks.
    @Test func utf8ValidatorFastPathsCountLikeTheSlowOne() {
        var random = SeededRandom(seed: 5)
        let pieces: [[UInt8]] = [Array("a".utf8), Array("abcdefghij".utf8), Array("é".utf8), Array("€".utf8), Array("😀".utf8), [0xFF], [0xC3], [0xE2, 0x82], [0x80]]
        for _ in 0..<500 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...80, using: &random) {
                bytes += Int.random(in: 0..<6, using: &random) == 0 ? pieces[Int.random(in: 2..<pieces.count, using: &random)] : pieces[Int.random(in: 0..<2, using: &random)]
            }
            func invalid(chunk: Int) -> Int {
                var validator = UTF8Validator()
                var offset = 0
                repeat {
                    let end = min(bytes.count, offset + chunk)
                    bytes.withUnsafeBufferPointer { validator.validate(UnsafeBufferPointer(rebasing: $0[offset..<end]), isLast: end == bytes.count) }
                    offset = end
                } while offset < bytes.count
                return validator.invalid
            }
            let slow = invalid(chunk: 1)
            #expect(invalid(chunk: max(1, bytes.count)) == slow, "\(bytes)")
            #expect(invalid(chunk: Int.random(in: 1...100, using: &random)) == slow, "\(bytes)")
        }
    }

    @Test func randomInputNeverCrashes() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ab,;\"\\\r\n \t".utf8)
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0...200, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            var tokenizer = CSVTokenizer(dialect: Dialect(escape: Bool.random(using: &generator) ? .backslash : .doubledQuote))
            var rows = 0
            try tokenizer.feed(bytes) { _ in rows += 1 }
            try tokenizer.finish { _ in rows += 1 }
            #expect(rows == tokenizer.rowsEmitted)
        }
    }

    /// Fields point into the input or into the tokenizer's scratch buffer depending on where a
    /// chunk ends and on escapes: any chunking must give the rows (and lines) of the whole input.
    @Test func chunkingNeverChangesTheRows() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ab,\"\"\\\r\n x".utf8)
        func rows(_ bytes: [UInt8], escape: Dialect.Escape, chunk: Int) throws -> [[String]] {
            var tokenizer = CSVTokenizer(dialect: Dialect(escape: escape))
            var rows: [[String]] = []
            var offset = 0
            while offset < bytes.count {
                let end = min(bytes.count, offset + chunk)
                try tokenizer.feed(bytes[offset..<end]) { rows.append(["\($0.line)"] + $0.strings) }
                offset = end
            }
            try tokenizer.finish { rows.append(["\($0.line)"] + $0.strings) }
            return rows
        }
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0...120, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            let escape: Dialect.Escape = Bool.random(using: &generator) ? .backslash : .doubledQuote
            let whole = try rows(bytes, escape: escape, chunk: max(1, bytes.count))
            let chunk = Int.random(in: 1...9, using: &generator)
            #expect(try rows(bytes, escape: escape, chunk: chunk) == whole, "\(String(decoding: bytes, as: UTF8.self).debugDescription) in chunks of \(chunk)")
        }
    }

    /// Parallel profiling cuts the text where the row-boundary scanner says a row ends (it jumps
    /// between special bytes by 64-byte masks): the parts, tokenized apart, must give the rows of the whole.
    @Test func rowBoundariesSplitLikeTheTokenizer() throws {
        var generator = SystemRandomNumberGenerator()
        let pieces = ["a", "bcdefghijk", "lmnopqrstuvwxyz0", ",", ",", "\"", "\"", "\\", "\r", "\n", "\r\n", " "]
        func rows(_ bytes: ArraySlice<UInt8>, escape: Dialect.Escape, firstLine: Int) throws -> [[String]] {
            var tokenizer = CSVTokenizer(dialect: Dialect(escape: escape), firstLine: firstLine)
            var rows: [[String]] = []
            try tokenizer.feed(bytes) { rows.append(["\($0.line)"] + $0.strings) }
            try tokenizer.finish { rows.append(["\($0.line)"] + $0.strings) }
            return rows
        }
        // Well-formed rows too (most files): quoted fields with delimiters, doubled quotes and
        // line ends.
        let plainFields = ["", "a", "bcdefghijk", "lmnopqrstuvwxyz0123456789", " "]
        let quotedFields = ["\"\"", "\"x,y\"", "\"he said \"\"hi\"\"\"", "\"two\nlines\"", "\"crlf\r\ninside\"", "\"long quoted text, with commas, and more\""]
        func wellFormed() -> String {
            (0..<Int.random(in: 0...12, using: &generator)).map { _ in
                let fields = (0..<Int.random(in: 1...5, using: &generator)).map { _ in
                    Bool.random(using: &generator) ? plainFields.randomElement(using: &generator)! : quotedFields.randomElement(using: &generator)!
                }
                return fields.joined(separator: ",") + (Int.random(in: 0..<4, using: &generator) == 0 ? "\r\n" : "\n")
            }.joined()
        }
        // Every quote, doubled quote and line end of a row at every offset of a window's edge.
        for shift in 0..<140 {
            let text = String(repeating: "p", count: shift) + ",\"q\"\"\nr\"\"\"\r\n\"\",s\r\nt,\"u\"v\n" + String(repeating: "w,\"x\"\n", count: 30)
            let bytes = Array(text.utf8)
            let whole = try rows(bytes[...], escape: .doubledQuote, firstLine: 1)
            for start in [0, 1, 63] where start < bytes.count {
                var scanner = RowBoundaryScanner(dialect: Dialect(escape: .doubledQuote), firstLine: 1)
                let first = bytes.withUnsafeBufferPointer { scanner.scan(UnsafeBufferPointer(rebasing: $0[..<start])) }
                let boundary = bytes.withUnsafeBufferPointer { scanner.scan(UnsafeBufferPointer(rebasing: $0[start...])) }
                for (cut, line) in [first.map { ($0.offset, $0.line) }, boundary.map { (start + $0.offset, $0.line) }].compactMap({ $0 }) {
                    let parts = try rows(bytes[..<cut], escape: .doubledQuote, firstLine: 1) + rows(bytes[cut...], escape: .doubledQuote, firstLine: line)
                    #expect(parts == whole, "shift \(shift), parts from \(start), cut at \(cut)")
                }
            }
        }
        for round in 0..<2000 {
            let text = round % 2 == 0 ? (0..<Int.random(in: 0...150, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined() : wellFormed()
            let bytes = Array(text.utf8)
            let escape: Dialect.Escape = round % 2 == 1 || Bool.random(using: &generator) ? .doubledQuote : .backslash
            let whole = try rows(bytes[...], escape: escape, firstLine: 1)
            var scanner = RowBoundaryScanner(dialect: Dialect(escape: escape), firstLine: 1)
            var offset = 0
            while offset < bytes.count {
                // Parts of one to several mask windows.
                let end = min(bytes.count, offset + Int.random(in: 1...200, using: &generator))
                let boundary = bytes.withUnsafeBufferPointer { scanner.scan(UnsafeBufferPointer(rebasing: $0[offset..<end])) }
                if let boundary {
                    let cut = offset + boundary.offset
                    let parts = try rows(bytes[..<cut], escape: escape, firstLine: 1) + rows(bytes[cut...], escape: escape, firstLine: boundary.line)
                    #expect(parts == whole, "\(String(decoding: bytes, as: UTF8.self).debugDescription) cut at \(cut)")
                }
                offset = end
            }
        }
    }
}
