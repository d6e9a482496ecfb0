import AuroraLearning
import AuroraProtocol
import AuroraRPC
import AuroraStatistics
import AuroraStore
import AuroraThreads
import Foundation
import Logging
import Metrics
import Synchronization

/// The learning-service's handlers: recommendations from statistics, durable feedback (group
/// commit), per-user decision-tree rules refitted after feedback, rule management, Forget, Stats.
public final class LearningService: Sendable {
    public struct Configuration: Sendable {
        /// ε spent per stored fingerprint (Laplace noise on its continuous features).
        public var epsilon: Double = 4
        /// The most ε spent on one user's stored fingerprints (10,000 columns at the default ε).
        /// Past it, analyses are answered but not recorded, and feedback with new statistics is
        /// refused; Forget resets it.
        public var epsilonBudget: Double = 40_000
        /// A learned rule becomes active after this many agreeing corrections.
        public var minimumSupport: Int = 3
        /// A rule with at least 5 examples whose confidence falls below this is deactivated.
        public var failingConfidence: Double = 0.4
        /// Leaves (rules) per tree, i.e. per user and per user+domain.
        public var maximumRules: Int = 40
        /// Most recent corrections a refit learns from.
        public var maximumExamples: Int = 2000
        /// Cross-user rules need this many distinct users to agree.
        public var kAnonymity: Int = 5
        /// Cross-user rules are recomputed (for the buckets with new feedback) at most this often.
        public var globalRefreshInterval: Duration = .seconds(10)
        /// Buckets with new feedback remembered for that; beyond, the next refresh reads everything.
        public var maximumChangedBuckets: Int = 10_000
        /// Items per group commit.
        public var maximumBatch: Int = 256
        /// Feedback batches committing at once. One is the default: with 8 clients on 2 cores,
        /// 2 to 4 writers measured slower (more thread hops than WAL flushes shared).
        public var feedbackWriters: Int = 1
        /// Columns per Recommend call and items per Feedback call.
        public var maximumColumns: Int = 4096
        /// Refits running at once (each is CPU-bound).
        public var concurrentRefits: Int = 1
        /// A refit waits this long after the feedback that asks for it, so a stream of feedback
        /// from one user costs one refit per period instead of one per batch. A call that reads
        /// the rules (Recommend, ListRules, ...) cuts the wait short: it never sees stale rules.
        public var refitDelay: Duration = .milliseconds(1000)
        /// Recommendation ids fetched from the database at a time.
        public var recommendationIDBlock: Int = 4096
        /// Recommendation-log rows queued for writing before Recommend waits for the write (the
        /// log is written after the answer; this bounds the queue when the database is slow).
        public var maximumQueuedLogRows: Int = 65_536
        /// Hours an analysis's fingerprints are kept for feedback that names the analysis.
        public var analysisLifetimeHours: Int = 168
        /// Days the recommendation log keeps a row (Stats' acceptance over time covers these).
        /// At least the analysis lifetime: feedback on an analysis reads its rows.
        public var logRetentionDays: Int = 90
        /// Log rows deleted per statement when the retention is applied.
        public var retentionBatch: Int = 10_000
        /// At shutdown (once the RPC server has drained), the time queued log rows, feedback and
        /// pending refits get to reach the database; what is left then is dropped and counted.
        public var shutdownTimeout: Duration = .seconds(25)
        /// The keys user ids and domains are stored under (the daemon reads them from a file; the
        /// default, one random key per process, suits tests and in-process use).
        public var pseudonyms: PseudonymKeys = .processWide

        public init() {}
    }

