import AuroraLearning
import AuroraStore
import Foundation

/// A feedback item ready to store: the noised fingerprint, never the statistics themselves.
struct PendingFeedback: Sendable {
    var user: String
    var feedbackID: String
    var domain: String
    var features: [Double]
    var bucket: String
    var recommended: String
    var accepted: String
    var recommendationID: UInt64
    var epsilon: Double
    /// The built-in rule's source and action for this column (nil: not known, for a column of an
    /// analysis logged before they were kept).
    var builtin: BuiltinChoice?
}

/// The learning-service's queries. Every statement is parameterised; nothing here sees a cell
/// value or a column name (fingerprints are noised features; buckets are coarse).
///
/// Which calls the pool retries once after a connection failure (`idempotent: true`): reads;
/// id reservations (a retry leaves a gap in the sequence, nothing more); refits and cross-user
/// rules (recomputed from stored feedback, so running them twice gives the same rules); disabling
/// a rule (the same update again); maintenance; and the two writes keyed so that a repeat stores
/// nothing twice: feedback (on user and `feedback_id`: if a lost COMMIT did happen, the retry
/// reports the items as duplicates, as a client's retry would) and log rows (on their reserved
/// ids). Forget is not retried: after a COMMIT whose answer was lost, a repeat would find nothing
/// and report no buckets, so cross-user rules that counted the user would not be recomputed; its
/// caller gets UNAVAILABLE and calls again.
struct LearningStore: Sendable {
    /// Request path: feedback, recommendations, rule management.
    let pool: PostgresPool
    /// Refits and cross-user rules, so background work never queues ahead of a user's call.
    let background: PostgresPool

    /// Stores a batch in one transaction (group commit); returns, per item, whether it was new
    /// (false: a retry of an id already stored). Spends ε for new items only.
    func insertFeedback(_ items: [PendingFeedback]) async throws(StoreError) -> [Bool] {
        guard !items.isEmpty else { return [] }
        // One statement, so one round trip and one (implicit) transaction: the feedback rows, their
        // privacy-ledger entries, their bucket votes and the outcome of the recommendations they
        // answer. Only rows that are new count (ON CONFLICT DO NOTHING; within the batch, the first
        // of a repeated id).
        // The rows travel as one array per column, so the text is the same for every batch size
        // and the statement is prepared once per connection.
        let result = try await self.pool.execute(
            """
            WITH input AS (
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::float8[], $10::text[], $11::text[])
                    WITH ORDINALITY AS input (user_id, feedback_id, domain, features, bucket, recommended, accepted, recommendation_id, epsilon, builtin, builtin_action, ordinal)
            ), inserted AS (
                INSERT INTO feedback (user_id, feedback_id, domain, features, bucket, recommended, accepted, recommendation_id, builtin, builtin_action)
                SELECT user_id, feedback_id, domain, features::float8[], bucket, recommended, accepted, recommendation_id, builtin, builtin_action FROM input ORDER BY ordinal
                ON CONFLICT DO NOTHING
                RETURNING user_id, feedback_id
            ), new AS (
                SELECT DISTINCT ON (input.user_id, input.feedback_id) input.*
                FROM input JOIN inserted USING (user_id, feedback_id)
                ORDER BY input.user_id, input.feedback_id, input.ordinal
            ), ledger AS (
                -- One entry per user and batch, as for analyses: the sum is what is spent.
                INSERT INTO privacy_ledger (user_id, epsilon, reason)
                SELECT user_id, sum(epsilon), 'feedback fingerprints' FROM new WHERE epsilon > 0 GROUP BY user_id
            ), votes AS (
                -- In key order, so concurrent batches lock shared rows in the same order.
                INSERT INTO bucket_votes (bucket, accepted, user_id, n)
                SELECT bucket, accepted, user_id, count(*) FROM new GROUP BY bucket, accepted, user_id ORDER BY bucket, accepted, user_id
                ON CONFLICT (bucket, accepted, user_id) DO UPDATE SET n = bucket_votes.n + EXCLUDED.n
            ), outcomes AS (
                UPDATE recommendation_log AS l
                SET outcome = CASE WHEN new.accepted = new.recommended THEN 'accepted' ELSE 'corrected' END
                FROM new WHERE l.id = new.recommendation_id AND l.user_id = new.user_id
            )
            SELECT ordinal - 1 FROM new
            """,
            [
                Self.textArray(items.map(\.user)), Self.textArray(items.map(\.feedbackID)), Self.textArray(items.map(\.domain)),
                Self.textArray(items.map { Self.arrayLiteral($0.features) }), Self.textArray(items.map(\.bucket)),
                Self.textArray(items.map(\.recommended)), Self.textArray(items.map(\.accepted)),
                Self.textArray(items.map { $0.recommendationID == 0 ? nil : "\($0.recommendationID)" }),
                Self.textArray(items.map { "\($0.epsilon)" }), Self.textArray(items.map { $0.builtin?.source }),
                Self.textArray(items.map { $0.builtin?.action.rawValue }),
            ], idempotent: true)
        var flags = [Bool](repeating: false, count: items.count)
        for row in result.rows {
            if let text = row[0], let ordinal = Int(text), flags.indices.contains(ordinal) { flags[ordinal] = true }
        }
        return flags
    }

