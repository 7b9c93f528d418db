// Issue 10, item 3: one settings source. Each key of the config file (`qq_config.toml`) must reach
// the code that uses it: these tests write the key into a config file only (no `QQ_*` variable),
// load the settings as the tools do, and look where the value is used. Each fails when the key
// is ignored. `SettingsEndToEndTests` below runs `qq-run --local` with a qq_config.toml.

import Glibc
import Testing
@testable import QQCore

/// A config file in a fresh directory, and the environment that finds it and nothing else.
private struct ConfigWorld: ~Copyable {
    let dir = TempDir()

    init(_ toml: String) { writeText(dir.file("qq_config.toml"), toml) }

    /// No `QQ_*` settings: only the file (through QQ_CONFIG) can change a value.
    func environment(_ extra: [String: String] = [:]) -> Environment {
        var env = Environment(["QQ_CONFIG": dir.file("qq_config.toml"), "HOME": dir.path, "USER": "jdoe",
                               "PATH": "/nonexistent"])
        for (k, v) in extra { env[k] = v }
        return env
    }

    func settings(system: BatchSystemName? = nil) -> Settings {
        Settings.load(environment: environment(), system: system, workingDirectory: dir.path)
    }
}

private func qqRun(_ lines: String) -> ConfigWorld { ConfigWorld("[qq_run]\n" + lines + "\n") }

/// A running job that promised heartbeats every `interval` s, its file `age` s old.
private func runningRecord(interval: Int) -> InfoRecord {
    var r = sampleRecord()
    r.jobState = .running
    r.phase = .running
    r.completionTime = nil
    r.startTime = ts("2025-03-14 09:30:00")
    r.mainNode = "node1"
    r.allNodes = ["node1"]
    r.heartbeat = ts("2025-03-14 09:40:00")
    r.heartbeatInterval = interval
    return r
}

@Suite(.serialized) struct SettingsSourceTests {
    init() { Log.setLevel(.critical) }  // expected WARNING lines would clutter the output

    // MARK: Work dir placement (qq-run's layout, qq-wipe's safety check)

    @Test func scratchRootFromTheConfigPlacesTheWorkDir() throws {
        let world = qqRun("scratch_root = \"/data/scr\"")
        let layout = try WorkDirLayout.resolve(system: .slurm, type: "scratch", jobID: "12", account: nil,
                                               settings: world.settings(system: .slurm), environment: world.environment())
        #expect(layout.plannedPath(user: "jdoe", jobID: "12") == "/data/scr/jdoe/qq-jobs/job_12")
    }

    @Test func flashRootFromTheConfigPlacesALumiFlashWorkDir() throws {
        let world = qqRun("flash_root = \"/fast\"")
        let layout = try WorkDirLayout.resolve(system: .slurmLumi, type: "flash", jobID: "12", account: "project_1",
                                               settings: world.settings(system: .slurmLumi), environment: world.environment())
        #expect(layout.root == "/fast")
    }

