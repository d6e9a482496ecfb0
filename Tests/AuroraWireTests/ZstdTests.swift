import AuroraWire
import CZstd
import NIOCore
import Testing

@Suite("Bounded zstd bodies")
struct ZstdTests {
    static func zstd(_ input: [UInt8], level: Int32 = 1, windowLog: Int32? = nil) -> [UInt8] {
        let cctx = ZSTD_createCCtx()!
        defer { ZSTD_freeCCtx(cctx) }
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)
        if let windowLog { ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, windowLog) }
        var output = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
        let n = ZSTD_compress2(cctx, &output, output.count, input, input.count)
        precondition(ZSTD_isError(n) == 0)
        return Array(output[0..<n])
    }

    static func text(_ count: Int) -> [UInt8] {
        let line = Array("17,12.50,3,Oslo,2024-05-01T10:00:00,\"quoted, text\"\n".utf8)
        return (0..<count).map { line[$0 % line.count] &+ UInt8($0 / 7919 % 3) }
    }

    @Test(arguments: [0, 1, 200, 4096, 65_536, 65_537, 300_000, 4 * 1024 * 1024])
    func roundTripWithAndWithoutDictionary(size: Int) throws {
        let codec = BodyCodec(limits: .default)
        let payload = Self.text(size)
        for dictionary in [false, true] {
            codec.dictionary = dictionary ? BuiltinDictionaries.dictionary(id: 1) : nil
            let (body, flags) = try payload.withUnsafeBytes { try codec.encode($0, allocator: ByteBufferAllocator()) }
            #expect(flags.contains(.dictionary) == (dictionary && size > 0 && size <= BodyCodec.dictionaryPayloadLimit))
            let frame = Frame(kind: .message, flags: flags, streamID: StreamID(1), body: body)
            let decoded = try codec.decode(frame, allocator: ByteBufferAllocator())
            #expect(Array(decoded.readableBytesView) == payload)
        }
    }

    @Test func dictionaryShrinksSmallMessages() throws {
        let status = Array("\u{08}\u{08}\u{12}\u{13}rate limit exceeded\u{18}\u{dc}\u{0b}".utf8)
        let plain = try ZstdCompressor().compress(ByteBuffer(bytes: status), level: 1, useDictionary: false)
        let dictionary = try ZstdCompressor(dictionary: BuiltinDictionaries.dictionary(id: 1))
            .compress(ByteBuffer(bytes: status), level: 1, useDictionary: true)
        #expect(plain.readableBytes > status.count, "plain zstd grows a tiny message")
        #expect(dictionary.readableBytes < status.count)
    }

    @Test func declaredSizeOverTheLimitIsRefusedBeforeInflating() throws {
        let body = Self.zstd(Array(repeating: 0, count: 5 * 1024 * 1024))
        #expect(body.count < 1024)
        let error = #expect(throws: WireError.self) {
            _ = try ZstdDecompressor().decompress(ByteBuffer(bytes: body), useDictionary: false, maxBytes: 4 * 1024 * 1024)
        }
        #expect(error?.code == .messageTooLarge)
    }

    @Test(arguments: [1000, 100_000])
    func aFrameThatLiesAboutItsSizeIsRefused(size: Int) throws {
        // Patch the declared content size down: the real content no longer fits.
        var body = Self.zstd(Self.text(size))
        let descriptor = body[4]
        let fieldSize = [0: (descriptor & 0x20) != 0 ? 1 : 0, 1: 2, 2: 4, 3: 8][Int(descriptor >> 6)]!
        let windowByte = (descriptor & 0x20) != 0 ? 0 : 1
        let offset = 5 + windowByte
        #expect(fieldSize == (size < 65_792 ? 2 : 4))
        if fieldSize == 2 {
            body[offset] = 0x10
            body[offset + 1] = 0x00  // 16 + 256 = 272 bytes declared
        } else {
            body[offset] = 0x70
            body[offset + 1] = 0x11
            body[offset + 2] = 0x01
            body[offset + 3] = 0x00  // 70,000 declared
        }
        let error = #expect(throws: WireError.self) {
            _ = try ZstdDecompressor().decompress(ByteBuffer(bytes: body), useDictionary: false, maxBytes: 4 * 1024 * 1024)
        }
        #expect(error?.code == .compressionError)
    }

    @Test func aWindowOverTheCapIsRefused() throws {
        let body = Self.zstd(Self.text(12 * 1024 * 1024), windowLog: 24)
        let error = #expect(throws: WireError.self) {
            _ = try ZstdDecompressor(maxWindowLog: 23).decompress(ByteBuffer(bytes: body), useDictionary: false, maxBytes: 16 * 1024 * 1024)
        }
        #expect(error?.code == .compressionError)
        // The same body inflates with a larger window cap: the refusal was the window, nothing else.
        let decoded = try ZstdDecompressor(maxWindowLog: 24).decompress(ByteBuffer(bytes: body), useDictionary: false, maxBytes: 16 * 1024 * 1024)
        #expect(decoded.readableBytes == 12 * 1024 * 1024)
    }

    @Test func truncatedBodiesAreRefused() throws {
        let body = Self.zstd(Self.text(200_000))
        for cut in [5, 20, body.count / 2, body.count - 1] {
            let error = #expect(throws: WireError.self) {
                _ = try ZstdDecompressor().decompress(ByteBuffer(bytes: body.prefix(cut)), useDictionary: false, maxBytes: 1 << 22)
            }
            #expect(error?.code == .compressionError)
        }
    }

    @Test func dictionaryFlagWithoutADictionaryIsAProtocolError() throws {
        let body = Self.zstd(Self.text(100))
        let error = #expect(throws: WireError.self) {
            _ = try ZstdDecompressor().decompress(ByteBuffer(bytes: body), useDictionary: true, maxBytes: 1 << 22)
        }
        #expect(error?.code == .protocolError)
    }

    @Test func randomBytesNeverCrash() throws {
        var generator = SystemRandomNumberGenerator()
        let decompressor = ZstdDecompressor()
        for _ in 0..<2000 {
            var bytes = (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if Bool.random(using: &generator) && bytes.count >= 4 { bytes.replaceSubrange(0..<4, with: [0x28, 0xB5, 0x2F, 0xFD]) }
            _ = try? decompressor.decompress(ByteBuffer(bytes: bytes), useDictionary: false, maxBytes: 1 << 20)
            var buffer = ByteBuffer(bytes: bytes)
            var decoder = FrameDecoder()
            _ = try? decoder.decode(buffer: &buffer)
        }
    }

    /// A hand-made frame: the window descriptor says 2^`windowLog`, the content size is declared,
    /// and the content is one raw block, so it decodes fine in one shot whatever the window says.
    static func rawFrame(windowLog: Int, content: [UInt8]) -> [UInt8] {
        precondition(content.count >= 256 && content.count < 65_792 && content.count < 1 << 21)
        var frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]
        frame.append(0x40)  // 2-byte content size, not single-segment, no checksum, no dictionary
        frame.append(UInt8((windowLog - 10) << 3))  // window descriptor: exponent, mantissa 0
        let size = content.count - 256
        frame += [UInt8(size & 0xFF), UInt8(size >> 8)]
        let block = content.count << 3 | 1  // last block, raw
        frame += [UInt8(block & 0xFF), UInt8(block >> 8 & 0xFF), UInt8(block >> 16)]
        return frame + content
    }

    /// SPEC.md: a body whose window needs more than 2^max_window_log bytes is COMPRESSION_ERROR,
    /// on the one-shot path for small bodies too (issue 19, finding 6; the stepwise path is
    /// tested above with a 12 MiB body).
    @Test(arguments: [24, 31])
    func aWindowOverTheLimitIsRefused(windowLog: Int) throws {
        let codec = BodyCodec(limits: .default)
        let content = Self.text(300)
        let accepted = Frame(kind: .message, streamID: StreamID(1), body: ByteBuffer(bytes: Self.rawFrame(windowLog: 23, content: content)))
        #expect(Array(try codec.decode(accepted, allocator: ByteBufferAllocator()).readableBytesView) == content)
        let frame = Frame(kind: .message, streamID: StreamID(1), body: ByteBuffer(bytes: Self.rawFrame(windowLog: windowLog, content: content)))
        #expect {
            try codec.decode(frame, allocator: ByteBufferAllocator())
        } throws: { error in
            (error as? WireError)?.code == .compressionError
        }
    }
}