    let configuration: Configuration
    let store: LearningStore
    let logger: Logger
    let batcher: GroupCommit<PendingFeedback, Bool>
    /// Written after Recommend answers, except for analyses (their fingerprints must be stored
    /// before the answer). Readers of the log flush it first: Feedback (outcomes), Stats, Forget.
    let recommendationLog: GroupCommit<LearningStore.LoggedRecommendation, Void>
    let recommendationIDs: RecommendationIDs
    let refits: RefitScheduler
    /// Group-commit writers, refits and id prefetches: children of `run()`.
    let background = BackgroundWork()
    /// Refits running at once across users: under load, corrections keep being stored at the
    /// database's pace while refits queue (and coalesce per user) instead of taking every core.
    let refitSlots: AsyncSemaphore
    /// Where trees are fitted: below the priority of requests and commits.
    let refitThreads: WorkerThreads
    let metrics = ServiceMetrics()
    /// Active rules per user (their own and the global ones), dropped when the user's rules change
    /// and reloaded after `ruleCacheLifetime` (global rules change without the user).
    let ruleCache = Mutex<[String: (rules: RuleBook, loaded: ContinuousClock.Instant)]>([:])
    let ruleCacheLifetime: Duration = .seconds(10)
    let ruleCacheCapacity = 10_000
    /// Fingerprint buckets with feedback stored since the last cross-user refresh; nil: refresh
    /// every bucket (at start-up, after a failed refresh, or when too many changed).
    let changedBuckets = Mutex<Set<String>?>(nil)
    /// Pseudonyms (user or domain) whose rows under earlier keys have been moved to the current
    /// key in this process; used only while the key file lists earlier keys.
    let rekeyed = Mutex<Set<String>>([])

    struct ServiceMetrics: Sendable {
        let recommendations = Counter(label: "aurora_learning_recommendations_total")
        let learned = Counter(label: "aurora_learning_recommendations_learned_total")
        let accepted = Counter(label: "aurora_learning_feedback_total", dimensions: [("outcome", "accepted")])
        let corrected = Counter(label: "aurora_learning_feedback_total", dimensions: [("outcome", "corrected")])
        let epsilon = Counter(label: "aurora_learning_epsilon_spent_millis_total")
        let refitDuration = Timer(label: "aurora_learning_refit_duration_seconds", preferredDisplayUnit: .seconds)
    }

    public init(configuration: Configuration, pool: PostgresPool, logger: Logger) {
        self.configuration = configuration
        let backgroundPool = PostgresPool(
            configuration: .init(url: pool.configuration.url, connections: max(1, pool.configuration.connections / 2)), logger: logger)
        self.store = LearningStore(pool: pool, background: backgroundPool)
        self.logger = logger
        let store = self.store
        let background = self.background
        self.batcher = GroupCommit(maximumBatch: configuration.maximumBatch, writers: configuration.feedbackWriters, background: background) { (items) throws(StoreError) in
            try await store.insertFeedback(items)
        }
        self.recommendationLog = GroupCommit(
            maximumBatch: max(configuration.maximumBatch, 1024), background: background,
            lost: { count, error in
                logger.warning("recommendation log rows not written", metadata: ["rows": "\(count)", "error": "\(error.redacted)"])
            }
        ) { (items) throws(StoreError) in
            try await store.logRecommendations(items)
            return items.map { _ in () }
        }
        self.recommendationIDs = RecommendationIDs(block: configuration.recommendationIDBlock, background: background) { (count) throws(StoreError) in
            try await store.reserveRecommendationIDs(count: count)
        }
        self.refits = RefitScheduler(delay: configuration.refitDelay, background: background)
        self.refitSlots = AsyncSemaphore(permits: max(1, configuration.concurrentRefits))
        self.refitThreads = WorkerThreads(count: max(1, configuration.concurrentRefits), name: "aurora.refit", niceness: 10)
    }

    public func register(into router: inout Router) {
        router.unary(LearningAPI.recommend) { request, context in try await self.recommend(request, context) }
        router.unary(LearningAPI.feedback) { request, context in try await self.feedback(request, context) }
        router.unary(LearningAPI.listRules) { request, context in try await self.listRules(request, context) }
        router.unary(LearningAPI.disableRule) { request, context in try await self.disableRule(request, context) }
        router.unary(LearningAPI.forget) { request, context in try await self.forget(request, context) }
        router.unary(LearningAPI.stats) { request, context in try await self.stats(request, context) }
    }

    /// The user the call is made for (the gateway sets it; only internal callers can connect),
    /// as the store knows them: a keyed pseudonym, with their rows under earlier keys moved to it.
    func user(_ context: ServerContext) async throws -> String {
        guard let clear = RequestValidation.user(context.metadata[MetadataKeys.user]) else {
            throw RPCError(.unauthenticated, "internal calls must name their user in '\(MetadataKeys.user)' metadata (1 to 256 bytes, no NUL)")
        }
        let user = self.configuration.pseudonyms.user(clear)
        try await self.rekey(.user, to: user, from: self.configuration.pseudonyms.previousUsers(clear))
        return user
    }