    @Test func scratchAttemptsFromTheConfigWidenTheUserNamesQQWipeAccepts() {
        let world = qqRun("scratch_attempts = 5")
        let wd = "/scratch/jdoe5/qq-jobs/job_12"
        #expect(ScratchLocation.match(workDir: wd, jobID: "12", system: .slurm, environment: world.environment(),
                                      settings: world.settings(system: .slurm)) != nil)
        #expect(ScratchLocation.match(workDir: wd, jobID: "12", system: .slurm, environment: world.environment(),
                                      settings: Settings()) == nil)
    }

    @Test func wipeRootsFromTheConfigAreKnownScratchRootsForQQWipe() {
        // QQ_WIPE_ROOTS used to be read from the environment only.
        let world = qqRun("wipe_roots = \"/mnt/a:/mnt/b:relative\"")
        #expect(ScratchLocation.match(workDir: "/mnt/b/jdoe/qq-jobs/job_3", jobID: "3", system: .slurm,
                                      environment: world.environment(), settings: world.settings(system: .slurm))?.root == "/mnt/b")
        #expect(world.settings().wipeRoots == ["/mnt/a", "/mnt/b"])
    }

    @Test func perSystemScratchDirAttemptsCountsForThatSystemOnly() {
        let world = ConfigWorld("[slurm_it4i_options]\nscratch_dir_attempts = 6\n")
        #expect(world.settings(system: .slurmIT4I).scratchAttempts == 6)
        #expect(world.settings(system: .slurm).scratchAttempts == Settings().scratchAttempts)
        let wd = "/scratch/project/dd-24-1/jdoe6/qq-jobs/job_5"
        #expect(ScratchLocation.match(workDir: wd, jobID: "5", system: .slurmIT4I, environment: world.environment(),
                                      settings: world.settings(system: .slurmIT4I)) != nil)
    }

    // MARK: The job's life (qq-run)

    @Test func heartbeatIntervalFromTheConfigIsWrittenIntoTheStateFile() {
        let world = qqRun("heartbeat_interval = 17")
        var r = sampleRecord()
        RunnerFields.fill(&r, system: .local, jobEnv: BatchJobEnvironment(), settings: world.settings())
        #expect(r.heartbeatInterval == 17)
    }

    @Test func killGraceFromTheConfigSetsTheScriptsGrace() {
        let world = qqRun("kill_grace = 4")
        let window = RescueWindow(budget: nil, killWait: KillWaitSource(known: 60, asked: nil))
        #expect(window.grace(killGrace: world.settings().killGrace) == 4)
    }

    @Test func killWaitFromTheConfigIsTakenWithoutAskingSlurm() {
        let world = qqRun("kill_wait = 45")
        let source = KillWaitSource.learn(settings: world.settings(system: .slurm), system: .slurm,
                                          environment: world.environment(), reaping: DirectReaping())
        #expect(source.seconds == 45)
        #expect(source.asked == nil)
    }

    @Test func rescueFalseInTheConfigTurnsThePlainModeRescueOff() {
        // Plain mode used to start from `true` and look only at QQ_RESCUE and the directive.
        let world = qqRun("rescue = false")
        let input = world.dir.file("input")
        mkdir(input, 0o755)
        writeText(input + "/job.sh", "#!/usr/bin/env -S qq-run\necho hi\n")
        let env = world.environment(["QQ_BATCH_SYSTEM": "Local", "PWD": input])
        let invocation = Invocation(arguments: RunnerArguments(), environment: env,
                                    settings: Settings.load(environment: env, system: .local, workingDirectory: input),
                                    mode: .plain, system: .local, jobEnv: BatchJobEnvironment(), jobID: "local-1-1",
                                    host: thisHostName(), initialDirectory: input, inheritedInfoIgnored: false,
                                    managedInfoPath: nil)
        let options = PlainStart(invocation: invocation, supervisor: FakeSupervisor())
            .readPlainOptions(scriptText: "#!/usr/bin/env -S qq-run\necho hi\n", scriptPath: input + "/job.sh")
        #expect(options.rescue == false)
    }

    @Test func rescueBudgetFromTheConfigSetsTheRescueWindow() {
        let world = qqRun("rescue_budget = 12")
        let window = RescueWindow(budget: world.settings().rescueBudget, killWait: KillWaitSource(known: 60, asked: nil))
        #expect(window.seconds == 12)
    }

    @Test func forwardSignalsToGroupFromTheConfig() {
        #expect(qqRun("forward_signals_to = \"group\"").settings().forwardSignalsToGroup)
        #expect(!Settings().forwardSignalsToGroup)
    }

    @Test func retryKeysFromTheConfigMakeTheRetryPolicy() {
        let world = qqRun("retry_attempts = 3\nretry_initial_delay = 0.5\nretry_max_delay = 7\nretry_total = 20")
        let policy = RetryPolicy.from(world.settings())
        #expect(policy.attempts == 3)
        #expect(policy.initialDelay == 0.5)
        #expect(policy.maxDelay == 7)
        #expect(policy.total == 20)
    }

    @Test func copyStreamsAndVerifyFromTheConfigReachTheRuntimesCopyEngine() {
        let world = qqRun("copy_streams = 3\nverify = \"checksum\"")
        let input = world.dir.path
        let env = world.environment()
        let invocation = Invocation(arguments: RunnerArguments(), environment: env,
                                    settings: Settings.load(environment: env, system: .local, workingDirectory: input),
                                    mode: .plain, system: .local, jobEnv: BatchJobEnvironment(), jobID: "local-1-1",
                                    host: thisHostName(), initialDirectory: input, inheritedInfoIgnored: false,
                                    managedInfoPath: nil)
        let context = invocation.context(infoPath: input + "/job.qqinfo", plainOptions: PlainOptions())
        let engine = context.copyEngine(resources: Resources(ncpus: 8))
        #expect(engine.streams == 3)
        #expect(engine.verifyChecksum)
    }

    @Test func theCopyEngineReadsNoEnvironment() {
        setenv("QQ_COPY_STREAMS", "2", 1)
        setenv("QQ_VERIFY", "checksum", 1)
        defer { unsetenv("QQ_COPY_STREAMS"); unsetenv("QQ_VERIFY") }
        let engine = CopyEngine()
        #expect(engine.streams == CopyEngine.defaultStreams())
        #expect(!engine.verifyChecksum)
    }

    @Test func fallbackRunnerFromTheConfig() {
        #expect(qqRun("fallback_runner = \"/opt/qq/bin/qq\"").settings().fallbackRunner == "/opt/qq/bin/qq")
    }

    @Test func defaultInterpreterAndTransferModeFromTheirTables() {
        let world = ConfigWorld("[runner]\ndefault_interpreter = \"zsh\"\n[transfer_files_options]\ndefault_transfer_mode = \"always\"\n")
        #expect(world.settings().defaultInterpreter == "zsh")
        #expect(world.settings().defaultTransferMode == "always")
    }

    // MARK: Batch queries

    @Test func batchTimeoutFromTheConfigTimesOutASlowScontrol() {
        // The config file used to be ignored here: the timeout came from QQ_BATCH_TIMEOUT only.
        let world = qqRun("batch_timeout = 0.3")
        let fakes = FakeCommands()
        fakes.add("scontrol", "exec sleep 10")
        fakes.add("squeue", "exec sleep 10")
        let start = monotonicSeconds()
        let answer = SlurmSystem().queryJob("12", record: nil, environment: fakes.environment(),
                                            options: BatchQueryOptions(world.settings(system: .slurm)))
        #expect(monotonicSeconds() - start < 4)
        #expect(answer == .unavailable(reason: "'scontrol' timed out after 0.3 s; 'squeue' timed out after 0.3 s"))
    }

    @Test func batchTimeoutMustBePositive() {
        #expect(qqRun("batch_timeout = 0").settings().batchTimeout == 10)
        #expect(Settings.load(environment: Environment(["QQ_BATCH_TIMEOUT": "2.5", "QQ_CONFIG": "/nonexistent"]),
                              workingDirectory: "/nonexistent").batchTimeout == 2.5)
    }

    @Test func useSacctFromTheConfigAsksSacct() {
        // The config file used to be ignored here: only QQ_USE_SACCT=1 made sacct the last step.
        let world = qqRun("use_sacct = true")
        let fakes = FakeCommands()
        fakes.add("scontrol", "echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1")
        fakes.add("sacct", "echo '12|proj123|COMPLETED|jdoe|job.sh|debug|/users/jdoe/sim|vm|None|0:0|2025-03-14T09:26:53|2025-03-14T09:26:54|2025-03-14T09:30:00|00:10:00'")
        let answer = SlurmSystem().queryJob("12", record: nil, environment: fakes.environment(),
                                            options: BatchQueryOptions(world.settings(system: .slurm)))
        #expect(answer.state == .finished)
    }

    @Test func qqInfoHandsTheConfigsQueryOptionsToTheBatchSystem() {
        let world = qqRun("batch_timeout = 3\nuse_sacct = 1")
        let file = world.dir.file("job.qqinfo")
        try? InfoFile.writeRecord(runningRecord(interval: 60), to: file)
        let system = CannedBatchSystem { _ in .notFound }
        _ = QQInfoCommand.execute(arguments: [file], environment: world.environment(),
                                  context: InfoContext(now: { 0 }, batchSystem: { _ in system }, loadInfo: testLoader))
        #expect(system.options == [BatchQueryOptions(timeout: 3, useSacct: true)])
    }

    // MARK: Clock skew (qq-info, qq-wipe)

    /// qq-info's verdict on a running job whose scheduler no longer knows it, its file 30 s old,
    /// heartbeats promised every second.
    private func infoVerdict(_ world: borrowing ConfigWorld) -> String {
        let file = world.dir.file("job.qqinfo")
        try? InfoFile.writeRecord(runningRecord(interval: 1), to: file)
        age(file, by: 30)
        let system = CannedBatchSystem { _ in .notFound }
        let (_, out, _) = QQInfoCommand.execute(arguments: ["-s", file], environment: world.environment(),
                                                context: InfoContext(batchSystem: { _ in system }, loadInfo: testLoader))
        return out
    }

    @Test func clockSkewFromTheConfigChangesQQInfosLostVerdict() {
        // 30 s > 3 × 1 s + 0: lost. With the default skew of 60 s it is still running.
        #expect(infoVerdict(qqRun("clock_skew = 0")).contains("lost"))
        #expect(!infoVerdict(qqRun("")).contains("lost"))
    }

    @Test func clockSkewFromTheConfigLetsQQWipeActOnTheLostJob() {
        let world = qqRun("clock_skew = 0")
        let file = world.dir.file("job.qqinfo")
        try? InfoFile.writeRecord(runningRecord(interval: 1), to: file)
        age(file, by: 30)
        let t = CleanupTranscript()
        let context = CleanupContext(info: InfoContext(batchSystem: { _ in CannedBatchSystem { _ in .notFound } },
                                                       loadInfo: testLoader), emit: t.emit)
        _ = QQWipeCommand.execute(arguments: [file, "-y"], environment: world.environment(), context: context)
        #expect(t.stdout.contains("Job has been lost"))
        #expect(!t.logLines.contains { $0.contains("may still be active") })
    }
}

