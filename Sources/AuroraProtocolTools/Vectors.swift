import AuroraProtocol
import AuroraWire
import CZstd
import Foundation
import NIOCore
import SwiftProtobuf

/// One golden vector: the bytes, what they mean, and (for invalid ones) the error they must cause.
struct Vector {
    var name: String
    var title: String
    var bytes: [UInt8]
    /// Machine-readable expectation, written as a JSON block in the .md file.
    var expectation: [String: Any]
    var notes: String

    func write(to folder: String) throws {
        var hex = ""
        for (index, byte) in self.bytes.enumerated() {
            hex += String(format: "%02x", byte)
            hex += (index + 1) % 16 == 0 ? "\n" : " "
        }
        if !hex.hasSuffix("\n") { hex += "\n" }
        try hex.write(toFile: "\(folder)/\(self.name).hex", atomically: true, encoding: .utf8)
        let json = try JSONSerialization.data(withJSONObject: self.expectation, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        let markdown = """
            # \(self.name)

            \(self.title)

            \(self.notes)

            Length: \(self.bytes.count) bytes (`\(self.name).hex`).

            ```json
            \(String(decoding: json, as: UTF8.self))
            ```

            """
        try markdown.write(toFile: "\(folder)/\(self.name).md", atomically: true, encoding: .utf8)
    }
}

/// Every vector of the specification, built with the real codec so they cannot drift from it.
struct VectorCatalog {
    var valid: [Vector] = []
    var invalid: [Vector] = []

    private let plain = BodyCodec(limits: .default)
    private let withDictionary: BodyCodec
    private let encoder = FrameEncoder()
    private let allocator = ByteBufferAllocator()

    init() throws {
        self.withDictionary = BodyCodec(limits: .default)
        self.withDictionary.dictionary = BuiltinDictionaries.dictionary(id: 1)!
        try self.buildValid()
        try self.buildInvalid()
    }

    private func bytes(_ frame: Frame) -> [UInt8] {
        Array(self.encoder.encode(frame).readableBytesView)
    }

