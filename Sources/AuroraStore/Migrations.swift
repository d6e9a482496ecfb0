/// Versioned schema changes, applied in order at start-up inside one transaction that holds an
/// advisory lock: replicas starting together queue on the lock, and each version is applied once.
public enum Migrations {
    public static let lockKey = 0x4155_524F  // "AURO"

    public static let all: [(version: Int, sql: String)] = [
        (1, """
            CREATE TABLE feedback (
                user_id text NOT NULL,
                feedback_id text NOT NULL,
                domain text NOT NULL DEFAULT '',
                features float8[] NOT NULL,
                bucket text NOT NULL,
                recommended text NOT NULL,
                accepted text NOT NULL,
                recommendation_id bigint,
                created_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (user_id, feedback_id)
            );
            CREATE INDEX feedback_user_time ON feedback (user_id, created_at DESC);
            CREATE INDEX feedback_bucket ON feedback (bucket, accepted);
            CREATE TABLE rules (
                id bigserial PRIMARY KEY,
                scope text NOT NULL CHECK (scope IN ('user', 'user_domain', 'global')),
                user_id text,
                domain text NOT NULL DEFAULT '',
                condition jsonb NOT NULL,
                condition_text text NOT NULL,
                action text NOT NULL,
                alpha float8 NOT NULL,
                beta float8 NOT NULL,
                support integer NOT NULL,
                active boolean NOT NULL,
                disabled_by_user boolean NOT NULL DEFAULT false,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE UNIQUE INDEX rules_identity ON rules (scope, coalesce(user_id, ''), domain, condition_text, action);
            CREATE INDEX rules_user ON rules (user_id) WHERE active;
            CREATE TABLE recommendation_log (
                id bigserial PRIMARY KEY,
                user_id text NOT NULL,
                bucket text NOT NULL,
                rule_id bigint,
                source text NOT NULL,
                action text NOT NULL,
                outcome text CHECK (outcome IN ('accepted', 'corrected')),
                created_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX recommendation_log_user ON recommendation_log (user_id, created_at);
            CREATE TABLE privacy_ledger (
                id bigserial PRIMARY KEY,
                user_id text NOT NULL,
                epsilon float8 NOT NULL,
                reason text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX privacy_ledger_user ON privacy_ledger (user_id);
            """),
        // Analyses: the gateway's Analyze logs each column's noised fingerprint and the keyed hash
        // of its name, so that feedback can name the analysis and column instead of resending
        // statistics. Both are cleared when the analysis expires.
        (2, """
            ALTER TABLE recommendation_log
                ADD COLUMN analysis_id text,
                ADD COLUMN column_index integer,
                ADD COLUMN column_key text,
                ADD COLUMN domain text NOT NULL DEFAULT '',
                ADD COLUMN features float8[];
            CREATE INDEX recommendation_log_analysis ON recommendation_log (user_id, analysis_id) WHERE analysis_id IS NOT NULL;
            """),
        // Votes per fingerprint bucket, action and user, kept with each feedback write: cross-user
        // rules are recomputed from these instead of reading every feedback row of a bucket.
        (3, """
            CREATE TABLE bucket_votes (
                bucket text NOT NULL,
                accepted text NOT NULL,
                user_id text NOT NULL,
                n bigint NOT NULL,
                PRIMARY KEY (bucket, accepted, user_id)
            );
            CREATE INDEX bucket_votes_user ON bucket_votes (user_id);
            INSERT INTO bucket_votes (bucket, accepted, user_id, n)
            SELECT bucket, accepted, user_id, count(*) FROM feedback GROUP BY bucket, accepted, user_id;
            """),
        // Cross-user rules read bucket_votes now: the feedback index by bucket only cost writes.
        (4, """
            DROP INDEX IF EXISTS feedback_bucket;
            """),
        // A refit reads and locks all of a user's rules, inactive ones too: the partial index left
        // that a sequential scan of every user's rules.
        (5, """
            CREATE INDEX rules_by_user ON rules (user_id);
            DROP INDEX IF EXISTS rules_user;
            """),
        // The hourly maintenance selects log rows by age: the analyses whose fingerprints expire
        // (a small partial index: only rows still holding one) and the rows past the retention.
        (6, """
            CREATE INDEX recommendation_log_unexpired ON recommendation_log (created_at) WHERE analysis_id IS NOT NULL AND features IS NOT NULL;
            CREATE INDEX recommendation_log_created ON recommendation_log (created_at);
            """),
        // The built-in rule that would have recommended each column, and its action: per user,
        // how often each built-in rule matches their choices (`builtin_records`, kept by refits).
        (7, """
            ALTER TABLE feedback ADD COLUMN builtin text, ADD COLUMN builtin_action text;
            ALTER TABLE recommendation_log ADD COLUMN builtin text, ADD COLUMN builtin_action text;
            CREATE TABLE builtin_records (
                user_id text NOT NULL,
                source text NOT NULL,
                agreeing integer NOT NULL,
                total integer NOT NULL,
                PRIMARY KEY (user_id, source)
            );
            """),
        // What the user chose instead of each built-in rule ("log_transform:3,robust_scale:1"): a
        // demoted built-in gives way to that, never to its untested runner-up. Filled by refits.
        (8, """
            ALTER TABLE builtin_records ADD COLUMN choices text NOT NULL DEFAULT '';
            """),
        // A user's "not for me" on a shared rule. Refreshes keep a shared rule's id while its
        // bucket keeps its action, so the choice lasts; a rule that goes takes its opt-outs along.
        (9, """
            CREATE TABLE rule_opt_outs (
                user_id text NOT NULL,
                rule_id bigint NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
                created_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (user_id, rule_id)
            );
            CREATE INDEX rule_opt_outs_rule ON rule_opt_outs (rule_id);
            """),
        // The actions that do not apply to an analysed column ("impute_median,text_tfidf"):
        // feedback on the analysis refuses a correction to one of them. Action names only.
        (10, """
            ALTER TABLE recommendation_log ADD COLUMN refused text;
            """),
        // User ids and domains are stored as keyed pseudonyms from now on; the learning-service
        // converts rows written before (once, recorded here) when it starts.
        (11, """
            CREATE TABLE pseudonym_conversion (converted_at timestamptz NOT NULL DEFAULT now(), converted_rows bigint NOT NULL);
            """),
    ]

    /// Applies what is missing; returns the versions applied now.
    @discardableResult
    public static func apply(_ pool: PostgresPool) async throws(StoreError) -> [Int] {
        try await pool.transaction { (transaction) throws(StoreError) -> [Int] in
            try transaction.execute("SELECT pg_advisory_xact_lock($1)", ["\(Self.lockKey)"])
            try transaction.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
            let applied = Set(try transaction.execute("SELECT version FROM schema_migrations").rows.compactMap { $0[0].flatMap { Int($0) } })
            var now: [Int] = []
            for migration in Self.all where !applied.contains(migration.version) {
                try transaction.executeScript(migration.sql)
                try transaction.execute("INSERT INTO schema_migrations (version) VALUES ($1)", ["\(migration.version)"])
                now.append(migration.version)
            }
            return now
        }
    }
}
