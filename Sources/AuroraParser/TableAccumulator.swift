/// Turns parsed rows of one part of a file into column statistics: skips the lines above the
/// table and the header, applies the ragged-row policy and feeds each cell to its column.
struct TableAccumulator: Sendable {
    let layout: SniffedLayout
    let policy: RaggedPolicy
    let missingMarkers: MissingMarkers
    let malformedListLimit: Int
    var columns: [ColumnAccumulator]
    var headerPending: Bool
    var rows = 0
    var malformedRows = 0
    var malformed: [MalformedRow] = []

    init(layout: SniffedLayout, settings: ProfileSettings, policy: RaggedPolicy, malformedListLimit: Int, isFirstPart: Bool) {
        self.layout = layout
        self.policy = policy
        self.missingMarkers = settings.missingMarkers
        self.malformedListLimit = malformedListLimit
        self.columns = layout.decimalStyles.map { ColumnAccumulator(style: $0, settings: settings) }
        self.headerPending = isFirstPart && layout.header
    }

    /// Returns the row's cells as profiled (for `--rows`), or nil when the row is not data.
    @inline(__always)
    mutating func add(_ row: CSVRow) throws -> Bool {
        if row.line <= self.layout.skippedLines { return false }
        if self.headerPending {
            self.headerPending = false
            return false
        }
        let expected = self.columns.count
        var count = row.count
        if count != expected {
            // Extra fields that are all empty come from trailing delimiters: not malformed.
            var effective = count
            while effective > expected && row[effective - 1].isEmpty { effective -= 1 }
            if effective != expected {
                self.malformedRows += 1
                if self.malformed.count < self.malformedListLimit {
                    self.malformed.append(MalformedRow(line: row.line, fields: count, expected: expected))
                }
                switch self.policy {
                case .fail:
                    throw ProfileError("\(count) fields where the table has \(expected) (ragged policy: fail)", line: row.line)
                case .skip:
                    return false
                case .pad:
                    break
                }
            }
            count = min(count, expected)
        }
        self.rows += 1
        let markers = self.missingMarkers
        self.columns.withUnsafeMutableBufferPointer { columns in
            for index in 0..<count { columns[index].add(row[index], missingMarkers: markers) }
            if count < expected {
                let empty = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
                for index in count..<expected { columns[index].add(empty, missingMarkers: markers) }
            }
        }
        return true
    }

    /// Adds the part of the file that comes after this one.
    mutating func merge(_ other: TableAccumulator) {
        self.rows += other.rows
        self.malformedRows += other.malformedRows
        self.malformed.append(contentsOf: other.malformed.prefix(max(0, self.malformedListLimit - self.malformed.count)))
        for index in self.columns.indices { self.columns[index].merge(other.columns[index]) }
    }
}
