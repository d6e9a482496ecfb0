import AuroraRPC

/// The parser-service's methods (Protocol/schemas/aurora/profile/v1/profile.proto).
public enum ParserAPI {
    /// An upload (ReadOptions first, then the file's bytes) in, the dataset profile out.
    public static let profile = Method<Aurora_Profile_V1_UploadChunk, Aurora_Profile_V1_DatasetProfile>(
        "aurora.parser.v1.ParserService/Profile", shape: .clientStreaming)
}

/// Metadata keys every AURORA service understands (Protocol/SPEC.md).
public enum MetadataKeys {
    /// The user an internal call is made for; set by the gateway, trusted only from connections
    /// that presented the internal service credential.
    public static let user = "aurora-user"
    public static let traceID = "trace-id"
}

/// The learning-service's methods (Protocol/schemas/aurora/learning/v1/learning.proto).
public enum LearningAPI {
    public static let recommend = Method<Aurora_Learning_V1_RecommendRequest, Aurora_Learning_V1_RecommendResponse>(
        "aurora.learning.v1.LearningService/Recommend", shape: .unary)
    public static let feedback = Method<Aurora_Learning_V1_FeedbackRequest, Aurora_Learning_V1_FeedbackResponse>(
        "aurora.learning.v1.LearningService/Feedback", shape: .unary)
    public static let listRules = Method<Aurora_Learning_V1_ListRulesRequest, Aurora_Learning_V1_ListRulesResponse>(
        "aurora.learning.v1.LearningService/ListRules", shape: .unary)
    public static let disableRule = Method<Aurora_Learning_V1_DisableRuleRequest, Aurora_Learning_V1_DisableRuleResponse>(
        "aurora.learning.v1.LearningService/DisableRule", shape: .unary)
    public static let forget = Method<Aurora_Learning_V1_ForgetRequest, Aurora_Learning_V1_ForgetResponse>(
        "aurora.learning.v1.LearningService/Forget", shape: .unary)
    public static let stats = Method<Aurora_Learning_V1_StatsRequest, Aurora_Learning_V1_StatsResponse>(
        "aurora.learning.v1.LearningService/Stats", shape: .unary)
}
