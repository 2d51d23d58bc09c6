// swift-tools-version:6.1
// Strata: an embedded event-sourcing framework with its own log-structured storage engine.
// Layers (see DESIGN.md): C shims → StrataStorage (engine) → Strata (event sourcing) → CLI / tests.
import PackageDescription

let package = Package(
    name: "Strata",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "StrataStorage", targets: ["StrataStorage"]),
        .library(name: "Strata", targets: ["Strata"]),
        .executable(name: "strata", targets: ["strata"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        // CRC32C (SSE4.2 chosen at run time, slicing-by-8 fallback).
        .target(name: "CStrataSupport"),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "StrataStorage", dependencies: ["CStrataSupport", "CLZ4", "CZlib"]),
        .target(name: "Strata", dependencies: ["StrataStorage"]),
        // Fault-injecting file system and helpers shared by tests, fuzz targets and benchmarks.
        .target(name: "StrataTestSupport", dependencies: ["StrataStorage"]),
        .executableTarget(
            name: "strata",
            dependencies: [
                "Strata", "StrataStorage",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "StrataStorageTests",
            dependencies: [
                "StrataStorage", "StrataTestSupport", "CStrataSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            exclude: ["Golden"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
