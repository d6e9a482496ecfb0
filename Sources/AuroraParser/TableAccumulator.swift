import AuroraStatistics

/// Turns parsed rows of one part of a file into column statistics: skips the lines above the
/// table and the header, applies the ragged-row policy and feeds each cell to its column.
///
/// Cells are fed a batch of rows at a time, column by column: each row's bytes are copied into an
/// arena, and when the batch is full every column takes all of its cells in one loop. Row by row,
/// each cell touched another column's sketches (several KiB each), which no longer fit the CPU's
/// first-level cache; column by column, one column's state stays in it for the whole batch.
/// `flush()` (done by `merge` and before the columns are read) feeds what is left.
struct TableAccumulator: Sendable {
    let layout: SniffedLayout
    let policy: RaggedPolicy
    let missingMarkers: MissingMarkers
    let malformedListLimit: Int
    /// Complete only after `flush()`.
    private(set) var columns: [ColumnAccumulator]
    var headerPending: Bool
    var rows = 0
    var malformedRows = 0
    var malformed: [MalformedRow] = []

    /// Rows per batch: at most 256, and at most 65,536 cells.
    private let batchRows: Int
    private var batchedRows = 0
    /// The batch's cells: the bytes of its rows, and per cell (column-major: column × batchRows
    /// + row) its offset in `arena` and its length.
    private var arena: [UInt8] = []
    private var offsets: [Int]
    private var lengths: [Int]

    /// A batch is fed early once its bytes pass this (a few very long rows).
    private static let arenaLimit = 1 << 20

    /// `priorRows`: about how many rows of the file come before this part (see `ColumnAccumulator.priorRows`).
    init(layout: SniffedLayout, settings: ProfileSettings, policy: RaggedPolicy, malformedListLimit: Int, isFirstPart: Bool, priorRows: Int = 0) {
        self.layout = layout
        self.policy = policy
        self.missingMarkers = settings.missingMarkers
        self.malformedListLimit = malformedListLimit
        let exactLimit = settings.exactLimit(columns: layout.decimalStyles.count)
        self.columns = layout.decimalStyles.map { style in
            var column = ColumnAccumulator(style: style, settings: settings, exactLimit: exactLimit)
            column.priorRows = priorRows
            return column
        }
        self.headerPending = isFirstPart && layout.header
        self.batchRows = max(1, min(256, 65_536 / max(1, self.columns.count)))
        self.offsets = [Int](repeating: 0, count: self.batchRows * self.columns.count)
        self.lengths = self.offsets
    }

    /// Takes one parsed row; returns whether it is data (false for lines above the table, the
    /// header, and rows the ragged policy skips).
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
        self.batch(row, count: count)
        return true
    }

    /// Copies the row's first `count` cells into the batch (missing ones as empty).
    @inline(__always)
    private mutating func batch(_ row: CSVRow, count: Int) {
        let expected = self.columns.count
        let stride = self.batchRows
        let slot = self.batchedRows
        // When every field points into the input, the row's bytes are copied at once (fields
        // unescaped in the tokenizer's scratch are copied one by one).
        let rowOffset = self.arena.count
        let rowStart = row.span?.baseAddress
        if let span = row.span { self.arena.append(contentsOf: span) }
        self.offsets.withUnsafeMutableBufferPointer { offsets in
            self.lengths.withUnsafeMutableBufferPointer { lengths in
                for index in 0..<count {
                    let cell = row[index]
                    if let rowStart, let base = cell.baseAddress {
                        offsets[index * stride + slot] = rowOffset + (base - rowStart)
                    } else {
                        offsets[index * stride + slot] = self.arena.count
                        self.arena.append(contentsOf: cell)
                    }
                    lengths[index * stride + slot] = cell.count
                }
                for index in count..<expected { lengths[index * stride + slot] = 0 }
            }
        }
        self.batchedRows += 1
        if self.batchedRows == stride || self.arena.count >= Self.arenaLimit { self.flush() }
    }

    /// Feeds the batched rows to their columns, one column at a time.
    mutating func flush() {
        guard self.batchedRows > 0 else { return }
        let rows = self.batchedRows
        let stride = self.batchRows
        let markers = self.missingMarkers
        BatchScratch.with(capacity: rows) { scratch in
            self.arena.withUnsafeBufferPointer { arena in
                self.offsets.withUnsafeBufferPointer { offsets in
                    self.lengths.withUnsafeBufferPointer { lengths in
                        self.columns.withUnsafeMutableBufferPointer { columns in
                            for column in columns.indices {
                                let batch = CellBatch(
                                    bytes: arena.baseAddress, offsets: offsets.baseAddress! + column * stride,
                                    lengths: lengths.baseAddress! + column * stride, count: rows)
                                columns[column].add(batch, missingMarkers: markers, scratch: scratch)
                            }
                        }
                    }
                }
            }
        }
        self.batchedRows = 0
        self.arena.removeAll(keepingCapacity: true)
    }

    /// Adds the part of the file that comes after this one.
    mutating func merge(_ other: TableAccumulator) {
        var other = other
        other.flush()
        self.flush()
        self.rows += other.rows
        self.malformedRows += other.malformedRows
        self.malformed.append(contentsOf: other.malformed.prefix(max(0, self.malformedListLimit - self.malformed.count)))
        for index in self.columns.indices { self.columns[index].merge(other.columns[index]) }
    }
}