    /// The reads of one user's rows that run on every refit or rules lookup. Each must be served by
    /// an index however many users the tables hold (a test checks their plans).
    enum Reads {
        static let examples =
            "SELECT domain, features::text, accepted, bucket, builtin, builtin_action FROM feedback WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2"
        static let rulesForRefit = "SELECT id, scope, domain, condition_text, action, alpha, beta, support, active, condition::text FROM rules WHERE user_id = $1 FOR UPDATE"
        /// The user's active rules and the shared ones they did not opt out of.
        static let activeRules = """
            SELECT id, scope, domain, condition::text, condition_text, action, alpha, beta, support FROM rules
            WHERE active AND (user_id = $1 OR (scope = 'global' AND NOT EXISTS (
                SELECT 1 FROM rule_opt_outs o WHERE o.user_id = $1 AND o.rule_id = rules.id)))
            """
        static let listRules =
            "SELECT id, scope, domain, condition::text, condition_text, action, alpha, beta, support, active FROM rules WHERE user_id = $1 AND ($2 OR active) ORDER BY id"
        /// Shared rules, each active for the user unless they opted out.
        static let listSharedRules = """
            SELECT id, scope, domain, condition::text, condition_text, action, alpha, beta, support,
                   NOT EXISTS (SELECT 1 FROM rule_opt_outs o WHERE o.user_id = $1 AND o.rule_id = rules.id)
            FROM rules WHERE scope = 'global' AND active ORDER BY id
            """
        static let builtinRecords = "SELECT source, agreeing, total, choices FROM builtin_records WHERE user_id = $1"
        static let epsilonSpent = "SELECT coalesce(sum(epsilon), 0) FROM privacy_ledger WHERE user_id = $1"
        /// The per-user reads (each selects by an index on the user).
        static let all = [examples, rulesForRefit, activeRules, listRules, builtinRecords, epsilonSpent]
    }

    /// ε spent on the user's stored fingerprints so far.
    func epsilonSpent(user: String) async throws(StoreError) -> Double {
        Double(try await self.pool.execute(Reads.epsilonSpent, [user], idempotent: true).value(0, 0)) ?? 0
    }

    struct StoredExample: Sendable {
        var domain: String
        var example: Example
        /// The built-in rule's source and action for the column, when known.
        var builtin: BuiltinChoice?
    }

    func examples(user: String, limit: Int) async throws(StoreError) -> [StoredExample] {
        let result = try await self.background.execute(Reads.examples, [user, "\(limit)"], idempotent: true)
        return result.rows.compactMap { row in
            guard let domain = row[0], let features = row[1], let action = row[2].flatMap(Action.init(rawValue:)) else { return nil }
            let complete = Fingerprint.completed(Self.parseArray(features), bucket: row[3] ?? "")
            return StoredExample(
                domain: domain, example: Example(features: complete, action: action), builtin: BuiltinChoice(source: row[4], action: row[5]))
        }
    }

    struct RuleSet: Sendable {
        var scope: String
        var domain: String
        var drafts: [RuleDraft]
    }

