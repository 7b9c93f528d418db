import Glibc

/// `qq-wipe --orphans` (R140): scratch job dirs of the current user whose job is no longer active.
enum OrphanSweep {
    /// One `job_*` directory found under a scratch root.
    struct Candidate: Sendable {
        var path: String
        var location: ScratchLocation
        var jobID: String
        var system: BatchSystemName
        var marker: WorkDirMarker?
        /// The marker's info file, when it exists and belongs to this job.
        var info: LoadedInfo?
        /// The info file names this directory as its `work_dir`.
        var infoNamesDir: Bool { info.map { $0.record.workDir == path } ?? false }
        var mtime: Int
        var markerMTime: Int?
    }

    /// Whether the job's results are known to be back in its input directory (the info file's
    /// `synchronized`, only when that file names this directory). Only `.yes` allows a deletion
    /// without `--include-unsynced`; the text is for the SYNCED column alone.
    enum Synced: Sendable, Hashable {
        case yes, no, unknown

        init(_ synchronized: Bool?) {
            switch synchronized {
            case true?: self = .yes
            case false?: self = .no
            case nil: self = .unknown
            }
        }

        var cell: String {
            switch self {
            case .yes: return "yes"
            case .no: return "no"
            case .unknown: return "?"
            }
        }
    }

    /// A listed row.
    struct Row: Sendable {
        var candidate: Candidate
        var state: String
        var synced: Synced
        var size: Int64
        var age: Int
        /// Authoritatively dead and not possibly live: may be deleted (subject to SYNCED).
        var orphan: Bool
        var lost: Bool
    }

    static func run(_ o: QQWipeCommand.Options, environment: Environment, context: CleanupContext) -> ExitStatus {
        let system: BatchSystemName
        do { system = try batchSystemOutsideJob(environment: environment) } catch {
            context.error(error.description)
            return .failed
        }
        if system == .pbs {
            context.info("Orphan sweep is not supported for PBS.")
            return .success
        }
        let now = context.info.now()
        let skew = context.settings.clockSkew
        let (candidates, unlisted) = findCandidates(system: system, environment: environment, settings: context.settings)
        // A qq-jobs dir of ours that cannot be read may hold orphans: say so, and do not claim a
        // complete answer (exit 91).
        for problem in unlisted {
            context.error("\(problem.description); the job directories in it are not listed and none of them is deleted. "
                          + "Restore its permissions (e.g. chmod u+rwx '\(problem.path)') and rerun.")
        }
        let answers = concurrentMap(count: candidates.count, limit: 8) { i in
            let c = candidates[i]
            let record = c.info?.record ?? placeholderRecord(c)
            return context.info.batchSystem(c.system).queryJob(c.jobID, record: record, environment: environment,
                                                              options: context.info.queryOptions,
                                                              reaping: context.info.reaping)
        }

        var rows: [Row] = []
        for (c, answer) in zip(candidates, answers) {
            guard let row = classify(c, answer: answer, now: now, skew: skew) else { continue }
            if let min = o.olderThan, row.age < min { continue }
            rows.append(row)
        }
        rows.sort { $0.candidate.path < $1.candidate.path }
        if !rows.isEmpty { context.out(table(rows)) }

        let deletable = rows.filter { $0.orphan && ($0.synced == .yes || o.includeUnsynced) }
        let keptUnsynced = rows.filter { $0.orphan && !($0.synced == .yes || o.includeUnsynced) }.count
        guard o.yes && !o.dryRun else {
            context.out("\(deletable.count) orphaned working \(deletable.count == 1 ? "directory" : "directories") would be deleted.\n")
            return unlisted.isEmpty ? .success : .failed
        }

        var deleted = 0
        var failed = false
        for row in deletable {
            if let problem = delete(row, environment: environment, context: context, now: now) {
                context.error(problem)
                failed = true
            } else {
                deleted += 1
            }
        }
        var summary = "Deleted \(deleted) orphaned working \(deleted == 1 ? "directory" : "directories")"
        if keptUnsynced > 0 {
            // Only without --include-unsynced: then the hint names the flag that was missing.
            summary += "; \(keptUnsynced) kept because their results may not have been copied back (SYNCED 'no' or '?'). "
                + "Rerun as '\(context.command("wipe")) --orphans --yes --include-unsynced' to delete them too."
        } else {
            summary += "."
        }
        context.info(summary)
        return failed || !unlisted.isEmpty ? .failed : .success
    }

