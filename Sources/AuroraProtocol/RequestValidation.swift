import AuroraRPC

/// What a caller may send in column statistics and learning requests, checked at every service
/// boundary (the gateway's Recommend and Feedback, every learning-service method) before domain
/// code sees a value: integers fit and agree, floats are finite and in range, strings and lists are
/// bounded. A refusal is INVALID_ARGUMENT naming the field by its path in the request, e.g.
/// "batch.columns[3].missing (5) is greater than count (4)", with the path in `details["field"]`.
/// Messages quote counts, ratios and shape statistics, never a number that may be a cell's value
/// (min, max, mean, variance, quantiles, dates).
public enum RequestValidation {
    // MARK: Limits

    /// Counts (rows, missing, distinct, invalid, true/false, histogram bins, lengths): at most 2^53,
    /// so each is exact as the Double the fingerprint computes in, and fits an Int. A file of 2^53
    /// rows would be 9 PB; nothing real comes near.
    public static let maximumCount: UInt64 = 1 << 53
    /// Values of a column (min, max, mean, quantiles): |x| ≤ 1e150, so that differences and squares
    /// of them (a range, a variance) stay finite. Numbers written in files stay far below it.
    public static let maximumMagnitude = 1e150
    /// A variance: at most the square of the largest value.
    public static let maximumVariance = maximumMagnitude * maximumMagnitude
    /// Skewness and (excess) kurtosis: a sample of n values has |skewness| < √n and kurtosis < n;
    /// with n ≤ `maximumCount` both are below 1e16.
    public static let maximumShape = 1e16
    /// Ratios that should add up to at most 1 (zero_ratio + negative_ratio) may exceed it by this
    /// much: each was rounded on its own.
    public static let ratioTolerance = 1e-9
    /// Quantiles are either absent or the 7 the schema defines (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99).
    public static let quantileCount = 7
    /// Histogram bins (the parser-service sends 20).
    public static let maximumHistogramBins = 1024
    /// Strings, in UTF-8 bytes.
    public static let maximumDomainBytes = 64
    public static let maximumAnalysisIDBytes = 64
    public static let maximumColumnKeyBytes = 128
    public static let maximumFeedbackIDBytes = 128
    public static let maximumActionBytes = 64
    public static let maximumDateFormatBytes = 64
    /// A gateway verdict names a column by name or index.
    public static let maximumVerdictColumnBytes = 1024
    /// Ids the store keeps as bigint (recommendation and rule ids).
    public static let maximumID = UInt64(Int64.max)

    // MARK: Requests

    /// A Recommend request: at most `maximumColumns` columns, each valid; domain, analysis id and
    /// column keys bounded; one key per column or none.
    public static func check(_ request: Aurora_Learning_V1_RecommendRequest, maximumColumns: Int) throws(RPCError) {
        let columns = request.batch.columns
        guard columns.count <= maximumColumns else {
            throw Self.refuse("batch.columns", "has \(columns.count) columns; at most \(maximumColumns) per call")
        }
        try Self.text(request.batch.domain, "batch.domain", maximumBytes: Self.maximumDomainBytes)
        try Self.text(request.analysisID, "analysis_id", maximumBytes: Self.maximumAnalysisIDBytes)
        guard request.columnKeys.isEmpty || request.columnKeys.count == columns.count else {
            throw Self.refuse("column_keys", "has \(request.columnKeys.count) keys for \(columns.count) columns; send one per column or none")
        }
        for (index, target) in request.targetColumns.enumerated() where Int(target) >= columns.count {
            throw Self.refuse("target_columns[\(index)]", "(\(target)) is not a column: the batch has \(columns.count) columns, indexes 0 to \(columns.count - 1)")
        }
        for (index, key) in request.columnKeys.enumerated() {
            try Self.text(key, "column_keys[\(index)]", maximumBytes: Self.maximumColumnKeyBytes)
        }
        for (index, column) in columns.enumerated() { try Self.check(column, at: "batch.columns[\(index)]") }
    }

    /// A learning-service Feedback request: at most `maximumItems` items, each valid.
    public static func check(_ request: Aurora_Learning_V1_FeedbackRequest, maximumItems: Int) throws(RPCError) {
        guard request.items.count <= maximumItems else {
            throw Self.refuse("items", "has \(request.items.count) items; at most \(maximumItems) per call")
        }
        try Self.text(request.acceptRestOfAnalysis, "accept_rest_of_analysis", maximumBytes: Self.maximumAnalysisIDBytes)
        for (index, item) in request.items.enumerated() { try Self.check(item, at: "items[\(index)]") }
    }

