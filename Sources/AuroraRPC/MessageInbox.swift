import DequeModule
import NIOConcurrencyHelpers
import NIOCore

/// The inbound messages of one stream, handed from the event loop to the one task that reads them.
///
/// Bounded by flow control, not by this type: a peer may only send as many messages as it was
/// granted credit for, and credit is granted back (`onConsume`) only as the reader takes messages.
/// So a slow reader stops the sender instead of growing this buffer.
final class MessageInbox: AsyncSequence, @unchecked Sendable {
    // @unchecked: every mutable field is guarded by `lock`.
    typealias Element = ByteBuffer

    private let lock = NIOLock()
    private var buffer = Deque<ByteBuffer>()
    private var terminal: Result<Void, any Error>?
    private var waiter: CheckedContinuation<ByteBuffer?, any Error>?
    /// Called (outside the lock) with the number of messages taken since the last call.
    private let onConsume: (@Sendable (Int) -> Void)?
    private let consumeBatch: Int
    private var consumedSinceGrant = 0

    init(creditBatch: Int = 1, onConsume: (@Sendable (Int) -> Void)? = nil) {
        self.consumeBatch = Swift.max(1, creditBatch)
        self.onConsume = onConsume
    }

    /// Event loop: a message arrived.
    func push(_ message: ByteBuffer) {
        let waiter: CheckedContinuation<ByteBuffer?, any Error>? = self.lock.withLock {
            guard self.terminal == nil else { return nil }
            if let waiter = self.waiter {
                self.waiter = nil
                self.consumedSinceGrant += 1
                return waiter
            }
            self.buffer.append(message)
            return nil
        }
        if let waiter {
            waiter.resume(returning: message)
            self.grantIfDue()
        }
    }

    /// No more messages: `nil` for a clean end, or the error the reader gets after the buffered ones.
    func finish(_ error: (any Error)? = nil) {
        let waiter: CheckedContinuation<ByteBuffer?, any Error>? = self.lock.withLock {
            guard self.terminal == nil else { return nil }
            self.terminal = error.map { .failure($0) } ?? .success(())
            defer { self.waiter = nil }
            return self.waiter
        }
        if let waiter {
            if let error { waiter.resume(throwing: error) } else { waiter.resume(returning: nil) }
        }
    }

    /// Drops buffered messages and fails the reader at once (cancellation).
    func abort(_ error: any Error) {
        let waiter: CheckedContinuation<ByteBuffer?, any Error>? = self.lock.withLock {
            self.buffer.removeAll()
            self.terminal = .failure(error)
            defer { self.waiter = nil }
            return self.waiter
        }
        waiter?.resume(throwing: error)
    }

    private enum Immediate {
        case message(ByteBuffer)
        case end
        case failure(any Error)
        case wait
    }

    /// What the reader gets right now, if anything; with `waiter`, parks it when nothing is there.
    /// Must be called under the lock.
    private func takeLocked(parking waiter: CheckedContinuation<ByteBuffer?, any Error>?) -> Immediate {
        if let message = self.buffer.popFirst() {
            self.consumedSinceGrant += 1
            return .message(message)
        }
        switch self.terminal {
        case .success: return .end
        case .failure(let error): return .failure(error)
        case nil:
            if let waiter { self.waiter = waiter }
            return .wait
        }
    }

    /// The next message, nil at a clean end; throws the stream's error.
    func next() async throws -> ByteBuffer? {
        switch self.lock.withLock({ self.takeLocked(parking: nil) }) {
        case .message(let message):
            self.grantIfDue()
            return message
        case .end:
            return nil
        case .failure(let error):
            throw error
        case .wait:
            let message = try await withCheckedThrowingContinuation { continuation in
                switch self.lock.withLock({ self.takeLocked(parking: continuation) }) {
                case .message(let message): continuation.resume(returning: message)
                case .end: continuation.resume(returning: nil)
                case .failure(let error): continuation.resume(throwing: error)
                case .wait: break
                }
            }
            if message != nil { self.grantIfDue() }
            return message
        }
    }

