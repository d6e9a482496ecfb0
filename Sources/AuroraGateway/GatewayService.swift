import AuroraLearning
import AuroraProtocol
import AuroraRPC
import AuroraStatistics
import Crypto
import Foundation
import Logging
import Metrics

/// The gateway's handlers: per-method scopes, per-user rate limits, and orchestration of the
/// parser-service (which sees the file) and the learning-service (which sees statistics only).
///
/// It keeps no state besides its rate-limit buckets: an analysis lives in the learning-service
/// (as noised fingerprints), and columns are named there only by keyed hashes.
public final class GatewayService: Sendable {
    public struct Configuration: Sendable {
        /// Calls per user (every method counts one).
        public var calls = RateLimiter.Limit(rate: 20, burst: 40)
        /// Upload bytes per user. Uploads over it are slowed down (up to `maximumThrottle` per
        /// chunk), then refused.
        public var uploadBytes = RateLimiter.Limit(rate: 64 * 1024 * 1024, burst: 256 * 1024 * 1024)
        public var maximumThrottle: Duration = .seconds(5)
        /// Largest upload accepted.
        public var maximumUploadBytes: Int = 10 << 30
        /// Analyze uploads in progress at once, in total and per user; one over either is refused
        /// with RESOURCE_EXHAUSTED (never queued behind uploads that may stall).
        public var uploads = ConcurrencyLimit.Limits(total: 32, perUser: 4)
        /// Deadline for downstream calls when the client set none.
        public var defaultDeadline: Duration = .seconds(3600)
        /// Columns per Recommend, verdicts and items per Feedback (the learning-service's default
        /// limit; it applies its own too).
        public var maximumColumns: Int = 4096

        public init() {}
    }

    let configuration: Configuration
    let parser: any RPCCaller
    let learning: any RPCCaller
    let callLimiter: RateLimiter
    let byteLimiter: RateLimiter
    let uploads: ConcurrencyLimit
    /// Key for column-name hashes, derived from the internal secret so every replica agrees.
    let columnKey: SymmetricKey
    let logger: Logger
    let metrics = GatewayMetrics()

    struct GatewayMetrics: Sendable {
        let limitedCalls = Counter(label: "aurora_gateway_rate_limited_total", dimensions: [("kind", "calls")])
        let limitedBytes = Counter(label: "aurora_gateway_rate_limited_total", dimensions: [("kind", "bytes")])
        let throttled = Counter(label: "aurora_gateway_upload_throttled_total")
        let uploadBytes = Counter(label: "aurora_gateway_upload_bytes_total")
        let analyses = Counter(label: "aurora_gateway_analyses_total")
        let downstreamFailures = Counter(label: "aurora_gateway_downstream_failures_total")
        /// Analyses answered with built-in recommendations only, the learning-service being unavailable.
        let degradedAnalyses = Counter(label: "aurora_gateway_degraded_analyses_total")
    }

    public init(configuration: Configuration, parser: any RPCCaller, learning: any RPCCaller, internalSecret: String, logger: Logger) {
        self.configuration = configuration
        self.parser = parser
        self.learning = learning
        self.callLimiter = RateLimiter(limit: configuration.calls)
        self.byteLimiter = RateLimiter(limit: configuration.uploadBytes)
        self.uploads = ConcurrencyLimit(limits: configuration.uploads, what: "Analyze uploads")
        self.columnKey = SymmetricKey(
            data: HMAC<SHA256>.authenticationCode(for: Array("aurora column-name key v1".utf8), using: SymmetricKey(data: Array(internalSecret.utf8))))
        self.logger = logger
    }

    public func register(into router: inout Router) {
        router.clientStreaming(GatewayAPI.analyze) { uploads, context in try await self.analyze(uploads, context) }
        router.unary(GatewayAPI.recommend) { request, context in try await self.recommend(request, context) }
        router.unary(GatewayAPI.feedback) { request, context in try await self.feedback(request, context) }
        router.unary(GatewayAPI.rules) { request, context in
            try await self.forward(LearningAPI.listRules, request, context)
        }
        router.unary(GatewayAPI.disableRule) { request, context in
            try await self.forward(LearningAPI.disableRule, request, context)
        }
        router.unary(GatewayAPI.forget) { request, context in
            try await self.forward(LearningAPI.forget, request, context)
        }
        router.unary(GatewayAPI.stats) { request, context in
            try await self.forward(LearningAPI.stats, request, context)
        }
    }

