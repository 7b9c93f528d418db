import Glibc
import Synchronization

/// Log lines on stderr: `YYYY-MM-DD HH:MM:SS <LEVEL padded to 8> <message>` (R106), never colored.
package enum LogLevel: Int, Sendable, Comparable {
    case debug = 10, info = 20, warning = 30, error = 40, critical = 50

    package var label: String {
        switch self {
        case .debug: return "DEBUG"
        case .info: return "INFO"
        case .warning: return "WARNING"
        case .error: return "ERROR"
        case .critical: return "CRITICAL"
        }
    }

    package static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

package enum Log {
    private static let threshold = Atomic<Int>(LogLevel.info.rawValue)
    /// Serialises writes so that lines from the heartbeat thread and the main flow never interleave.
    private static let lock = Mutex<Void>(())

    /// INFO, or DEBUG when `QQ_DEBUG` is non-empty (R106).
    package static func configure(environment: Environment) {
        let debug = !(environment["QQ_DEBUG"] ?? "").isEmpty
        threshold.store(debug ? LogLevel.debug.rawValue : LogLevel.info.rawValue, ordering: .relaxed)
    }

    package static func setLevel(_ level: LogLevel) { threshold.store(level.rawValue, ordering: .relaxed) }

    package static func isEnabled(_ level: LogLevel) -> Bool {
        level.rawValue >= threshold.load(ordering: .relaxed)
    }

    package static func write(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard isEnabled(level) else { return }
        var label = level.label
        while label.count < 8 { label += " " }
        let line = "\(Timestamp.now()) \(label) \(message())\n"
        lock.withLock { _ in StandardError.write(line) }
    }

    private static let warnedOnce = Mutex<Set<String>>([])

    /// A WARNING about a setting or an option: printed once per process, however often the
    /// settings are read.
    package static func warningOnce(_ message: String) {
        let first = warnedOnce.withLock { $0.insert(message).inserted }
        if first { write(.warning, message) }
    }

    package static func debug(_ m: @autoclosure () -> String) { write(.debug, m()) }
    package static func info(_ m: @autoclosure () -> String) { write(.info, m()) }
    package static func warning(_ m: @autoclosure () -> String) { write(.warning, m()) }
    package static func error(_ m: @autoclosure () -> String) { write(.error, m()) }
    package static func critical(_ m: @autoclosure () -> String) { write(.critical, m()) }
}
