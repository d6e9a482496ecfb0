import AuroraGateway
import AuroraParserService
import AuroraProtocol
import AuroraRPC
import Foundation
import SwiftProtobuf
import Testing

/// Issue 19, finding 2: uploads that are opened and abandoned must not hold what other users need.
enum AbandonedUploads {
    /// Opens `count` Profile uploads on `connection`, each with its options and 8 bytes, never ended.
    static func openProfiles(_ count: Int, on connection: RPCConnection, user: String) async throws {
        var head = Aurora_Profile_V1_UploadChunk()
        head.options = Aurora_Profile_V1_ReadOptions()
        var chunk = Aurora_Profile_V1_UploadChunk()
        chunk.data = Data("a,b\n1,2\n".utf8)
        for _ in 0..<count {
            let handle = try await connection.openStream(
                method: ParserAPI.profile.name, options: CallOptions(timeout: .seconds(600), metadata: [MetadataKeys.user: user]),
                first: try head.serializedBytes() as [UInt8], endAfterFirst: false)
            // An upload refused at once (over a cap) fails here: that is fine for an attacker.
            try? await handle.send(try chunk.serializedBytes() as [UInt8])
        }
    }

    /// Opens `count` Analyze uploads on `connection`: the start message, 8 bytes, never ended.
    static func openAnalyses(_ count: Int, on connection: RPCConnection) async throws {
        var start = Aurora_Gateway_V1_AnalyzeUpload()
        start.start = Aurora_Gateway_V1_AnalyzeStart()
        var chunk = Aurora_Gateway_V1_AnalyzeUpload()
        chunk.data = Data("a,b\n1,2\n".utf8)
        for _ in 0..<count {
            let handle = try await connection.openStream(
                method: GatewayAPI.analyze.name, options: CallOptions(timeout: .seconds(600)), first: try start.serializedBytes() as [UInt8],
                endAfterFirst: false)
            try? await handle.send(try chunk.serializedBytes() as [UInt8])
        }
    }

    static func waitUntil(_ limit: Duration, _ condition: () throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try condition()
    }

    /// Open file descriptors of a process.
    static func descriptors(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// Sockets on local `port` in CLOSE-WAIT: the peer closed and the server never did.
    static func closeWaitSockets(port: Int) -> Int {
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
}

@Suite("parser-service: abandoned uploads free their places")
struct AbandonedProfileUploadTests {
    static let tiny = Array("x,y\n1,2\n3,4\n".utf8)

    /// 100 uploads opened and abandoned by closing the connection: another user's upload succeeds
    /// within a second. It used to wait forever behind the four profiling slots they held.
    @Test func abandonedUploadsAreReleasedWhenTheirConnectionCloses() async throws {
        var configuration = ParserService.Configuration()
        configuration.uploads = .init(total: 100, perUser: 100)
        try await withParserService(configuration: configuration) { port in
            var client = ClientConfiguration()
            client.credential = internalSecret
            let attacker = try await RPCConnection.connect(host: "127.0.0.1", port: port, configuration: client)
            try await AbandonedUploads.openProfiles(100, on: attacker, user: "attacker")
            await attacker.close()
            let started = ContinuousClock.now
            var profiled = false
            while !profiled && ContinuousClock.now - started < .seconds(1) {
                let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port, configuration: client)
                profiled = (try? await connection.clientStreaming(
                    ParserAPI.profile, options: CallOptions(timeout: .milliseconds(500), metadata: [MetadataKeys.user: "someone-else"])
                ) { writer in
                    var chunk = Aurora_Profile_V1_UploadChunk()
                    chunk.data = Data(Self.tiny)
                    try await writer.send(chunk)
                }) != nil
                await connection.close()
            }
            #expect(profiled, "no upload of another user succeeded within 1 s of the attacker leaving")
        }
    }

    /// While one user's uploads stall (connection still open), that user gets no more than the
    /// per-user cap, and everybody else's uploads run: a stalled upload holds no profiling slot.
    @Test func stalledUploadsOfOneUserNeitherQueueNorBlockOthers() async throws {
        try await withParserService { port in
            var client = ClientConfiguration()
            client.credential = internalSecret
            let attacker = try await RPCConnection.connect(host: "127.0.0.1", port: port, configuration: client)
            try await AbandonedUploads.openProfiles(30, on: attacker, user: "attacker")
            let refused = await #expect(throws: RPCError.self) {
                _ = try await upload(Self.tiny, port: port, user: "attacker")
            }
            #expect(refused?.code == .resourceExhausted && refused?.message.contains("per user") == true, "\(String(describing: refused))")
            for user in ["ann", "bob", "cid", "dan", "eve", "fay"] {
                let profile = try await withTimeout(.seconds(2)) { try await upload(Self.tiny, port: port, user: user) }
                #expect(profile.rows == 2)
            }
            await attacker.close()
        }
    }
}