    /// R140 steps 3–5 for one directory; nil when the directory is not listed (live).
    static func classify(_ c: Candidate, answer: BatchAnswer, now: Int, skew: Double) -> Row? {
        var status: JobStatus?
        var live: LiveEvidence?
        if let info = c.info {
            status = JobStatus.evaluate(record: info.record, answer: answer, fileMTime: info.mtime, now: now, clockSkew: skew)
            live = LiveEvidence.of(record: info.record, answer: answer, fileMTime: info.mtime, now: now, clockSkew: skew)
        } else if answer.isBatchLive {
            live = .batch(answer.state)
        }
        if case .batch = live {
            Log.debug("'\(c.path)': job '\(c.jobID)' is still \(answer.state.rawValue); not an orphan.")
            return nil
        }
        if live != nil && c.infoNamesDir {
            Log.debug("'\(c.path)': job '\(c.jobID)' may still be active; not an orphan.")
            return nil
        }
        let synced = Synced(c.infoNamesDir ? c.info?.record.synchronized : nil)
        var newest = max(c.mtime, c.markerMTime ?? 0)
        if let done = c.info?.record.completionTime?.epochSeconds { newest = max(newest, done) }
        let age = max(0, now - newest)
        let size = CleanupJobs.treeSize(c.path)
        let proven = answer.provesEnded
        let state: String
        if !proven {
            state = "unknown (skipped)"
        } else if let status {
            state = status.realState.text
        } else {
            state = "gone"
        }
        return Row(candidate: c, state: state, synced: synced, size: size, age: age, orphan: proven,
                   lost: status?.realState == .lost)
    }

    /// Deletes one orphan with the R134/R136 protections; nil on success, else the error.
    static func delete(_ row: Row, environment: Environment, context: CleanupContext, now: Int) -> String? {
        let c = row.candidate
        // The marker may have changed since the listing.
        if let refusal = WorkDirSafety.markerRefusal(workDir: c.path, jobID: c.jobID) { return refusal.description }
        for input in [c.marker?.inputDir, c.info?.record.inputDir].compactMap({ $0 }) where !input.isEmpty {
            if WorkDirSafety.overlapsInputDir(workDir: c.path, inputDir: input) {
                return "\(WorkDirRefusal.inputDirectory.description) ('\(c.path)')"
            }
        }
        context.info("Deleting working directory '\(c.path)' of job '\(c.jobID)'.")
        do {
            let outcome = try SafeDelete.deleteDirectory(c.path, under: c.location.root)
            if !outcome.errors.isEmpty || !outcome.gone {
                return "Could not delete the working directory '\(c.path)': "
                    + outcome.errors.prefix(5).joined(separator: "; ") + "."
            }
        } catch {
            return error.description
        }
        if let info = c.info, c.infoNamesDir {
            if let problem = CleanupJobs.recordWipe(path: info.path, jobID: c.jobID, lost: row.lost, now: now) {
                context.warning("Could not record the wipe in '\(info.path)': \(problem)")
            }
        }
        return nil
    }

    // MARK: Finding candidates

    /// The `qq-jobs` directories to list, each with the system whose layout it belongs to.
    static func jobsDirectories(system: BatchSystemName, environment: Environment,
                                settings: Settings) -> [(String, BatchSystemName)] {
        var out: [(String, BatchSystemName)] = []
        var seen = Set<String>()
        func add(_ dir: String, _ s: BatchSystemName) { if seen.insert(dir).inserted { out.append((dir, s)) } }
        let users = ScratchLocation.userNames(environment: environment, attempts: settings.scratchAttempts)
        let roots = ScratchLocation.knownRoots(system: system, environment: environment, settings: settings)
        for root in roots {
            switch system {
            case .slurm, .local:
                for u in users { add("\(root == "/" ? "" : root)/\(u)/qq-jobs", system) }
            case .slurmIT4I, .slurmLumi:
                for account in (try? subdirectories(root).get()) ?? [] {
                    for u in users { add("\(root == "/" ? "" : root)/\(account)/\(u)/qq-jobs", system) }
                }
            case .pbs: break
            }
        }
        // Local's own layout is always searched as well.
        if system != .local {
            let localRoot = FileSystem.normalizeLexically(settings.scratchRoot ?? environment.nonEmpty("TMPDIR") ?? "/tmp")
            for u in users { add("\(localRoot == "/" ? "" : localRoot)/\(u)/qq-jobs", .local) }
        }
        return out
    }

    /// The candidates, and the `qq-jobs` dirs of this user that exist but cannot be listed. Those
    /// of other users (a fallback name like `jdoe2` may be someone else's) are not reported.
    static func findCandidates(system: BatchSystemName, environment: Environment,
                               settings: Settings) -> ([Candidate], [SystemError]) {
        var candidates: [Candidate] = []
        var unlisted: [SystemError] = []
        var seen = Set<String>()
        for (jobsDir, layoutSystem) in jobsDirectories(system: system, environment: environment, settings: settings) {
            let names: [String]
            switch subdirectories(jobsDir) {
            case .success(let n): names = n
            case .failure(let e):
                if e.code != ENOENT, FileSystem.lstat(jobsDir)?.uid == getuid() { unlisted.append(e) }
                continue
            }
            for name in names where name.hasPrefix("job_") && name.count > 4 {
                let path = jobsDir + "/" + name
                guard !seen.contains(path), let st = FileSystem.lstat(path), st.isDirectory, !st.isSymlink,
                      st.uid == getuid() else { continue }
                if let c = candidate(path: path, name: name, layoutSystem: layoutSystem, mtime: Int(st.mtimeSeconds),
                                     environment: environment, settings: settings) {
                    seen.insert(path)
                    candidates.append(c)
                }
            }
        }
        return (candidates, unlisted)
    }

