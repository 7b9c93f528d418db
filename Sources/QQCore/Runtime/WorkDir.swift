import CQQSystem
import Glibc

/// Where the script runs: a private dir on scratch that qq-run created (or reused, R54), or the input
/// dir itself (`work-dir=input_dir`). It owns the control files qq-run keeps at its top and is
/// removed only through the checks every cleanup path shares.
struct WorkDir: Sendable {
    let path: String
    /// The scratch root it lies under; nil when the job runs in the input dir.
    let scratchRoot: String?
    /// True when this attempt created it: an early abort may remove it (it holds only staged copies).
    let createdByThisAttempt: Bool

    var usesScratch: Bool { scratchRoot != nil }

    /// The files qq-run keeps at the top of a scratch work dir; never staged in or out (§2).
    static let markerName = ".qq-run-marker"
    static let manifestName = ".qq-run-manifest"
    static let notCopiedName = ".qq-run-not-copied"
    /// What qq-sync copied (issue 12): the manifest's format; stage-out counts those as synced.
    static let syncedName = ".qq-run-synced"
    static let controlFileNames: Set<PathBytes> = [PathBytes(markerName.utf8), PathBytes(manifestName.utf8),
                                                   PathBytes(notCopiedName.utf8), PathBytes(syncedName.utf8)]

    /// Steps 8–9: the work dir, its marker, and W2.
    static func prepare(context: JobContext, keeper: any StateFileKeeping, supervisor: any JobSupervisor) throws(RunFailure) -> WorkDir {
        let record = keeper.record
        guard record.usesScratch else {
            return WorkDir(path: record.inputDir, scratchRoot: nil, createdByThisAttempt: false)
        }
        let (system, jobID, settings, env) = (context.system, context.jobID, context.settings, context.environment)
        let layout: WorkDirLayout
        do {
            layout = try WorkDirLayout.resolve(system: system, type: scratchType(context, record), jobID: jobID,
                                               account: record.account ?? context.jobEnv.account,
                                               settings: settings, environment: env)
        } catch {
            throw .error(error.description)
        }
        let user = userName(environment: env)
        let planned = layout.plannedPath(user: user, jobID: jobID)
        if InputDirPlacement.overlapsPlannedWorkDir(inputDir: record.inputDir, plannedWorkDir: planned) {
            throw .error(InputDirPlacement.overlapMessage(inputDir: record.inputDir, plannedWorkDir: planned, root: layout.root))
        }
        let infoPath = context.infoPath
        func attempt() throws(WorkDirLayout.LayoutError) -> WorkDirLayout.Created {
            try layout.create(user: user, jobID: jobID, attempts: settings.scratchAttempts,
                              restartCount: context.jobEnv.restartCount,
                              markerBelongsToThisJob: { dir in
                                  guard let m = try? InfoFile.loadMarker(path: dir + "/" + markerName) else { return false }
                                  return sameJob(m.jobID, jobID) && m.infoFile == infoPath
                              })
        }
        func retryable(_ e: WorkDirLayout.LayoutError) -> Bool {
            if case .exhausted(_, _, _, _, let transient) = e { return transient }
            return false
        }
        let created: WorkDirLayout.Created
        do {
            created = try context.retryPolicy.run(isRetryable: retryable, stop: supervisor, attempt)
        } catch let e {
            throw .error(e.description)
        }
        // A fallback user dir may have been reached through a symlink: check the real result too.
        if WorkDirSafety.overlapsInputDir(workDir: created.path, inputDir: record.inputDir) {
            if !created.reused { rmdir(created.path) }
            throw .error(InputDirPlacement.overlapMessage(inputDir: record.inputDir, plannedWorkDir: created.path, root: layout.root))
        }
        let workDir = WorkDir(path: created.path, scratchRoot: layout.root, createdByThisAttempt: !created.reused)
        workDir.writeMarker(context: context, inputDir: record.inputDir)
        Log.info("Setting up working directory in '\(created.path)'.")
        do {
            try checkpoint(supervisor)
            let w2 = keeper.write(retry: context.retryPolicy, stop: supervisor) { r in
                r.phase = .stageIn
                r.mainNode = context.host
                r.workDir = created.path
                context.fillRunnerFields(&r)
            }
            try requireWritten(w2, label: "W2", infoPath: infoPath)
        } catch {
            // The dir holds nothing but the marker yet; the caller never saw it.
            if workDir.createdByThisAttempt { _ = workDir.remove(context: context, record: keeper.record) }
            throw error
        }
        return workDir
    }

