import AuroraWire
import DequeModule
import Foundation
import Logging
import NIOCore
import SwiftProtobuf

/// One call as the client's connection handler tracks it.
///
/// Created off the event loop; `id`, `state`, the continuation and the timers are touched only on
/// the connection's event loop. The inbox and send gate are thread-safe by themselves.
final class ClientStream: @unchecked Sendable {
    enum Phase {
        case created
        case queued
        case open
        case finished
    }

    let method: String
    let options: CallOptions
    let firstMessage: [UInt8]?
    /// The caller sends no more messages after the first (unary and server-streaming calls).
    let endAfterFirst: Bool
    /// Unary calls resume this with the response frame, still compressed (the caller inflates
    /// it off the event loop); streaming calls use `inbox`.
    var unaryContinuation: CheckedContinuation<Frame, any Error>?
    /// Unary calls: the CALL body, already built and compressed by the caller.
    var encodedCall: (body: ByteBuffer, flags: FrameFlags)?
    let inbox: MessageInbox?
    /// Nil for unary calls, which send nothing after the CALL.
    let sendGate: SendGate?

    var id = StreamID(0)
    var phase = Phase.created
    var cancelRequested = false
    var unaryResponse: Frame?
    var deadlineTimer: Scheduled<Void>?
    /// MESSAGE frames the server may still send before we grant more.
    var inboundCredit = 0
    /// Messages (and the END) the caller sent while the call waited for a stream slot.
    var queuedOutbound: [[UInt8]] = []
    var endQueued = false
    var deadline: NIODeadline?

    init(method: String, options: CallOptions, firstMessage: [UInt8]?, endAfterFirst: Bool, inbox: MessageInbox?, sendCredit: Int) {
        self.method = method
        self.options = options
        self.firstMessage = firstMessage
        self.endAfterFirst = endAfterFirst
        self.inbox = inbox
        self.sendGate = endAfterFirst && inbox == nil ? nil : SendGate(credit: sendCredit)
    }
}

