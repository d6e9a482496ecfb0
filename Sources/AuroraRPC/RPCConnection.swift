import AuroraWire
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// What a pool needs to know about a connection without hopping to its event loop.
final class ConnectionStatus: Sendable {
    private struct State {
        var usable = false
        var activeCalls = 0
    }
    private let state = NIOLockedValueBox(State())

    var isUsable: Bool { self.state.withLockedValue { $0.usable } }
    var activeCalls: Int { self.state.withLockedValue { $0.activeCalls } }
    func markUsable(_ usable: Bool) { self.state.withLockedValue { $0.usable = usable } }
    func callStarted() { self.state.withLockedValue { $0.activeCalls += 1 } }
    func callEnded() { self.state.withLockedValue { $0.activeCalls -= 1 } }
}

/// Anything that can place calls: one connection, or a pool of them.
public protocol RPCCaller: Sendable {
    /// One request payload in, one response payload out.
    func unary(method: String, request: [UInt8], options: CallOptions) async throws -> ByteBuffer
    /// Opens a stream; `first` is sent with the CALL; with `endAfterFirst` nothing more is sent.
    func openStream(method: String, options: CallOptions, first: [UInt8]?, endAfterFirst: Bool) async throws
        -> ClientStreamHandle
}

/// One multiplexed connection to a server, after a successful handshake.
public final class RPCConnection: RPCCaller {
    private let channel: any Channel
    private let handler: NIOLoopBound<ClientConnectionHandler>
    private let writability: WritabilityGate
    let status: ConnectionStatus
    /// The server's WELCOME: its limits and the principal it authenticated.
    public let serverName: String
    public let principal: String
    public let maxConcurrentStreams: Int
    public let maxMessageBytes: Int
    /// The limits exactly as the server announced them.
    public let announcedLimits: Aurora_Wire_V1_Limits
    private let clientCredit: Int
    private let serverCredit: Int
    /// Unary calls encode requests and decode responses on the caller's thread with these.
    private let codecs: BodyCodecPool

    private init(
        channel: any Channel, handler: NIOLoopBound<ClientConnectionHandler>, writability: WritabilityGate,
        status: ConnectionStatus, welcome: Aurora_Wire_V1_Welcome, clientCredit: Int, maxMessageBytes: Int,
        codecs: BodyCodecPool
    ) {
        self.codecs = codecs
        self.channel = channel
        self.handler = handler
        self.writability = writability
        self.status = status
        self.serverName = welcome.serverName
        self.principal = welcome.principal
        self.maxConcurrentStreams = Int(welcome.limits.maxConcurrentStreams)
        self.announcedLimits = welcome.limits
        self.maxMessageBytes = min(maxMessageBytes, Int(welcome.limits.maxMessageBytes))
        self.clientCredit = clientCredit
        self.serverCredit = Int(welcome.limits.initialStreamCredit)
    }

