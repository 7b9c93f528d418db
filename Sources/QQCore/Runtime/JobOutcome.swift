/// How the job ended: what the final write (W5 or K2) puts into the state file, and the exit
/// status qq-run returns. Stage-out and the rescue each produce one.
struct JobOutcome: Sendable {
    enum Ending: Sendable, Equatable {
        /// The script ran to its end; `jobExitCode` is its code, or 91 when stage-out failed (R101).
        case completed(jobExitCode: Int)
        /// A terminating signal ended the job; K1 already wrote `killed` (R108).
        case killed(signal: Int32, reason: KillReason)
    }

    let ending: Ending
    /// R108 step 7 / R101: the script's own code where the job's code does not tell it.
    let scriptExitCode: Int?
    let error: String?
    let stageOut: StageOutStats?
    let usage: Usage
    let synchronized: Bool?
    /// False when K1 could not be written: then the file keeps what it says (R108 step 3).
    let writesFinalRecord: Bool

    var exitStatus: ExitStatus {
        switch ending {
        case .completed(let code): return .script(code)
        case .killed(let sig, _): return .signal(sig)
        }
    }

    /// W5 or K2.
    func apply(to r: inout InfoRecord) {
        r.phase = .done
        r.progress = nil
        r.stageOut = stageOut
        r.usage = usage
        r.scriptExitCode = scriptExitCode
        switch ending {
        case .completed(let code):
            r.jobState = code == 0 ? .finished : .failed
            r.completionTime = Timestamp.now()
            r.jobExitCode = code
            r.error = error
            r.synchronized = synchronized
        case .killed(_, let reason):
            r.killReason = reason
            r.synchronized = r.usesScratch ? false : nil
        }
    }
}