/// The client side of one connection: handshake, stream ids, the table of calls in flight, flow
/// control, deadlines, keepalive and GOAWAY. All state lives on the channel's event loop.
final class ClientConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case handshaking
        case ready
        /// GOAWAY received: calls up to `lastStreamID` finish, no new ones start.
        case goingAway
        case closed
    }

    /// Boxed once: every finished call fails its send gate with it.
    private static let callEnded: any Error = RPCError(.cancelled, "the call has ended")

    private let configuration: ClientConfiguration
    private let handshake: EventLoopPromise<Aurora_Wire_V1_Welcome>
    private let codec: BodyCodec
    let writability = WritabilityGate()
    let status: ConnectionStatus
    private var logger: Logger

    private var context: ChannelHandlerContext!
    private var out: ConnectionOutbound!
    private var state = State.handshaking
    /// Why the connection is closing, when we know better than "connection closed".
    private var closeReason: RPCError?
    private var streams: [UInt32: ClientStream] = [:]
    private var waiting = Deque<ClientStream>()
    private var nextStreamID: UInt32 = 1
    private var maxConcurrentStreams = 1
    private var serverCredit = 1
    private var handshakeTimer: Scheduled<Void>?
    private var keepaliveTask: Scheduled<Void>?
    private var readSinceKeepalive = false
    private var pingOutstanding = false

    init(
        configuration: ClientConfiguration, handshake: EventLoopPromise<Aurora_Wire_V1_Welcome>, status: ConnectionStatus,
        logger: Logger
    ) {
        self.configuration = configuration
        self.handshake = handshake
        self.codec = BodyCodec(limits: configuration.wire)
        self.status = status
        self.logger = logger
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.out = ConnectionOutbound(context: context, codec: self.codec, logger: self.logger)
        if context.channel.isActive { self.sendHello() }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.sendHello()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let fallback = self.state == .handshaking ? "connection closed during the handshake" : "connection closed"
        self.shutDown(self.closeReason ?? RPCError(.unavailable, fallback))
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.writability.set(writable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    /// Breaks the context <-> handler cycle (see ServerConnectionHandler.handlerRemoved): nothing
    /// touches either once the state is `.closed`.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.shutDown(self.closeReason ?? RPCError(.unavailable, "connection closed"))
        self.context = nil
        self.out = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let wire = error as? WireError {
            self.fail(wire)
        } else {
            self.closeReason = RPCError(.unavailable, "connection failed: \(ConnectionFailure.describe(error))")
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.readSinceKeepalive = true
        let frame = Self.unwrapInboundIn(data)
        do {
            switch self.state {
            case .handshaking:
                try self.receiveHandshake(frame)
            case .ready, .goingAway:
                try self.receive(frame)
            case .closed:
                return
            }
        } catch let error as WireError {
            self.fail(error)
        } catch {
            self.fail(WireError(.internalError, "frame handling failed"))
        }
    }

    // MARK: Handshake

    private func sendHello() {
        guard self.state == .handshaking, self.handshakeTimer == nil else { return }
        var hello = Aurora_Wire_V1_Hello()
        hello.minVersion = 1
        hello.maxVersion = 1
        hello.clientName = self.configuration.clientName
        hello.credential = self.configuration.credential
        hello.dictionaries = self.configuration.dictionaries.map(\.id)
        hello.initialStreamCredit = UInt32(self.configuration.initialStreamCredit)
        self.out.control(.hello, message: hello)
        self.out.flushNow()
        self.handshakeTimer = self.context.eventLoop.assumeIsolated().scheduleTask(
            in: .init(self.configuration.handshakeTimeout)
        ) { [self] in
            self.closeReason = RPCError(.unavailable, "the server did not complete the handshake in time")
            self.context.close(promise: nil)
        }
    }

    private func receiveHandshake(_ frame: Frame) throws {
        let allocator = self.context.channel.allocator
        switch frame.kind {
        case .welcome:
            let welcome = try self.codec.decodeControl(frame, as: Aurora_Wire_V1_Welcome.self, allocator: allocator)
            guard welcome.version == 1 else {
                throw WireError(.unsupportedVersion, "server chose version \(welcome.version), which this client does not speak")
            }
            guard welcome.limits.maxConcurrentStreams >= 1, welcome.limits.initialStreamCredit >= 1 else {
                throw WireError(.protocolError, "WELCOME limits must allow at least one stream and one message")
            }
            if welcome.dictionary != 0 {
                guard let dictionary = self.configuration.dictionaries.first(where: { $0.id == welcome.dictionary }) else {
                    throw WireError(.protocolError, "server chose dictionary \(welcome.dictionary), which the client did not offer")
                }
                self.codec.dictionary = dictionary
            }
            self.maxConcurrentStreams = Int(welcome.limits.maxConcurrentStreams)
            self.serverCredit = Int(welcome.limits.initialStreamCredit)
            self.handshakeTimer?.cancel()
            self.state = .ready
            self.status.markUsable(true)
            self.startKeepalive()
            self.handshake.succeed(welcome)
        case .goAway:
            let goAway = try self.codec.decodeControl(frame, as: Aurora_Wire_V1_GoAway.self, allocator: allocator)
            let code = WireError.Code(rawValue: goAway.code)
            let status: StatusCode =
                switch code {
                case .unauthenticated: .unauthenticated
                case .enhanceYourCalm: .resourceExhausted
                default: .unavailable
                }
            self.closeReason = RPCError(status, goAway.message.isEmpty ? "the server refused the connection (\(code))" : goAway.message, details: ["goaway": code.description])
            self.context.close(promise: nil)
        default:
            throw WireError(.protocolError, "expected WELCOME, got \(frame.kind)")
        }
    }

    // MARK: Frames after the handshake

    private func receive(_ frame: Frame) throws {
        let allocator = self.context.channel.allocator
        switch frame.kind {
        case .message:
            guard let stream = try self.stream(for: frame) else { return }
            guard stream.inboundCredit > 0 else {
                throw WireError(.flowControlError, "MESSAGE on stream \(frame.streamID) beyond its credit")
            }
            stream.inboundCredit -= 1
            if let inbox = stream.inbox {
                inbox.push(try self.codec.decode(frame, allocator: allocator))
            } else if stream.unaryResponse == nil {
                stream.unaryResponse = frame
            } else {
                self.finish(stream, RPCError(.internal, "the server sent more than one response to a unary call"))
                self.sendCancel(stream.id)
            }
        case .status:
            guard let stream = try self.stream(for: frame) else { return }
            if frame.body.readableBytes == 0 {
                self.finish(stream, nil)
            } else {
                let status = try self.codec.decodeControl(frame, as: Aurora_Wire_V1_Status.self, allocator: allocator)
                self.finish(stream, Self.error(from: status))
            }
        case .credit:
            let credit = try self.codec.decodeControl(frame, as: Aurora_Wire_V1_Credit.self, allocator: allocator)
            guard credit.messages >= 1 else {
                throw WireError(.protocolError, "CREDIT on stream \(frame.streamID) grants no messages")
            }
            guard let stream = try self.stream(for: frame) else { return }
            stream.sendGate?.grant(Int(credit.messages))
        case .ping:
            let ping = try self.codec.decodeControl(frame, as: Aurora_Wire_V1_Ping.self, allocator: allocator)
            self.out.control(.pong, message: ping)
            self.out.scheduleFlush()
        case .pong:
            self.pingOutstanding = false
        case .goAway:
            let goAway = try self.codec.decodeControl(frame, as: Aurora_Wire_V1_GoAway.self, allocator: allocator)
            self.receiveGoAway(goAway)
        default:
            throw WireError(.protocolError, "\(frame.kind) frames are not sent by servers")
        }
    }

    private func stream(for frame: Frame) throws -> ClientStream? {
        if let stream = self.streams[frame.streamID.rawValue] { return stream }
        if frame.streamID.rawValue < self.nextStreamID { return nil }  // ended or cancelled: late frame
        throw WireError(.streamIDError, "\(frame.kind) frame on stream \(frame.streamID), which was never opened")
    }

    private func receiveGoAway(_ goAway: Aurora_Wire_V1_GoAway) {
        let code = WireError.Code(rawValue: goAway.code)
        self.logger.debug("server sent GOAWAY", metadata: ["code": "\(code)", "last": "\(goAway.lastStreamID)"])
        self.state = .goingAway
        self.status.markUsable(false)
        let reason = RPCError(
            .unavailable, goAway.message.isEmpty ? "the server is going away (\(code))" : "the server is going away: \(goAway.message)",
            details: ["goaway": code.description])
        self.closeReason = reason
        // Calls the server never saw may be retried elsewhere.
        for stream in self.streams.values where stream.id.rawValue > goAway.lastStreamID {
            self.finish(stream, RPCError(.unavailable, reason.message, details: ["goaway": code.description, "processed": "false"]))
        }
        while let stream = self.waiting.popFirst() {
            self.finish(stream, RPCError(.unavailable, reason.message, details: ["goaway": code.description, "processed": "false"]))
        }
        if code != .noError || self.streams.isEmpty {
            self.context.close(promise: nil)
        }
    }

    // MARK: Calls

    /// Starts a call (from any thread, via the event loop). Calls beyond the server's stream
    /// limit wait here, in order, for a slot.
    func start(_ stream: ClientStream) {
        guard stream.phase == .created else { return }
        if stream.cancelRequested {
            return self.finish(stream, RPCError(.cancelled, "the call was cancelled"))
        }
        switch self.state {
        case .closed, .handshaking:
            return self.finish(stream, self.closeReason ?? RPCError(.unavailable, "the connection is not open"))
        case .goingAway:
            return self.finish(stream, RPCError(.unavailable, "the connection is going away; retry on a new one", details: ["processed": "false"]))
        case .ready:
            break
        }
        if let timeout = stream.options.timeout {
            let deadline = NIODeadline.now() + .init(timeout)
            stream.deadline = deadline
            stream.deadlineTimer = self.context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
                self.deadlineExceeded(stream)
            }
        }
        self.status.callStarted()
        if self.streams.count >= self.maxConcurrentStreams {
            stream.phase = .queued
            self.waiting.append(stream)
            return
        }
        self.open(stream)
    }

    private func open(_ stream: ClientStream) {
        guard self.nextStreamID < UInt32.max - 2 else {
            self.state = .goingAway
            self.status.markUsable(false)
            return self.finish(stream, RPCError(.unavailable, "the connection has used up its stream ids; retry on a new one", details: ["processed": "false"]))
        }
        stream.id = StreamID(self.nextStreamID)
        self.nextStreamID += 2
        stream.phase = .open
        stream.inboundCredit = self.configuration.initialStreamCredit
        self.streams[stream.id.rawValue] = stream

        if let encoded = stream.encodedCall {
            self.out.enqueue(Frame(kind: .call, flags: encoded.flags.union(.endStream), streamID: stream.id, body: encoded.body))
            self.out.scheduleFlush()
            return
        }
        var call = Aurora_Wire_V1_Call()
        call.method = stream.method
        call.metadata = stream.options.metadata
        if let deadline = stream.deadline {
            call.timeoutMs = UInt64(max(1, (deadline - .now()).nanoseconds / 1_000_000))
        }
        if let first = stream.firstMessage { call.message = Data(first) }
        let ends = stream.endAfterFirst || (stream.endQueued && stream.queuedOutbound.isEmpty)
        self.out.control(.call, streamID: stream.id, flags: ends ? .endStream : [], message: call)
        for payload in stream.queuedOutbound { self.out.message(stream.id, payload) }
        stream.queuedOutbound = []
        if stream.endQueued && !ends {
            self.out.enqueue(Frame(kind: .end, streamID: stream.id))
        }
        self.out.scheduleFlush()
    }

    /// A message from the caller of a streaming call (its send credit is already taken).
    func send(_ stream: ClientStream, _ payload: [UInt8]) {
        switch stream.phase {
        case .created, .queued:
            stream.queuedOutbound.append(payload)
        case .open:
            self.out.message(stream.id, payload)
            self.out.scheduleFlush()
        case .finished:
            return
        }
    }

    /// The caller of a streaming call sends no more messages.
    func end(_ stream: ClientStream) {
        switch stream.phase {
        case .created, .queued:
            stream.endQueued = true
        case .open:
            self.out.enqueue(Frame(kind: .end, streamID: stream.id))
            self.out.scheduleFlush()
        case .finished:
            return
        }
    }

    /// The caller gave up (task cancelled, or an explicit cancel).
    func cancel(_ stream: ClientStream, _ error: RPCError = RPCError(.cancelled, "the call was cancelled")) {
        switch stream.phase {
        case .created:
            stream.cancelRequested = true
        case .queued:
            self.finish(stream, error)
        case .open:
            self.sendCancel(stream.id)
            self.finish(stream, error)
        case .finished:
            return
        }
    }

    /// The server granted credit, or the caller read responses: let the server send more.
    func grantCredit(_ stream: ClientStream, _ count: Int) {
        guard stream.phase == .open, self.state != .closed else { return }
        stream.inboundCredit += count
        var credit = Aurora_Wire_V1_Credit()
        credit.messages = UInt32(count)
        self.out.control(.credit, streamID: stream.id, message: credit)
        self.out.scheduleFlush()
    }

    private func deadlineExceeded(_ stream: ClientStream) {
        guard stream.phase != .finished else { return }
        if stream.phase == .open { self.sendCancel(stream.id) }
        self.finish(stream, RPCError(.deadlineExceeded, "the call's deadline passed"))
    }

    private func sendCancel(_ id: StreamID) {
        guard self.state != .closed else { return }
        self.out.enqueue(Frame(kind: .cancel, streamID: id))
        self.out.scheduleFlush()
    }

    /// Completes a call exactly once, frees its slot and starts the next waiting call.
    private func finish(_ stream: ClientStream, _ error: RPCError?) {
        let wasOpen = stream.phase == .open
        let counted = stream.phase == .open || stream.phase == .queued
        guard stream.phase != .finished else { return }
        stream.phase = .finished
        stream.deadlineTimer?.cancel()
        if wasOpen { self.streams.removeValue(forKey: stream.id.rawValue) }
        if counted { self.status.callEnded() }
        stream.sendGate?.fail(error ?? Self.callEnded)
        if let inbox = stream.inbox {
            inbox.finish(error)
        } else if let continuation = stream.unaryContinuation {
            stream.unaryContinuation = nil
            if let error {
                continuation.resume(throwing: error)
            } else if let response = stream.unaryResponse {
                continuation.resume(returning: response)
            } else {
                continuation.resume(throwing: RPCError(.internal, "the server ended a unary call without a response"))
            }
        }
        if wasOpen { self.startWaiting() }
        if self.state == .goingAway && self.streams.isEmpty && self.waiting.isEmpty {
            self.context.close(promise: nil)
        }
    }

    private func startWaiting() {
        while self.state == .ready, self.streams.count < self.maxConcurrentStreams, let next = self.waiting.popFirst() {
            if next.phase == .queued { self.open(next) }
        }
    }

    static func error(from status: Aurora_Wire_V1_Status) -> RPCError? {
        guard status.code != 0 else { return nil }
        return RPCError(
            StatusCode(rawValue: status.code), status.message,
            retryAfter: status.retryAfterMs > 0 ? .milliseconds(Int64(clamping: status.retryAfterMs)) : nil,
            details: status.details)
    }

    // MARK: Writing







    // MARK: Lifecycle

    private func startKeepalive() {
        self.keepaliveTask = self.context.eventLoop.assumeIsolated().scheduleTask(
            in: .init(self.configuration.keepaliveInterval)
        ) { [self] in
            self.keepaliveTick()
        }
    }

    /// Pings when nothing was read for a whole interval; a ping still unanswered at the next
    /// tick means the server (or the path to it) is gone.
    private func keepaliveTick() {
        guard self.state == .ready || self.state == .goingAway else { return }
        if self.pingOutstanding {
            self.closeReason = RPCError(.unavailable, "the server stopped answering keepalive pings")
            self.context.close(promise: nil)
            return
        }
        if !self.readSinceKeepalive {
            var ping = Aurora_Wire_V1_Ping()
            ping.opaque = UInt64(NIODeadline.now().uptimeNanoseconds)
            self.out.control(.ping, message: ping)
            self.out.flushNow()
            self.pingOutstanding = true
        }
        self.readSinceKeepalive = false
        self.startKeepalive()
    }

    /// Closes the connection on a protocol error, telling the server why.
    private func fail(_ error: WireError) {
        guard self.state != .closed else { return }
        self.logger.debug("closing connection on error", metadata: ["code": "\(error.code)", "reason": "\(error.message)"])
        self.closeReason = RPCError(.unavailable, "protocol error from the server: \(error.message)", details: ["goaway": error.code.description])
        if error.code != .truncatedFrame {
            var goAway = Aurora_Wire_V1_GoAway()
            goAway.code = error.code.rawValue
            goAway.message = error.message
            self.out.control(.goAway, message: goAway)
            self.out.flushNow()
        }
        self.context.close(promise: nil)
    }

    /// Ends everything on this connection, once.
    private func shutDown(_ reason: RPCError) {
        guard self.state != .closed else { return }
        self.state = .closed
        self.out.closed = true
        self.closeReason = reason
        self.status.markUsable(false)
        self.handshakeTimer?.cancel()
        self.keepaliveTask?.cancel()
        self.writability.close(reason)
        self.handshake.fail(reason)
        for stream in Array(self.streams.values) + Array(self.waiting) {
            self.finish(stream, reason)
        }
        self.waiting.removeAll()
    }

    /// A unary response body turned out not to decode (the caller inflates it): the same
    /// connection error as if it had been found here.
    func responseBodyFailed(_ error: WireError) {
        self.fail(error)
    }

    /// Called by the owner to close: GOAWAY(NO_ERROR), then close.
    func close() {
        guard self.state != .closed else { return }
        var goAway = Aurora_Wire_V1_GoAway()
        goAway.code = WireError.Code.noError.rawValue
        goAway.message = "client closing"
        self.out.control(.goAway, message: goAway)
        self.closeReason = RPCError(.cancelled, "the connection was closed by the client")
        self.out.flushNow()
        self.context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ClientConnectionHandler: Sendable {}
