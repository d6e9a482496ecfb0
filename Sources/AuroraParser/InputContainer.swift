import CZlib
import CZstd

/// What a file's first bytes say it is: text to read as a table, a compressed stream to inflate
/// first (gzip, zstd), or something that is not a table at all, named so the user knows what
/// they gave (a spreadsheet, a PDF, an image, a database, JSON, ...).
enum InputContainer: Equatable {
    case text
    case gzip
    case zstd
    /// What it is, then (after ": ") what to do.
    case notATable(String)

    /// Bytes needed to decide; fewer only at the end of the input.
    static let headBytes = 64

    static func decide(_ head: [UInt8]) -> InputContainer {
        func starts(_ magic: [UInt8]) -> Bool { head.starts(with: magic) }
        if starts([0x1F, 0x8B]) { return .gzip }
        if starts([0x28, 0xB5, 0x2F, 0xFD]) { return .zstd }
        let refusals: [([UInt8], String)] = [
            (Array("%PDF-".utf8), "a PDF document: export its tables as CSV first"),
            ([0x50, 0x4B, 0x03, 0x04], "a ZIP archive (an Excel .xlsx or OpenDocument .ods workbook is one): save the sheet as CSV, or unzip the archive"),
            ([0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1], "a legacy Office file (an Excel .xls workbook?): save the sheet as CSV"),
            (Array("PAR1".utf8), "a Parquet file: convert it to CSV first (e.g. pandas.read_parquet(...).to_csv(...))"),
            (Array("SQLite format 3".utf8) + [0], "an SQLite database: export a table as CSV (sqlite3 -csv -header DB 'SELECT * FROM t')"),
            (Array("ARROW1".utf8), "an Arrow IPC file: convert it to CSV first"),
            (Array("Obj".utf8) + [0x01], "an Avro file: convert it to CSV first"),
            ([0x89] + Array("PNG".utf8), "a PNG image"),
            ([0xFF, 0xD8, 0xFF], "a JPEG image"),
            (Array("GIF8".utf8), "a GIF image"),
            ([0x7F] + Array("ELF".utf8), "a program (an ELF executable)"),
            (Array("BZh".utf8), "a bzip2-compressed file: decompress it first (bunzip2), or recompress it with gzip or zstd"),
            ([0xFD] + Array("7zXZ".utf8) + [0x00], "an xz-compressed file: decompress it first (unxz), or recompress it with gzip or zstd"),
            (Array("7z".utf8) + [0xBC, 0xAF, 0x27, 0x1C], "a 7-Zip archive: extract it first"),
            (Array("{\\rtf".utf8), "an RTF document"),
        ]
        for (magic, what) in refusals where starts(magic) { return .notATable(what) }
        return Self.markup(head).map { .notATable($0) } ?? .text
    }

