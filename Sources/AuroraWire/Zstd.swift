import CZstd
import NIOCore

/// A zstd dictionary shipped with the protocol and identified by a number in the handshake.
public struct CompressionDictionary: Sendable, Hashable {
    public let id: UInt32
    public let bytes: [UInt8]

    public init(id: UInt32, bytes: [UInt8]) {
        self.id = id
        self.bytes = bytes
    }
}

/// A dictionary digested once for compression and decompression, shared by every connection.
/// `ZSTD_CDict` and `ZSTD_DDict` are read-only after creation, so sharing them across threads is safe.
public final class DigestedDictionary: @unchecked Sendable {
    public let id: UInt32
    let cdict: OpaquePointer
    let ddict: OpaquePointer

    public init(_ dictionary: CompressionDictionary, level: Int32 = 1) {
        self.id = dictionary.id
        self.cdict = dictionary.bytes.withUnsafeBytes { ZSTD_createCDict($0.baseAddress, $0.count, level)! }
        self.ddict = dictionary.bytes.withUnsafeBytes { ZSTD_createDDict($0.baseAddress, $0.count)! }
    }

    deinit {
        ZSTD_freeCDict(self.cdict)
        ZSTD_freeDDict(self.ddict)
    }
}

/// Compresses message bodies into single zstd frames that declare their content size.
///
/// Owns one `ZSTD_CCtx` (and, with a dictionary, one digested `ZSTD_CDict`) that are reused for
/// every frame. Not thread-safe: one per connection, used on its event loop.
public final class ZstdCompressor {
    private let cctx: OpaquePointer
    /// A second context bound to the dictionary once, so small messages do not pay for
    /// re-binding it on every frame.
    private var dictionaryContext: OpaquePointer?

    /// The dictionary `compress(…, useDictionary: true)` uses; its level was fixed when it was digested.
    public var dictionary: DigestedDictionary? {
        didSet {
            if let context = self.dictionaryContext { ZSTD_freeCCtx(context) }
            self.dictionaryContext = Self.makeDictionaryContext(self.dictionary)
        }
    }

    public init(dictionary: DigestedDictionary? = nil) {
        self.cctx = ZSTD_createCCtx()!
        self.dictionary = dictionary
        self.dictionaryContext = Self.makeDictionaryContext(dictionary)
    }

    private static func makeDictionaryContext(_ dictionary: DigestedDictionary?) -> OpaquePointer? {
        guard let dictionary else { return nil }
        let context = ZSTD_createCCtx()!
        ZSTD_CCtx_refCDict(context, dictionary.cdict)
        // ZSTD_c_forceAttachDict = ZSTD_dictForceAttach: reference the digested tables instead
        // of copying them into the context for each frame.
        ZSTD_CCtx_setParameter(context, ZSTD_c_experimentalParam4, 1)
        return context
    }

    deinit {
        ZSTD_freeCCtx(self.cctx)
        if let context = self.dictionaryContext { ZSTD_freeCCtx(context) }
    }

    /// Appends one zstd frame holding `input` to `output`.
    public func compress(
        _ input: UnsafeRawBufferPointer, level: Int32, useDictionary: Bool, into output: inout ByteBuffer
    ) throws {
        let bound = ZSTD_compressBound(input.count)
        let dictionaryContext = useDictionary ? self.dictionaryContext : nil
        if useDictionary && dictionaryContext == nil {
            throw WireError(.internalError, "dictionary compression requested without a dictionary")
        }
        let cctx = self.cctx
        let written = output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { out in
            let result: Int
            if let dictionaryContext {
                result = ZSTD_compress2(dictionaryContext, out.baseAddress, out.count, input.baseAddress, input.count)
            } else {
                result = ZSTD_compressCCtx(cctx, out.baseAddress, out.count, input.baseAddress, input.count, level)
            }
            return ZSTD_isError(result) != 0 ? 0 : result
        }
        if written == 0 {
            throw WireError(.internalError, "zstd compression of \(input.count) bytes failed")
        }
    }

