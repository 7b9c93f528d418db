import CQQSystem
import Glibc

/// Plain-mode options after R79's precedence: environment > directive > default.
struct PlainOptions {
    var workDir: String?
    var workDirExplicit = false
    var exclude: [String] = []
    var include: [String] = []
    var transferMode: [String] = []
    var interpreter: String?
    var walltime: String?
    var rescue = true
}

extension Runner {
    var plainWorkDirOption: String? { mode == .plain ? plainOptions?.workDir : nil }

    // MARK: Step 5, plain mode (R73–R82)

    func createPlainFile() throws(RunFailure) {
        guard let script = arguments.script else {
            throw .fatal("No script to run: qq-run expects the script path as its first argument.")
        }
        let scriptPath = FileSystem.normalizeLexically(script, relativeTo: initialDirectory)
        let scriptText = (try? FileSystem.readSmallFile(scriptPath)) ?? ""
        let options = readPlainOptions(scriptText: scriptText, scriptPath: scriptPath)
        plainOptions = options
        let inputDir: String
        if system == .local {
            inputDir = FileSystem.directoryName(scriptPath)
        } else {
            inputDir = initialDirectory.isEmpty ? (jobEnv.submitDir ?? "/") : initialDirectory
        }
        // LUMI: the storage type chosen by the submitter counts as the work-dir type (R51).
        let lumiType = system == .slurmLumi ? jobEnv.lumiScratchType.map { $0.lowercased() } : nil
        var workDirType = options.workDir ?? lumiType ?? defaultWorkDirType
        if Resources(workDir: workDirType).usesScratch && isRefusedInputDir(inputDir) {
            if system == .local && !options.workDirExplicit {
                Log.info("The script lies in '\(inputDir)'; running it in the input directory (work-dir=input_dir).")
                workDirType = "input_dir"
            } else {
                throw .fatal("Refusing to stage the whole directory '\(inputDir)' to scratch. Submit from a job directory or set work-dir=input_dir.")
            }
        }
        // An unsupported type (R46) is reported after the claim, as error 91 recorded in the file.
        let baseName = plainBaseName(scriptPath: scriptPath)
        var jobName = baseName
        if let a = jobEnv.arrayJobID, let t = jobEnv.arrayTaskID { jobName = insertingBeforeFirstDot(baseName, "_\(a)_\(t)") }
        let record = makePlainRecord(jobName: jobName, scriptName: system == .local ? FileSystem.baseName(scriptPath) : baseName,
                                     inputDir: inputDir, workDirType: workDirType, options: options)
        try claimInfoFile(record: record, jobName: jobName)
    }

    private var defaultWorkDirType: String { system == .pbs ? "scratch_local" : "scratch" }

    /// R75: `/`, the home directory and the temporary directory are never staged whole.
    private func isRefusedInputDir(_ dir: String) -> Bool {
        let candidates = ["/", env.nonEmpty("HOME"), env.nonEmpty("TMPDIR") ?? "/tmp"].compactMap { $0 }
        return candidates.contains { FileSystem.normalizeLexically($0) == dir }
    }

    /// R78/R79: directives from the script, overridden by `QQ_OPT_*`.
    private func readPlainOptions(scriptText: String, scriptPath: String) -> PlainOptions {
        let d = Directives.parse(scriptText: scriptText)
        for line in d.malformed { Log.warning("Ignoring malformed qq directive in '\(scriptPath)': \(line)") }
        let known: Set<String> = ["work_dir", "exclude", "include", "transfer_mode", "interpreter", "walltime", "rescue"]
        let ignored: Set<String> = ["queue", "server", "account", "batch_system", "nnodes", "ncpus", "ncpus_per_node", "mem",
                                    "mem_per_node", "mem_per_cpu", "ngpus", "ngpus_per_node", "work_size", "work_size_per_node",
                                    "work_size_per_cpu", "props", "depend", "loop_start", "loop_end", "archive",
                                    "archive_format", "archive_mode"]
        for key in d.values.keys.sorted() where !known.contains(key) {
            if ignored.contains(key) {
                Log.debug("Directive '\(key)' is applied by the scheduler, not by qq-run; ignored.")
            } else if key == "job_type" {
                if d[key]?.lowercased() != "standard" {
                    Log.warning("Job type '\(d[key] ?? "")' is not supported in plain mode; running as a standard job.")
                }
            } else {
                Log.warning("Unknown qq directive '\(key)' ignored.")
            }
        }
        func value(_ key: String, _ envName: String) -> String? { env.nonEmpty(envName) ?? d[key] }
        var o = PlainOptions()
        if let w = value("work_dir", "QQ_OPT_WORK_DIR") {
            o.workDir = w.trimmingBlanks.lowercased().replacingAll("-", with: "_")
            o.workDirExplicit = true
        }
        o.exclude = value("exclude", "QQ_OPT_EXCLUDE").map(splitListOption) ?? []
        o.include = value("include", "QQ_OPT_INCLUDE").map(splitListOption) ?? []
        o.transferMode = splitListOption(value("transfer_mode", "QQ_OPT_TRANSFER_MODE") ?? settings.defaultTransferMode)
        o.interpreter = value("interpreter", "QQ_OPT_INTERPRETER")
        o.walltime = value("walltime", "QQ_OPT_WALLTIME")
        if let r = env.nonEmpty("QQ_RESCUE") ?? d["rescue"] { o.rescue = parseBoolean(r) ?? true }
        return o
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
        walltimeSeconds = jobEnv.walltimeSeconds ?? options.walltime.flatMap(parseWalltime)
        res.walltime = walltimeSeconds.map(formatWalltime)
        res.workDir = workDirType
        var r = InfoRecord(batchSystem: system, qqVersion: QQVersion.version, username: userName(environment: env),
                           jobID: jobID, jobName: jobName, scriptName: scriptName,
                           queue: system == .local ? "local" : (jobEnv.queue ?? "unknown"),
                           inputMachine: system == .local ? host : (jobEnv.submitHost ?? host),
                           inputDir: inputDir, jobState: .queued, submissionTime: Timestamp.now(),
                           stdoutFile: replacingSuffix(of: jobName, with: ".out"),
                           stderrFile: replacingSuffix(of: jobName, with: ".err"), resources: res)
        r.excludedFiles = options.exclude.map { $0.hasPrefix("/") ? $0 : inputDir + "/" + $0 }
        r.includedFiles = options.include
        r.transferMode = TransferPolicy(options.transferMode).ignored.count == options.transferMode.count
            ? ["success"] : options.transferMode.map { $0.lowercased() }
        r.account = system == .local ? nil : jobEnv.account
        r.interpreter = options.interpreter
        r.phase = .setup
        fillRunnerFields(&r)
        return r
    }

