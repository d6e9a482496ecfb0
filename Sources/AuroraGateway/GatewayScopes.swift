import AuroraProtocol

/// The gateway's policy: the scope a token needs for each public method; `admin` grants every
/// method, and a method not listed needs `admin`.
enum GatewayScopes {
    static let required: [String: String] = [
        GatewayAPI.analyze.name: "analyze", GatewayAPI.recommend.name: "analyze", GatewayAPI.rules.name: "analyze",
        GatewayAPI.stats.name: "analyze", GatewayAPI.feedback.name: "feedback", GatewayAPI.disableRule.name: "feedback",
        GatewayAPI.forget.name: "feedback",
    ]
}