    /// Convenience: compresses a buffer's readable bytes into a new buffer.
    public func compress(
        _ input: ByteBuffer, level: Int32, useDictionary: Bool, allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws -> ByteBuffer {
        var output = allocator.buffer(capacity: ZSTD_compressBound(input.readableBytes))
        try input.withUnsafeReadableBytes { raw in
            try self.compress(raw, level: level, useDictionary: useDictionary, into: &output)
        }
        return output
    }
}

/// Inflates message bodies without trusting what they claim.
///
/// A body must be exactly one zstd frame (no skippable frames, nothing after it) that declares its
/// content size; a declared size over the limit is refused before any output is allocated. Large
/// bodies are inflated in bounded steps, so the buffer grows only with output actually produced,
/// and the output must match the declared size exactly. The window is capped too.
/// Not thread-safe: one per connection, used on its event loop.
public final class ZstdDecompressor {
    /// Bodies declaring up to this many bytes are inflated in one call into an exact-size buffer.
    static let oneShotLimit = 64 * 1024
    /// Output step for larger bodies.
    static let step = 64 * 1024

    private let dctx: OpaquePointer
    /// Largest window a frame may declare, in bytes (2^maxWindowLog).
    private let maxWindowBytes: UInt64
    /// The dictionary bodies flagged as dictionary-compressed are inflated with.
    public var dictionary: DigestedDictionary?

    public init(dictionary: DigestedDictionary? = nil, maxWindowLog: Int = 23) {
        self.dctx = ZSTD_createDCtx()!
        let windowLog = min(max(maxWindowLog, 10), 31)
        ZSTD_DCtx_setParameter(self.dctx, ZSTD_d_windowLogMax, Int32(windowLog))
        self.maxWindowBytes = 1 << UInt64(windowLog)
        self.dictionary = dictionary
    }

    deinit {
        ZSTD_freeDCtx(self.dctx)
    }

