/// Status codes of a finished call (Protocol/SPEC.md, "Status codes"). The numbers are gRPC's,
/// so that people and tools that know gRPC read them without a table.
public struct StatusCode: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let ok = StatusCode(rawValue: 0)
    public static let cancelled = StatusCode(rawValue: 1)
    public static let unknown = StatusCode(rawValue: 2)
    public static let invalidArgument = StatusCode(rawValue: 3)
    public static let deadlineExceeded = StatusCode(rawValue: 4)
    public static let notFound = StatusCode(rawValue: 5)
    public static let alreadyExists = StatusCode(rawValue: 6)
    public static let permissionDenied = StatusCode(rawValue: 7)
    public static let resourceExhausted = StatusCode(rawValue: 8)
    public static let failedPrecondition = StatusCode(rawValue: 9)
    public static let aborted = StatusCode(rawValue: 10)
    public static let outOfRange = StatusCode(rawValue: 11)
    public static let unimplemented = StatusCode(rawValue: 12)
    public static let `internal` = StatusCode(rawValue: 13)
    public static let unavailable = StatusCode(rawValue: 14)
    public static let dataLoss = StatusCode(rawValue: 15)
    public static let unauthenticated = StatusCode(rawValue: 16)

    public var description: String {
        switch rawValue {
        case 0: "OK"
        case 1: "CANCELLED"
        case 2: "UNKNOWN"
        case 3: "INVALID_ARGUMENT"
        case 4: "DEADLINE_EXCEEDED"
        case 5: "NOT_FOUND"
        case 6: "ALREADY_EXISTS"
        case 7: "PERMISSION_DENIED"
        case 8: "RESOURCE_EXHAUSTED"
        case 9: "FAILED_PRECONDITION"
        case 10: "ABORTED"
        case 11: "OUT_OF_RANGE"
        case 12: "UNIMPLEMENTED"
        case 13: "INTERNAL"
        case 14: "UNAVAILABLE"
        case 15: "DATA_LOSS"
        case 16: "UNAUTHENTICATED"
        default: "STATUS_\(rawValue)"
        }
    }
}

/// A call that ended with a status other than OK: what crosses the wire in a STATUS frame.
///
/// Messages are for people and never carry cell values; `details` carries machine-readable
/// context (e.g. `row`, `column`).
public struct RPCError: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: StatusCode
    public var message: String
    /// With RESOURCE_EXHAUSTED or UNAVAILABLE: when the caller may try again.
    public var retryAfter: Duration?
    public var details: [String: String]

    public init(_ code: StatusCode, _ message: String, retryAfter: Duration? = nil, details: [String: String] = [:]) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
        self.details = details
    }

    public var description: String { "\(code): \(message)" }
}

/// Domain errors that know which status they deserve. Anything else thrown by a handler goes out
/// as INTERNAL with a generic message, so internals never leak to callers.
public protocol RPCErrorConvertible: Error {
    var rpcError: RPCError { get }
}

extension RPCError: RPCErrorConvertible {
    public var rpcError: RPCError { self }
}
