@testable import AuroraParser
import AuroraStatistics
import Foundation
import Testing

/// Profiles bytes pushed in chunks of `chunkSize`; returns the profile and the rows as profiled.
func profileBytes(_ bytes: [UInt8], options: ProfileOptions = ProfileOptions(), chunkSize: Int = 4096, collectRows: Bool = true) throws -> (DatasetProfile, names: [String], rows: [[String]]) {
    var names: [String] = []
    var rows: [[String]] = []
    var first = true
    let profiler = Profiler(options: options, rowHandler: collectRows ? { cells in
        if first { names = cells; first = false } else { rows.append(cells) }
    } : nil)
    var offset = 0
    while offset < bytes.count {
        let end = min(offset + chunkSize, bytes.count)
        try profiler.consume(Array(bytes[offset..<end]))
        offset = end
    }
    return (try profiler.finish(), names, rows)
}

func profileText(_ text: String, options: ProfileOptions = ProfileOptions()) throws -> DatasetProfile {
    try profileBytes(Array(text.utf8), options: options, collectRows: false).0
}

@Suite("Profiler: detection end to end")
struct DetectionTests {
    /// Every csv-spectrum case through the whole pipeline (detection included), cell by cell.
    @Test(arguments: TokenizerTests.spectrum)
    func csvSpectrumDetected(file: String) throws {
        let name = String(file.dropLast(4))
        let expected = try JSONSerialization.jsonObject(with: Data(try Corpus.bytes("csv-spectrum/json/\(name).json"))) as! [[String: String]]
        for chunkSize in [1, 5, 1 << 20] {
            let (profile, names, rows) = try profileBytes(try Corpus.bytes("csv-spectrum/csvs/\(file)"), chunkSize: chunkSize)
            let records = rows.map { Dictionary(uniqueKeysWithValues: zip(names, $0)) }
            #expect(records == expected, "\(file) chunk \(chunkSize): \(profile.dialect)")
        }
    }

    /// Generated files in every encoding and dialect the issue names, with title lines, no header,
    /// CR/CRLF/LF, quoted multi-line fields, backslash escapes, decimal commas.
    @Test func generatedMessyFiles() throws {
        let files = MessyFile.all()
        var wrong: [String: [String]] = [:]
        func miss(_ what: String, _ file: MessyFile, _ detail: String) {
            wrong[what, default: []].append("\(file.encoding.name)\(file.encoding.bom ? "+BOM" : "") \(file.style.delimiter.debugDescription) header=\(file.header) titles=\(file.titleLines.count) \(file.terminator.debugDescription): \(detail)")
        }
        for file in files {
            let (profile, names, rows) = try profileBytes(file.bytes, chunkSize: 1000)
            if profile.encoding != file.encoding.name || profile.bom != file.encoding.bom { miss("encoding", file, "\(profile.encoding) bom \(profile.bom)") }
            let dialect = profile.dialect
            if dialect.delimiter != String(file.style.delimiter) || dialect.quote != String(file.style.quote)
                || (dialect.escape == "\\") != file.style.backslash
            {
                miss("dialect", file, "\(dialect)")
            }
            if dialect.header != file.header { miss("header", file, dialect.reason) }
            if dialect.skippedLines != file.titleLines.count { miss("skipped lines", file, "\(dialect.skippedLines)") }
            if rows != file.rows { miss("cells", file, "first difference at row \(zip(rows, file.rows).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(rows.count, file.rows.count)), \(rows.count) rows") }
            if file.header && names != MessyFile.names { miss("names", file, "\(names)") }
            let kinds = profile.columns.map(\.type)
            if kinds != MessyFile.kinds { miss("types", file, "\(kinds.map(\.rawValue))") }
        }
        let total = files.count
        for what in ["encoding", "dialect", "header", "skipped lines", "cells", "types"] {
            print("generated files: \(what) right on \(total - (wrong[what]?.count ?? 0)) of \(total)")
        }
        #expect(wrong.isEmpty, "\(wrong.mapValues { $0.prefix(3) })")
    }

