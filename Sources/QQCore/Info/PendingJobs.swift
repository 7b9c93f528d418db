/// Jobs that were submitted from a scanned directory but have not started, so qq-run has not
/// written their info file yet (issue 8, item 12). Without them, `qq-info` right after
/// `sbatch job.sh` says "No qq job info file found" until the job starts.

/// One such job: what the scheduler said about it.
struct PendingJob: Sendable {
    var batch: BatchJobRecord
    var system: BatchSystemName
    /// queued, held or waiting: R123's row for a file that would say `queued`.
    var realState: RealState
}

enum PendingJobs {
    /// Batch scripts asked for at most (one scheduler call each, 8 at a time); the most recently
    /// submitted candidates are checked first.
    static let scriptCheckLimit = 100

    struct Outcome {
        var jobs: [PendingJob] = []
        /// The directories (as given) in which at least one of `jobs` waits.
        var directoriesWithJobs: Set<String> = []
        /// Why the listing failed, when it did.
        var unavailable: String?
    }

    /// One listing call for all `directories`, then one script check per job that waits in one of
    /// them (compared by device and inode: Slurm records the physical path) and has no info file
    /// among `known`. Only jobs whose script starts with a qq-run shebang are kept.
    static func find(in directories: [String], known: [LoadedInfo], environment: Environment,
                     context: InfoContext) -> Outcome {
        guard !directories.isEmpty,
              let systemName = try? batchSystemOutsideJob(environment: environment) else { return Outcome() }
        let system = context.batchSystem(systemName)
        let listed: [BatchJobRecord]
        switch system.pendingJobs(environment: environment, options: context.queryOptions, reaping: context.reaping) {
        case .success(let records): listed = records
        case .failure(let e): return Outcome(unavailable: e.reason)
        }
        if listed.isEmpty { return Outcome() }

        var targetsOf: [[UInt64]: [String]] = [:]
        for dir in directories { if let st = FileSystem.stat(dir) { targetsOf[identity(st), default: []].append(dir) } }
        var identityOf: [String: [UInt64]?] = [:]
        func wantedIdentity(_ workDir: String?) -> [UInt64]? {
            guard let workDir else { return nil }
            if let cached = identityOf[workDir] { return cached }
            let id = FileSystem.stat(workDir).map(identity).flatMap { targetsOf[$0] == nil ? nil : $0 }
            identityOf[workDir] = .some(id)
            return id
        }
        var candidates = listed.filter { r in
            wantedIdentity(r.workDir) != nil && !known.contains { JobIDResolver.matches($0.record, r.jobID) }
        }
        candidates.sort { submitOrder($1, $0) }  // newest first, for the limit
        if candidates.count > scriptCheckLimit {
            Log.warning("\(candidates.count) jobs wait in the queue for the scanned directories; only the \(scriptCheckLimit) most recently submitted were checked for a qq-run script (one batch-system call each). See 'squeue --me' for the others.")
            candidates.removeSubrange(scriptCheckLimit...)
        }
        let lines = concurrentMap(count: candidates.count, limit: 8) { [candidates] i in
            system.batchScriptFirstLine(of: candidates[i], environment: environment, options: context.queryOptions,
                                        reaping: context.reaping)
        }
        var outcome = Outcome()
        for (r, line) in zip(candidates, lines) where line.map(runsQQRun) == true {
            outcome.jobs.append(PendingJob(batch: r, system: systemName,
                                           realState: RealState.combining(naive: .queued, batch: r.state)))
            if let id = wantedIdentity(r.workDir) { outcome.directoriesWithJobs.formUnion(targetsOf[id] ?? []) }
        }
        outcome.jobs.sort { submitOrder($0.batch, $1.batch) }
        return outcome
    }

    static func identity(_ s: FileStatus) -> [UInt64] { [s.device, s.inode] }

    /// Oldest submission first, then by id (as directories list info files, R119).
    static func submitOrder(_ a: BatchJobRecord, _ b: BatchJobRecord) -> Bool {
        let ka = a.submitTime?.epochSeconds ?? 0, kb = b.submitTime?.epochSeconds ?? 0
        if ka != kb { return ka < kb }
        return a.jobID < b.jobID
    }