    static func candidate(path: String, name: String, layoutSystem: BatchSystemName, mtime: Int,
                          environment: Environment, settings: Settings) -> Candidate? {
        let markerPath = path + "/.qq-run-marker"
        var marker: WorkDirMarker?
        var markerMTime: Int?
        switch WorkDirSafety.presence(of: markerPath) {
        case .gone: break
        case .unknown(let error):
            Log.warning("Skipping '\(path)': its marker cannot be examined: \(error.reason)")
            return nil
        case .present(let st):
            do {
                marker = try InfoFile.loadMarker(path: markerPath)
                markerMTime = Int(st.mtimeSeconds)
            } catch {
                Log.warning("Skipping '\(path)': its marker cannot be read: \(error.description)")
                return nil
            }
        }
        let jobID = marker?.jobID ?? jobIDFromDirectoryName(name)
        let system = marker?.batchSystem ?? layoutSystem
        guard let location = ScratchLocation.match(workDir: path, jobID: jobID, system: system, environment: environment,
                                                   settings: settings)
                ?? ScratchLocation.match(workDir: path, jobID: jobID, system: layoutSystem, environment: environment,
                                         settings: settings) else {
            Log.debug("Skipping '\(path)': not in the scratch layout of job '\(jobID)'.")
            return nil
        }
        var info: LoadedInfo?
        if let file = marker?.infoFile, !file.isEmpty, FileSystem.stat(file)?.isRegular == true {
            switch Discovery.load(file, loader: defaultInfoLoader) {
            case .success(let loaded) where sameJob(loaded.record.jobID, jobID): info = loaded
            case .success: break
            case .failure(let f): Log.warning("Cannot read the info file of '\(path)': \(f.message)")
            }
        }
        // A past loop cycle's file was moved to the loop's archive when the next cycle started.
        if info == nil, let file = marker?.infoFile, !file.isEmpty, case .gone = WorkDirSafety.presence(of: file) {
            info = ArchivedCycles.newestMatch(inArchivesOf: FileSystem.directoryName(file), id: jobID, loader: defaultInfoLoader)
        }
        return Candidate(path: path, location: location, jobID: jobID, system: system, marker: marker, info: info,
                         mtime: mtime, markerMTime: markerMTime)
    }

    /// `job_2345678` → `2345678`; `job_2345678_2` → `2345678` (R54's `_<k>` removed).
    static func jobIDFromDirectoryName(_ name: String) -> String {
        var id = String(name.dropFirst(4))
        if let u = id.lastIndex(of: "_") {
            let k = id[id.index(after: u)...]
            if !k.isEmpty, k.allSatisfy({ $0.isASCII && $0.isNumber }), u != id.startIndex { id = String(id[..<u]) }
        }
        return id
    }

    /// What the batch query needs when there is no info file: the marker's facts (R58 cluster,
    /// R62 host and namespace).
    static func placeholderRecord(_ c: Candidate) -> InfoRecord {
        let host = c.marker?.mainNode ?? ""
        var r = InfoRecord(batchSystem: c.system, qqVersion: "", username: "", jobID: c.jobID, jobName: "",
                           scriptName: "", queue: "", inputMachine: host, inputDir: c.marker?.inputDir ?? "",
                           jobState: .unknown, submissionTime: c.marker?.created ?? Timestamp(epochSeconds: 0),
                           stdoutFile: "", stderrFile: "")
        r.cluster = c.marker?.cluster
        r.pidNamespace = c.marker?.pidNamespace
        r.mainNode = c.marker?.mainNode
        r.workDir = c.path
        return r
    }

    /// Names of the real subdirectories (not symlinks) of `path`, sorted.
    static func subdirectories(_ path: String) -> Result<[String], SystemError> {
        let entries: [DirEntry]
        switch DirectoryReader.entries(atPath: path) {
        case .success(let e): entries = e
        case .failure(let e): return .failure(SystemError(code: e.code, operation: "list", path: path))
        }
        var names: [String] = []
        for e in entries {
            let name = e.text
            if let st = FileSystem.lstat(path + "/" + name), st.isDirectory { names.append(name) }
        }
        return .success(names.sorted())
    }

    // MARK: Output

    static func table(_ rows: [Row]) -> String {
        let header = ["JOB ID", "STATE", "SYNCED", "SIZE", "AGE", "WORKING DIRECTORY"]
        let cells = rows.map { r in
            [r.candidate.jobID, r.state, r.synced.cell, Size.format(bytes: r.size), formatDuration(seconds: r.age), r.candidate.path]
        }
        var widths = header.map(\.count)
        for row in cells { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ row: [String]) -> String {
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
            }.joined(separator: "  ") + "\n"
        }
        return line(header) + cells.map(line).joined()
    }
}
