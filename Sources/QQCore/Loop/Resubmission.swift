import Glibc

/// Submitting the next cycle of a loop or continuous job (SPEC §10 items 5 and 6, issue 11): after
/// the cycle's final write, as an argument vector, from the input dir, retried with R105's policy
/// while the scheduler seems unreachable. A failure is an ERROR that says how to submit by hand and
/// is recorded as `resubmit_error`; it never turns the finished cycle into a failed one.
struct Resubmission {
    /// How the cycle ended, as far as resubmission cares.
    enum Ending: Sendable, Equatable {
        case finished
        /// Killed by its time limit, with `resubmit-on=timeout`: the next cycle waits with
        /// `afterany` (an `afterok` on a timed-out job would never be satisfied).
        case timedOut
    }

    /// The command, where it runs and with what environment.
    struct Command: Sendable {
        var argv: [String]
        var directory: String
        var environment: Environment
        /// The next cycle's name, for the log.
        var nextName: String

        /// The line a person can paste into a shell on the input machine.
        var byHand: String { "cd \(shellQuoted(directory)) && " + argv.map(shellQuoted).joined(separator: " ") }
    }

    let loop: LoopJob
    let context: JobContext
    /// The cycle's record as its final write left it.
    let record: InfoRecord
    let ending: Ending

    // MARK: Whether to submit

    /// Called by the pipeline after W5 or K2; `noResubmit` means the script exited 95.
    static func afterCycle(loop: LoopJob, outcome: JobOutcome, noResubmit: Bool, finalWriteDone: Bool,
                           state: JobStateWriter, supervisor: any JobSupervisor) {
        let ending: Ending
        switch outcome.ending {
        case .completed(let code) where code == 0:
            if noResubmit {
                Log.info("The script finished with an exit code of '\(LoopJob.noResubmitCode)' indicating that the next cycle of the job should not be submitted. Not resubmitting.")
                return
            }
            ending = .finished
        case .completed(let code):
            Log.info("Not resubmitting: this cycle failed (exit code \(code)). Fix the cause, then submit the script again to continue.")
            return
        case .killed(_, .timeout) where loop.resubmitOnTimeout:
            ending = .timedOut
        case .killed(_, .timeout):
            Log.info("Not resubmitting: the cycle was killed by its time limit. With '# qq resubmit-on=timeout' the next cycle would continue from the last checkpoint.")
            return
        case .killed(_, let reason):
            Log.info("Not resubmitting: the job was killed (\(reason.rawValue)).")
            return
        }
        guard finalWriteDone else {
            Log.error("Not resubmitting: the cycle's end could not be recorded in '\(state.infoPath)', and the next cycle needs it. Submit the script again by hand.")
            return
        }
        let r = Resubmission(loop: loop, context: state.context, record: state.record, ending: ending)
        if ending == .timedOut, state.context.mode == .managed {
            let why = "resubmit-on=timeout applies to plain-mode jobs only: the Python qq submit continues a loop only from a finished cycle"
            r.fail(why, command: nil, state: state)
            return
        }
        if let cycle = loop.cycle {
            if cycle.current >= cycle.end {
                Log.info("This was the final cycle of the loop job. Not resubmitting.")
                return
            }
            let next = cycle.format.currentCycle(archiveFileNames: LoopJob.archiveFileNames(cycle.archiveDir), start: cycle.start)
            if next != cycle.current + 1 {
                let expected = cycle.format.name(cycle: cycle.current + 1)
                let found = next <= cycle.current ? "holds no files for cycle \(cycle.current + 1) (such as '\(expected).cpt')"
                                                  : "already holds files of cycle \(next), beyond the next one (\(cycle.current + 1))"
                r.fail("the archive '\(cycle.archiveDir)' \(found), so the next job would not continue this loop. The next cycle starts from the files named for it: write them as \"$(printf \"$QQ_ARCHIVE_FORMAT\" $((QQ_LOOP_CURRENT + 1)))\"",
                       command: nil, state: state)
                return
            }
        }
        if state.context.mode == .plain && state.context.system == .local {
            r.runNextLocalCycle(state: state)
            return
        }
        let command: Command
        switch r.command(facts: state.facts, reaping: supervisor) {
        case .success(let c): command = c
        case .failure(let why):
            r.fail(why.message, command: nil, state: state)
            return
        }
        r.submit(command, state: state, supervisor: supervisor)
    }

