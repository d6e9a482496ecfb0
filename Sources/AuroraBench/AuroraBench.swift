import ArgumentParser
import AuroraDiagnostics
import AuroraProtocol
import AuroraRPC
import AuroraWire
import Foundation
import Histogram
import Logging
import NIOCore
import NIOPosix

@main
struct AuroraBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aurora-bench",
        abstract: "AURORA benchmarks, run by hand. Build with -c release.",
        subcommands: [RPCBench.self, Serve.self, Compression.self, Smoke.self, LearningBench.self, GatewayBench.self, ParseBench.self, SoakBench.self])
}

/// `aurora-bench rpc`: 200-byte unary echo through the RPC runtime next to the two plain NIO
/// echoes, at several numbers of calls in flight, each server in its own process.
struct RPCBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpc", abstract: "Unary echo calls/s and p50/p99: RPC runtime vs plain NIO echoes.")

    @Option(help: "Calls in flight, comma-separated.")
    var inFlight: String = "1,16,256,1000"

    @Option(help: "Seconds measured per point (after a warm-up of a third of that).")
    var seconds: Double = 2

    @Option(help: "Rounds per point; variants alternate and the median is printed.")
    var rounds: Int = 3

    @Option(help: "Payload bytes per call.")
    var payloadBytes: Int = 200

    @Option(help: "Variants to run, comma-separated (raw, zstd, rpc); ratios need raw and zstd.")
    var variants: String = "raw,zstd,rpc"

    @Option(help: "Use a server already listening on this port (profiling) instead of starting one; needs a single variant.")
    var port: Int?

    func run() async throws {
        let levels = self.inFlight.split(separator: ",").compactMap { Int($0) }
        let payload = SamplePayload.make(bytes: self.payloadBytes)
        print("unary echo, \(self.payloadBytes)-byte payload, one connection, server in a separate process, \(ProcessInfo.processInfo.activeProcessorCount) cores, median of \(self.rounds) alternating rounds of \(self.seconds) s")
        print(String(repeating: "-", count: 100))
        print("in-flight  variant      calls/s    p50 ms   p99 ms   vs raw   vs zstd")
        for level in levels {
            let variants = self.variants.split(separator: ",").map(String.init)
            // Variants take turns, round after round, so a burst of load from elsewhere on a shared
            // machine hits them alike; each figure is the median over the rounds.
            var rounds: [String: [Measurement]] = [:]
            for _ in 0..<self.rounds {
                for variant in variants {
                    if let port = self.port {
                        rounds[variant, default: []].append(
                            try await Self.measure(variant: variant, port: port, inFlight: level, seconds: self.seconds, payload: payload))
                        continue
                    }
                    let server = try ServerProcess(variant: variant)
                    defer { server.stop() }
                    rounds[variant, default: []].append(
                        try await Self.measure(variant: variant, port: server.port, inFlight: level, seconds: self.seconds, payload: payload))
                }
            }
            let results = rounds.mapValues(Measurement.median)
            for variant in variants {
                let m = results[variant]!
                let ratio = { (other: String) in results[other].map { String(format: "%6.2fx", m.callsPerSecond / $0.callsPerSecond) } ?? "     -" }
                let name = variant.padding(toLength: 8, withPad: " ", startingAt: 0)
                print(
                    String(format: "%9d  ", level) + name
                        + String(format: " %11.0f  %8.3f %8.3f  ", m.callsPerSecond, m.p50Milliseconds, m.p99Milliseconds)
                        + ratio("raw") + "  " + ratio("zstd"))
            }
        }
    }

    struct Measurement {
        var callsPerSecond: Double
        var p50Milliseconds: Double
        var p99Milliseconds: Double

        /// Field by field median of several rounds.
        static func median(_ all: [Measurement]) -> Measurement {
            func mid(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
            return Measurement(
                callsPerSecond: mid(all.map(\.callsPerSecond)), p50Milliseconds: mid(all.map(\.p50Milliseconds)),
                p99Milliseconds: mid(all.map(\.p99Milliseconds)))
        }
    }

    static func measure(variant: String, port: Int, inFlight: Int, seconds: Double, payload: [UInt8]) async throws -> Measurement {
        let (call, cleanup) = try await Self.client(variant: variant, port: port, payload: payload)
        do {
            let measurement = try await Self.drive(call: call, inFlight: inFlight, seconds: seconds)
            await cleanup()
            return measurement
        } catch {
            await cleanup()
            throw error
        }
    }

    typealias Call = @Sendable () async throws -> Void

    /// A call function for the variant, and how to close its connection.
    static func client(variant: String, port: Int, payload: [UInt8]) async throws -> (Call, @Sendable () async -> Void) {
        let group = MultiThreadedEventLoopGroup.singleton
        let call: Call
        let cleanup: @Sendable () async -> Void
        switch variant {
        case "rpc":
            var configuration = ClientConfiguration()
            configuration.clientName = "aurora-bench"
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port, configuration: configuration, group: group)
            let request = { var request = Aurora_Diag_V1_EchoRequest(); request.payload = Data(payload); return request }()
            call = { _ = try await connection.unary(Diagnostics.echo, request) }
            cleanup = { await connection.close() }
        case "raw":
            let client = try await EchoBaselineClient(host: "127.0.0.1", port: port, group: group)
            let buffer = ByteBuffer(bytes: payload)
            call = { _ = try await client.call(buffer) }
            cleanup = { try? await client.channel.close() }
        default:
            let client = try await EchoBaselineClient(host: "127.0.0.1", port: port, group: group)
            call = {
                // Reused contexts: one pair per calling task (see ZstdContexts).
                let contexts = ZstdContexts.current
                let compressed = try contexts.compressor.compress(ByteBuffer(bytes: payload), level: 1, useDictionary: false)
                let reply = try await client.call(compressed)
                _ = try contexts.decompressor.decompress(reply, useDictionary: false, maxBytes: 4 << 20)
            }
            cleanup = { try? await client.channel.close() }
        }
        return (call, cleanup)
    }

    /// `inFlight` tasks each call in a loop; latencies after the warm-up go into histograms.
    static func drive(call: @escaping Call, inFlight: Int, seconds: Double) async throws -> Measurement {
        let clock = ContinuousClock()
        let warmUpEnd = clock.now + .seconds(seconds / 3)
        let end = warmUpEnd + .seconds(seconds)
        let histograms = try await withThrowingTaskGroup(of: Histogram<UInt64>.self) { tasks in
            for _ in 0..<inFlight {
                tasks.addTask {
                    var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
                    try await ZstdContexts.$current.withValue(ZstdContexts()) {
                        while true {
                            let start = clock.now
                            if start >= end { break }
                            try await call()
                            if start >= warmUpEnd {
                                let elapsed = clock.now - start
                                _ = histogram.record(UInt64(elapsed.components.seconds) * 1_000_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000))
                            }
                        }
                    }
                    return histogram
                }
            }
            var all: [Histogram<UInt64>] = []
            for try await histogram in tasks { all.append(histogram) }
            return all
        }
        var merged = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        for histogram in histograms { merged.add(histogram) }
        return Measurement(
            callsPerSecond: Double(merged.totalCount) / seconds,
            p50Milliseconds: Double(merged.valueAtPercentile(50)) / 1e6,
            p99Milliseconds: Double(merged.valueAtPercentile(99)) / 1e6)
    }
}

