/// The preprocessing actions AURORA recommends.
public enum Action: String, Sendable, CaseIterable, Codable {
    case keep
    case standardScale = "standard_scale"
    case minmaxScale = "minmax_scale"
    case robustScale = "robust_scale"
    case logTransform = "log_transform"
    case yeoJohnson = "yeo_johnson"
    case quantileTransform = "quantile_transform"
    case clipOutliers = "clip_outliers"
    case imputeMean = "impute_mean"
    case imputeMedian = "impute_median"
    case imputeMode = "impute_mode"
    case imputeConstant = "impute_constant"
    case oneHotEncode = "one_hot_encode"
    case ordinalEncode = "ordinal_encode"
    case targetEncode = "target_encode"
    case hashEncode = "hash_encode"
    case frequencyEncode = "frequency_encode"
    case datetimeFeatures = "datetime_features"
    case textTfidf = "text_tfidf"
    case dropColumn = "drop_column"
}
