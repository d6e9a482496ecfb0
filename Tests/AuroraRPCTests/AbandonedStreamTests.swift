import AuroraDiagnostics
import AuroraProtocol
import AuroraRPC
import AuroraWire
import Foundation
import NIOCore
import Testing

/// Calls whose client goes away, or stops sending, end and free what they hold (issue 19,
/// finding 2: abandoned uploads used to hold their handlers, and the slots those held, forever).
@Suite("Abandoned calls end with their connection or their idle timeout")
struct AbandonedStreamTests {
    /// A client-streaming method that counts its running handlers and reads until the upload ends.
    static func countingRouter(_ running: Counter) -> Router {
        var router = Router()
        router.clientStreaming(Diagnostics.upload) { chunks, _ in
            _ = running.add(1)
            defer { _ = running.add(-1) }
            var summary = Aurora_Diag_V1_UploadSummary()
            for try await chunk in chunks { summary.bytes += UInt64(chunk.data.count) }
            return summary
        }
        return router
    }

    /// Opens `count` uploads on `raw`, each with one chunk and no end.
    static func openUploads(_ count: Int, on raw: RawConnection) async throws {
        for index in 0..<count {
            var call = Aurora_Wire_V1_Call()
            call.method = Diagnostics.upload.name
            let stream = UInt32(2 * index + 1)
            try await raw.send(RawConnection.frame(.call, stream: stream, call))
            var chunk = Aurora_Diag_V1_Chunk()
            chunk.data = Data(repeating: 7, count: 8)
            try await raw.send(RawConnection.frame(.message, stream: stream, chunk))
        }
    }

