/// How qq-run ends early (§9, R115). Each case carries the message a user reads.
package enum RunFailure: Error, Sendable, CustomStringConvertible {
    /// Exit 90: not in a batch or qq environment; nothing is written.
    case notInBatchEnvironment(String)
    /// Exit 92: the state file is unusable or was never created; nothing is written.
    case fatal(String)
    /// Exit 93: the state file says killed or belongs to another job; nothing is written.
    case foreign(String)
    /// Exit 91: a qq-run error after the state file became usable; recorded as `failed` when possible.
    case error(String)
    /// Exit 99: a bug.
    case internalError(String)
    /// Exit 91 without a record: W2/W3 could not be written (R39).
    case stateNotLogged(String)
    /// Exit 128+N: terminated by a signal before or during setup.
    case terminated(Int32)
    /// `--help` / `--version`: nothing to run, exit 0.
    case terminatedNormally

    package var exitStatus: ExitStatus {
        switch self {
        case .notInBatchEnvironment: return .notInBatchJob
        case .error, .stateNotLogged: return .failed
        case .terminatedNormally: return .success
        case .fatal: return .fatal
        case .foreign: return .foreign
        case .internalError: return .internalError
        case .terminated(let s): return .signal(s)
        }
    }

    package var description: String {
        switch self {
        case .notInBatchEnvironment(let m), .fatal(let m), .foreign(let m), .error(let m), .internalError(let m),
             .stateNotLogged(let m): return m
        case .terminatedNormally: return ""
        case .terminated(let s): return "Execution was terminated by SIG\(signalName(s))."
        }
    }
}
