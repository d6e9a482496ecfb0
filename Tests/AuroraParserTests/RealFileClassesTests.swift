import AuroraParser
import AuroraStatistics
import Foundation
import Testing

/// Files written the way real exports are, one class of trap each: the table a person sees is
/// the table AURORA reads. Each test generates several files of its class (different seeds,
/// sizes and delimiters), not one example.
@Suite("real-file classes")
struct RealFileClassesTests {
    static let surnames = ["O'Brien", "D'Angelo", "O'Neil", "Smith", "Müller", "N'Diaye", "García", "Lee", "D'Souza", "Brown"]
    static let words = ["red", "green", "blue", "amber", "teal"]

    static func generate(rows: Int, seed: UInt64, _ row: (Int, inout SeededRandom) -> String) -> String {
        var random = SeededRandom(seed: seed)
        return (0..<rows).map { row($0, &random) }.joined(separator: "\n") + "\n"
    }

    /// Apostrophes in unquoted cells (names, '90s) are text, not quotes.
    @Test(arguments: [(",", 1 as UInt64), (";", 2), ("\t", 3), ("|", 4)])
    func apostrophesAreNotQuotes(delimiter: String, seed: UInt64) throws {
        let body = Self.generate(rows: 60, seed: seed) { index, random in
            let decade = ["'90s", "'80s", "'70s"].randomElement(using: &random)!
            return [String(index + 1), Self.surnames.randomElement(using: &random)!, decade, String(Int.random(in: 1...99, using: &random))]
                .joined(separator: delimiter)
        }
        let (profile, names, rows) = try profileBytes(Array(("id\(delimiter)name\(delimiter)era\(delimiter)score\n" + body).utf8))
        #expect(profile.dialect.delimiter == delimiter)
        #expect(profile.dialect.quote != "'", "\(profile.dialect)")
        #expect(names == ["id", "name", "era", "score"])
        #expect(rows.count == 60 && rows.allSatisfy { $0.count == 4 })
        #expect(rows.contains { $0[1].contains("'") } && rows.allSatisfy { $0[2].hasPrefix("'") })
    }

    /// A file that does quote with apostrophes is still read so.
    @Test func apostropheQuotedFilesStillWork() throws {
        let body = Self.generate(rows: 40, seed: 5) { index, random in
            "\(index),'\(Self.words.randomElement(using: &random)!), \(Self.words.randomElement(using: &random)!)',\(Int.random(in: 1...9, using: &random))"
        }
        let (profile, _, rows) = try profileBytes(Array(("id,colours,n\n" + body).utf8))
        #expect(profile.dialect.quote == "'")
        #expect(rows.allSatisfy { $0.count == 3 && $0[1].contains(", ") })
        // Every cell quoted, none holding the delimiter: still apostrophe quoting.
        for delimiter in [",", "\t"] {
            let text = ["'id'\(delimiter)'name'", "'1'\(delimiter)'Smith'", "'2'\(delimiter)'Doe'", "'3'\(delimiter)'Lee'"].joined(separator: "\n") + "\n"
            let (quoted, names, cells) = try profileBytes(Array(text.utf8))
            #expect(quoted.dialect.quote == "'" && names == ["id", "name"] && cells == [["1", "Smith"], ["2", "Doe"], ["3", "Lee"]], "\(quoted.dialect)")
        }
    }

    /// One-column files: nothing is split, whatever punctuation the values hold.
    @Test(arguments: [
        ["status", "ok", "n/a", "done", "n/a", "late", "ok", "n/a", "ok"],
        ["path", "/usr/bin", "/etc/hosts", "/var/log/syslog", "/home/a/b", "/tmp"],
        ["day", "2024/01/05", "2024/02/11", "2023/12/31", "2024/03/01", "2024/03/02"],
        ["tag", "#one", "#two", "#three", "#four", "#five"],
        ["sentence", "the quick fox", "jumps over", "the lazy dog", "and runs", "far away"],
        ["time", "12:30", "08:15", "23:59", "00:00", "07:45"],
        ["city", "New York", "Los Angeles", "San Francisco", "Las Vegas", "El Paso"],
        ["email", "a@x.com", "b@y.org", "c@z.net", "d@w.io"],
        ["ratio", "1:2", "3:4", "5:6", "7:8"],
    ])
    func oneColumnFilesAreOneColumn(lines: [String]) throws {
        let (profile, names, rows) = try profileBytes(Array((lines.joined(separator: "\n") + "\n").utf8))
        #expect(names == [lines[0]], "\(profile.dialect)")
        #expect(rows.map { $0 } == lines.dropFirst().map { [$0] })
        #expect(profile.dialect.delimiter == "")
    }