    /// Whether a script's first line hands it to qq-run: `#!/usr/bin/env -S qq-run`,
    /// `#!/usr/bin/env -S qq run`, `#!/usr/bin/env qq-run`, `#!/opt/qq/bin/qq-run`,
    /// `#!/opt/qq/bin/qq run`, with any `env` options and `NAME=value` assignments.
    static func runsQQRun(_ firstLine: String) -> Bool {
        guard firstLine.hasPrefix("#!") else { return false }
        var words = firstLine.dropFirst(2).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            .map(String.init)
        guard let interpreter = words.first else { return false }
        words.removeFirst()
        var command = FileSystem.baseName(interpreter)
        if command == "env" {
            // Skip env's options and assignments up to the command it runs.
            while let w = words.first {
                if w.hasPrefix("-S"), w.count > 2 { words[0] = String(w.dropFirst(2)); continue }
                if w.hasPrefix("--split-string=") { words[0] = String(w.dropFirst("--split-string=".count)); continue }
                if ["-u", "--unset", "-C", "--chdir"].contains(w) { words.removeFirst(min(2, words.count)); continue }
                if w.hasPrefix("-") || (w.contains("=") && !w.hasPrefix("=")) { words.removeFirst(); continue }
                break
            }
            guard let first = words.first else { return false }
            command = FileSystem.baseName(first)
            words.removeFirst()
        }
        if command == "qq-run" { return true }
        return command == "qq" && words.first == "run"
    }
}

// MARK: Output

extension InfoPanel {
    /// The panel of a job without an info file: what the scheduler knows, in the panel's layout.
    static func renderPending(_ job: PendingJob, options: PanelOptions) -> String {
        let b = job.batch
        let inner = options.panelWidth - 2
        let c = options.colors
        var lines = [topBorder(title: " JOB: \(b.jobID) ", inner: inner, colors: c), emptyLine(inner, c)]
        var basic: [PanelRow] = []
        if let name = b.jobName { basic.append(PanelRow(key: "Job name:", value: name, style: .value)) }
        if let queue = b.partition { basic.append(PanelRow(key: "Submission queue:", value: queue, style: .value)) }
        if let dir = b.workDir { basic.append(PanelRow(key: "Input directory:", value: dir, style: .value)) }
        lines += table(basic, inner: inner, colors: c)
        func section(_ title: String, _ rows: [PanelRow]) {
            lines += [emptyLine(inner, c), rule(title: " \(title) ", inner: inner, colors: c), emptyLine(inner, c)]
            lines += table(rows, inner: inner, colors: c)
        }
        if let submitted = b.submitTime {
            section("HISTORY", [PanelRow(key: "Submitted at:", value: submitted.description, style: .value)])
        }
        section("STATE", pendingStateRows(job, now: options.now))
        lines += [emptyLine(inner, c), bottomBorder(inner: inner, colors: c)]
        return lines.joined(separator: "\n") + "\n"
    }

    static func pendingStateRows(_ job: PendingJob, now: Int) -> [PanelRow] {
        let state = job.realState
        var rows = [PanelRow(key: "Job state:", value: stateMessages[state] ?? "", style: .state(state))]
        if let submitted = job.batch.submitTime {
            rows.append(.note("In queue for \(formatDuration(seconds: now - submitted.epochSeconds))"))
        }
        if let reason = job.batch.reason { rows.append(.note("Reason: \(reason)")) }
        if let start = plannedStartText(job.batch, now: now) { rows.append(.note(start)) }
        rows.append(.note("Not started yet: qq-run writes the job's info file when the job starts"))
        return rows
    }

    /// `Planned start within <D> (at <time>) on '<nodes>'`, when the scheduler gave a start time.
    static func plannedStartText(_ b: BatchJobRecord, now: Int) -> String? {
        guard let start = b.startTime else { return nil }
        let within = formatDuration(seconds: max(0, start.epochSeconds - now))
        var text = "Planned start within \(within) (at \(start))"
        if let nodes = b.estimate?.nodes { text += " on '\(nodes)'" }
        return text
    }

    /// R129's line, then Slurm's reason and the planned start: `57    held    Reason: JobHeldUser`.
    static func pendingShortLine(_ job: PendingJob, colors: Bool) -> String {
        let state = job.realState.text
        var line = "\(job.batch.jobID)    \(colors ? paint(state, PanelColor.sgr(job.realState)) : state)"
        var details: [String] = []
        if let reason = job.batch.reason { details.append("Reason: \(reason)") }
        if let start = job.batch.startTime { details.append("planned start at \(start)") }
        if !details.isEmpty { line += "    " + details.joined(separator: "; ") }
        return line
    }
}

extension InfoJSON {
    /// One element of the top-level `pending_jobs` array (share/doc/qq-info-json.md).
    static func pendingJob(_ job: PendingJob) -> JSONValue {
        let b = job.batch
        return .object([
            ("job_id", .string(b.jobID)),
            ("real_state", .string(job.realState.jsonName)),
            ("batch_state", .string(b.state.rawValue)),
            ("batch_system", .string(job.system.rawValue)),
            ("job_name", .str(b.jobName)),
            ("queue", .str(b.partition)),
            ("input_dir", .str(b.workDir)),
            ("submission_time", .time(b.submitTime)),
            ("reason", .str(b.reason)),
            ("planned_start", .time(b.startTime)),
            ("planned_nodes", .str(b.estimate?.nodes)),
        ])
    }
}
