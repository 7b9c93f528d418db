import CQQSystem
import Glibc

/// Step 5 in plain mode (R73–R82): no submitter wrote a state file, so qq-run reads the script's
/// directives, decides the input dir and claims `<input dir>/<job name>.qqinfo`.
struct PlainStart {
    let invocation: Invocation
    let supervisor: any JobSupervisor

    private var arguments: RunnerArguments { invocation.arguments }
    private var env: Environment { invocation.environment }
    private var settings: Settings { invocation.settings }
    private var system: BatchSystemName { invocation.system }
    private var jobEnv: BatchJobEnvironment { invocation.jobEnv }
    private var jobID: String { invocation.jobID }
    private var host: String { invocation.host }
    private var initialDirectory: String { invocation.initialDirectory }

    // MARK: Step 5, plain mode (R73–R82)

    func open() throws(RunFailure) -> (JobContext, any StateFileKeeping) {
        guard let script = arguments.script else {
            throw .fatal("No script to run: qq-run expects the script path as its first argument.")
        }
        let scriptPath = FileSystem.normalizeLexically(script, relativeTo: initialDirectory)
        try requireRegularScript(scriptPath)
        let scriptText = (try? FileSystem.readSmallFile(scriptPath)) ?? ""
        let options = readPlainOptions(scriptText: scriptText, scriptPath: scriptPath)
        let inputDir: String
        if system == .local {
            inputDir = FileSystem.directoryName(scriptPath)
        } else {
            inputDir = initialDirectory.isEmpty ? (jobEnv.submitDir ?? "/") : initialDirectory
        }
        // LUMI: the storage type chosen by the submitter counts as the work-dir type (R51).
        let lumiType = system == .slurmLumi ? jobEnv.lumiScratchType.map { $0.lowercased() } : nil
        var workDirType = options.workDir ?? lumiType ?? defaultWorkDirType
        if Resources(workDir: workDirType).usesScratch, let whole = InputDirPlacement.wholeDirectory(inputDir, environment: env) {
            if system == .local && !options.workDirExplicit {
                Log.info("The script lies in '\(inputDir)'; running it in the input directory (work-dir=input_dir).")
                workDirType = "input_dir"
            } else {
                let alias = FileSystem.normalizeLexically(whole) == inputDir ? "" : " (it is '\(whole)')"
                throw .fatal("Refusing to stage the whole directory '\(inputDir)'\(alias) to scratch. Submit from a job directory or set work-dir=input_dir.")
            }
        }
        if Resources(workDir: workDirType).usesScratch,
           let layout = try? WorkDirLayout.resolve(system: system, type: workDirType, jobID: jobID, account: jobEnv.account,
                                                   settings: settings, environment: env) {
            // An unsupported type is reported after the claim (R46); this catches `cd /scratch/$USER; sbatch`.
            let planned = layout.plannedPath(user: userName(environment: env), jobID: jobID)
            if InputDirPlacement.overlapsPlannedWorkDir(inputDir: inputDir, plannedWorkDir: planned) {
                throw .fatal(InputDirPlacement.overlapMessage(inputDir: inputDir, plannedWorkDir: planned, root: layout.root))
            }
        }
        // An unsupported type (R46) is reported after the claim, as error 91 recorded in the file.
        let baseName = plainBaseName(scriptPath: scriptPath)
        var jobName = baseName
        var scriptName = system == .local ? FileSystem.baseName(scriptPath) : baseName
        var loopInfo: LoopInfo?
        if options.jobType == .loop {
            // A resubmitted cycle is named `md+0004.sh` in the queue; its script name is `md.sh`.
            scriptName = LoopNames.scriptName(fromJobName: scriptName) ?? scriptName
            let info = try plainLoopInfo(options, inputDir: inputDir)
            let cycle = info.current ?? info.start
            try requirePreviousCycleEnded(scriptName: scriptName, cycle: cycle, inputDir: inputDir)
            jobName = LoopNames.jobName(scriptName: scriptName, cycle: cycle)
            loopInfo = info
        }
        if let a = jobEnv.arrayJobID, let t = jobEnv.arrayTaskID { jobName = insertingBeforeFirstDot(jobName, "_\(a)_\(t)") }
        var record = makePlainRecord(jobName: jobName, scriptName: scriptName,
                                     inputDir: inputDir, workDirType: workDirType, options: options)
        record.jobType = options.jobType
        record.loopInfo = loopInfo
        let (infoPath, keeper) = try claimInfoFile(record: record, jobName: jobName)
        return (invocation.context(infoPath: infoPath, plainOptions: options), keeper)
    }

