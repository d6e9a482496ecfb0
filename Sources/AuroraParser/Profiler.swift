import AuroraThreads
import Dispatch
import Foundation
import Synchronization
import AuroraStatistics

/// Everything a user can set when profiling a file.
public struct ProfileOptions: Sendable {
    /// nil: detected.
    public var encoding: TextEncoding?
    public var dialect: DialectOverrides
    public var raggedPolicy: RaggedPolicy
    public var limits: TokenizerLimits
    public var settings: ProfileSettings
    /// Bytes read before the encoding and the dialect are decided.
    public var sampleBytes: Int
    /// Malformed rows listed by line (all are counted).
    public var malformedListLimit: Int
    /// Cores used for parsing and statistics (1: everything on the calling thread).
    public var threads: Int
    /// Size of the parts handed to each core.
    public var blockBytes: Int
    /// Most bytes a gzip or zstd input may inflate to (a bound on decompression bombs).
    public var maxInflatedBytes: Int = 1 << 40

    public init(
        encoding: TextEncoding? = nil, dialect: DialectOverrides = DialectOverrides(), raggedPolicy: RaggedPolicy = .pad,
        limits: TokenizerLimits = TokenizerLimits(maxColumns: 4096), settings: ProfileSettings = ProfileSettings(),
        sampleBytes: Int = 1 << 16, malformedListLimit: Int = 100, threads: Int = 1, blockBytes: Int = 4 << 20
    ) {
        self.encoding = encoding
        self.dialect = dialect
        self.raggedPolicy = raggedPolicy
        self.limits = limits
        self.settings = settings
        self.sampleBytes = sampleBytes
        self.malformedListLimit = malformedListLimit
        self.threads = threads
        self.blockBytes = blockBytes
    }
}

/// Profiles one file pushed through it in chunks of any size: detects the encoding and the
/// dialect from the first `sampleBytes`, then parses and profiles in one pass, in memory bounded
/// by the options (not by the file). With several threads the text is cut at row ends into blocks
/// that are profiled in parallel and merged in order.
public final class Profiler {
    public let options: ProfileOptions
    /// Receives the column names, then each data row as profiled (after the ragged policy);
    /// forces one thread.
    private let rowHandler: (([String]) -> Void)?

    private var sample: [UInt8] = []
    /// The input's first bytes until `InputContainer` has decided what it is.
    private var head: [UInt8] = []
    private var containerDecided = false
    /// Inflates a gzip or zstd input before anything else sees it.
    private var inflater: (any StreamInflater)?
    private var inflatedBytes = 0
    /// Line ends seen in the sample so far (counted up to `sampleLines`).
    private var sampleLineEnds = 0
    /// The sample holds at least this many line ends before detection, so that a long first row
    /// cannot leave the sniffer a header alone (or no whole line at all)...
    static let sampleLines = 8
    private var bytes = 0
    private var started = false
    public private(set) var encoding: EncodingDetection?
    public private(set) var layout: SniffedLayout?
    private var transcoder: Transcoder?
    private var validator = UTF8Validator()
    private var bomToSkip = 0

    // One thread.
    private var tokenizer: CSVTokenizer?
    private var table: TableAccumulator?
    // Several threads.
    private var parallel: ParallelBlocks?

    public init(options: ProfileOptions = ProfileOptions(), rowHandler: (([String]) -> Void)? = nil) {
        self.options = options
        self.rowHandler = rowHandler
    }

    public func consume(_ chunk: UnsafeBufferPointer<UInt8>) throws {
        self.bytes += chunk.count
        if !self.containerDecided {
            self.head.append(contentsOf: chunk)
            if self.head.count >= InputContainer.headBytes { try self.openContainer() }
            return
        }
        try self.consumeInput(chunk)
    }