    /// A domain as the store knows it, with its rows under earlier keys moved to it.
    func domain(_ clear: String) async throws -> String {
        let domain = self.configuration.pseudonyms.domain(clear)
        try await self.rekey(.domain, to: domain, from: self.configuration.pseudonyms.previousDomains(clear))
        return domain
    }

    private func rekey(_ column: LearningStore.PseudonymColumn, to current: String, from earlier: [String]) async throws {
        guard !earlier.isEmpty, !self.rekeyed.withLock({ $0.contains(current) }) else { return }
        let moved = try await Self.mapStore { try await self.store.rekey(column, from: earlier, to: current) }
        if moved > 0 { self.logger.info("rows moved to the current pseudonym key", metadata: ["column": "\(column.rawValue)", "rows": "\(moved)"]) }
        self.rekeyed.withLock { set in
            if set.count >= 100_000 { set.removeAll() }
            set.insert(current)
        }
    }

    /// Replaces user ids and domains stored in clear (before pseudonyms) with their pseudonyms;
    /// once per database. Returns the rows converted.
    public static func convertClearNames(_ pool: PostgresPool, keys: PseudonymKeys) async throws(StoreError) -> Int {
        try await LearningStore.convertClearNames(pool, keys: keys)
    }

    static let actionNames = Action.allCases.map(\.rawValue).joined(separator: ", ")

    func recommend(_ request: Aurora_Learning_V1_RecommendRequest, _ context: ServerContext) async throws -> Aurora_Learning_V1_RecommendResponse {
        let user = try await self.user(context)
        // Every value is checked before the domain code computes with it.
        try RequestValidation.check(request, maximumColumns: self.configuration.maximumColumns)
        let columns = request.batch.columns.map(ColumnStatistics.init)
        var analysisID = request.analysisID
        // An analysis stores a noised fingerprint per column, paid in ε: past the user's budget it
        // is answered but not recorded. (Checked per call: concurrent analyses may overshoot it by
        // what they cost together.)
        var budgetSpent = false
        if !analysisID.isEmpty {
            let spent = try await Self.mapStore { try await self.store.epsilonSpent(user: user) }
            if spent + Double(columns.count) * self.configuration.epsilon > self.configuration.epsilonBudget {
                analysisID = ""
                budgetSpent = true
            }
        }
        await self.refits.waitUntilFresh(user)
        let rules = try await self.activeRules(user)
        let targets = Set(request.targetColumns.map(Int.init))
        // Rules know the domain by its pseudonym; the explanations name it as the caller did.
        let clearDomain = request.batch.domain
        let domain = try await self.domain(clearDomain)
        let named = rules.naming(domain: domain, as: clearDomain)
        let decisions = columns.enumerated().map { index, stats in
            targets.contains(index) ? Recommender.recommendTarget(stats) : Recommender.recommend(stats, domain: clearDomain, rules: named)
        }
        var generator = BufferedSystemRandom()
        let noise = FingerprintNoise(epsilon: self.configuration.epsilon)
        let ids = try await Self.mapStore { try await self.recommendationIDs.take(decisions.count) }
        let logged = decisions.enumerated().map { index, decision in
            var item = LearningStore.LoggedRecommendation(
                id: ids[index], user: user, bucket: decision.bucket, ruleID: decision.ruleID, source: decision.chosen.source,
                action: decision.chosen.action.rawValue, builtin: decision.builtin)
            if !analysisID.isEmpty {
                let stats = columns[index]
                item.refused = Action.allCases.filter { !ActionApplicability.applies($0, to: stats) }
                let noised = noise.noised(Fingerprint(stats), rows: stats.count, using: &generator)
                item.analysis = LearningStore.AnalysisColumn(
                    analysisID: analysisID, columnIndex: index, columnKey: request.columnKeys.isEmpty ? nil : request.columnKeys[index],
                    domain: domain, features: noised.features, epsilon: self.configuration.epsilon)
            }
            return item
        }
        if analysisID.isEmpty {
            try await Self.mapStore { try await self.recommendationLog.enqueue(logged, maximumQueued: self.configuration.maximumQueuedLogRows) }
        } else {
            _ = try await Self.mapStore { try await self.recommendationLog.submit(logged) }
        }
        if !analysisID.isEmpty {
            self.metrics.epsilon.increment(by: Int64((Double(columns.count) * self.configuration.epsilon * 1000).rounded()))
        }
        var response = Aurora_Learning_V1_RecommendResponse()
        response.privacyBudgetSpent = budgetSpent
        for (index, decision) in decisions.enumerated() {
            let recommendation = Aurora_Learning_V1_Recommendation(decision, stats: columns[index], index: index, id: ids[index])
            response.recommendations.append(recommendation)
            if decision.ruleID != nil { self.metrics.learned.increment() }
        }
        self.metrics.recommendations.increment(by: Int64(columns.count))
        return response
    }