    private var defaultWorkDirType: String { system == .pbs ? "scratch_local" : "scratch" }

    /// The script must be a file bash can run; anything else ends the job before a state file,
    /// work dir or log exists (a directory given as the script would put logs beside it).
    private func requireRegularScript(_ path: String) throws(RunFailure) {
        guard let st = FileSystem.stat(path) else {
            throw .fatal("Script '\(path)' does not exist. Give the path of your job script, e.g. 'qq-run --local job.sh'.")
        }
        guard st.isRegular else {
            let kind = st.isDirectory ? "a directory" : "not a regular file"
            throw .fatal("Script '\(path)' is \(kind): qq-run runs a job script file. Give the path of your job script, e.g. 'qq-run --local job.sh'.")
        }
    }

    /// R78/R79: directives from the script, overridden by `QQ_OPT_*`.
    func readPlainOptions(scriptText: String, scriptPath: String) -> PlainOptions {
        let d = Directives.parse(scriptText: scriptText)
        for line in d.malformed { Log.warning("Ignoring malformed qq directive in '\(scriptPath)': \(line)") }
        let known: Set<String> = ["work_dir", "exclude", "include", "transfer_mode", "interpreter", "walltime", "rescue",
                                  "job_type", "loop_start", "loop_end", "archive", "archive_format", "archive_mode", "resubmit_on",
                                  "sync_interval"]
        let ignored: Set<String> = ["queue", "server", "account", "batch_system", "nnodes", "ncpus", "ncpus_per_node", "mem",
                                    "mem_per_node", "mem_per_cpu", "ngpus", "ngpus_per_node", "work_size", "work_size_per_node",
                                    "work_size_per_cpu", "props", "depend"]
        for key in d.values.keys.sorted() where !known.contains(key) && !JobEnvironmentOptions.directiveKeys.contains(key) {
            if ignored.contains(key) {
                Log.debug("Directive '\(key)' is applied by the scheduler, not by qq-run; ignored.")
            } else {
                Log.warning("Unknown qq directive '\(key)' ignored.")
            }
        }
        func value(_ key: String, _ envName: String) -> String? { env.nonEmpty(envName) ?? d[key] }
        /// Where an option came from, in the words the user wrote it.
        func origin(_ key: String, _ envName: String) -> String {
            env.nonEmpty(envName) != nil ? envName : "directive '\(key.replacingAll("_", with: "-"))'"
        }
        var o = PlainOptions()
        if let w = value("work_dir", "QQ_OPT_WORK_DIR") {
            o.workDir = w.trimmingBlanks.lowercased().replacingAll("-", with: "_")
            o.workDirExplicit = true
        }
        o.exclude = value("exclude", "QQ_OPT_EXCLUDE").map(splitListOption) ?? []
        o.include = value("include", "QQ_OPT_INCLUDE").map(splitListOption) ?? []
        let configured = TransferPolicy(splitListOption(settings.defaultTransferMode)).valid
        let defaultTransfer = configured.isEmpty ? ["success"] : configured
        if let given = value("transfer_mode", "QQ_OPT_TRANSFER_MODE") {
            let policy = TransferPolicy(splitListOption(given))
            for bad in policy.ignored {
                let used = policy.valid.isEmpty ? "the default '\(defaultTransfer.joined(separator: ","))'" : "'\(policy.valid.joined(separator: ","))'"
                Log.warningOnce("Invalid value '\(bad)' for \(origin("transfer_mode", "QQ_OPT_TRANSFER_MODE")) (expected success, failure, always, never or an exit code 0-255); using \(used).")
            }
            o.transferMode = policy.valid.isEmpty ? defaultTransfer : policy.valid
        } else {
            o.transferMode = defaultTransfer
        }
        o.interpreter = value("interpreter", "QQ_OPT_INTERPRETER")
        o.walltime = value("walltime", "QQ_OPT_WALLTIME")
        if let w = o.walltime, parseWalltime(w) == nil {
            Log.warningOnce("Invalid value '\(w)' for \(origin("walltime", "QQ_OPT_WALLTIME")) (expected HH:MM:SS, D-HH:MM:SS or e.g. 90m); recording the time limit Slurm reports instead.")
            o.walltime = nil
        }
        // QQ_RESCUE over the directive over the config file's `rescue` over true: `Settings` holds
        // the first and the last two, so the directive only counts without the variable.
        o.rescue = settings.rescue
        if env.nonEmpty("QQ_RESCUE") == nil, let r = d["rescue"] {
            if let b = parseBoolean(r) {
                o.rescue = b
            } else {
                Log.warningOnce("Invalid value '\(r)' for \(origin("rescue", "QQ_RESCUE")) (expected true or false); using \(settings.rescue).")
            }
        }
        readLoopOptions(into: &o, value: value, origin: origin)
        o.jobEnvironment = JobEnvironmentOptions.read(directives: d, environment: env)
        return o
    }