    /// Replaces a user's learned rules with a refit's: a rule that exists already (same scope,
    /// domain, condition and action) keeps its id and a user's "disabled"; others are added;
    /// rules the refit no longer produces are removed.
    func replaceRules(
        user: String, sets: [RuleSet], builtinRecords: [String: BuiltinRecord], minimumSupport: Int, failingConfidence: Double
    ) async throws(StoreError) {
        try await self.background.transaction(idempotent: true) { (transaction) throws(StoreError) in
            // Rules are derived from feedback and recomputed by the next refit: no need to wait for
            // the WAL flush (a crash can lose only a refit, never feedback).
            try transaction.execute("SET LOCAL synchronous_commit TO OFF")
            let sources = builtinRecords.keys.sorted()
            try transaction.execute(
                """
                WITH gone AS (DELETE FROM builtin_records WHERE user_id = $1 AND NOT source = ANY($2::text[]))
                INSERT INTO builtin_records (user_id, source, agreeing, total, choices)
                SELECT $1, source, agreeing, total, choices FROM unnest($2::text[], $3::integer[], $4::integer[], $5::text[]) AS r (source, agreeing, total, choices)
                ON CONFLICT (user_id, source) DO UPDATE SET agreeing = EXCLUDED.agreeing, total = EXCLUDED.total, choices = EXCLUDED.choices
                """,
                [user, Self.textArray(sources), Self.textArray(sources.map { "\(builtinRecords[$0]!.agreeing)" }),
                 Self.textArray(sources.map { "\(builtinRecords[$0]!.total)" }), Self.textArray(sources.map { builtinRecords[$0]!.choicesText })])
            let existing = try transaction.execute(Reads.rulesForRefit, [user])
            struct Existing {
                var id: String
                var identity: String
                var text: String
                /// Scope, domain, action and the features and directions the path tests.
                var shape: String
                var alpha: Double, beta: Double, support: Int, active: Bool
                var stored: StoredCondition?
            }
            let rows: [Existing] = existing.rows.compactMap { row in
                guard let id = row[0] else { return nil }
                let stored = row[9].flatMap(StoredCondition.decode)
                return Existing(
                    id: id, identity: Self.identity(scope: row[1] ?? "", domain: row[2] ?? "", text: row[3] ?? "", action: row[4] ?? ""), text: row[3] ?? "",
                    shape: stored.map { Self.shape(scope: row[1] ?? "", domain: row[2] ?? "", action: row[4] ?? "", path: $0.path) } ?? "",
                    alpha: Double(row[5] ?? "") ?? -1, beta: Double(row[6] ?? "") ?? -1, support: Int(row[7] ?? "") ?? -1, active: row[8] == "t",
                    stored: stored)
            }
            let byIdentity = Dictionary(rows.map { ($0.identity, $0) }, uniquingKeysWith: { first, _ in first })
            var keep = Set<String>()
            var added = Set<String>()
            // Changed and new rules are written by one statement each (a refit changes most leaves).
            var updates: (ids: [String?], alpha: [String?], beta: [String?], support: [String?], active: [String?], condition: [String?], text: [String?]) =
                ([], [], [], [], [], [], [])
            var inserts: (scope: [String?], domain: [String?], condition: [String?], text: [String?], action: [String?], alpha: [String?], beta: [String?], support: [String?]) = ([], [], [], [], [], [], [], [])
            let drafts = sets.flatMap { set in set.drafts.map { (set, $0) } }
            func isActive(_ draft: RuleDraft) -> Bool {
                draft.agreeing >= minimumSupport && !(draft.support >= 5 && draft.confidence < failingConfidence)
            }
            func update(_ row: Existing, _ draft: RuleDraft, text: String) throws(StoreError) {
                keep.insert(row.id)
                let stored = StoredCondition(path: draft.conditions, region: draft.region)
                // Most leaves do not change with one more example: skip their update.
                if row.alpha == draft.alpha, row.beta == draft.beta, row.support == draft.support, row.active == isActive(draft), row.stored == stored, row.text == text {
                    return
                }
                updates.ids.append(row.id)
                updates.alpha.append("\(draft.alpha)")
                updates.beta.append("\(draft.beta)")
                updates.support.append("\(draft.support)")
                updates.active.append(isActive(draft) ? "true" : "false")
                updates.condition.append(String(decoding: try Self.encode(stored), as: UTF8.self))
                updates.text.append(text)
            }
            // First the rules whose path is unchanged (same text), then those whose thresholds
            // moved (same scope, domain, action and tested features): both keep their id. Only a
            // rule with a new shape is new.
            var unmatched: [(set: RuleSet, draft: RuleDraft)] = []
            for (set, draft) in drafts {
                let identity = Self.identity(scope: set.scope, domain: set.domain, text: draft.conditionText, action: draft.action.rawValue)
                if let row = byIdentity[identity], !keep.contains(row.id) {
                    try update(row, draft, text: draft.conditionText)
                } else if byIdentity[identity] == nil {
                    unmatched.append((set, draft))
                }
            }
            for (set, draft) in unmatched {
                let text = draft.conditionText
                let identity = Self.identity(scope: set.scope, domain: set.domain, text: text, action: draft.action.rawValue)
                // Two leaves can read alike: one rule for them (the text is unique per user).
                guard !added.contains(identity) else { continue }
                let shape = Self.shape(scope: set.scope, domain: set.domain, action: draft.action.rawValue, path: draft.conditions)
                if let row = rows.first(where: { !keep.contains($0.id) && $0.shape == shape }) {
                    added.insert(identity)
                    try update(row, draft, text: text)
                } else if isActive(draft), added.insert(identity).inserted {
                    inserts.scope.append(set.scope)
                    inserts.domain.append(set.domain)
                    inserts.condition.append(String(decoding: try Self.encode(StoredCondition(path: draft.conditions, region: draft.region)), as: UTF8.self))
                    inserts.text.append(text)
                    inserts.action.append(draft.action.rawValue)
                    inserts.alpha.append("\(draft.alpha)")
                    inserts.beta.append("\(draft.beta)")
                    inserts.support.append("\(draft.support)")
                }
            }
            // Stale rules go first, so that a moved rule may take the text one of them had.
            let stale = rows.map(\.id).filter { !keep.contains($0) }
            if !stale.isEmpty {
                // Rules the user disabled stay (so a refit cannot revive them); others go.
                try transaction.execute("DELETE FROM rules WHERE id = ANY($1::bigint[]) AND NOT disabled_by_user", ["{\(stale.joined(separator: ","))}"])
            }
            if !updates.ids.isEmpty {
                try transaction.execute(
                    """
                    UPDATE rules SET alpha = u.alpha, beta = u.beta, support = u.support, active = u.active AND NOT rules.disabled_by_user,
                        condition = u.condition::jsonb, condition_text = u.condition_text, updated_at = now()
                    FROM unnest($1::bigint[], $2::float8[], $3::float8[], $4::integer[], $5::boolean[], $6::text[], $7::text[])
                        AS u (id, alpha, beta, support, active, condition, condition_text)
                    WHERE rules.id = u.id
                    """,
                    [updates.ids, updates.alpha, updates.beta, updates.support, updates.active, updates.condition, updates.text].map(Self.textArray))
            }
            if !inserts.scope.isEmpty {
                try transaction.execute(
                    """
                    INSERT INTO rules (scope, user_id, domain, condition, condition_text, action, alpha, beta, support, active)
                    SELECT scope, $1, domain, condition::jsonb, condition_text, action, alpha, beta, support, true
                    FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[], $9::integer[])
                        AS i (scope, domain, condition, condition_text, action, alpha, beta, support)
                    """,
                    [user] + [inserts.scope, inserts.domain, inserts.condition, inserts.text, inserts.action, inserts.alpha, inserts.beta, inserts.support].map(Self.textArray))
            }
        }
    }