    /// A one-column file of quoted values holding commas, with or without the user's options.
    @Test func quotedOneColumnFilesKeepTheirCommas() throws {
        let values = ["[1,]", "[2, 3]", "a,b,c", "[4,5,6]", "x,", "[7,]"]
        let text = "\"list\"\n" + values.map { "\"\($0)\"" }.joined(separator: "\n") + "\n"
        let (_, names, rows) = try profileBytes(Array(text.utf8))
        #expect(names == ["list"] && rows == values.map { [$0] })
        var options = ProfileOptions()
        options.dialect.delimiter = UInt8(ascii: ",")
        options.dialect.header = true
        let (_, forcedNames, forcedRows) = try profileBytes(Array(text.utf8), options: options)
        #expect(forcedNames == ["list"] && forcedRows == values.map { [$0] })
    }

    /// Found by a stranger's probe: fully quoted "Last, First" values, `, `-separated tables
    /// with fixed word counts, links without a header, empty files, too many columns.
    @Test func strangersFindings() throws {
        let names = "name\n\"Smith, John\"\n\"Doe, Jane\"\n\"Lee, Ann\"\n"
        #expect(try profileBytes(Array(names.utf8)).rows == [["Smith, John"], ["Doe, Jane"], ["Lee, Ann"]])
        let spaced = "id, full name, amount\n" + (0..<50).map { "\($0), Ann Lee \($0), \($0).5" }.joined(separator: "\n") + "\n"
        let (_, spacedNames, spacedRows) = try profileBytes(Array(spaced.utf8))
        #expect(spacedNames == ["id", "full name", "amount"] && spacedRows[0] == ["0", "Ann Lee 0", "0.5"])
        let links = (0..<20).map { "\($0),https://example.com/item/\($0)" }.joined(separator: "\n") + "\n"
        let (linkProfile, _, linkRows) = try profileBytes(Array(links.utf8))
        #expect(linkProfile.dialect.delimiter == "," && linkRows.allSatisfy { $0.count == 2 && $0[1].hasPrefix("https://") })
        for empty in ["", "\n\n\n"] {
            #expect(throws: ProfileError.self) { _ = try profileBytes(Array(empty.utf8)) }
        }
        let wide = (0..<5000).map { "c\($0)" }.joined(separator: ",") + "\n" + (0..<5000).map(String.init).joined(separator: ",") + "\n"
        do {
            _ = try profileBytes(Array(wide.utf8))
            Issue.record("5000 columns were read under a 4096-column limit")
        } catch let error as ProfileError {
            #expect(error.message.contains("--max-columns"), "\(error)")
        }
    }

    /// A single row: tab beats space, and the row is data.
    @Test func aSingleRowIsDataAndTabBeatsSpace() throws {
        let (profile, names, rows) = try profileBytes(Array("New York\t8336817\t2020 census\n".utf8))
        #expect(profile.dialect.delimiter == "\t")
        #expect(profile.dialect.header == false && names == ["column_1", "column_2", "column_3"])
        #expect(rows == [["New York", "8336817", "2020 census"]])
    }