    /// Issue 11: the loop-job directives in qq's names (`job-type`, `loop-start`, `loop-end`,
    /// `archive`, `archive-format`, `archive-mode`) and qq-run's `resubmit-on`.
    private func readLoopOptions(into o: inout PlainOptions, value: (String, String) -> String?,
                                 origin: (String, String) -> String) {
        if let t = value("job_type", "QQ_OPT_JOB_TYPE") {
            switch JobType(reading: t.trimmingBlanks) {
            case .standard, .other:
                if t.lowercased() != "standard" {
                    Log.warningOnce("Invalid value '\(t)' for \(origin("job_type", "QQ_OPT_JOB_TYPE")) (expected standard, loop or continuous); running as a standard job.")
                }
            case let known: o.jobType = known
            }
        }
        func number(_ key: String, _ envName: String) -> Int? {
            guard let text = value(key, envName) else { return nil }
            guard let n = Int(text.trimmingBlanks), n >= 0 else {
                Log.warningOnce("Invalid value '\(text)' for \(origin(key, envName)) (expected a whole number of at least 0); ignored.")
                return nil
            }
            return n
        }
        o.loopStart = number("loop_start", "QQ_OPT_LOOP_START")
        o.loopEnd = number("loop_end", "QQ_OPT_LOOP_END")
        o.archive = value("archive", "QQ_OPT_ARCHIVE")?.trimmingBlanks
        o.archiveFormat = value("archive_format", "QQ_OPT_ARCHIVE_FORMAT")?.trimmingBlanks
        if let m = value("archive_mode", "QQ_OPT_ARCHIVE_MODE") {
            let policy = TransferPolicy(splitListOption(m))
            for bad in policy.ignored {
                Log.warningOnce("Invalid value '\(bad)' for \(origin("archive_mode", "QQ_OPT_ARCHIVE_MODE")) (expected success, failure, always, never or an exit code 0-255); ignored.")
            }
            o.archiveMode = policy.valid
        }
        o.resubmitOn = value("resubmit_on", "QQ_OPT_RESUBMIT_ON").map(splitListOption) ?? []
        o.syncInterval = value("sync_interval", "QQ_OPT_SYNC_INTERVAL")
    }

