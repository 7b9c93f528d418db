/// The product version, written as `qq_version` in plain mode and in `runner`.
public enum QQVersion {
    public static let version = "0.1.0"
    public static var runner: String { "qq-run \(version)" }
}
