// swift-tools-version:6.1
// Benchmarks live in their own package (as in swift-nio and swift-collections): `swift build` / `swift test`
// at the root never build benchmark-only dependencies, and embedders see only Strata's own.
import PackageDescription

let package = Package(
    name: "StrataBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Strata", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // The SQLite baseline of Benchmarks/README.md (links the system SQLite, libsqlite3-dev).
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // The StrataPostgres rows' server access (dropping a run's schemas).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // The HTTP workload's server (StrataHTTP on Hummingbird) and its token.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Micro-benchmarks with malloc counts. Only this trait: the default ones pull a runtime interposer
        // that is not available offline here.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The deterministic "carts" data of Benchmarks/README.md, shared by the workload runner and the micro-benchmarks.
        .target(
            name: "BenchData",
            dependencies: [.product(name: "StrataStorage", package: "Strata")]
        ),
        // The workload runner: P1, P1p, P2, P3 (raw and typed), P4, P5, P6 and the disk limit, beside SQLite (and
        // P2, P3 typed and P4 on StrataPostgres), in one run.
        .executableTarget(
            name: "strata-bench",
            dependencies: [
                "BenchData",
                .product(name: "StrataStorage", package: "Strata"),
                .product(name: "Strata", package: "Strata"),
                .product(name: "StrataSQLite", package: "Strata"),
                .product(name: "StrataPostgres", package: "Strata"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "StrataHTTP", package: "Strata"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Micro-benchmarks of the hot paths: `swift package benchmark` (see the Makefile's bench-micro).
        .executableTarget(
            name: "StrataMicro",
            dependencies: [
                "BenchData",
                .product(name: "StrataStorage", package: "Strata"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/StrataMicro",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
