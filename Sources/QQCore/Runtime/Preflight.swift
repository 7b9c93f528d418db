import Glibc

/// Free space and inodes of a file system, from statvfs (the values an unprivileged user may use).
struct ScratchSpace: Sendable, Equatable {
    var freeBytes: Int64
    /// nil when the file system reports no inode limit (f_files 0, as btrfs does).
    var freeInodes: Int64?
    /// f_frsize: what each file's size is rounded up to.
    var blockSize: Int64

    static func of(_ path: String) -> ScratchSpace? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        let frsize = Int64(s.f_frsize > 0 ? s.f_frsize : s.f_bsize)
        return ScratchSpace(freeBytes: Int64(clamping: s.f_bavail) &* frsize,
                            freeInodes: s.f_files == 0 ? nil : Int64(clamping: s.f_favail),
                            blockSize: frsize)
    }
}

/// Issue 8, item 13: before stage-in, what will be staged against what the scratch file system has,
/// so that a job that cannot fit fails at once (91) instead of with ENOSPC half-way through.
enum Preflight {
    /// Headroom beyond the estimate (share/doc/decisions.md): the estimate misses file-system
    /// metadata, and the job still has to write its logs and first results.
    static func byteMargin(_ need: Int64) -> Int64 { max(need / 20, 16 << 20) }
    static func inodeMargin(_ need: Int) -> Int { max(need / 20, 100) }

    /// The refusal message, or nil when the stage-in fits with the margin.
    static func refusal(need: StageInNeed, free: ScratchSpace, root: String, system: BatchSystemName) -> String? {
        let what: String
        let margin = byteMargin(need.bytes)
        if need.bytes + margin > free.freeBytes {
            what = "it needs \(Size.format(bytes: need.bytes)) (\(need.bytes) bytes in \(need.files) files and \(need.directories) directories) plus a margin of \(Size.format(bytes: margin)), but only \(Size.format(bytes: free.freeBytes)) (\(free.freeBytes) bytes) are free"
        } else if let inodes = free.freeInodes, Int64(need.inodes + inodeMargin(need.inodes)) > inodes {
            what = "it needs \(need.inodes) inodes (\(need.files) files and \(need.directories) directories) plus a margin of \(inodeMargin(need.inodes)), but only \(inodes) inodes are free"
        } else {
            return nil
        }
        var text = "Stage-in does not fit on the scratch file system of '\(root)': \(what). Nothing was staged. "
            + "Exclude large or numerous inputs (exclude=<pattern>), use work-dir=input_dir, or free space there."
        if system == .slurmLumi {
            text += " On LUMI, work-dir=flash and work-dir=scratch are separate file systems: the other one may have room."
        }
        return text
    }
}

extension Preflight {
    /// Measures what the stage-in will copy (a walk with lstat only) and compares it with statvfs of
    /// the work dir's file system. Only for a work dir this attempt created: a reused one already
    /// holds the copies. User and group quotas are not queried (see decisions.md); an EDQUOT during
    /// the copy still ends it at once (R105).
    /// Returns what it measured (the stage-in's totals, for its progress), nil when it did not measure.
    @discardableResult
    static func check(context: JobContext, workDir: WorkDir, inputDir: String, filter: StageFilter, included: [String],
                      supervisor: any JobSupervisor, heartbeat: () -> Void) throws(RunFailure) -> StageInNeed? {
        guard workDir.createdByThisAttempt, let free = ScratchSpace.of(workDir.path) else { return nil }
        let need = supervisor.runBlocking(tickInterval: context.heartbeatInterval, tick: heartbeat) { [supervisor] in
            StageInNeed.measure(from: inputDir, filter: filter, included: included, blockSize: free.blockSize,
                                shouldStop: { supervisor.stopWasRequested })
        }
        try checkpoint(supervisor)
        let line = "Pre-flight: stage-in needs \(Size.format(bytes: need.bytes)) in \(need.files) files and \(need.directories) directories; "
            + "\(Size.format(bytes: free.freeBytes))\(free.freeInodes.map { " and \($0) inodes" } ?? "") free (counted in \(formatSeconds(need.seconds)) s)."
        if need.seconds >= 5 { Log.info(line) } else { Log.debug(line) }
        if let message = refusal(need: need, free: free, root: workDir.scratchRoot ?? workDir.path, system: context.system) {
            throw .error(message)
        }
        return need
    }
}
