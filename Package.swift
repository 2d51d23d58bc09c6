// swift-tools-version:6.2
import CompilerPluginSupport
// Strata: an embedded event-sourcing framework with its own log-structured storage engine.
// Layers: C shims → StrataStorage (engine) → Strata (event sourcing) → CLI / tests.
import PackageDescription

/// libFuzzer targets (Fuzz/NAME/NAME.swift), one per decoder; `make fuzz` builds them with the fuzzer and
/// AddressSanitizer. A plain build compiles them too, so they never rot.
let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
    ("FuzzFrame", ["StrataStorage"]),
    ("FuzzRecord", ["StrataStorage"]),
    ("FuzzSegmentFiles", ["StrataStorage"]),
    ("FuzzStore", ["StrataStorage", "StrataTestSupport"]),
    ("FuzzRepair", ["StrataStorage", "StrataTestSupport"]),
    ("FuzzIndexRun", ["StrataStorage", "StrataTestSupport"]),
    ("FuzzStreamHeads", ["StrataStorage", "StrataTestSupport"]),
    ("FuzzSnapshotFile", ["StrataStorage", "StrataTestSupport"]),
    ("FuzzImportLine", ["StrataTools"]),
    ("FuzzEventPayload", ["Strata"]),
]

let package = Package(
    name: "Strata",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "StrataStorage", targets: ["StrataStorage"]),
        .library(name: "Strata", targets: ["Strata"]),
        // The compactor and projections as swift-service-lifecycle services (a separate product, so that only
        // applications that use ServiceLifecycle build it).
        .library(name: "StrataServices", targets: ["StrataServices"]),
        // The event store in an SQLite database (GRDB): its own file, or the application's own database.
        .library(name: "StrataSQLite", targets: ["StrataSQLite"]),
        // The event store on a PostgreSQL server (postgres-nio), shared by many application processes.
        .library(name: "StrataPostgres", targets: ["StrataPostgres"]),
        // An application's commands, aggregates, queries and live feed over HTTP (Hummingbird 2), with JWT bearer
        // tokens and a generated OpenAPI 3.1 document.
        .library(name: "StrataHTTP", targets: ["StrataHTTP"]),
        // The EventStore conformance suite, for any backend's tests (ours and a third party's).
        .library(name: "StrataConformance", targets: ["StrataConformance"]),
        // Given/When/Then tests of aggregates, commands, projections and queries on the in-memory store.
        .library(name: "StrataTesting", targets: ["StrataTesting"]),
        .executable(name: "strata", targets: ["strata"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        // Test-only: the Observability article's Prometheus wiring runs against a real registry.
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/pointfreeco/swift-custom-dump", from: "1.7.3"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/pointfreeco/xctest-dynamic-overlay", from: "1.13.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // TLS settings of PostgreSQL connections (already in postgres-nio's graph).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        .package(url: "https://github.com/mattpolzin/OpenAPIKit.git", from: "6.4.0"),
        // The macros (`@Event`): swift-syntax of the 6.3 toolchain.
        .package(url: "https://github.com/swiftlang/swift-syntax.git", "603.0.0"..<"604.0.0"),
        // Test-only: the live-feed tests' SSE client on a real loopback server.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // CRC32C (SSE4.2 chosen at run time, slicing-by-8 fallback).
        .target(name: "CStrataSupport"),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // The vocabulary every module shares: partition keys, event ids, records and the borrowed event view,
        // expected versions, snapshot subjects, logs and metrics. Re-exported by Strata and StrataStorage.
        .target(
            name: "StrataCore",
            dependencies: [
                "CStrataSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]),
        // Logs (swift-log) and metrics (swift-metrics' CoreMetrics): both go nowhere costly until the application
        // bootstraps a backend.
        .target(
            name: "StrataStorage",
            dependencies: [
                "StrataCore", "CStrataSupport", "CLZ4", "CZlib", .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]),
        // Strata's macros (`@Event`, `@FieldCodable`, `@EventSet`, declared in Strata): the expansions in a plain library
        // (what the macro tests link: a test target that depends on a macro target makes SwiftPM build the whole test
        // product a second time, for the host), the compiler plugin around them.
        .target(
            name: "StrataMacroSupport",
            dependencies: [
                .product(name: "SwiftSyntax", package: "swift-syntax"), .product(name: "SwiftSyntaxMacros", package: "swift-syntax"),
                .product(name: "SwiftSyntaxBuilder", package: "swift-syntax"), .product(name: "SwiftParser", package: "swift-syntax"),
                .product(name: "SwiftDiagnostics", package: "swift-syntax"),
            ]),
        .macro(
            name: "StrataMacros",
            dependencies: [
                "StrataMacroSupport", .product(name: "SwiftSyntax", package: "swift-syntax"),
                .product(name: "SwiftSyntaxMacros", package: "swift-syntax"), .product(name: "SwiftCompilerPlugin", package: "swift-syntax"),
            ]),
        .target(
            name: "Strata",
            dependencies: [
                "StrataCore", "StrataStorage", "StrataMacros", .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]),
        .target(
            name: "StrataServices",
            dependencies: [
                "Strata", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "StrataTesting",
            dependencies: [
                "Strata", .product(name: "CustomDump", package: "swift-custom-dump"),
                .product(name: "IssueReporting", package: "xctest-dynamic-overlay"),
                // What routes a reported issue to Swift Testing or XCTest at run time (a small dynamic library
                // that IssueReporting finds by name): without it, a failed expectation fails no test on Linux.
                .product(name: "IssueReportingTestSupport", package: "xctest-dynamic-overlay"),
            ]),
        .target(name: "StrataConformance", dependencies: ["Strata"]),
        .target(
            name: "StrataSQLite",
            dependencies: [
                "Strata", "StrataStorage", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "StrataPostgres",
            dependencies: [
                "Strata", "StrataCore", "StrataStorage", .product(name: "PostgresNIO", package: "postgres-nio"),
                // (For the type of the pool's "server unreachable" error, which postgres-nio passes through.)
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "StrataHTTP",
            dependencies: [
                "Strata", "StrataStorage", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"), .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "OpenAPIKit", package: "OpenAPIKit"), .product(name: "Logging", package: "swift-log"),
            ]),
        // The carts example of the README (Examples/Carts): the domain as a library, the demo `make demo` runs,
        // and the domain's tests, written with StrataTesting.
        .target(name: "Carts", dependencies: ["Strata"], path: "Examples/Carts/Sources/Carts"),
        .executableTarget(name: "carts-demo", dependencies: ["Carts", "Strata"], path: "Examples/Carts/Sources/CartsDemo"),
        // The carts example over HTTP (`make serve`): the API as a library (the HTTP tests serve it too) and the server.
        .target(name: "CartsHTTP", dependencies: ["Carts", "Strata", "StrataHTTP"], path: "Examples/Carts/Sources/CartsHTTP"),
        .executableTarget(
            name: "carts-server",
            dependencies: [
                "Carts", "CartsHTTP", "Strata", "StrataHTTP", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            path: "Examples/Carts/Sources/CartsServer"),
        .testTarget(name: "CartsTests", dependencies: ["Carts", "StrataTesting"], path: "Examples/Carts/Tests/CartsTests"),
        // What the `strata` command does, as a library (tests and fuzz targets use it too): the JSONL event
        // format, dump, import.
        .target(
            name: "StrataTools",
            dependencies: ["StrataStorage", "Strata", "StrataSQLite", .product(name: "GRDB", package: "GRDB.swift")]),
        // Fault-injecting file system and helpers shared by tests, fuzz targets and benchmarks.
        .target(name: "StrataTestSupport", dependencies: ["StrataStorage", .product(name: "Logging", package: "swift-log")]),
        .executableTarget(
            name: "strata",
            dependencies: [
                "Strata", "StrataStorage", "StrataSQLite", "StrataPostgres", "StrataTools",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "StrataStorageTests",
            dependencies: [
                "StrataStorage", "StrataTestSupport", "CStrataSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Golden", "FuzzRegressions"]
        ),
        .testTarget(
            name: "StrataToolsTests",
            dependencies: [
                "StrataTools", "StrataStorage", "Strata", "StrataTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "StrataServicesTests",
            dependencies: [
                "Strata", "StrataServices",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "StrataTestingTests", dependencies: ["Strata", "StrataTesting"]),
        .testTarget(
            name: "StrataMacrosTests",
            dependencies: [
                "StrataMacroSupport", .product(name: "SwiftSyntaxMacrosGenericTestSupport", package: "swift-syntax"),
                .product(name: "SwiftSyntaxMacros", package: "swift-syntax"), .product(name: "SwiftSyntaxMacroExpansion", package: "swift-syntax"),
                .product(name: "SwiftSyntax", package: "swift-syntax"), .product(name: "SwiftParser", package: "swift-syntax"),
                .product(name: "SwiftDiagnostics", package: "swift-syntax"),
            ]),
        .testTarget(
            name: "StrataSQLiteTests",
            dependencies: [
                "StrataSQLite", "Strata", "StrataConformance", "StrataTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .testTarget(
            name: "StrataPostgresTests",
            dependencies: ["StrataPostgres", "Strata", "StrataConformance", "StrataTestSupport", .product(name: "PostgresNIO", package: "postgres-nio")]),
        .testTarget(
            name: "StrataHTTPTests",
            dependencies: [
                "StrataHTTP", "Strata", "Carts", "CartsHTTP", "StrataTestSupport", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]),
        .testTarget(
            name: "StrataPrometheusTests",
            dependencies: [
                "Strata", "StrataTestSupport", .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]),
        .testTarget(
            name: "StrataTests",
            dependencies: [
                "Strata", "StrataStorage", "StrataConformance", "StrataTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The fuzz targets' entry point (libFuzzer's driver in builds of Fuzz/run.sh).
        .target(name: "CFuzzDriver", path: "Fuzz/CFuzzDriver"),
    ] + fuzzTargets.map { .executableTarget(name: $0.name, dependencies: $0.dependencies + ["CFuzzDriver"], path: "Fuzz/\($0.name)") },
    swiftLanguageModes: [.v6]
)
