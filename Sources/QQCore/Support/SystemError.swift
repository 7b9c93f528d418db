import Glibc

/// A failed system call on a path, described so a user can act on it:
/// `Cannot create directory '/scratch/jdoe': Permission denied`.
package struct SystemError: Error, Sendable, Hashable, CustomStringConvertible {
    package var code: Int32
    /// What was being done, in words: "create directory", "open", "rename".
    package var operation: String
    package var path: String

    package init(code: Int32, operation: String, path: String) {
        self.code = code; self.operation = operation; self.path = path
    }

    /// Captures the current `errno`.
    package static func fromErrno(_ operation: String, _ path: String) -> SystemError {
        SystemError(code: errno, operation: operation, path: path)
    }

    package var reason: String { String(cString: strerror(code)) }

    /// Errors that waiting does not fix (R105): retrying them only delays the user's answer.
    package var isPermanent: Bool { SystemError.isPermanent(code) }

    package static func isPermanent(_ code: Int32) -> Bool {
        [EACCES, EPERM, ENOSPC, EDQUOT, EROFS, ENAMETOOLONG, ELOOP, ENOTDIR, EISDIR].contains(code)
    }

    package var description: String { "Cannot \(operation) '\(path)': \(reason)" }
}
