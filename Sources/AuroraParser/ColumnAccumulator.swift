import AuroraStatistics

/// Cells of a batch, column by column: cell i is `bytes[offsets[i] ..< offsets[i] + lengths[i]]`
/// (a view; the caller owns the memory for the duration of the call).
struct CellBatch {
    let bytes: UnsafePointer<UInt8>?
    let offsets: UnsafePointer<Int>
    let lengths: UnsafePointer<Int>
    let count: Int

    @inline(__always)
    subscript(index: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: self.bytes.map { $0 + self.offsets[index] }, count: self.lengths[index])
    }
}

/// Working memory for one batch, at least its cell count long: the hashes of the non-missing
/// cells and their indices in the batch.
struct BatchScratch {
    let hashes: UnsafeMutablePointer<UInt64>
    let kept: UnsafeMutablePointer<Int32>
    /// The batch's numbers, in order.
    let numbers: UnsafeMutablePointer<Double>

    /// Scratch memory for batches of up to `capacity` cells, for the duration of `body`.
    static func with<Result>(capacity: Int, _ body: (BatchScratch) -> Result) -> Result {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: capacity) { hashes in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: capacity) { kept in
                withUnsafeTemporaryAllocation(of: Double.self, capacity: capacity) { numbers in
                    body(BatchScratch(hashes: hashes.baseAddress!, kept: kept.baseAddress!, numbers: numbers.baseAddress!))
                }
            }
        }
    }
}

/// Settings that shape a column's statistics.
public struct ProfileSettings: Sendable, Hashable {
    public var missingMarkers: MissingMarkers
    /// Values kept by the frequent-values summary (the top values reported are a prefix).
    public var frequentCapacity: Int
    public var topValues: Int
    public var histogramBins: Int
    public var quantileSketchK: Int
    public var distinctPrecision: Int
    /// Values per column kept exactly (numbers, and distinct values); a column within it gets
    /// exact quantiles, distinct counts and moments, beyond it the sketches' estimates.
    public var exactLimit: Int
    /// Memory the exact values of a file's columns may take together, at about 24 bytes a value
    /// (8 for the number, 16 for the distinct table): wide files get a lower limit per column.
    public var exactMemoryBytes: Int

    public init(
        missingMarkers: MissingMarkers = MissingMarkers(), frequentCapacity: Int = 64, topValues: Int = 10,
        histogramBins: Int = 20, quantileSketchK: Int = 200, distinctPrecision: Int = 12,
        exactLimit: Int = 65_536, exactMemoryBytes: Int = 128 << 20
    ) {
        self.missingMarkers = missingMarkers
        self.frequentCapacity = frequentCapacity
        self.topValues = topValues
        self.histogramBins = histogramBins
        self.quantileSketchK = quantileSketchK
        self.distinctPrecision = distinctPrecision
        self.exactLimit = exactLimit
        self.exactMemoryBytes = exactMemoryBytes
    }

    /// The exact limit per column for a file of `columns` columns, within `exactMemoryBytes`.
    public func exactLimit(columns: Int) -> Int {
        max(0, min(self.exactLimit, self.exactMemoryBytes / (24 * max(1, columns))))
    }
}

/// One column's statistics over any number of cells, in memory that does not grow with them.
/// The column's kind is a hypothesis from its first value, kept while cells agree; a column
/// whose cells keep disagreeing becomes text (and stops paying for number or date parsing).
/// Accumulators of parts of a file merge into the accumulator of the whole.
public struct ColumnAccumulator: Sendable {
    enum Hypothesis: UInt8, Sendable {
        case unknown, number, boolean, date, text
    }

    let style: DecimalStyle
    var hypothesis = Hypothesis.unknown
    var cells = 0
    var missing = 0
    /// Cells that did not fit the hypothesis (counted while it held).
    var invalid = 0

