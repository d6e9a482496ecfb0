import AuroraDiagnostics
import AuroraProtocol
import AuroraRPC
import AuroraWire
import Foundation
import NIOCore
import Testing

@Suite("Malformed input gets its documented error; the server keeps serving")
struct MalformedInputTests {
    static let invalidVectors: [(name: String, bytes: [UInt8], code: UInt32)] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Protocol/vectors/invalid")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { $0.hasSuffix(".hex") }.sorted().map { file in
            let name = String(file.dropLast(4))
            let hex = try! String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            let bytes = hex.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { UInt8($0, radix: 16)! }
            let markdown = try! String(contentsOf: root.appendingPathComponent("\(name).md"), encoding: .utf8)
            let code = markdown.components(separatedBy: "\"code\" : ")[1].prefix { $0.isNumber }
            return (name, bytes, UInt32(code)!)
        }
    }()

    @Test(arguments: invalidVectors.map(\.name))
    func invalidVectorAsFirstBytes(_ name: String) async throws {
        let vector = Self.invalidVectors.first { $0.name == name }!
        try await withServer { port, _ in
            let raw = try await RawConnection(port: port)
            try await raw.send(vector.bytes)
            try await raw.finishSending()
            let code = try await raw.goAwayCode()
            if vector.code == WireError.Code.truncatedFrame.rawValue {
                #expect(code == nil, "a truncated frame ends the connection without GOAWAY")
            } else {
                #expect(code?.rawValue == vector.code, "\(name): server answered \(String(describing: code))")
            }
            try await Self.expectServerStillServes(port)
        }
    }

    @Test func callBeforeHello() async throws {
        try await withServer { port, _ in
            let raw = try await RawConnection(port: port)
            var call = Aurora_Wire_V1_Call()
            call.method = Diagnostics.echo.name
            try await raw.send(RawConnection.frame(.call, stream: 1, flags: .endStream, call))
            #expect(try await raw.goAwayCode() == .protocolError)
        }
    }

    @Test func noCommonVersion() async throws {
        try await withServer { port, _ in
            let raw = try await RawConnection(port: port)
            try await raw.send(RawConnection.helloFrame(minVersion: 2, maxVersion: 3))
            #expect(try await raw.goAwayCode() == .unsupportedVersion)
        }
    }

    @Test func reusedStreamID() async throws {
        try await withServer { port, _ in
            let raw = try await RawConnection(port: port)
            try await raw.handshake()
            var call = Aurora_Wire_V1_Call()
            call.method = Diagnostics.echo.name
            call.message = Data()
            try await raw.send(RawConnection.frame(.call, stream: 5, flags: .endStream, call))
            try await raw.send(RawConnection.frame(.call, stream: 5, flags: .endStream, call))
            #expect(try await raw.goAwayCode() == .streamIDError)
            try await Self.expectServerStillServes(port)
        }
    }

    @Test func streamIDGoingBackwards() async throws {
        try await withServer { port, _ in
            let raw = try await RawConnection(port: port)
            try await raw.handshake()
            var call = Aurora_Wire_V1_Call()
            call.method = Diagnostics.echo.name
            call.message = Data()
            try await raw.send(RawConnection.frame(.call, stream: 9, flags: .endStream, call))
            try await raw.send(RawConnection.frame(.call, stream: 7, flags: .endStream, call))
            #expect(try await raw.goAwayCode() == .streamIDError)
        }
    }

    @Test func frameForAStreamNeverOpened() async throws {
        try await withServer { port, _ in
            let raw = try await RawConnection(port: port)
            try await raw.handshake()
            try await raw.send(RawConnection.frame(.end, stream: 99))
            #expect(try await raw.goAwayCode() == .streamIDError)
        }
    }

    @Test func messagesBeyondCredit() async throws {
        var limits = ServerConnectionConfiguration()
        limits.initialStreamCredit = 4
        var options = Diagnostics.Options()
        options.uploadChunkDelay = .seconds(5)  // the server reads nothing, so it grants nothing
        try await withServer(connection: limits, diagnostics: options) { port, _ in
            let raw = try await RawConnection(port: port)
            try await raw.handshake()
            var call = Aurora_Wire_V1_Call()
            call.method = Diagnostics.upload.name
            try await raw.send(RawConnection.frame(.call, stream: 1, call))
            var chunk = Aurora_Diag_V1_Chunk()
            chunk.data = Data(count: 10)
            for _ in 0..<6 { try await raw.send(RawConnection.frame(.message, stream: 1, chunk)) }
            #expect(try await raw.goAwayCode() == .flowControlError)
        }
    }

    @Test func handshakeTimeout() async throws {
        var limits = ServerConnectionConfiguration()
        limits.handshakeTimeout = .milliseconds(200)
        try await withServer(connection: limits) { port, _ in
            let raw = try await RawConnection(port: port)
            try await raw.send([0, 0, 0])  // a slowloris: part of a prefix, then nothing
            #expect(try await raw.goAwayCode() == .handshakeTimeout)
        }
    }

    @Test func idleTimeout() async throws {
        var limits = ServerConnectionConfiguration()
        limits.idleTimeout = .milliseconds(300)
        try await withServer(connection: limits) { port, _ in
            let raw = try await RawConnection(port: port)
            try await raw.handshake()
            #expect(try await raw.goAwayCode() == .idleTimeout)
        }
    }

    @Test func tooManyCancellations() async throws {
        var limits = ServerConnectionConfiguration()
        limits.maxCancelsPerWindow = 20
        try await withServer(connection: limits) { port, _ in
            let raw = try await RawConnection(port: port)
            try await raw.handshake()
            var call = Aurora_Wire_V1_Call()
            call.method = Diagnostics.echo.name
            var echo = Aurora_Diag_V1_EchoRequest()
            echo.delayMs = 10_000
            call.message = try echo.serializedData()
            // One write, so the server has read everything before it closes (no reset loses the GOAWAY).
            var burst: [UInt8] = []
            for index in 0..<30 {
                let stream = UInt32(2 * index + 1)
                burst += FrameEncoder().encode(try RawConnection.frame(.call, stream: stream, flags: .endStream, call)).readableBytesView
                burst += FrameEncoder().encode(try RawConnection.frame(.cancel, stream: stream)).readableBytesView
            }
            try await raw.send(burst)
            #expect(try await raw.goAwayCode() == .enhanceYourCalm)
        }
    }

    @Test func tooManyPings() async throws {
        var limits = ServerConnectionConfiguration()
        limits.maxPingsPerWindow = 10
        try await withServer(connection: limits) { port, _ in
            let raw = try await RawConnection(port: port)
            try await raw.handshake()
            var ping = Aurora_Wire_V1_Ping()
            ping.opaque = 42
            // One write, so the server has read everything before it closes.
            var burst: [UInt8] = []
            for _ in 0..<15 { burst += FrameEncoder().encode(try RawConnection.frame(.ping, stream: 0, ping)).readableBytesView }
            try await raw.send(burst)
            let frames = try await raw.framesUntilClosed()
            #expect(frames.filter { $0.kind == .pong }.count == 10, "the first ten pings are answered")
            let goAway = try #require(frames.last { $0.kind == .goAway })
            let body = try BodyCodec(limits: .default).decodeControl(goAway, as: Aurora_Wire_V1_GoAway.self, allocator: ByteBufferAllocator())
            #expect(WireError.Code(rawValue: body.code) == .enhanceYourCalm)
            try await Self.expectServerStillServes(port)
        }
    }

    static func expectServerStillServes(_ port: Int) async throws {
        let connection = try await connect(port)
        let response = try await connection.unary(Diagnostics.echo, echoRequest("still here"))
        #expect(String(decoding: response.payload, as: UTF8.self) == "still here")
        await connection.close()
    }
}