    /// What identifies a rule across refits, as the unique index `rules_identity` does.
    static func identity(scope: String, domain: String, text: String, action: String) -> String {
        "\(scope)|\(domain)|\(text)|\(action)"
    }

    /// What identifies a rule whose thresholds moved: its scope, domain, action and the features
    /// and directions its path tests ("user||log_transform|7>,12≤").
    static func shape(scope: String, domain: String, action: String, path: [RuleCondition]) -> String {
        let tests = Set(path.map { "\($0.feature)\($0.above ? ">" : "≤")" }).sorted().joined(separator: ",")
        return "\(scope)|\(domain)|\(action)|\(tests)"
    }

    /// Cross-user rules with k-anonymity: for a fingerprint bucket, the action that at least `k`
    /// distinct users chose, and most often. Recomputed for `buckets` only (those with new
    /// feedback), or for every bucket when nil. Both read the per-user vote counts, not feedback.
    func refreshGlobalRules(k: Int, buckets: [String]?) async throws(StoreError) {
        if let buckets, buckets.isEmpty { return }
        try await self.background.transaction(idempotent: true) { (transaction) throws(StoreError) in
            try transaction.execute("SET LOCAL synchronous_commit TO OFF")
            // One refresh at a time (Forgets run beside refits, and replicas beside each other):
            // two that delete and re-insert the same bucket's rule at once collide on its identity.
            try transaction.execute("SELECT pg_advisory_xact_lock(\(Self.globalRulesLock))")
            let result = try transaction.execute(
                """
                WITH per_action AS (
                    SELECT bucket, accepted, count(*) AS users, sum(n) AS n FROM bucket_votes
                    \(buckets == nil ? "" : "WHERE bucket = ANY($2::text[])") GROUP BY bucket, accepted
                ), totals AS (SELECT bucket, sum(n) AS total FROM per_action GROUP BY bucket)
                SELECT DISTINCT ON (p.bucket) p.bucket, p.accepted, p.n, t.total FROM per_action p JOIN totals t USING (bucket)
                WHERE p.users >= $1 ORDER BY p.bucket, p.users DESC, p.n DESC
                """, buckets.map { ["\(k)", Self.textArray($0)] } ?? ["\(k)"])
            var winners: [(bucket: String, action: String, n: Double, total: Double)] = []
            for row in result.rows {
                guard let bucket = row[0], let action = row[1], let n = row[2].flatMap(Double.init), let total = row[3].flatMap(Double.init) else { continue }
                winners.append((bucket, action, n, total))
            }
            // A bucket's rule keeps its id (and the users' opt-outs) while its action wins; a rule
            // whose bucket lost its winner, or changed it, goes.
            let kept = Self.textArray(winners.map { "fingerprint bucket \($0.bucket)|\($0.action)" })
            if let buckets {
                try transaction.execute(
                    "DELETE FROM rules WHERE scope = 'global' AND condition_text = ANY($1::text[]) AND NOT (condition_text || '|' || action = ANY($2::text[]))",
                    [Self.textArray(buckets.map { "fingerprint bucket \($0)" }), kept])
            } else {
                try transaction.execute("DELETE FROM rules WHERE scope = 'global' AND NOT (condition_text || '|' || action = ANY($1::text[]))", [kept])
            }
            for winner in winners {
                let condition = String(decoding: try Self.encode(["bucket": winner.bucket]), as: UTF8.self)
                try transaction.execute(
                    """
                    INSERT INTO rules (scope, user_id, domain, condition, condition_text, action, alpha, beta, support, active)
                    VALUES ('global', NULL, '', $1::jsonb, $2, $3, $4, $5, $6, true)
                    ON CONFLICT (scope, coalesce(user_id, ''), domain, condition_text, action)
                    DO UPDATE SET alpha = EXCLUDED.alpha, beta = EXCLUDED.beta, support = EXCLUDED.support, active = true, updated_at = now()
                    """,
                    [condition, "fingerprint bucket \(winner.bucket)", winner.action, "\(1 + winner.n)", "\(1 + winner.total - winner.n)", "\(Int(winner.total))"])
            }
        }
    }