    // Numbers.
    /// Moments of the numbers up to the last full group of 64; `pendingNumbers` holds the rest.
    /// In groups the moments cost no division per value (`Moments.add(contentsOf:)`), and the
    /// same groups whatever the batches, so the result does not depend on how cells arrive.
    private var flushedMoments = Moments()
    private var pendingNumbers: [Double] = []
    private static let numberGroup = 64
    var moments: Moments {
        var moments = self.flushedMoments
        self.pendingNumbers.withUnsafeBufferPointer { moments.add(contentsOf: $0) }
        return moments
    }
    var quantiles: KLLSketch
    /// The numbers themselves while they fit the exact limit.
    var exactNumbers: ExactNumbers
    var minimum = Double.infinity
    var maximum = -Double.infinity
    var zeros = 0
    var negatives = 0
    var fractional = 0
    var leadingZeros = 0
    var percents = 0
    var currencies = 0
    var grouped = 0
    /// Every number greater than the one before: with whole numbers, all distinct at any size.
    var strictlyAscending = true
    var firstValue = Double.nan
    var lastValue = Double.nan

    // Booleans.
    var trues = 0
    var falses = 0

    // Dates.
    var dateShape: DateShape?
    var dateOrders: DateOrders = [.ymd, .dmy, .mdy]
    var dateMinimum: (Int64, Int64, Int64) = (.max, .max, .max)
    var dateMaximum: (Int64, Int64, Int64) = (.min, .min, .min)

    // Every non-missing cell.
    var distinct: DistinctValues
    /// Text cells before any number in a column whose first cell was text: while there are at
    /// most three, a number still makes it a numeric column (with them as non-numbers), so that a
    /// stray "unknown" or "<5" in the first row does not turn a column of numbers into text.
    /// 0 once the column settled.
    var leadingText = 0
    private static let leadingTextLimit = 3
    var frequent: FrequentValues
    var minimumLength = Int.max
    var maximumLength = 0
    var totalLength = 0
    var cellsWithSpace = 0
    /// Spaces in all cells: words per cell tell free text from multi-word labels.
    var spaces = 0
    var trackFrequent = true

    public init(style: DecimalStyle = .point, settings: ProfileSettings = ProfileSettings(), exactLimit: Int? = nil) {
        self.style = style
        self.quantiles = KLLSketch(k: settings.quantileSketchK)
        self.exactNumbers = ExactNumbers(limit: exactLimit ?? settings.exactLimit)
        self.distinct = DistinctValues(limit: exactLimit ?? settings.exactLimit, precision: settings.distinctPrecision)
        self.frequent = FrequentValues(capacity: settings.frequentCapacity)
    }

    var nonMissing: Int { self.cells - self.missing }

    /// Once this many cells disagree (and more than 1% of the column; 10% for numbers, which
    /// hold at up to 5% non-numbers in the end), the hypothesis is dropped.
    @inline(__always)
    private mutating func reject() {
        self.invalid += 1
        let gaveUp = self.hypothesis == .number
            ? self.invalid > 64 && self.invalid * 10 > self.nonMissing
            : self.invalid > 10 && self.invalid * 100 > self.nonMissing
        if gaveUp { self.becomeText() }
    }

    private mutating func becomeText() {
        self.hypothesis = .text
        self.flushedMoments = Moments()
        self.pendingNumbers = []
        self.quantiles = KLLSketch(k: self.quantiles.k)
        self.exactNumbers.clear()
        self.dateShape = nil
        self.leadingText = 0
    }

    /// Adds one cell (a batch of one).
    public mutating func add(_ cell: UnsafeBufferPointer<UInt8>, missingMarkers: MissingMarkers) {
        let offsets = [0]
        let lengths = [cell.count]
        offsets.withUnsafeBufferPointer { offsets in
            lengths.withUnsafeBufferPointer { lengths in
                let batch = CellBatch(bytes: cell.baseAddress, offsets: offsets.baseAddress!, lengths: lengths.baseAddress!, count: 1)
                BatchScratch.with(capacity: 1) { self.add(batch, missingMarkers: missingMarkers, scratch: $0) }
            }
        }
    }