    /// A gateway Feedback request: verdicts and items together at most `maximumItems`, each valid.
    public static func check(_ request: Aurora_Gateway_V1_FeedbackRequest, maximumItems: Int) throws(RPCError) {
        let total = request.verdicts.count + request.items.count
        guard total <= maximumItems else {
            throw Self.refuse("verdicts", "and items are \(total); at most \(maximumItems) per call")
        }
        try Self.text(request.analysisID, "analysis_id", maximumBytes: Self.maximumAnalysisIDBytes)
        if request.acceptRest && request.analysisID.isEmpty {
            throw Self.refuse("accept_rest", "needs the analysis_id whose other columns it accepts")
        }
        for (index, verdict) in request.verdicts.enumerated() {
            // Only hashed, never stored as it is: any name a file may hold.
            guard (1...Self.maximumVerdictColumnBytes).contains(verdict.column.utf8.count) else {
                throw Self.refuse("verdicts[\(index)].column", "must be a name or an index (1 to \(Self.maximumVerdictColumnBytes) bytes)")
            }
            try Self.text(verdict.action, "verdicts[\(index)].action", maximumBytes: Self.maximumActionBytes)
        }
        for (index, item) in request.items.enumerated() { try Self.check(item, at: "items[\(index)]") }
    }

    /// One feedback item. With an analysis id the statistics come from that analysis (any sent are
    /// checked all the same); without, the item needs its id and its statistics.
    public static func check(_ item: Aurora_Learning_V1_FeedbackItem, at path: String) throws(RPCError) {
        try Self.text(item.feedbackID, "\(path).feedback_id", maximumBytes: Self.maximumFeedbackIDBytes)
        try Self.text(item.analysisID, "\(path).analysis_id", maximumBytes: Self.maximumAnalysisIDBytes)
        try Self.text(item.columnKey, "\(path).column_key", maximumBytes: Self.maximumColumnKeyBytes)
        try Self.text(item.domain, "\(path).domain", maximumBytes: Self.maximumDomainBytes)
        try Self.text(item.recommendedAction, "\(path).recommended_action", maximumBytes: Self.maximumActionBytes)
        try Self.text(item.acceptedAction, "\(path).accepted_action", maximumBytes: Self.maximumActionBytes)
        guard item.recommendationID <= Self.maximumID else {
            throw Self.refuse("\(path).recommendation_id", "(\(item.recommendationID)) is greater than the largest id (2^63-1)")
        }
        if item.analysisID.isEmpty {
            guard !item.feedbackID.isEmpty else {
                throw Self.refuse("\(path).feedback_id", "must be 1 to \(Self.maximumFeedbackIDBytes) bytes (it makes a retry count once)")
            }
        }
        if item.analysisID.isEmpty || item.hasStats { try Self.check(item.stats, at: "\(path).stats") }
    }

    /// A rule id named by DisableRule.
    public static func check(_ request: Aurora_Learning_V1_DisableRuleRequest) throws(RPCError) {
        guard request.id <= Self.maximumID else { throw Self.refuse("id", "(\(request.id)) is greater than the largest rule id (2^63-1)") }
    }

    /// The user an internal call names in its metadata (a store key: no NUL, which libpq would cut at).
    public static func user(_ user: String?, maximumBytes: Int = 256) -> String? {
        guard let user, !user.isEmpty, user.utf8.count <= maximumBytes, !user.utf8.contains(0) else { return nil }
        return user
    }

    // MARK: Statistics

