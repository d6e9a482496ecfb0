import AuroraProtocol
@testable import AuroraRPC
import Foundation
import Testing

/// A finished call's stream is freed: the gateway opens one per Analyze, for as long as it runs.
@Suite("Client streams are freed when their call ends")
struct ClientStreamLifetimeTests {
    @Test func aFinishedUploadsStreamIsFreed() async throws {
        try await withServer { port, _ in
            let client = try await connect(port)
            weak var released: ClientStream?
            do {
                let handle = try await client.openStream(method: Diagnostics.upload.name, options: .default, first: nil, endAfterFirst: false)
                released = handle.stream
                var chunk = Aurora_Diag_V1_Chunk()
                chunk.data = Data([1, 2, 3])
                try await handle.send(try chunk.serializedBytes())
                handle.end()
                #expect(try await handle.receive() != nil)
                #expect(try await handle.receive() == nil)
            }
            // The connection drops the stream on the event loop right after the final status.
            for _ in 0..<100 where released != nil { try await Task.sleep(for: .milliseconds(10)) }
            #expect(released == nil, "the stream of a finished call is still alive: it keeps itself through its inbox")
            await client.close()
        }
    }
}

/// Closed connections leave nothing behind on either side (issue 19, finding 4: the gateway grew
/// by about 60 KiB per connection, its connection handlers kept alive by their own context).
@Suite("Closed connections are freed")
struct ConnectionLifetimeTests {
    @Test func manyShortConnectionsDoNotGrowMemory() async throws {
        try await withServer { port, _ in
            func churn(_ count: Int) async throws {
                for _ in 0..<count {
                    let client = try await connect(port)
                    _ = try await client.unary(Diagnostics.echo, echoRequest("hi"))
                    await client.close()
                }
            }
            try await churn(200)  // warm: pools, caches, allocator arenas
            trimMemory()
            let before = residentBytes()
            try await churn(2000)
            try await Task.sleep(for: .milliseconds(200))
            trimMemory()
            let grown = residentBytes() - before
            // Leaking both ends of each connection came to over 100 MiB here; what remains is noise.
            #expect(grown < 40 << 20, "memory grew by \(grown >> 20) MiB over 2,000 closed connections")
        }
    }
}

/// Returns freed memory to the system (glibc), so RSS shows what is still in use.
func trimMemory() {
    typealias Trim = @convention(c) (Int) -> Int32
    if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") {
        _ = unsafeBitCast(symbol, to: Trim.self)(0)
    }
}