    /// The first bytes decide: text, a compressed stream (inflated on the way in), or a refusal
    /// that says what the file is instead.
    private func openContainer() throws {
        self.containerDecided = true
        switch InputContainer.decide(self.head) {
        case .text: break
        case .gzip: self.inflater = try GzipInflater()
        case .zstd: self.inflater = try ZstdInflater()
        case .notATable(let what):
            // "kind: advice", e.g. "a PDF document: export its tables as CSV first".
            let parts = what.split(separator: ": ", maxSplits: 1)
            throw ProfileError("this is \(parts[0]), not a CSV or other delimited text file\(parts.count > 1 ? "; \(parts[1])" : "")")
        }
        let head = self.head
        self.head = []
        try head.withUnsafeBufferPointer { try self.consumeInput($0) }
    }

    private func consumeInput(_ chunk: UnsafeBufferPointer<UInt8>) throws {
        guard let inflater = self.inflater else { return try self.consumeText(chunk) }
        try inflater.inflate(chunk) { text in
            self.inflatedBytes += text.count
            guard self.inflatedBytes <= self.options.maxInflatedBytes else {
                throw ProfileError(
                    "the \(inflater.name) stream inflates to more than \(self.options.maxInflatedBytes) bytes (a decompression bomb?); if the file is really that large, raise --max-inflated-bytes, or AURORA_PARSER_MAX_INFLATED_BYTES on the parser-service")
            }
            try self.consumeText(text)
        }
    }