@Suite struct HeartbeatFreshnessTests {
    @Test func freshWhileYoungerThanThreeIntervalsPlusSkew() {
        let f = HeartbeatFreshness(interval: 10, clockSkew: 5)
        #expect(f.isFresh(age: 34))
        #expect(!f.isFresh(age: 35))
        #expect(!f.isSilent(age: 35))
        #expect(f.isSilent(age: 36))
    }

    @Test func aJobWithoutHeartbeatsIsNeverSilent() {
        #expect(!HeartbeatFreshness(interval: 0, clockSkew: 0).isSilent(age: 1_000_000))
    }

    @Test func thePanelSaysNoHeartbeatExactlyWhenTheJobWouldBeLost() {
        // The panel used 2 × interval, the lost verdict 3 ×: between the two the panel said
        // "No heartbeat" for a job qq-info did not call lost.
        let r = runningRecord(interval: 10)
        let stillRunning = BatchAnswer.found(BatchJobRecord(jobID: r.jobID, state: .running, rawState: "RUNNING", nodes: ["node1"]))
        let now = ts("2025-03-14 10:00:00").epochSeconds
        for age in 0...60 {
            let mtime = now - age
            let lost = JobStatus.evaluate(record: r, answer: .notFound, fileMTime: mtime, now: now, clockSkew: 5).realState == .lost
            let shown = JobStatus.evaluate(record: r, answer: stillRunning, fileMTime: mtime, now: now, clockSkew: 5)
            let panel = InfoPanel.render(record: r, status: shown, options: PanelOptions(now: now, clockSkew: 5))
            #expect(panel.contains("No heartbeat for") == lost, "age \(age): lost \(lost)\n\(panel)")
        }
    }

