import AuroraProtocol
import AuroraRPC
import Foundation

/// The diagnostics service's handlers (the methods are in AuroraProtocol's `Diagnostics`).
extension Diagnostics {
    public struct Options: Sendable {
        /// Longest `delay_ms` honoured by Echo.
        public var maxEchoDelay: Duration = .seconds(30)
        /// Upper bounds for Download requests.
        public var maxDownloadMessages: UInt64 = 1_000_000
        /// Pause after each upload chunk (tests use it to play a slow receiver).
        public var uploadChunkDelay: Duration = .zero
        /// Called with the number of chunks received so far (tests watch progress with it).
        public var onUploadChunk: (@Sendable (UInt64) -> Void)?

        public init() {}
    }

    /// Registers the three methods.
    public static func register(into router: inout Router, options: Options = .init()) {
        router.unary(echo) { request, _ in
            if request.delayMs > 0 {
                try await Task.sleep(for: min(.milliseconds(Int64(request.delayMs)), options.maxEchoDelay))
            }
            var response = Aurora_Diag_V1_EchoResponse()
            response.payload = request.payload
            return response
        }
        router.clientStreaming(upload) { chunks, _ in
            var summary = Aurora_Diag_V1_UploadSummary()
            var hash = FNV1a64()
            for try await chunk in chunks {
                summary.messages += 1
                summary.bytes += UInt64(chunk.data.count)
                hash.update(chunk.data)
                options.onUploadChunk?(summary.messages)
                if options.uploadChunkDelay > .zero { try await Task.sleep(for: options.uploadChunkDelay) }
            }
            summary.checksum = hash.value
            return summary
        }
        router.serverStreaming(download) { request, writer, _ in
            guard request.messages <= options.maxDownloadMessages else {
                throw RPCError(.invalidArgument, "at most \(options.maxDownloadMessages) messages per download")
            }
            var chunk = Aurora_Diag_V1_Chunk()
            for index in 0..<request.messages {
                chunk.data = Self.pattern(index: index, count: Int(request.messageBytes))
                try await writer.send(chunk)
            }
        }
    }

    /// The bytes Download sends as message `index`: deterministic, so clients can check them.
    public static func pattern(index: UInt64, count: Int) -> Data {
        var data = Data(count: count)
        for position in 0..<count { data[position] = UInt8(truncatingIfNeeded: index &* 31 &+ UInt64(position)) }
        return data
    }
}

/// FNV-1a, 64 bits: a cheap order-sensitive checksum for upload tests.
public struct FNV1a64: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func update(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            self.value ^= UInt64(byte)
            self.value &*= 0x0000_0100_0000_01b3
        }
    }
}