    /// `a, "b, c"`: spaces after the delimiter are not part of the field, and a quote after them
    /// opens a quoted field.
    @Test(arguments: [(", ", 11 as UInt64), ("; ", 12), (",  ", 13), ("| ", 14)])
    func spacesAfterTheDelimiterAreSkipped(separator: String, seed: UInt64) throws {
        let body = Self.generate(rows: 80, seed: seed) { index, random in
            // Some notes span two lines: the parallel reader must find row ends as the tokenizer does.
            let lineBreak = index % 7 == 0 ? "\n" : ""
            let note = "\"\(Self.words.randomElement(using: &random)!)\(separator)\(lineBreak)\(Self.words.randomElement(using: &random)!)\""
            return [String(index), Self.surnames.randomElement(using: &random)!, note, String(Int.random(in: -50...50, using: &random))].joined(separator: separator)
        }
        let text = ["id", "name", "note", "delta"].joined(separator: separator) + "\n" + body
        for chunk in [3, 4096] {
            let (profile, names, rows) = try profileBytes(Array(text.utf8), chunkSize: chunk)
            #expect(profile.dialect.skipInitialSpace, "\(profile.dialect)")
            #expect(names == ["id", "name", "note", "delta"])
            #expect(rows.count == 80 && rows.allSatisfy { $0.count == 4 && !$0[1].hasPrefix(" ") && $0[2].contains(separator) })
            #expect(profile.columns[3].type == .integer, "\(profile.columns[3].type)")
        }
        // In parallel, in small blocks: the same table.
        var options = ProfileOptions()
        options.threads = 2
        options.blockBytes = 512
        options.sampleBytes = 1024
        let serial = try profileBytes(Array(text.utf8), collectRows: false).0
        let parallel = try profileBytes(Array(text.utf8), options: options, collectRows: false).0
        #expect(parallel.rows == 80 && parallel.malformedRows == 0 && parallel.columns.map(\.stats) == serial.columns.map(\.stats))
    }

    /// Backslash escapes as MySQL and PostgreSQL text exports write them: an escaped delimiter,
    /// line end or backslash is text, and the row count is the table's.
    @Test(arguments: [(",", 21 as UInt64), ("\t", 22), (";", 23)])
    func backslashEscapesOutsideQuotes(delimiter: String, seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var expected: [[String]] = []
        var text = ["id", "path", "note", "n"].joined(separator: delimiter) + "\n"
        for index in 1...120 {
            let folder = Self.words.randomElement(using: &random)!
            let path = "C:\\data\\\(folder)"  // C:\data\red as written, C:\data\red read
            var note = "\(Self.words.randomElement(using: &random)!)\(delimiter) \(Self.words.randomElement(using: &random)!)"
            var written = note.replacingOccurrences(of: delimiter, with: "\\" + delimiter)
            if index % 9 == 0 {
                note += "\nsecond line"
                written += "\\\nsecond line"
            }
            let n = String(Int.random(in: 1...999, using: &random))
            expected.append([String(index), "C:\\data\\\(folder)", note, n])
            text += [String(index), path.replacingOccurrences(of: "\\", with: "\\\\"), written, n].joined(separator: delimiter) + "\n"
        }
        let (profile, names, rows) = try profileBytes(Array(text.utf8), chunkSize: 97)
        #expect(profile.dialect.escape == "\\", "\(profile.dialect)")
        #expect(names == ["id", "path", "note", "n"])
        #expect(rows == expected, "\(rows.prefix(2)) vs \(expected.prefix(2))")
        var options = ProfileOptions()
        options.threads = 2
        options.blockBytes = 700
        options.sampleBytes = 2048
        let parallel = try profileBytes(Array(text.utf8), options: options, collectRows: false).0
        #expect(parallel.rows == 120 && parallel.columns.map(\.stats) == profile.columns.map(\.stats))
    }

    /// Windows paths alone are not escapes.
    @Test func pathsWithoutEscapesKeepTheirBackslashes() throws {
        let text = "id,path\n" + (1...20).map { "\($0),C:\\temp\\new\\file\($0).txt" }.joined(separator: "\n") + "\n"
        let (profile, _, rows) = try profileBytes(Array(text.utf8))
        #expect(profile.dialect.escape != "\\")
        #expect(rows[0][1] == "C:\\temp\\new\\file1.txt")
    }

    /// A file two delimiters read equally well says so, naming the other; a clear one does not.
    @Test func anUncertainDelimiterIsSaidWithItsAlternative() throws {
        let ambiguous = "a;b,c\n" + (1...30).map { "\($0);x\($0),y\($0)" }.joined(separator: "\n") + "\n"
        let uncertain = try profileBytes(Array(ambiguous.utf8)).0
        #expect(uncertain.dialect.confidence < 0.6, "\(uncertain.dialect)")
        #expect(uncertain.dialect.reason.contains("uncertain: delimiter") && uncertain.dialect.reason.contains("--delimiter"), "\(uncertain.dialect.reason)")
        let clear = "id,name,score\n" + (1...30).map { "\($0),n\($0),\(Double($0) / 4)" }.joined(separator: "\n") + "\n"
        let certain = try profileBytes(Array(clear.utf8)).0
        #expect(certain.dialect.confidence >= 0.9 && !certain.dialect.reason.contains("uncertain"), "\(certain.dialect)")
    }

