import Glibc

/// Results copied home while the script runs (issue 12): every `interval`, the files of the work
/// dir that are new or changed since the last round go to the input dir with stage-out's rules
/// (temporary name, verification, rename; an input-dir file that changed is kept aside; control
/// files never). A round runs on its own thread; the supervisor's loop keeps serving signals and
/// only looks at the round between ticks. What a round copied becomes the manifest, so the next
/// round, the final stage-out and a rescue copy only what changed since. One more round starts
/// ahead of a known time limit, so the SIGTERM rescue finds little left.
///
/// Owned by the main thread; only the round's result crosses threads (`ResultBox`).
final class PeriodicSync {
    struct Round: Sendable {
        var files = 0
        var bytes: Int64 = 0
        var seconds = 0.0
        var skipped = 0
        var copied: [PathBytes: ManifestEntry] = [:]
        var firstProblem: CopyFailure?
    }

    let interval: Double
    private let state: JobStateWriter
    private let workDir: String
    private let supervisor: any JobSupervisor
    private(set) var manifest: Manifest
    private var synced: Set<PathBytes> = []
    private var nextStart: Double
    private var running: ResultBox<Round>?
    private var roundProgress: StagingProgress?
    private var stats: SyncStats?
    private var longest = 0.0
    /// When the script started (epoch seconds).
    private let startEpoch: Int
    /// Epoch seconds of the time limit, once known: the batch environment may not say it, and the
    /// scheduler's record arrives in the background (R77), so it is asked again until it is.
    private var knownEnd: Int?
    private var endTime: Int? {
        if knownEnd == nil, let w = state.context.walltimeSeconds(facts: state.facts) { knownEnd = startEpoch + w }
        return knownEnd
    }
    private var finalRoundStarted = false

    /// nil when the job has no sync interval, or runs in the input dir (nothing to bring home).
    static func make(state: JobStateWriter, workDir: WorkDir, staged: StagedJob, supervisor: any JobSupervisor) -> PeriodicSync? {
        let context = state.context
        guard let text = context.syncIntervalText else { return nil }
        guard var seconds = parseWalltime(text), seconds > 0 else {
            Log.warningOnce("Invalid value '\(text)' for sync-interval (expected e.g. 30m, 1h or 600 seconds); the job runs without periodic sync.")
            return nil
        }
        guard workDir.usesScratch else {
            Log.info("sync-interval is ignored: the job runs in the input directory.")
            return nil
        }
        let minimum = context.settings.syncMinimum
        if Double(seconds) < minimum {
            Log.warningOnce("sync-interval \(text) is below the minimum of \(Int(minimum)) s; syncing every \(Int(minimum)) s.")
            seconds = Int(minimum.rounded(.up))
        }
        return PeriodicSync(interval: Double(max(seconds, 1)), state: state, workDir: workDir.path, staged: staged, supervisor: supervisor)
    }

    private init(interval: Double, state: JobStateWriter, workDir: String, staged: StagedJob, supervisor: any JobSupervisor) {
        self.interval = interval
        self.state = state
        self.workDir = workDir
        self.supervisor = supervisor
        manifest = staged.manifest
        nextStart = monotonicSeconds() + interval
        startEpoch = state.record.startTime?.epochSeconds ?? Int(time(nil))
        Log.info("Results are synced to the input directory every \(formatSeconds(interval)) s while the script runs.")
    }

    /// How often the supervisor's loop must look in: often enough to start rounds on time and to
    /// pick up a finished one soon.
    var tickInterval: Double { min(1, interval) }

    /// One look from the supervisor's loop: take a finished round, start a due one.
    func tick() {
        if let box = running, box.isSet { absorb(box.take()); running = nil }
        if running != nil { roundProgress?.tick() }
        guard running == nil, supervisor.terminationSignal == nil else { return }
        let now = monotonicSeconds()
        if now >= nextStart { start(); return }
        // A last round ahead of the time limit: twice the longest round so far, at least a minute.
        if let endTime, !finalRoundStarted, Int(time(nil)) >= endTime - Int(max(2 * longest, 60)) {
            finalRoundStarted = true
            Log.info("Syncing once more before the time limit.")
            start()
        }
    }

    /// The script has ended (or a signal arrived): waits for a round still running (it stops at
    /// the next file after a signal) and hands back the manifest everything later compares with.
    func finish(_ staged: StagedJob) -> StagedJob {
        if let box = running {
            // After a terminating signal the rescue's time counts: a round copying one large file
            // may take long to reach its next stop, so it gets 2 s, then the rescue goes on.
            let deadline = supervisor.terminationSignal != nil ? monotonicSeconds() + 2 : nil
            supervisor.serve(until: { box.isSet }, deadline: deadline, tickInterval: nil, tick: {})
            if box.isSet {
                absorb(box.take())
                running = nil
            } else {
                Log.info("A sync round is still copying; the rescue goes on without waiting for it.")
            }
        }
        return StagedJob(manifest: manifest, statistics: staged.statistics, syncedPaths: staged.syncedPaths.union(synced))
    }

    private func start() {
        let context = state.context
        let record = state.record
        let box = ResultBox<Round>()
        running = box
        let snapshot = manifest
        let source = workDir, inputDir = record.inputDir
        let included = Set(record.includedFiles.map { PathBytes(FileSystem.baseName($0).utf8) })
        let keep = StageOutKeep(jobID: context.jobID, replaceable: [PathBytes(record.stdoutFile.utf8), PathBytes(record.stderrFile.utf8)])
        // A file that changes while it is copied is tried once more, then left for the next round.
        var engine = context.copyEngine(resources: record.resources, shouldStop: { [supervisor] in supervisor.stopWasRequested })
        engine.retry = RetryPolicy(attempts: 2, initialDelay: 0.1, maxDelay: 0.1, total: 1)
        let progress = StagingProgress(phase: "sync", label: "Syncing", totals: nil, state: state, supervisor: supervisor, beats: false)
        roundProgress = progress
        engine.progress = progress.counter
        let roundEngine = engine
        startDetachedThread {
            let result = roundEngine.stageOut(from: source, to: inputDir, manifest: snapshot, controlFiles: WorkDir.controlFileNames,
                                              includedNames: included, keep: keep)
            box.set(Round(files: result.stats.files, bytes: result.stats.bytes, seconds: result.stats.seconds,
                          skipped: result.stats.failures.count, copied: result.copied, firstProblem: result.stats.failures.first))
        }
    }

    private func absorb(_ round: Round) {
        for (rel, entry) in round.copied { manifest.entries[rel] = entry; synced.insert(rel) }
        longest = max(longest, round.seconds)
        nextStart = monotonicSeconds() + interval
        var s = stats ?? SyncStats(count: 0, last: Timestamp.now(), files: 0, bytes: 0, seconds: 0, skipped: 0)
        s.count += 1
        s.last = Timestamp.now()
        s.files += round.files
        s.bytes += round.bytes
        s.seconds = roundedSeconds(s.seconds + round.seconds)
        s.skipped += round.skipped
        stats = s
        Log.info("Synced \(round.files) files (\(Size.format(bytes: round.bytes))) to the input directory in \(formatSeconds(round.seconds)) s.")
        if let p = round.firstProblem {
            Log.warning("\(round.skipped) file(s) were left for the next sync (first: \(p)); stage-out copies them at the end in any case.")
        }
        let recorded = s
        roundProgress = nil
        state.write { r in
            r.sync = recorded
            r.progress = nil
        }
    }
}