    /// One column's statistics, `path` naming them in the request ("batch.columns[3]").
    public static func check(_ stats: Aurora_Profile_V1_ColumnStatistics, at path: String) throws(RPCError) {
        if case .UNRECOGNIZED(let raw) = stats.type { throw Self.refuse("\(path).type", "(\(raw)) is not a known column type") }
        guard stats.type != .unspecified else { throw Self.refuse("\(path).type", "is missing (COLUMN_TYPE_UNSPECIFIED); say what the column holds") }
        guard stats.topValues.isEmpty else {
            throw Self.refuse("\(path).top_values", "must be empty: the learning-service accepts statistics, never values")
        }
        try Self.count(stats.count, "\(path).count")
        guard stats.missing <= stats.count else { throw Self.refuse("\(path).missing", "(\(stats.missing)) is greater than count (\(stats.count))") }
        // A sketch's estimate may exceed the non-missing cells a little; never the rows.
        guard stats.distinctEstimate <= stats.count else {
            throw Self.refuse("\(path).distinct_estimate", "(\(stats.distinctEstimate)) is greater than count (\(stats.count))")
        }
        let present = stats.count - stats.missing
        guard stats.invalid <= present else {
            throw Self.refuse("\(path).invalid", "(\(stats.invalid)) is greater than the non-missing cells (count - missing = \(present))")
        }
        try Self.ratio(stats.topValueRatio, "\(path).top_value_ratio")
        if stats.hasNumeric { try Self.check(stats.numeric, at: "\(path).numeric", numbers: present) }
        if stats.hasText { try Self.check(stats.text, at: "\(path).text") }
        if stats.hasDate { try Self.check(stats.date, at: "\(path).date") }
        if stats.hasBoolean {
            let boolean = stats.boolean
            for (name, value) in [("true_count", boolean.trueCount), ("false_count", boolean.falseCount)] where value > present {
                throw Self.refuse("\(path).boolean.\(name)", "(\(value)) is greater than the non-missing cells (\(present))")
            }
            // Both are at most 2^53 here: the sum cannot overflow.
            guard boolean.trueCount + boolean.falseCount <= present else {
                throw Self.refuse("\(path).boolean", "true_count + false_count (\(boolean.trueCount + boolean.falseCount)) is greater than the non-missing cells (\(present))")
            }
        }
    }

    static func check(_ n: Aurora_Profile_V1_NumericStats, at path: String, numbers: UInt64) throws(RPCError) {
        try Self.value(n.min, "\(path).min")
        try Self.value(n.max, "\(path).max")
        try Self.value(n.mean, "\(path).mean")
        guard n.min <= n.max else { throw Self.refuse("\(path).min", "is greater than max") }
        guard n.mean >= n.min, n.mean <= n.max else { throw Self.refuse("\(path).mean", "is outside [min, max]") }
        guard n.variance.isFinite else { throw Self.refuse("\(path).variance", "is not finite") }
        guard n.variance >= 0, n.variance <= Self.maximumVariance else {
            throw Self.refuse("\(path).variance", "is outside [0, \(Self.maximumVariance)]")
        }
        try Self.shape(n.skewness, "\(path).skewness")
        try Self.shape(n.kurtosis, "\(path).kurtosis")
        try Self.ratio(n.zeroRatio, "\(path).zero_ratio")
        try Self.ratio(n.negativeRatio, "\(path).negative_ratio")
        try Self.ratio(n.outlierRatio, "\(path).outlier_ratio")
        guard n.zeroRatio + n.negativeRatio <= 1 + Self.ratioTolerance else {
            throw Self.refuse("\(path).zero_ratio", "(\(n.zeroRatio)) plus negative_ratio (\(n.negativeRatio)) is more than 1")
        }
        guard n.quantiles.isEmpty || n.quantiles.count == Self.quantileCount else {
            throw Self.refuse("\(path).quantiles", "has \(n.quantiles.count) values; send none or \(Self.quantileCount) (at 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)")
        }
        for (index, quantile) in n.quantiles.enumerated() {
            try Self.value(quantile, "\(path).quantiles[\(index)]")
            guard quantile >= n.min, quantile <= n.max else { throw Self.refuse("\(path).quantiles[\(index)]", "is outside [min, max]") }
            guard index == 0 || n.quantiles[index - 1] <= quantile else {
                throw Self.refuse("\(path).quantiles[\(index)]", "is less than quantiles[\(index - 1)]: quantiles must not decrease")
            }
        }
        guard n.histogram.count <= Self.maximumHistogramBins else {
            throw Self.refuse("\(path).histogram", "has \(n.histogram.count) bins; at most \(Self.maximumHistogramBins)")
        }
        // Each bin is at most 2^53 and there are at most 1024: the sum cannot overflow.
        var total: UInt64 = 0
        for (index, bin) in n.histogram.enumerated() {
            guard bin <= numbers else { throw Self.refuse("\(path).histogram[\(index)]", "(\(bin)) is greater than the non-missing cells (\(numbers))") }
            total += bin
        }
        guard total <= numbers else { throw Self.refuse("\(path).histogram", "counts \(total) values, more than the non-missing cells (\(numbers))") }
    }

