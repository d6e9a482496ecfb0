import ArgumentParser
import AuroraGateway
import AuroraProtocol
import AuroraRPC
import AuroraWire
import Foundation
import SwiftProtobuf
import NIOCore
import NIOPosix

/// `aurora-bench soak`: the attacks of issue 19 interleaved with normal users' traffic against a
/// running system, while each daemon's resident memory and open descriptors are sampled. Once the
/// load ends it waits `--settle` seconds and checks that each daemon came back near its baseline:
/// RSS within `--rss-slack-mib`, descriptors within `--fd-slack`. Exit status 1 otherwise, or when
/// a normal user's call failed.
struct SoakBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak", abstract: "Attacks interleaved with normal traffic; each daemon's RSS and fds against its baseline.")

    @Option(help: "host:port of the gateway.") var gateway = "127.0.0.1:7101"
    @Option(help: "host:port of the parser-service (for uploads sent straight to it).") var parser = "127.0.0.1:7102"
    @Option(help: "The gateway's JSON Web Key Set (tokens are signed with it).") var keysFile: String
    @Option(help: "File holding the internal service credential.") var secretFile: String
    @Option(help: "Daemons to sample, as name=pid, comma-separated.") var pids: String
    @Option(help: "Seconds of load.") var seconds = 600.0
    @Option(help: "Seconds after the load before the final sample.") var settle = 10.0
    @Option(help: "Normal users, each analyzing, correcting and reading rules in a loop.") var users = 4
    @Option(help: "Allowed RSS growth over the baseline after settling, in MiB.") var rssSlackMib = 16
    @Option(help: "Allowed descriptors over the baseline after settling.") var fdSlack = 4
    @Option(help: "Attacks to run in turn, comma-separated (default: all of \(Attacks.Kind.allCases.map(\.rawValue).joined(separator: ", "))).")
    var attacks: String?

    struct Sample {
        var rss: Int
        var fds: Int
    }

    func run() async throws {
        let daemons = try self.pids.split(separator: ",").map { entry -> (String, Int32) in
            let parts = entry.split(separator: "=")
            guard parts.count == 2, let pid = Int32(parts[1]) else { throw ValidationError("--pids must be name=pid,...") }
            return (String(parts[0]), pid)
        }
        let keys = try await KeySet.load(path: self.keysFile)
        let secret = try String(contentsOfFile: self.secretFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let gateway = try Self.address(self.gateway)
        let parser = try Self.address(self.parser)
        let attacks = Attacks(gateway: gateway, parser: parser, keys: keys, secret: secret)
        let kinds = try self.attacks.map { list in
            try list.split(separator: ",").map { name in
                guard let kind = Attacks.Kind(rawValue: String(name)) else { throw ValidationError("unknown attack '\(name)'") }
                return kind
            }
        } ?? Attacks.Kind.allCases

        // Baseline: after one round of normal traffic, so pools and caches exist.
        let normal = NormalTraffic(gateway: gateway, keys: keys)
        try await normal.round(user: "soak-warmup")
        try await Task.sleep(for: .seconds(2))
        let baseline = Dictionary(uniqueKeysWithValues: daemons.map { ($0.0, Self.sample($0.1)) })
        var peak = baseline
        print("soak: \(Int(self.seconds)) s of load, \(self.users) normal users, attacks in turn; baseline taken")

        let deadline = ContinuousClock.now + .seconds(self.seconds)
        let usersDone = Counter()
        let usersFailed = Counter()
        let failures = FailureLog()
        let attackCounts = AttackCounts()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<self.users {
                group.addTask {
                    while ContinuousClock.now < deadline {
                        do {
                            do {
                                try await normal.round(user: "soak-user-\(index)")
                            } catch let error as RPCError where error.code == .resourceExhausted {
                                // A cap reached by the attackers: a client waits as told and tries again.
                                try await Task.sleep(for: error.retryAfter ?? .seconds(1))
                                try await normal.round(user: "soak-user-\(index)")
                            }
                            usersDone.add(1)
                        } catch {
                            usersFailed.add(1)
                            failures.record("normal user \(index): \(error)")
                        }
                    }
                }
            }
            group.addTask {
                var turn = 0
                while ContinuousClock.now < deadline {
                    let attack = kinds[turn % kinds.count]
                    turn += 1
                    do {
                        try await attacks.run(attack)
                    } catch {
                        failures.record("attack \(attack) could not be carried out: \(error)")
                    }
                    attackCounts.add(attack)
                }
            }
            while ContinuousClock.now < deadline {
                try await Task.sleep(for: .seconds(1))
                for (name, pid) in daemons {
                    let now = Self.sample(pid)
                    peak[name] = Sample(rss: max(peak[name]!.rss, now.rss), fds: max(peak[name]!.fds, now.fds))
                }
            }
            try await group.waitForAll()
        }
        print("load ended: \(usersDone.value) normal rounds ok, \(usersFailed.value) failed; attacks: \(attackCounts.summary)")
        try await Task.sleep(for: .seconds(self.settle))
        var healthy = usersFailed.value == 0
        print("")
        print("daemon             RSS MiB: base   peak   after (+delta)    fds: base  peak  after (+delta)")
        for (name, pid) in daemons {
            let after = Self.sample(pid)
            let base = baseline[name]!
            let rssDelta = Double(after.rss - base.rss) / 1_048_576
            let ok = after.rss > 0 && rssDelta <= Double(self.rssSlackMib) && after.fds - base.fds <= self.fdSlack
            healthy = healthy && ok
            print(
                String(
                    format: "%-18@ %12.1f %6.1f %7.1f (%+6.1f)   %10d %5d %6d (%+d)  %@", name as NSString,
                    Double(base.rss) / 1_048_576, Double(peak[name]!.rss) / 1_048_576, Double(after.rss) / 1_048_576, rssDelta,
                    base.fds, peak[name]!.fds, after.fds, after.fds - base.fds, (after.rss == 0 ? "GONE" : ok ? "ok" : "OVER") as NSString))
        }
        for line in failures.lines.prefix(10) { print("  failure: \(line)") }
        print(healthy ? "soak: every daemon back within bounds" : "soak: FAILED")
        if !healthy { throw ExitCode(1) }
    }

    static func address(_ text: String) throws -> (host: String, port: Int) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw ValidationError("'\(text)' must be host:port") }
        return (String(parts[0]), port)
    }

    /// Resident memory and open descriptors of a process (zeros once it is gone).
    static func sample(_ pid: Int32) -> Sample {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let rssKiB = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? 0
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
        return Sample(rss: rssKiB * 1024, fds: fds)
    }
}

