/// Facts that arrive while the job goes on, asked for in the background so that no phase waits for
/// a slow `scontrol`. Each is a value: a phase that needs one asks for what is known now.
struct BackgroundFacts: Sendable {
    /// R111: the scheduler's KillWait (seconds from SIGTERM to SIGKILL).
    let killWait: KillWaitSource
    /// R77: the scheduler's record of this job (submission time, time limit), plain mode on Slurm.
    let schedulerAnswer: ResultBox<BatchJobRecord?>?

    func schedulerRecord() -> BatchJobRecord? {
        guard let box = schedulerAnswer, box.isSet else { return nil }
        return box.take()
    }

    /// What the scheduler's record adds to the state file: the real submission time, and the time
    /// limit when nothing else gave one. Applied before every write once the answer is there.
    func apply(to r: inout InfoRecord, walltimeKnownOtherwise: Bool) {
        guard let learned = schedulerRecord() else { return }
        if let submitted = learned.submitTime { r.submissionTime = submitted }
        if !walltimeKnownOtherwise, let limit = learned.timeLimit, let seconds = parseWalltime(limit) {
            r.resources.walltime = formatWalltime(seconds: seconds)
        }
    }

    /// Starts the R77 query (Slurm family, plain mode) and returns the facts with it.
    static func start(context: JobContext, killWait: KillWaitSource, record: InfoRecord,
                      reaping: any ChildReaping) -> BackgroundFacts {
        guard context.system.isSlurmFamily, context.mode == .plain else {
            return BackgroundFacts(killWait: killWait, schedulerAnswer: nil)
        }
        let box = ResultBox<BatchJobRecord?>()
        let slurm = batchSystem(named: context.system)
        let id = context.jobID
        let environment = context.environment
        let options = BatchQueryOptions(context.settings).withTimeout(5)
        startDetachedThread {
            box.set(slurm.queryJob(id, record: record, environment: environment, options: options, reaping: reaping).record)
        }
        return BackgroundFacts(killWait: killWait, schedulerAnswer: box)
    }
}

/// R111: KillWait from `QQ_KILL_WAIT`, else the Slurm configuration file, else `scontrol show
/// config` asked at start (30 s until it answers); 0 for Local.
struct KillWaitSource: Sendable {
    let known: Double?
    let asked: ResultBox<Double?>?

    /// The best value now.
    var seconds: Double {
        if let known { return known }
        if let asked, asked.isSet, let answer = asked.take() { return answer }
        return 30
    }

    static func learn(settings: Settings, system: BatchSystemName, environment env: Environment,
                      reaping: any ChildReaping) -> KillWaitSource {
        if let w = settings.killWait { return KillWaitSource(known: w, asked: nil) }
        if system == .local { return KillWaitSource(known: 0, asked: nil) }
        guard system.isSlurmFamily else { return KillWaitSource(known: nil, asked: nil) }
        for path in [env.nonEmpty("SLURM_CONF"), "/etc/slurm/slurm.conf"].compactMap({ $0 }) {
            guard let text = try? FileSystem.readSmallFile(path), let w = parseKillWait(slurmConf: text) else { continue }
            Log.debug("KillWait \(Int(w)) s, from '\(path)'.")
            return KillWaitSource(known: w, asked: nil)
        }
        Log.debug("KillWait not found in the Slurm configuration files; asking scontrol, assuming 30 s until it answers.")
        let box = ResultBox<Double?>()
        let runner = CommandRunner(environment: env, timeout: 5, reaping: reaping)
        startDetachedThread {
            let result = runner.run(["scontrol", "show", "config"])
            box.set(result.succeeded ? parseKillWait(showConfig: result.stdout) : nil)
        }
        return KillWaitSource(known: nil, asked: box)
    }
}

/// R113: how long a rescue may take after a terminating signal. The one place that decides it:
/// the copy engine's stop check, stage-out after a signal and the rescue all ask it.
struct RescueWindow: Sendable {
    let budget: Double?
    let killWait: KillWaitSource

    /// Seconds from the signal to the deadline: `QQ_RESCUE_BUDGET`, else KillWait − 2 s, else 60 s.
    var seconds: Double {
        if let budget { return budget }
        let w = killWait.seconds
        return w > 0 ? w - 2 : 60
    }

    /// The deadline of a rescue that starts at `start` (monotonic) for a signal that arrived at
    /// `signalTime`: t_S + KillWait − 2 s, so the copies end before Slurm's SIGKILL; with a budget,
    /// or without a known KillWait, counted from `start`.
    func deadline(signalTime: Double?, start: Double) -> Double {
        if budget == nil, killWait.seconds > 0, let t = signalTime { return t + seconds }
        return start + seconds
    }

    /// R111: the grace from SIGTERM to SIGKILL of the script, within a third of KillWait.
    func grace(killGrace: Double) -> Double {
        let w = killWait.seconds
        return w > 0 ? min(killGrace, w / 3) : killGrace
    }
}

/// `KillWait=5` in slurm.conf (case-insensitive key, comments after the value ignored).
func parseKillWait(slurmConf text: String) -> Double? {
    for line in text.split(separator: "\n") {
        let t = line.trimmingBlanks
        guard t.lowercased().hasPrefix("killwait") else { continue }
        let parts = t.split(separator: "=", maxSplits: 1)
        if parts.count == 2, let v = Double(parts[1].trimmingBlanks.split(separator: " ").first ?? "") { return v }
    }
    return nil
}

/// `KillWait                = 30 sec` from `scontrol show config`.
func parseKillWait(showConfig text: String) -> Double? {
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, parts[0].trimmingBlanks.lowercased() == "killwait" else { continue }
        return Double(parts[1].trimmingBlanks.split(separator: " ").first ?? "")
    }
    return nil
}