    private func json(_ message: some SwiftProtobuf.Message) throws -> Any {
        var options = JSONEncodingOptions()
        options.alwaysPrintEnumsAsInts = false
        options.preserveProtoFieldNames = true
        let text = try message.jsonString(options: options)
        return try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    private mutating func addValid(
        _ name: String, _ title: String, kind: FrameKind, flags: FrameFlags = [], stream: UInt32,
        message: (any SwiftProtobuf.Message)?, dictionary: Bool, notes: String = "", embedded: (any SwiftProtobuf.Message)? = nil
    ) throws {
        let codec = dictionary ? self.withDictionary : self.plain
        let frame: Frame
        if let message {
            frame = try codec.frame(kind, streamID: StreamID(stream), flags: flags, message: message, allocator: self.allocator)
        } else {
            frame = Frame(kind: kind, flags: flags, streamID: StreamID(stream))
        }
        var expectation: [String: Any] = [
            "kind": kind.description, "kind_byte": Int(kind.rawValue), "flags": Int(frame.flags.rawValue),
            "stream_id": Int(stream), "body_bytes": frame.body.readableBytes, "dictionary": frame.flags.contains(.dictionary) ? 1 : 0,
        ]
        if let message {
            expectation["body_type"] = type(of: message).protoMessageName
            expectation["body"] = try self.json(message)
        }
        if let embedded {
            expectation["embedded_type"] = type(of: embedded).protoMessageName
            expectation["embedded"] = try self.json(embedded)
        }
        self.valid.append(Vector(name: name, title: title, bytes: self.bytes(frame), expectation: expectation, notes: notes))
    }

    private mutating func buildValid() throws {
        var hello = Aurora_Wire_V1_Hello()
        hello.minVersion = 1
        hello.maxVersion = 1
        hello.clientName = "example-client/1.0"
        hello.credential = "example-credential"
        hello.dictionaries = [1]
        hello.initialStreamCredit = 16
        try self.addValid(
            "hello", "HELLO: the client's first frame, compressed without a dictionary.", kind: .hello, stream: 0,
            message: hello, dictionary: false)

        var welcome = Aurora_Wire_V1_Welcome()
        welcome.version = 1
        welcome.dictionary = 1
        welcome.serverName = "aurora-gateway"
        welcome.principal = "user-42"
        welcome.limits.maxFrameBytes = 4_325_376
        welcome.limits.maxMessageBytes = 4_194_304
        welcome.limits.maxConcurrentStreams = 100
        welcome.limits.initialStreamCredit = 16
        welcome.limits.idleTimeoutMs = 300_000
        welcome.limits.maxMetadataBytes = 16384
        try self.addValid(
            "welcome", "WELCOME: the server accepted the handshake and chose dictionary 1. Never dictionary-compressed itself.",
            kind: .welcome, stream: 0, message: welcome, dictionary: false)

        var echo = Aurora_Diag_V1_EchoRequest()
        echo.payload = Data("hello".utf8)
        var call = Aurora_Wire_V1_Call()
        call.method = "aurora.diag.v1.Diagnostics/Echo"
        call.timeoutMs = 5000
        call.metadata = ["trace-id": "4bf92f3577b34da6"]
        call.message = try echo.serializedBytes()
        try self.addValid(
            "call_unary", "CALL opening stream 1 for a unary call: the request is embedded and END_STREAM is set.",
            kind: .call, flags: .endStream, stream: 1, message: call, dictionary: true,
            notes: "The body is compressed with dictionary 1 (flag 0x02). `message` holds an aurora.diag.v1.EchoRequest.",
            embedded: echo)

        var upload = Aurora_Wire_V1_Call()
        upload.method = "aurora.diag.v1.Diagnostics/Upload"
        try self.addValid(
            "call_stream", "CALL opening stream 3 for an upload: no embedded message, no END_STREAM; compressed without a dictionary.",
            kind: .call, stream: 3, message: upload, dictionary: false)

        var chunk = Aurora_Diag_V1_Chunk()
        chunk.data = Data("id,price,city\n1,9.5,Oslo\n2,12.25,Lima\n".utf8)
        try self.addValid(
            "message", "MESSAGE on stream 3 carrying one aurora.diag.v1.Chunk, compressed without a dictionary.",
            kind: .message, stream: 3, message: chunk, dictionary: false)
        try self.addValid(
            "message_end", "MESSAGE on stream 3 with END_STREAM: the client's last message; dictionary-compressed.",
            kind: .message, flags: .endStream, stream: 3, message: chunk, dictionary: true)
        try self.addValid(
            "message_empty", "MESSAGE on stream 1 with an empty body: an empty (all-default) message.",
            kind: .message, stream: 1, message: nil, dictionary: false)
        try self.addValid(
            "end", "END on stream 3: the client sends no more messages. Always an empty body.", kind: .end, stream: 3,
            message: nil, dictionary: false)
        try self.addValid(
            "status_ok", "STATUS OK on stream 1: an empty body means code 0 (OK).", kind: .status, stream: 1, message: nil,
            dictionary: false)

        var status = Aurora_Wire_V1_Status()
        status.code = 8
        status.message = "rate limit exceeded"
        status.retryAfterMs = 1500
        status.details = ["limit": "calls"]
        try self.addValid(
            "status_error", "STATUS RESOURCE_EXHAUSTED (8) on stream 5, with a retry-after and details; dictionary-compressed.",
            kind: .status, stream: 5, message: status, dictionary: true)
        try self.addValid(
            "cancel", "CANCEL on stream 7: the client abandons the call. An empty body is allowed.", kind: .cancel, stream: 7,
            message: nil, dictionary: false)

        var credit = Aurora_Wire_V1_Credit()
        credit.messages = 8
        try self.addValid(
            "credit", "CREDIT on stream 3: the peer may send 8 more MESSAGE frames.", kind: .credit, stream: 3,
            message: credit, dictionary: false)

        var ping = Aurora_Wire_V1_Ping()
        ping.opaque = 0x0102_0304_0506_0708
        try self.addValid("ping", "PING on stream 0.", kind: .ping, stream: 0, message: ping, dictionary: false)
        try self.addValid(
            "pong", "PONG on stream 0, echoing the PING's value.", kind: .pong, stream: 0, message: ping, dictionary: false)

        var goAway = Aurora_Wire_V1_GoAway()
        goAway.lastStreamID = 7
        goAway.code = 0
        goAway.message = "server is shutting down"
        try self.addValid(
            "goaway", "GOAWAY NO_ERROR: streams up to 7 finish, no new streams.", kind: .goAway, stream: 0, message: goAway,
            dictionary: false)
    }

    private mutating func addInvalid(
        _ name: String, _ title: String, bytes: [UInt8], error: WireError.Code, detection: String, notes: String = ""
    ) {
        self.invalid.append(
            Vector(
                name: name, title: title, bytes: bytes,
                expectation: ["error": error.description, "code": Int(error.rawValue), "detected_by": detection],
                notes: notes))
    }

    /// A frame header with arbitrary fields (for invalid vectors).
    private func rawFrame(length: UInt32? = nil, version: UInt8 = 1, kind: UInt8, flags: UInt8 = 0, reserved: UInt8 = 0, stream: UInt32, body: [UInt8] = [])
        -> [UInt8]
    {
        var buffer = ByteBuffer()
        buffer.writeInteger(length ?? UInt32(8 + body.count), endianness: .big)
        buffer.writeInteger(version)
        buffer.writeInteger(kind)
        buffer.writeInteger(flags)
        buffer.writeInteger(reserved)
        buffer.writeInteger(stream, endianness: .big)
        buffer.writeBytes(body)
        return Array(buffer.readableBytesView)
    }

    private func zstd(_ input: [UInt8], level: Int32 = 1) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
        let n = ZSTD_compress(&output, output.count, input, input.count, level)
        return Array(output[0..<n])
    }

