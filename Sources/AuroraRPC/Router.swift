import Foundation
import Logging
import NIOCore
import SwiftProtobuf

/// What a handler knows about the call it serves.
public struct ServerContext: Sendable {
    public let method: String
    public let metadata: [String: String]
    /// Established by the connection's handshake.
    public let principal: Principal
    /// When the call's deadline passes; the handler's task is cancelled then.
    public let deadline: ContinuousClock.Instant
    /// "host:port" of the peer.
    public let peer: String
    public let streamID: UInt32
    /// The connection's logger (with `conn.id` and `peer`); `logger` adds the call's metadata.
    let connectionLogger: Logger

    /// Carries `rpc.method` and `rpc.stream` besides the connection's metadata. Built on use, so
    /// calls that do not log pay nothing for it.
    public var logger: Logger {
        var logger = self.connectionLogger
        logger[metadataKey: "rpc.method"] = "\(self.method)"
        logger[metadataKey: "rpc.stream"] = "\(self.streamID)"
        return logger
    }
}

/// The requests of a call, decoded as they are read. Reading grants the client more credit.
public struct RequestStream<Message: SwiftProtobuf.Message>: AsyncSequence, Sendable {
    public typealias Element = Message
    let inbox: MessageInbox

    public struct AsyncIterator: AsyncIteratorProtocol {
        var inner: MessageInbox.AsyncIterator
        public mutating func next() async throws -> Message? {
            guard let buffer = try await self.inner.next() else { return nil }
            return try MessageCoding.decode(buffer, as: Message.self)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(inner: self.inbox.makeAsyncIterator()) }
}

/// Sends a call's responses; `send` waits while the client has no credit left or the
/// connection cannot take more bytes.
public struct ResponseWriter<Message: SwiftProtobuf.Message>: Sendable {
    let sender: StreamSender

    public func send(_ message: Message) async throws {
        try await self.sender.send(MessageCoding.encode(message))
    }
}

/// A stream's outbound side, whoever owns it (server handler or client caller).
protocol StreamSender: Sendable {
    func send(_ payload: [UInt8]) async throws
}

/// A method's handler in its untyped form: reads request payloads, may send responses itself,
/// and returns a last response payload (or nil) to send before the OK status.
struct RegisteredMethod: Sendable {
    let name: String
    let shape: CallShape
    let run: @Sendable (MessageInbox, any StreamSender, ServerContext) async throws -> [UInt8]?
    /// Unary methods only: the handler on the request bytes embedded in the CALL, so the usual
    /// unary call needs no inbox and no send gate.
    var unary: (@Sendable (Data, ServerContext) async throws -> [UInt8])?
}

/// The methods a server serves, each declared once with its typed messages.
public struct Router: Sendable {
    var methods: [String: RegisteredMethod] = [:]

    public init() {}

    public var methodNames: [String] { self.methods.keys.sorted() }

    /// One request in, one response out.
    public mutating func unary<Request, Response>(
        _ method: Method<Request, Response>,
        _ handler: @escaping @Sendable (Request, ServerContext) async throws -> Response
    ) {
        self.register(method) { inbox, _, context in
            let request = try await Self.single(inbox, as: Request.self, method: method.name)
            return try MessageCoding.encode(try await handler(request, context))
        }
        self.methods[method.name]?.unary = { bytes, context in
            try MessageCoding.encode(try await handler(MessageCoding.decode(bytes, as: Request.self), context))
        }
    }

    /// Many requests in (an upload), one response out.
    public mutating func clientStreaming<Request, Response>(
        _ method: Method<Request, Response>,
        _ handler: @escaping @Sendable (RequestStream<Request>, ServerContext) async throws -> Response
    ) {
        self.register(method) { inbox, _, context in
            try MessageCoding.encode(try await handler(RequestStream(inbox: inbox), context))
        }
    }

    /// One request in, many responses out (a download).
    public mutating func serverStreaming<Request, Response>(
        _ method: Method<Request, Response>,
        _ handler: @escaping @Sendable (Request, ResponseWriter<Response>, ServerContext) async throws -> Void
    ) {
        self.register(method) { inbox, sender, context in
            let request = try await Self.single(inbox, as: Request.self, method: method.name)
            try await handler(request, ResponseWriter(sender: sender), context)
            return nil
        }
    }

    /// Many of each.
    public mutating func bidirectional<Request, Response>(
        _ method: Method<Request, Response>,
        _ handler: @escaping @Sendable (RequestStream<Request>, ResponseWriter<Response>, ServerContext) async throws -> Void
    ) {
        self.register(method) { inbox, sender, context in
            try await handler(RequestStream(inbox: inbox), ResponseWriter(sender: sender), context)
            return nil
        }
    }

    private mutating func register<Request, Response>(
        _ method: Method<Request, Response>,
        run: @escaping @Sendable (MessageInbox, any StreamSender, ServerContext) async throws -> [UInt8]?
    ) {
        precondition(self.methods[method.name] == nil, "method \(method.name) registered twice")
        self.methods[method.name] = RegisteredMethod(name: method.name, shape: method.shape, run: run, unary: nil)
    }

    /// Reads exactly one request: none, or more than one, is INVALID_ARGUMENT.
    private static func single<M: SwiftProtobuf.Message>(_ inbox: MessageInbox, as: M.Type, method: String) async throws -> M {
        guard let first = try await inbox.next() else {
            throw RPCError(.invalidArgument, "\(method) expects one request message and got none")
        }
        guard try await inbox.next() == nil else {
            throw RPCError(.invalidArgument, "\(method) expects one request message and got more")
        }
        return try MessageCoding.decode(first, as: M.self)
    }
}
