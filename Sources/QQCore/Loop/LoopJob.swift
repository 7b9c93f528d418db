/// What makes a loop or continuous job (SPEC §10) different from a standard one, decided once at
/// setup from the state file: in qq-managed mode from what qq submit wrote, in plain mode from what
/// `PlainStart` made of the directives. Everything later (archive, exit code 95, resubmission)
/// reads this value.
struct LoopJob: Sendable {
    /// A loop job's cycle and archive (`loop_info`, §4.4).
    struct Cycle: Sendable {
        let start: Int
        let end: Int
        /// This job's cycle.
        let current: Int
        /// Absolute.
        let archiveDir: String
        let format: ArchiveFormat
        /// Exit codes for which the cycle's files go to the archive (transfer-mode tokens).
        let archiveMode: TransferPolicy
    }

    /// The script's exit code that means "the simulation is complete": the job counts as
    /// finished (exit 0) and no further cycle is submitted (`QQ_NO_RESUBMIT`).
    static let noResubmitCode = 95

    let jobType: JobType
    /// Loop jobs only.
    let cycle: Cycle?
    /// `resubmit-on=timeout` (issue 11 item 3): a cycle killed by its time limit is archived and
    /// continued like a finished one.
    let resubmitOnTimeout: Bool

    /// nil for standard jobs. A loop job's state file must carry `loop_info`.
    static func from(record r: InfoRecord, resubmitOn: [String]) throws(RunFailure) -> LoopJob? {
        guard r.jobType == .loop || r.jobType == .continuous else { return nil }
        var onTimeout = false
        for token in resubmitOn {
            if token.lowercased() == "timeout" { onTimeout = true }
            else { Log.warningOnce("Unknown value '\(token)' for resubmit-on (expected timeout); ignored.") }
        }
        guard r.jobType == .loop else { return LoopJob(jobType: .continuous, cycle: nil, resubmitOnTimeout: onTimeout) }
        guard let info = r.loopInfo else {
            throw .error("The info file of loop job '\(r.jobID)' has no loop_info, so its cycle is unknown. Submit it again with 'qq submit --job-type loop --loop-end <N>' (or '# qq loop-end <N>' in the script).")
        }
        let archive = FileSystem.normalizeLexically(info.archive ?? "storage", relativeTo: r.inputDir)
        let format = ArchiveFormat(info.archiveFormat ?? ArchiveFormat.defaultText)
        let current = info.current ?? format.currentCycle(archiveFileNames: archiveFileNames(archive), start: info.start)
        guard info.start >= 0, info.end >= info.start else {
            throw .error("Loop job '\(r.jobID)': loop-start (\(info.start)) must be at least 0 and at most loop-end (\(info.end)).")
        }
        guard current <= info.end else {
            throw .error("Loop job '\(r.jobID)': the current cycle (\(current)) is beyond loop-end (\(info.end)); the loop is complete. Raise loop-end to continue it.")
        }
        let mode = TransferPolicy(info.archiveMode.isEmpty ? ["success"] : info.archiveMode)
        return LoopJob(jobType: .loop,
                       cycle: Cycle(start: info.start, end: info.end, current: current, archiveDir: archive,
                                    format: format, archiveMode: mode),
                       resubmitOnTimeout: onTimeout)
    }

    /// The names in the archive dir; none when it does not exist yet.
    static func archiveFileNames(_ dir: String) -> [String] {
        guard case .success(let entries) = DirectoryReader.entries(atPath: dir) else { return [] }
        return entries.map(\.text)
    }

    /// The variables the script sees (qq's names): `QQ_LOOP_CURRENT`, `QQ_LOOP_START`,
    /// `QQ_LOOP_END`, `QQ_ARCHIVE_FORMAT` for loop jobs, `QQ_NO_RESUBMIT` for both kinds.
    static func scriptVariables(record r: InfoRecord) -> [(String, String)] {
        guard r.jobType == .loop || r.jobType == .continuous else { return [] }
        var vars = [("QQ_NO_RESUBMIT", String(noResubmitCode))]
        if r.jobType == .loop, let l = r.loopInfo {
            if let c = l.current { vars.append(("QQ_LOOP_CURRENT", String(c))) }
            vars.append(("QQ_LOOP_START", String(l.start)))
            vars.append(("QQ_LOOP_END", String(l.end)))
            vars.append(("QQ_ARCHIVE_FORMAT", l.archiveFormat ?? ArchiveFormat.defaultText))
        }
        return vars
    }
}