    /// The advisory lock that serializes refreshes of cross-user rules.
    static let globalRulesLock: Int64 = 0x4155_524f_5241_0001

    func activeRules(user: String) async throws(StoreError) -> [ActiveRule] {
        let result = try await self.pool.execute(Reads.activeRules, [user], idempotent: true)
        return result.rows.compactMap(Self.rule)
    }

    /// The user's record with each built-in rule, as the last refit counted it.
    func builtinRecords(user: String) async throws(StoreError) -> [String: BuiltinRecord] {
        let result = try await self.pool.execute(Reads.builtinRecords, [user], idempotent: true)
        var records: [String: BuiltinRecord] = [:]
        for row in result.rows {
            guard let source = row[0], let agreeing = row[1].flatMap({ Int($0) }), let total = row[2].flatMap({ Int($0) }) else { continue }
            records[source] = BuiltinRecord(agreeing: agreeing, total: total, choices: BuiltinRecord.choices(from: row[3] ?? ""))
        }
        return records
    }

    static func rule(_ row: [String?]) -> ActiveRule? {
        guard let id = row[0].flatMap(Int64.init), let scope = row[1], let domain = row[2], let condition = row[3], let text = row[4],
            let action = row[5].flatMap(Action.init(rawValue:)), let alpha = row[6].flatMap(Double.init),
            let beta = row[7].flatMap(Double.init), let support = row[8].flatMap(Int.init)
        else { return nil }
        var conditions: [RuleCondition] = []
        var path: [RuleCondition] = []
        var bucket: String?
        if scope == "global" {
            bucket = (try? JSONDecoder().decode([String: String].self, from: Data(condition.utf8)))?["bucket"]
        } else {
            let stored = StoredCondition.decode(condition)
            conditions = stored?.all ?? []
            path = stored?.path ?? []
        }
        // A user's rule reads as its path and region; the stored text is the path alone (its identity).
        let readable = scope == "global" ? bucket.map(Fingerprint.describeBucket) ?? text : conditions.isEmpty ? text : RuleDraft.describe(conditions)
        return ActiveRule(
            id: id, scope: scope, domain: domain, conditions: conditions, path: path, bucket: bucket, action: action, alpha: alpha, beta: beta, support: support,
            conditionText: readable)
    }

    func listRules(user: String, includeInactive: Bool, includeShared: Bool = false) async throws(StoreError) -> [(rule: ActiveRule, active: Bool)] {
        let result = try await self.pool.execute(Reads.listRules, [user, includeInactive ? "true" : "false"], idempotent: true)
        var rules = result.rows.compactMap { row in Self.rule(row).map { ($0, row[9] == "t") } }
        if includeShared {
            let shared = try await self.pool.execute(Reads.listSharedRules, [user], idempotent: true)
            rules += shared.rows.compactMap { row in Self.rule(row).map { ($0, row[9] == "t") } }.filter { includeInactive || $0.1 }
        }
        return rules
    }

    /// The user's own rule: disabled. A shared rule: disabled for this user only (an opt-out).
    func disableRule(user: String, id: UInt64) async throws(StoreError) -> Bool {
        let own = try await self.pool.execute(
            "UPDATE rules SET active = false, disabled_by_user = true, updated_at = now() WHERE id = $1 AND user_id = $2", ["\(id)", user], idempotent: true
        ).affectedRows
        if own > 0 { return true }
        // Opted out already: still a success (the call is idempotent), so the row is returned either way.
        return try await self.pool.execute(
            """
            INSERT INTO rule_opt_outs (user_id, rule_id) SELECT $2, id FROM rules WHERE id = $1 AND scope = 'global'
            ON CONFLICT (user_id, rule_id) DO UPDATE SET user_id = EXCLUDED.user_id RETURNING rule_id
            """, ["\(id)", user], idempotent: true
        ).rows.count > 0
    }

    /// Deletes everything stored about `user`; returns the counts and the fingerprint buckets their
    /// feedback was in (whose cross-user rules may have counted them).
    func forget(user: String) async throws(StoreError) -> (feedback: Int, rules: Int, log: Int, buckets: [String]) {
        // Not retried by the pool (see the type's comment).
        try await self.pool.transaction { (transaction) throws(StoreError) in
            let buckets = Set(try transaction.execute("DELETE FROM bucket_votes WHERE user_id = $1 RETURNING bucket", [user]).rows.compactMap { $0[0] })
            let feedback = try transaction.execute("DELETE FROM feedback WHERE user_id = $1", [user]).affectedRows
            let rules = try transaction.execute("DELETE FROM rules WHERE user_id = $1", [user]).affectedRows
            let log = try transaction.execute("DELETE FROM recommendation_log WHERE user_id = $1", [user]).affectedRows
            try transaction.execute("DELETE FROM privacy_ledger WHERE user_id = $1", [user])
            try transaction.execute("DELETE FROM builtin_records WHERE user_id = $1", [user])
            try transaction.execute("DELETE FROM rule_opt_outs WHERE user_id = $1", [user])
            return (feedback, rules, log, Array(buckets))
        }
    }

