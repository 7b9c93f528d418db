/// How qq-run ends early (§9, R115). Each case carries the message a user reads.
public enum RunFailure: Error, Sendable, CustomStringConvertible {
    /// 90: not in a batch or qq environment; nothing is written.
    case notInBatchEnvironment(String)
    /// 92: the state file is unusable or was never created; nothing is written.
    case fatal(String)
    /// 93: the state file says killed or belongs to another job; nothing is written.
    case foreign(String)
    /// 91: a qq-run error after the state file became usable; recorded as `failed` when possible.
    case error(String)
    /// 99: a bug.
    case internalError(String)
    /// 91 without a record: W2/W3 could not be written (R39).
    case stateNotLogged(String)
    /// 128+N: terminated by a signal before or during setup.
    case terminated(Int32)
    /// `--help` / `--version`: nothing to run, exit 0.
    case terminatedNormally

    public var exitCode: Int32 {
        switch self {
        case .notInBatchEnvironment: return 90
        case .error, .stateNotLogged: return 91
        case .terminatedNormally: return 0
        case .fatal: return 92
        case .foreign: return 93
        case .internalError: return 99
        case .terminated(let s): return 128 + s
        }
    }

    public var description: String {
        switch self {
        case .notInBatchEnvironment(let m), .fatal(let m), .foreign(let m), .error(let m), .internalError(let m),
             .stateNotLogged(let m): return m
        case .terminatedNormally: return ""
        case .terminated(let s): return "Execution was terminated by SIG\(signalName(s))."
        }
    }
}