    static func waitUntil(_ limit: Duration, _ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    @Test func closingTheSocketEndsEveryUploadItLeftOpen() async throws {
        let running = Counter()
        try await withServer(router: Self.countingRouter(running)) { port, _ in
            let raw = try await RawConnection(port: port)
            try await raw.handshake()
            try await Self.openUploads(30, on: raw)
            #expect(try await Self.waitUntil(.seconds(5)) { running.value == 30 })
            await raw.close()
            #expect(try await Self.waitUntil(.seconds(1)) { running.value == 0 }, "\(running.value) handlers still wait for uploads nobody will send")
            #expect(try await Self.waitUntil(.seconds(1)) { closeWaitSockets(port: port) == 0 }, "the server left the socket in CLOSE-WAIT")
        }
    }

    @Test func halfClosingEndsTheUploadsStillWaitingAndTheConnection() async throws {
        let running = Counter()
        try await withServer(router: Self.countingRouter(running)) { port, _ in
            let raw = try await RawConnection(port: port)
            try await raw.handshake()
            try await Self.openUploads(3, on: raw)
            #expect(try await Self.waitUntil(.seconds(5)) { running.value == 3 })
            try await raw.finishSending()
            let frames = try await raw.framesUntilClosed(timeout: .seconds(2))
            let codec = BodyCodec(limits: .default)
            let statuses = try frames.filter { $0.kind == .status }.map {
                try codec.decodeControl($0, as: Aurora_Wire_V1_Status.self, allocator: ByteBufferAllocator())
            }
            #expect(statuses.count == 3 && statuses.allSatisfy { $0.code == StatusCode.cancelled.rawValue }, "\(statuses)")
            #expect(running.value == 0)
        }
    }

    @Test func anUploadThatSendsNothingEndsAfterTheIdleTimeout() async throws {
        let running = Counter()
        var connection = ServerConnectionConfiguration()
        connection.uploadIdleTimeout = .seconds(1)
        try await withServer(router: Self.countingRouter(running), connection: connection) { port, _ in
            let client = try await connect(port)
            let started = ContinuousClock.now
            var chunk = Aurora_Diag_V1_Chunk()
            chunk.data = Data([1])
            let handle = try await client.openStream(method: Diagnostics.upload.name, options: .default, first: nil, endAfterFirst: false)
            try await handle.send(try chunk.serializedBytes())
            // The client sends nothing more and does not end the call: the server ends it.
            let stalled = await #expect(throws: RPCError.self) { _ = try await handle.receive() }
            #expect(stalled?.code == .deadlineExceeded, "\(String(describing: stalled))")
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(try await Self.waitUntil(.seconds(1)) { running.value == 0 })
            await client.close()
        }
        // An upload that keeps sending, however slowly, is not idle: it lasts longer than the
        // idle timeout in all, but no pause comes near it. The timeout is 20 pauses long: the
        // whole test suite on two loaded cores once stretched a 150 ms pause past a 1 s timeout.
        connection.uploadIdleTimeout = .seconds(3)
        try await withServer(router: Self.countingRouter(running), connection: connection) { port, _ in
            let client = try await connect(port)
            let started = ContinuousClock.now
            let summary = try await client.clientStreaming(Diagnostics.upload) { writer in
                for _ in 0..<24 {
                    var chunk = Aurora_Diag_V1_Chunk()
                    chunk.data = Data([2])
                    try await writer.send(chunk)
                    try await Task.sleep(for: .milliseconds(150))
                }
            }
            #expect(summary.bytes == 24)
            #expect(ContinuousClock.now - started > .seconds(3), "the upload did not outlast the idle timeout")
            await client.close()
        }
    }

    /// A connection the client already began closing (GOAWAY) still stops at shutdown within the
    /// drain timeout, whatever its calls are doing.
    @Test func shutdownFinishesWithinTheDrainTimeoutAfterTheClientsGoAway() async throws {
        var connection = ServerConnectionConfiguration()
        connection.drainTimeout = .milliseconds(500)
        let shutdownStarted = InstantBox()
        try await withServer(connection: connection) { port, _ in
            let raw = try await RawConnection(port: port)
            try await raw.handshake()
            var call = Aurora_Wire_V1_Call()
            call.method = Diagnostics.echo.name
            call.message = try echoRequest("slow", delayMs: 60_000).serializedBytes()
            try await raw.send(RawConnection.frame(.call, stream: 1, flags: .endStream, call))
            var goAway = Aurora_Wire_V1_GoAway()
            goAway.code = WireError.Code.noError.rawValue
            try await raw.send(RawConnection.frame(.goAway, stream: 0, goAway))
            try await Task.sleep(for: .milliseconds(100))
            shutdownStarted.set(.now)  // withServer shuts the server down when this returns
        }
        // The call would run 60 s; the drain timeout is 0.5 s (a generous bound for a loaded machine).
        #expect(ContinuousClock.now - shutdownStarted.get() < .seconds(10), "the server waited for a call past its drain timeout")
    }

    @Test func anUnauthenticatedPeerCannotSendLargeFrames() async throws {
        try await withServer { port, _ in
            // A 4 MiB frame is within the limit after the handshake, not before it.
            let raw = try await RawConnection(port: port)
            var header = ByteBuffer()
            header.writeInteger(UInt32(4 << 20), endianness: .big)
            header.writeBytes([1, FrameKind.hello.rawValue, 0, 0, 0, 0, 0, 0])
            try await raw.send(Array(header.readableBytesView))
            #expect(try await raw.goAwayCode() == .frameTooLarge)

            // A small HELLO whose body inflates to 1 MiB is refused before it is inflated.
            var hello = Aurora_Wire_V1_Hello()
            hello.minVersion = 1
            hello.maxVersion = 1
            hello.initialStreamCredit = 16
            hello.clientName = String(repeating: "a", count: 1 << 20)
            let bomb = try BodyCodec(limits: .default).frame(.hello, streamID: .connection, message: hello, allocator: ByteBufferAllocator())
            #expect(bomb.body.readableBytes < 4096)
            let second = try await RawConnection(port: port)
            try await second.send(bomb)
            #expect(try await second.goAwayCode() == .messageTooLarge)
        }
    }
}

/// Server-side sockets on `port` in CLOSE-WAIT (the peer closed, the server has not), from /proc.
func closeWaitSockets(port: Int) -> Int {
    var count = 0
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 3, let local = fields[1].split(separator: ":").last, Int(local, radix: 16) == port else { continue }
            if fields[3] == "08" { count += 1 }
        }
    }
    return count
}

/// An instant handed out of a closure.
final class InstantBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value = ContinuousClock.now
    func set(_ instant: ContinuousClock.Instant) { self.lock.withLock { self.value = instant } }
    func get() -> ContinuousClock.Instant { self.lock.withLock { self.value } }
}

/// A server whose task is cancelled (a sibling service failed) stops instead of waiting forever.
@Suite("A cancelled server stops")
struct CancelledServerTests {
    @Test func cancellingRunEndsIt() async throws {
        var router = Router()
        Diagnostics.register(into: &router)
        let server = RPCServer(configuration: .init(port: 0), router: router)
        let running = Task { try await server.run() }
        _ = try await server.listeningAddress
        let client = try await connect(try await server.listeningAddress.port!)
        running.cancel()
        let stopped = try await withTimeout(.seconds(10)) { _ = await running.result; return true }
        #expect(stopped)
        await client.close()
    }
}