    func feedback(_ request: Aurora_Learning_V1_FeedbackRequest, _ context: ServerContext) async throws -> Aurora_Learning_V1_FeedbackResponse {
        let user = try await self.user(context)
        // All items are checked before any is looked up or stored.
        try RequestValidation.check(request, maximumItems: self.configuration.maximumColumns)
        // Items with their own statistics store a new noised fingerprint each (verdicts on an
        // analysis's columns were paid for at the analysis).
        let newFingerprints = request.items.filter { $0.analysisID.isEmpty }.count
        if newFingerprints > 0 {
            let spent = try await Self.mapStore { try await self.store.epsilonSpent(user: user) }
            let cost = Double(newFingerprints) * self.configuration.epsilon
            guard spent + cost <= self.configuration.epsilonBudget else {
                throw RPCError(
                    .failedPrecondition,
                    String(
                        format: "your privacy budget is spent (ε %.1f of %.1f used; these %d items would cost %.1f more): feedback with new statistics is no longer stored. Verdicts on recorded analyses still are; Forget erases your data and resets the budget",
                        spent, self.configuration.epsilonBudget, newFingerprints, cost),
                    details: ["reason": "privacy_budget"])
            }
        }
        var generator = BufferedSystemRandom()
        let noise = FingerprintNoise(epsilon: self.configuration.epsilon)
        var pending: [PendingFeedback] = []
        var analyses: [String: [LearningStore.AnalysedColumn]] = [:]
        /// Analysis id -> the column indexes this request gives a verdict on.
        var named: [String: Set<Int>] = [:]
        func columns(of analysisID: String) async throws -> [LearningStore.AnalysedColumn] {
            if let known = analyses[analysisID] { return known }
            guard analyses.count < 16 else { throw RPCError(.invalidArgument, "feedback names more than 16 analyses") }
            let columns = try await Self.mapStore { try await self.store.analysedColumns(user: user, analysisID: analysisID) }
            guard !columns.isEmpty else {
                throw RPCError(.notFound, "analysis \(analysisID) is unknown or has expired (analyses are kept \(self.configuration.analysisLifetimeHours) hours)")
            }
            analyses[analysisID] = columns
            return columns
        }
        func accepting(_ column: LearningStore.AnalysedColumn, as action: String, feedbackID: String, analysisID: String) -> PendingFeedback {
            named[analysisID, default: []].insert(column.columnIndex)
            return PendingFeedback(
                user: user, feedbackID: feedbackID.isEmpty ? "analysis:\(analysisID):\(column.columnIndex)" : feedbackID,
                domain: column.domain, features: column.features, bucket: column.bucket, recommended: column.action,
                accepted: action, recommendationID: column.recommendationID, epsilon: 0, builtin: column.builtin)
        }
        for (index, item) in request.items.enumerated() {
            if !item.analysisID.isEmpty {
                // A column of an earlier analysis: its fingerprint was noised (and paid for) then.
                let columns = try await columns(of: item.analysisID)
                let byKey = item.columnKey.isEmpty ? nil : columns.first { $0.columnKey == item.columnKey }
                let byIndex = item.hasColumnIndex ? columns.first { $0.columnIndex == Int(item.columnIndex) } : nil
                guard let column = byKey ?? byIndex else {
                    throw RPCError(
                        .notFound, "items[\(index)]: analysis \(item.analysisID) has no such column (it has \(columns.count) columns, indexes 0 to \(columns.count - 1))")
                }
                // An empty accepted_action accepts what was recommended.
                let verdict = item.acceptedAction.isEmpty ? column.action : item.acceptedAction
                guard let accepted = Action(rawValue: verdict) else {
                    throw RPCError(.invalidArgument, "items[\(index)].accepted_action: unknown action '\(verdict)'; actions are \(Self.actionNames)")
                }
                // The target is not a feature: a verdict on its encoding teaches nothing about features.
                if column.isTarget { continue }
                guard !column.refused.contains(accepted.rawValue) else {
                    throw RPCError(
                        .invalidArgument,
                        "items[\(index)]: \(accepted.rawValue) does not apply to column \(column.columnIndex) of analysis \(item.analysisID) (it needs \(ActionApplicability.requirement(of: accepted))); nothing was recorded")
                }
                pending.append(accepting(column, as: accepted.rawValue, feedbackID: item.feedbackID, analysisID: item.analysisID))
                continue
            }
            guard let accepted = Action(rawValue: item.acceptedAction) else {
                throw RPCError(.invalidArgument, "items[\(index)].accepted_action: unknown action '\(item.acceptedAction)'; actions are \(Self.actionNames)")
            }
            guard item.recommendedAction.isEmpty || Action(rawValue: item.recommendedAction) != nil else {
                throw RPCError(.invalidArgument, "items[\(index)].recommended_action: unknown action '\(item.recommendedAction)'")
            }
            let stats = ColumnStatistics(item.stats)
            let exact = Fingerprint(stats)
            let noised = noise.noised(exact, rows: stats.count, using: &generator)
            let domain = try await self.domain(item.domain)
            pending.append(PendingFeedback(
                user: user, feedbackID: item.feedbackID, domain: domain, features: noised.features, bucket: exact.bucket,
                recommended: item.recommendedAction, accepted: accepted.rawValue, recommendationID: item.recommendationID,
                epsilon: self.configuration.epsilon, builtin: BuiltinChoice(stats)))
        }
        // "The rest is right": every column without a verdict, and not named above, accepted.
        let rest = request.acceptRestOfAnalysis
        if !rest.isEmpty {
            for column in try await columns(of: rest) where !column.answered && !column.isTarget && named[rest]?.contains(column.columnIndex) != true {
                pending.append(accepting(column, as: column.action, feedbackID: "", analysisID: rest))
            }
        }
        guard pending.count <= self.configuration.maximumColumns else {
            throw RPCError(.invalidArgument, "items and the accepted rest are \(pending.count) verdicts; at most \(self.configuration.maximumColumns) per call")
        }
        // Outcomes are set on logged recommendations: the rows must be written first.
        if pending.contains(where: { $0.recommendationID != 0 }) { await self.recommendationLog.flush() }
        // Acknowledged only after the COMMIT that holds these items.
        let flags = pending.isEmpty ? [] : try await Self.mapStore { try await self.batcher.submit(pending) }
        let stored = flags.filter { $0 }.count
        for (item, isNew) in zip(pending, flags) where isNew {
            if item.accepted == item.recommended { self.metrics.accepted.increment() } else { self.metrics.corrected.increment() }
        }
        let spent = zip(pending, flags).filter { $0.1 }.reduce(0.0) { $0 + $1.0.epsilon }
        self.metrics.epsilon.increment(by: Int64((spent * 1000).rounded()))
        if stored > 0 {
            let buckets = zip(pending, flags).filter { $0.1 }.map { $0.0.bucket }
            self.changedBuckets.withLock { changed in
                changed?.formUnion(buckets)
                if let count = changed?.count, count > self.configuration.maximumChangedBuckets { changed = nil }
            }
            await self.refits.schedule(user) { await self.refit(user) }
        }
        var response = Aurora_Learning_V1_FeedbackResponse()
        response.stored = UInt32(stored)
        response.duplicates = UInt32(flags.count - stored)
        for (analysisID, columns) in analyses.sorted(by: { $0.key < $1.key }) {
            let left = columns.filter { !$0.answered && !$0.isTarget && named[analysisID]?.contains($0.columnIndex) != true }
            guard !left.isEmpty else { continue }
            var unanswered = Aurora_Learning_V1_UnansweredColumns()
            unanswered.analysisID = analysisID
            unanswered.columnIndexes = left.map { UInt32($0.columnIndex) }
            response.unanswered.append(unanswered)
        }
        return response
    }