    @Test func possiblyLiveIsTheOppositeOfLost() {
        let r = runningRecord(interval: 10)
        let now = 10_000
        for age in [0, 34, 36, 100] {
            let live = LiveEvidence.of(record: r, answer: .notFound, fileMTime: now - age, now: now, clockSkew: 5) != nil
            let lost = JobStatus.evaluate(record: r, answer: .notFound, fileMTime: now - age, now: now, clockSkew: 5).realState == .lost
            #expect(live != lost, "age \(age)")
        }
    }
}

@Suite struct OrphanSyncedTests {
    @Test func onlyASynchronizedJobOfThisDirectoryCountsAsSynced() {
        #expect(OrphanSweep.Synced(true) == .yes)
        #expect(OrphanSweep.Synced(false) == .no)
        #expect(OrphanSweep.Synced(nil) == .unknown)
        #expect([OrphanSweep.Synced.yes, .no, .unknown].map(\.cell) == ["yes", "no", "?"])
    }
}

/// `qq-run --local` with a qq_config.toml in the input dir and no `QQ_*` settings in the
/// environment: the built binary finds the file and each key shows in what the job leaves.
@Suite("Config file end to end (qq-run --local)", .enabled(if: SlurmCluster.shouldRunLocal, "qq-run is not built (.build/debug/qq-run)"))
struct SettingsEndToEndTests {
    let me = TestUser.current