/// Runs `body`, failing with a timeout instead of hanging.
func withTimeout<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw RPCError(.deadlineExceeded, "timed out after \(limit)")
        }
        let result = try await group.next()!
        group.cancelAll()
        return result
    }
}

extension LearningServiceTests.EndToEndTests {
    /// Finding 2 exactly, against the three daemons: 30 Analyze calls opened on one gateway
    /// connection and abandoned, and 100 Profile uploads abandoned at the parser-service. Another
    /// user's Analyze then succeeds within 1 s, descriptors return to their baseline, and no
    /// socket is left in CLOSE-WAIT.
    @Test func abandonedUploadsFreezeNobodysAnalyze() async throws {
        let system = try await LocalSystem.start()
        defer { system.stop() }
        let path = try self.writeFile("a,b\n1,2\n3,4\n", in: system, name: "tiny.csv")
        let other = try await system.token(user: "e2e-\(UUID().uuidString)")
        _ = try self.analyzeJSON(system, path, token: other)  // warm: the gateway's upstream connections are open
        let gatewayPID = system.processes["gateway"]!.processIdentifier
        let parserPID = system.processes["parser-service"]!.processIdentifier
        let baseline = (AbandonedUploads.descriptors(gatewayPID), AbandonedUploads.descriptors(parserPID))

        var configuration = ClientConfiguration()
        configuration.credential = try await system.token(user: "attacker-\(UUID().uuidString)")
        let attacker = try await RPCConnection.connect(host: "127.0.0.1", port: system.ports["gateway"]!, configuration: configuration)
        try await AbandonedUploads.openAnalyses(30, on: attacker)
        configuration.credential = try String(contentsOf: system.secretFile, encoding: .utf8)
        let direct = try await RPCConnection.connect(host: "127.0.0.1", port: system.ports["parser-service"]!, configuration: configuration)
        try await AbandonedUploads.openProfiles(100, on: direct, user: "attacker")
        await attacker.close()
        await direct.close()

        let client = system.client(token: other)
        let started = ContinuousClock.now
        var start = Aurora_Gateway_V1_AnalyzeUpload()
        start.start = Aurora_Gateway_V1_AnalyzeStart()
        let response = try await client.clientStreaming(GatewayAPI.analyze, options: CallOptions(timeout: .seconds(1))) { writer in
            try await writer.send(start)
            var chunk = Aurora_Gateway_V1_AnalyzeUpload()
            chunk.data = Data("a,b\n1,2\n3,4\n".utf8)
            try await writer.send(chunk)
        }
        #expect(response.profile.rows == 2 && ContinuousClock.now - started < .seconds(1))
        await client.shutdown()

        let settled = try await AbandonedUploads.waitUntil(.seconds(5)) {
            AbandonedUploads.descriptors(gatewayPID) <= baseline.0 && AbandonedUploads.descriptors(parserPID) <= baseline.1
        }
        #expect(
            settled,
            "descriptors: gateway \(AbandonedUploads.descriptors(gatewayPID)) (baseline \(baseline.0)), parser-service \(AbandonedUploads.descriptors(parserPID)) (baseline \(baseline.1))")
        for name in ["gateway", "parser-service"] {
            let port = system.ports[name]!
            #expect(try await AbandonedUploads.waitUntil(.seconds(2)) { AbandonedUploads.closeWaitSockets(port: port) == 0 }, "\(name) left sockets in CLOSE-WAIT")
        }
    }
}
