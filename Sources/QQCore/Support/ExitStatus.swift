/// How a qq tool ends, as the number the shell and the batch system see (SPEC §9). The numbers live
/// here only, so that qq-run, qq, qq-info, qq-wipe and qq-clear cannot drift apart; each comment
/// says what the user should do on seeing it.
package struct ExitStatus: Sendable, Hashable, CustomStringConvertible {
    package let code: Int32

    package init(code: Int32) { self.code = code }

    package var description: String { String(code) }

    /// Done. Nothing to do.
    package static let success = ExitStatus(code: 0)
    /// The command line is wrong: read the error and the usage printed with it, or run with `--help`.
    package static let usage = ExitStatus(code: 2)
    /// qq-run was started outside a batch job: submit the script with `qq submit` (or sbatch/qsub),
    /// or set QQ_BATCH_SYSTEM=Local to run it here. Nothing was written.
    package static let notInBatchJob = ExitStatus(code: 90)
    /// The operation failed: the ERROR lines say what and what to fix, then rerun. qq-run also
    /// records it in the state file (`failed`, `job_exit_code: 91`) when it can.
    package static let failed = ExitStatus(code: 91)
    /// qq-run could not use the job's state file (missing, unreadable, another system's, unsafe
    /// place…) or its command line, and recorded nothing: fix what the error names and resubmit.
    package static let fatal = ExitStatus(code: 92)
    /// The state file says the job was killed, or it now belongs to another job: someone else
    /// changed it, and qq-run left it untouched. Check which job owns the file before resubmitting.
    package static let foreign = ExitStatus(code: 93)
    /// A bug in qq: report it with the log lines (the state file records `job_exit_code: 99`).
    package static let internalError = ExitStatus(code: 99)
    /// `qq` could not start `qq-<command>` or the Python qq: check the installation (the tool
    /// must sit next to `qq` or on PATH) or QQ_DELEGATE.
    package static let cannotExecute = ExitStatus(code: 127)

    /// Ended by signal `number`: 128 + N, e.g. 143 for SIGTERM (scancel, the time limit), 130 for
    /// SIGINT. Look at why the job was stopped (`qq info` shows the kill reason).
    package static func signal(_ number: Int32) -> ExitStatus { ExitStatus(code: 128 + number) }

    /// The job script's own exit code, passed on unchanged (its meaning is the script's).
    package static func script(_ code: Int) -> ExitStatus { ExitStatus(code: Int32(truncatingIfNeeded: code)) }

    /// The same number as a job exit code in the state file (`job_exit_code`).
    package var jobExitCode: Int { Int(code) }
}
