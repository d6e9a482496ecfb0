import Logging
import NIOConcurrencyHelpers
import NIOCore

extension Router {
    /// Runs one call through its registered handler in this process, without a connection: the
    /// request payloads in (as the client would send them, the last one ending the call), the
    /// response payloads out (those a server would send before an OK status). Errors are the
    /// handler's. For fuzzing a daemon's handlers and for tests; the wire is not involved.
    public func callInProcess(
        method: String, requests: [[UInt8]], principal: Principal, metadata: [String: String] = [:],
        timeout: Duration = .seconds(30), logger: Logger = Logger(label: "aurora.rpc.in-process")
    ) async throws -> [[UInt8]] {
        guard let registered = self.methods[method] else {
            throw RPCError(.unimplemented, "no method named \(method)")
        }
        let inbox = MessageInbox()
        for request in requests { inbox.push(ByteBuffer(bytes: request)) }
        inbox.finish()
        let sender = CollectingSender()
        let context = ServerContext(
            method: method, metadata: metadata, principal: principal, deadline: ContinuousClock.now.advanced(by: timeout),
            peer: "in-process", streamID: 1, connectionLogger: logger)
        let last = try await registered.run(inbox, sender, context)
        return sender.sent + (last.map { [$0] } ?? [])
    }
}

/// Keeps what a handler sends on its stream.
private final class CollectingSender: StreamSender {
    private let payloads = NIOLockedValueBox<[[UInt8]]>([])

    func send(_ payload: [UInt8]) async throws {
        self.payloads.withLockedValue { $0.append(payload) }
    }

    var sent: [[UInt8]] { self.payloads.withLockedValue { $0 } }
}