    @Test func overridesWin() throws {
        let text = "a;b\n1;2\n3;4\n"
        var options = ProfileOptions()
        options.dialect.delimiter = UInt8(ascii: ",")
        options.dialect.header = false
        let profile = try profileText(text, options: options)
        #expect(profile.dialect.delimiter == ",")
        #expect(profile.columns.count == 1)
        #expect(profile.rows == 3)
        options = ProfileOptions(encoding: .iso88591)
        options.dialect.skipLines = 1
        let latin = try profileBytes(Array("title\nname,v\nJos\u{E9},1\n".unicodeScalars.map { UInt8($0.value) }), options: options)
        #expect(latin.0.encoding == "ISO-8859-1")
        #expect(latin.rows == [["José", "1"]])
    }
}

@Suite("Profiler: types")
struct TypeTests {
    func kinds(_ text: String, options: ProfileOptions = ProfileOptions()) throws -> [String: ColumnKind] {
        let profile = try profileText(text, options: options)
        return Dictionary(uniqueKeysWithValues: profile.columns.map { ($0.name, $0.type) })
    }

    func table(_ columns: [(String, [String])]) -> String {
        let rows = columns[0].1.count
        var lines = [columns.map(\.0).joined(separator: ",")]
        for index in 0..<rows { lines.append(columns.map { MessyFile.line([$0.1[index]], .init(delimiter: ",", quote: "\"", backslash: false, decimalComma: false)) }.joined(separator: ",")) }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func everyKind() throws {
        let n = 30
        let text = self.table([
            ("int", (0..<n).map { "\($0 * 7 % 11)" }),
            ("money", (0..<n).map { "$\($0 + 1),\(String(format: "%03d", 234 + $0)).50" }),
            ("pct", (0..<n).map { "\($0 % 7 * 5)%" }),
            ("flag", (0..<n).map { $0 % 3 == 0 ? "True" : "false" }),
            ("day", (0..<n).map { String(format: "%02d/%02d/2024", $0 % 12 + 1, $0 % 28 + 1) }),
            ("stamp", (0..<n).map { String(format: "2024-03-%02dT%02d:15:00Z", $0 % 28 + 1, $0 % 24) }),
            ("color", (0..<n).map { ["red", "green", "blue"][$0 % 3] }),
            ("comment", (0..<n).map { "this is comment number \($0) with words" }),
            ("sku", (0..<n).map { "SKU-\(1000 + $0 * 37)" }),
            ("nothing", (0..<n).map { $0 % 2 == 0 ? "" : "NA" }),
            ("zip", (0..<n).map { String(format: "%05d", $0 % 5 * 100) }),
            // Multi-word labels of many values (places, names) are categories, not free text.
            ("place", (0..<n).map { ["South Los Angeles", "Westlake", "Mid City", "Long Beach", "Koreatown", "Hyde Park", "Watts"][$0 % 7] + " \($0 % 4)" }),
            // One short name per row (R's row names, species): an identifier.
            ("animal", (0..<n).map { "Animal \($0)" }),
        ])
        let profile = try profileText(text)
        let kinds = Dictionary(uniqueKeysWithValues: profile.columns.map { ($0.name, $0.type) })
        #expect(kinds == [
            "int": .integer, "money": .float, "pct": .integer, "flag": .boolean, "day": .date, "stamp": .datetime,
            "color": .categorical, "comment": .text, "sku": .identifier, "nothing": .empty, "zip": .categorical, "place": .categorical, "animal": .identifier,
        ])
        let byName = Dictionary(uniqueKeysWithValues: profile.columns.map { ($0.name, $0) })
        #expect(byName["money"]?.stats.numeric?.currency == true)
        #expect(byName["money"]?.stats.numeric?.thousandsSeparators == true)
        #expect(byName["money"]?.stats.numeric?.min == 1234.5)
        #expect(byName["pct"]?.stats.numeric?.percent == true)
        #expect(byName["day"]?.stats.date?.format == "%m/%d/%Y")
        #expect(byName["day"]?.stats.date?.min == "2024-01-01")
        #expect(byName["stamp"]?.stats.date?.format == "%Y-%m-%dT%H:%M:%S%z")
        #expect(byName["flag"]?.stats.boolean == BooleanSummary(trueCount: 10, falseCount: 20))
        #expect(byName["nothing"]?.stats.missing == n)
    }

    @Test func decimalCommaAndDayFirst() throws {
        let text = "Produkt;Preis;Datum\nA;1.234,50;31.01.2024\nB;2,75;01.02.2024\nC;10;15.03.2024\n"
        let profile = try profileText(text)
        #expect(profile.dialect.delimiter == ";")
        #expect(profile.columns[1].type == .float)
        #expect(profile.columns[1].stats.numeric?.decimal == .comma)
        #expect(profile.columns[1].stats.numeric?.max == 1234.5)
        #expect(profile.columns[2].stats.date?.format == "%d.%m.%Y")
        #expect(profile.columns[2].stats.date?.max == "2024-03-15")
    }

    @Test func missingMarkersAreConfigurable() throws {
        let text = "a,b\n1,-\n2,?\n3,n/a\n4,5\n"
        let defaults = try profileText(text)
        #expect(defaults.columns[1].stats.missing == 3)
        #expect(defaults.columns[1].type == .integer)
        var options = ProfileOptions()
        options.settings.missingMarkers = MissingMarkers(["?"])
        let custom = try profileText(text, options: options)
        #expect(custom.columns[1].stats.missing == 1)
        #expect(custom.columns[1].type == .categorical)
    }

    @Test func aFewBadValuesAreCountedNotFatal() throws {
        var lines = ["v"]
        for index in 0..<5000 { lines.append("\(index % 97)") }
        lines[2500] = "oops"
        let profile = try profileText(lines.joined(separator: "\n"))
        #expect(profile.columns[0].type == .integer)
        #expect(profile.columns[0].stats.invalid == 1)
        lines[100] = "bad"
        lines[200] = "worse"
        lines[300] = "worst"
        lines[400] = "again"
        lines[500] = "more"
        lines[600] = "still"
        // Mostly numbers stay numbers (pandas users coerce them): the text cells are counted.
        let mixed = try profileText(lines.joined(separator: "\n"))
        #expect(mixed.columns[0].type == .integer)
        #expect(mixed.columns[0].stats.invalid == 7)
        #expect(mixed.columns[0].reason.contains("7 cells not numbers"))
        // Above 5% text, the column is not numeric any more.
        for index in stride(from: 1, to: 5001, by: 16) { lines[index] = "n\(index % 5)" }
        let text = try profileText(lines.joined(separator: "\n"))
        #expect(text.columns[0].type == .categorical)
    }

    @Test func aShuffledRowIndexIsAnIdentifier() throws {
        var numbers = Array(1...500)
        var random = SystemRandomNumberGenerator()
        numbers.shuffle(using: &random)
        let profile = try profileText((["n"] + numbers.map(String.init)).joined(separator: "\n"))
        #expect(profile.columns[0].type == .identifier)
        #expect(profile.columns[0].reason.contains("from 1 to 500 exactly once"))
        // One gap, or one repeat: a count, not an index.
        numbers[7] = 600
        #expect(try profileText((["n"] + numbers.map(String.init)).joined(separator: "\n")).columns[0].type == .integer)
    }

    /// A row index past the exact distinct count (200,000 rows; the exact count stops at 65,536),
    /// profiled in one part and in four: still an identifier. A column that only ascends with
    /// repeats (a sorted count) is not.
    @Test func aLongRowIndexIsAnIdentifier() throws {
        let rows = 200_000
        var text = "index,sorted\n"
        text.reserveCapacity(rows * 16)
        for row in 1...rows { text += "\(row),\(row / 3)\n" }
        for threads in [1, 4] {
            var options = ProfileOptions()
            options.threads = threads
            let profile = try profileText(text, options: options)
            #expect(profile.columns[0].type == .identifier, "\(threads) threads: \(profile.columns[0].reason)")
            #expect(profile.columns[1].type == .integer, "\(threads) threads: \(profile.columns[1].reason)")
        }
    }

    @Test func aTextFirstCellDoesNotHideNumbers() throws {
        var lines = ["v", "unknown"]
        for index in 0..<200 { lines.append("\(index % 13)") }
        let profile = try profileText(lines.joined(separator: "\n"))
        #expect(profile.columns[0].type == .integer)
        #expect(profile.columns[0].stats.invalid == 1)
        #expect(profile.columns[0].stats.numeric?.max == 12)
        // Split across parts (four threads): the same.
        var options = ProfileOptions()
        options.threads = 4
        let parallel = try profileText(lines.joined(separator: "\n"), options: options)
        #expect(parallel.columns[0].stats == profile.columns[0].stats)
    }

    @Test func smallColumnsAreExactLikePandas() throws {
        // pandas: skew 1.19855198182873, kurt 0.44931737030035696 (both adjusted), linear quantiles, 7 distinct.
        let profile = try profileText("v\n1\n2\n2\n3\n4\n5\n9\n12\n")
        let stats = profile.columns[0].stats
        let numeric = try #require(stats.numeric)
        #expect(stats.exact)
        #expect(stats.distinct == 7)
        #expect(abs(numeric.skewness - 1.19855198182873) < 1e-12)
        #expect(abs(numeric.kurtosis - 0.44931737030035696) < 1e-12)
        #expect(abs(numeric.mean - 4.75) < 1e-12)
        #expect(abs(numeric.quantiles.p25 - 2) < 1e-12)
        #expect(abs(numeric.quantiles.p75 - 6) < 1e-12)
        #expect(abs(numeric.quantiles.p05 - 1.35) < 1e-12)
        // 5 of 100 beyond the fences: exactly 0.05.
        var lines = ["v"] + (0..<95).map { "\($0 % 10)" }
        lines += ["100", "200", "300", "400", "500"]
        let outliers = try profileText(lines.joined(separator: "\n"))
        #expect(outliers.columns[0].stats.numeric?.outlierRatio == 0.05)
    }

    @Test func impossibleDatesAreNotDates() throws {
        let profile = try profileText("d\n2024-02-30\n2024-13-01\n2024-01-01\n")
        #expect(profile.columns[0].type != .date)
        let numbers = try profileText("v\n4.5\n")
        #expect(numbers.columns[0].type == .float)
    }
}