    struct Problem: Error, Sendable { let message: String }

    // MARK: The command

    func command(facts: BackgroundFacts?, reaping: any ChildReaping) -> Result<Command, Problem> {
        let env = Resubmission.submissionEnvironment(context.environment)
        let dependency = ending == .timedOut ? "afterany" : "afterok"
        let nextName = nextJobName
        if context.mode == .managed {
            guard let qq = frontCommandPath else {
                return .failure(Problem(message: "the 'qq' command was found neither next to qq-run nor on PATH"))
            }
            return .success(Command(argv: [qq, "submit"] + qqSubmitArguments(dependency: dependency),
                                    directory: record.inputDir, environment: env, nextName: nextName))
        }
        guard context.system.isSlurmFamily else {
            return .failure(Problem(message: "plain-mode resubmission needs Slurm; on \(context.system.rawValue) submit the script again by hand for the next cycle"))
        }
        let fields = facts?.schedulerRecord()?.fields ?? schedulerFields(reaping: reaping)
        guard let script = scriptPath(fields: fields) else {
            return .failure(Problem(message: "the job script that was submitted could not be found (Slurm's Command is '\(fields.flatMap { SlurmQuery.value($0, "Command") } ?? "unknown")')"))
        }
        var argv = ["sbatch", "--parsable", "--job-name=\(nextName)", "--dependency=\(dependency):\(context.jobID)"]
        argv += SlurmResubmitOptions(fields: fields ?? [:], jobID: context.jobID, jobName: context.jobEnv.jobName,
                                     scriptText: (try? FileSystem.readSmallFile(script)) ?? "").options
        argv.append(script)
        argv += context.arguments.scriptArguments
        return .success(Command(argv: argv, directory: record.inputDir, environment: env, nextName: nextName))
    }

    /// A loop's next cycle takes the next loop name (`md+0004.sh`); a continuous job keeps its name.
    private var nextJobName: String {
        if let cycle = loop.cycle { return LoopNames.jobName(scriptName: record.scriptName, cycle: cycle.current + 1) }
        return context.mode == .plain ? (context.jobEnv.jobName ?? record.scriptName) : record.scriptName
    }

    /// §10 item 6, with the fixes: every token its own argument, and `--interpreter`.
    func qqSubmitArguments(dependency: String) -> [String] {
        var a = [record.scriptName, "--queue", record.queue, "--job-type", record.jobType.text,
                 "--batch-system", record.batchSystem.rawValue, "--depend", "\(dependency)=\(record.jobID)"]
        a += Resubmission.resourceArguments(record.resources)
        if let s = record.server { a += ["--server", s] }
        if let acc = record.account { a += ["--account", acc] }
        if !record.excludedFiles.isEmpty { a += ["--exclude", record.excludedFiles.joined(separator: ",")] }
        if !record.includedFiles.isEmpty { a += ["--include", record.includedFiles.joined(separator: ",")] }
        if let l = record.loopInfo {
            a += ["--loop-start", String(l.start), "--loop-end", String(l.end),
                  "--archive", FileSystem.baseName(l.archive ?? "storage"),
                  "--archive-format", l.archiveFormat ?? ArchiveFormat.defaultText,
                  "--archive-mode", (l.archiveMode.isEmpty ? ["success"] : l.archiveMode).joined(separator: ":")]
        }
        a += ["--transfer-mode", (record.transferMode ?? ["success"]).joined(separator: ":")]
        if let i = record.interpreter { a += ["--interpreter", i] }
        return a
    }

