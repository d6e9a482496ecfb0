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
