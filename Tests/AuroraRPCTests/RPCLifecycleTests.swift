import AuroraDiagnostics
import AuroraProtocol
import AuroraRPC
import Foundation
import NIOConcurrencyHelpers
import ServiceLifecycle
import Testing

/// One-shot signal between test tasks.
final class Signal: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation
    init() { (self.stream, self.continuation) = AsyncStream.makeStream(of: Void.self) }
    func fire() { self.continuation.yield() }
    func wait() async { for await _ in self.stream { return } }
}

@Suite("RPC cancellation, deadlines, drain and flow control")
struct RPCLifecycleTests {
    @Test func cancellingTheCallerCancelsTheHandler() async throws {
        let started = Signal()
        let cancelled = Signal()
        var router = Router()
        router.unary(Diagnostics.echo) { request, _ in
            started.fire()
            do {
                try await Task.sleep(for: .seconds(30))
            } catch {
                cancelled.fire()
                throw error
            }
            return Aurora_Diag_V1_EchoResponse()
        }
        try await withServer(router: router) { port, _ in
            let connection = try await connect(port)
            let call = Task { try await connection.unary(Diagnostics.echo, echoRequest("slow")) }
            await started.wait()
            call.cancel()
            let error = await #expect(throws: RPCError.self) { try await call.value }
            #expect(error?.code == .cancelled)
            try await withTimeout(.seconds(5)) { await cancelled.wait() }
            await connection.close()
        }
    }

