import Dispatch
import Foundation
import Logging
import Synchronization

/// A small pool of libpq connections, each with its own thread, so blocking libpq calls never run
/// on an event loop or the cooperative pool. While the database is down, calls fail fast with
/// `.unavailable` and reconnection is retried with exponential backoff (so a restarted database is
/// picked up without a restart).
///
/// The pool heals: a connection is checked before each use (no round trip: see
/// `PostgresConnection.isUsable`) and one that failed is discarded and reopened. Once the pool has
/// seen a connection fail, every other connection opened before that answers a ping before its
/// next use (a database restart kills them all, and not every dead socket shows it). A call
/// marked idempotent that fails with a connection error is retried once on a fresh connection;
/// other writes are not: a COMMIT whose answer was lost may or may not have happened.
public final class PostgresPool: Sendable {
    public struct Configuration: Sendable {
        public var url: String
        public var connections: Int = 4
        public var initialBackoff: Duration = .milliseconds(100)
        public var maximumBackoff: Duration = .seconds(5)

        public init(url: String, connections: Int = 4) {
            self.url = url
            self.connections = connections
        }
    }

    private final class Slot: @unchecked Sendable {
        let queue: DispatchQueue
        /// Touched only on `queue`.
        var connection: PostgresConnection?
        /// The pool's `failures` when `connection` was opened or last answered a ping.
        var checkedAt = 0
        init(index: Int) { self.queue = DispatchQueue(label: "aurora.postgres.\(index)") }
    }

    private struct State {
        var idle: [Int]
        var waiters: [(id: Int, continuation: CheckedContinuation<Int?, Never>)] = []
        var nextWaiter = 0
        var retryAt: ContinuousClock.Instant?
        var backoff: Duration
        var lastError: String = ""
        /// Connection failures seen (statements and connection attempts).
        var failures = 0
        var closed = false
    }