@Suite("Profiler: statistics")
struct StatisticsTests {
    @Test func momentsMatchTwoPassFormulas() {
        var random = SeededRandom(seed: 7)
        let values = (0..<10_000).map { _ in 1e9 + Double.random(in: 0..<1, using: &random) * Double.random(in: 0..<1, using: &random) * 3 }
        var moments = Moments()
        for value in values { moments.add(value) }
        let n = Double(values.count)
        let mean = values.reduce(0, +) / n
        let m2 = values.reduce(0) { $0 + pow($1 - mean, 2) } / n
        let m3 = values.reduce(0) { $0 + pow($1 - mean, 3) } / n
        let m4 = values.reduce(0) { $0 + pow($1 - mean, 4) } / n
        #expect(abs(moments.mean - mean) < 1e-6)
        #expect(abs(moments.variance - m2 * n / (n - 1)) / m2 < 1e-6)
        #expect(abs(moments.skewness - m3 / pow(m2, 1.5)) < 1e-4)
        #expect(abs(moments.kurtosis - (m4 / (m2 * m2) - 3)) < 1e-4)
        // Merged halves equal the whole.
        var left = Moments()
        var right = Moments()
        for (index, value) in values.enumerated() { if index < 3000 { left.add(value) } else { right.add(value) } }
        left.merge(right)
        #expect(abs(left.skewness - moments.skewness) < 1e-6)
        #expect(abs(left.kurtosis - moments.kurtosis) < 1e-6)
    }

