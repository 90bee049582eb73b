// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Postmortem",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "postmortem", targets: ["postmortem"]),
        .library(
            name: "Postmortem",
            targets: [
                "Analysis", "SymbolStore", "Minidump", "KernelDump", "PortableExecutable", "ProgramDatabase", "BreakpadSymbols",
                "BinaryReading",
            ]
        ),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // Bounds-checked little-endian reads over memory-mapped files.
        .target(name: "BinaryReading"),
        // Format layer: one file format per target.
        .target(name: "Minidump", dependencies: ["BinaryReading"]),
        .target(name: "PortableExecutable", dependencies: ["BinaryReading"]),
        .target(name: "KernelDump", dependencies: ["BinaryReading"]),
        .target(name: "ProgramDatabase", dependencies: ["BinaryReading"]),
        .target(name: "BreakpadSymbols", dependencies: ["BinaryReading"]),
        // Keys, symbol paths, store layouts, publishing: the only place that knows them.
        .target(name: "SymbolStore", dependencies: ["PortableExecutable", "ProgramDatabase", "BinaryReading"]),
        // HTTP(S) symbol-server client with a downstream cache; kept apart so format users need no networking.
        .target(
            name: "SymbolClient", dependencies: ["SymbolStore", "BinaryReading"]
        ),
        // The HTTP(S) transport of the symbol client; only networked front ends link it (and TLS).
        .target(
            name: "SymbolHTTP",
            dependencies: [
                "SymbolClient", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The SymSrv-compatible server and proxy: the server layer, at the top like the CLI.
        .target(
            name: "SymbolServer",
            dependencies: [
                "SymbolStore", "SymbolClient", "SymbolHTTP", "BinaryReading",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The crash collection service (`postmortem serve`): uploads, queue, worker, buckets, dashboard.
        .target(
            name: "CrashService",
            dependencies: [
                "Analysis", "Minidump", "SymbolStore", "SymbolClient", "SymbolHTTP", "SymbolServer",
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        // Symbol providers, format conversion (dump-syms) and address lookup across formats.
        .target(
            name: "Symbolication",
            dependencies: ["ProgramDatabase", "BreakpadSymbols", "PortableExecutable", "SymbolStore", "BinaryReading"]
        ),
        // Per-architecture unwinders, CFI and frame-data programs, stack scanning.
        .target(name: "StackWalk", dependencies: ["BreakpadSymbols", "PortableExecutable", "BinaryReading"]),
        // Policy: reports built from the formats.
        .target(
            name: "Analysis",
            dependencies: [
                "Minidump", "KernelDump", "PortableExecutable", "ProgramDatabase", "BreakpadSymbols", "SymbolStore",
                "Symbolication", "StackWalk", "SymbolClient", "BinaryReading",
            ]
        ),
        // The command-line interface as a library, so its commands are testable in-process.
        .target(
            name: "PostmortemCommands",
            dependencies: [
                "Analysis", "Symbolication", "Minidump", "KernelDump", "ProgramDatabase", "BreakpadSymbols", "SymbolStore",
                "SymbolClient", "SymbolHTTP", "SymbolServer", "CrashService", "PortableExecutable", "BinaryReading",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "postmortem", dependencies: ["PostmortemCommands"]),

        // Fuzz targets: a replay tool in normal builds, a libFuzzer binary with -DFUZZING (see README).
        .target(
            name: "FuzzTargets",
            dependencies: [
                "Minidump", "KernelDump", "PortableExecutable", "ProgramDatabase", "BreakpadSymbols", "SymbolStore",
                "Analysis", "StackWalk", "Symbolication", "BinaryReading",
            ]
        ),
        .executableTarget(name: "postmortem-fuzz", dependencies: ["FuzzTargets", "BinaryReading"]),
        // In-process timing of the library's parsing work, for Benchmarks/*.py.
        .executableTarget(name: "postmortem-bench", dependencies: ["Analysis", "Minidump", "KernelDump"]),

        // Fixture locations, oracle runners and snapshots, shared by the test targets.
        .target(name: "TestSupport", path: "Tests/Support"),
        .testTarget(name: "BinaryReadingTests", dependencies: ["BinaryReading", "TestSupport"]),
        .testTarget(name: "MinidumpTests", dependencies: ["Minidump", "BinaryReading", "TestSupport"]),
        .testTarget(name: "PortableExecutableTests", dependencies: ["PortableExecutable", "BinaryReading", "TestSupport"]),
        .testTarget(name: "KernelDumpTests", dependencies: ["KernelDump", "BinaryReading", "TestSupport"]),
        .testTarget(name: "ProgramDatabaseTests", dependencies: ["ProgramDatabase", "BinaryReading", "TestSupport"]),
        .testTarget(
            name: "StackWalkTests",
            dependencies: [
                "StackWalk", "Analysis", "Minidump", "KernelDump", "PortableExecutable", "ProgramDatabase", "BreakpadSymbols",
                "Symbolication", "BinaryReading", "TestSupport",
            ]
        ),
        .testTarget(name: "BreakpadSymbolsTests", dependencies: ["BreakpadSymbols", "BinaryReading", "TestSupport"]),
        .testTarget(
            name: "SymbolClientTests",
            dependencies: ["SymbolClient", "SymbolHTTP", "SymbolStore", "BinaryReading", "TestSupport"]
        ),
        .testTarget(
            name: "SymbolServerTests",
            dependencies: [
                "SymbolServer", "SymbolClient", "SymbolHTTP", "SymbolStore", "BinaryReading", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "CrashServiceTests",
            dependencies: [
                "CrashService", "Analysis", "SymbolStore", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "Logging", package: "swift-log"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ]
        ),
        .testTarget(
            name: "SymbolicationTests",
            dependencies: [
                "Symbolication", "ProgramDatabase", "BreakpadSymbols", "PortableExecutable", "BinaryReading", "TestSupport",
            ]
        ),
        .testTarget(
            name: "SymbolStoreTests",
            dependencies: ["SymbolStore", "PortableExecutable", "ProgramDatabase", "BinaryReading", "TestSupport"]
        ),
        .testTarget(
            name: "CommandTests",
            dependencies: ["PostmortemCommands", "Analysis", "Minidump", "TestSupport"]
        ),
        .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "Minidump", "StackWalk", "BinaryReading", "TestSupport"]),
        .testTarget(
            name: "FixtureTests",
            dependencies: [
                "Analysis", "Minidump", "KernelDump", "PortableExecutable", "BinaryReading", "PostmortemCommands",
                "FuzzTargets", "TestSupport",
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