    private func consumeText(_ chunk: UnsafeBufferPointer<UInt8>) throws {
        if !self.started {
            self.sample.append(contentsOf: chunk)
            if self.sampleLineEnds < Self.sampleLines {
                for byte in chunk where byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                    self.sampleLineEnds += 1
                    if self.sampleLineEnds >= Self.sampleLines { break }
                }
            }
            // ...unless rows are longer than the row limit allows: then detection runs on what
            // there is, and the limit's error names the option that raises it.
            if self.sample.count >= self.options.sampleBytes
                && (self.sampleLineEnds >= Self.sampleLines || self.sample.count >= self.options.sampleBytes + self.options.limits.maxRowBytes)
            {
                try self.start(isWholeFile: false)
            }
            return
        }
        try self.decode(chunk, isLast: false)
    }

    public func consume(_ chunk: [UInt8]) throws {
        try chunk.withUnsafeBufferPointer { try self.consume($0) }
    }

    public func finish() throws -> DatasetProfile {
        if !self.containerDecided { try self.openContainer() }
        try self.inflater?.finish()
        if !self.started { try self.start(isWholeFile: true) }
        try self.decode(UnsafeBufferPointer(start: nil, count: 0), isLast: true)
        let layout = self.layout!
        var total: TableAccumulator
        do {
            if let parallel = self.parallel {
                total = try parallel.finish()
                total.flush()
            } else {
                var tokenizer = self.tokenizer!
                var table = self.table!
                self.tokenizer = nil
                self.table = nil
                try tokenizer.finish { try self.handle($0, &table) }
                table.flush()
                total = table
            }
        } catch let error as TokenizerError {
            throw ProfileError(error.message, line: error.line)
        }
        let encoding = self.encoding!
        let replaced = (self.transcoder?.replacements ?? 0) + self.validator.invalid
        let columns = total.columns.enumerated().map { index, column in
            column.profile(index: index, name: layout.names[index], settings: self.options.settings, preferDayFirst: layout.preferDayFirst)
        }
        return DatasetProfile(
            encoding: encoding.encoding.rawValue, bom: encoding.bom, encodingConfidence: encoding.confidence,
            encodingReason: (self.inflater.map { "\($0.name)-compressed, \(self.inflatedBytes) bytes inflated; " } ?? "") + encoding.reason,
            replacedCharacters: replaced,
            dialect: DialectReport(
                delimiter: layout.dialect.delimiter == Dialect.noDelimiter ? "" : String(UnicodeScalar(layout.dialect.delimiter)),
                quote: layout.dialect.quote.map { String(UnicodeScalar($0)) },
                escape: layout.dialect.escape == .backslash ? "\\" : layout.dialect.quote.map { String(UnicodeScalar($0)) },
                header: layout.header, skippedLines: layout.skippedLines, lineTerminator: layout.lineTerminator,
                reason: layout.reason, skipInitialSpace: layout.dialect.skipInitialSpace, confidence: layout.confidence),
            bytes: self.bytes, rows: total.rows, malformedRows: total.malformedRows, malformed: total.malformed,
            raggedPolicy: self.options.raggedPolicy, columns: columns)
    }

    /// Decides encoding and dialect from the sample, then parses the sample.
    private func start(isWholeFile: Bool) throws {
        self.started = true
        var detection = EncodingDetector.detect(self.sample, isWholeFile: isWholeFile)
        if let forced = self.options.encoding {
            detection = EncodingDetection(
                encoding: forced, bom: detection.encoding == forced && detection.bom,
                bomLength: detection.encoding == forced ? detection.bomLength : 0, confidence: 1, reason: "encoding \(forced.rawValue) as asked")
        }
        self.encoding = detection
        if detection.encoding == .utf8 {
            self.bomToSkip = detection.bomLength
        } else {
            self.transcoder = Transcoder(encoding: detection.encoding, bomLength: detection.bomLength)
        }
        // Sniff on a decoded copy of the sample.
        var probe = Transcoder(encoding: detection.encoding, bomLength: detection.bomLength)
        var decodedSample: [UInt8] = []
        probe.transcode(self.sample, isLast: isWholeFile, into: &decodedSample)
        try Self.refuseBinary(decodedSample, encoding: detection.encoding)
        if isWholeFile && decodedSample.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            throw ProfileError(self.bytes == 0 ? "the file is empty" : "the file holds only blank lines: there is no table in it")
        }
        let layout: SniffedLayout
        do {
            layout = try DialectSniffer.sniff(
                decodedSample, isWholeFile: isWholeFile, overrides: self.options.dialect, missingMarkers: self.options.settings.missingMarkers,
                limits: self.options.limits)
        } catch {
            throw ProfileError("\(error.message), so the file's layout cannot be detected", line: error.line)
        }
        if layout.columns > self.options.limits.maxColumns {
            throw ProfileError("the table has \(layout.columns) columns, more than the limit of \(self.options.limits.maxColumns)")
        }
        self.rowHandler?(layout.names)
        self.layout = layout
        let threads = self.rowHandler == nil ? max(1, self.options.threads) : 1
        if threads > 1 {
            self.parallel = ParallelBlocks(layout: layout, options: self.options, threads: threads)
        } else {
            self.tokenizer = CSVTokenizer(dialect: layout.dialect, limits: self.options.limits)
            self.table = TableAccumulator(
                layout: layout, settings: self.options.settings, policy: self.options.raggedPolicy,
                malformedListLimit: self.options.malformedListLimit, isFirstPart: true)
        }
        let sample = self.sample
        self.sample = []
        try sample.withUnsafeBufferPointer { try self.decode($0, isLast: false) }
    }

    /// Raw bytes to UTF-8, then on to the parser.
    private func decode(_ chunk: UnsafeBufferPointer<UInt8>, isLast: Bool) throws {
        if var transcoder = self.transcoder {
            var output: [UInt8] = []
            transcoder.transcode(Array(chunk), isLast: isLast, into: &output)
            self.transcoder = transcoder
            try output.withUnsafeBufferPointer { try self.parse($0) }
            return
        }
        var text = chunk
        if self.bomToSkip > 0 {
            let skipped = min(self.bomToSkip, text.count)
            self.bomToSkip -= skipped
            text = UnsafeBufferPointer(rebasing: text[skipped...])
        }
        self.validator.validate(text, isLast: isLast)
        try self.parse(text)
    }

    private func parse(_ text: UnsafeBufferPointer<UInt8>) throws {
        do {
            if let parallel = self.parallel {
                try parallel.append(text)
                return
            }
            guard text.count > 0 else { return }
            // Moved out while parsing so both stay uniquely referenced (no copy on write).
            var tokenizer = self.tokenizer!
            var table = self.table!
            self.tokenizer = nil
            self.table = nil
            defer {
                self.tokenizer = tokenizer
                self.table = table
            }
            if self.rowHandler == nil {
                try tokenizer.feed(text) { _ = try table.add($0) }
            } else {
                try tokenizer.feed(text) { try self.handle($0, &table) }
            }
        } catch let error as TokenizerError {
            throw ProfileError(error.message, line: error.line)
        }
    }

    private func handle(_ row: CSVRow, _ table: inout TableAccumulator) throws {
        guard try table.add(row) else { return }
        guard let handler = self.rowHandler else { return }
        let expected = table.columns.count
        var cells = (0..<min(row.count, expected)).map { row.string($0) }
        while cells.count < expected { cells.append("") }
        handler(cells)
    }

    /// Text has few control characters; a sample with many (NUL above all) is binary data, whatever
    /// its extension, and reading it as a table would print garbage as statistics. (Tab, line
    /// ends, escape and the ASCII separators 0x1C-0x1F are text.)
    static func refuseBinary(_ sample: [UInt8], encoding: TextEncoding) throws {
        var nul = 0
        var controls = 0
        for byte in sample where byte < 0x20 {
            if byte == 0 { nul += 1 }
            if byte < 0x09 || (byte > 0x0D && byte < 0x1B) { controls += 1 }
        }
        // A stray NUL in a small text file is a damaged cell, not a binary file.
        guard (nul >= 4 && nul * 100 > sample.count) || (controls >= 16 && controls * 20 > sample.count) else { return }
        throw ProfileError(
            "this looks like binary data, not text: \(controls) control bytes (\(nul) of them NUL) in its first \(sample.count) bytes read as \(encoding.rawValue). If it is text in another encoding, name it with --encoding")
    }

    /// Profiles a file on disk, reading it in 1 MiB chunks.
    public static func profile(path: String, options: ProfileOptions = ProfileOptions(), rowHandler: (([String]) -> Void)? = nil) throws -> DatasetProfile {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw ProfileError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let profiler = Profiler(options: options, rowHandler: rowHandler)
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 1 << 20)
        defer { buffer.deallocate() }
        while true {
            let count = read(descriptor, buffer.baseAddress, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw ProfileError("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            try profiler.consume(UnsafeBufferPointer(rebasing: buffer[0..<count]))
        }
        return try profiler.finish()
    }
}