    /// The user's limits bind the sniffer: a long field within them is read; past them the error
    /// names the limit and the option, and nothing is read as something else.
    @Test func theUsersLimitsBindDetection() throws {
        let long = String(repeating: "x", count: 100_000)
        let text = "id\tnote\tn\n1\t\(long)\t5\n2\tshort\t6\n3\tother\t7\n"
        var options = ProfileOptions()
        options.limits = TokenizerLimits(maxFieldBytes: 200_000, maxColumns: 4096, maxRowBytes: 1 << 20)
        let (profile, names, rows) = try profileBytes(Array(text.utf8), options: options)
        #expect(profile.dialect.delimiter == "\t" && names == ["id", "note", "n"] && rows.count == 3 && rows[0][1].count == 100_000)
        options.limits = TokenizerLimits(maxFieldBytes: 50_000, maxColumns: 4096, maxRowBytes: 1 << 20)
        do {
            _ = try profileBytes(Array(text.utf8), options: options)
            Issue.record("a field past the limit was read")
        } catch let error as ProfileError {
            #expect(error.description.contains("50000 bytes") && error.description.contains("--max-field-bytes"), "\(error)")
            #expect(error.description.contains("line 2"), "\(error)")
        }
    }
}

/// Compressed files are read as what they hold; what is not a table is refused, saying what it is.
@Suite("compressed and non-table inputs")
struct ContainerTests {
    static let table = "id,amount,city\n" + (1...500).map { "\($0),\(Double($0) * 1.25),\(["Zürich", "Lyon", "Oslo"][$0 % 3])" }.joined(separator: "\n") + "\n"

    /// `tool args` with `input` on stdin, its stdout.
    static func run(_ tool: String, _ arguments: [String], input: [UInt8]) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        let writer = Thread { stdin.fileHandleForWriting.write(Data(input)); try? stdin.fileHandleForWriting.close() }
        writer.start()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Array(output)
    }

    @Test(arguments: [("gzip", ["-c"]), ("zstd", ["-c", "-q"]), ("zstd", ["-c", "-q", "-19", "--long=27"])])
    func compressedFilesReadAsTheirText(tool: String, arguments: [String]) throws {
        let plain = try profileBytes(Array(Self.table.utf8)).0
        let compressed = try Self.run(tool, arguments, input: Array(Self.table.utf8))
        #expect(!compressed.isEmpty)
        // Chunk sizes that cut the compressed stream anywhere.
        for chunk in [7, 4096, 1 << 20] {
            let (profile, names, rows) = try profileBytes(compressed, chunkSize: chunk)
            #expect(names == ["id", "amount", "city"] && rows.count == 500)
            #expect(profile.columns.map(\.stats) == plain.columns.map(\.stats))
            #expect(profile.encodingReason.hasPrefix("\(tool)-compressed"), "\(profile.encodingReason)")
            #expect(profile.bytes == compressed.count)
        }
        // Concatenated streams (`cat a.gz b.gz`) are one text.
        let twice = try profileBytes(compressed + compressed).0
        #expect(twice.rows == 1001)  // the second header is a row
        // Past the inflated-bytes bound (decompression bombs), an error naming the option.
        var bounded = ProfileOptions()
        bounded.maxInflatedBytes = 4096
        do {
            _ = try profileBytes(compressed, options: bounded)
            Issue.record("a stream past the inflated-bytes limit was read")
        } catch let error as ProfileError {
            #expect(error.message.contains("--max-inflated-bytes"), "\(error)")
        }
        // A cut file is an error, never a shorter table.
        do {
            _ = try profileBytes(Array(compressed.prefix(compressed.count - 9)))
            Issue.record("a cut \(tool) file was read")
        } catch let error as ProfileError {
            #expect(error.message.contains("cut") || error.message.contains("not valid"), "\(error)")
        }
    }

    static let notTables: [(bytes: [UInt8], named: String)] = {
        var cases: [(bytes: [UInt8], named: String)] = []
        cases.append((Array("%PDF-1.7\n%âãÏÓ\n1 0 obj\n".utf8), "PDF"))
        cases.append(([0x50, 0x4B, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00] + Array("[Content_Types].xml".utf8), "xlsx"))
        cases.append(([0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0, 0, 0], ".xls"))
        cases.append(([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D], "PNG"))
        cases.append((Array("SQLite format 3".utf8) + [0, 0x10, 0], "SQLite"))
        cases.append((Array("PAR1".utf8) + [0x15, 0x04], "Parquet"))
        cases.append((Array("[\n  {\"id\": 1, \"name\": \"a\"},\n  {\"id\": 2, \"name\": \"b\"}\n]\n".utf8), "JSON"))
        cases.append((Array("{\"id\": 1, \"name\": \"a\"}\n{\"id\": 2, \"name\": \"b\"}\n".utf8), "JSON"))
        cases.append((Array("<!DOCTYPE html>\n<html><body><table><tr><td>1</td></tr></table></body></html>\n".utf8), "HTML"))
        cases.append((Array("<?xml version=\"1.0\"?>\n<rows><row id=\"1\"/></rows>\n".utf8), "XML"))
        cases.append((Array("BZh91AY&SY".utf8), "bzip2"))
        cases.append(((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }, "binary data"))
        return cases
    }()

    @Test(arguments: Self.notTables)
    func whatIsNotATableIsRefusedByName(bytes: [UInt8], named: String) throws {
        do {
            let (profile, _, _) = try profileBytes(bytes)
            Issue.record("read as a table: \(profile.rows) rows, \(profile.columns.count) columns")
        } catch let error as ProfileError {
            #expect(error.message.contains(named), "\(error)")
        }
    }

    /// Tables that merely start like those formats are still tables.
    @Test(arguments: ["[a],b\n1,2\n3,4\n", "{x},y\n1,2\n", "PK,name\n1,a\n2,b\n", "<tag>,n\n<a>,1\n<b>,2\n"])
    func tablesThatLookAlikeAreStillTables(text: String) throws {
        let (profile, _, rows) = try profileBytes(Array(text.utf8))
        #expect(profile.columns.count == 2 && !rows.isEmpty)
    }
}

