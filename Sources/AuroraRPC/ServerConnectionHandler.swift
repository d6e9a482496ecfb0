import AuroraWire
import Logging
import NIOCore
import NIOExtras
import SwiftProtobuf

/// One server connection: handshake, stream table, flow control, deadlines, drain.
///
/// Lives on the channel's event loop; all of its state is touched only there. Each call runs as
/// a child task; results come back to the event loop through `NIOLoopBound`. A stream counts
/// against `maxConcurrentStreams` until its handler has finished, even when the client cancelled
/// it (the rapid-reset lesson).
final class ServerConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case awaitingHello
        case authenticating
        case active
        case draining
        case closed
    }

    private final class Stream {
        let id: StreamID
        let method: RegisteredMethod
        /// Nil for unary calls on the fast path (the request came inside the CALL).
        let inbox: MessageInbox?
        let sendGate: SendGate?
        let started: NIODeadline
        var inboundCredit: Int
        /// When the client last sent a message on the stream or was granted credit to send one:
        /// the upload idle timeout counts from here.
        var lastInboundProgress: NIODeadline
        var receivedEnd = false
        /// STATUS sent, or the client cancelled: nothing more goes out on this stream.
        var outboundClosed = false
        var task: Task<Void, Never>?
        var deadlineTimer: Scheduled<Void>?
        var deadline = NIODeadline.distantFuture
        /// False once the handler has returned (it may return before `Task.immediate` does).
        var phaseRunning = true

        init(id: StreamID, method: RegisteredMethod, inbox: MessageInbox?, sendGate: SendGate?, credit: Int) {
            self.id = id
            self.method = method
            self.inbox = inbox
            self.sendGate = sendGate
            self.inboundCredit = credit
            self.started = .now()
            self.lastInboundProgress = self.started
        }

        /// The client may send but has sent nothing for `limit` (bidirectional calls may idle).
        func uploadStalled(now: NIODeadline, limit: TimeAmount) -> Bool {
            !self.receivedEnd && !self.outboundClosed && self.method.shape != .bidirectional && self.inboundCredit > 0
                && now - self.lastInboundProgress >= limit
        }
    }

    /// Boxed once: every finished call fails its gate and inbox with it.
    private static let callEnded: any Error = RPCError(.cancelled, "the call has ended")

    private let configuration: ServerConnectionConfiguration
    private let router: Router
    private let authenticator: any Authenticator
    private let dictionaries: [DigestedDictionary]
    private let serverName: String
    private let metrics: RPCServerMetrics
    private var logger: Logger
    private let codec: BodyCodec
    private let writability = WritabilityGate()
    /// Shared with this connection's frame decoder: lifted when WELCOME goes out.
    private let handshakeLimit: HandshakeFrameLimit?

    private var context: ChannelHandlerContext!
    private var out: ConnectionOutbound!
    private var state = State.awaitingHello
    private var principal = Principal.anonymous
    private var peer = "unknown"
    private var streams: [UInt32: Stream] = [:]
    private var lastStreamID: UInt32 = 0
    private var clientCredit = 1
    private var handshakeTimer: Scheduled<Void>?
    private var idleTimer: Scheduled<Void>?
    private var idleSince = NIODeadline.now()
    private var drainTimer: Scheduled<Void>?
    private var sweepTimer: Scheduled<Void>?
    private var needsFlushOnReadComplete = false
    private var abuseWindowStart = NIODeadline.now()
    private var cancelsInWindow = 0
    private var pingsInWindow = 0

    init(
        configuration: ServerConnectionConfiguration, router: Router, authenticator: any Authenticator,
        dictionaries: [DigestedDictionary], serverName: String, metrics: RPCServerMetrics, logger: Logger,
        handshakeLimit: HandshakeFrameLimit? = nil
    ) {
        self.handshakeLimit = handshakeLimit
        self.configuration = configuration
        self.router = router
        self.authenticator = authenticator
        self.dictionaries = dictionaries
        self.serverName = serverName
        self.metrics = metrics
        self.logger = logger
        self.codec = BodyCodec(limits: configuration.wire)
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.out = ConnectionOutbound(context: context, codec: self.codec, logger: self.logger)
        if context.channel.isActive { self.start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard self.handshakeTimer == nil, self.state == .awaitingHello else { return }
        if let address = context.channel.remoteAddress {
            self.peer = "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
        }
        self.logger[metadataKey: "peer"] = "\(self.peer)"
        self.metrics.connectionOpened()
        self.logger.debug("connection accepted")
        self.handshakeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .init(self.configuration.handshakeTimeout)) {
            [self] in
            self.fail(WireError(.handshakeTimeout, "no completed handshake within \(self.configuration.handshakeTimeout)"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.state = .closed
        self.out.closed = true
        self.tearDown(reason: RPCError(.unavailable, "connection closed"))
        self.metrics.connectionClosed()
        self.logger.debug("connection closed")
        context.fireChannelInactive()
    }

    /// The context holds this handler, and this handler (and `out`) the context: a cycle that kept
    /// every closed connection's handler, codec and buffers alive (about 60 KiB a connection, the
    /// gateway's unbounded growth). Nothing touches either once the state is `.closed`.
    func handlerRemoved(context: ChannelHandlerContext) {
        if self.state != .closed {
            self.state = .closed
            self.out.closed = true
            self.tearDown(reason: RPCError(.unavailable, "connection closed"))
        }
        self.context = nil
        self.out = nil
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.writability.set(writable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let wire = error as? WireError {
            self.fail(wire)
        } else if error is ByteToMessageDecoderError.PayloadTooLargeError {
            self.fail(WireError(.frameTooLarge, "too many bytes buffered without a complete frame"))
        } else {
            self.logger.debug("connection error", metadata: ["error": "\(error)"])
            self.fail(WireError(.internalError, "connection error"))
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            self.drain()
        } else if let event = event as? ChannelEvent, event == .inputClosed {
            // The client closed its side: calls it had fully sent may finish (it can still read
            // their answers); calls still waiting for its messages never will, so they end now
            // and their handlers are cancelled (else an abandoned upload holds its slot for good).
            for stream in self.streams.values where !stream.receivedEnd && !stream.outboundClosed {
                let error = RPCError(.cancelled, "the client closed the connection before ending the call")
                self.writeStatus(stream.id, error)
                self.closeOutbound(stream, error: error)
            }
            self.out.scheduleFlush()
            if self.streams.isEmpty { self.close() } else { self.state = .draining }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.needsFlushOnReadComplete {
            self.needsFlushOnReadComplete = false
            self.out.flushNow()
        }
        context.fireChannelReadComplete()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        do {
            switch self.state {
            case .awaitingHello:
                try self.receiveHello(frame)
            case .authenticating:
                throw WireError(.protocolError, "\(frame.kind) frame before WELCOME: wait for the handshake to finish")
            case .active, .draining:
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

    private func receiveHello(_ frame: Frame) throws {
        guard frame.kind == .hello else {
            throw WireError(.protocolError, "expected HELLO as the first frame, got \(frame.kind)")
        }
        // Inflated within the HELLO's own bound, not the message limit: the peer is not yet authenticated.
        let hello = try self.codec.decodeControl(
            frame, as: Aurora_Wire_V1_Hello.self,
            maxBytes: HandshakeFrameLimit.helloBytes(maxCredentialBytes: self.configuration.maxMetadataBytes),
            allocator: self.context.channel.allocator)
        guard hello.minVersion <= 1 && 1 <= hello.maxVersion else {
            throw WireError(
                .unsupportedVersion, "client speaks versions \(hello.minVersion)...\(hello.maxVersion); server speaks 1")
        }
        guard hello.initialStreamCredit >= 1 else {
            throw WireError(.protocolError, "HELLO initial_stream_credit must be at least 1")
        }
        guard hello.clientName.utf8.count <= 256, hello.credential.utf8.count <= self.configuration.maxMetadataBytes else {
            throw WireError(.protocolError, "HELLO client_name or credential is over its size limit")
        }
        self.clientCredit = Int(min(hello.initialStreamCredit, 1 << 20))
        let dictionary = hello.dictionaries.lazy.compactMap { id in self.dictionaries.first { $0.id == id } }.first
        self.logger[metadataKey: "client"] = "\(hello.clientName)"
        self.state = .authenticating

        let request = HandshakeRequest(credential: hello.credential, clientName: hello.clientName, peer: self.peer)
        let authenticator = self.authenticator
        let loopBound = NIOLoopBound(self, eventLoop: self.context.eventLoop)
        let eventLoop = self.context.eventLoop
        Task {
            let result: Result<Principal, any Error>
            do {
                result = .success(try await authenticator.authenticate(request))
            } catch {
                result = .failure(error)
            }
            eventLoop.execute { loopBound.value.handshakeDecided(result, dictionary: dictionary) }
        }
    }

    private func handshakeDecided(_ result: Result<Principal, any Error>, dictionary: DigestedDictionary?) {
        guard self.state == .authenticating else { return }
        switch result {
        case .failure(let error):
            let refusal = (error as? any RPCErrorConvertible)?.rpcError
            self.metrics.handshakeRefused()
            // Refused for load (too many connections from the peer) is not a credential problem.
            let code: WireError.Code = refusal?.code == .resourceExhausted ? .enhanceYourCalm : .unauthenticated
            self.fail(WireError(code, refusal?.message ?? "credential refused"))
        case .success(let principal):
            self.principal = principal
            self.handshakeTimer?.cancel()
            self.handshakeTimer = nil
            var welcome = Aurora_Wire_V1_Welcome()
            welcome.version = 1
            welcome.dictionary = dictionary?.id ?? 0
            welcome.serverName = self.serverName
            welcome.principal = principal.id
            welcome.limits.maxFrameBytes = UInt32(self.configuration.wire.maxFrameBytes)
            welcome.limits.maxMessageBytes = UInt32(self.configuration.wire.maxMessageBytes)
            welcome.limits.maxConcurrentStreams = UInt32(self.configuration.maxConcurrentStreams)
            welcome.limits.initialStreamCredit = UInt32(self.configuration.initialStreamCredit)
            welcome.limits.idleTimeoutMs = UInt32(clamping: self.configuration.idleTimeout.milliseconds)
            welcome.limits.maxMetadataBytes = UInt32(self.configuration.maxMetadataBytes)
            self.out.control(.welcome, message: welcome)
            self.handshakeLimit?.lift()
            self.codec.dictionary = dictionary
            self.state = .active
            self.out.scheduleFlush()
            self.armIdleTimer()
            self.sweepDeadlines()
            // Not the principal: a user id names a person, and logs are kept where the store's pseudonyms are not.
            self.logger.debug("handshake complete", metadata: ["scopes": "\(principal.scopes.sorted().joined(separator: ","))"])
        }
    }

    // MARK: Frames on an established connection

    private func receive(_ frame: Frame) throws {
        switch frame.kind {
        case .call:
            try self.receiveCall(frame)
        case .message:
            guard let stream = try self.stream(for: frame) else { return }
            guard !stream.receivedEnd else {
                throw WireError(.protocolError, "MESSAGE on stream \(frame.streamID) after the client ended it")
            }
            guard stream.inboundCredit > 0 else {
                throw WireError(.flowControlError, "MESSAGE on stream \(frame.streamID) beyond its credit")
            }
            stream.inboundCredit -= 1
            stream.lastInboundProgress = .now()
            let payload = try self.codec.decode(frame, allocator: self.context.channel.allocator)
            stream.inbox?.push(payload)
            if frame.flags.contains(.endStream) {
                stream.receivedEnd = true
                stream.inbox?.finish()
            }
        case .end:
            guard let stream = try self.stream(for: frame) else { return }
            guard !stream.receivedEnd else {
                throw WireError(.protocolError, "END on stream \(frame.streamID) after the client ended it")
            }
            stream.receivedEnd = true
            stream.inbox?.finish()
        case .cancel:
            try self.countAbuse(cancel: true)
            guard let stream = try self.stream(for: frame) else { return }
            self.closeOutbound(stream, error: RPCError(.cancelled, "the client cancelled the call"))
        case .credit:
            let credit = try self.codec.decodeControl(frame, as: Aurora_Wire_V1_Credit.self, allocator: self.context.channel.allocator)
            guard credit.messages >= 1 else {
                throw WireError(.protocolError, "CREDIT on stream \(frame.streamID) grants no messages")
            }
            guard let stream = try self.stream(for: frame) else { return }
            stream.sendGate?.grant(Int(credit.messages))
        case .ping:
            try self.countAbuse(cancel: false)
            let ping = try self.codec.decodeControl(frame, as: Aurora_Wire_V1_Ping.self, allocator: self.context.channel.allocator)
            self.out.control(.pong, message: ping)
            self.needsFlushOnReadComplete = true
        case .pong:
            return
        case .goAway:
            let goAway = try self.codec.decodeControl(frame, as: Aurora_Wire_V1_GoAway.self, allocator: self.context.channel.allocator)
            self.logger.debug("client sent GOAWAY", metadata: ["code": "\(WireError.Code(rawValue: goAway.code))"])
            if goAway.code != WireError.Code.noError.rawValue || self.streams.isEmpty {
                self.close()
            } else {
                self.state = .draining
            }
        default:
            throw WireError(.protocolError, "\(frame.kind) frames are not sent by clients")
        }
    }

    /// The open stream a frame belongs to; nil for a stream that already ended (a late frame,
    /// which is ignored); an error for a stream that was never opened.
    private func stream(for frame: Frame) throws -> Stream? {
        if let stream = self.streams[frame.streamID.rawValue] { return stream }
        if frame.streamID.rawValue <= self.lastStreamID { return nil }
        throw WireError(.streamIDError, "\(frame.kind) frame on stream \(frame.streamID), which was never opened")
    }

    private func receiveCall(_ frame: Frame) throws {
        let id = frame.streamID
        guard id.rawValue > self.lastStreamID else {
            throw WireError(
                .streamIDError, "CALL on stream \(id): stream ids must increase (last was \(self.lastStreamID))")
        }
        self.lastStreamID = id.rawValue
        let allocator = self.context.channel.allocator
        let call = try self.codec.decodeControl(frame, as: Aurora_Wire_V1_Call.self, allocator: allocator)

        if self.state == .draining {
            return self.refuse(id, RPCError(.unavailable, "the server is draining; retry on a new connection"))
        }
        let metadataBytes = call.method.utf8.count + call.metadata.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        if metadataBytes > self.configuration.maxMetadataBytes {
            return self.refuse(
                id, RPCError(.resourceExhausted, "call metadata of \(metadataBytes) bytes exceeds the limit of \(self.configuration.maxMetadataBytes)"))
        }
        if self.streams.count >= self.configuration.maxConcurrentStreams {
            return self.refuse(
                id, RPCError(.resourceExhausted, "too many concurrent calls on this connection (limit \(self.configuration.maxConcurrentStreams))"))
        }
        guard let method = self.router.methods[call.method] else {
            return self.refuse(id, RPCError(.unimplemented, "no method named \(call.method)"))
        }

        let eventLoop = self.context.eventLoop
        let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
        let ended = frame.flags.contains(.endStream)
        // The usual unary call (request inside the CALL, nothing more to come) needs no inbox and
        // no send gate: its handler gets the request bytes and returns the response bytes.
        let fastUnary = ended && call.hasMessage ? method.unary : nil
        let inbox: MessageInbox?
        if fastUnary != nil {
            inbox = nil
        } else {
            let batch = max(1, self.configuration.initialStreamCredit / 2)
            let streamInbox = MessageInbox(creditBatch: batch) { granted in
                eventLoop.execute { loopBound.value.grantCredit(id, granted) }
            }
            if call.hasMessage { streamInbox.push(ByteBuffer(bytes: call.message)) }
            if ended { streamInbox.finish() }
            inbox = streamInbox
        }
        let stream = Stream(
            id: id, method: method, inbox: inbox, sendGate: fastUnary == nil ? SendGate(credit: self.clientCredit) : nil,
            credit: self.configuration.initialStreamCredit - (call.hasMessage ? 1 : 0))
        stream.receivedEnd = ended
        if stream.inboundCredit < 0 {
            throw WireError(.flowControlError, "CALL on stream \(id) carries a message beyond its credit")
        }
        self.streams[id.rawValue] = stream

        let requested = call.timeoutMs == 0 ? self.configuration.maxCallDuration : .milliseconds(Int64(clamping: call.timeoutMs))
        let timeout = min(requested, self.configuration.maxCallDuration)
        stream.deadline = NIODeadline.now() + .init(timeout)
        if call.timeoutMs > 0 {
            // An exact timer for deadlines the client asked for; the cap on calls without one is
            // enforced by the coarse sweep (`sweepDeadlines`), which costs nothing per call.
            stream.deadlineTimer = eventLoop.scheduleTask(in: .init(timeout)) {
                loopBound.value.deadlineExceeded(id)
            }
        }
        let context = ServerContext(
            method: call.method, metadata: call.metadata, principal: self.principal,
            deadline: ContinuousClock.now.advanced(by: timeout), peer: self.peer, streamID: id.rawValue,
            connectionLogger: self.logger)
        let run: @Sendable () async throws -> [UInt8]?
        if let fastUnary {
            let request = call.message
            run = { try await fastUnary(request, context) }
        } else {
            let sender = ServerStreamSender(
                streamID: id, gate: stream.sendGate!, writability: self.writability, loopBound: loopBound,
                maxMessageBytes: self.configuration.wire.maxMessageBytes)
            run = { [inbox] in try await method.run(inbox!, sender, context) }
        }
        // The handler starts right here on the event loop and leaves it at its first suspension.
        // A handler that never suspends (most unary calls) thus costs no thread hop at all; one
        // that awaits I/O continues on the global executor, off the event loop.
        let task = Task.immediate {
            let result: Result<[UInt8]?, any Error>
            do {
                result = .success(try await run())
            } catch {
                result = .failure(error)
            }
            if eventLoop.inEventLoop {
                loopBound.value.handlerFinished(id, result)
            } else {
                eventLoop.execute { loopBound.value.handlerFinished(id, result) }
            }
        }
        if stream.phaseRunning { stream.task = task }
    }

    // MARK: Stream completion

    private func handlerFinished(_ id: StreamID, _ result: Result<[UInt8]?, any Error>) {
        guard let stream = self.streams.removeValue(forKey: id.rawValue) else { return }
        stream.phaseRunning = false
        stream.task = nil
        stream.deadlineTimer?.cancel()
        let status: RPCError?
        switch result {
        case .success: status = nil
        case .failure(let error):
            if let convertible = error as? any RPCErrorConvertible {
                status = convertible.rpcError
            } else if error is CancellationError {
                status = RPCError(.cancelled, "the call was cancelled")
            } else {
                if !stream.outboundClosed {
                    self.logger.debug("handler failed", metadata: ["rpc.stream": "\(id)", "error": "\(type(of: error))"])
                }
                status = RPCError(.internal, "internal error")
            }
        }
        if !stream.outboundClosed {
            stream.outboundClosed = true
            if case .success(let final?) = result {
                self.out.message(id, final)
            }
            self.writeStatus(id, status)
            self.out.scheduleFlush()
        }
        stream.sendGate?.fail(Self.callEnded)
        stream.inbox?.abort(Self.callEnded)
        self.metrics.callFinished(method: stream.method.name, code: status?.code ?? .ok, started: stream.started)
        self.streamClosed()
    }

    private func deadlineExceeded(_ id: StreamID) {
        guard let stream = self.streams[id.rawValue], !stream.outboundClosed else { return }
        self.writeStatus(id, RPCError(.deadlineExceeded, "the call's deadline passed"))
        self.out.scheduleFlush()
        self.closeOutbound(stream, error: RPCError(.deadlineExceeded, "the call's deadline passed"))
    }

    /// Nothing more is sent on the stream and its handler is cancelled; it stays counted until
    /// the handler has returned.
    private func closeOutbound(_ stream: Stream, error: RPCError) {
        stream.outboundClosed = true
        stream.deadlineTimer?.cancel()
        stream.inbox?.abort(error)
        stream.sendGate?.fail(error)
        stream.task?.cancel()
    }

    /// Answers a CALL that will not run with a final status.
    private func refuse(_ id: StreamID, _ error: RPCError) {
        self.writeStatus(id, error)
        self.needsFlushOnReadComplete = true
        self.metrics.callRefused(code: error.code)
    }

    private func streamClosed() {
        guard self.state != .closed else { return }
        if self.streams.isEmpty {
            if self.state == .draining {
                self.close()
            } else {
                self.armIdleTimer()
            }
        }
    }

    // MARK: Outbound

    fileprivate func grantCredit(_ id: StreamID, _ count: Int) {
        guard let stream = self.streams[id.rawValue], !stream.receivedEnd, self.state != .closed else { return }
        if stream.inboundCredit == 0 { stream.lastInboundProgress = .now() }
        stream.inboundCredit += count
        var credit = Aurora_Wire_V1_Credit()
        credit.messages = UInt32(count)
        self.out.control(.credit, streamID: id, message: credit)
        self.out.scheduleFlush()
    }

    fileprivate func sendFromHandler(_ id: StreamID, _ payload: [UInt8]) {
        guard let stream = self.streams[id.rawValue], !stream.outboundClosed else { return }
        self.out.message(id, payload)
        self.out.scheduleFlush()
    }


    private func writeStatus(_ id: StreamID, _ error: RPCError?) {
        guard let error else {
            // OK travels as an empty body: no compression on the hot path.
            self.out.enqueue(Frame(kind: .status, streamID: id))
            return
        }
        var status = Aurora_Wire_V1_Status()
        status.code = error.code.rawValue
        status.message = error.message
        status.details = error.details
        if let retryAfter = error.retryAfter { status.retryAfterMs = UInt64(clamping: max(0, retryAfter.milliseconds)) }
        self.out.control(.status, streamID: id, message: status)
    }






    // MARK: Lifecycle

    /// Records that the connection just became idle. One timer per idle timeout is armed lazily;
    /// when it fires it closes the connection only if it has stayed idle the whole time, and
    /// otherwise re-arms for the remainder (no timer churn per call).
    private func armIdleTimer() {
        self.idleSince = .now()
        guard self.idleTimer == nil else { return }
        self.scheduleIdleCheck(after: .init(self.configuration.idleTimeout))
    }

    private func scheduleIdleCheck(after delay: TimeAmount) {
        self.idleTimer = self.context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            self.idleTimer = nil
            guard self.streams.isEmpty, self.state == .active else { return }
            let idleFor = NIODeadline.now() - self.idleSince
            let limit = TimeAmount(self.configuration.idleTimeout)
            if idleFor >= limit {
                self.fail(WireError(.idleTimeout, "no calls for \(self.configuration.idleTimeout)"))
            } else {
                self.scheduleIdleCheck(after: limit - idleFor)
            }
        }
    }

    /// Once a second, ends calls that outlived their deadline without an exact timer (the
    /// `maxCallDuration` cap on calls that asked for no deadline).
    private func sweepDeadlines() {
        let now = NIODeadline.now()
        for stream in self.streams.values where stream.deadline <= now && !stream.outboundClosed {
            self.deadlineExceeded(stream.id)
        }
        let uploadIdle = TimeAmount(self.configuration.uploadIdleTimeout)
        for stream in self.streams.values where stream.uploadStalled(now: now, limit: uploadIdle) {
            let error = RPCError(
                .deadlineExceeded, "the call received no message for \(self.configuration.uploadIdleTimeout) while it could send one")
            self.writeStatus(stream.id, error)
            self.out.scheduleFlush()
            self.closeOutbound(stream, error: error)
        }
        guard self.state != .closed else { return }
        self.sweepTimer = self.context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { [self] in
            self.sweepDeadlines()
        }
    }

    private func countAbuse(cancel: Bool) throws {
        let now = NIODeadline.now()
        if now - self.abuseWindowStart > .init(self.configuration.abuseWindow) {
            self.abuseWindowStart = now
            self.cancelsInWindow = 0
            self.pingsInWindow = 0
        }
        if cancel {
            self.cancelsInWindow += 1
            if self.cancelsInWindow > self.configuration.maxCancelsPerWindow {
                throw WireError(.enhanceYourCalm, "more than \(self.configuration.maxCancelsPerWindow) cancellations in \(self.configuration.abuseWindow)")
            }
        } else {
            self.pingsInWindow += 1
            if self.pingsInWindow > self.configuration.maxPingsPerWindow {
                throw WireError(.enhanceYourCalm, "more than \(self.configuration.maxPingsPerWindow) pings in \(self.configuration.abuseWindow)")
            }
        }
    }

    /// Graceful shutdown: GOAWAY with the last stream taken, refuse new calls, let in-flight
    /// calls finish for up to `drainTimeout`, then close.
    private func drain() {
        switch self.state {
        case .closed:
            return
        case .draining:
            // Already finishing (the client half-closed or sent GOAWAY): shutdown still bounds it.
            self.armDrainTimer()
            return
        case .awaitingHello, .authenticating:
            self.close()
            return
        case .active:
            break
        }
        self.state = .draining
        self.idleTimer?.cancel()
        var goAway = Aurora_Wire_V1_GoAway()
        goAway.lastStreamID = self.lastStreamID
        goAway.code = WireError.Code.noError.rawValue
        goAway.message = "server is shutting down"
        self.out.control(.goAway, message: goAway)
        self.out.flushNow()
        if self.streams.isEmpty {
            self.close()
            return
        }
        self.armDrainTimer()
    }

    /// In-flight calls get `drainTimeout` to finish; then they are cancelled and the connection closes.
    private func armDrainTimer() {
        guard self.drainTimer == nil else { return }
        self.drainTimer = self.context.eventLoop.assumeIsolated().scheduleTask(in: .init(self.configuration.drainTimeout)) { [self] in
            for stream in self.streams.values where !stream.outboundClosed {
                self.writeStatus(stream.id, RPCError(.unavailable, "the server shut down before the call finished"))
                self.closeOutbound(stream, error: RPCError(.unavailable, "server shut down"))
            }
            self.close()
        }
    }

    /// Connection error: GOAWAY with its code, then close.
    private func fail(_ error: WireError) {
        guard self.state != .closed else { return }
        self.logger.debug("closing connection on error", metadata: ["code": "\(error.code)", "reason": "\(error.message)"])
        self.metrics.connectionError(code: error.code)
        if error.code != .truncatedFrame {
            var goAway = Aurora_Wire_V1_GoAway()
            goAway.lastStreamID = self.lastStreamID
            goAway.code = error.code.rawValue
            goAway.message = error.message
            self.out.control(.goAway, message: goAway)
            // Close once the GOAWAY is on the wire, so the client learns why.
            self.state = .closed
            self.out.closed = true
            let context = self.context!
            self.out.flushAndWait().assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        }
        self.close()
    }

    private func close() {
        guard self.state != .closed else { return }
        self.state = .closed
        self.out.closed = true
        self.out.flushNow()
        self.context.close(promise: nil)
    }

    private func tearDown(reason: RPCError) {
        self.handshakeTimer?.cancel()
        self.idleTimer?.cancel()
        self.drainTimer?.cancel()
        self.sweepTimer?.cancel()
        self.writability.close(reason)
        for stream in self.streams.values {
            self.closeOutbound(stream, error: reason)
        }
    }
}

@available(*, unavailable)
extension ServerConnectionHandler: Sendable {}

/// A server stream's outbound side, used from the handler's task.
struct ServerStreamSender: StreamSender {
    let streamID: StreamID
    let gate: SendGate
    let writability: WritabilityGate
    let loopBound: NIOLoopBound<ServerConnectionHandler>
    let maxMessageBytes: Int

    func send(_ payload: [UInt8]) async throws {
        guard payload.count <= self.maxMessageBytes else {
            throw RPCError(.resourceExhausted, "response message of \(payload.count) bytes is over the limit of \(self.maxMessageBytes)")
        }
        try await self.gate.acquire()
        try await self.writability.waitUntilWritable()
        let loopBound = self.loopBound
        let id = self.streamID
        loopBound.eventLoop.execute { loopBound.value.sendFromHandler(id, payload) }
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

extension TimeAmount {
    /// NIO's time amount for a standard-library duration (nanosecond precision).
    public init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