/// What a normal user does: analyze a small file, correct a column, read rules and stats.
struct NormalTraffic: Sendable {
    let gateway: (host: String, port: Int)
    let keys: KeySet

    func round(user: String) async throws {
        let token = try await TokenIssuer.issue(keys: self.keys, policy: TokenPolicy(), user: user, scopes: ["analyze", "feedback"], ttl: 3600)
        var configuration = ClientConfiguration()
        configuration.credential = token
        let connection = try await RPCConnection.connect(host: self.gateway.host, port: self.gateway.port, configuration: configuration)
        defer { Task { await connection.close() } }
        var csv = "id,amount,segment,score\n"
        for row in 0..<200 {
            csv += "r\(row),\(Double(row % 37) * 12.5 + 1),\(["a", "b", "c"][row % 3]),\(row % 11)\n"
        }
        let response = try await connection.clientStreaming(GatewayAPI.analyze, options: CallOptions(timeout: .seconds(30))) { writer in
            var start = Aurora_Gateway_V1_AnalyzeUpload()
            start.start = Aurora_Gateway_V1_AnalyzeStart()
            try await writer.send(start)
            var chunk = Aurora_Gateway_V1_AnalyzeUpload()
            chunk.data = Data(csv.utf8)
            try await writer.send(chunk)
        }
        var feedback = Aurora_Gateway_V1_FeedbackRequest()
        feedback.analysisID = response.analysisID
        var verdict = Aurora_Gateway_V1_ColumnVerdict()
        verdict.column = "amount"
        verdict.action = "log_transform"
        feedback.verdicts = [verdict]
        _ = try await connection.unary(GatewayAPI.feedback, feedback, options: CallOptions(timeout: .seconds(30)))
        _ = try await connection.unary(GatewayAPI.rules, Aurora_Learning_V1_ListRulesRequest(), options: CallOptions(timeout: .seconds(30)))
        _ = try await connection.unary(GatewayAPI.stats, Aurora_Learning_V1_StatsRequest(), options: CallOptions(timeout: .seconds(30)))
        // A normal user's pace, well within the default rate limit.
        try await Task.sleep(for: .milliseconds(200))
    }
}