/// zstd contexts owned by one benchmark task (contexts are not thread-safe, so never shared).
final class ZstdContexts: @unchecked Sendable {
    // @unchecked: used only by the task that installed it as its task-local value.
    @TaskLocal static var current = ZstdContexts()
    let compressor = ZstdCompressor()
    let decompressor = ZstdDecompressor()
}

enum SamplePayload {
    /// Text-like bytes (column names, numbers), so compression has something realistic to chew on.
    static func make(bytes: Int) -> [UInt8] {
        let text = Array("id,price,quantity,city,created_at\n17,12.50,3,Oslo,2024-05-01T10:00:00\n".utf8)
        return (0..<bytes).map { text[$0 % text.count] }
    }
}

/// A benchmark server in a child process: `aurora-bench serve VARIANT` prints its port.
final class ServerProcess {
    let process = Process()
    let port: Int

    init(variant: String) throws {
        let pipe = Pipe()
        self.process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.resolvingSymlinksInPath()
        self.process.arguments = ["serve", variant]
        self.process.standardOutput = pipe
        try self.process.run()
        var line = Data()
        while let byte = try pipe.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) {
            line.append(byte)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            throw ValidationError("benchmark server \(variant) did not start")
        }
        self.port = port
    }

    func stop() {
        self.process.terminate()
        self.process.waitUntilExit()
    }
}

/// `aurora-bench serve raw|zstd|rpc`: one benchmark server on 127.0.0.1, port printed on stdout.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run one benchmark server (used by `rpc`).")

    @Argument(help: "raw, zstd or rpc")
    var variant: String

    func run() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        switch self.variant {
        case "rpc":
            var router = Router()
            Diagnostics.register(into: &router)
            var logger = Logger(label: "aurora.bench")
            logger.logLevel = .warning
            let server = RPCServer(configuration: .init(port: 0), router: router, group: group, logger: logger)
            async let running: Void = server.run()
            Self.announce(try await server.listeningAddress.port!)
            try await running
        case "raw", "zstd":
            let channel = try await EchoBaselineServer.start(kind: EchoBaseline(rawValue: self.variant)!, host: "127.0.0.1", port: 0, group: group)
            Self.announce(channel.localAddress!.port!)
            try await channel.closeFuture.get()
        default:
            throw ValidationError("unknown variant \(self.variant)")
        }
    }

    /// The parent reads the port from the first line of our standard output.
    static func announce(_ port: Int) {
        FileHandle.standardOutput.write(Data("\(port)\n".utf8))
    }
}

