import Glibc

/// From what a user names (files, directories, job ids) to loaded info files and the batch
/// system's answers about them. qq-info, qq-wipe, qq-clear and the orphan sweep all find jobs this
/// way, so each of them sees the same jobs.
enum JobLookup {
    /// R118–R121: the info files named by `targets` (files, directories, job ids; the current
    /// directory when there are none), loaded, and one error per target that failed. Errors are
    /// returned, not logged.
    static func collectJobs(_ targets: [String], environment: Environment, context: InfoContext,
                            directory cwd: String) -> (jobs: [LoadedInfo], errors: [(target: String, message: String)]) {
        let scan = scanTargets(targets, environment: environment, context: context, directory: cwd)
        return (scan.jobs, scan.errors(pending: nil))
    }

    /// What the targets gave: the loaded files, the directories scanned, and the errors.
    struct TargetScan {
        var jobs: [LoadedInfo] = []
        /// Every directory target that could be read, as given.
        var directories: [String] = []
        /// In target order; `emptyDirectory` marks R119's "No qq job info file found.", which a
        /// job still waiting in the queue for that directory replaces (issue 8, item 12).
        var failures: [(target: String, message: String, emptyDirectory: Bool)] = []

        func errors(pending: PendingJobs.Outcome?) -> [(target: String, message: String)] {
            failures.compactMap { f in
                guard f.emptyDirectory, let pending else { return (f.target, f.message) }
                if pending.directoriesWithJobs.contains(f.target) { return nil }
                if let reason = pending.unavailable {
                    return (f.target, f.message + " Jobs still waiting in the queue could not be listed: \(reason).")
                }
                return (f.target, f.message)
            }
        }
    }

    static func scanTargets(_ targets: [String], environment: Environment, context: InfoContext,
                            directory cwd: String) -> TargetScan {
        var scan = TargetScan()
        func fail(_ target: String, _ message: String, emptyDirectory: Bool = false) {
            scan.failures.append((target, message, emptyDirectory))
        }
        for target in targets.isEmpty ? ["."] : targets {
            let st = FileSystem.stat(target)
            if st?.isRegular == true {
                switch Discovery.load(target, loader: context.loadInfo) {
                case .success(let info): scan.jobs.append(info)
                case .failure(let f): fail(target, f.message)
                }
            } else if st?.isDirectory == true {
                let paths: [String]
                do { paths = try Discovery.infoFiles(in: target) } catch { fail(target, error.description); continue }
                scan.directories.append(target)
                if paths.isEmpty { fail(target, "No qq job info file found.", emptyDirectory: true); continue }
                let (loaded, failed) = Discovery.loadSorted(paths, loader: context.loadInfo)
                for (path, message) in failed { fail(path, message) }
                scan.jobs += loaded
            } else if let problem = Discovery.targetProblem(target, status: st) {
                fail(target, problem)
            } else {
                switch JobIDResolver.resolve(target, environment: environment, context: context, directory: cwd) {
                case .success(let info): scan.jobs.append(info)
                case .failure(let e): fail(target, e.message)
                }
            }
        }
        return scan
    }

    /// R122: one query per job (files of the same job share it), asked of each batch system at once
    /// (`queryJobs`: Slurm lists its jobs once, the others at most 8 at a time); none for
    /// naive-`unknown` files (unless `includeUnknown`: qq-wipe and qq-clear need to know whether
    /// the answer is authoritative) or with `--no-batch`. nil means "not queried".
    static func queryAll(_ jobs: [LoadedInfo], noBatch: Bool, includeUnknown: Bool = false,
                         environment: Environment, context: InfoContext) -> [BatchAnswer?] {
        var answers: [BatchAnswer?] = Array(repeating: nil, count: jobs.count)
        if noBatch { return answers }
        var keys: [String] = []
        var firstIndex: [String: Int] = [:]
        var keyOf: [Int: String] = [:]
        for (i, job) in jobs.enumerated() where includeUnknown || job.record.jobState != .unknown {
            if let known = job.knownAnswer { answers[i] = known; continue }
            let r = job.record
            // Local answers depend on the file's own pid and host, so each file is its own job.
            var key = "\(r.batchSystem.rawValue)\u{0}\(shortJobID(r.jobID))\u{0}\(r.cluster ?? "")"
            if r.batchSystem == .local { key += "\u{0}\(job.path)" }
            keyOf[i] = key
            if firstIndex[key] == nil { firstIndex[key] = i; keys.append(key) }
        }
        // One batch query per batch system (issue 13, item 5), in first-seen order.
        var systems: [BatchSystemName] = []
        var keysOf: [BatchSystemName: [String]] = [:]
        for k in keys {
            guard let i = firstIndex[k] else { continue }
            let name = jobs[i].record.batchSystem
            if keysOf[name] == nil { systems.append(name) }
            keysOf[name, default: []].append(k)
        }
        var byKey: [String: BatchAnswer] = [:]
        for name in systems {
            let group = keysOf[name] ?? []
            let requests = group.compactMap { firstIndex[$0].map { BatchQueryRequest(jobs[$0].record.jobID, record: jobs[$0].record) } }
            let results = context.batchSystem(name).queryJobs(requests, environment: environment,
                                                              options: context.queryOptions, reaping: context.reaping)
            for (k, a) in zip(group, results) { byKey[k] = a }
        }
        for (i, key) in keyOf { answers[i] = byKey[key] }
        return answers
    }
}