    /// The columns that hold pseudonyms (PseudonymKeys), and the tables that have them.
    enum PseudonymColumn: String, Sendable {
        case user = "user_id"
        case domain

        var tables: [String] {
            switch self {
            case .user: ["feedback", "rules", "recommendation_log", "privacy_ledger", "bucket_votes", "builtin_records", "rule_opt_outs"]
            case .domain: ["feedback", "rules", "recommendation_log"]
            }
        }
    }

    /// Moves rows from earlier pseudonyms of a user or domain to the current one, in one
    /// transaction; returns the rows moved.
    func rekey(_ column: PseudonymColumn, from earlier: [String], to current: String) async throws(StoreError) -> Int {
        try await self.pool.transaction { (transaction) throws(StoreError) in
            var moved = 0
            for table in column.tables {
                moved += try transaction.execute(
                    "UPDATE \(table) SET \(column.rawValue) = $1 WHERE \(column.rawValue) = ANY($2::text[])", [current, Self.textArray(earlier)]
                ).affectedRows
            }
            return moved
        }
    }

    /// Stores written before pseudonyms existed hold user ids and domains in clear: replaces them
    /// with their pseudonyms, once (recorded in `pseudonym_conversion`), under an advisory lock
    /// so replicas starting together convert once. Values already in pseudonym form are left.
    /// Returns the rows converted.
    static func convertClearNames(_ pool: PostgresPool, keys: PseudonymKeys) async throws(StoreError) -> Int {
        try await pool.transaction { (transaction) throws(StoreError) in
            try transaction.execute("SELECT pg_advisory_xact_lock(7103002)")
            guard try transaction.execute("SELECT 1 FROM pseudonym_conversion").rows.isEmpty else { return 0 }
            var converted = 0
            for column in [PseudonymColumn.user, .domain] {
                for table in column.tables {
                    let clear = try transaction.execute(
                        "SELECT DISTINCT \(column.rawValue) FROM \(table) WHERE \(column.rawValue) <> '' AND \(column.rawValue) !~ '^[A-Za-z0-9_-]{1,16}[.][0-9a-f]{32}$'"
                    ).rows.compactMap { $0[0] }
                    guard !clear.isEmpty else { continue }
                    let pseudonyms = clear.map { column == .user ? keys.user($0) : keys.domain($0) }
                    converted += try transaction.execute(
                        """
                        UPDATE \(table) SET \(column.rawValue) = m.pseudonym
                        FROM unnest($1::text[], $2::text[]) AS m(clear, pseudonym) WHERE \(table).\(column.rawValue) = m.clear
                        """, [Self.textArray(clear), Self.textArray(pseudonyms)]
                    ).affectedRows
                }
            }
            try transaction.execute("INSERT INTO pseudonym_conversion (converted_rows) VALUES ($1)", ["\(converted)"])
            return converted
        }
    }

    /// A recommendation to log. With an analysis, the column's noised fingerprint is kept too.
    struct LoggedRecommendation: Sendable {
        /// From `reserveRecommendationIDs`.
        var id: UInt64
        var user: String
        var bucket: String
        var ruleID: Int64?
        var source: String
        var action: String
        /// The built-in rule's suggestion for the column (kept for feedback on an analysis).
        var builtin: BuiltinChoice
        var analysis: AnalysisColumn?
        /// The actions that do not apply to the column (kept for feedback on an analysis).
        var refused: [Action] = []
    }

    struct AnalysisColumn: Sendable {
        var analysisID: String
        var columnIndex: Int
        var columnKey: String?
        var domain: String
        var features: [Double]
        /// Privacy budget the kept fingerprint spent.
        var epsilon: Double
    }

    /// Ids for recommendations, from the log's sequence (unique across replicas).
    func reserveRecommendationIDs(count: Int) async throws(StoreError) -> [UInt64] {
        try await self.pool.execute("SELECT nextval('recommendation_log_id_seq') FROM generate_series(1, $1::integer)", ["\(count)"], idempotent: true)
            .rows.compactMap { $0[0].flatMap { UInt64($0) } }
    }