    func activeRules(_ user: String) async throws -> RuleBook {
        let now = ContinuousClock.now
        if let cached = self.ruleCache.withLock({ $0[user] }), now - cached.loaded < self.ruleCacheLifetime {
            return cached.rules
        }
        // Two reads on two pool connections at once: a cache miss (after every refit) waits for one round trip.
        let rules = try await Self.mapStore {
            async let active = self.store.activeRules(user: user)
            async let records = self.store.builtinRecords(user: user)
            return RuleBook(try await active, builtinRecords: try await records)
        }
        self.ruleCache.withLock { cache in
            if cache.count >= self.ruleCacheCapacity { cache.removeAll(keepingCapacity: true) }
            cache[user] = (rules, now)
        }
        return rules
    }

    /// The periodic maintenance, called by the daemon: clears the fingerprints of analyses past
    /// their lifetime and deletes recommendation-log rows past the retention.
    public func expireOldData() async {
        do throws(StoreError) {
            let cleared = try await self.store.expireAnalyses(olderThanHours: self.configuration.analysisLifetimeHours)
            if cleared > 0 { self.logger.info("expired analysis fingerprints", metadata: ["columns": "\(cleared)"]) }
            let deleted = try await self.store.deleteLog(olderThanDays: self.configuration.logRetentionDays, batch: self.configuration.retentionBatch)
            if deleted > 0 { self.logger.info("deleted recommendation-log rows past the retention", metadata: ["rows": "\(deleted)"]) }
        } catch {
            self.logger.warning("expiring old data failed; the next period retries", metadata: ["error": "\(error.redacted)"])
        }
    }

