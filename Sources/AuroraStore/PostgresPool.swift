import Dispatch
import Foundation
import Logging
import Synchronization

/// A small pool of libpq connections, each with its own thread, so blocking libpq calls never run
/// on an event loop or the cooperative pool. A broken connection is dropped and reopened on next
/// use; while the database is down, calls fail fast with `.unavailable` and reconnection is
/// retried with exponential backoff (so a restarted database is picked up without a restart).
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
        init(index: Int) { self.queue = DispatchQueue(label: "aurora.postgres.\(index)") }
    }

    private struct State {
        var idle: [Int]
        var waiters: [CheckedContinuation<Int, Never>] = []
        var retryAt: ContinuousClock.Instant?
        var backoff: Duration
        var lastError: String = ""
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

    /// Runs `body` with a connection on that connection's thread.
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws(StoreError) -> T) async throws(StoreError) -> T {
        let index = await self.acquire()
        defer { self.release(index) }
        let slot = self.slots[index]
        let result: Result<T, StoreError> = await withCheckedContinuation { continuation in
            slot.queue.async {
                continuation.resume(returning: self.run(slot, body))
            }
        }
        return try result.get()
    }

    /// Runs `body` inside BEGIN ... COMMIT (ROLLBACK on error). Returns only after COMMIT succeeded.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (Transaction) throws(StoreError) -> T) async throws(StoreError) -> T {
        try await self.withConnection { (connection) throws(StoreError) -> T in
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

    /// One statement outside an explicit transaction.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = []) async throws(StoreError) -> QueryResult {
        try await self.withConnection { (connection) throws(StoreError) -> QueryResult in try connection.execute(sql, parameters) }
    }

    private func run<T>(_ slot: Slot, _ body: (PostgresConnection) throws(StoreError) -> T) -> Result<T, StoreError> {
        if let connection = slot.connection, !connection.isHealthy { slot.connection = nil }
        if slot.connection == nil {
            if let refusal = self.state.withLock({ state -> String? in
                if let retryAt = state.retryAt, ContinuousClock.now < retryAt { return state.lastError }
                return nil
            }) {
                return .failure(.unavailable(refusal))
            }
            do throws(StoreError) {
                slot.connection = try PostgresConnection(url: self.configuration.url)
                self.state.withLock { state in
                    if state.retryAt != nil { self.logger.notice("database reachable again") }
                    state.retryAt = nil
                    state.backoff = self.configuration.initialBackoff
                }
            } catch {
                self.state.withLock { state in
                    if state.retryAt == nil { self.logger.warning("database unreachable", metadata: ["error": "\(error)"]) }
                    state.lastError = "\(error)"
                    state.retryAt = ContinuousClock.now + state.backoff
                    state.backoff = min(state.backoff * 2, self.configuration.maximumBackoff)
                }
                return .failure(error)
            }
        }
        do throws(StoreError) {
            return .success(try body(slot.connection!))
        } catch {
            if !(slot.connection?.isHealthy ?? false) { slot.connection = nil }
            return .failure(error)
        }
    }

    private func acquire() async -> Int {
        if let index = self.state.withLock({ $0.idle.popLast() }) { return index }
        return await withCheckedContinuation { continuation in
            let index = self.state.withLock { state -> Int? in
                if let index = state.idle.popLast() { return index }
                state.waiters.append(continuation)
                return nil
            }
            if let index { continuation.resume(returning: index) }
        }
    }

    private func release(_ index: Int) {
        let waiter = self.state.withLock { state -> CheckedContinuation<Int, Never>? in
            if state.waiters.isEmpty {
                state.idle.append(index)
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume(returning: index)
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