    /// Connects and completes the handshake. Errors: UNAVAILABLE (cannot connect, timed out),
    /// UNAUTHENTICATED (the server refused the credential).
    public static func connect(
        host: String, port: Int, configuration: ClientConfiguration = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger = Logger(label: "aurora.rpc.client")
    ) async throws -> RPCConnection {
        let eventLoop = group.next()
        let handshake = eventLoop.makePromise(of: Aurora_Wire_V1_Welcome.self)
        // The handler is handed out from the initializer: looking it up in the pipeline later
        // fails if the connection has already closed again.
        let installed = eventLoop.makePromise(of: NIOLoopBound<ClientConnectionHandler>.self)
        let status = ConnectionStatus()
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoop)
                .connectTimeout(.init(configuration.connectTimeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addFrameDecoder(limits: configuration.wire)
                        let handler = ClientConnectionHandler(
                            configuration: configuration, handshake: handshake, status: status, logger: logger)
                        try channel.pipeline.syncOperations.addHandler(handler)
                        installed.succeed(NIOLoopBound(handler, eventLoop: channel.eventLoop))
                    }
                }
                .connect(host: host, port: port)
                .get()
        } catch {
            handshake.fail(error)
            installed.fail(error)
            throw RPCError(.unavailable, "cannot connect to \(host):\(port): \(ConnectionFailure.describe(error))")
        }
        let handler = try await installed.futureResult.get()
        let writability = try await channel.eventLoop.submit { handler.value.writability }.get()
        let welcome: Aurora_Wire_V1_Welcome
        do {
            welcome = try await handshake.futureResult.get()
        } catch let error as RPCError {
            channel.close(promise: nil)
            throw error
        } catch {
            channel.close(promise: nil)
            throw RPCError(.unavailable, "handshake with \(host):\(port) failed: \(ConnectionFailure.describe(error))")
        }
        return RPCConnection(
            channel: channel, handler: handler, writability: writability, status: status, welcome: welcome,
            clientCredit: configuration.initialStreamCredit, maxMessageBytes: configuration.wire.maxMessageBytes,
            codecs: BodyCodecPool(
                limits: configuration.wire, dictionary: configuration.dictionaries.first { $0.id == welcome.dictionary }))
    }

    /// False once the connection closed or the server sent GOAWAY.
    public var isUsable: Bool { self.status.isUsable }

    /// Calls started and not yet finished (including those waiting for a stream slot).
    public var activeCalls: Int { self.status.activeCalls }

    /// Sends GOAWAY and closes; calls in flight fail with CANCELLED.
    public func close() async {
        let handler = self.handler
        self.channel.eventLoop.execute { handler.value.close() }
        try? await self.channel.closeFuture.get()
    }

    public func unary(method: String, request: [UInt8], options: CallOptions) async throws -> ByteBuffer {
        try self.checkSize(request.count)
        // Build and compress the CALL here, on the caller's thread, so the event loop only
        // copies bytes; the response is inflated here too.
        var call = Aurora_Wire_V1_Call()
        call.method = method
        call.metadata = options.metadata
        if let timeout = options.timeout { call.timeoutMs = UInt64(max(1, timeout.milliseconds)) }
        call.message = Data(request)
        let codecs = self.codecs
        let encoded = try codecs.withCodec { codec in
            let frame = try codec.frame(.call, streamID: StreamID(1), message: call, allocator: ByteBufferAllocator())
            return (body: frame.body, flags: frame.flags)
        }
        let stream = ClientStream(
            method: method, options: options, firstMessage: nil, endAfterFirst: true, inbox: nil, sendCredit: 0)
        stream.encodedCall = encoded
        let handler = self.handler
        let response = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                handler.eventLoop.execute {
                    stream.unaryContinuation = continuation
                    handler.value.start(stream)
                }
            }
        } onCancel: {
            handler.eventLoop.execute { handler.value.cancel(stream) }
        }
        do {
            return try codecs.withCodec { try $0.decode(response, allocator: ByteBufferAllocator()) }
        } catch let error as WireError {
            handler.eventLoop.execute { handler.value.responseBodyFailed(error) }
            throw RPCError(.unavailable, "protocol error from the server: \(error.message)", details: ["goaway": error.code.description])
        }
    }

    public func openStream(method: String, options: CallOptions, first: [UInt8]?, endAfterFirst: Bool) async throws
        -> ClientStreamHandle
    {
        if let first { try self.checkSize(first.count) }
        let handler = self.handler
        let batch = max(1, self.clientCredit / 2)
        // Weak: the stream owns its inbox, whose callback would otherwise keep the stream (and so
        // itself) alive forever, one leaked stream per call (found by the gateway fuzzer).
        let holder = NIOLockedValueBox(WeakClientStream())
        let inbox = MessageInbox(creditBatch: batch) { granted in
            handler.eventLoop.execute {
                if let stream = holder.withLockedValue({ $0.stream }) { handler.value.grantCredit(stream, granted) }
            }
        }
        let stream = ClientStream(
            method: method, options: options, firstMessage: first, endAfterFirst: endAfterFirst, inbox: inbox,
            sendCredit: self.serverCredit - (first == nil ? 0 : 1))
        holder.withLockedValue { $0.stream = stream }
        handler.eventLoop.execute { handler.value.start(stream) }
        return ClientStreamHandle(stream: stream, handler: handler, writability: self.writability, maxMessageBytes: self.maxMessageBytes)
    }

    private func checkSize(_ count: Int) throws {
        guard count <= self.maxMessageBytes else {
            throw RPCError(.resourceExhausted, "request message of \(count) bytes is over the limit of \(self.maxMessageBytes)")
        }
    }
}

/// A reference to a stream that does not keep it alive.
struct WeakClientStream {
    weak var stream: ClientStream?
}

/// A call's stream as the caller sees it: send requests, end them, read responses, or cancel.
public struct ClientStreamHandle: Sendable {
    let stream: ClientStream
    let handler: NIOLoopBound<ClientConnectionHandler>
    let writability: WritabilityGate
    let maxMessageBytes: Int

    /// Sends one request; waits while the server has granted no credit or the connection is
    /// saturated. Throws the call's final error if it already ended.
    public func send(_ payload: [UInt8]) async throws {
        guard payload.count <= self.maxMessageBytes else {
            throw RPCError(.resourceExhausted, "request message of \(payload.count) bytes is over the limit of \(self.maxMessageBytes)")
        }
        guard let gate = self.stream.sendGate else {
            throw RPCError(.failedPrecondition, "this call sends no more messages after its first")
        }
        try await gate.acquire()
        try await self.writability.waitUntilWritable()
        let (handler, stream) = (self.handler, self.stream)
        handler.eventLoop.execute { handler.value.send(stream, payload) }
    }

    /// No more requests.
    public func end() {
        let (handler, stream) = (self.handler, self.stream)
        handler.eventLoop.execute { handler.value.end(stream) }
    }

    /// Abandons the call: CANCEL goes to the server and readers get CANCELLED.
    public func cancel() {
        let (handler, stream) = (self.handler, self.stream)
        handler.eventLoop.execute { handler.value.cancel(stream) }
    }

    /// The next response payload; nil once the server ended the call with OK; throws its error otherwise.
    public func receive() async throws -> ByteBuffer? {
        try await self.stream.inbox!.next()
    }
}
