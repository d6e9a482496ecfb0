import AuroraParser
import AuroraParserService
import AuroraProtocol
import AuroraRPC
import Foundation
import Logging
import ServiceLifecycle
import Testing

let internalSecret = String(repeating: "s3cret-", count: 6)

/// Runs a parser-service on an ephemeral loopback port for the duration of `body`.
func withParserService<T: Sendable>(
    configuration: ParserService.Configuration = .init(), _ body: @Sendable (Int) async throws -> T
) async throws -> T {
    var router = Router()
    ParserService(configuration: configuration).register(into: &router)
    return try await withInternalServer(router: router, logger: Logger(label: "test.parser-service"), body)
}

/// Serves `router` to internal callers (the shared secret) on an ephemeral loopback port for the
/// duration of `body`, then drains.
func withInternalServer<T: Sendable>(router: Router, logger: Logger, _ body: @Sendable (Int) async throws -> T) async throws -> T {
    let server = RPCServer(
        configuration: .init(port: 0), router: router, authenticator: SharedSecretAuthenticator(secret: internalSecret), logger: logger)
    let group = ServiceGroup(configuration: .init(services: [.init(service: server)], logger: Logger(label: "test")))
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        let port = try await server.listeningAddress.port!
        let result: Result<T, any Error>
        do { result = .success(try await body(port)) } catch { result = .failure(error) }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return try result.get()
    }
}

func upload(
    _ bytes: [UInt8], port: Int, options: Aurora_Profile_V1_ReadOptions? = nil, user: String? = "user-1",
    credential: String = internalSecret, chunkSize: Int = 64 << 10
) async throws -> Aurora_Profile_V1_DatasetProfile {
    var configuration = ClientConfiguration()
    configuration.credential = credential
    let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port, configuration: configuration)
    let metadata = user.map { [MetadataKeys.user: $0] } ?? [:]
    do {
        let profile = try await send(bytes, on: connection, options: options, metadata: metadata, chunkSize: chunkSize)
        await connection.close()
        return profile
    } catch {
        await connection.close()
        throw error
    }
}

func send(
    _ bytes: [UInt8], on connection: RPCConnection, options: Aurora_Profile_V1_ReadOptions?, metadata: [String: String], chunkSize: Int
) async throws -> Aurora_Profile_V1_DatasetProfile {
    try await connection.clientStreaming(ParserAPI.profile, options: CallOptions(timeout: .seconds(60), metadata: metadata)) { writer in
        if let options {
            var chunk = Aurora_Profile_V1_UploadChunk()
            chunk.options = options
            try await writer.send(chunk)
        }
        var offset = 0
        while offset < bytes.count {
            var chunk = Aurora_Profile_V1_UploadChunk()
            chunk.data = Data(bytes[offset..<min(offset + chunkSize, bytes.count)])
            try await writer.send(chunk)
            offset += chunkSize
        }
    }
}

let sampleFile: [UInt8] = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return [UInt8](FileManager.default.contents(atPath: root.appendingPathComponent("Deploy/samples/customers.csv").path)!)
}()

