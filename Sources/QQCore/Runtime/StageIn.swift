import CQQSystem
import Glibc

/// What stage-in hands to the script run: what was copied, and the manifest stage-out compares
/// against (R87).
struct StagedJob: Sendable {
    var manifest: Manifest
    /// nil when nothing was staged (the job runs in the input dir).
    let statistics: StageInStats?
    /// Files a periodic sync or qq-sync copied into the input dir while the script ran (issue 12).
    var syncedPaths: Set<PathBytes> = []
}

/// Step 10 (R85, R86): copy the input dir into the work dir, leaving out qq's own files.
enum StageIn {
    /// `state`: when given, the copy's progress goes into the state file (issue 12 item 5).
    static func run(context: JobContext, keeper: any StateFileKeeping, workDir: WorkDir, supervisor: any JobSupervisor,
                    heartbeat: () -> Void, state: JobStateWriter? = nil) throws(RunFailure) -> StagedJob {
        let record = keeper.record
        guard workDir.usesScratch else {
            if !record.includedFiles.isEmpty { Log.info("Included paths are ignored: the job runs in the input directory.") }
            return StagedJob(manifest: Manifest(), statistics: nil)
        }
        let inputDir = record.inputDir
        let filter = stageFilter(record: record, infoPath: context.infoPath)
        let included = record.includedFiles.map { FileSystem.normalizeLexically($0, relativeTo: inputDir) }
        for path in included where FileSystem.lstat(path) == nil {
            throw .error("Included path '\(path)' does not exist.")
        }
        let need = try Preflight.check(context: context, workDir: workDir, inputDir: inputDir, filter: filter, included: included,
                                       supervisor: supervisor, heartbeat: heartbeat)
        var engine = context.copyEngine(resources: record.resources,
                                        shouldStop: { [supervisor] in supervisor.stopWasRequested })
        let progress = state.map { StagingProgress(phase: "stage_in", label: "Staging in", totals: need.map { ($0.files, $0.bytes) },
                                                   state: $0, supervisor: supervisor) }
        engine.progress = progress?.counter
        let copier = engine
        let target = workDir.path
        let result: (CopyStatistics, Manifest) = supervisor.runBlocking(tickInterval: progress?.tickInterval ?? context.heartbeatInterval,
                                                                        tick: { if let progress { progress.tick() } else { heartbeat() } }) {
            let engine = copier
            var manifest = Manifest()
            var stats = engine.stageIn(from: inputDir, to: target, filter: filter, manifest: &manifest)
            let t0 = monotonicSeconds()
            for path in included where stats.failures.isEmpty {
                engine.stageInPath(path, intoDirectory: target, name: PathBytes(FileSystem.baseName(path).utf8),
                                   manifest: &manifest, stats: &stats)
            }
            stats.seconds += monotonicSeconds() - t0
            return (stats, manifest)
        }
        try checkpoint(supervisor)
        let (stats, manifest) = result
        if let first = stats.failures.first {
            let more = stats.failures.count > 1 ? " (and \(stats.failures.count - 1) more)" : ""
            if first.code == ENOSPC || first.code == EDQUOT {
                throw .error("Stage-in failed: the scratch file system is full or over quota (\(first)). Free space under '\(workDir.scratchRoot ?? target)', exclude large inputs, or use work-dir=input_dir.")
            }
            throw .error("Stage-in failed: \(first)\(more).")
        }
        do {
            try manifest.write(to: target)  // R87: kept for a requeued attempt and for inspection
        } catch {
            Log.warning("Could not write the stage-in manifest: \(error)")
        }
        Log.info("Staged in \(stats.files) files (\(Size.format(bytes: stats.bytes))) in \(formatSeconds(stats.seconds)) s.")
        return StagedJob(manifest: manifest,
                         statistics: StageInStats(files: stats.files, bytes: stats.bytes, seconds: roundedSeconds(stats.seconds),
                                                 streams: stats.streams))
    }

    /// R86: the job's own files, the logs qq-run's output goes to, control files and exclusions.
    /// Exclusions are relative to the input dir here; the state file records them as it read them.
    static func stageFilter(record: InfoRecord, infoPath: String) -> StageFilter {
        let inputDir = record.inputDir
        var filter = StageFilter()
        let infoName = FileSystem.baseName(infoPath)
        if FileSystem.directoryName(infoPath) == inputDir { filter.topLevelNames.insert(PathBytes(infoName.utf8)) }
        filter.topLevelNames.insert(PathBytes(replacingSuffix(of: record.jobName, with: ".qqout").utf8))
        filter.topLevelNames.insert(PathBytes(record.stdoutFile.utf8))
        filter.topLevelNames.insert(PathBytes(record.stderrFile.utf8))
        filter.topLevelNames.formUnion(WorkDir.controlFileNames)
        filter.topLevelPrefixes = [PathBytes(".\(infoName).tmp-".utf8), PathBytes(".\(infoName).replaced-".utf8)]
        // qq-run's own log (Slurm's output file) may lie in the input dir: never stage it.
        for fd: Int32 in [1, 2] {
            guard let target = FileSystem.readLink("/proc/self/fd/\(fd)") else { continue }
            if target.hasPrefix(inputDir + "/") { filter.addExclude(String(target.dropFirst(inputDir.count + 1)), anchored: true) }
        }
        // A loop job's archive holds every earlier cycle: the cycle's own files come from it by
        // name after stage-in (§10 item 3), never the whole of it.
        if record.jobType == .loop, let archive = record.loopInfo?.archive.map({ FileSystem.normalizeLexically($0, relativeTo: inputDir) }),
           archive.hasPrefix(inputDir + "/") {
            filter.addExclude(String(archive.dropFirst(inputDir.count + 1)), anchored: true)
        }
        for entry in record.excludedFiles {
            if entry.hasPrefix("/") {
                if entry.hasPrefix(inputDir + "/") {
                    filter.addExclude(String(entry.dropFirst(inputDir.count + 1)))
                } else {
                    Log.warning("Exclusion '\(entry)' lies outside the input directory '\(inputDir)'; ignored.")
                }
            } else {
                filter.addExclude(entry)
            }
        }
        return filter
    }
}