    private func grantIfDue() {
        guard let onConsume else { return }
        let due: Int = self.lock.withLock {
            guard self.consumedSinceGrant >= self.consumeBatch, self.terminal == nil else { return 0 }
            defer { self.consumedSinceGrant = 0 }
            return self.consumedSinceGrant
        }
        if due > 0 { onConsume(due) }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let inbox: MessageInbox
        mutating func next() async throws -> ByteBuffer? { try await self.inbox.next() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(inbox: self) }
}

/// Outbound permission to send on one stream: the peer's message credit, and the connection's
/// writability (so a slow peer stops the sender instead of growing the channel's outbound buffer).
final class SendGate: @unchecked Sendable {
    // @unchecked: every mutable field is guarded by `lock`.
    private let lock = NIOLock()
    private var credit: Int
    private var failure: (any Error)?
    private var waiter: CheckedContinuation<Void, any Error>?

    init(credit: Int) {
        self.credit = credit
    }

    /// Takes one credit, waiting for the peer to grant it if none is left.
    func acquire() async throws {
        let ready: Result<Bool, any Error> = self.lock.withLock {
            if let failure = self.failure { return .failure(failure) }
            if self.credit > 0 {
                self.credit -= 1
                return .success(true)
            }
            return .success(false)
        }
        if try ready.get() { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let resolved: Result<Bool, any Error> = self.lock.withLock {
                if let failure = self.failure { return .failure(failure) }
                if self.credit > 0 {
                    self.credit -= 1
                    return .success(true)
                }
                self.waiter = continuation
                return .success(false)
            }
            switch resolved {
            case .success(true): continuation.resume()
            case .success(false): break
            case .failure(let error): continuation.resume(throwing: error)
            }
        }
    }

    /// Event loop: the peer granted `count` more messages.
    func grant(_ count: Int) {
        let waiter: CheckedContinuation<Void, any Error>? = self.lock.withLock {
            self.credit += count
            guard let waiter = self.waiter, self.credit > 0 else { return nil }
            self.credit -= 1
            self.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// The stream ended: every present and future `acquire` throws `error`.
    func fail(_ error: any Error) {
        let waiter: CheckedContinuation<Void, any Error>? = self.lock.withLock {
            if self.failure == nil { self.failure = error }
            defer { self.waiter = nil }
            return self.waiter
        }
        waiter?.resume(throwing: error)
    }
}

/// The connection's writability, mirrored off the event loop so senders can wait for it.
final class WritabilityGate: @unchecked Sendable {
    // @unchecked: every mutable field is guarded by `lock`.
    private let lock = NIOLock()
    private var writable = true
    private var closed: (any Error)?
    private var waiters: [CheckedContinuation<Void, any Error>] = []

    /// Event loop: the channel's writability changed.
    func set(writable: Bool) {
        let waiters: [CheckedContinuation<Void, any Error>] = self.lock.withLock {
            self.writable = writable
            guard writable else { return [] }
            defer { self.waiters = [] }
            return self.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func close(_ error: any Error) {
        let waiters: [CheckedContinuation<Void, any Error>] = self.lock.withLock {
            self.closed = error
            defer { self.waiters = [] }
            return self.waiters
        }
        for waiter in waiters { waiter.resume(throwing: error) }
    }

    func waitUntilWritable() async throws {
        let ready: Result<Bool, any Error> = self.lock.withLock {
            if let closed = self.closed { return .failure(closed) }
            return .success(self.writable)
        }
        if try ready.get() { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let resolved: Result<Bool, any Error> = self.lock.withLock {
                if let closed = self.closed { return .failure(closed) }
                if self.writable { return .success(true) }
                self.waiters.append(continuation)
                return .success(false)
            }
            switch resolved {
            case .success(true): continuation.resume()
            case .success(false): break
            case .failure(let error): continuation.resume(throwing: error)
            }
        }
    }
}