    /// JSON, HTML and XML announce themselves in their first non-blank characters.
    static func markup(_ head: [UInt8]) -> String? {
        var bytes = head[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        bytes = bytes.drop { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        let text = String(decoding: bytes.prefix(32), as: UTF8.self).lowercased()
        if text.hasPrefix("<?xml") { return "an XML document" }
        if text.hasPrefix("<!doctype html") || text.hasPrefix("<html") { return "an HTML page (save the table from it as CSV)" }
        let afterBracket = text.dropFirst().drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        if text.hasPrefix("{"), afterBracket.hasPrefix("\"") || afterBracket.hasPrefix("}") { return "JSON (an object per record?): convert it to CSV first (e.g. pandas.read_json(...).to_csv(...))" }
        if text.hasPrefix("["), afterBracket.hasPrefix("{") || afterBracket.hasPrefix("[") { return "a JSON array: convert it to CSV first (e.g. pandas.read_json(...).to_csv(...))" }
        return nil
    }
}

/// Inflates a compressed stream chunk by chunk into bounded output buffers.
protocol StreamInflater: AnyObject {
    /// `output` receives the inflated bytes, in order, as they come.
    func inflate(_ input: UnsafeBufferPointer<UInt8>, _ output: (UnsafeBufferPointer<UInt8>) throws -> Void) throws
    /// The stream must have ended cleanly: a cut file is an error, not a shorter table.
    func finish() throws
    var name: String { get }
}

/// gzip (RFC 1952), several members in a row as `gzip` writes them when files are concatenated.
final class GzipInflater: StreamInflater {
    private var stream = z_stream()
    private var buffer = [UInt8](repeating: 0, count: 256 << 10)
    private var ended = false
    private var started = false
    let name = "gzip"

    init() throws {
        // 16 + MAX_WBITS: a gzip header and trailer, not a zlib one.
        guard inflateInit2_(&self.stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw ProfileError("cannot start the gzip decoder")
        }
    }

    deinit { inflateEnd(&self.stream) }

    func inflate(_ input: UnsafeBufferPointer<UInt8>, _ output: (UnsafeBufferPointer<UInt8>) throws -> Void) throws {
        guard let base = input.baseAddress, input.count > 0 else { return }
        self.stream.next_in = UnsafeMutablePointer(mutating: base)
        self.stream.avail_in = UInt32(input.count)
        while self.stream.avail_in > 0 {
            if self.ended {
                // Another member follows.
                guard inflateReset(&self.stream) == Z_OK else { throw ProfileError("the gzip stream cannot continue") }
                self.ended = false
            }
            self.started = true
            let produced: Int = try self.buffer.withUnsafeMutableBufferPointer { out in
                self.stream.next_out = out.baseAddress
                self.stream.avail_out = UInt32(out.count)
                let status = CZlib.inflate(&self.stream, Z_NO_FLUSH)
                switch status {
                case Z_OK, Z_BUF_ERROR: break
                case Z_STREAM_END: self.ended = true
                default:
                    let detail = self.stream.msg.map { String(cString: $0) } ?? "code \(status)"
                    throw ProfileError("the file is not valid gzip (\(detail)) after \(self.stream.total_in) compressed bytes")
                }
                return out.count - Int(self.stream.avail_out)
            }
            if produced > 0 { try self.buffer.withUnsafeBufferPointer { try output(UnsafeBufferPointer(rebasing: $0[0..<produced])) } }
            if produced == 0 && self.stream.avail_in > 0 && !self.ended { break }
        }
    }

    func finish() throws {
        guard self.ended || !self.started else {
            throw ProfileError("the gzip stream ends early: the file is cut (incomplete download or copy?)")
        }
    }
}

/// zstd (RFC 8878), with a bounded window: a frame asking for more than `maxWindowLog` is refused
/// rather than given the memory.
final class ZstdInflater: StreamInflater {
    private let context: OpaquePointer
    private var buffer = [UInt8](repeating: 0, count: 256 << 10)
    private var midFrame = false
    let name = "zstd"
    static let maxWindowLog: Int32 = 27  // 128 MiB, zstd's own default limit

    init() throws {
        guard let context = ZSTD_createDCtx() else { throw ProfileError("cannot start the zstd decoder") }
        self.context = context
        ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, Self.maxWindowLog)
    }

    deinit { ZSTD_freeDCtx(self.context) }

    func inflate(_ input: UnsafeBufferPointer<UInt8>, _ output: (UnsafeBufferPointer<UInt8>) throws -> Void) throws {
        guard let base = input.baseAddress, input.count > 0 else { return }
        var source = ZSTD_inBuffer(src: base, size: input.count, pos: 0)
        while true {
            let (produced, hint): (Int, Int) = try self.buffer.withUnsafeMutableBufferPointer { out in
                var target = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                let result = ZSTD_decompressStream(self.context, &target, &source)
                if ZSTD_isError(result) != 0 {
                    throw ProfileError("the file is not valid zstd (\(String(cString: ZSTD_getErrorName(result))))")
                }
                return (target.pos, result)
            }
            // 0: a frame just ended; more input starts the next one.
            self.midFrame = hint != 0
            if produced > 0 { try self.buffer.withUnsafeBufferPointer { try output(UnsafeBufferPointer(rebasing: $0[0..<produced])) } }
            if source.pos == source.size && produced < self.buffer.count { break }
        }
    }

    func finish() throws {
        guard !self.midFrame else { throw ProfileError("the zstd stream ends early: the file is cut (incomplete download or copy?)") }
    }
}