    /// Adds a batch of cells in passes: each cell's kind and lengths first, then the hashes of
    /// the non-missing cells to the distinct-count sketch and to the frequent values, and the
    /// numbers to the moments and the quantile sketch, each in one loop (one exclusive access to
    /// a sketch per batch, not one per cell).
    mutating func add(_ batch: CellBatch, missingMarkers: MissingMarkers, scratch: BatchScratch) {
        let cellsBefore = self.cells
        var present = 0
        var numbers = 0
        for index in 0..<batch.count {
            let cell = batch[index]
            self.cells += 1
            if missingMarkers.isMissing(cell) {
                self.missing += 1
                continue
            }
            scratch.hashes[present] = Hash64.hash(cell)
            scratch.kept[present] = Int32(truncatingIfNeeded: index)
            present += 1
            switch self.hypothesis {
            case .number:
                self.recordLength(bytes: cell.count)
                if let number = NumberParser.parse(cell, style: self.style) {
                    self.addNumber(number)
                    scratch.numbers[numbers] = number.value
                    numbers += 1
                } else {
                    self.reject()
                    if self.hypothesis == .text { numbers = 0 }  // the numbers so far are dropped
                }
            case .text:
                self.recordText(cell)
                if self.leadingText > 0 {
                    if let number = NumberParser.parse(cell, style: self.style) {
                        self.hypothesis = .number
                        self.invalid = self.leadingText
                        self.leadingText = 0
                        self.addNumber(number)
                        scratch.numbers[numbers] = number.value
                        numbers += 1
                    } else {
                        self.leadingText = self.leadingText < Self.leadingTextLimit ? self.leadingText + 1 : 0
                    }
                }
            case .boolean:
                self.recordLength(bytes: cell.count)
                if let value = BooleanParser.parse(cell) { self.addBoolean(value) } else { self.reject() }
            case .date:
                self.recordText(cell)
                if let date = DateParser.parse(cell), self.acceptsDate(date) { self.addDate(date) } else { self.reject() }
            case .unknown:
                self.recordText(cell)
                if let number = NumberParser.parse(cell, style: self.style) {
                    self.hypothesis = .number
                    self.addNumber(number)
                    scratch.numbers[numbers] = number.value
                    numbers += 1
                } else if let value = BooleanParser.parse(cell) {
                    self.hypothesis = .boolean
                    self.addBoolean(value)
                } else if let date = DateParser.parse(cell) {
                    self.hypothesis = .date
                    self.addDate(date)
                } else {
                    self.hypothesis = .text
                    self.leadingText = 1
                }
            }
        }
        if numbers > 0 { self.addNumbers(UnsafeBufferPointer(start: scratch.numbers, count: numbers)) }
        let hashes = UnsafeBufferPointer(start: scratch.hashes, count: present)
        if self.priorRows > 0 { self.distinct.priorValues = self.prior(self.nonMissing) }
        self.distinct.add(hashes: hashes)
        if self.trackFrequent {
            self.frequent.add(hashes: hashes) { batch[Int(scratch.kept[$0])] }
            // In a column of (nearly) distinct values no value is frequent: stop paying for the
            // summary (checked each time the cell count passes a multiple of 16,384).
            if cellsBefore >> 14 != self.cells >> 14 && self.nonMissing >= 16_384 && self.distinct.estimate > 0.5 * Double(self.nonMissing) {
                self.trackFrequent = false
            }
        }
    }

    @inline(__always)
    private mutating func recordLength(bytes length: Int) {
        if length < self.minimumLength { self.minimumLength = length }
        if length > self.maximumLength { self.maximumLength = length }
        self.totalLength += length
    }

