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

/// The gateway's methods (Protocol/schemas/aurora/gateway/v1/gateway.proto): the public API.
public enum GatewayAPI {
    public static let analyze = Method<Aurora_Gateway_V1_AnalyzeUpload, Aurora_Gateway_V1_AnalyzeResponse>(
        "aurora.gateway.v1.Gateway/Analyze", shape: .clientStreaming)
    public static let recommend = Method<Aurora_Learning_V1_RecommendRequest, Aurora_Learning_V1_RecommendResponse>(
        "aurora.gateway.v1.Gateway/Recommend", shape: .unary)
    public static let feedback = Method<Aurora_Gateway_V1_FeedbackRequest, Aurora_Learning_V1_FeedbackResponse>(
        "aurora.gateway.v1.Gateway/Feedback", shape: .unary)
    public static let rules = Method<Aurora_Learning_V1_ListRulesRequest, Aurora_Learning_V1_ListRulesResponse>(
        "aurora.gateway.v1.Gateway/Rules", shape: .unary)
    public static let disableRule = Method<Aurora_Learning_V1_DisableRuleRequest, Aurora_Learning_V1_DisableRuleResponse>(
        "aurora.gateway.v1.Gateway/DisableRule", shape: .unary)
    public static let forget = Method<Aurora_Learning_V1_ForgetRequest, Aurora_Learning_V1_ForgetResponse>(
        "aurora.gateway.v1.Gateway/Forget", shape: .unary)
    public static let stats = Method<Aurora_Learning_V1_StatsRequest, Aurora_Learning_V1_StatsResponse>(
        "aurora.gateway.v1.Gateway/Stats", shape: .unary)
}