    /// A zstd frame without a content size (streaming compression with no pledged size).
    private func zstdWithoutContentSize(_ input: [UInt8]) -> [UInt8] {
        let cctx = ZSTD_createCCtx()!
        defer { ZSTD_freeCCtx(cctx) }
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0)
        var output = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count) + 32)
        return input.withUnsafeBytes { src in
            output.withUnsafeMutableBytes { dst in
                var inBuffer = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
                var outBuffer = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
                _ = ZSTD_compressStream2(cctx, &outBuffer, &inBuffer, ZSTD_e_end)
                return Array(dst[0..<outBuffer.pos])
            }
        }
    }

    private mutating func buildInvalid() throws {
        let hello = try { () throws -> [UInt8] in
            var hello = Aurora_Wire_V1_Hello()
            hello.minVersion = 1
            hello.maxVersion = 1
            hello.initialStreamCredit = 16
            return try hello.serializedBytes()
        }()
        self.addInvalid(
            "length_over_limit", "A length prefix of 0x7FFFFFFF (2 GiB).", bytes: self.rawFrame(length: 0x7FFF_FFFF, kind: 1, stream: 0),
            error: .frameTooLarge, detection: "prefix",
            notes: "Refused as soon as the 4-byte prefix is read: nothing of the body is buffered.")
        self.addInvalid(
            "length_below_header", "A length of 4: shorter than the 8-byte header.", bytes: [0, 0, 0, 4, 1, 1, 0, 0],
            error: .protocolError, detection: "prefix")
        self.addInvalid(
            "unknown_version", "Header version byte 2.", bytes: self.rawFrame(version: 2, kind: 1, stream: 0, body: self.zstd(hello)),
            error: .unsupportedVersion, detection: "header")
        self.addInvalid(
            "unknown_kind", "Header kind byte 0x7F.", bytes: self.rawFrame(kind: 0x7F, stream: 0), error: .unknownFrameKind,
            detection: "header")
        self.addInvalid(
            "reserved_nonzero", "A HELLO whose reserved byte is 1.",
            bytes: self.rawFrame(kind: 1, reserved: 1, stream: 0, body: self.zstd(hello)), error: .protocolError, detection: "header")
        self.addInvalid(
            "flags_not_allowed", "A HELLO with END_STREAM set (only CALL and MESSAGE may carry it).",
            bytes: self.rawFrame(kind: 1, flags: 0x01, stream: 0, body: self.zstd(hello)), error: .protocolError, detection: "header")
        self.addInvalid(
            "dictionary_flag_empty_body", "A STATUS with the dictionary flag but an empty body.",
            bytes: self.rawFrame(kind: 6, flags: 0x02, stream: 1), error: .protocolError, detection: "header")
        self.addInvalid(
            "even_stream_id", "A CALL on stream 2: client streams are odd.", bytes: self.rawFrame(kind: 3, stream: 2),
            error: .streamIDError, detection: "header")
        self.addInvalid(
            "connection_frame_on_stream", "A PING on stream 1: connection frames use stream 0.",
            bytes: self.rawFrame(kind: 9, stream: 1), error: .streamIDError, detection: "header")
        self.addInvalid(
            "end_with_body", "An END frame with a body.", bytes: self.rawFrame(kind: 5, stream: 3, body: self.zstd([1, 2, 3])),
            error: .protocolError, detection: "header")
        let validHello = self.rawFrame(kind: 1, stream: 0, body: self.zstd(hello))
        self.addInvalid(
            "truncated", "The first 10 bytes of a HELLO, then the connection ends.", bytes: Array(validHello.prefix(10)),
            error: .truncatedFrame, detection: "end of stream",
            notes: "No GOAWAY can be sent (the peer is gone); the receiver reports TRUNCATED_FRAME locally.")
        self.addInvalid(
            "invalid_zstd", "A HELLO whose body is not a zstd frame.",
            bytes: self.rawFrame(kind: 1, stream: 0, body: Array("this is not zstd".utf8)), error: .compressionError, detection: "body")
        let corrupt = { () -> [UInt8] in
            var frame = self.zstd(Array(repeating: 0x41, count: 300) + Array(0..<200).map { UInt8($0) })
            frame[frame.count - 3] ^= 0xFF
            frame[frame.count - 6] ^= 0xFF
            return frame
        }()
        self.addInvalid(
            "corrupt_zstd", "A HELLO whose zstd frame is damaged inside.",
            bytes: self.rawFrame(kind: 1, stream: 0, body: corrupt), error: .compressionError, detection: "body")
        self.addInvalid(
            "zstd_without_content_size", "A HELLO whose zstd frame does not declare its content size.",
            bytes: self.rawFrame(kind: 1, stream: 0, body: self.zstdWithoutContentSize(hello)), error: .compressionError,
            detection: "body")
        // 18-byte frame header claiming 10 GB: magic, descriptor (FCS 8 bytes, single segment), size, then a last empty raw block.
        var claim: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0xE0]
        withUnsafeBytes(of: UInt64(10_000_000_000).littleEndian) { claim += $0 }
        claim += [0x01, 0x00, 0x00]
        self.addInvalid(
            "zstd_bomb_declared", "A HELLO whose 16-byte zstd frame declares 10 GB of content.",
            bytes: self.rawFrame(kind: 1, stream: 0, body: claim), error: .messageTooLarge, detection: "body",
            notes: "Refused from the declared size, before any output is allocated.")
        self.addInvalid(
            "zstd_bomb_real", "A HELLO whose body is 8 MiB of zeros compressed (a few hundred bytes).",
            bytes: self.rawFrame(kind: 1, stream: 0, body: self.zstd(Array(repeating: 0, count: 8 * 1024 * 1024), level: 19)),
            error: .messageTooLarge, detection: "body")
        self.addInvalid(
            "zstd_trailing_frame", "A HELLO whose body is two zstd frames back to back.",
            bytes: self.rawFrame(kind: 1, stream: 0, body: self.zstd(hello) + self.zstd(hello)), error: .compressionError,
            detection: "body")
        let skippable: [UInt8] = [0x50, 0x2A, 0x4D, 0x18, 0x04, 0x00, 0x00, 0x00, 1, 2, 3, 4]
        self.addInvalid(
            "zstd_skippable", "A HELLO whose body is a skippable zstd frame.",
            bytes: self.rawFrame(kind: 1, stream: 0, body: skippable), error: .compressionError, detection: "body")
        self.addInvalid(
            "garbage_control_body", "A HELLO whose body decompresses to bytes that are not an aurora.wire.v1.Hello.",
            bytes: self.rawFrame(kind: 1, stream: 0, body: self.zstd([0xFF, 0xFF, 0xFF, 0xFF, 0x0F])), error: .malformedBody,
            detection: "body")
    }
}