    /// Length in characters (not bytes) and whether the cell holds a space; eight bytes at a time.
    @inline(__always)
    private mutating func recordText(_ cell: UnsafeBufferPointer<UInt8>) {
        let count = cell.count
        var characters = 0
        var spaces = 0
        var index = 0
        if let base = cell.baseAddress {
            let raw = UnsafeRawPointer(base)
            let high: UInt64 = 0x8080_8080_8080_8080
            while index + 8 <= count {
                let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                // Continuation bytes (10xxxxxx) do not start a character.
                characters += 8 - ((word & ~(word << 1)) & high).nonzeroBitCount
                // A zero byte in word ^ "        " is a space; counted exactly (no borrow
                // between bytes: the low seven bits are added apart from the high one).
                let flipped = word ^ 0x2020_2020_2020_2020
                let low: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
                spaces += (~(((flipped & low) &+ low) | flipped | low)).nonzeroBitCount
                index += 8
            }
            while index < count {
                let byte = base[index]
                if byte & 0xC0 != 0x80 { characters += 1 }
                if byte == UInt8(ascii: " ") { spaces += 1 }
                index += 1
            }
        }
        self.recordLength(bytes: characters)
        if spaces > 0 { self.cellsWithSpace += 1 }
        self.spaces += spaces
    }

    @inline(__always)
    private mutating func addNumber(_ number: ParsedNumber) {
        let value = number.value
        if value < self.minimum { self.minimum = value }
        if value > self.maximum { self.maximum = value }
        if value == 0 { self.zeros += 1 }
        if value < 0 { self.negatives += 1 }
        if !number.isIntegral { self.fractional += 1 }
        if number.leadingZero { self.leadingZeros += 1 }
        if number.percent { self.percents += 1 }
        if number.currency { self.currencies += 1 }
        if number.grouped { self.grouped += 1 }
        if self.firstValue.isNaN { self.firstValue = value }
        if value <= self.lastValue { self.strictlyAscending = false }
        self.lastValue = value
    }

    /// Rows before this accumulator's in the file (it profiles a later part of it): the quantile
    /// sketch samples as if this column's numbers in them had come first, at this part's density,
    /// and the exact structures know when the whole column is past their limit.
    var priorRows = 0

    /// About how many of this column's `count` values (numbers, non-missing cells) the rows
    /// before this part hold, at this part's density.
    private func prior(_ count: Int) -> Int {
        self.priorRows == 0 ? 0 : Int((Double(self.priorRows) * Double(count) / Double(max(1, self.cells))).rounded())
    }

    /// The batch's numbers (already counted by `addNumber`) to the moments and the sketch.
    private mutating func addNumbers(_ numbers: UnsafeBufferPointer<Double>) {
        let prior = self.prior(self.quantiles.count + numbers.count)
        if self.priorRows > 0 { self.quantiles.priorCount = prior }
        self.quantiles.add(contentsOf: numbers)
        self.exactNumbers.add(contentsOf: numbers, prior: prior)
        var offset = 0
        while offset < numbers.count {
            let take = min(Self.numberGroup - self.pendingNumbers.count, numbers.count - offset)
            self.pendingNumbers.append(contentsOf: UnsafeBufferPointer(rebasing: numbers[offset..<(offset + take)]))
            offset += take
            if self.pendingNumbers.count == Self.numberGroup {
                self.pendingNumbers.withUnsafeBufferPointer { self.flushedMoments.add(contentsOf: $0) }
                self.pendingNumbers.removeAll(keepingCapacity: true)
            }
        }
    }

    private mutating func addBoolean(_ value: Bool) {
        if value { self.trues += 1 } else { self.falses += 1 }
    }

    private func acceptsDate(_ date: ParsedDate) -> Bool {
        guard let shape = self.dateShape else { return true }
        return shape.agrees(with: date.shape) && !self.dateOrders.intersection(date.orders).isEmpty
    }

    private mutating func addDate(_ date: ParsedDate) {
        if self.dateShape == nil { self.dateShape = date.shape } else { self.dateShape!.absorb(date.shape) }
        self.dateOrders.formIntersection(date.orders)
        self.widenDateRange(minimum: date.seconds, maximum: date.seconds)
    }