    /// A plain-mode loop job's `loop_info` (qq submit's defaults: start 1, archive `storage`, format
    /// `job%04d`, archive mode `success`); the cycle is the one the archive says comes next (§10 item 7).
    private func plainLoopInfo(_ o: PlainOptions, inputDir: String) throws(RunFailure) -> LoopInfo {
        guard let end = o.loopEnd else {
            throw .fatal("A loop job needs its last cycle: add '# qq loop-end <N>' to the script (or set QQ_OPT_LOOP_END).")
        }
        let start = o.loopStart ?? 1
        guard end >= start else { throw .fatal("loop-start (\(start)) cannot be higher than loop-end (\(end)).") }
        let archive = FileSystem.normalizeLexically(o.archive ?? "storage", relativeTo: inputDir)
        guard archive != inputDir else {
            throw .fatal("The input directory cannot be the loop job's archive. Set '# qq archive <dir>' to a directory for the archived cycles, e.g. storage.")
        }
        let format = o.archiveFormat ?? ArchiveFormat.defaultText
        let current = ArchiveFormat(format).currentCycle(archiveFileNames: LoopJob.archiveFileNames(archive), start: start)
        guard current <= end else {
            throw .fatal("The archive '\(archive)' already holds cycle \(current), beyond loop-end \(end): the loop is complete. Raise loop-end to run more cycles.")
        }
        return LoopInfo(start: start, end: end, archive: archive, archiveFormat: format, current: current,
                        archiveMode: o.archiveMode.isEmpty ? ["success"] : o.archiveMode)
    }

    /// The previous cycle's files are archived when this one starts: its job must have ended.
    private func requirePreviousCycleEnded(scriptName: String, cycle: Int, inputDir: String) throws(RunFailure) {
        let path = inputDir + "/" + replacingSuffix(of: LoopNames.jobName(scriptName: scriptName, cycle: cycle - 1), with: ".qqinfo")
        guard FileSystem.lstat(path) != nil, let previous = try? InfoFile.load(path: path, tornReadRetries: 0),
              !sameJob(previous.jobID, jobID), !jobHasEnded(previous) else { return }
        throw .fatal("The previous cycle's job '\(previous.jobID)' ('\(path)') may still be running, and this cycle would archive its files. Wait until it has ended (or cancel it), then submit the script again.")
    }

    /// R80: the batch job name (Local: the script's file name), made safe for a file name.
    private func plainBaseName(scriptPath: String) -> String {
        let raw = system == .local ? FileSystem.baseName(scriptPath) : (jobEnv.jobName ?? FileSystem.baseName(scriptPath))
        var bytes: [UInt8] = raw.utf8.map { $0 == UInt8(ascii: "/") || $0 < 0x20 || $0 == 0x7F ? UInt8(ascii: "_") : $0 }
        if bytes.count > 100 {
            var cut = 100
            while cut > 0 && bytes[cut] & 0xC0 == 0x80 { cut -= 1 }
            bytes = Array(bytes[0..<cut])
        }
        let name = String(decoding: bytes, as: UTF8.self)
        return name.isEmpty || name == "." || name == ".." ? "job" : name
    }

    private func makePlainRecord(jobName: String, scriptName: String, inputDir: String, workDirType: String,
                                 options: PlainOptions) -> InfoRecord {
        var res = Resources()
        if system == .local {
            res.nnodes = 1
            res.ncpus = max(1, Int(cqq_online_cpus()))
        } else {
            res.nnodes = jobEnv.numNodes
            res.ncpus = jobEnv.totalCPUs
            if let m = jobEnv.memPerNodeKB { res.memPerNode = Size(kilobytes: m) }
            else if let m = jobEnv.memPerCPUKB { res.memPerCPU = Size(kilobytes: m) }
            res.ngpusPerNode = jobEnv.gpusPerNode
        }
        res.walltime = (jobEnv.walltimeSeconds ?? options.walltime.flatMap(parseWalltime)).map(formatWalltime)
        res.workDir = workDirType
        var r = InfoRecord(batchSystem: system, qqVersion: QQVersion.version, username: userName(environment: env),
                           jobID: jobID, jobName: jobName, scriptName: scriptName,
                           queue: system == .local ? "local" : (jobEnv.queue ?? "unknown"),
                           inputMachine: system == .local ? host : (jobEnv.submitHost ?? host),
                           inputDir: inputDir, jobState: .queued, submissionTime: Timestamp.now(),
                           stdoutFile: replacingSuffix(of: jobName, with: ".out"),
                           stderrFile: replacingSuffix(of: jobName, with: ".err"), resources: res)
        r.excludedFiles = options.exclude.compactMap { entry in
            let absolute = entry.hasPrefix("/") ? FileSystem.normalizeLexically(entry) : inputDir + "/" + entry
            // `..` would reach outside the input dir, where nothing is staged: such an entry excludes nothing.
            guard FileSystem.isSameOrInside(FileSystem.normalizeLexically(absolute), inputDir),
                  FileSystem.normalizeLexically(absolute) != inputDir else {
                Log.warningOnce("Invalid value '\(entry)' for exclude: it lies outside the input directory '\(inputDir)'; ignored (nothing is excluded for it).")
                return nil
            }
            return absolute
        }
        r.includedFiles = options.include
        r.transferMode = options.transferMode
        r.account = system == .local ? nil : jobEnv.account
        r.interpreter = options.interpreter
        r.phase = .setup
        RunnerFields.fill(&r, system: system, jobEnv: jobEnv, settings: settings)
        return r
    }

