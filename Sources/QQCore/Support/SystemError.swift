import Glibc

/// A failed system call on a path, described so a user can act on it:
/// `Cannot create directory '/scratch/jdoe': Permission denied`.
public struct SystemError: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: Int32
    /// What was being done, in words: "create directory", "open", "rename".
    public var operation: String
    public var path: String

    public init(code: Int32, operation: String, path: String) {
        self.code = code; self.operation = operation; self.path = path
    }

    /// Captures the current `errno`.
    public static func fromErrno(_ operation: String, _ path: String) -> SystemError {
        SystemError(code: errno, operation: operation, path: path)
    }

    public var reason: String { String(cString: strerror(code)) }

    public var description: String { "Cannot \(operation) '\(path)': \(reason)" }
}
