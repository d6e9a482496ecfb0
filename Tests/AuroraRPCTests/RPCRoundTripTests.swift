import AuroraDiagnostics
import AuroraProtocol
import AuroraRPC
import Foundation
import Testing

@Suite("RPC round trips on real sockets")
struct RPCRoundTripTests {
    @Test func unaryEcho() async throws {
        try await withServer { port, _ in
            let connection = try await connect(port)
            let response = try await connection.unary(Diagnostics.echo, echoRequest("hello"))
            #expect(String(decoding: response.payload, as: UTF8.self) == "hello")
            let empty = try await connection.unary(Diagnostics.echo, Aurora_Diag_V1_EchoRequest())
            #expect(empty.payload.isEmpty)
            await connection.close()
        }
    }

    @Test func clientStreamingUpload() async throws {
        try await withServer { port, _ in
            let connection = try await connect(port)
            var expected = FNV1a64()
            let summary = try await connection.clientStreaming(Diagnostics.upload) { writer in
                for index in 0..<50 {
                    var chunk = Aurora_Diag_V1_Chunk()
                    chunk.data = Diagnostics.pattern(index: UInt64(index), count: 1000 + index)
                    expected.update(chunk.data)
                    try await writer.send(chunk)
                }
            }
            #expect(summary.messages == 50)
            #expect(summary.bytes == UInt64((0..<50).reduce(0) { $0 + 1000 + $1 }))
            #expect(summary.checksum == expected.value)
            await connection.close()
        }
    }

    @Test func serverStreamingDownload() async throws {
        try await withServer { port, _ in
            let connection = try await connect(port)
            var request = Aurora_Diag_V1_DownloadRequest()
            request.messages = 200
            request.messageBytes = 3000
            let count = try await connection.serverStreaming(Diagnostics.download, request) { responses in
                var index: UInt64 = 0
                for try await chunk in responses {
                    #expect(chunk.data == Diagnostics.pattern(index: index, count: 3000))
                    index += 1
                }
                return index
            }
            #expect(count == 200)
            await connection.close()
        }
    }

    @Test func unknownMethodIsUnimplemented() async throws {
        try await withServer { port, _ in
            let connection = try await connect(port)
            let error = await #expect(throws: RPCError.self) {
                _ = try await connection.unary(method: "aurora.nope.v1.Nope/Nothing", request: [], options: .default)
            }
            #expect(error?.code == .unimplemented)
            // The connection still works.
            _ = try await connection.unary(Diagnostics.echo, echoRequest("after"))
            await connection.close()
        }
    }

    @Test func garbageMessageBodyIsInvalidArgument() async throws {
        try await withServer { port, _ in
            let connection = try await connect(port)
            let error = await #expect(throws: RPCError.self) {
                _ = try await connection.unary(method: Diagnostics.echo.name, request: [0xFF, 0xFF, 0xFF, 0x07], options: .default)
            }
            #expect(error?.code == .invalidArgument)
            await connection.close()
        }
    }

    @Test func oversizedMetadataAndMessagesAreRefused() async throws {
        var limits = ServerConnectionConfiguration()
        limits.maxMetadataBytes = 1024
        try await withServer(connection: limits) { port, _ in
            let connection = try await connect(port)
            let metadata = ["note": String(repeating: "x", count: 2000)]
            let tooMuch = await #expect(throws: RPCError.self) {
                _ = try await connection.unary(Diagnostics.echo, echoRequest("x"), options: CallOptions(metadata: metadata))
            }
            #expect(tooMuch?.code == .resourceExhausted)
            let big = await #expect(throws: RPCError.self) {
                _ = try await connection.unary(method: Diagnostics.echo.name, request: [UInt8](repeating: 1, count: 5 << 20), options: .default)
            }
            #expect(big?.code == .resourceExhausted)
            // Neither refusal harmed the connection.
            _ = try await connection.unary(Diagnostics.echo, echoRequest("fine"), options: CallOptions(metadata: ["trace-id": "abc"]))
            await connection.close()
        }
    }

    @Test func thousandConcurrentCallsOnOneConnection() async throws {
        try await withServer { port, _ in
            let connection = try await connect(port)
            try await withTimeout(.seconds(60)) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<1000 {
                        group.addTask {
                            let response = try await connection.unary(Diagnostics.echo, echoRequest("call \(index)", delayMs: 5))
                            #expect(String(decoding: response.payload, as: UTF8.self) == "call \(index)")
                        }
                    }
                    try await group.waitForAll()
                }
            }
            #expect(connection.activeCalls == 0)
            await connection.close()
        }
    }

    @Test func callsBeyondTheStreamLimitWaitForASlot() async throws {
        var limits = ServerConnectionConfiguration()
        limits.maxConcurrentStreams = 2
        try await withServer(connection: limits) { port, _ in
            let connection = try await connect(port)
            #expect(connection.maxConcurrentStreams == 2)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<10 {
                    group.addTask { _ = try await connection.unary(Diagnostics.echo, echoRequest("\(index)", delayMs: 20)) }
                }
                try await group.waitForAll()
            }
            await connection.close()
        }
    }

    @Test func authenticationRefusalIsUnauthenticated() async throws {
        try await withServer(authenticator: SharedSecretAuthenticator(secret: "s3cret-internal-credential")) { port, _ in
            let error = await #expect(throws: RPCError.self) {
                _ = try await connect(port) { $0.credential = "wrong" }
            }
            #expect(error?.code == .unauthenticated)
            let connection = try await connect(port) { $0.credential = "s3cret-internal-credential" }
            #expect(connection.principal == "internal")
            _ = try await connection.unary(Diagnostics.echo, echoRequest("ok"))
            await connection.close()
        }
    }

    @Test func poolReconnectsAfterTheServerRestarts() async throws {
        // A pool pointed at a port where nothing listens backs off and reports UNAVAILABLE.
        let client = RPCClient(
            host: "127.0.0.1", port: 1, configuration: .init(maxConnectAttempts: 2, initialBackoff: .milliseconds(10)))
        let error = await #expect(throws: RPCError.self) {
            _ = try await client.unary(Diagnostics.echo, echoRequest("x"))
        }
        #expect(error?.code == .unavailable)
        await client.shutdown()

        // Against a live server the pool serves calls, and replaces a connection that was closed.
        try await withServer { port, _ in
            let pool = RPCClient(host: "127.0.0.1", port: port)
            _ = try await pool.unary(Diagnostics.echo, echoRequest("first"))
            await (try await pool.connection()).close()
            let response = try await pool.unary(Diagnostics.echo, echoRequest("second"))
            #expect(String(decoding: response.payload, as: UTF8.self) == "second")
            await pool.shutdown()
        }
    }
}