    @Test func sketchesAreAccurateAndMerge() {
        var random = SeededRandom(seed: 11)
        let values = (0..<200_000).map { _ in exp(Double.random(in: 0..<5, using: &random)) }
        let sorted = values.sorted()
        var whole = KLLSketch()
        var parts = [KLLSketch(), KLLSketch(), KLLSketch()]
        for (index, value) in values.enumerated() {
            whole.add(value)
            parts[index % 3].add(value)
        }
        parts[0].merge(parts[1])
        parts[0].merge(parts[2])
        // Bulk adds in uneven slices build the same sketch as adds one by one.
        var bulk = KLLSketch()
        values.withUnsafeBufferPointer { values in
            var offset = 0
            var slice = 1
            while offset < values.count {
                let end = min(values.count, offset + slice)
                bulk.add(contentsOf: UnsafeBufferPointer(rebasing: values[offset..<end]))
                offset = end
                slice = slice % 500 + 7
            }
        }
        let fractions = (0...100).map { Double($0) / 100 }
        #expect(bulk.quantiles(fractions) == whole.quantiles(fractions))
        #expect(bulk.count == whole.count)
        for sketch in [whole, parts[0]] {
            for (fraction, estimate) in zip([0.01, 0.25, 0.5, 0.75, 0.99], sketch.quantiles([0.01, 0.25, 0.5, 0.75, 0.99])) {
                let rank = Double(sorted.filter { $0 < estimate }.count) / Double(values.count)
                #expect(abs(rank - fraction) < 0.02, "quantile \(fraction): rank \(rank)")
            }
        }
        var distinct = HyperLogLog()
        var left = HyperLogLog()
        for index in 0..<100_000 {
            var text = "value-\(index % 40_000)"
            let hash = text.withUTF8 { Hash64.hash($0) }
            distinct.add(hash: hash)
            if index < 50_000 { left.add(hash: hash) }
        }
        #expect(abs(distinct.estimate - 40_000) / 40_000 < 0.05)
        var frequent = FrequentValues(capacity: 16)
        for index in 0..<10_000 {
            var text = index % 4 == 0 ? "common" : "rare-\(index)"
            text.withUTF8 { frequent.add(hash: Hash64.hash($0), bytes: $0) }
        }
        #expect(frequent.top(1).first?.value == "common")
        #expect(frequent.top(1).first!.count >= 2500 - frequent.maximumError)
        // Adding in batches (counts and inserts in one pass, decrements between) keeps the same
        // summary as adding one by one, on a stream that fills it again and again.
        let texts = (0..<20_000).map { index in index % 3 == 0 ? "v\(index % 7)" : "w\(Int.random(in: 0..<300, using: &random))" }
        var single = FrequentValues(capacity: 16)
        var batched = FrequentValues(capacity: 16)
        for var text in texts { text.withUTF8 { single.add(hash: Hash64.hash($0), bytes: $0) } }
        let arena = Array(texts.joined().utf8)
        var bounds = [0]
        for text in texts { bounds.append(bounds.last! + text.utf8.count) }
        arena.withUnsafeBufferPointer { arena in
            func value(_ index: Int) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: arena[bounds[index]..<bounds[index + 1]]) }
            let hashes = texts.indices.map { Hash64.hash(value($0)) }
            var start = 0
            while start < hashes.count {
                let end = min(hashes.count, start + 1 + start % 251)
                hashes[start..<end].withUnsafeBufferPointer { slice in
                    batched.add(hashes: slice) { value(start + $0) }
                }
                start = end
            }
        }
        #expect(batched.maximumError == single.maximumError)
        #expect(batched.maximumError > 0)
        #expect(batched.top(16).map(\.value) == single.top(16).map(\.value))
        #expect(batched.top(16).map(\.count) == single.top(16).map(\.count))
    }

    /// Columns take their cells a batch of rows at a time, from copies: every cell must reach its
    /// column as parsed, whether it pointed into the input or into the tokenizer's scratch
    /// (doubled quotes, rows cut by a chunk end), and short rows are padded. The oracle feeds the
    /// rows as parsed (`--rows`) to fresh accumulators one cell at a time, in the same order, so
    /// every statistic must be identical.
    @Test func batchedColumnsSeeEveryCellAsParsed() throws {
        var random = SeededRandom(seed: 5)
        var text = "id,amount,note,city\n"
        for index in 0..<3_000 {
            let amount = Int.random(in: 0..<10, using: &random) == 0 ? "" : "\(Int.random(in: -500..<5_000, using: &random))"
            let note: String
            switch Int.random(in: 0..<4, using: &random) {
            case 0: note = "\"said \"\"hi\"\", left\""
            case 1: note = "\"two\nlines \(index % 17)\""
            default: note = "plain \(index % 29)"
            }
            let city = ["Oslo", "Lima", "Pune"][index % 3]
            // Every 50th row is short: padded (and counted as malformed).
            text += index % 50 == 49 ? "\(index),\(amount)\n" : "\(index),\(amount),\(note),\(city)\n"
        }
        for chunkSize in [7, 333, 1 << 20] {
            let (profile, _, _) = try self.expectBatchesMatchCells(Array(text.utf8), chunkSize: chunkSize)
            #expect(profile.rows == 3_000)
            #expect(profile.malformedRows == 60)
        }
    }

    /// The other two ends of a batch: a wide table (600 columns: 109 rows per batch) and rows
    /// long enough (300 KB) that a batch is fed early, once its bytes pass 1 MiB.
    @Test func batchesOfWideTablesAndLongRowsSeeEveryCell() throws {
        var wide = (0..<600).map { "c\($0)" }.joined(separator: ",") + "\n"
        for row in 0..<400 { wide += (0..<600).map { "\((row * 7 + $0) % 53)" }.joined(separator: ",") + "\n" }
        var options = ProfileOptions()
        options.sampleBytes = 4096
        let (wideProfile, _, _) = try self.expectBatchesMatchCells(Array(wide.utf8), chunkSize: 10_000, options: options)
        #expect(wideProfile.rows == 400 && wideProfile.columns.count == 600)
        var long = "id,blob,n\n"
        for row in 0..<12 { long += "\(row),\"\(String(repeating: "ab ", count: 100_000 + row))\",\(row * row)\n" }
        let (longProfile, _, _) = try self.expectBatchesMatchCells(Array(long.utf8), chunkSize: 65_536)
        #expect(longProfile.rows == 12 && longProfile.columns.count == 3)
    }

    /// Profiles `bytes` and checks every column against accumulators fed the parsed rows one
    /// cell at a time, in the same order.
    func expectBatchesMatchCells(_ bytes: [UInt8], chunkSize: Int, options: ProfileOptions = ProfileOptions()) throws -> (DatasetProfile, [String], [[String]]) {
        let (profile, names, rows) = try profileBytes(bytes, options: options, chunkSize: chunkSize)
        #expect(!rows.isEmpty)
        var oracle = names.map { _ in ColumnAccumulator() }
        for row in rows {
            for (index, cell) in row.enumerated() {
                var cell = cell
                cell.withUTF8 { oracle[index].add($0, missingMarkers: MissingMarkers()) }
            }
        }
        for (index, column) in profile.columns.enumerated() {
            let expected = oracle[index].profile(index: index, name: names[index], settings: ProfileSettings(), preferDayFirst: false)
            #expect(column == expected, "column \(names[index]), chunks of \(chunkSize)")
        }
        return (profile, names, rows)
    }

    /// Beyond `samplingStart` values the sketch keeps one value per block of 2^s: the count stays
    /// exact, the ranks stay within 2%, and sketches at different sampling levels merge (a later
    /// part of a file samples from its start, counting the values before it).
    /// The cell hash reads every byte whatever the length (its tail is read without a loop, by
    /// overlapping loads): all strings of up to three bytes over 20 symbols, and strings of 1 to
    /// 24 bytes that differ from each other in one byte, all hash apart.
    @Test func cellHashSeesEveryByte() {
        let symbols = Array("abcdefghij0123456789".utf8)
        var cells: [[UInt8]] = [[]]
        for first in symbols {
            cells.append([first])
            for second in symbols {
                cells.append([first, second])
                for third in symbols { cells.append([first, second, third]) }
            }
        }
        for length in 4...24 {
            let base = [UInt8](repeating: UInt8(ascii: "a"), count: length)
            cells.append(base)
            for position in 0..<length {
                for value in symbols.dropFirst() {
                    var cell = base
                    cell[position] = value
                    cells.append(cell)
                }
            }
        }
        let hashes = Set(cells.map { cell in cell.withUnsafeBufferPointer { Hash64.hash($0) } })
        #expect(hashes.count == cells.count)
    }

    @Test func samplingSketchStaysAccurateAndMerges() {
        var random = SeededRandom(seed: 21)
        // A trend, so that a value kept at the wrong weight moves the ranks.
        let values = (0..<400_000).map { Double($0) + 1_000 * Double.random(in: 0..<1, using: &random) }
        let sorted = values.sorted()
        var whole = KLLSketch(samplingStart: 8_192)
        var early = KLLSketch(samplingStart: 8_192)
        var late = KLLSketch(samplingStart: 8_192)
        late.priorCount = 30_000  // a later part of the file: it samples from its first value
        values.withUnsafeBufferPointer { values in
            whole.add(contentsOf: values)
            early.add(contentsOf: UnsafeBufferPointer(rebasing: values[0..<30_000]))
            late.add(contentsOf: UnsafeBufferPointer(rebasing: values[30_000...]))
        }
        early.merge(late)
        let fractions = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99]
        for sketch in [whole, early] {
            #expect(sketch.count == 400_000)
            for (fraction, estimate) in zip(fractions, sketch.quantiles(fractions)) {
                var low = 0
                var high = sorted.count
                while low < high {
                    let middle = (low + high) / 2
                    if sorted[middle] < estimate { low = middle + 1 } else { high = middle }
                }
                let rank = Double(low) / Double(values.count)
                #expect(abs(rank - fraction) < 0.02, "quantile \(fraction): rank \(rank)")
            }
        }
    }

    @Test func splitProfilesMergeIntoTheWhole() throws {
        var random = SeededRandom(seed: 3)
        var text = "x,y,z,d\n"
        for index in 0..<30_000 {
            text += "\(Double.random(in: -5..<50, using: &random)),\(Int.random(in: 0..<9, using: &random)),c\(index % 13),2024-01-\(String(format: "%02d", index % 28 + 1))\n"
        }
        let sequential = try profileText(text)
        var options = ProfileOptions(threads: 2, blockBytes: 64 << 10)
        options.sampleBytes = 4096
        let parallel = try profileBytes(Array(text.utf8), options: options, chunkSize: 10_000, collectRows: false).0
        #expect(parallel.rows == 30_000)
        #expect(sequential.rows == 30_000)
        for (a, b) in zip(sequential.columns, parallel.columns) {
            #expect(a.type == b.type)
            #expect(a.stats.count == b.stats.count)
            #expect(a.stats.distinct == b.stats.distinct)
            if a.stats.distinct <= 20 { #expect(a.stats.topValues == b.stats.topValues) }
            if let x = a.stats.numeric, let y = b.stats.numeric {
                #expect(abs(x.mean - y.mean) < 1e-9 * max(1, abs(x.mean)))
                #expect(abs(x.skewness - y.skewness) < 1e-6)
                #expect(x.min == y.min && x.max == y.max)
                #expect(abs(x.quantiles.p50 - y.quantiles.p50) < 2.5)
            }
        }
        let x = sequential.columns[0].stats.numeric!
        #expect(abs(x.mean - 22.5) < 0.5)
        #expect(x.histogram.counts.reduce(0, +) == 30_000)
        #expect(abs(x.quantiles.p25 - 8.75) < 1.0)
    }

    @Test func outliersFromTheSketch() throws {
        var lines = ["v"]
        for index in 0..<1000 { lines.append("\(index % 100)") }
        for _ in 0..<10 { lines.append("100000") }
        let profile = try profileText(lines.joined(separator: "\n"))
        let numeric = profile.columns[0].stats.numeric!
        #expect(abs(numeric.outlierRatio - 10.0 / 1010.0) < 0.003)
        #expect(numeric.skewness > 5)
    }
}

