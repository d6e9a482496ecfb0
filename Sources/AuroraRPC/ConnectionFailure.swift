import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a connection failed, in words a user can act on: NIO's error types (and their type names)
/// stay in debug logs.
enum ConnectionFailure {
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as NIOConnectionError:
            if let first = error.connectionErrors.first { return Self.describe(first.error) }
            if error.dnsAError != nil || error.dnsAAAAError != nil { return "the host name \(error.host) does not resolve" }
            return "no address to connect to"
        case let error as IOError:
            switch error.errnoCode {
            case ECONNREFUSED: return "connection refused: nothing listens on that port"
            case ETIMEDOUT: return "the connection timed out"
            case ECONNRESET, EPIPE: return "the connection was reset"
            case EHOSTUNREACH, ENETUNREACH: return "no route to the host"
            default: return "a network error (\(String(cString: strerror(error.errnoCode))))"
            }
        case ChannelError.connectTimeout:
            return "the connection timed out"
        case let error as RPCError:
            return error.message
        default:
            return "the connection failed"
        }
    }
}