    /// Recomputes every shared rule from all users' votes: feedback refreshes only the buckets it
    /// touched, and a Forget only the buckets of the user who left.
    public func refreshSharedRules() async {
        do throws(StoreError) {
            try await self.store.refreshGlobalRules(k: self.configuration.kAnonymity, buckets: nil)
        } catch {
            self.logger.warning("refreshing the shared rules failed; the next period retries", metadata: ["error": "\(error.redacted)"])
        }
    }

    func invalidateRules(_ user: String) {
        _ = self.ruleCache.withLock { $0.removeValue(forKey: user) }
    }

    /// Fits the user's trees (all their corrections, and each domain's) and stores the leaves as rules.
    func refit(_ user: String) async {
        do { try await self.refitSlots.acquire() } catch { return }
        defer { self.refitSlots.release() }
        let started = ContinuousClock.now
        do throws(StoreError) {
            let stored = try await self.store.examples(user: user, limit: self.configuration.maximumExamples)
            let learner = DecisionTreeLearner(minSamplesLeaf: 2, maxDepth: 8, maxLeaves: self.configuration.maximumRules)
            let minimumSupport = self.configuration.minimumSupport
            let builtinRecords = BuiltinRecord.records(stored.compactMap { example in example.builtin.map { ($0, example.example.action) } })
            let sets = await self.refitThreads.run {
                var sets = [LearningStore.RuleSet(scope: "user", domain: "", drafts: learner.fit(stored.map(\.example)))]
                let domains = Dictionary(grouping: stored.filter { !$0.domain.isEmpty }, by: \.domain)
                for (domain, examples) in domains where examples.count >= minimumSupport {
                    sets.append(.init(scope: "user_domain", domain: domain, drafts: learner.fit(examples.map(\.example))))
                }
                return sets
            }
            try await self.store.replaceRules(user: user, sets: sets, builtinRecords: builtinRecords, minimumSupport: self.configuration.minimumSupport, failingConfidence: self.configuration.failingConfidence)
            self.invalidateRules(user)
            if await self.refits.globalRefreshDue(interval: self.configuration.globalRefreshInterval) {
                let buckets = self.changedBuckets.withLock { changed in
                    defer { changed = [] }
                    return changed.map { Array($0) }
                }
                do throws(StoreError) {
                    try await self.store.refreshGlobalRules(k: self.configuration.kAnonymity, buckets: buckets)
                } catch {
                    self.changedBuckets.withLock { $0 = nil }
                    throw error
                }
            }
            self.metrics.refitDuration.recordInterval(since: started)
        } catch {
            self.logger.warning("refit failed; the next feedback retries it", metadata: ["error": "\(error.redacted)"])
        }
    }