    /// R82, R40: take `<input_dir>/<J>.qqinfo`, or a `_<id>` variant when another job holds it.
    private func claimInfoFile(record: InfoRecord, jobName: String) throws(RunFailure) {
        var record = record
        let dir = record.inputDir
        if jobEnv.restartCount >= 1, let (path, existing) = findOwnFile(in: dir) {
            infoPath = path
            let keeper = StateKeeper(path: path, jobID: jobID, managed: false, record: existing)
            prepareRestart(keeper)
            state = keeper
            return
        }
        var candidates = [jobName, insertingBeforeFirstDot(jobName, "_\(shortJobID(jobID))")]
        for k in 2...100 { candidates.append(insertingBeforeFirstDot(jobName, "_\(shortJobID(jobID))-\(k)")) }
        for (index, name) in candidates.enumerated() {
            let path = dir + "/" + replacingSuffix(of: name, with: ".qqinfo")
            record.jobName = name
            record.stdoutFile = replacingSuffix(of: name, with: ".out")
            record.stderrFile = replacingSuffix(of: name, with: ".err")
            record.heartbeat = Timestamp.now()
            let text = InfoFileCodec.encode(record)
            do {
                if try InfoFile.claim(text, at: path) {
                    infoPath = path
                    state = StateKeeper(path: path, jobID: jobID, managed: false, record: record)
                    return
                }
                // The name is taken: replace it only if it belongs to a job that has ended (case b).
                if index == 0, let other = try? InfoFile.load(path: path), !sameJob(other.jobID, jobID),
                   jobHasEnded(other), try InfoFile.replaceDead(text, at: path) {
                    Log.info("Replacing info file '\(path)' of finished job '\(other.jobID)'.")
                    infoPath = path
                    state = StateKeeper(path: path, jobID: jobID, managed: false, record: record)
                    return
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

    /// R82's restart scan: the input dir's `*.qqinfo` whose `job_id` is this job's.
    private func findOwnFile(in dir: String) -> (String, InfoRecord)? {
        let fd = cqq_openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard case .success(let names) = listDirectory(fd) else { return nil }
        for n in names where n.count > 7 && n.suffix(7).elementsEqual(".qqinfo".utf8) {
            let path = dir + "/" + String(decoding: n, as: UTF8.self)
            if let r = try? InfoFile.load(path: path, tornReadRetries: 0), sameJob(r.jobID, jobID) { return (path, r) }
        }
        return nil
    }

    /// R82 case b: another job's file may be replaced only when that job has certainly ended:
    /// it is not possibly live (R58), and its file or an authoritative answer says it is over.
    func jobHasEnded(_ other: InfoRecord) -> Bool {
        let answer = batchSystem(named: other.batchSystem).queryJob(other.jobID, record: other, environment: env,
                                                                   reaping: supervisor)
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

    /// R58: a heartbeat younger than 3 × interval + `QQ_CLOCK_SKEW`, judged by the file's mtime.
    private func hasFreshHeartbeat(_ r: InfoRecord) -> Bool {
        guard r.heartbeat != nil, r.phase != .done else { return false }
        let interval = Double(r.heartbeatInterval ?? 60)
        guard interval > 0, let st = FileSystem.stat(r.inputDir + "/" + replacingSuffix(of: r.jobName, with: ".qqinfo")) else {
            return false
        }
        let age = Double(time(nil)) - Double(st.mtimeSeconds)
        return age < 3 * interval + settings.clockSkew
    }
}

/// J with `insert` placed before its first `.` (R81's split rule): `job.sh` → `job_3_1.sh`.
func insertingBeforeFirstDot(_ name: String, _ insert: String) -> String {
    if let dot = name.firstIndex(of: "."), dot != name.startIndex {
        return String(name[..<dot]) + insert + String(name[dot...])
    }
    return name + insert
}