    // MARK: Admission

    /// The caller's user id once scope and call rate allow the call.
    func admit(_ context: ServerContext) throws -> String {
        let principal = context.principal
        let needed = GatewayScopes.required[context.method] ?? "admin"
        guard principal.scopes.contains(needed) || principal.scopes.contains("admin") else {
            throw RPCError(.permissionDenied, "your token lacks the '\(needed)' scope for \(context.method); ask for a token with it")
        }
        if case .limited(let retryAfter) = self.callLimiter.acquire(principal.id) {
            self.metrics.limitedCalls.increment()
            throw RPCError(
                .resourceExhausted, "rate limit of \(self.configuration.calls.rate) calls/s (burst \(Int(self.configuration.calls.burst))) exceeded",
                retryAfter: retryAfter)
        }
        return principal.id
    }

    /// Downstream call options: the user, the trace id, and what is left of the caller's deadline.
    func downstream(_ context: ServerContext, user: String) -> CallOptions {
        let remaining = context.deadline - ContinuousClock.now
        var metadata = [MetadataKeys.user: user]
        metadata[MetadataKeys.traceID] = context.metadata[MetadataKeys.traceID] ?? Self.randomHex(bytes: 8)
        return CallOptions(timeout: max(.milliseconds(1), min(remaining, self.configuration.defaultDeadline)), metadata: metadata)
    }

    /// Errors from a downstream service, made clear for the client: status codes that describe the
    /// request (bad file, not found, ...) pass through; a service that cannot be reached or went
    /// away mid-call becomes UNAVAILABLE naming it (detail `service`), with a retry hint. Its
    /// message says what happened in plain words; the log keeps the details.
    func translate(_ error: any Error, service: String) -> any Error {
        guard let error = error as? RPCError else { return error }
        guard Self.isOutage(error.code) else { return error }
        self.recordOutage(error, service: service)
        return RPCError(
            .unavailable, "the \(service) is unavailable (\(Self.outageReason(error))); try again in a minute, and if it persists tell whoever runs this AURORA",
            retryAfter: .seconds(1), details: ["service": service])
    }

    /// Counts and logs (with the details the client is not shown) a downstream service's failure.
    func recordOutage(_ error: RPCError, service: String) {
        self.metrics.downstreamFailures.increment()
        self.logger.warning("downstream call failed", metadata: ["service": "\(service)", "code": "\(error.code)", "error": "\(error.message)"])
    }

    /// Status codes that say the downstream service failed, not the request.
    static func isOutage(_ code: StatusCode) -> Bool {
        [.unavailable, .internal, .unknown, .unauthenticated, .deadlineExceeded, .dataLoss].contains(code)
    }

    /// What went wrong downstream, in words: the RPC client's messages are written for people
    /// (connection failures are described, not dumped), a refused internal credential is a
    /// configuration error of the gateway.
    static func outageReason(_ error: RPCError) -> String {
        switch error.code {
        case .unauthenticated: "it refused the gateway's internal credential: the two are configured with different secrets"
        case .deadlineExceeded: "it did not answer in time"
        case .internal, .unknown, .dataLoss: "it failed while answering"
        default: error.message
        }
    }

    // MARK: Methods

    func analyze(_ uploads: RequestStream<Aurora_Gateway_V1_AnalyzeUpload>, _ context: ServerContext) async throws -> Aurora_Gateway_V1_AnalyzeResponse {
        let user = try self.admit(context)
        return try await self.uploads.withPermit(user: user) { try await self.analyzeAdmitted(uploads, context, user: user) }
    }