    /// Inflates `body` (one zstd frame) into a new buffer of at most `maxBytes` bytes.
    public func decompress(
        _ body: ByteBuffer, useDictionary: Bool, maxBytes: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws -> ByteBuffer {
        let ddict = useDictionary ? self.dictionary?.ddict : nil
        if useDictionary && ddict == nil {
            throw WireError(.protocolError, "body marked as dictionary-compressed, but no dictionary was negotiated")
        }
        let dctx = self.dctx
        let maxWindow = self.maxWindowBytes
        let result: Result<ByteBuffer, WireError> = body.withUnsafeReadableBytes { src in
            Self.inflate(src, dctx: dctx, ddict: ddict, maxBytes: maxBytes, maxWindow: maxWindow, allocator: allocator)
        }
        return try result.get()
    }

    private static func inflate(
        _ src: UnsafeRawBufferPointer, dctx: OpaquePointer, ddict: OpaquePointer?, maxBytes: Int, maxWindow: UInt64,
        allocator: ByteBufferAllocator
    ) -> Result<ByteBuffer, WireError> {
        guard src.count >= 4, src.loadUnaligned(as: UInt32.self).littleEndian == ZSTD_MAGICNUMBER else {
            return .failure(WireError(.compressionError, "body of \(src.count) bytes is not a zstd frame"))
        }
        let frameSize = ZSTD_findFrameCompressedSize(src.baseAddress, src.count)
        if ZSTD_isError(frameSize) != 0 {
            return .failure(WireError(.compressionError, "body is not a complete zstd frame (\(errorName(frameSize)))"))
        }
        if frameSize != src.count {
            return .failure(WireError(.compressionError, "body holds \(src.count - frameSize) bytes after its zstd frame"))
        }
        let declared = ZSTD_getFrameContentSize(src.baseAddress, src.count)
        if declared == ZSTD_CONTENTSIZE_UNKNOWN {
            return .failure(WireError(.compressionError, "zstd frame does not declare its content size"))
        }
        if declared == ZSTD_CONTENTSIZE_ERROR {
            return .failure(WireError(.compressionError, "zstd frame header is invalid"))
        }
        if declared > UInt64(maxBytes) {
            return .failure(WireError(.messageTooLarge, "body declares \(declared) bytes, over the limit of \(maxBytes)"))
        }
        // The one-shot path below never consults ZSTD_d_windowLogMax, so the declared window is
        // checked here for both paths (SPEC.md: a window over max_window_log is COMPRESSION_ERROR).
        var header = ZSTD_frameHeader()
        let headerStatus = ZSTD_getFrameHeader(&header, src.baseAddress, src.count)
        if headerStatus != 0 {
            return .failure(WireError(.compressionError, "zstd frame header is invalid"))
        }
        if header.windowSize > maxWindow {
            return .failure(
                WireError(.compressionError, "zstd frame declares a window of \(header.windowSize) bytes, over the limit of \(maxWindow)"))
        }
        let expected = Int(declared)
        if expected <= oneShotLimit {
            return oneShot(src, expected: expected, dctx: dctx, ddict: ddict, allocator: allocator)
        }
        return stepwise(src, expected: expected, dctx: dctx, ddict: ddict, allocator: allocator)
    }

    private static func oneShot(
        _ src: UnsafeRawBufferPointer, expected: Int, dctx: OpaquePointer, ddict: OpaquePointer?,
        allocator: ByteBufferAllocator
    ) -> Result<ByteBuffer, WireError> {
        var output = allocator.buffer(capacity: expected)
        var failure: Int = 0
        output.writeWithUnsafeMutableBytes(minimumWritableBytes: max(expected, 1)) { out in
            let n: Int
            if let ddict {
                n = ZSTD_decompress_usingDDict(dctx, out.baseAddress, expected, src.baseAddress, src.count, ddict)
            } else {
                n = ZSTD_decompressDCtx(dctx, out.baseAddress, expected, src.baseAddress, src.count)
            }
            if ZSTD_isError(n) != 0 {
                failure = n
                return 0
            }
            return n
        }
        if failure != 0 {
            return .failure(WireError(.compressionError, "zstd body does not decode (\(errorName(failure)))"))
        }
        if output.readableBytes != expected {
            return .failure(
                WireError(.compressionError, "zstd body inflated to \(output.readableBytes) bytes but declared \(expected)"))
        }
        return .success(output)
    }

    private static func stepwise(
        _ src: UnsafeRawBufferPointer, expected: Int, dctx: OpaquePointer, ddict: OpaquePointer?,
        allocator: ByteBufferAllocator
    ) -> Result<ByteBuffer, WireError> {
        ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only)
        ZSTD_DCtx_refDDict(dctx, ddict)
        defer { ZSTD_DCtx_refDDict(dctx, nil) }
        var output = allocator.buffer(capacity: step)
        var input = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
        while true {
            // Never more room than the declared size plus one byte: a frame that lies inflates past it.
            let room = min(step, expected + 1 - output.readableBytes)
            var status = 0
            let produced = output.writeWithUnsafeMutableBytes(minimumWritableBytes: room) { out in
                var outBuffer = ZSTD_outBuffer(dst: out.baseAddress, size: room, pos: 0)
                status = ZSTD_decompressStream(dctx, &outBuffer, &input)
                return outBuffer.pos
            }
            if ZSTD_isError(status) != 0 {
                return .failure(WireError(.compressionError, "zstd body does not decode (\(errorName(status)))"))
            }
            if output.readableBytes > expected {
                return .failure(WireError(.compressionError, "zstd body inflates past its declared \(expected) bytes"))
            }
            if status == 0 { break }  // the frame is complete
            if produced == 0 && input.pos == input.size {
                return .failure(WireError(.compressionError, "zstd body ends before its frame does"))
            }
        }
        if output.readableBytes != expected {
            return .failure(
                WireError(.compressionError, "zstd body inflated to \(output.readableBytes) bytes but declared \(expected)"))
        }
        return .success(output)
    }

    static func errorName(_ code: Int) -> String {
        String(cString: ZSTD_getErrorName(code))
    }
}