    public let configuration: Configuration
    private let slots: [Slot]
    private let state: Mutex<State>
    private let logger: Logger

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.slots = (0..<max(1, configuration.connections)).map(Slot.init)
        self.state = Mutex(State(idle: Array(0..<max(1, configuration.connections)), backoff: configuration.initialBackoff))
        self.logger = logger
    }

    /// Runs `body` with a connection on that connection's thread. `idempotent`: running `body`
    /// twice does no harm, so a connection failure is retried once on a fresh connection. A
    /// cancelled caller gets `.unavailable` at once; a statement already sent runs to its end
    /// before the connection is used again.
    func withConnection<T: Sendable>(
        idempotent: Bool = false, _ body: @escaping @Sendable (PostgresConnection) throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        guard let index = await self.acquire() else {
            throw .unavailable(self.state.withLock { $0.closed } ? "the connection pool is closed" : "the call was cancelled")
        }
        let slot = self.slots[index]
        let reply = Reply<T>()
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                reply.wait(continuation)
                slot.queue.async {
                    // Nothing is started for a caller that has gone.
                    if !reply.isDelivered { reply.deliver(self.run(slot, idempotent: idempotent, body)) }
                    self.release(index)
                }
            }
        } onCancel: {
            reply.deliver(.failure(.unavailable("the call was cancelled")))
        }
        return try result.get()
    }

    /// Runs `body` inside BEGIN ... COMMIT (ROLLBACK on error). Returns only after COMMIT succeeded.
    /// `idempotent`: as for `withConnection` (a read-only body, or one whose repetition is harmless).
    public func transaction<T: Sendable>(
        idempotent: Bool = false, _ body: @escaping @Sendable (Transaction) throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        try await self.withConnection(idempotent: idempotent) { (connection) throws(StoreError) -> T in
            try connection.execute("BEGIN")
            do throws(StoreError) {
                let value = try body(Transaction(connection: connection))
                try connection.execute("COMMIT")
                return value
            } catch {
                _ = try? connection.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// One statement outside an explicit transaction. `idempotent`: as for `withConnection`.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = [], idempotent: Bool = false) async throws(StoreError) -> QueryResult {
        try await self.withConnection(idempotent: idempotent) { (connection) throws(StoreError) -> QueryResult in
            try connection.execute(sql, parameters)
        }
    }

    /// Closes every connection once its current statement ends; later calls get `.unavailable`.
    public func close() {
        let waiters = self.state.withLock { state in
            state.closed = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.continuation.resume(returning: nil) }
        for slot in self.slots { slot.queue.async { slot.connection = nil } }
    }

    private func run<T>(_ slot: Slot, idempotent: Bool, _ body: (PostgresConnection) throws(StoreError) -> T) -> Result<T, StoreError> {
        let first = self.attempt(slot, body)
        // Connection-level errors are `.unavailable`; the failed connection is gone, so the retry
        // opens a fresh one (or fails fast if the database cannot be reached).
        guard idempotent, case .failure(.unavailable) = first else { return first }
        return self.attempt(slot, body)
    }

    private func attempt<T>(_ slot: Slot, _ body: (PostgresConnection) throws(StoreError) -> T) -> Result<T, StoreError> {
        let (closed, failures) = self.state.withLock { ($0.closed, $0.failures) }
        if closed { return .failure(.unavailable("the connection pool is closed")) }
        if let connection = slot.connection {
            if !connection.isUsable || (slot.checkedAt < failures && !connection.ping()) {
                slot.connection = nil
            } else {
                slot.checkedAt = failures
            }
        }
        if slot.connection == nil {
            if let refusal = self.state.withLock({ state -> String? in
                if let retryAt = state.retryAt, ContinuousClock.now < retryAt { return state.lastError }
                return nil
            }) {
                return .failure(.unavailable(refusal))
            }
            do throws(StoreError) {
                slot.connection = try PostgresConnection(url: self.configuration.url)
                slot.checkedAt = failures
                self.state.withLock { state in
                    if state.retryAt != nil { self.logger.notice("database reachable again") }
                    state.retryAt = nil
                    state.backoff = self.configuration.initialBackoff
                }
            } catch {
                self.state.withLock { state in
                    if state.retryAt == nil { self.logger.warning("database unreachable", metadata: ["error": "\(error.redacted)"]) }
                    state.lastError = "\(error)"
                    state.retryAt = ContinuousClock.now + state.backoff
                    state.backoff = min(state.backoff * 2, self.configuration.maximumBackoff)
                    state.failures += 1
                }
                return .failure(error)
            }
        }
        do throws(StoreError) {
            return .success(try body(slot.connection!))
        } catch {
            if case .unavailable = error {
                slot.connection = nil
                self.state.withLock { $0.failures += 1 }
                self.logger.notice("database connection lost; reconnecting", metadata: ["error": "\(error.redacted)"])
            } else if !(slot.connection?.isHealthy ?? false) {
                slot.connection = nil
            }
            return .failure(error)
        }
    }

    /// A free connection's index; nil if the pool closed or the caller was cancelled meanwhile.
    private func acquire() async -> Int? {
        if let index = self.state.withLock({ $0.closed ? nil : $0.idle.popLast() }) { return index }
        let id = self.state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = self.state.withLock { state -> Int?? in
                    if state.closed || Task.isCancelled { return .some(nil) }
                    if let index = state.idle.popLast() { return .some(index) }
                    state.waiters.append((id, continuation))
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiter = self.state.withLock { state -> CheckedContinuation<Int?, Never>? in
                guard let position = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: position).continuation
            }
            waiter?.resume(returning: nil)
        }
    }

    private func release(_ index: Int) {
        let waiter = self.state.withLock { state -> CheckedContinuation<Int?, Never>? in
            if state.waiters.isEmpty {
                state.idle.append(index)
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        waiter?.resume(returning: index)
    }
}

/// A call's result, delivered once: by the connection's thread, or by cancellation first.
private final class Reply<T: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<Result<T, StoreError>, Never>?, result: Result<T, StoreError>?)>((nil, nil))

    var isDelivered: Bool { self.state.withLock { $0.result != nil } }

    func wait(_ continuation: CheckedContinuation<Result<T, StoreError>, Never>) {
        let result = self.state.withLock { state -> Result<T, StoreError>? in
            if state.result == nil { state.continuation = continuation }
            return state.result
        }
        if let result { continuation.resume(returning: result) }
    }

    func deliver(_ result: Result<T, StoreError>) {
        let continuation = self.state.withLock { state -> CheckedContinuation<Result<T, StoreError>, Never>? in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(returning: result)
    }
}

/// Statements inside one transaction.
public struct Transaction {
    let connection: PostgresConnection

    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = []) throws(StoreError) -> QueryResult {
        try self.connection.execute(sql, parameters)
    }

    /// Several statements without parameters (schema migrations).
    public func executeScript(_ sql: String) throws(StoreError) {
        try self.connection.executeScript(sql)
    }
}
