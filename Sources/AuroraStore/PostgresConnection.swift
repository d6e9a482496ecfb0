import CLibPQ
import Foundation

/// What went wrong talking to PostgreSQL, typed so callers can map it to a status.
public enum StoreError: Error, Sendable, CustomStringConvertible {
    /// The database cannot be reached (down, restarting, refused); retry later.
    case unavailable(String)
    /// The statement failed; `sqlState` is PostgreSQL's five-character code.
    case query(sqlState: String, message: String)
    /// A result did not have the expected shape.
    case decoding(String)

    /// Safe to log anywhere: a statement's error names its SQLSTATE only (PostgreSQL's message can
    /// quote values, in its text or its DETAIL); connection errors and our own decoding messages
    /// carry no data. `unredacted` has PostgreSQL's message, for a person debugging a test.
    public var description: String {
        switch self {
        case .unavailable(let message): "database unavailable: \(message)"
        case .query(let state, _): "database error \(state)"
        case .decoding(let message): "unexpected database result: \(message)"
        }
    }

    /// The same as `description` (kept for call sites that say so explicitly).
    public var redacted: String { self.description }

    /// With PostgreSQL's own message, which may quote values: never for logs.
    public var unredacted: String {
        if case .query(let state, let message) = self { return "database error \(state): \(message)" }
        return self.description
    }
}

/// Rows of a result as text (libpq's text format), NULL as nil.
public struct QueryResult: Sendable {
    public var rows: [[String?]]
    public var affectedRows: Int

    public func value(_ row: Int, _ column: Int) throws(StoreError) -> String {
        guard row < self.rows.count, column < self.rows[row].count, let value = self.rows[row][column] else {
            throw StoreError.decoding("no value at row \(row), column \(column)")
        }
        return value
    }
}

/// One libpq connection. Blocking: only ever used on its pool's dedicated thread.
final class PostgresConnection {
    private let connection: OpaquePointer

    init(url: String) throws(StoreError) {
        guard let connection = PQconnectdb(url) else { throw .unavailable("out of memory") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(connection)
            throw .unavailable(message)
        }
        // Server notices ("relation already exists, skipping") are not errors: do not print them.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        self.connection = connection
    }

    deinit { PQfinish(self.connection) }

    var isHealthy: Bool { PQstatus(self.connection) == CONNECTION_OK }

    /// Whether an idle connection can take a statement, without a round trip: libpq sees it open,
    /// no transaction is left over, and the server has sent nothing. The server writes to an idle
    /// connection only to end it (a terminated backend's last message and EOF, as after a restart),
    /// so a readable socket means "discard".
    var isUsable: Bool {
        guard self.isHealthy, PQtransactionStatus(self.connection) == PQTRANS_IDLE else { return false }
        var socket = pollfd(fd: PQsocket(self.connection), events: Int16(POLLIN), revents: 0)
        return poll(&socket, 1, 0) == 0
    }

    /// One round trip (an empty query): whether the server still answers on this connection.
    func ping() -> Bool {
        guard let result = PQexec(self.connection, "") else { return false }
        defer { PQclear(result) }
        return PQresultStatus(result) == PGRES_EMPTY_QUERY && self.isHealthy
    }

    /// Names of this connection's prepared statements by their SQL text. A statement with
    /// parameters is parsed and planned once per connection instead of once per call (for the
    /// feedback write, planning cost more than executing).
    private var prepared: [String: String] = [:]
    private var preparedCount = 0
    /// Statement texts are constants in the code, so this is never reached in practice; the bound
    /// keeps a caller that builds SQL text from growing the server's memory.
    static let preparedCapacity = 256

    /// Runs one statement with text parameters ($1, $2, ...); without parameters, as a simple query.
    @discardableResult
    func execute(_ sql: String, _ parameters: [String?] = []) throws(StoreError) -> QueryResult {
        if parameters.isEmpty { return try self.read(PQexec(self.connection, sql)) }
        let name = try self.preparedName(sql, parameterCount: parameters.count)
        let result: OpaquePointer? = Self.withCStrings(parameters) { values in
            PQexecPrepared(self.connection, name, Int32(parameters.count), values, nil, nil, 0)
        }
        return try self.read(result)
    }

    private func preparedName(_ sql: String, parameterCount: Int) throws(StoreError) -> String {
        if let name = self.prepared[sql] { return name }
        if self.prepared.count >= Self.preparedCapacity {
            try self.read(PQexec(self.connection, "DEALLOCATE ALL"))
            self.prepared.removeAll()
        }
        self.preparedCount += 1
        let name = "aurora_\(self.preparedCount)"
        try self.read(PQprepare(self.connection, name, sql, Int32(parameterCount), nil))
        self.prepared[sql] = name
        return name
    }

    /// Runs several statements without parameters (migrations); the last result is returned.
    @discardableResult
    func executeScript(_ sql: String) throws(StoreError) -> QueryResult {
        try self.read(PQexec(self.connection, sql))
    }

    @discardableResult
    private func read(_ result: OpaquePointer?) throws(StoreError) -> QueryResult {
        guard let result else { throw self.failure() }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
            var rows: [[String?]] = []
            let rowCount = Int(PQntuples(result))
            let columnCount = Int(PQnfields(result))
            rows.reserveCapacity(rowCount)
            for row in 0..<rowCount {
                var values: [String?] = []
                values.reserveCapacity(columnCount)
                for column in 0..<columnCount {
                    if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                        values.append(nil)
                    } else {
                        values.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                    }
                }
                rows.append(values)
            }
            let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
            return QueryResult(rows: rows, affectedRows: affected)
        default:
            if !self.isHealthy { throw self.failure() }
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? "XX000"
            let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            // Connection-class errors (08xxx) and shutdowns (57P01..57P03) mean "try again later".
            if state.hasPrefix("08") || state.hasPrefix("57P") { throw .unavailable(message) }
            throw .query(sqlState: state, message: message)
        }
    }

    private func failure() -> StoreError {
        .unavailable(String(cString: PQerrorMessage(self.connection)).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    private static func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0)! } }
        defer { for pointer in pointers { free(pointer) } }
        return body(pointers.map { $0.map { UnsafePointer($0) } })
    }
}