    /// The scratch type: LUMI's from the option, `LUMI_SCRATCH_TYPE` or `resources.work_dir` (R51).
    private static func scratchType(_ context: JobContext, _ record: InfoRecord) -> String {
        let declared = record.resources.workDir?.lowercased()
        if context.system == .slurmLumi {
            if let t = context.plainOptions?.workDir ?? context.jobEnv.lumiScratchType ?? declared, t == "flash" || t == "scratch" { return t }
            return declared ?? "scratch"
        }
        return declared ?? "scratch"
    }

    /// R45: the marker is best effort; qq-run goes on without it.
    private func writeMarker(context: JobContext, inputDir: String) {
        let system = context.system
        let marker = WorkDirMarker(jobID: context.jobID, infoFile: context.infoPath, inputDir: inputDir,
                                   batchSystem: system, cluster: system.isSlurmFamily ? context.jobEnv.cluster : nil,
                                   pidNamespace: system == .local ? readOwnPIDNamespace() : nil, mainNode: context.host,
                                   created: Timestamp.now(), runner: QQVersion.runner)
        let markerPath = path + "/" + WorkDir.markerName
        do {
            try InfoFile.writeAtomically(InfoFileCodec.encodeMarker(marker), to: markerPath, modeIfNew: 0o600)
            chmod(markerPath, 0o600)
        } catch {
            Log.warning("Could not write the work-dir marker: \(error)")
        }
    }

    /// Removes the scratch work dir through the checks every cleanup path shares (R100, R134–R136):
    /// known layout under a scratch root, not the input dir, not a symlink, owned by this user, marker
    /// naming this job. Returns true when it is gone; a refusal keeps it, with a WARNING.
    func remove(context: JobContext, record: InfoRecord) -> Bool {
        guard usesScratch else { return false }
        var record = record
        record.workDir = path
        record.mainNode = record.mainNode ?? context.host
        let location: ScratchLocation
        switch WorkDirSafety.check(workDir: path, record: record, environment: context.environment,
                                         settings: context.settings, host: context.host) {
        case .success(let verdict):
            guard verdict.exists else { return true }
            location = verdict.location
        case .failure(let refusal):
            Log.warning("Keeping working directory '\(path)': \(refusal)")
            return false
        }
        do {
            let outcome = try SafeDelete.deleteDirectory(path, under: location.root)
            if outcome.gone {
                Log.info("Removed working directory '\(path)'.")
                return true
            }
            Log.warning("Could not remove working directory '\(path)': \(outcome.errors.prefix(3).joined(separator: "; ")).")
        } catch {
            Log.warning("Could not remove working directory '\(path)': \(error)")
        }
        return false
    }

    /// `.qq-run-not-copied`: every path that stage-out could not copy, one per line (R100).
    func writeNotCopiedList(_ paths: [PathBytes]) {
        let text = paths.map { $0.displayText }.joined(separator: "\n") + "\n"
        try? InfoFile.writeAtomically(text, to: path + "/" + WorkDir.notCopiedName, modeIfNew: 0o600)
    }
}

/// Handles signals that arrived while the main thread was busy; a terminating one ends setup.
func checkpoint(_ supervisor: any JobSupervisor) throws(RunFailure) {
    supervisor.waitForEvents(timeout: 0)
    if let sig = supervisor.terminationSignal { throw .terminated(sig) }
}

/// A write setup cannot go on without (W2, W3, R39).
func requireWritten(_ outcome: StateKeeper.Outcome, label: String, infoPath: String) throws(RunFailure) {
    switch outcome {
    case .written: return
    case .killedElsewhere: throw .foreign("Job has been killed without informing qq run. Aborting the job!")
    case .otherJob(let other): throw .foreign("Info file '\(infoPath)' now belongs to job '\(other)'.")
    case .locked: throw .stateNotLogged("Could not update qq info file '\(infoPath)' (\(label)): the file is locked.")
    case .failed(let why), .refused(let why):
        throw .stateNotLogged("Could not update qq info file '\(infoPath)' (\(label)): \(why)")
    }
}