    /// Logs recommendations (of any users: calls are grouped) under their reserved ids.
    /// Fingerprints kept for an analysis are recorded in the privacy ledger in the same
    /// transaction. A repeat of a batch that was stored adds nothing (rows and ledger entries
    /// follow the ids), so the pool may retry it.
    func logRecommendations(_ items: [LoggedRecommendation]) async throws(StoreError) {
        guard !items.isEmpty else { return }
        // The log alone is statistics about recommendations, not acknowledged user data: not worth
        // a WAL flush (a crash can lose its last rows only). A batch that keeps analysis
        // fingerprints, which later feedback needs, waits for the flush. One prepared statement:
        // `set_config(..., true)` holds until the end of its implicit transaction, so it governs
        // that transaction's commit.
        let keepsFingerprints = items.contains { $0.analysis != nil }
        try await self.pool.execute(
            """
            WITH config AS MATERIALIZED (
                SELECT set_config('synchronous_commit', $1, true)
            ), input AS (
                SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::integer[], $10::text[], $11::text[], $12::text[], $13::float8[], $14::text[], $15::text[], $16::text[])
                    AS input (id, user_id, bucket, rule_id, source, action, analysis_id, column_index, column_key, domain, features, epsilon, builtin, builtin_action, refused)
            ), inserted AS (
                INSERT INTO recommendation_log (id, user_id, bucket, rule_id, source, action, analysis_id, column_index, column_key, domain, features, builtin, builtin_action, refused)
                SELECT id, user_id, bucket, rule_id, source, action, analysis_id, column_index, column_key, domain, features::float8[], builtin, builtin_action, refused
                FROM input CROSS JOIN config
                ON CONFLICT (id) DO NOTHING
                RETURNING id
            )
            INSERT INTO privacy_ledger (user_id, epsilon, reason)
            SELECT user_id, sum(epsilon), 'analysis fingerprints' FROM input JOIN inserted USING (id) WHERE epsilon > 0 GROUP BY user_id
            """,
            [
                keepsFingerprints ? "on" : "off", Self.textArray(items.map { "\($0.id)" }),
                Self.textArray(items.map(\.user)), Self.textArray(items.map(\.bucket)), Self.textArray(items.map { $0.ruleID.map { "\($0)" } }),
                Self.textArray(items.map(\.source)), Self.textArray(items.map(\.action)), Self.textArray(items.map { $0.analysis?.analysisID }),
                Self.textArray(items.map { $0.analysis.map { "\($0.columnIndex)" } }), Self.textArray(items.map { $0.analysis?.columnKey }),
                Self.textArray(items.map { $0.analysis?.domain ?? "" }), Self.textArray(items.map { $0.analysis.map { Self.arrayLiteral($0.features) } }),
                Self.textArray(items.map { "\($0.analysis?.epsilon ?? 0)" }), Self.textArray(items.map(\.builtin.source)),
                Self.textArray(items.map(\.builtin.action.rawValue)),
                Self.textArray(items.map { $0.analysis == nil ? nil : $0.refused.map(\.rawValue).joined(separator: ",") }),
            ], idempotent: true)
    }

    /// A column of an earlier analysis, as feedback needs it.
    struct AnalysedColumn: Sendable {
        var recommendationID: UInt64
        var columnIndex: Int
        var columnKey: String?
        var bucket: String
        var action: String
        var domain: String
        var features: [Double]
        var builtin: BuiltinChoice?
        /// A verdict was recorded for it.
        var answered: Bool
        /// The analysis's target (recommended by source "target"): not a feature, not learned from.
        var isTarget: Bool
        /// Actions that do not apply to the column.
        var refused: Set<String>
    }

    /// The columns of a user's analysis whose fingerprints are still kept (empty: unknown or expired).
    func analysedColumns(user: String, analysisID: String) async throws(StoreError) -> [AnalysedColumn] {
        let result = try await self.pool.execute(
            """
            SELECT id, column_index, column_key, bucket, action, domain, features::text, builtin, builtin_action, outcome IS NOT NULL,
                   source = 'target', refused
            FROM recommendation_log WHERE user_id = $1 AND analysis_id = $2 AND features IS NOT NULL ORDER BY column_index
            """, [user, analysisID], idempotent: true)
        return result.rows.compactMap { row in
            guard let id = row[0].flatMap({ UInt64($0) }), let index = row[1].flatMap({ Int($0) }), let features = row[6] else { return nil }
            return AnalysedColumn(
                recommendationID: id, columnIndex: index, columnKey: row[2], bucket: row[3] ?? "", action: row[4] ?? "",
                domain: row[5] ?? "", features: Self.parseArray(features),
                builtin: BuiltinChoice(source: row[7], action: row[8]), answered: row[9] == "t", isTarget: row[10] == "t",
                refused: Set((row[11] ?? "").split(separator: ",").map(String.init)))
        }
    }

    /// Forgets the fingerprints and name keys of analyses older than `hours`; returns the rows cleared.
    func expireAnalyses(olderThanHours hours: Int) async throws(StoreError) -> Int {
        try await self.background.execute(Maintenance.expireAnalyses, ["\(hours)"], idempotent: true).affectedRows
    }

    /// Deletes recommendation-log rows older than `days`, `batch` rows per statement so that no
    /// statement holds its locks long; returns how many went.
    func deleteLog(olderThanDays days: Int, batch: Int) async throws(StoreError) -> Int {
        var total = 0
        while true {
            let deleted = try await self.background.execute(Maintenance.deleteOldLog, ["\(days)", "\(batch)"], idempotent: true).affectedRows
            total += deleted
            if deleted < batch { return total }
        }
    }