/// Legacy code pages are read as the text they hold, not as latin-1; a few bad bytes in UTF-8
/// do not turn the whole file into latin-1.
@Suite("legacy code pages and damaged UTF-8")
struct LegacyEncodingTests {
    static let samples: [(encoding: String, expected: String, cities: [String], people: [String])] = [
        ("CP1251", "windows-1251", ["Москва", "Санкт-Петербург", "Новосибирск", "Екатеринбург", "Казань"], ["Иванов", "Смирнова", "Кузнецов", "Попова"]),
        ("CP1251", "windows-1251", ["Київ", "Львів", "Харків", "Одеса", "Дніпро"], ["Шевченко", "Коваленко", "Бондаренко", "Ткаченко"]),
        ("CP1250", "windows-1250", ["Łódź", "Kraków", "Gdańsk", "Wrocław", "Poznań"], ["Wójcik", "Łukasz", "Zieliński", "Szymańska"]),
        ("CP1250", "windows-1250", ["Budapest", "Győr", "Szőlősgyörök", "Pécs", "Kecskemét"], ["Kovács", "Szűcs", "Bőrcsök", "Tőkés"]),
        ("SHIFT_JIS", "Shift_JIS", ["東京", "大阪", "名古屋", "札幌", "福岡"], ["やまだ", "さとう", "すずき", "たなか"]),
        ("GBK", "GBK", ["北京", "上海", "广州", "深圳", "成都"], ["王伟", "李娜", "张敏", "刘洋"]),
        ("CP1250", "windows-1250", ["Brno", "Plzeň", "Ústí nad Labem", "Liberec", "Olomouc"], ["Dvořák", "Novák", "Černý", "Procházka"]),
        ("CP1252", "windows-1252", ["Zürich", "São Paulo", "Málaga", "Kraków", "Genève"], ["Müller", "José", "Françoise", "Ørsted"]),
        ("CP1252", "windows-1252", ["Città di Castello", "Forlì", "Cantù", "Pòrto", "Perché"], ["Niccolò", "Lucà", "Fabrizio", "Mattè"]),
        ("CP1252", "windows-1252", ["São Luís", "Belém", "Maringá", "Goiânia", "Conceição"], ["João", "Gonçalves", "Simões", "Magalhães"]),
        ("CP1252", "windows-1252", ["Tromsø", "Ålesund", "Bodø", "Kristiansand", "Færder"], ["Sørensen", "Åsa", "Bjørn", "Løvås"]),
        ("CP1252", "windows-1252", ["Orléans", "Besançon", "Nîmes", "Angoulême", "Sète"], ["Hélène", "Gérard", "Benoît", "Françoise"]),
    ]

