import AuroraWire
import CoreMetrics
import NIOConcurrencyHelpers
import NIOCore

/// The server's metrics, with bounded labels (method names come from the router; unknown
/// methods are counted as refused calls, never by the name a client sent).
final class RPCServerMetrics: Sendable {
    private let connections = Gauge(label: "aurora_rpc_open_connections")
    private let connectionsTotal = Counter(label: "aurora_rpc_connections_total")
    private let handshakesRefused = Counter(label: "aurora_rpc_handshakes_refused_total")
    private struct CallKey: Hashable {
        var method: String
        var code: UInt32
    }
    private let calls = NIOLockedValueBox<[CallKey: CoreMetrics.Counter]>([:])
    private let connectionErrors = NIOLockedValueBox<[UInt32: CoreMetrics.Counter]>([:])
    private let durations = NIOLockedValueBox<[String: CoreMetrics.Timer]>([:])
    private let open = NIOLockedValueBox<Int>(0)

    /// Every method's OK counter and duration histogram exist from start-up, at zero, so that
    /// dashboards and alerts see a series before the first call (rates need a first sample).
    init(methods: [String]) {
        for method in methods {
            _ = self.callCounter(method: method, code: .ok)
            _ = self.durationTimer(method: method)
        }
    }

    func connectionOpened() {
        self.connectionsTotal.increment()
        self.connections.record(self.open.withLockedValue { $0 += 1; return $0 })
    }

    func connectionClosed() {
        self.connections.record(self.open.withLockedValue { $0 -= 1; return $0 })
    }

    func handshakeRefused() {
        self.handshakesRefused.increment()
    }

    func connectionError(code: WireError.Code) {
        let counter = self.connectionErrors.withLockedValue { counters in
            if let counter = counters[code.rawValue] { return counter }
            let counter = CoreMetrics.Counter(label: "aurora_rpc_connection_errors_total", dimensions: [("code", code.description)])
            counters[code.rawValue] = counter
            return counter
        }
        counter.increment()
    }

    func callRefused(code: StatusCode) {
        self.callCounter(method: "refused", code: code).increment()
    }

    func callFinished(method: String, code: StatusCode, started: NIODeadline) {
        self.callCounter(method: method, code: code).increment()
        self.durationTimer(method: method).recordNanoseconds((NIODeadline.now() - started).nanoseconds)
    }

    private func durationTimer(method: String) -> CoreMetrics.Timer {
        self.durations.withLockedValue { timers in
            if let timer = timers[method] { return timer }
            let timer = CoreMetrics.Timer(label: "aurora_rpc_duration_seconds", dimensions: [("method", method)], preferredDisplayUnit: .seconds)
            timers[method] = timer
            return timer
        }
    }

    /// Counters are created once per (method, status) and then only looked up: no strings built per call.
    private func callCounter(method: String, code: StatusCode) -> CoreMetrics.Counter {
        let key = CallKey(method: method, code: code.rawValue)
        return self.calls.withLockedValue { counters in
            if let counter = counters[key] { return counter }
            let counter = CoreMetrics.Counter(
                label: "aurora_rpc_calls_total", dimensions: [("method", method), ("status", code.description)])
            counters[key] = counter
            return counter
        }
    }
}