    /// The periodic maintenance's statements. Each must be served by an index however long the
    /// log grows (a test checks their plans).
    enum Maintenance {
        static let expireAnalyses = """
            UPDATE recommendation_log SET features = NULL, column_key = NULL
            WHERE analysis_id IS NOT NULL AND features IS NOT NULL AND created_at < now() - make_interval(hours => $1::integer)
            """
        static let deleteOldLog = """
            DELETE FROM recommendation_log WHERE id IN (
                SELECT id FROM recommendation_log WHERE created_at < now() - make_interval(days => $1::integer) LIMIT $2)
            """
    }

    struct UserStats: Sendable {
        var days: [(day: String, recommendations: Int, accepted: Int, corrected: Int)]
        var rulesActive: Int
        var rulesTotal: Int
        var epsilon: Double
        var feedback: Int
    }

    func stats(user: String) async throws(StoreError) -> UserStats {
        try await self.pool.transaction(idempotent: true) { (transaction) throws(StoreError) -> UserStats in
            let days = try transaction.execute(
                """
                SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*), count(*) FILTER (WHERE outcome = 'accepted'),
                       count(*) FILTER (WHERE outcome = 'corrected')
                FROM recommendation_log WHERE user_id = $1 GROUP BY day ORDER BY day
                """, [user])
            let rules = try transaction.execute("SELECT count(*) FILTER (WHERE active), count(*) FROM rules WHERE user_id = $1", [user])
            let epsilon = try transaction.execute("SELECT coalesce(sum(epsilon), 0) FROM privacy_ledger WHERE user_id = $1", [user])
            let feedback = try transaction.execute("SELECT count(*) FROM feedback WHERE user_id = $1", [user])
            return UserStats(
                days: days.rows.map { ($0[0] ?? "", Int($0[1] ?? "0") ?? 0, Int($0[2] ?? "0") ?? 0, Int($0[3] ?? "0") ?? 0) },
                rulesActive: Int(try rules.value(0, 0)) ?? 0, rulesTotal: Int(try rules.value(0, 1)) ?? 0,
                epsilon: Double(try epsilon.value(0, 0)) ?? 0, feedback: Int(try feedback.value(0, 0)) ?? 0)
        }
    }

    static func arrayLiteral(_ values: [Double]) -> String {
        "{" + values.map { $0.isFinite ? "\($0)" : "0" }.joined(separator: ",") + "}"
    }

    /// A PostgreSQL array literal of text elements: each quoted, `"` and `\\` escaped, nil as NULL.
    static func textArray(_ values: [String?]) -> String {
        var literal: [UInt8] = [UInt8(ascii: "{")]
        literal.reserveCapacity(values.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 })
        for (index, value) in values.enumerated() {
            if index > 0 { literal.append(UInt8(ascii: ",")) }
            guard let value else {
                literal += "NULL".utf8
                continue
            }
            literal.append(UInt8(ascii: "\""))
            for byte in value.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { literal.append(UInt8(ascii: "\\")) }
                literal.append(byte)
            }
            literal.append(UInt8(ascii: "\""))
        }
        literal.append(UInt8(ascii: "}"))
        return String(decoding: literal, as: UTF8.self)
    }

    /// PostgreSQL's text form of a float8[] ("{1.5,-2,3e-05}"), parsed in one pass with strtod (a
    /// refit reads thousands of these). strtod reads '.' as the decimal point in the C locale, which
    /// a program starts in and this one never changes (no setlocale). Stops at anything that is not
    /// a number.
    static func parseArray(_ text: String) -> [Double] {
        text.withCString { start in
            var values: [Double] = []
            var cursor = start
            if cursor.pointee == CChar(UInt8(ascii: "{")) { cursor += 1 }
            while cursor.pointee != 0, cursor.pointee != CChar(UInt8(ascii: "}")) {
                var end: UnsafeMutablePointer<CChar>?
                let value = strtod(cursor, &end)
                guard let end, UnsafePointer(end) != cursor else { break }
                values.append(value)
                cursor = UnsafePointer(end)
                if cursor.pointee == CChar(UInt8(ascii: ",")) { cursor += 1 }
            }
            return values
        }
    }

    static func encode<T: Encodable>(_ value: T) throws(StoreError) -> Data {
        do { return try JSONEncoder().encode(value) } catch { throw .decoding("cannot encode a rule condition") }
    }
}

/// A user's rule as stored in `rules.condition`: the tree's path and the region of its examples.
/// Rules stored before regions existed hold the path alone, as an array.
struct StoredCondition: Codable, Equatable {
    var path: [RuleCondition]
    var region: [RuleCondition]

    var all: [RuleCondition] { self.path + self.region }

    static func decode(_ text: String) -> StoredCondition? {
        let data = Data(text.utf8)
        if let stored = try? JSONDecoder().decode(StoredCondition.self, from: data) { return stored }
        return (try? JSONDecoder().decode([RuleCondition].self, from: data)).map { StoredCondition(path: $0, region: []) }
    }
}
