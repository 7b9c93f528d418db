// swift-tools-version:6.0
// qq-run: the runtime half of qq, as small dependency-free binaries.
// Toolchain only: no package dependencies (see README, "Rules").
import PackageDescription

let package = Package(
    name: "qq-run",
    products: [
        .executable(name: "qq-run", targets: ["qq-run"]),
        .executable(name: "qq-info", targets: ["qq-info"]),
        .executable(name: "qq-wipe", targets: ["qq-wipe"]),
        .executable(name: "qq-clear", targets: ["qq-clear"]),
        .executable(name: "qq", targets: ["qq"]),
    ],
    targets: [
        // libc calls that Swift's Glibc module does not import (copy_file_range, prctl, ...).
        .target(name: "CQQSystem"),
        // All of the logic: state file, batch systems, staging, runtime, info, cleanup.
        .target(name: "QQCore", dependencies: ["CQQSystem"]),
        .executableTarget(name: "qq-run", dependencies: ["QQCore"]),
        .executableTarget(name: "qq-info", dependencies: ["QQCore"]),
        .executableTarget(name: "qq-wipe", dependencies: ["QQCore"]),
        .executableTarget(name: "qq-clear", dependencies: ["QQCore"]),
        .executableTarget(name: "qq", dependencies: ["QQCore"]),
        // The staging benchmark (scripts/benchmark); not run by the tests.
        .executableTarget(name: "qq-bench", dependencies: ["QQCore", "CQQSystem"]),
        // Unit tests and the real-Slurm integration tests; fixtures are read from Tests/Fixtures.
        .testTarget(name: "QQCoreTests", dependencies: ["QQCore"]),
    ],
    swiftLanguageModes: [.v6]
)
