import NIOConcurrencyHelpers
import NIOCore
import SwiftProtobuf

/// Writes the requests of a client-streaming call.
public struct RequestWriter<Message: SwiftProtobuf.Message>: Sendable {
    let handle: ClientStreamHandle
    let sendFailed = NIOLockedValueBox(false)

    /// Waits while the server has granted no credit, so a slow server slows the sender down.
    public func send(_ message: Message) async throws {
        do {
            try await self.handle.send(MessageCoding.encode(message))
        } catch {
            self.sendFailed.withLockedValue { $0 = true }
            throw error
        }
    }
}

/// The responses of a server-streaming call; iteration throws the call's error, if any.
public struct ResponseStream<Message: SwiftProtobuf.Message>: AsyncSequence, Sendable {
    public typealias Element = Message
    let handle: ClientStreamHandle

    public struct AsyncIterator: AsyncIteratorProtocol {
        let handle: ClientStreamHandle
        public mutating func next() async throws -> Message? {
            guard let buffer = try await self.handle.receive() else { return nil }
            return try MessageCoding.decode(buffer, as: Message.self)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: self.handle) }
}

extension RPCCaller {
    /// Calls a unary method.
    public func unary<Request, Response>(
        _ method: Method<Request, Response>, _ request: Request, options: CallOptions = .default
    ) async throws -> Response {
        let response = try await self.unary(method: method.name, request: MessageCoding.encode(request), options: options)
        return try MessageCoding.decode(response, as: Response.self)
    }

    /// Calls a client-streaming method: `body` sends the requests, then the one response is returned.
    /// If `body` throws, the call is cancelled and the error rethrown.
    public func clientStreaming<Request, Response>(
        _ method: Method<Request, Response>, options: CallOptions = .default,
        _ body: (RequestWriter<Request>) async throws -> Void
    ) async throws -> Response {
        let handle = try await self.openStream(method: method.name, options: options, first: nil, endAfterFirst: false)
        let writer = RequestWriter<Request>(handle: handle)
        return try await withTaskCancellationHandler {
            do {
                try await body(writer)
                handle.end()
            } catch let error as RPCError where error.code != .cancelled && writer.sendFailed.withLockedValue({ $0 }) {
                // Sending failed because the call already ended (the server refused it, or its
                // deadline passed): report the server's reason.
                throw try await Self.finalError(of: handle) ?? error
            } catch {
                // The body gave up on its own: the server must hear of it, or it waits for more.
                handle.cancel()
                throw error
            }
            guard let response = try await handle.receive() else {
                throw RPCError(.internal, "the server ended \(method.name) without a response")
            }
            guard try await handle.receive() == nil else {
                throw RPCError(.internal, "the server sent more than one response to \(method.name)")
            }
            return try MessageCoding.decode(response, as: Response.self)
        } onCancel: {
            handle.cancel()
        }
    }

    /// Calls a server-streaming method; `body` reads the responses.
    public func serverStreaming<Request, Response, Result>(
        _ method: Method<Request, Response>, _ request: Request, options: CallOptions = .default,
        _ body: (ResponseStream<Response>) async throws -> Result
    ) async throws -> Result {
        let handle = try await self.openStream(
            method: method.name, options: options, first: MessageCoding.encode(request), endAfterFirst: true)
        return try await withTaskCancellationHandler {
            do {
                let result = try await body(ResponseStream(handle: handle))
                handle.cancel()  // no-op if the server already ended the call
                return result
            } catch {
                handle.cancel()
                throw error
            }
        } onCancel: {
            handle.cancel()
        }
    }

    /// The error the server ended a call with, if it ended with one.
    private static func finalError(of handle: ClientStreamHandle) async throws -> RPCError? {
        do {
            while try await handle.receive() != nil {}
            return nil
        } catch let error as RPCError {
            return error
        }
    }
}
