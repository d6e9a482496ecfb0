import AuroraParser
import AuroraProtocol
import AuroraRPC
import Logging
import Metrics

/// The parser-service's handlers: an upload streamed in, parsed and profiled as it arrives (never
/// stored), the dataset profile out. Logs and metrics carry sizes and counts only, never a cell
/// value or a column name.
public struct ParserService: Sendable {
    public struct Configuration: Sendable {
        /// Largest upload accepted, in bytes.
        public var maxUploadBytes: Int = 10 << 30
        /// Parsing limits and profile settings applied to every upload (clients choose the dialect).
        public var profile = ProfileOptions()
        /// Chunks profiled at once (CPU-bound work); a chunk waits for a slot. A slot is held only
        /// while a chunk is profiled, never while an upload waits for its next bytes, so a stalled
        /// upload cannot keep anyone else's from running.
        public var maxConcurrentProfiles: Int = 4
        /// Uploads in progress at once, in total and per user (`aurora-user`); one over either is
        /// refused with RESOURCE_EXHAUSTED. Each holds a profiler's memory: about 70 MiB for a file
        /// of 4,096 columns (the column limit), so 12 fit the 1 GiB the manifests give the daemon.
        public var uploads = ConcurrencyLimit.Limits(total: 12, perUser: 4)
        /// Calls must name the user they are made for (`aurora-user` metadata).
        public var requireUser = true

        public init() {}
    }

    let configuration: Configuration
    let slots: AsyncSemaphore
    let uploads: ConcurrencyLimit
    let metrics = Metrics()

    struct Metrics: Sendable {
        let profiles = Counter(label: "aurora_parser_profiles_total", dimensions: [("outcome", "ok")])
        let failures = Counter(label: "aurora_parser_profiles_total", dimensions: [("outcome", "error")])
        let bytes = Counter(label: "aurora_parser_bytes_total")
        let rows = Counter(label: "aurora_parser_rows_total")
        let duration = Timer(label: "aurora_parser_profile_duration_seconds", preferredDisplayUnit: .seconds)
    }

    public init(configuration: Configuration) {
        self.configuration = configuration
        self.slots = AsyncSemaphore(permits: max(1, configuration.maxConcurrentProfiles))
        self.uploads = ConcurrencyLimit(limits: configuration.uploads, what: "uploads")
    }

    public func register(into router: inout Router) {
        router.clientStreaming(ParserAPI.profile) { chunks, context in
            try await self.profile(chunks, context: context)
        }
    }

    func profile(_ chunks: RequestStream<Aurora_Profile_V1_UploadChunk>, context: ServerContext) async throws -> Aurora_Profile_V1_DatasetProfile {
        let user = context.metadata[MetadataKeys.user] ?? ""
        if self.configuration.requireUser && user.isEmpty {
            throw RPCError(.unauthenticated, "internal calls must name their user in '\(MetadataKeys.user)' metadata")
        }
        return try await self.uploads.withPermit(user: user) {
            try await self.profileAdmitted(chunks, context: context)
        }
    }

    /// Runs `work` in one of the CPU slots.
    private func inSlot<T>(_ work: () throws -> T) async throws -> T {
        try await self.slots.acquire()
        defer { self.slots.release() }
        return try work()
    }

    private func profileAdmitted(
        _ chunks: RequestStream<Aurora_Profile_V1_UploadChunk>, context: ServerContext
    ) async throws -> Aurora_Profile_V1_DatasetProfile {
        let started = ContinuousClock.now
        var options = self.configuration.profile
        var profiler: Profiler?
        var received = 0
        do {
            for try await chunk in chunks {
                switch chunk.part {
                case .options(let read):
                    guard profiler == nil else { throw RPCError(.invalidArgument, "read options must come before the file's bytes") }
                    do { try options.apply(read) } catch { throw RPCError(.invalidArgument, "read options: \(error)") }
                case .data(let data):
                    received += data.count
                    guard received <= self.configuration.maxUploadBytes else {
                        throw RPCError(.resourceExhausted, "upload larger than the limit of \(self.configuration.maxUploadBytes) bytes")
                    }
                    let current = profiler ?? Profiler(options: options)
                    profiler = current
                    try await self.inSlot {
                        try data.withUnsafeBytes { raw in try current.consume(raw.bindMemory(to: UInt8.self)) }
                    }
                case nil:
                    break
                }
            }
            let last = profiler ?? Profiler(options: options)
            let profile = try await self.inSlot { try last.finish() }
            self.metrics.profiles.increment()
            self.metrics.bytes.increment(by: Int64(received))
            self.metrics.rows.increment(by: Int64(profile.rows))
            self.metrics.duration.recordInterval(since: started)
            context.logger.info("profiled an upload", metadata: [
                "bytes": "\(received)", "rows": "\(profile.rows)", "columns": "\(profile.columns.count)",
                "malformed_rows": "\(profile.malformedRows)",
            ])
            return profile.message
        } catch let error as ProfileError {
            self.metrics.failures.increment()
            context.logger.info("upload refused", metadata: ["bytes": "\(received)", "line": "\(error.line.map(String.init) ?? "-")"])
            throw RPCError(.invalidArgument, error.description)
        } catch {
            self.metrics.failures.increment()
            throw error
        }
    }
}