/// The attacks of issue 19, each a short burst.
struct Attacks: Sendable {
    enum Kind: String, CaseIterable, Sendable {
        case abandonedAnalyses, abandonedProfiles, largeFramesBeforeHandshake, hostileStatistics, badTokens, manyUsers,
            wideZstdWindow, largeUpload
    }

    let gateway: (host: String, port: Int)
    let parser: (host: String, port: Int)
    let keys: KeySet
    let secret: String

    func token(_ user: String) async throws -> String {
        try await TokenIssuer.issue(keys: self.keys, policy: TokenPolicy(), user: user, scopes: ["analyze", "feedback"], ttl: 3600)
    }

    func connect(_ address: (host: String, port: Int), credential: String) async throws -> RPCConnection {
        var configuration = ClientConfiguration()
        configuration.credential = credential
        return try await RPCConnection.connect(host: address.host, port: address.port, configuration: configuration)
    }

    func run(_ kind: Kind) async throws {
        switch kind {
        case .abandonedAnalyses:
            // 30 Analyze calls on one connection: start, 8 bytes, never ended; then the socket closes.
            let connection = try await self.connect(self.gateway, credential: try await self.token("attacker-\(UUID().uuidString.prefix(8))"))
            var start = Aurora_Gateway_V1_AnalyzeUpload()
            start.start = Aurora_Gateway_V1_AnalyzeStart()
            var chunk = Aurora_Gateway_V1_AnalyzeUpload()
            chunk.data = Data("a,b\n1,2\n".utf8)
            for _ in 0..<30 {
                let handle = try await connection.openStream(
                    method: GatewayAPI.analyze.name, options: CallOptions(timeout: .seconds(600)), first: try start.serializedBytes() as [UInt8],
                    endAfterFirst: false)
                try? await handle.send(try chunk.serializedBytes() as [UInt8])
            }
            await connection.close()
        case .abandonedProfiles:
            let connection = try await self.connect(self.parser, credential: self.secret)
            var head = Aurora_Profile_V1_UploadChunk()
            head.options = Aurora_Profile_V1_ReadOptions()
            var chunk = Aurora_Profile_V1_UploadChunk()
            chunk.data = Data("a,b\n1,2\n".utf8)
            for index in 0..<100 {
                let handle = try await connection.openStream(
                    method: ParserAPI.profile.name, options: CallOptions(timeout: .seconds(600), metadata: [MetadataKeys.user: "attacker-\(index % 7)"]),
                    first: try head.serializedBytes() as [UInt8], endAfterFirst: false)
                try? await handle.send(try chunk.serializedBytes() as [UInt8])
            }
            await connection.close()
        case .largeFramesBeforeHandshake:
            // 20 peers each announce a 4 MiB frame and send 1 MiB of it before any handshake.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        var bytes = ByteBuffer()
                        bytes.writeInteger(UInt32(4 << 20), endianness: .big)
                        bytes.writeBytes([1, FrameKind.hello.rawValue, 0, 0, 0, 0, 0, 0])
                        bytes.writeRepeatingByte(0x41, count: 1 << 20)
                        try await RawPeer.send([bytes], to: self.gateway, linger: .milliseconds(500))
                    }
                }
                try await group.waitForAll()
            }
        case .hostileStatistics:
            // Finding 1 and 8: counts at 2^64-1, NaN and infinite moments, impossible ratios.
            let connection = try await self.connect(self.gateway, credential: try await self.token("attacker-stats"))
            var stats = Aurora_Profile_V1_ColumnStatistics()
            stats.type = .integer
            stats.count = UInt64.max
            stats.missing = UInt64.max - 1
            stats.distinctEstimate = UInt64.max
            var odd = Aurora_Profile_V1_ColumnStatistics()
            odd.type = .float
            odd.count = 10
            odd.missing = 20
            odd.numeric.skewness = .nan
            odd.numeric.kurtosis = .infinity
            odd.numeric.outlierRatio = 1.5
            odd.numeric.max = 1e308
            odd.numeric.min = -1e308
            var item = Aurora_Learning_V1_FeedbackItem()
            item.feedbackID = UUID().uuidString
            item.acceptedAction = "keep"
            var feedback = Aurora_Gateway_V1_FeedbackRequest()
            for column in [stats, odd] {
                item.stats = column
                feedback.items = [item]
                _ = try? await connection.unary(GatewayAPI.feedback, feedback, options: CallOptions(timeout: .seconds(10)))
                var recommend = Aurora_Learning_V1_RecommendRequest()
                recommend.batch.columns = [column]
                _ = try? await connection.unary(GatewayAPI.recommend, recommend, options: CallOptions(timeout: .seconds(10)))
            }
            await connection.close()
        case .badTokens:
            for token in ["", "x.y.z", String(repeating: "A", count: 9000), "eyJhbGciOiJub25lIn0.e30."] {
                var configuration = ClientConfiguration()
                configuration.credential = token
                _ = try? await RPCConnection.connect(host: self.gateway.host, port: self.gateway.port, configuration: configuration)
            }
        case .manyUsers:
            // Distinct users each making one call: rate-limit and upload-limit entries.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for batch in 0..<10 {
                    group.addTask {
                        for index in 0..<50 {
                            let connection = try await self.connect(
                                self.gateway, credential: try await self.token("passer-by-\(UUID().uuidString.prefix(6))-\(batch)-\(index)"))
                            var recommend = Aurora_Learning_V1_RecommendRequest()
                            var column = Aurora_Profile_V1_ColumnStatistics()
                            column.type = .float
                            column.count = 100
                            column.distinctEstimate = 50
                            recommend.batch.columns = [column]
                            _ = try? await connection.unary(GatewayAPI.recommend, recommend, options: CallOptions(timeout: .seconds(10)))
                            await connection.close()
                        }
                    }
                }
                try await group.waitForAll()
            }
        case .wideZstdWindow:
            // Finding 6: after a real handshake, a body whose zstd frame declares window log 31.
            var hello = Aurora_Wire_V1_Hello()
            hello.minVersion = 1
            hello.maxVersion = 1
            hello.initialStreamCredit = 16
            hello.clientName = "soak"
            hello.credential = try await self.token("attacker-window")
            let helloFrame = FrameEncoder().encode(
                try BodyCodec(limits: .default).frame(.hello, streamID: .connection, message: hello, allocator: ByteBufferAllocator()))
            // One raw block of 300 bytes in a frame declaring a 2 GiB window (window log 31).
            var body: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0x40, UInt8((31 - 10) << 3), 44, 0]
            let block = 300 << 3 | 1
            body += [UInt8(block & 0xFF), UInt8(block >> 8 & 0xFF), UInt8(block >> 16)] + [UInt8](repeating: 0x41, count: 300)
            let ping = FrameEncoder().encode(Frame(kind: .ping, streamID: .connection, body: ByteBuffer(bytes: body)))
            try await RawPeer.send([helloFrame, ping], to: self.gateway, linger: .milliseconds(300))
        case .largeUpload:
            // A legitimate but large upload in maximum-size messages: a memory spike that must go away.
            let connection = try await self.connect(self.gateway, credential: try await self.token("heavy-\(UUID().uuidString.prefix(4))"))
            let row = Array("12345,67.25,some text here,2024-01-01\n".utf8)
            let chunk = Data((0..<((4 << 20) - 64) / row.count).flatMap { _ in row })
            _ = try? await connection.clientStreaming(GatewayAPI.analyze, options: CallOptions(timeout: .seconds(120))) { writer in
                var start = Aurora_Gateway_V1_AnalyzeUpload()
                start.start = Aurora_Gateway_V1_AnalyzeStart()
                try await writer.send(start)
                for _ in 0..<16 {
                    var message = Aurora_Gateway_V1_AnalyzeUpload()
                    message.data = chunk
                    try await writer.send(message)
                }
            }
            await connection.close()
        }
    }
}

/// A peer that writes bytes, lingering after each write, then closes: for frames no real client
/// would send. What the server answers is not read.
enum RawPeer {
    static func send(_ writes: [ByteBuffer], to address: (host: String, port: Int), linger: Duration) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in channel.eventLoop.makeSucceededVoidFuture() }
            .connect(host: address.host, port: address.port).get()
        for bytes in writes {
            try? await channel.writeAndFlush(bytes).get()
            try await Task.sleep(for: linger)
        }
        try? await channel.close().get()
    }
}

/// Failures worth printing, the first few of each.
final class FailureLog: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [String] = []
    func record(_ line: String) { self.lock.withLock { if self.recorded.count < 100 { self.recorded.append(line) } } }
    var lines: [String] { self.lock.withLock { self.recorded } }
}

/// How often each attack ran.
final class AttackCounts: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    func add(_ kind: Attacks.Kind) { self.lock.withLock { self.counts[kind.rawValue, default: 0] += 1 } }
    var summary: String { self.lock.withLock { self.counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") } }
}
