// swift-tools-version: 6.1
import PackageDescription
import class Foundation.ProcessInfo

// Arrows point one way: AuroraWire <- AuroraRPC <- AuroraProtocol <- services <- Services/.
// The domain modules import no RPC: AuroraStatistics (standard library only) <- AuroraParser and
// AuroraLearning; AuroraProtocol converts statistics to and from the wire.
let package = Package(
    name: "aurora",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "AuroraWire", targets: ["AuroraWire"]),
        .library(name: "AuroraRPC", targets: ["AuroraRPC"]),
        .library(name: "AuroraProtocol", targets: ["AuroraProtocol"]),
        .library(name: "AuroraParser", targets: ["AuroraParser"]),
        .library(name: "AuroraStatistics", targets: ["AuroraStatistics"]),
        .executable(name: "aurora", targets: ["AuroraCLI"]),
        .executable(name: "parser-service", targets: ["ParserService"]),
        .executable(name: "learning-service", targets: ["LearningService"]),
        .executable(name: "gateway", targets: ["Gateway"]),
        .executable(name: "aurora-bench", targets: ["AuroraBench"]),
        .executable(name: "aurora-sim-adapter", targets: ["AuroraSimAdapter"]),
        .executable(name: "aurora-protocol-tools", targets: ["AuroraProtocolTools"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // C system libraries: headers and link flags come from pkg-config.
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // zlib, for .csv.gz files (on every Debian machine; zlib1g-dev has the header).
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),

        // The wire: frames, zstd bodies, limits, control messages.
        .target(
            name: "AuroraWire",
            dependencies: [
                "CZstd",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // The RPC runtime: connections, streams, server, client, pool.
        .target(
            name: "AuroraRPC",
            dependencies: [
                "AuroraWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // Generated service messages and method descriptors (the contract in Protocol/), and the one
        // conversion file per direction between them and the domain types.
        .target(
            name: "AuroraProtocol",
            dependencies: [
                "AuroraRPC", "AuroraStatistics", "AuroraLearning",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // A column's statistics, the one type every module shares, and the JSON report of them
        // (standard library only: no NIO, RPC or protobuf).
        .target(name: "AuroraStatistics"),
        // The diagnostics service's handlers (echo, upload, download), for RPC tests and benchmarks.
        .target(name: "AuroraDiagnostics", dependencies: ["AuroraProtocol", "AuroraRPC"]),
        // Worker threads shared by the profiler's blocks and the learning-service's refits.
        .target(name: "AuroraThreads"),
        // CSV ingestion and column profiling: pure domain code (no NIO, no RPC).
        // SIMD byte compares for the parser's scans (plain C where the CPU lacks SSE2).
        .target(name: "CByteMasks"),
        .target(name: "AuroraParser", dependencies: ["AuroraStatistics", "AuroraThreads", "CByteMasks", "CZlib", "CZstd"]),
        // What every daemon shares: settings from flags and environment, secrets, logging, lifecycle,
        // the admin HTTP port (/metrics, /healthz, /readyz).
        .target(
            name: "AuroraDaemon",
            dependencies: [
                "AuroraRPC",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The parser-service's handlers and the profile's wire form.
        .target(
            name: "AuroraParserService",
            dependencies: [
                "AuroraParser", "AuroraProtocol", "AuroraRPC", "AuroraStatistics",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Daemons (Services/): thin executables over the libraries above.
        .executableTarget(
            name: "ParserService",
            dependencies: [
                "AuroraDaemon", "AuroraParser", "AuroraParserService", "AuroraRPC",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Services/ParserService"
        ),
        // Learning: fingerprints, privacy noise, built-in and learned recommendations (no I/O).
        .target(name: "AuroraLearning", dependencies: ["AuroraStatistics"]),
        // PostgreSQL through libpq: pool, migrations, typed errors (owned by the learning-service).
        .target(
            name: "AuroraStore",
            dependencies: ["CLibPQ", .product(name: "Logging", package: "swift-log")]
        ),
        // The learning-service's handlers over the store and the learning library.
        .target(
            name: "AuroraLearningService",
            dependencies: [
                "AuroraLearning", "AuroraStatistics", "AuroraStore", "AuroraProtocol", "AuroraRPC", "AuroraThreads",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .executableTarget(
            name: "LearningService",
            dependencies: [
                "AuroraDaemon", "AuroraLearningService", "AuroraStore", "AuroraRPC",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Services/LearningService"
        ),
        // The gateway: JWT authentication, rate limits, orchestration of the two internal services.
        .target(
            name: "AuroraGateway",
            dependencies: [
                "AuroraProtocol", "AuroraRPC", "AuroraLearning", "AuroraStatistics",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "Gateway",
            dependencies: [
                "AuroraDaemon", "AuroraGateway", "AuroraProtocol", "AuroraRPC",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Services/Gateway"
        ),
        // The adapter ../shared/simulate/simulate.py drives (JSON lines -> the real learning-service).
        .executableTarget(
            name: "AuroraSimAdapter",
            dependencies: ["AuroraProtocol", "AuroraRPC"]
        ),
        // The `aurora` command-line client.
        .executableTarget(
            name: "AuroraCLI",
            dependencies: [
                "AuroraParser", "AuroraProtocol", "AuroraRPC", "AuroraStatistics",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // Benchmarks, run by hand: `swift run -c release aurora-bench --help`.
        .executableTarget(
            name: "AuroraBench",
            dependencies: [
                "AuroraRPC", "AuroraProtocol", "AuroraWire", "AuroraParser", "AuroraGateway", "AuroraDiagnostics",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Writes Protocol/vectors and the dictionary training samples (Protocol/generate.sh).
        .executableTarget(
            name: "AuroraProtocolTools",
            dependencies: [
                "AuroraWire", "AuroraProtocol", "AuroraRPC", "CZstd",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),

        .testTarget(
            name: "AuroraWireTests",
            dependencies: [
                "AuroraWire", "AuroraProtocol", "CZstd",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "AuroraParserTests", dependencies: ["AuroraParser", "AuroraStatistics"]),
        .testTarget(name: "AuroraLearningTests", dependencies: ["AuroraLearning", "AuroraStatistics", "AuroraProtocol"]),
        .testTarget(
            name: "AuroraServiceTests",
            dependencies: [
                "AuroraParser", "AuroraParserService", "AuroraProtocol", "AuroraRPC", "AuroraStatistics",
                "AuroraLearning", "AuroraLearningService", "AuroraStore", "AuroraGateway", "AuroraDaemon", "AuroraDiagnostics",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .testTarget(
            name: "AuroraRPCTests",
            dependencies: [
                "AuroraRPC", "AuroraProtocol", "AuroraWire", "AuroraDiagnostics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ]
)

// The libFuzzer target links libFuzzer's driver, so it exists only when asked for:
// AURORA_FUZZ=1 swift build --scratch-path .build-fuzz --product wire-fuzz \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
if ProcessInfo.processInfo.environment["AURORA_FUZZ"] == "1" {
    package.targets += [
        .systemLibrary(name: "CLibFuzzer", path: "Tests/Fuzz/CLibFuzzer"),
        .executableTarget(
            name: "WireFuzz",
            dependencies: ["AuroraWire", "CLibFuzzer", .product(name: "NIOCore", package: "swift-nio")],
            path: "Tests/Fuzz/WireFuzz"
        ),
        .target(
            name: "FuzzSupport", dependencies: [.product(name: "Logging", package: "swift-log")], path: "Tests/Fuzz/FuzzSupport"),
        .executableTarget(
            name: "ParserFuzz",
            dependencies: [
                "AuroraParserService", "AuroraProtocol", "AuroraRPC", "CLibFuzzer", "FuzzSupport",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Tests/Fuzz/ParserFuzz"
        ),
        .executableTarget(
            name: "GatewayFuzz",
            dependencies: [
                "AuroraGateway", "AuroraParserService", "AuroraProtocol", "AuroraRPC", "CLibFuzzer", "FuzzSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Tests/Fuzz/GatewayFuzz"
        ),
        .executableTarget(
            name: "LearningFuzz",
            dependencies: [
                "AuroraLearningService", "AuroraProtocol", "AuroraRPC", "AuroraStore", "CLibFuzzer", "FuzzSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Tests/Fuzz/LearningFuzz"
        ),
    ]
    package.products += [
        .executable(name: "wire-fuzz", targets: ["WireFuzz"]),
        .executable(name: "parser-fuzz", targets: ["ParserFuzz"]),
        .executable(name: "gateway-fuzz", targets: ["GatewayFuzz"]),
        .executable(name: "learning-fuzz", targets: ["LearningFuzz"]),
    ]
}