/// Cuts UTF-8 text into blocks at row ends and profiles them on a pool of threads; at most
/// `threads + 1` blocks are in memory at once (the producer waits), results merge in order.
final class ParallelBlocks: @unchecked Sendable {
    private struct Merge: ~Copyable {
        var finished: [Int: Result<TableAccumulator, any Error>] = [:]
        var next = 0
        var total: TableAccumulator
        var error: (any Error)?
    }

    private let layout: SniffedLayout
    private let options: ProfileOptions
    private let workers: WorkerThreads
    private let slots: DispatchSemaphore
    private let group = DispatchGroup()
    private let merge: Mutex<Merge>
    // Producer side (one thread).
    private var pending: [UInt8] = []
    private var scanner: RowBoundaryScanner
    private var lastBoundary: (offset: Int, line: Int)?
    private var pendingFirstLine = 1
    private var blocks = 0

    init(layout: SniffedLayout, options: ProfileOptions, threads: Int) {
        self.layout = layout
        self.options = options
        self.slots = DispatchSemaphore(value: threads + 1)
        // The producer is one of the `threads`: it reads and cuts the text, and profiles a block
        // itself whenever blocks queue up (so two threads keep two cores busy, not three threads).
        self.workers = WorkerThreads(count: max(1, threads - 1), name: "aurora.profile")
        self.scanner = RowBoundaryScanner(dialect: layout.dialect, firstLine: 1)
        self.merge = Mutex(Merge(total: TableAccumulator(
            layout: layout, settings: options.settings, policy: options.raggedPolicy,
            malformedListLimit: options.malformedListLimit, isFirstPart: false)))
        self.pending.reserveCapacity(options.blockBytes + (1 << 20))
    }