    /// qq's `Resources.to_command_line`: fields in order, sizes as `<kB>kb`, props as `a,^b,k=v`.
    static func resourceArguments(_ r: Resources) -> [String] {
        var a: [String] = []
        func int(_ key: String, _ v: Int?) { if let v { a += ["--\(key)", String(v)] } }
        func size(_ key: String, _ v: Size?) { if let v { a += ["--\(key)", "\(v.kilobytes)kb"] } }
        int("nnodes", r.nnodes); int("ncpus", r.ncpus); int("ncpus-per-node", r.ncpusPerNode)
        size("mem", r.mem); size("mem-per-node", r.memPerNode); size("mem-per-cpu", r.memPerCPU)
        int("ngpus", r.ngpus); int("ngpus-per-node", r.ngpusPerNode)
        if let w = r.walltime { a += ["--walltime", w] }
        if let w = r.workDir { a += ["--work-dir", w] }
        size("work-size", r.workSize); size("work-size-per-node", r.workSizePerNode); size("work-size-per-cpu", r.workSizePerCPU)
        if !r.props.isEmpty {
            a += ["--props", r.props.map { p in p.value == "true" ? p.key : p.value == "false" ? "^" + p.key : "\(p.key)=\(p.value)" }
                .joined(separator: ",")]
        }
        return a
    }

    /// The `qq` front next to qq-run (it delegates `submit` to the Python qq), else `qq` on PATH.
    private var frontCommandPath: String? {
        if let dir = FrontCommand.ownDirectory(environment: context.environment), isExecutableFile(dir + "/qq") { return dir + "/qq" }
        return findExecutable("qq", path: context.environment["PATH"])
    }

    /// What Slurm recorded of this job's submission, asked now (when stage-in did not learn it).
    private func schedulerFields(reaping: any ChildReaping) -> [String: String]? {
        let answer = batchSystem(named: context.system).queryJob(context.jobID, record: record, environment: context.environment,
                                                                 options: BatchQueryOptions(context.settings).withTimeout(10),
                                                                 reaping: reaping)
        return answer.record?.fields
    }

    /// The submitted script as Slurm recorded it (`Command`, without the arguments that follow),
    /// else `<input dir>/<script_name>`.
    private func scriptPath(fields: [String: String]?) -> String? {
        if var command = fields.flatMap({ SlurmQuery.value($0, "Command") }) {
            let args = context.arguments.scriptArguments
            if !args.isEmpty, command.hasSuffix(" " + args.joined(separator: " ")) {
                command = String(command.dropLast(args.joined(separator: " ").count + 1))
            }
            if FileSystem.stat(command)?.isRegular == true { return command }
        }
        let fallback = record.inputDir + "/" + record.scriptName
        return FileSystem.stat(fallback)?.isRegular == true ? fallback : nil
    }

    /// This job's environment without what describes this job: Slurm's and sbatch's variables
    /// (`SLURM_CONF` stays: it says where the cluster's configuration is) and the `QQ_*` values
    /// qq sets for one job. Settings a person chose (`QQ_OPT_*`, `QQ_CONFIG`, …) stay.
    static func submissionEnvironment(_ env: Environment) -> Environment {
        let jobValues: Set<String> = ["QQ_INFO", "QQ_JOB_ID", "QQ_JOB_NAME", "QQ_ENV_SET", "QQ_WORK_DIR", "QQ_INPUT_DIR",
                                      "QQ_INPUT_MACHINE", "QQ_NNODES", "QQ_NCPUS", "QQ_NGPUS", "QQ_WALLTIME", "QQ_NODELIST",
                                      "QQ_ARRAY_INDEX", "QQ_LOOP_CURRENT", "QQ_LOOP_START", "QQ_LOOP_END",
                                      "QQ_ARCHIVE_FORMAT", "QQ_NO_RESUBMIT", "QQ_BATCH_SYSTEM", "QQ_FRONT_DELEGATED",
                                      "QQ_FALLBACK_ACTIVE"]
        var out = env
        for name in env.order {
            let slurm = (name.hasPrefix("SLURM_") && name != "SLURM_CONF") || name.hasPrefix("SBATCH_")
            if slurm || jobValues.contains(name) { out[name] = nil }
        }
        return out
    }