    @Test func deadlineExceeded() async throws {
        try await withServer { port, _ in
            let connection = try await connect(port)
            let clock = ContinuousClock()
            let start = clock.now
            let error = await #expect(throws: RPCError.self) {
                _ = try await connection.unary(
                    Diagnostics.echo, echoRequest("late", delayMs: 5000), options: CallOptions(timeout: .milliseconds(200)))
            }
            #expect(error?.code == .deadlineExceeded)
            #expect(clock.now - start < .seconds(4))
            _ = try await connection.unary(Diagnostics.echo, echoRequest("on time"), options: CallOptions(timeout: .seconds(5)))
            await connection.close()
        }
    }

    @Test func serverEnforcesTheDeadlineItWasGiven() async throws {
        // The client sends a 150 ms deadline; the server must end the call by itself, with
        // DEADLINE_EXCEEDED, even though the handler would take seconds.
        let cancelled = Signal()
        var router = Router()
        router.unary(Diagnostics.echo) { _, context in
            #expect(context.deadline < ContinuousClock.now + .seconds(1))
            do { try await Task.sleep(for: .seconds(30)) } catch { cancelled.fire(); throw error }
            return Aurora_Diag_V1_EchoResponse()
        }
        try await withServer(router: router) { port, _ in
            let connection = try await connect(port)
            await #expect(throws: RPCError.self) {
                _ = try await connection.unary(Diagnostics.echo, echoRequest("x"), options: CallOptions(timeout: .milliseconds(150)))
            }
            try await withTimeout(.seconds(5)) { await cancelled.wait() }
            await connection.close()
        }
    }

    @Test func drainLetsInFlightCallsFinishAndRefusesNewOnes() async throws {
        let inFlight = Counter()
        let allStarted = Signal()
        var router = Router()
        router.unary(Diagnostics.echo) { request, _ in
            if inFlight.add() == 5 { allStarted.fire() }
            try await Task.sleep(for: .milliseconds(Int64(request.delayMs)))
            var response = Aurora_Diag_V1_EchoResponse()
            response.payload = request.payload
            return response
        }
        try await withServer(router: router) { port, group in
            let connection = try await connect(port)
            try await withThrowingTaskGroup(of: String.self) { calls in
                for index in 0..<5 {
                    calls.addTask {
                        let response = try await connection.unary(Diagnostics.echo, echoRequest("in flight \(index)", delayMs: 400))
                        return String(decoding: response.payload, as: UTF8.self)
                    }
                }
                await allStarted.wait()
                await group.triggerGracefulShutdown()
                var answers = Set<String>()
                for try await answer in calls { answers.insert(answer) }
                #expect(answers == Set((0..<5).map { "in flight \($0)" }))
            }
            // GOAWAY has arrived: no new calls on this connection, and no new connections.
            let refused = await #expect(throws: RPCError.self) {
                _ = try await connection.unary(Diagnostics.echo, echoRequest("too late"))
            }
            #expect(refused?.code == .unavailable)
            await #expect(throws: RPCError.self) { _ = try await connect(port) }
        }
    }

    @Test func slowUploadReceiverBoundsTheSenderAndTheServer() async throws {
        // 100 MiB in 64 KiB chunks to a receiver that pauses after every chunk: the client may run
        // ahead of the server by at most the stream's credit, so neither side buffers the file.
        let received = Counter()
        let maxGap = Counter()
        let sent = Counter()
        var options = Diagnostics.Options()
        options.uploadChunkDelay = .microseconds(300)
        options.onUploadChunk = { count in _ = received.add(Int(count) - received.value) }
        var limits = ServerConnectionConfiguration()
        limits.initialStreamCredit = 8
        let rssBefore = residentBytes()
        try await withServer(connection: limits, diagnostics: options) { port, _ in
            let connection = try await connect(port)
            let chunk = {
                var chunk = Aurora_Diag_V1_Chunk()
                chunk.data = Data((0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 7919 >> 3) })
                return chunk
            }()
            var expected = FNV1a64()
            let summary = try await withTimeout(.seconds(120)) {
                try await connection.clientStreaming(Diagnostics.upload) { writer in
                    for _ in 0..<1600 {
                        try await writer.send(chunk)
                        let gap = sent.add() - received.value
                        if gap > maxGap.value { _ = maxGap.add(gap - maxGap.value) }
                    }
                }
            }
            for _ in 0..<1600 { expected.update(chunk.data) }
            #expect(summary.messages == 1600)
            #expect(summary.bytes == 100 * 1024 * 1024)
            #expect(summary.checksum == expected.value)
            await connection.close()
        }
        #expect(maxGap.value <= 8 + 1, "the client ran \(maxGap.value) chunks ahead of the server")
        // The gap above is the exact bound. RSS is a coarse second check: other suites run in the
        // same process at the same time (tens of MiB seen in CI), so it only rules out holding the
        // whole file, which would add its 100 MiB to that noise.
        let growth = residentBytes() - rssBefore
        #expect(growth < 100 * 1024 * 1024, "resident memory grew by \(growth) bytes during a 100 MiB upload")
    }

    @Test func slowDownloadReaderBoundsTheServer() async throws {
        let produced = Counter()
        var router = Router()
        router.serverStreaming(Diagnostics.download) { request, writer, _ in
            var chunk = Aurora_Diag_V1_Chunk()
            chunk.data = Data(count: Int(request.messageBytes))
            for _ in 0..<request.messages {
                try await writer.send(chunk)
                _ = produced.add()
            }
        }
        try await withServer(router: router) { port, _ in
            let connection = try await connect(port) { $0.initialStreamCredit = 4 }
            var request = Aurora_Diag_V1_DownloadRequest()
            request.messages = 300
            request.messageBytes = 32 * 1024
            let (count, gap) = try await connection.serverStreaming(Diagnostics.download, request) { responses in
                var count = 0
                var maxGap = 0
                for try await _ in responses {
                    count += 1
                    maxGap = max(maxGap, produced.value - count)
                    try await Task.sleep(for: .microseconds(200))
                }
                return (count, maxGap)
            }
            #expect(count == 300)
            #expect(gap <= 4 + 1, "the server ran \(gap) messages ahead of the reader")
            await connection.close()
        }
    }

    @Test func cancellingAnUploadMidwayStopsTheServerHandler() async throws {
        let chunksSeen = Counter()
        let handlerEnded = Signal()
        var router = Router()
        router.unary(Diagnostics.echo) { _, _ in Aurora_Diag_V1_EchoResponse() }
        router.clientStreaming(Diagnostics.upload) { chunks, _ in
            defer { handlerEnded.fire() }
            for try await _ in chunks { _ = chunksSeen.add() }
            return Aurora_Diag_V1_UploadSummary()
        }
        try await withServer(router: router) { port, _ in
            let connection = try await connect(port)
            let upload = Task {
                try await connection.clientStreaming(Diagnostics.upload) { writer in
                    while true {
                        var chunk = Aurora_Diag_V1_Chunk()
                        chunk.data = Data(count: 1024)
                        try await writer.send(chunk)
                    }
                }
            }
            while chunksSeen.value < 20 { try await Task.sleep(for: .milliseconds(5)) }
            upload.cancel()
            await #expect(throws: (any Error).self) { _ = try await upload.value }
            try await withTimeout(.seconds(5)) { await handlerEnded.wait() }
            _ = try await connection.unary(Diagnostics.echo, echoRequest("still serving"))
            await connection.close()
        }
    }
}