/// R120: from a job id to its info file.
enum JobIDResolver {
    struct Failure: Error { var message: String }

    static func resolve(_ id: String, environment: Environment, context: InfoContext,
                        directory: String) -> Result<LoadedInfo, Failure> {
        let systemName: BatchSystemName
        do { systemName = try batchSystemOutsideJob(environment: environment) }
        catch { return .failure(Failure(message: error.description)) }

        if systemName == .local {
            guard let match = newestMatch(in: directory, id: id, loader: context.loadInfo)
                    ?? ArchivedCycles.newestMatch(inArchivesOf: directory, id: id, loader: context.loadInfo) else {
                return .failure(Failure(message: "Job '\(id)' is not a valid qq job."))
            }
            return .success(match)
        }

        let answer = context.batchSystem(systemName).queryJob(id, record: nil, environment: environment,
                                                             options: context.queryOptions, reaping: context.reaping)
        let batch: BatchJobRecord
        switch answer {
        case .notFound: return .failure(Failure(message: "Job '\(id)' does not exist."))
        case .unavailable(let reason):
            return .failure(Failure(message: "Could not query the batch system about job '\(id)': \(reason)."))
        case .found(let r): batch = r
        }

        var candidates: [String] = []
        if systemName == .pbs, let qqInfo = batch.variables["QQ_INFO"], !qqInfo.isEmpty { candidates.append(qqInfo) }
        if let dir = batch.workDir, let name = batch.jobName, !name.isEmpty {
            candidates.append(FileSystem.joinPath(dir, replacingSuffix(of: name, with: ".qqinfo")))
        }
        var sawOtherJob = false
        for path in candidates where (FileSystem.stat(path)?.isRegular == true) {
            if case .success(var info) = Discovery.load(path, loader: context.loadInfo) {
                if matches(info.record, id) { info.knownAnswer = answer; return .success(info) }
                sawOtherJob = true
            }
        }
        // A past loop cycle's file was moved to the loop's archive when the next cycle started.
        if let dir = batch.workDir, var match = newestMatch(in: dir, id: id, loader: context.loadInfo)
            ?? ArchivedCycles.newestMatch(inArchivesOf: dir, id: id, loader: context.loadInfo) {
            match.knownAnswer = answer
            return .success(match)
        }
        if sawOtherJob {
            return .failure(Failure(message: "Info file for job '\(id)' does not exist or is not reachable."))
        }
        return .failure(Failure(message: "Job '\(id)' is not a valid qq job."))
    }

    /// The job id matches (R8), or the array id `A_T` does.
    static func matches(_ r: InfoRecord, _ id: String) -> Bool {
        if sameJob(r.jobID, id) { return true }
        if let a = r.arrayJobID, let t = r.arrayTaskID, "\(a)_\(t)" == id { return true }
        return false
    }

    /// The most recently modified `.qqinfo` file in `directory` that belongs to `id`.
    static func newestMatch(in directory: String, id: String, loader: InfoLoader) -> LoadedInfo? {
        guard let paths = try? Discovery.infoFiles(in: directory) else { return nil }
        var best: LoadedInfo?
        for path in paths.sorted() {
            guard case .success(let info) = Discovery.load(path, retries: 1, loader: loader), matches(info.record, id) else { continue }
            if best == nil || (info.mtime ?? 0) > (best?.mtime ?? 0) { best = info }
        }
        return best
    }
}
