import Glibc

/// A loop or continuous job's cycle as the end of the job sees it: the job's kind, its archive (loop
/// jobs), and what this cycle restored from the archive. The pipeline hands it to stage-out (which
/// archives the cycle's files first, §10 item 5) and calls `afterFinalWrite` once the cycle's end
/// is recorded.
struct LoopCycle: Sendable {
    let job: LoopJob
    let archive: LoopArchive?
    var restored = LoopArchive.Restored()

    init(job: LoopJob, record: InfoRecord, jobID: String) {
        self.job = job
        archive = job.cycle.map { LoopArchive(cycle: $0, inputDir: record.inputDir, scriptName: record.scriptName, jobID: jobID) }
    }

    /// Whether the script's exit code is qq's "do not submit the next cycle" (95, §10 item 4).
    func isNoResubmit(_ code: Int) -> Bool { code == LoopJob.noResubmitCode }

    /// §10 item 5 at the end of a cycle that ran to its end: the archive mode decides.
    func archiveResults(exitCode rc: Int, state: JobStateWriter, workDir: WorkDir, staged: StagedJob,
                        supervisor: any JobSupervisor) {
        guard let archive, archive.cycle.archiveMode.transfers(exitCode: rc) else { return }
        let context = state.context
        let engine = context.copyEngine(resources: state.record.resources)
        let excluding: Set<String> = [FileSystem.baseName(context.infoPath), state.record.scriptName]
        let archived = supervisor.runBlocking(tickInterval: context.heartbeatInterval, tick: { state.heartbeat(supervisor) }) {
            archive.archiveResults(from: workDir.path, scratch: workDir.usesScratch, manifest: staged.manifest,
                                   restored: restored, excluding: excluding, engine: engine)
        }
        if workDir.usesScratch { removeSyncedCopies(of: archived.names, inputDir: state.record.inputDir, staged: staged) }
    }

    /// A periodic sync (or qq-sync) brought the cycle's files into the input dir while it ran; now
    /// that they are in the archive, those copies go, so each cycle's files live in one place. Only
    /// copies that are still exactly what was synced (size and mtime): a file a person changed since
    /// stays.
    private func removeSyncedCopies(of names: [String], inputDir: String, staged: StagedJob) {
        var removed = 0
        for name in names {
            let rel = PathBytes(name.utf8)
            guard staged.syncedPaths.contains(rel), let entry = staged.manifest.entries[rel],
                  let st = FileSystem.lstat(inputDir + "/" + name), st.isRegular,
                  st.size == entry.sourceSize, st.mtimeTotalNanos == entry.sourceMtimeNanos else { continue }
            if unlink(inputDir + "/" + name) == 0 { removed += 1 }
        }
        if removed > 0 { Log.info("Removed \(removed) synced cop\(removed == 1 ? "y" : "ies") of archived files from the input directory (they are in the archive now).") }
    }

    /// After W5 or K2: a cycle killed by its time limit with `resubmit-on=timeout` archives what the
    /// rescue brought back, as a finished cycle would; then the next cycle is submitted, or not.
    func afterFinalWrite(outcome: JobOutcome, noResubmit: Bool, finalWriteDone: Bool, state: JobStateWriter,
                         workDir: WorkDir, staged: StagedJob, supervisor: any JobSupervisor) {
        if case .killed(_, .timeout) = outcome.ending, job.resubmitOnTimeout, let archive {
            let inputDir = state.record.inputDir
            let rescued = workDir.usesScratch ? archive.namesBackInInputDir(from: workDir.path, manifest: staged.manifest) : nil
            let excluding: Set<String> = [FileSystem.baseName(state.context.infoPath), state.record.scriptName]
            _ = archive.archiveResults(from: inputDir, scratch: false, manifest: Manifest(), restored: restored,
                                       excluding: excluding, only: rescued, engine: state.context.copyEngine(resources: state.record.resources))
        }
        Resubmission.afterCycle(loop: job, outcome: outcome, noResubmit: noResubmit, finalWriteDone: finalWriteDone,
                                state: state, supervisor: supervisor)
    }
}