@Suite("Profiler: ragged rows, limits, garbage")
struct RobustnessTests {
    @Test func raggedPolicies() throws {
        let text = "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12,\n13,14,15\n"
        let padded = try profileText(text)
        #expect(padded.rows == 5)
        #expect(padded.malformedRows == 2)
        #expect(padded.malformed == [MalformedRow(line: 3, fields: 2, expected: 3), MalformedRow(line: 4, fields: 4, expected: 3)])
        #expect(padded.columns[2].stats.missing == 1)
        let skipped = try profileText(text, options: ProfileOptions(raggedPolicy: .skip))
        #expect(skipped.rows == 3)
        #expect(skipped.malformedRows == 2)
        #expect(throws: ProfileError("2 fields where the table has 3 (ragged policy: fail)", line: 3)) {
            _ = try profileText(text, options: ProfileOptions(raggedPolicy: .fail))
        }
        // The list is bounded, the count is not.
        var many = "a,b\n"
        for _ in 0..<500 { many += "1\n1,2\n" }
        let bounded = try profileText(many, options: ProfileOptions(malformedListLimit: 7))
        #expect(bounded.malformedRows == 500)
        #expect(bounded.malformed.count == 7)
        #expect(bounded.malformed.first?.line == 2)
    }

    @Test func limitsNameTheLine() throws {
        let text = "a,b\n1,2\n3,\"" + String(repeating: "x", count: 5000) + "\"\n"
        let options = ProfileOptions(limits: TokenizerLimits(maxFieldBytes: 1000, maxColumns: 10, maxRowBytes: 4000), sampleBytes: 16)
        #expect(throws: ProfileError.self) { _ = try profileText(text, options: options) }
        do {
            _ = try profileText(text, options: options)
        } catch let error as ProfileError {
            #expect(error.line == 3)
            #expect(error.description.contains("line 3"))
        }
    }

    @Test func anUnclosedQuoteDoesNotBufferTheFileInParallel() throws {
        var text = "a,b\n1,\"open\n"
        for index in 0..<20_000 { text += "\(index),filler text here\n" }
        var options = ProfileOptions(limits: TokenizerLimits(maxFieldBytes: 1 << 20, maxColumns: 10, maxRowBytes: 16 << 10), sampleBytes: 1024, threads: 2, blockBytes: 16 << 10)
        // Detection would (rightly) read this file some other way; force the dialect.
        options.dialect.quote = .some(UInt8(ascii: "\""))
        options.dialect.delimiter = UInt8(ascii: ",")
        do {
            _ = try profileBytes(Array(text.utf8), options: options, chunkSize: 4096, collectRows: false)
            Issue.record("an unclosed quote over the limits was accepted")
        } catch let error as ProfileError {
            #expect(error.description.contains("unclosed quote"), "\(error)")
        }
    }

    @Test func randomBytesAndTruncatedFilesNeverCrash() throws {
        var random = SeededRandom(seed: 5)
        let base = MessyFile(encoding: .utf8, style: MessyFile.styles[0], header: true, titleLines: 1, terminator: "\n", seed: 9).bytes
        for round in 0..<300 {
            var bytes: [UInt8]
            switch round % 3 {
            case 0: bytes = (0..<Int.random(in: 0...3000, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            case 1: bytes = Array(base.prefix(Int.random(in: 0...base.count, using: &random)))
            default:
                bytes = base
                for _ in 0..<20 { bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random) }
            }
            do {
                let (profile, _, _) = try profileBytes(bytes, options: ProfileOptions(threads: round % 2 + 1, blockBytes: 512), chunkSize: Int.random(in: 1...700, using: &random))
                #expect(profile.bytes == bytes.count)
            } catch is ProfileError {
                // A clear error is fine; a crash or a hang is not.
            }
        }
    }
}

