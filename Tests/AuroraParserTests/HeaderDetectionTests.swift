@testable import AuroraParser
import Testing

/// Headers as real exports write them: numbers as names (years, bins of a cross-table), names
/// repeated, text columns only; and the headerless tables that must stay headerless.
@Suite("Header detection")
struct HeaderDetectionTests {
    static func detect(_ lines: [String]) throws -> (header: Bool, names: [String], reason: String) {
        let profile = try profileText(lines.joined(separator: "\n") + "\n")
        return (profile.dialect.header, profile.columns.map(\.name), profile.dialect.reason)
    }

    /// `count` rows of `width` integers from a fixed pseudo-random sequence (no row runs in order).
    static func counts(rows count: Int, width: Int, seed: UInt64 = 7) -> [[String]] {
        var state = seed
        return (0..<count).map { _ in
            (0..<width).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return String((state >> 33) % 60)
            }
        }
    }

    @Test("years over decimal values, under text columns")
    func yearsOverDecimals() throws {
        var lines = ["Country,Code,1960,1961,1962,1963"]
        for (index, row) in Self.counts(rows: 12, width: 4).enumerated() {
            lines.append("Land \(index),L\(index)," + row.map { "\($0).\(index % 9 + 1)5" }.joined(separator: ","))
        }
        let result = try Self.detect(lines)
        #expect(result.header, "\(result.reason)")
        #expect(result.names == ["Country", "Code", "1960", "1961", "1962", "1963"])
    }

    @Test("years every five, over decimals, first column text")
    func yearsEveryFive() throws {
        let lines = ["Item,1940,1945,1950,1955,1960", "Food,22.2,44.5,59.6,73.2,86.8", "Household,10.5,15.5,29.0,36.5,46.2",
                     "Medical,3.53,5.76,9.71,14.0,21.1", "Personal,1.04,1.98,2.45,3.4,5.4", "Private,0.341,0.974,1.8,2.6,3.64"]
        // Every body row rises too (spending grows year by year): the years lie far outside the
        // values below them, are written as integers over decimals and evenly stepped.
        let result = try Self.detect(lines)
        #expect(result.header, "\(result.reason)")
        #expect(result.names == ["Item", "1940", "1945", "1950", "1955", "1960"])
        let mixed = ["Item,1940,1945,1950,1955,1960", "Food,22.2,14.5,59.6,33.2,86.8", "Household,10.5,15.5,9.0,36.5,46.2",
                     "Medical,3.53,1.76,9.71,4.0,21.1", "Personal,5.04,1.98,2.45,3.4,1.4", "Private,0.341,0.974,0.18,2.6,3.64"]
        let header = try Self.detect(mixed)
        #expect(header.header, "\(header.reason)")
        #expect(header.names.last == "1960")
    }

    @Test("a cross-table: an index column named by text, bins as names")
    func crossTable() throws {
        for names in [["1", "2", "3", "4", "5", "6"], ["0", "1", "2", "3", "4", "5"], ["142.24", "144.78", "147.32", "149.86", "152.4", "154.94"],
                      ["16.5", "16.75", "17.25", "17.75", "18.25", "18.75"]] {
            var lines = ["Unnamed: 0," + names.joined(separator: ",")]
            for (index, row) in Self.counts(rows: 10, width: names.count).enumerated() {
                lines.append("\(70 - index)," + row.joined(separator: ","))
            }
            let result = try Self.detect(lines)
            #expect(result.header, "\(names): \(result.reason)")
            #expect(result.names == ["Unnamed: 0"] + names)
        }
    }

    @Test("headerless numbers stay headerless, even when the first row happens to rise")
    func headerlessNumbers() throws {
        var lines = ["1,5,9,13,20"]
        for row in Self.counts(rows: 10, width: 5) { lines.append(row.joined(separator: ",")) }
        #expect(try !Self.detect(lines).header)
        // Ranks that rise in every row, the first one included, are data.
        let ranks = (0..<10).map { "\($0),\($0 + 1),\($0 + 2),\($0 + 3)" }
        #expect(try !Self.detect(ranks).header)
        // Two decimal columns under a decimal first row: no header (pandas names them after the values).
        let pairs = ["-0.00313258,0.083", "0.0188713,0.083", "0.0248036,0.087", "0.0101,0.09", "0.0021,0.081"]
        #expect(try !Self.detect(pairs).header)
    }

    @Test("text columns: a first row whose cells recur below is data; names that never recur are a header")
    func categoricalText() throws {
        let values = ["red,yes,north", "blue,no,south", "red,no,east", "green,yes,west", "blue,yes,north", "red,no,south",
                      "green,no,east", "blue,yes,west", "red,yes,north", "green,no,south"]
        #expect(try !Self.detect(["blue,no,west"] + values).header)
        let named = try Self.detect(["colour,answer,side"] + values)
        #expect(named.header)
        #expect(named.names == ["colour", "answer", "side"])
        // A repeated name over free text is still a header (as pandas reads it).
        let notes = try Self.detect(["note,note,city"] + (0..<10).map { "first remark number \($0),second remark \($0 * 3),town \($0)" })
        #expect(notes.header && notes.names == ["note", "note_2", "city"], "\(notes.reason)")
        // Duplicate names with clear evidence elsewhere still make a header.
        let duplicated = try Self.detect(["name,score,score"] + (0..<10).map { "p\($0),\($0 * 3 % 7),\($0 % 4)" })
        #expect(duplicated.header)
        #expect(duplicated.names == ["name", "score", "score_2"])
    }

    @Test("a column of links keeps the comma as the delimiter and its header")
    func links() throws {
        var lines = ["id,topic,link"]
        for index in 1...12 { lines.append("\(index),topic\(index % 4),https://example.org/docs/section\(index)/page_\(index).html") }
        let result = try Self.detect(lines)
        #expect(result.header, "\(result.reason)")
        #expect(result.names == ["id", "topic", "link"])
        let profile = try profileText(lines.joined(separator: "\n") + "\n")
        #expect(profile.dialect.delimiter == ",")
        #expect(profile.rows == 12)
    }
}