    func append(_ text: UnsafeBufferPointer<UInt8>) throws {
        let scannedFrom = self.pending.count
        self.pending.append(contentsOf: text)
        if let boundary = self.pending.withUnsafeBufferPointer({ self.scanner.scan(UnsafeBufferPointer(rebasing: $0[scannedFrom...])) }) {
            self.lastBoundary = (scannedFrom + boundary.offset, boundary.line)
        }
        if self.pending.count >= self.options.blockBytes, let boundary = self.lastBoundary, boundary.offset > 0 {
            // The buffer itself becomes the block; only the bytes after the row end are copied,
            // into a fresh buffer.
            var block: [UInt8] = []
            block.reserveCapacity(self.options.blockBytes + (1 << 20))
            block.append(contentsOf: self.pending[boundary.offset...])
            swap(&block, &self.pending)
            block.removeLast(block.count - boundary.offset)
            self.submit(block, firstLine: self.pendingFirstLine)
            self.pendingFirstLine = boundary.line
            self.lastBoundary = nil
        }
        // No row end in more than a block plus the longest row allowed: an unclosed quote (or a
        // row over the limit). Stop here rather than buffer the rest of the file.
        if self.lastBoundary == nil && self.pending.count > self.options.blockBytes + self.options.limits.maxRowBytes {
            throw ProfileError(
                "no row end within \(self.pending.count) bytes, more than the row limit of \(self.options.limits.maxRowBytes) bytes (an unclosed quote?)",
                line: self.pendingFirstLine)
        }
        if let error = self.merge.withLock({ $0.error }) { throw error }
    }

    deinit { self.workers.close() }

    func finish() throws -> TableAccumulator {
        if !self.pending.isEmpty || self.blocks == 0 {
            self.submit(self.pending, firstLine: self.pendingFirstLine)
            self.pending = []
        }
        while self.workers.runOne(ifQueued: 1) {}
        self.group.wait()
        return try self.merge.withLock { merge in
            if let error = merge.error { throw error }
            return merge.total
        }
    }

    private func submit(_ block: [UInt8], firstLine: Int) {
        self.slots.wait()
        let index = self.blocks
        self.blocks += 1
        let layout = self.layout
        let options = self.options
        self.group.enter()
        self.workers.submit {
            let result = Result<TableAccumulator, any Error> {
                var tokenizer = CSVTokenizer(dialect: layout.dialect, limits: options.limits, firstLine: firstLine)
                // Lines before the block: about its rows before it (more with multi-line fields).
                var table = TableAccumulator(
                    layout: layout, settings: options.settings, policy: options.raggedPolicy,
                    malformedListLimit: options.malformedListLimit, isFirstPart: index == 0, priorRows: firstLine - 1)
                do {
                    try tokenizer.feed(block) { _ = try table.add($0) }
                    try tokenizer.finish { _ = try table.add($0) }
                    table.flush()
                } catch let error as TokenizerError {
                    throw ProfileError(error.message, line: error.line)
                }
                return table
            }
            self.merge.withLock { merge in
                merge.finished[index] = result
                while let next = merge.finished.removeValue(forKey: merge.next) {
                    merge.next += 1
                    switch next {
                    case .success(let table): if merge.error == nil { merge.total.merge(table) }
                    case .failure(let error): if merge.error == nil { merge.error = error }
                    }
                }
            }
            self.slots.signal()
            self.group.leave()
        }
        while self.workers.runOne(ifQueued: 2) {}
    }
}