    private func analyzeAdmitted(
        _ uploads: RequestStream<Aurora_Gateway_V1_AnalyzeUpload>, _ context: ServerContext, user: String
    ) async throws -> Aurora_Gateway_V1_AnalyzeResponse {
        var iterator = uploads.makeAsyncIterator()
        var start = Aurora_Gateway_V1_AnalyzeStart()
        var firstData: Data?
        switch try await iterator.next()?.part {
        case .start(let value): start = value
        case .data(let data): firstData = data
        case nil: throw RPCError(.invalidArgument, "Analyze got no upload: send AnalyzeStart, then the file's bytes")
        }
        guard start.domain.utf8.count <= 64 else { throw RPCError(.invalidArgument, "domain is longer than 64 bytes") }
        guard start.target.utf8.count <= 1024 else { throw RPCError(.invalidArgument, "the target is longer than 1024 bytes: give a column name or a zero-based index") }
        let options = self.downstream(context, user: user)
        let started = ContinuousClock.now
        var received = 0
        let profile: Aurora_Profile_V1_DatasetProfile
        do {
            profile = try await self.parser.clientStreaming(ParserAPI.profile, options: options) { writer in
                var head = Aurora_Profile_V1_UploadChunk()
                head.options = start.read
                try await writer.send(head)
                var next = firstData
                while true {
                    if next == nil {
                        guard let message = try await iterator.next() else { break }
                        guard case .data(let data) = message.part else {
                            throw RPCError(.invalidArgument, "AnalyzeStart must come first and only once")
                        }
                        next = data
                    }
                    guard let data = next else { break }
                    next = nil
                    received += data.count
                    guard received <= self.configuration.maximumUploadBytes else {
                        throw RPCError(.resourceExhausted, "upload larger than the gateway's limit of \(self.configuration.maximumUploadBytes) bytes")
                    }
                    try await self.throttle(user: user, bytes: data.count)
                    var chunk = Aurora_Profile_V1_UploadChunk()
                    chunk.data = data
                    try await writer.send(chunk)
                }
            }
        } catch {
            throw self.translate(error, service: "parser-service")
        }
        self.metrics.uploadBytes.increment(by: Int64(received))

        // Only statistics go on: top values (cell values) and names stay here.
        var request = Aurora_Learning_V1_RecommendRequest()
        request.batch.domain = start.domain
        // Moments the parser could not hold in a Double (values beyond about 1e77) would be refused.
        request.batch.columns = profile.columns.map { RequestValidation.clampingNumbers(Self.withoutValues($0.stats)) }
        request.analysisID = "an_" + Self.randomHex(bytes: 12)
        request.columnKeys = profile.columns.map { self.columnKey(user: user, name: $0.name) }
        if !start.target.isEmpty {
            // A name wins over an index (a column may be called "3"); the message names neither.
            guard let target = profile.columns.firstIndex(where: { $0.name == start.target }) ?? Int(start.target).flatMap({ $0 >= 0 && $0 < profile.columns.count ? $0 : nil }) else {
                throw RPCError(.invalidArgument, "the target is not among the file's \(profile.columns.count) columns: give its name exactly as in the header, or its zero-based index")
            }
            request.targetColumns = [UInt32(target)]
        }
        var response = Aurora_Gateway_V1_AnalyzeResponse()
        response.profile = profile
        do {
            let answer = try await self.learning.unary(LearningAPI.recommend, request, options: options)
            response.recommendations = answer.recommendations
            // Past the user's privacy budget the analysis was not recorded: no id to give feedback on.
            response.analysisID = answer.privacyBudgetSpent ? "" : request.analysisID
            response.privacyBudgetSpent = answer.privacyBudgetSpent
        } catch let error as RPCError where Self.isOutage(error.code) {
            // Degraded mode: the profile is done and the built-in rules need no store, so the user
            // gets them, marked, rather than nothing. Nothing is recorded: no analysis id.
            self.recordOutage(error, service: "learning-service")
            self.metrics.degradedAnalyses.increment()
            response.recommendations = Self.builtinRecommendations(request.batch.columns, targets: Set(request.targetColumns.map(Int.init)))
            response.learnedRulesMissing =
                "learned rules are missing: the learning-service is unavailable (\(Self.outageReason(error))). These are the built-in recommendations only, and this analysis cannot take feedback; analyze again later for your learned rules."
        } catch {
            throw self.translate(error, service: "learning-service")
        }
        self.metrics.analyses.increment()
        context.logger.info(
            "analysis done",
            metadata: [
                "analysis": "\(response.analysisID.isEmpty ? "not recorded" : response.analysisID)", "trace": "\(options.metadata[MetadataKeys.traceID] ?? "")", "bytes": "\(received)", "rows": "\(profile.rows)", "columns": "\(profile.columns.count)",
                "ms": "\(Int(Self.secondsValue(ContinuousClock.now - started) * 1000))",
            ])
        return response
    }

