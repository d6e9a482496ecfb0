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
    }

    /// One-column files: nothing is split, whatever punctuation the values hold.
    @Test(arguments: [
        ["status", "ok", "n/a", "done", "n/a", "late", "ok", "n/a", "ok"],
        ["path", "/usr/bin", "/etc/hosts", "/var/log/syslog", "/home/a/b", "/tmp"],
        ["day", "2024/01/05", "2024/02/11", "2023/12/31", "2024/03/01", "2024/03/02"],
        ["tag", "#one", "#two", "#three", "#four", "#five"],
        ["sentence", "the quick fox", "jumps over", "the lazy dog", "and runs", "far away"],
        ["time", "12:30", "08:15", "23:59", "00:00", "07:45"],
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

    /// A single row: tab beats space, and the row is data.
    @Test func aSingleRowIsDataAndTabBeatsSpace() throws {
        let (profile, names, rows) = try profileBytes(Array("New York\t8336817\t2020 census\n".utf8))
        #expect(profile.dialect.delimiter == "\t")
        #expect(profile.dialect.header == false && names == ["column_1", "column_2", "column_3"])
        #expect(rows == [["New York", "8336817", "2020 census"]])
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