    func listRules(_ request: Aurora_Learning_V1_ListRulesRequest, _ context: ServerContext) async throws -> Aurora_Learning_V1_ListRulesResponse {
        let user = try await self.user(context)
        await self.refits.waitUntilFresh(user)
        guard request.domains.count <= 64, request.domains.allSatisfy({ $0.utf8.count <= 64 && !$0.utf8.contains(0) }) else {
            throw RPCError(.invalidArgument, "domains: at most 64 names of at most 64 bytes, without NUL")
        }
        // Before the rules are read: naming a domain moves its rows under earlier keys to the current one.
        var names: [String: String] = [:]
        for name in request.domains where !name.isEmpty { names[try await self.domain(name)] = name }
        let rules = try await Self.mapStore { try await self.store.listRules(user: user, includeInactive: request.includeInactive, includeShared: request.includeShared) }
        var response = Aurora_Learning_V1_ListRulesResponse()
        response.rules = rules.map { entry in
            var rule = Aurora_Learning_V1_Rule()
            rule.id = UInt64(clamping: entry.rule.id)
            rule.scope = entry.rule.scope
            rule.domain = names[entry.rule.domain] ?? entry.rule.domain
            rule.description_p = entry.rule.description
            rule.condition = entry.rule.conditionText
            rule.action = entry.rule.action.rawValue
            rule.alpha = entry.rule.alpha
            rule.beta = entry.rule.beta
            rule.support = UInt32(clamping: entry.rule.support)
            rule.active = entry.active
            rule.confidence = entry.rule.confidence
            return rule
        }
        return response
    }

    func disableRule(_ request: Aurora_Learning_V1_DisableRuleRequest, _ context: ServerContext) async throws -> Aurora_Learning_V1_DisableRuleResponse {
        let user = try await self.user(context)
        try RequestValidation.check(request)
        await self.refits.waitUntilFresh(user)
        defer { self.invalidateRules(user) }
        guard try await Self.mapStore({ try await self.store.disableRule(user: user, id: request.id) }) else {
            throw RPCError(.notFound, "no rule \(request.id) among your rules or the shared ones (`aurora rules --all` lists both)")
        }
        var response = Aurora_Learning_V1_DisableRuleResponse()
        response.disabled = true
        return response
    }

    func forget(_ request: Aurora_Learning_V1_ForgetRequest, _ context: ServerContext) async throws -> Aurora_Learning_V1_ForgetResponse {
        let user = try await self.user(context)
        await self.refits.waitUntilFresh(user)
        await self.recommendationLog.flush()
        let deleted = try await Self.mapStore { try await self.store.forget(user: user) }
        self.invalidateRules(user)
        // Cross-user rules may have counted this user: recompute theirs without.
        try await Self.mapStore { try await self.store.refreshGlobalRules(k: self.configuration.kAnonymity, buckets: deleted.buckets) }
        var response = Aurora_Learning_V1_ForgetResponse()
        response.feedbackDeleted = UInt64(clamping: deleted.feedback)
        response.rulesDeleted = UInt64(clamping: deleted.rules)
        response.logDeleted = UInt64(clamping: deleted.log)
        return response
    }

    func stats(_ request: Aurora_Learning_V1_StatsRequest, _ context: ServerContext) async throws -> Aurora_Learning_V1_StatsResponse {
        let user = try await self.user(context)
        await self.refits.waitUntilFresh(user)
        await self.recommendationLog.flush()
        let stats = try await Self.mapStore { try await self.store.stats(user: user) }
        var response = Aurora_Learning_V1_StatsResponse()
        response.acceptance = stats.days.map { day in
            var point = Aurora_Learning_V1_AcceptancePoint()
            point.day = day.day
            point.recommendations = UInt64(clamping: day.recommendations)
            point.accepted = UInt64(clamping: day.accepted)
            point.corrected = UInt64(clamping: day.corrected)
            return point
        }
        response.rulesActive = UInt32(clamping: stats.rulesActive)
        response.rulesTotal = UInt32(clamping: stats.rulesTotal)
        response.epsilonSpent = stats.epsilon
        response.epsilonBudget = self.configuration.epsilonBudget
        response.epsilonPerColumn = self.configuration.epsilon
        response.feedback = UInt64(clamping: stats.feedback)
        return response
    }

    /// Store errors as statuses: unreachable database → UNAVAILABLE (retry), anything else → INTERNAL
    /// (the message names no data).
    static func mapStore<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as StoreError {
            switch error {
            case .unavailable(let message): throw RPCError(.unavailable, "the learning store is unavailable (\(message)); retry later")
            case .query(let state, _): throw RPCError(.internal, "learning store error \(state)")
            case .decoding(let message): throw RPCError(.internal, "learning store error: \(message)")
            }
        }
    }
}