    /// R82, R40: take `<input_dir>/<J>.qqinfo`, or a `_<id>` variant when another job holds it.
    private func claimInfoFile(record: InfoRecord, jobName: String) throws(RunFailure) -> (String, any StateFileKeeping) {
        var record = record
        let dir = record.inputDir
        if jobEnv.restartCount >= 1, let (path, existing) = findOwnFile(in: dir) {
            let keeper = StateKeeper(path: path, jobID: jobID, managed: false, record: existing)
            ManagedStart.prepareRestart(keeper, restartCount: jobEnv.restartCount)
            return (path, keeper)
        }
        var candidates = [jobName, insertingBeforeFirstDot(jobName, "_\(shortJobID(jobID))")]
        for k in 2...100 { candidates.append(insertingBeforeFirstDot(jobName, "_\(shortJobID(jobID))-\(k)")) }
        for (index, name) in candidates.enumerated() {
            let path = dir + "/" + replacingSuffix(of: name, with: ".qqinfo")
            record.jobName = name
            let previous = FileSystem.lstat(path) == nil ? nil : try? InfoFile.load(path: path, tornReadRetries: 0)
            (record.stdoutFile, record.stderrFile) = logNames(for: name, inputDir: dir, previous: previous)
            record.heartbeat = Timestamp.now()
            let text = InfoFileCodec.encode(record)
            do {
                if try InfoFile.claim(text, at: path) {
                    return (path, StateKeeper(path: path, jobID: jobID, managed: false, record: record))
                }
                // The name is taken: replace it only if it belongs to a job that has ended (case b).
                if index == 0, let other = try? InfoFile.load(path: path), !sameJob(other.jobID, jobID),
                   jobHasEnded(other), try InfoFile.replaceDead(text, at: path) {
                    Log.info("Replacing info file '\(path)' of finished job '\(other.jobID)'.")
                    return (path, StateKeeper(path: path, jobID: jobID, managed: false, record: record))
                }
                if index == 0 {
                    let next = dir + "/" + replacingSuffix(of: candidates[1], with: ".qqinfo")
                    do {
                        let owner = try InfoFile.load(path: path).jobID
                        Log.warning("Info file '\(path)' belongs to job '\(owner)', which may still be running; using '\(next)' instead.")
                    } catch {
                        // A file that cannot be read names no job; it is kept as it is.
                        Log.warning("Info file '\(path)' is corrupt or unreadable (\(error.description)); it is kept untouched and this job uses '\(next)' instead. Check it, and remove it if no job uses it.")
                    }
                }
            } catch {
                throw .fatal("Cannot create qq info file '\(path)': \(error.reason).")
            }
        }
        throw .fatal("No free info file name for job '\(jobID)' in '\(dir)'.")
    }