    // MARK: Running it

    private func submit(_ command: Command, state: JobStateWriter, supervisor: any JobSupervisor) {
        Log.info("Resubmitting the job: next cycle '\(command.nextName)'.")
        var runner = CommandRunner(environment: command.environment, timeout: 60, reaping: supervisor)
        runner.workingDirectory = command.directory
        var last = CommandResult(program: command.argv[0])
        do {
            last = try context.retryPolicy.run(isRetryable: { (e: Problem) in Resubmission.isTransient(e.message) }, stop: supervisor) {
                () throws(Problem) -> CommandResult in
                let result = runner.run(command.argv)
                if result.succeeded { return result }
                throw Problem(message: "'\(FileSystem.baseName(command.argv[0])) \(command.argv.dropFirst().first ?? "")' failed: \(result.failureDescription(timeout: 60))")
            }
        } catch {
            fail(error.message, command: command, state: state)
            return
        }
        if context.mode == .managed {
            Log.info("Job successfully resubmitted.")
            return
        }
        let id = String(last.stdout.trimmingBlanks.split(separator: ";").first ?? "")
        Log.info("Job successfully resubmitted: the next cycle '\(command.nextName)' is job '\(id)'; it starts when this one has ended.")
        _ = state.write(retry: true) { r in r.nextJobID = id.isEmpty ? nil : id }
    }

    /// A Local job has no queue to wait in: the next cycle runs now, in this process (exec), so
    /// `qq-run --local md.sh` runs the whole loop.
    private func runNextLocalCycle(state: JobStateWriter) {
        Log.info("Starting the next cycle '\(nextJobName)' now (a Local job has no queue).")
        let argv = [CommandLine.arguments.first ?? "qq-run"] + context.arguments.raw
        // A Local job id is `local-<unix seconds>-<pid>` (R50) and exec keeps the pid: the next
        // cycle starts in the next second, so each cycle's records carry their own id.
        let started = time(nil)
        while time(nil) == started { sleepUninterrupted(seconds: 0.05) }
        let code = execReplacingProcess("/proc/self/exe", argv, Resubmission.submissionEnvironment(context.environment))
        fail("cannot execute qq-run again: \(String(cString: strerror(code)))",
             command: Command(argv: argv, directory: context.initialDirectory, environment: context.environment, nextName: nextJobName),
             state: state)
    }

    /// Errors of an unreachable or busy controller are worth retrying; a refusal (a bad account,
    /// a partition that does not exist) is not: retrying would only hold the allocation longer.
    static func isTransient(_ message: String) -> Bool {
        let m = message.lowercased()
        return ["unable to contact", "timed out", "socket", "try again", "temporarily", "busy", "connection"].contains { m.contains($0) }
    }

    private func fail(_ why: String, command: Command?, state: JobStateWriter) {
        let byHand = command.map { " Submit it by hand: \($0.byHand)" } ?? ""
        let message = "Could not submit the next cycle of '\(record.jobName)': \(why).\(byHand)"
        Log.error(message)
        _ = state.write(retry: true) { r in r.resubmitError = message }
    }
}

/// The sbatch options of the next cycle: what this job was submitted with, from Slurm's record of
/// it (`#SBATCH` lines are read from the script again by sbatch anyway).
struct SlurmResubmitOptions {
    let options: [String]

