import AuroraRPC

/// The diagnostics service's methods (Protocol/schemas/aurora/diag/v1/diag.proto): echo, upload
/// and download, for tests, benchmarks and operators checking a deployment end to end. The
/// handlers are in AuroraDiagnostics.
public enum Diagnostics {
    public static let echo = Method<Aurora_Diag_V1_EchoRequest, Aurora_Diag_V1_EchoResponse>(
        "aurora.diag.v1.Diagnostics/Echo", shape: .unary)
    public static let upload = Method<Aurora_Diag_V1_Chunk, Aurora_Diag_V1_UploadSummary>(
        "aurora.diag.v1.Diagnostics/Upload", shape: .clientStreaming)
    public static let download = Method<Aurora_Diag_V1_DownloadRequest, Aurora_Diag_V1_Chunk>(
        "aurora.diag.v1.Diagnostics/Download", shape: .serverStreaming)
}