/// `aurora-bench compression`: body sizes and speed with and without the protocol dictionary.
struct Compression: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Dictionary vs plain zstd on representative messages.")

    func run() async throws {
        let dictionary = BuiltinDictionaries.all.first!
        let plain = ZstdCompressor()
        let withDictionary = ZstdCompressor(dictionary: dictionary)
        let samples: [(String, [UInt8])] = [
            ("200-byte echo request", try { var r = Aurora_Diag_V1_EchoRequest(); r.payload = Data(SamplePayload.make(bytes: 200)); return try r.serializedBytes() }()),
            ("status error", try { var s = Aurora_Wire_V1_Status(); s.code = 8; s.message = "rate limit exceeded: retry after the given delay"; s.retryAfterMs = 1500; return try s.serializedBytes() }()),
            ("64 KiB CSV chunk", Array(String(repeating: "17,12.50,3,Oslo,2024-05-01T10:00:00,\"quoted, text\"\n", count: 1200).utf8.prefix(65536))),
        ]
        print("message                     raw B   plain B  dict B   plain ratio  dict ratio  plain µs  dict µs")
        for (name, bytes) in samples {
            let input = ByteBuffer(bytes: bytes)
            let p = try plain.compress(input, level: 1, useDictionary: false)
            let d = try withDictionary.compress(input, level: 1, useDictionary: true)
            let clock = ContinuousClock()
            let rounds = 20_000
            let plainTime = try clock.measure { for _ in 0..<rounds { _ = try plain.compress(input, level: 1, useDictionary: false) } }
            let dictTime = try clock.measure { for _ in 0..<rounds { _ = try withDictionary.compress(input, level: 1, useDictionary: true) } }
            print(
                String(
                    format: "%-26@ %6d %8d %7d %10.2fx %10.2fx %9.2f %8.2f", name as NSString, bytes.count, p.readableBytes,
                    d.readableBytes, Double(bytes.count) / Double(p.readableBytes), Double(bytes.count) / Double(d.readableBytes),
                    plainTime / .microseconds(1) / Double(rounds), dictTime / .microseconds(1) / Double(rounds)))
        }
    }
}

/// `aurora-bench smoke FILE`: starts an RPC server on loopback in this process and drives every
/// call shape through it with the file's bytes, checking what comes back.
struct Smoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Drive every call shape through a loopback RPC server.")

    @Argument(help: "A file to upload in chunks.")
    var file: String

    func run() async throws {
        var router = Router()
        Diagnostics.register(into: &router)
        var logger = Logger(label: "aurora.smoke")
        logger.logLevel = .warning
        let server = RPCServer(configuration: .init(port: 0), router: router, logger: logger)
        let serving = Task { try await server.run() }
        defer { serving.cancel() }
        let port = try await server.listeningAddress.port!
        let client = RPCClient(host: "127.0.0.1", port: port)
        defer { Task { await client.shutdown() } }
        print("RPC server listening on 127.0.0.1:\(port)")

        let clock = ContinuousClock()
        var echo = Aurora_Diag_V1_EchoRequest()
        echo.payload = Data("hello, aurora".utf8)
        let start = clock.now
        let reply = try await client.unary(Diagnostics.echo, echo, options: CallOptions(timeout: .seconds(5)))
        guard reply.payload == echo.payload else { throw ValidationError("echo came back different") }
        print("unary echo:           ok (\(clock.now - start))")

        let bytes = try Data(contentsOf: URL(fileURLWithPath: self.file))
        var expected = FNV1a64()
        expected.update(bytes)
        let summary = try await client.clientStreaming(Diagnostics.upload) { writer in
            var offset = 0
            while offset < bytes.count {
                var chunk = Aurora_Diag_V1_Chunk()
                chunk.data = bytes.subdata(in: offset..<min(offset + 4096, bytes.count))
                try await writer.send(chunk)
                offset += 4096
            }
        }
        guard summary.bytes == UInt64(bytes.count), summary.checksum == expected.value else {
            throw ValidationError("upload summary does not match the file")
        }
        print("client-streaming:     uploaded \(summary.bytes) bytes of \(self.file) in \(summary.messages) chunks, checksum ok")

        var request = Aurora_Diag_V1_DownloadRequest()
        request.messages = 100
        request.messageBytes = 1024
        let received = try await client.serverStreaming(Diagnostics.download, request) { responses in
            var count: UInt64 = 0
            for try await chunk in responses {
                guard chunk.data == Diagnostics.pattern(index: count, count: 1024) else { throw ValidationError("download corrupted") }
                count += 1
            }
            return count
        }
        print("server-streaming:     received \(received) messages, contents ok")

        let refused = await { () async -> String in
            do {
                _ = try await client.unary(method: "aurora.nope.v1.Nope/Nothing", request: [], options: .default)
                return "unexpectedly succeeded"
            } catch let error as RPCError {
                return "\(error.code): \(error.message)"
            } catch {
                return "\(error)"
            }
        }()
        print("unknown method:       \(refused)")
        await client.shutdown()
        serving.cancel()
    }
}