    /// What the learning-service would answer for a user with no learned rules.
    static func builtinRecommendations(_ columns: [Aurora_Profile_V1_ColumnStatistics], targets: Set<Int>) -> [Aurora_Learning_V1_Recommendation] {
        columns.enumerated().map { index, message in
            let stats = ColumnStatistics(message)
            let decision = targets.contains(index) ? Recommender.recommendTarget(stats) : Recommender.recommend(stats, domain: "", rules: [])
            return Aurora_Learning_V1_Recommendation(decision, stats: stats, index: index, id: 0)
        }
    }

    /// Holds an upload chunk back while the user is over their byte rate; refuses when the wait
    /// would be longer than `maximumThrottle`.
    func throttle(user: String, bytes: Int) async throws {
        let (wait, taken) = self.byteLimiter.reserve(user, cost: Double(bytes), maximumWait: self.configuration.maximumThrottle)
        guard taken else {
            self.metrics.limitedBytes.increment()
            throw RPCError(
                .resourceExhausted,
                "upload rate limit of \(Int(self.configuration.uploadBytes.rate)) bytes/s (burst \(Int(self.configuration.uploadBytes.burst))) exceeded",
                retryAfter: wait)
        }
        if wait > .zero {
            self.metrics.throttled.increment()
            try await Task.sleep(for: wait)
        }
    }

    func recommend(_ request: Aurora_Learning_V1_RecommendRequest, _ context: ServerContext) async throws -> Aurora_Learning_V1_RecommendResponse {
        let user = try self.admit(context)
        var forwarded = Aurora_Learning_V1_RecommendRequest()
        forwarded.batch.domain = request.batch.domain
        forwarded.batch.columns = request.batch.columns.map(Self.withoutValues)
        // Refused here, naming the field, before it costs the learning-service anything (which checks again).
        try RequestValidation.check(forwarded, maximumColumns: self.configuration.maximumColumns)
        do {
            return try await self.learning.unary(LearningAPI.recommend, forwarded, options: self.downstream(context, user: user))
        } catch {
            throw self.translate(error, service: "learning-service")
        }
    }

    func feedback(_ request: Aurora_Gateway_V1_FeedbackRequest, _ context: ServerContext) async throws -> Aurora_Learning_V1_FeedbackResponse {
        let user = try self.admit(context)
        guard !request.verdicts.isEmpty || !request.items.isEmpty || request.acceptRest else {
            throw RPCError(.invalidArgument, "feedback needs at least one verdict (accept or correct a column, or accept the rest)")
        }
        guard request.verdicts.isEmpty || !request.analysisID.isEmpty else {
            throw RPCError(.invalidArgument, "verdicts need the analysis_id they refer to")
        }
        // Top values are dropped below, not refused: a client may send a profile's statistics as they are.
        var checked = request
        for index in checked.items.indices where checked.items[index].hasStats { checked.items[index].stats.topValues = [] }
        try RequestValidation.check(checked, maximumItems: self.configuration.maximumColumns)
        var forwarded = Aurora_Learning_V1_FeedbackRequest()
        if request.acceptRest { forwarded.acceptRestOfAnalysis = request.analysisID }
        for verdict in request.verdicts {
            var item = Aurora_Learning_V1_FeedbackItem()
            item.analysisID = request.analysisID
            item.columnKey = self.columnKey(user: user, name: verdict.column)
            if let index = UInt32(verdict.column) { item.columnIndex = index }
            item.acceptedAction = verdict.action
            forwarded.items.append(item)
        }
        for var item in request.items {
            item.stats = Self.withoutValues(item.stats)
            forwarded.items.append(item)
        }
        do {
            return try await self.learning.unary(LearningAPI.feedback, forwarded, options: self.downstream(context, user: user))
        } catch {
            throw self.translate(error, service: "learning-service")
        }
    }

    func forward<Request, Response>(_ method: Method<Request, Response>, _ request: Request, _ context: ServerContext) async throws -> Response {
        let user = try self.admit(context)
        do {
            return try await self.learning.unary(method, request, options: self.downstream(context, user: user))
        } catch {
            throw self.translate(error, service: "learning-service")
        }
    }

    // MARK: Helpers

    /// A keyed hash of a column name for this user: the learning-service can match names in
    /// feedback without ever seeing them.
    func columnKey(user: String, name: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array((user + "\u{0}" + name).utf8), using: self.columnKey)
        return code.prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    static func withoutValues(_ stats: Aurora_Profile_V1_ColumnStatistics) -> Aurora_Profile_V1_ColumnStatistics {
        var stats = stats
        stats.topValues = []
        return stats
    }

    static func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    static func secondsValue(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

}