    static func encode(_ text: String, as encoding: String) throws -> [UInt8] {
        try ContainerTests.run("iconv", ["-f", "UTF-8", "-t", encoding], input: Array(text.utf8))
    }

    static func table(cities: [String], people: [String], rows: Int, seed: UInt64) -> String {
        var random = SeededRandom(seed: seed)
        return "id;city;name;price\n" + (1...rows).map { index in
            "\(index);\(cities.randomElement(using: &random)!);\(people.randomElement(using: &random)!);\(Int.random(in: 1...500, using: &random)),50"
        }.joined(separator: "\n") + "\n"
    }

    @Test(arguments: Array(Self.samples.indices))
    func legacyCodePagesAreReadAsTheirText(index: Int) throws {
        let sample = Self.samples[index]
        for (rows, seed) in [(30, UInt64(index)), (400, UInt64(index + 50))] {
            let text = Self.table(cities: sample.cities, people: sample.people, rows: rows, seed: seed)
            let bytes = try Self.encode(text, as: sample.encoding)
            #expect(bytes.count > 0)
            let (profile, names, parsed) = try profileBytes(bytes)
            // Without bytes in 0x80-0x9F, windows-1252 and ISO-8859-1 are the same text.
            let accepted = sample.expected == "windows-1252" ? ["windows-1252", "ISO-8859-1"] : [sample.expected]
            #expect(accepted.contains(profile.encoding), "\(sample.encoding): \(profile.encodingReason)")
            #expect(names == ["id", "city", "name", "price"])
            #expect(parsed.allSatisfy { sample.cities.contains($0[1]) && sample.people.contains($0[2]) }, "\(parsed.prefix(2))")
            #expect(profile.replacedCharacters == 0)
        }
    }

    /// Spanish opens questions with ¿ and exclamations with ¡: still windows-1252.
    @Test func spanishPunctuationStaysWestern() throws {
        let text = "nombre;comentario\r\nMuñoz;¿Cómo está?\r\nPeña;bien\r\nNúñez;¡Olé!\r\nIbáñez;año\r\n"
        let (profile, _, rows) = try profileBytes(try Self.encode(text, as: "CP1252"))
        #expect(["windows-1252", "ISO-8859-1"].contains(profile.encoding), "\(profile.encodingReason)")
        #expect(rows[0] == ["Muñoz", "¿Cómo está?"])
    }

    /// Western files with currency and other symbols stay windows-1252 or latin-1.
    @Test func westernSymbolsDoNotMakeACentralEuropeanFile() throws {
        let text = "item,price,note\n" + (1...50).map { "item \($0),£\($0).50,½ off at 20°C ©" }.joined(separator: "\n") + "\n"
        let profile = try profileBytes(try Self.encode(text, as: "CP1252")).0
        #expect(profile.encoding == "windows-1252" || profile.encoding == "ISO-8859-1", "\(profile.encodingReason)")
    }

    /// One invalid byte among many UTF-8 letters: UTF-8, that byte U+FFFD, counted and said.
    @Test(arguments: [[0xFF], [0xC3], [0xE2, 0x82], [0x80, 0x80, 0x80]])
    func aFewInvalidBytesDoNotMakeUTF8Latin1(bad: [UInt8]) throws {
        var bytes = Array("id,city\n".utf8)
        for index in 1...200 {
            bytes += Array("\(index),".utf8)
            if index == 37 { bytes += bad } else { bytes += Array(["Zürich", "Genève", "Köln", "Århus"][index % 4].utf8) }
            bytes += [0x0A]
        }
        let (profile, _, rows) = try profileBytes(bytes)
        #expect(profile.encoding == "UTF-8", "\(profile.encodingReason)")
        #expect(profile.replacedCharacters > 0 && profile.replacedCharacters <= bad.count)
        #expect(profile.encodingReason.contains("invalid"), "\(profile.encodingReason)")
        #expect(rows[0][1] == "Genève" && rows[35][1] == "Zürich" && rows[36][1].contains("\u{FFFD}"))
    }
}
