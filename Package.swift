// swift-tools-version:6.0
// qq-run: the runtime half of qq, as small dependency-free binaries.
// Toolchain only: no package dependencies (see README, "Rules").
import PackageDescription

// Upcoming language features swiftlang/swift-subprocess also enables; each cost nothing here.
// (InternalImportsByDefault is not on: every file would need `package import Glibc`.)
let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
]

let package = Package(
    name: "qq-run",
    products: [
        .executable(name: "qq-run", targets: ["qq-run"]),
        .executable(name: "qq-info", targets: ["qq-info"]),
        .executable(name: "qq-wipe", targets: ["qq-wipe"]),
        .executable(name: "qq-clear", targets: ["qq-clear"]),
        .executable(name: "qq-sync", targets: ["qq-sync"]),
        .executable(name: "qq", targets: ["qq"]),
    ],
    targets: [
        // libc calls that Swift's Glibc module does not import (copy_file_range, prctl, ...).
        .target(name: "CQQSystem"),
        // All of the logic: state file, batch systems, staging, runtime, info, cleanup.
        .target(name: "QQCore", dependencies: ["CQQSystem"], swiftSettings: upcoming),
        .executableTarget(name: "qq-run", dependencies: ["QQCore"], swiftSettings: upcoming),
        .executableTarget(name: "qq-info", dependencies: ["QQCore"], swiftSettings: upcoming),
        .executableTarget(name: "qq-wipe", dependencies: ["QQCore"], swiftSettings: upcoming),
        .executableTarget(name: "qq-clear", dependencies: ["QQCore"], swiftSettings: upcoming),
        .executableTarget(name: "qq-sync", dependencies: ["QQCore"], swiftSettings: upcoming),
        .executableTarget(name: "qq", dependencies: ["QQCore"], swiftSettings: upcoming),
        // The staging benchmark (scripts/benchmark); not run by the tests.
        .executableTarget(name: "qq-bench", dependencies: ["QQCore", "CQQSystem"], swiftSettings: upcoming),
        // Unit tests and the real-Slurm integration tests; fixtures are read from Tests/Fixtures.
        .testTarget(name: "QQCoreTests", dependencies: ["QQCore"], swiftSettings: upcoming),
    ],
    swiftLanguageModes: [.v6]
)
