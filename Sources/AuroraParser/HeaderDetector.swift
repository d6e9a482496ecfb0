/// Decides whether a table's first row is a header by comparing each of its cells with the cells
/// below it, column by column. Votes for a header: a text cell over typed values, a text cell that
/// never recurs in a column of repeated values, numbers that run in sequence across the row (years,
/// bins: `1960,1961,…` or `142.24,144.78,…`) where the rows below do not. Votes against: a cell of
/// the same type as the values below it, a text cell that recurs below.
enum HeaderDetector {
    typealias CellKind = DialectSniffer.CellKind

    struct Decision {
        var header: Bool
        var reason: String
    }

    static func decide(first: [String], body: [[String]], columns: Int, missingMarkers: MissingMarkers) -> Decision {
        let width = min(columns, first.count)
        let nameKinds = first.prefix(width).map { DialectSniffer.kind($0, missingMarkers: missingMarkers) }
        var bodyKinds: [CellKind?] = []
        for column in 0..<width {
            let kinds = body.compactMap { column < $0.count ? DialectSniffer.kind($0[column], missingMarkers: missingMarkers) : nil }
            bodyKinds.append(DialectSniffer.majority(kinds.filter { $0 != .missing }))
        }
        let sequence = Self.numericSequence(first: first, body: body, nameKinds: nameKinds, bodyKinds: bodyKinds)
        var votes = 0
        var evidence: [String] = []
        if let sequence {
            votes += 2
            evidence.append(sequence.description)
        }
        for column in 0..<width {
            if sequence?.columns.contains(column) == true { continue }
            let nameKind = nameKinds[column]
            guard let bodyKind = bodyKinds[column] else { continue }
            if bodyKind != .text {
                if nameKind == bodyKind {
                    votes -= 2
                } else if nameKind == .text {
                    votes += 2
                    if evidence.count < 2 { evidence.append("column \(column) holds \(bodyKind)s under a text cell") }
                }
            } else if nameKind == .text, let recurs = Self.recursInRepeatedColumn(first[column], column: column, body: body) {
                votes += recurs ? -1 : 1
                if !recurs && evidence.count < 2 { evidence.append("column \(column)'s first cell never recurs among its repeated values") }
            }
            if nameKind == .number || nameKind == .date { votes -= 1 }
        }
        // A repeated name is no evidence either way: exports repeat column names, and data rows
        // repeat values ("yes,yes,no"), which the recurrence vote above already weighs.
        let typedCell = nameKinds.enumerated().contains { column, kind in
            (kind == .number || kind == .date) && sequence?.columns.contains(column) != true
        }
        if votes < 0 || (votes == 0 && typedCell) {
            return Decision(header: false, reason: "first row looks like data (typed values where the header would have names)")
        }
        if votes > 0 { return Decision(header: true, reason: "first row is a header: " + evidence.joined(separator: "; ")) }
        return Decision(header: true, reason: "first row taken as the header (all columns are text, no evidence against)")
    }

    /// A text cell against a column of text values that repeat (at most half distinct, at least 8
    /// values): `true` if the cell is one of them (data), `false` if not (a name); nil when the
    /// column says nothing (too short, or mostly unique values such as names or comments).
    static func recursInRepeatedColumn(_ cell: String, column: Int, body: [[String]]) -> Bool? {
        let values = body.compactMap { column < $0.count && !$0[column].isEmpty ? $0[column] : nil }
        guard values.count >= 8 else { return nil }
        let distinct = Set(values)
        guard distinct.count * 2 <= values.count else { return nil }
        return distinct.contains(cell)
    }

    struct NumericSequence {
        var columns: Set<Int>
        var description: String
    }

    /// Numbers in the first row that rise (or fall) strictly from column to column, over columns of
    /// numbers: a header of years, ages or bin edges, as pandas writes for a cross-table. At least
    /// three such cells, and signs that the row is not data. When the rows below do not run in
    /// sequence, one sign is enough: a text cell over numbers elsewhere in the row, an even step,
    /// cells written unlike the values below them (integers over decimals or the reverse), or cells
    /// far outside their column's range. When they do (a table of values that grow year by year),
    /// it takes cells far outside their columns' range, written unlike them or evenly stepped.
    static func numericSequence(first: [String], body: [[String]], nameKinds: [CellKind], bodyKinds: [CellKind?]) -> NumericSequence? {
        let candidates = nameKinds.indices.filter { nameKinds[$0] == .number && bodyKinds[$0] == .number }
        guard candidates.count >= 3 else { return nil }
        let names = candidates.compactMap { Self.number(first[$0]) }
        guard names.count == candidates.count else { return nil }
        let values = names.map(\.value)
        guard let direction = Self.direction(values) else { return nil }
        let sample = body.prefix(200)
        var checked = 0
        var alike = 0
        for row in sample {
            let cells = candidates.compactMap { $0 < row.count ? Self.number(row[$0])?.value : nil }
            guard cells.count == candidates.count else { continue }
            checked += 1
            if Self.direction(cells) == direction { alike += 1 }
        }
        let rowsDiffer = checked > 0 && alike * 10 <= checked
        let textOverNumbers = nameKinds.indices.contains { nameKinds[$0] == .text && bodyKinds[$0] == .number }
        let steps = zip(values.dropFirst(), values).map { $0 - $1 }
        let evenStep = steps.allSatisfy { abs($0 - steps[0]) <= 1e-9 * max(1, abs(steps[0])) }
        var writtenUnlike = 0
        var farOutside = 0
        for (position, column) in candidates.enumerated() {
            let below = sample.compactMap { column < $0.count ? Self.number($0[column]) : nil }
            guard let low = below.map(\.value).min(), let high = below.map(\.value).max() else { continue }
            let integral = below.filter(\.isIntegral).count
            if names[position].isIntegral ? integral * 10 <= below.count : integral * 10 >= below.count * 9 { writtenUnlike += 1 }
            let span = high - low
            if values[position] < low - span || values[position] > high + span { farOutside += 1 }
        }
        let mostlyUnlike = writtenUnlike * 2 > candidates.count
        let mostlyOutside = farOutside * 2 > candidates.count
        let accepted = rowsDiffer
            ? textOverNumbers || evenStep || mostlyUnlike || mostlyOutside
            : mostlyOutside && (mostlyUnlike || evenStep)
        guard accepted else { return nil }
        let shown = candidates.prefix(3).map { first[$0] }.joined(separator: ", ")
        let rows = rowsDiffer ? "the rows below do not" : "far outside the values below"
        return NumericSequence(
            columns: Set(candidates),
            description: "the first row's numbers run in sequence across \(candidates.count) columns (\(shown), …), \(rows)")
    }

    static func number(_ cell: String) -> ParsedNumber? {
        var cell = cell
        return cell.withUTF8 { NumberParser.parse($0, style: .point) ?? NumberParser.parse($0, style: .comma) }
    }

    /// +1 strictly rising, -1 strictly falling, nil otherwise.
    static func direction(_ values: [Double]) -> Int? {
        let pairs = zip(values.dropFirst(), values)
        if pairs.allSatisfy({ $0 > $1 }) { return 1 }
        if pairs.allSatisfy({ $0 < $1 }) { return -1 }
        return nil
    }
}
