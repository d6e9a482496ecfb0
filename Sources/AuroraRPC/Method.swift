import AuroraWire
import NIOCore
import SwiftProtobuf

/// How many messages each side sends on a call.
public enum CallShape: Sendable, Hashable {
    /// One request, one response.
    case unary
    /// Many requests (an upload), one response.
    case clientStreaming
    /// One request, many responses (a download).
    case serverStreaming
    /// Many of each.
    case bidirectional
}

/// A method declared once, with its wire name, its shape and its typed messages; servers register
/// handlers for it and clients call it.
public struct Method<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>: Sendable, Hashable {
    /// "<package>.<Service>/<Method>".
    public let name: String
    public let shape: CallShape

    public init(_ name: String, shape: CallShape) {
        self.name = name
        self.shape = shape
    }
}

/// Protobuf (de)serialization for the typed layers; a body that does not parse is INVALID_ARGUMENT.
enum MessageCoding {
    static func encode(_ message: some SwiftProtobuf.Message) throws -> [UInt8] {
        do {
            return try message.serializedBytes()
        } catch {
            throw RPCError(.internal, "\(type(of: message).protoMessageName) does not serialize")
        }
    }

    static func decode<M: SwiftProtobuf.Message>(_ buffer: ByteBuffer, as type: M.Type) throws -> M {
        do {
            return try buffer.parseProtobuf(as: M.self)
        } catch {
            throw RPCError(.invalidArgument, "message is not a valid \(M.protoMessageName)")
        }
    }

    static func decode<M: SwiftProtobuf.Message>(_ bytes: some SwiftProtobufContiguousBytes, as type: M.Type) throws -> M {
        do {
            return try M(serializedBytes: bytes)
        } catch {
            throw RPCError(.invalidArgument, "message is not a valid \(M.protoMessageName)")
        }
    }
}