    static func check(_ text: Aurora_Profile_V1_TextStats, at path: String) throws(RPCError) {
        try Self.count(text.minLength, "\(path).min_length")
        try Self.count(text.maxLength, "\(path).max_length")
        guard text.meanLength.isFinite, text.meanLength >= 0, text.meanLength <= Double(Self.maximumCount) else {
            throw Self.refuse("\(path).mean_length", "(\(text.meanLength)) is outside [0, 2^53]")
        }
        if text.minLength > 0 || text.maxLength > 0 {
            guard text.minLength <= text.maxLength else {
                throw Self.refuse("\(path).min_length", "(\(text.minLength)) is greater than max_length (\(text.maxLength))")
            }
            // A mean of whole lengths lies between them (up to its rounding).
            let slack = Self.ratioTolerance * Double(text.maxLength)
            guard text.meanLength >= Double(text.minLength) - slack, text.meanLength <= Double(text.maxLength) + slack else {
                throw Self.refuse("\(path).mean_length", "(\(text.meanLength)) is outside [min_length, max_length] (\(text.minLength) to \(text.maxLength))")
            }
        }
    }

    static func check(_ date: Aurora_Profile_V1_DateStats, at path: String) throws(RPCError) {
        guard date.min <= date.max else { throw Self.refuse("\(path).min", "is later than max") }
        try Self.text(date.format, "\(path).format", maximumBytes: Self.maximumDateFormatBytes)
    }

    /// `stats` with the numeric part's floats brought into the accepted ranges (non-finite
    /// moments to the nearest bound, NaN ones to 0). For the gateway's Analyze, whose statistics
    /// come from the parser-service: a column of values beyond about 1e77 has moments that
    /// overflow a Double, which describe the file truly but would be refused. Clamping is
    /// monotonic, so min ≤ max and ordered quantiles stay so.
    public static func clampingNumbers(_ stats: Aurora_Profile_V1_ColumnStatistics) -> Aurora_Profile_V1_ColumnStatistics {
        guard stats.hasNumeric else { return stats }
        func clamp(_ value: Double, _ bound: Double) -> Double { value.isNaN ? 0 : min(max(value, -bound), bound) }
        var stats = stats
        stats.numeric.min = clamp(stats.numeric.min, Self.maximumMagnitude)
        stats.numeric.max = clamp(stats.numeric.max, Self.maximumMagnitude)
        stats.numeric.mean = clamp(stats.numeric.mean, Self.maximumMagnitude)
        stats.numeric.quantiles = stats.numeric.quantiles.map { clamp($0, Self.maximumMagnitude) }
        // An overflowed variance is +inf (or NaN from inf - inf): the largest one accepted.
        stats.numeric.variance = stats.numeric.variance.isNaN ? Self.maximumVariance : min(max(stats.numeric.variance, 0), Self.maximumVariance)
        stats.numeric.skewness = clamp(stats.numeric.skewness, Self.maximumShape)
        stats.numeric.kurtosis = clamp(stats.numeric.kurtosis, Self.maximumShape)
        return stats
    }

    // MARK: Fields

    static func refuse(_ field: String, _ problem: String) -> RPCError {
        RPCError(.invalidArgument, "\(field) \(problem)", details: ["field": field])
    }

    static func count(_ value: UInt64, _ field: String) throws(RPCError) {
        guard value <= Self.maximumCount else { throw Self.refuse(field, "(\(value)) is greater than 2^53") }
    }

    /// A share: finite, within [0, 1].
    static func ratio(_ value: Double, _ field: String) throws(RPCError) {
        guard value.isFinite, value >= 0, value <= 1 else { throw Self.refuse(field, "(\(value)) is outside [0, 1]") }
    }

    /// A value of the column: finite and within ±`maximumMagnitude` (not quoted: it may be a cell's).
    static func value(_ value: Double, _ field: String) throws(RPCError) {
        guard value.isFinite else { throw Self.refuse(field, "is not finite") }
        guard abs(value) <= Self.maximumMagnitude else { throw Self.refuse(field, "is beyond ±\(Self.maximumMagnitude)") }
    }

    static func shape(_ value: Double, _ field: String) throws(RPCError) {
        guard value.isFinite, abs(value) <= Self.maximumShape else { throw Self.refuse(field, "(\(value)) is not finite or beyond ±\(Self.maximumShape)") }
    }

    /// A string the store or a message may carry: bounded, without NUL (PostgreSQL text cannot
    /// hold it, and libpq would cut the parameter there).
    static func text(_ value: String, _ field: String, maximumBytes: Int) throws(RPCError) {
        let bytes = value.utf8.count
        guard bytes <= maximumBytes else { throw Self.refuse(field, "is \(bytes) bytes; at most \(maximumBytes)") }
        guard !value.utf8.contains(0) else { throw Self.refuse(field, "contains a NUL byte") }
    }
}