    init(fields f: [String: String], jobID: String, jobName: String?, scriptText: String) {
        var o: [String] = []
        func add(_ option: String, _ key: String, transform: (String) -> String? = { $0 }) {
            if let v = SlurmQuery.value(f, key), v != "0", let t = transform(v) { o.append("--\(option)=\(t)") }
        }
        add("partition", "Partition")
        add("account", "Account")
        add("time", "TimeLimit") { $0 == "UNLIMITED" || $0 == "Partition_Limit" ? nil : $0 }
        add("nodes", "NumNodes")
        add("ntasks", "NumTasks")
        add("cpus-per-task", "CPUs/Task")
        add("mem", "MinMemoryNode")
        add("mem-per-cpu", "MinMemoryCPU")
        add("qos", "QOS")
        add("constraint", "Features")
        add("gres", "TresPerNode") { v in
            let gres = v.split(separator: ",").map { t -> String in
                t.hasPrefix("gres:") || t.hasPrefix("gres/") ? String(t.dropFirst(5)) : String(t)
            }
            return gres.joined(separator: ",")
        }
        add("reservation", "Reservation")
        // Output and error: only where this job had them from the command line (not the script's
        // own #SBATCH lines, not Slurm's default), as patterns again, so no cycle writes over another's log.
        let sets = SlurmResubmitOptions.scriptSets(scriptText)
        let workDir = SlurmQuery.value(f, "WorkDir") ?? ""
        let out = SlurmQuery.value(f, "StdOut"), err = SlurmQuery.value(f, "StdErr")
        var append = false
        func pattern(_ path: String) -> String {
            let (p, replaced) = SlurmResubmitOptions.pattern(of: path, jobID: jobID, jobName: jobName)
            if !replaced { append = true }
            return p
        }
        if let out, !sets.output, out != workDir + "/slurm-\(jobID).out" { o.append("--output=\(pattern(out))") }
        if let err, !sets.error, err != out { o.append("--error=\(pattern(err))") }
        if append { o.append("--open-mode=append") }
        options = o
    }

    /// Whether the script's own `#SBATCH` lines set the output and error files.
    static func scriptSets(_ text: String) -> (output: Bool, error: Bool) {
        var output = false, error = false
        for line in text.split(separator: "\n") {
            let t = line.trimmingBlanks
            guard t.hasPrefix("#SBATCH") else { continue }
            for token in t.dropFirst(7).split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                if token == "-o" || token.hasPrefix("--output") || (token.hasPrefix("-o") && !token.hasPrefix("--")) { output = true }
                if token == "-e" || token.hasPrefix("--error") || (token.hasPrefix("-e") && !token.hasPrefix("--")) { error = true }
            }
        }
        return (output, error)
    }

    /// Slurm's expanded file name turned back into a pattern: this job's id as `%j` (a whole digit
    /// run only) and its name as `%x`, in the file name (not the directories). False when nothing
    /// was replaced: a fixed name, which the next cycle then appends to.
    static func pattern(of path: String, jobID: String, jobName: String?) -> (String, Bool) {
        let dir = FileSystem.directoryName(path)
        var name = FileSystem.baseName(path)
        var replaced = false
        if let jobName, !jobName.isEmpty, name.contains(jobName) {
            name = name.replacingAll(jobName, with: "%x")
            replaced = true
        }
        var out = ""
        var digits = ""
        for c in name + "\u{0}" {
            if c.isASCII && c.isNumber { digits.append(c); continue }
            if !digits.isEmpty {
                if digits == jobID { out += "%j"; replaced = true } else { out += digits }
                digits = ""
            }
            if c != "\u{0}" { out.append(c) }
        }
        return ((path.hasPrefix("/") || dir != "." ? (dir == "/" ? "/" : dir + "/") : "") + out, replaced)
    }
}

/// One word for a POSIX shell: as it is when it is plainly safe, else in single quotes.
func shellQuoted(_ word: String) -> String {
    let safe = !word.isEmpty && word.allSatisfy { c in
        c.isASCII && (c.isLetter || c.isNumber || "-_./=:,+%@".contains(c))
    }
    return safe ? word : "'" + word.replacingAll("'", with: "'\\''") + "'"
}
