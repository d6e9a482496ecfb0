import AuroraDiagnostics
import AuroraProtocol
import AuroraRPC
import AuroraWire
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing

/// Runs `server` in a ServiceGroup on an ephemeral port for the duration of `body`, then shuts it
/// down gracefully and waits for it to stop.
func withServer<T: Sendable>(
    router: Router? = nil,
    connection: ServerConnectionConfiguration = .init(),
    authenticator: any Authenticator = AllowAllAuthenticator(),
    diagnostics: Diagnostics.Options = .init(),
    _ body: @Sendable (Int, ServiceGroup) async throws -> T
) async throws -> T {
    var routes = router ?? Router()
    if router == nil { Diagnostics.register(into: &routes, options: diagnostics) }
    let server = RPCServer(
        configuration: .init(port: 0, connection: connection), router: routes, authenticator: authenticator,
        logger: { var logger = Logger(label: "test.server"); logger.logLevel = ProcessInfo.processInfo.environment["AURORA_TEST_LOG"] == "debug" ? .debug : .info; return logger }())
    let group = ServiceGroup(configuration: .init(services: [.init(service: server)], logger: Logger(label: "test.group")))
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        let port = try await server.listeningAddress.port!
        let result: Result<T, any Error>
        do {
            result = .success(try await body(port, group))
        } catch {
            result = .failure(error)
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return try result.get()
    }
}

func connect(_ port: Int, configure: (inout ClientConfiguration) -> Void = { _ in }) async throws -> RPCConnection {
    var configuration = ClientConfiguration()
    configure(&configuration)
    return try await RPCConnection.connect(host: "127.0.0.1", port: port, configuration: configuration)
}

func echoRequest(_ text: String, delayMs: UInt32 = 0) -> Aurora_Diag_V1_EchoRequest {
    var request = Aurora_Diag_V1_EchoRequest()
    request.payload = Data(text.utf8)
    request.delayMs = delayMs
    return request
}

/// Fails the test if `body` takes longer than `limit` (a hang is a bug, not a slow machine).
func withTimeout<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimeoutError(limit: limit)
        }
        let result = try await group.next()!
        group.cancelAll()
        return result
    }
}

struct TimeoutError: Error, CustomStringConvertible {
    let limit: Duration
    var description: String { "timed out after \(limit)" }
}

/// Resident set size of this process, from /proc.
func residentBytes() -> Int {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = statm.split(separator: " ")
    return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// A counter shared between test tasks.
final class Counter: Sendable {
    private let box = NIOLockedValueBoxShim()
    func add(_ n: Int = 1) -> Int { box.add(n) }
    var value: Int { box.add(0) }
}

final class NIOLockedValueBoxShim: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func add(_ n: Int) -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += n
        return value
    }
}