    /// Date ranges are kept for each reading order (ymd, dmy, mdy) until the column settles on one.
    private mutating func widenDateRange(minimum: (Int64, Int64, Int64), maximum: (Int64, Int64, Int64)) {
        self.dateMinimum = (min(self.dateMinimum.0, minimum.0), min(self.dateMinimum.1, minimum.1), min(self.dateMinimum.2, minimum.2))
        self.dateMaximum = (max(self.dateMaximum.0, maximum.0), max(self.dateMaximum.1, maximum.1), max(self.dateMaximum.2, maximum.2))
    }

    /// Adds the statistics of the cells that come after this accumulator's (order matters only
    /// for "strictly ascending").
    public mutating func merge(_ other: ColumnAccumulator) {
        let joined: Hypothesis
        switch (self.hypothesis, other.hypothesis) {
        case (.unknown, let kind), (let kind, .unknown): joined = kind
        case let (a, b) where a == b:
            if a == .date, let mine = self.dateShape, let theirs = other.dateShape,
                !mine.agrees(with: theirs) || self.dateOrders.intersection(other.dateOrders).isEmpty
            {
                joined = .text
            } else {
                joined = a
            }
        // A part that saw only a few text cells before any number (see `leadingText`) joins a
        // numeric part as numbers, its cells counted as non-numbers.
        case (.number, .text) where other.leadingText > 0:
            joined = .number
        case (.text, .number) where self.leadingText > 0:
            joined = .number
            self.invalid = self.nonMissing
            self.leadingText = 0
        default: joined = .text
        }
        self.cells += other.cells
        self.missing += other.missing
        self.distinct.merge(other.distinct)
        self.frequent.merge(other.frequent)
        self.minimumLength = min(self.minimumLength, other.minimumLength)
        self.maximumLength = max(self.maximumLength, other.maximumLength)
        self.totalLength += other.totalLength
        self.cellsWithSpace += other.cellsWithSpace
        self.spaces += other.spaces
        if joined == .text {
            // Still tentative if every text cell of both parts came before any number and there
            // are few enough of them.
            let mine = self.hypothesis == .unknown ? 0 : self.leadingText
            let theirs = other.hypothesis == .unknown ? 0 : other.leadingText
            let tentative = (mine > 0 || self.hypothesis == .unknown) && (theirs > 0 || other.hypothesis == .unknown)
            self.becomeText()
            if tentative && mine + theirs <= Self.leadingTextLimit { self.leadingText = mine + theirs }
            return
        }
        self.hypothesis = joined
        self.invalid += other.hypothesis == .text ? other.nonMissing : other.invalid
        self.exactNumbers.merge(other.exactNumbers)
        self.flushedMoments = self.moments
        self.pendingNumbers.removeAll(keepingCapacity: true)
        self.flushedMoments.merge(other.moments)
        self.quantiles.merge(other.quantiles)
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        self.zeros += other.zeros
        self.negatives += other.negatives
        self.fractional += other.fractional
        self.leadingZeros += other.leadingZeros
        self.percents += other.percents
        self.currencies += other.currencies
        self.grouped += other.grouped
        if !other.firstValue.isNaN {
            self.strictlyAscending = self.strictlyAscending && other.strictlyAscending && !(other.firstValue <= self.lastValue)
            if self.firstValue.isNaN { self.firstValue = other.firstValue }
            self.lastValue = other.lastValue
        }
        self.trues += other.trues
        self.falses += other.falses
        if let theirs = other.dateShape {
            if self.dateShape == nil { self.dateShape = theirs } else { self.dateShape!.absorb(theirs) }
        }
        self.dateOrders.formIntersection(other.dateOrders)
        self.widenDateRange(minimum: other.dateMinimum, maximum: other.dateMaximum)
    }
}
