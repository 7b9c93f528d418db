import CQQSystem

/// The product version, written as `qq_version` in plain mode and in `runner`.
package enum QQVersion {
    package static let version = "0.1.0"
    /// The git commit the binaries were built from (a macro the build scripts define), or "unknown".
    package static let commit = String(cString: cqq_build_commit())
    package static var runner: String { "qq-run \(version)" }
    /// `qq-run 0.1.0 (commit 1a2b3c4d5e6f)`: what `--version` prints.
    package static func versionLine(_ tool: String) -> String { "\(tool) \(version) (commit \(commit))" }
}
