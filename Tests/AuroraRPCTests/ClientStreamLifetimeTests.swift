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