    func run(_ argv: [String], dirs: TestDirs, env: [String: String] = [:]) throws -> CommandResult {
        var environment = try SlurmCluster.baseEnvironment(for: me)
        environment["QQ_IT_PROBE"] = dirs.probe
        environment["HOME"] = dirs.base  // no user config file: only the input dir's counts
        for (k, v) in env { environment[k] = v }
        return Command.run(argv, environment: environment, cwd: dirs.input, timeout: 60)
    }

    @Test("scratch_root, heartbeat_interval, default_interpreter and default_transfer_mode from qq_config.toml")
    func configFileInTheInputDirSteersTheJob() throws {
        let dirs = try TestDirs("cfg-local")
        try Files.mkdir("\(dirs.scratch)/cfg", mode: 0o1777)
        try Files.write("\(dirs.probe)/interp", "#!/bin/sh\necho via-config > \"$QQ_IT_PROBE/interp\"\nexec /bin/bash \"$@\"\n", mode: 0o755)
        try dirs.put("qq_config.toml", """
            [qq_run]
            scratch_root = "\(dirs.scratch)/cfg"
            heartbeat_interval = 7
            [runner]
            default_interpreter = "\(dirs.probe)/interp"
            [transfer_files_options]
            default_transfer_mode = "always"
            """)
        try dirs.put("job.sh", "#!/usr/bin/env -S qq-run\nprintf '%s\\n' \"$PWD\" > \"$QQ_IT_PROBE/pwd\"\necho done > result.txt\n")
        let r = try run(["qq-run", "--local", "job.sh"], dirs: dirs)
        let why = Comment(rawValue: "\(r)")
        #expect(r.exitCode == 0, why)
        let info = try StateFiles.load("\(dirs.input)/job.qqinfo")
        #expect(info.workDir?.hasPrefix("\(dirs.scratch)/cfg/\(me.name)/qq-jobs/") == true, why)
        #expect(dirs.probeFile("pwd")?.hasPrefix("\(dirs.scratch)/cfg/") == true, why)
        #expect(info.heartbeatInterval == 7, why)
        #expect(dirs.probeFile("interp") == "via-config", why)
        #expect(info.transferMode == ["always"], why)
        #expect(Files.read("\(dirs.input)/result.txt") == "done\n", why)
    }

    @Test("fallback_runner from qq_config.toml takes a PBS job")
    func fallbackRunnerFromTheConfigFileTakesAPBSJob() throws {
        let dirs = try TestDirs("cfg-fallback")
        try Files.write("\(dirs.probe)/fallback", "#!/bin/sh\necho \"$@\" > \"$QQ_IT_PROBE/fallback\"\n", mode: 0o755)
        try dirs.put("qq_config.toml", "[qq_run]\nfallback_runner = \"\(dirs.probe)/fallback\"\n")
        try dirs.put("job.sh", "#!/usr/bin/env -S qq-run\necho ran\n")
        let r = try run(["qq-run", "job.sh"], dirs: dirs, env: ["QQ_BATCH_SYSTEM": "PBS", "PBS_JOBID": "7.pbs"])
        let why = Comment(rawValue: "\(r)")
        #expect(r.exitCode == 0, why)
        #expect(dirs.probeFile("fallback") == "run job.sh", why)
    }
}