@Suite("Profiler: column names")
struct ColumnNameTests {
    @Test("names that read as identifiers, and yes/no levels that do not")
    func identifierNames() {
        for name in ["id", "customer_id", "customerId", "order_no", "invoice_number", "rowid"] {
            #expect(ColumnAccumulator.identifierName(name), "\(name)")
        }
        for name in ["smoking_yes_cancer_no", "smoking_no_cancer_no", "idea", "valid", "income"] {
            #expect(!ColumnAccumulator.identifierName(name), "\(name)")
        }
    }
}

@Suite("Profiler: ordered categories")
struct OrderedCategoryTests {
    /// The diamonds grades, a Likert answer and clothing sizes are on ordered scales; colours,
    /// blood groups and city names are not.
    @Test func orderedScalesAreRecognised() throws {
        let n = 60
        func pick(_ values: [String]) -> [String] { (0..<n).map { values[($0 * 7 + $0 / 5) % values.count] } }
        var lines = ["cut,color,clarity,answer,size,colour,blood,city"]
        let columns = [
            pick(["Fair", "Good", "Very Good", "Premium", "Ideal"]), pick(["D", "E", "F", "G", "H", "I", "J"]),
            pick(["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"]),
            pick(["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]), pick(["XS", "S", "M", "L", "XL"]),
            pick(["red", "green", "blue"]), pick(["A", "B", "AB", "O"]), pick(["Paris", "Lyon", "Nice", "Lille"]),
        ]
        for row in 0..<n { lines.append(columns.map { $0[row] }.joined(separator: ",")) }
        let profile = try profileText(lines.joined(separator: "\n") + "\n")
        let scales = Dictionary(uniqueKeysWithValues: profile.columns.map { ($0.name, $0.stats.orderedScale) })
        #expect(scales == [
            "cut": .quality, "color": .letterGrade, "clarity": .clarity, "answer": .agreement, "size": .size,
            "colour": nil, "blood": nil, "city": nil,
        ])
        #expect(profile.columns[0].reason.contains("ordered scale"))
    }
}