@Suite("parser-service over real TCP")
struct ParserServiceTests {
    @Test func uploadedFileIsProfiledLikeLocally() async throws {
        let local = try Profiler.profile(path: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Deploy/samples/customers.csv").path)
        try await withParserService { port in
            for chunkSize in [1000, 1 << 20] {
                let remote = try await upload(sampleFile, port: port, chunkSize: chunkSize)
                #expect(remote == local.message)
                #expect(remote.rows == 400)
                #expect(remote.columns.map(\.stats.type).contains(.date))
            }
        }
    }

    @Test func readOptionsApply() async throws {
        let text = Array("title line\nx;y\n1;2,5\n3;4,5\n".utf8)
        try await withParserService { port in
            var options = Aurora_Profile_V1_ReadOptions()
            options.delimiter = ";"
            options.skipLines = 1
            options.ragged = "fail"
            let profile = try await upload(text, port: port, options: options)
            #expect(profile.dialect.delimiter == ";")
            #expect(profile.dialect.skippedLines == 1)
            #expect(profile.rows == 2)
            #expect(profile.columns[1].stats.numeric.decimalComma)
            options.encoding = "EBCDIC"
            await #expect(throws: RPCError.self) { _ = try await upload(text, port: port, options: options) }
        }
    }

    @Test func refusalsSayWhy() async throws {
        var configuration = ParserService.Configuration()
        configuration.maxUploadBytes = 10_000
        try await withParserService(configuration: configuration) { port in
            // No user named: refused.
            do {
                _ = try await upload(sampleFile.prefix(100).map { $0 }, port: port, user: nil)
                Issue.record("a call without a user was accepted")
            } catch let error as RPCError {
                #expect(error.code == .unauthenticated)
            }
            // Wrong internal credential: the connection is refused.
            await #expect(throws: (any Error).self) { _ = try await upload([1, 2, 3], port: port, credential: "wrong") }
            // Too large.
            do {
                _ = try await upload(sampleFile, port: port)
                Issue.record("an upload over the limit was accepted")
            } catch let error as RPCError {
                #expect(error.code == .resourceExhausted)
                #expect(error.message.contains("10000"))
            }
            // A ragged row under policy fail names its line.
            var options = Aurora_Profile_V1_ReadOptions()
            options.ragged = "fail"
            do {
                _ = try await upload(Array("a,b\n1,2\n3\n".utf8), port: port, options: options)
                Issue.record("a ragged row under policy fail was accepted")
            } catch let error as RPCError {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains("line 3"))
            }
            // The service still serves.
            #expect(try await upload(Array("a,b\n1,2\n".utf8), port: port).rows == 1)
        }
    }
}

@Suite("aurora profile: memory stays bounded")
struct BoundedMemoryTests {
    /// A file larger than the memory allowed is profiled within it: the CLI's peak RSS (measured by
    /// the kernel for the child process) stays far below the file's size.
    @Test func fileLargerThanTheMemoryLimit() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [binary, binary.deletingLastPathComponent(), binary.deletingLastPathComponent().deletingLastPathComponent()]
            .map { $0.appendingPathComponent("aurora").path }
        guard let aurora = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            Issue.record("the aurora binary was not built next to the tests (\(candidates))")
            return
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("aurora-large-\(getpid()).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fileBytes = 96 << 20
        let limitBytes = 64 << 20
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = FileHandle(forWritingAtPath: path)!
        handle.write(Data("id,amount,when,city,comment\n".utf8))
        var written = 0
        var row = 0
        while written < fileBytes {
            var block = ""
            for _ in 0..<10_000 {
                row += 1
                block += "\(row),\(Double(row % 9973) / 7),2024-\(String(format: "%02d", row % 12 + 1))-15,city\(row % 50),\"note, \(row % 1000)\"\n"
            }
            handle.write(Data(block.utf8))
            written += block.utf8.count
        }
        try handle.close()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: aurora)
        process.arguments = ["profile", "--json", path]
        process.environment = ["AURORA_REPORT_PEAK_RSS": "1"]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let json = output.fileHandleForReading.readDataToEndOfFile()
        let report = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        // The child's own high-water mark (getrusage on children would count the parent's pages
        // shared before exec).
        let peakKiB = report.split(separator: "\n").first { $0.hasPrefix("peak_rss_kib ") }.flatMap { Int($0.split(separator: " ")[1]) }
        #expect(peakKiB != nil, "no peak RSS report: \(report)")
        let peak = (peakKiB ?? Int.max / 1024) * 1024
        #expect(peak < limitBytes, "peak RSS \(peak >> 20) MiB for a \(fileBytes >> 20) MiB file")
        let profile = try JSONSerialization.jsonObject(with: json) as! [String: Any]
        #expect((profile["file"] as? [String: Any])?["rows"] as? Int == row)
    }
}
