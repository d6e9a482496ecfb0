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
    private let callCounters = NIOLockedValueBox<[String: CoreMetrics.Counter]>([:])
    private let durations = NIOLockedValueBox<[String: CoreMetrics.Timer]>([:])
    private let open = NIOLockedValueBox<Int>(0)

    init() {}

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
        self.counter("aurora_rpc_connection_errors_total", [("code", code.description)]).increment()
    }

    func callRefused(code: StatusCode) {
        self.counter("aurora_rpc_calls_total", [("method", "refused"), ("status", code.description)]).increment()
    }

    func callFinished(method: String, code: StatusCode, started: NIODeadline) {
        self.counter("aurora_rpc_calls_total", [("method", method), ("status", code.description)]).increment()
        let timer = self.durations.withLockedValue { timers in
            if let timer = timers[method] { return timer }
            let timer = CoreMetrics.Timer(label: "aurora_rpc_duration_seconds", dimensions: [("method", method)], preferredDisplayUnit: .seconds)
            timers[method] = timer
            return timer
        }
        timer.recordNanoseconds((NIODeadline.now() - started).nanoseconds)
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> CoreMetrics.Counter {
        let key = label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        return self.callCounters.withLockedValue { counters in
            if let counter = counters[key] { return counter }
            let counter = CoreMetrics.Counter(label: label, dimensions: dimensions)
            counters[key] = counter
            return counter
        }
    }
}