    /// `<J>.out` and `<J>.err`, unless either would replace something that is not a log of an
    /// earlier qq job with this name: the script itself (`calc.out`), Slurm's own output file, or any
    /// file a person keeps there. Then both take the job-id-suffixed names of R82, so the script's
    /// output can never overwrite the script or the user's data.
    private func logNames(for name: String, inputDir: String, previous: InfoRecord?) -> (String, String) {
        let earlierLogs = Set([previous?.stdoutFile, previous?.stderrFile].compactMap { $0 })
        let script = arguments.script.flatMap { FileSystem.stat(FileSystem.normalizeLexically($0, relativeTo: initialDirectory))?.identity }
        let ownStreams = Set([1, 2].compactMap { FileSystem.fstat(Int32($0))?.identity })
        func usable(_ log: String) -> Bool {
            guard let st = FileSystem.lstat(inputDir + "/" + log) else { return true }
            if st.identity == script || ownStreams.contains(st.identity) { return false }
            return st.isRegular && earlierLogs.contains(log)
        }
        let plain = (replacingSuffix(of: name, with: ".out"), replacingSuffix(of: name, with: ".err"))
        if usable(plain.0) && usable(plain.1) { return plain }
        let id = shortJobID(jobID)
        for k in 1...100 {
            let variant = insertingBeforeFirstDot(name, k == 1 ? "_\(id)" : "_\(id)-\(k)")
            let names = (replacingSuffix(of: variant, with: ".out"), replacingSuffix(of: variant, with: ".err"))
            if usable(names.0) && usable(names.1) {
                Log.info("'\(plain.0)' or '\(plain.1)' in '\(inputDir)' is not a log of an earlier qq job (it may be the script or your file); the script's output goes to '\(names.0)' and '\(names.1)' instead.")
                return names
            }
        }
        let random = insertingBeforeFirstDot(name, "_\(id)-\(FileSystem.randomHex())")
        return (replacingSuffix(of: random, with: ".out"), replacingSuffix(of: random, with: ".err"))
    }

    /// R82's restart scan: the input dir's `*.qqinfo` whose `job_id` is this job's.
    private func findOwnFile(in dir: String) -> (String, InfoRecord)? {
        guard case .success(let entries) = DirectoryReader.entries(atPath: dir) else { return nil }
        for e in entries where e.z.count > 8 && e.name.suffix(7).elementsEqual(".qqinfo".utf8) {
            let path = dir + "/" + e.text
            if let r = try? InfoFile.load(path: path, tornReadRetries: 0), sameJob(r.jobID, jobID) { return (path, r) }
        }
        return nil
    }

    /// R82 case b: another job's file may be replaced only when that job has certainly ended:
    /// it is not possibly live (R58), and its file or an authoritative answer says it is over.
    func jobHasEnded(_ other: InfoRecord) -> Bool {
        let answer = batchSystem(named: other.batchSystem).queryJob(other.jobID, record: other, environment: env,
                                                                   options: BatchQueryOptions(settings), reaping: supervisor)
        if answer.isBatchLive || hasFreshHeartbeat(other) { return false }
        switch other.jobState {
        case .finished, .failed, .killed:
            return true
        case .queued, .running:
            switch answer {
            case .notFound: return true
            case .found(let r): return r.state == .finished || r.state == .failed
            case .unavailable: return false
            }
        case .unknown:
            return false
        }
    }

    /// R58: a heartbeat fresh by `HeartbeatFreshness`, judged by the file's mtime.
    private func hasFreshHeartbeat(_ r: InfoRecord) -> Bool {
        guard r.heartbeat != nil, r.phase != .done,
              let st = FileSystem.stat(r.inputDir + "/" + replacingSuffix(of: r.jobName, with: ".qqinfo")) else {
            return false
        }
        let age = max(0, Int(time(nil)) - Int(st.mtimeSeconds))
        return HeartbeatFreshness(record: r, clockSkew: settings.clockSkew).isFresh(age: age)
    }
}

/// J with `insert` placed before its first `.` (R81's split rule): `job.sh` → `job_3_1.sh`.
func insertingBeforeFirstDot(_ name: String, _ insert: String) -> String {
    if let dot = name.firstIndex(of: "."), dot != name.startIndex {
        return String(name[..<dot]) + insert + String(name[dot...])
    }
    return name + insert
}
