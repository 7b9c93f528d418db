// Each phase of qq-run's runtime on its own, with an in-memory state file and a supervisor that has
// no signals or children (issue 10): what a phase writes into the state file, what it copies, and
// what it hands to the next phase. The end-to-end behaviour is proven on real Slurm elsewhere; these
// need neither root nor a scheduler.

import Glibc
import Synchronization
import Testing
@testable import QQCore

/// A supervisor for the phases' tests: work runs inline, a terminating signal is whatever the test
/// sets, and the "script" is a recorded request that exits with the code the test chose.
final class FakeSupervisor: JobSupervisor, @unchecked Sendable {
    var terminationSignal: Int32?
    var terminationTime: Double?
    var stopWasRequested: Bool { terminationSignal != nil }
    var scriptPID: pid_t?
    var scriptStatus: Int32?
    var scriptExitCode: Int?
    var scriptExitedBeforeTermination = false
    var usage = Usage(maxRSS: 1234, userCPU: 0.5, sysCPU: 0.25)
    var pendingWarnings: [String] = []
    /// The code the spawned "script" exits with; nil: it is still running when a signal arrives.
    var exitCodeOfScript: Int? = 0
    /// A signal that arrives while the script runs.
    var signalDuringScript: Int32?
    private(set) var spawned: [(executable: String, arguments: [String], workDir: String)] = []
    private(set) var treeTerminations = 0

    var isStopping: Bool { terminationSignal != nil }
    func pause(_ seconds: Double) -> Bool { !isStopping }
    func waitForEvents(timeout: Double) {}
    func serve(until done: () -> Bool, deadline: Double?, tickInterval: Double?, tick: () -> Void) {}
    func runBlocking<T: Sendable>(tickInterval: Double?, tick: () -> Void, _ work: @escaping @Sendable () -> T) -> T { work() }
    func takePendingWarnings() -> [String] { defer { pendingWarnings = [] }; return pendingWarnings }
    func pastRescueDeadline(_ window: RescueWindow, margin: Double) -> Bool { false }
    func terminateProcessTree(first: Int32, grace: Double) -> Int { treeTerminations += 1; return 0 }
    func spawnScript(executable: String, arguments: [String], environment: [String], workDir: String,
                     stdoutFD: Int32, stderrFD: Int32, statusFD: Int32?, takeTerminal: Bool) -> Int32? {
        spawned.append((executable, arguments, workDir))
        return nil
    }
    func waitForScript(tickInterval: Double?, tick: () -> Void) {
        if let sig = signalDuringScript {
            terminationSignal = sig
            terminationTime = monotonicSeconds()
        } else {
            scriptExitCode = exitCodeOfScript
            scriptStatus = exitCodeOfScript.map { Int32($0) << 8 }
        }
    }
    func runStep(_ request: SpawnRequest, tickInterval: Double?, tick: () -> Void) -> StepEnd {
        spawned.append((request.executable, Array(request.arguments.dropFirst()), request.workDir ?? ""))
        return .exited(code: 0)
    }
    func spawnRegistered(_ spawn: () -> (pid: pid_t?, error: Int32)) -> (pid: pid_t?, error: Int32) { spawn() }
    func waitForExit(pid: pid_t) -> Int32 { DirectReaping().waitForExit(pid: pid) }
}

/// The state file in memory: every write is kept as the record it produced.
final class FakeStateFile: StateFileKeeping {
    let path: String
    let jobID: String
    var record: InfoRecord
    var wroteKilled = false
    var stopped = false
    var stopOutcome: StateKeeper.Outcome?
    var pendingSignals: [String] = []
    private(set) var writes: [InfoRecord] = []
    /// What the next writes answer (default: written).
    var answer: StateKeeper.Outcome = .written

    init(path: String, record: InfoRecord) { self.path = path; self.jobID = record.jobID; self.record = record }

    func write(retry: RetryPolicy?, stop: (any StopSignal)?, _ update: (inout InfoRecord) -> Void) -> StateKeeper.Outcome {
        guard !stopped else { return stopOutcome ?? .failed("stopped") }
        update(&record)
        record.signals.append(contentsOf: pendingSignals)
        pendingSignals = []
        switch answer {
        case .killedElsewhere, .otherJob:
            stopped = true
            stopOutcome = answer
        default:
            writes.append(record)
        }
        return answer
    }
}

/// A Local plain-mode job in a fresh directory: input dir, scratch root, a fake state file.
struct PhaseFixture {
    let area = WorkArea("qq-phase")
    let jobID = "local-1-\(getpid())"
    var input: String { area.file("input") }
    var scratch: String { area.file("scratch") }
    let supervisor = FakeSupervisor()

    func context(mode: JobContext.Mode = .plain, script: String? = nil, extra: [String: String] = [:]) -> JobContext {
        var env = Environment(["QQ_SCRATCH_ROOT": scratch, "PATH": "/usr/bin:/bin", "USER": "phase-user",
                               "QQ_RETRY_ATTEMPTS": "1"])
        for (k, v) in extra { env[k] = v }
        let settings = Settings.load(environment: env, system: .local, workingDirectory: input)
        let arguments = (try? RunnerArguments.parse(script.map { [$0] } ?? [])) ?? RunnerArguments()
        let invocation = Invocation(arguments: arguments, environment: env, settings: settings, mode: mode, system: .local,
                                    jobEnv: BatchJobEnvironment(), jobID: jobID, host: thisHostName(), initialDirectory: input,
                                    inheritedInfoIgnored: false, managedInfoPath: nil)
        return invocation.context(infoPath: input + "/job.qqinfo", plainOptions: PlainOptions())
    }

    func stateFile(workDir type: String = "scratch") -> FakeStateFile {
        var r = InfoRecord(batchSystem: .local, qqVersion: "test", username: "phase-user", jobID: jobID, jobName: "job.sh",
                           scriptName: "job.sh", queue: "local", inputMachine: thisHostName(), inputDir: input,
                           jobState: .queued, submissionTime: Timestamp.now(), stdoutFile: "job.out", stderrFile: "job.err",
                           resources: Resources(workDir: type))
        r.transferMode = ["success"]
        return FakeStateFile(path: input + "/job.qqinfo", record: r)
    }

    init() {
        area.makeDirs(area.file("input"))
        area.makeDirs(area.file("scratch"))
    }

    func writer(_ keeper: FakeStateFile, _ context: JobContext) -> JobStateWriter {
        JobStateWriter(context: context, keeper: keeper,
                       facts: BackgroundFacts(killWait: KillWaitSource(known: 0, asked: nil), schedulerAnswer: nil))
    }

    var window: RescueWindow { RescueWindow(budget: nil, killWait: KillWaitSource(known: 0, asked: nil)) }

    /// A job up to the script run: its state file, context, created work dir and stage-in.
    func staged() throws -> (keeper: FakeStateFile, context: JobContext, workDir: WorkDir, staged: StagedJob) {
        let keeper = stateFile()
        let context = context()
        let wd = try WorkDir.prepare(context: context, keeper: keeper, supervisor: supervisor)
        let staged = try StageIn.run(context: context, keeper: keeper, workDir: wd, supervisor: supervisor, heartbeat: {})
        return (keeper, context, wd, staged)
    }

    /// Writes `text` into the work dir as the script would.
    func scriptWrites(_ name: String, _ text: String) {
        area.write("scratch/phase-user/qq-jobs/job_\(jobID)/\(name)", text)
    }
}

@Suite("Runtime phases with a fake state file and supervisor (issue 10)")
struct RuntimePhaseTests {
    // MARK: Work dir

    @Test("WorkDir.prepare creates <root>/<user>/qq-jobs/job_<id> (0700) with a marker and writes W2")
    func workDirIsCreatedWithMarkerAndW2() throws {
        let f = PhaseFixture()
        defer { f.area.cleanup() }
        let keeper = f.stateFile()
        let wd = try WorkDir.prepare(context: f.context(), keeper: keeper, supervisor: f.supervisor)
        #expect(wd.path == "\(f.scratch)/phase-user/qq-jobs/job_\(f.jobID)")
        #expect(wd.createdByThisAttempt)
        #expect(FileSystem.stat(wd.path)?.permissionBits == 0o700)
        #expect(FileSystem.lstat(wd.path + "/.qq-run-marker")?.isRegular == true)
        let w2 = try #require(keeper.writes.last)
        #expect(w2.phase == .stageIn)
        #expect(w2.workDir == wd.path)
        #expect(w2.mainNode == thisHostName())
    }

    @Test("WorkDir.prepare in input_dir mode creates nothing and runs in the input dir")
    func inputDirModeUsesTheInputDir() throws {
        let f = PhaseFixture()
        defer { f.area.cleanup() }
        let keeper = f.stateFile(workDir: "input_dir")
        let wd = try WorkDir.prepare(context: f.context(), keeper: keeper, supervisor: f.supervisor)
        #expect(wd.path == f.input)
        #expect(!wd.usesScratch)
        #expect(keeper.writes.isEmpty)
        #expect(Files.list(f.scratch).isEmpty)
    }

    @Test("A W2 that cannot be written removes the new work dir and says why")
    func failedW2RemovesTheWorkDir() throws {
        let f = PhaseFixture()
        defer { f.area.cleanup() }
        let keeper = f.stateFile()
        keeper.answer = .locked
        #expect(throws: RunFailure.self) { try WorkDir.prepare(context: f.context(), keeper: keeper, supervisor: f.supervisor) }
        #expect(!Files.exists("\(f.scratch)/phase-user/qq-jobs/job_\(f.jobID)"))
    }

    // MARK: Stage-in

    @Test("Stage-in copies the input dir but not the info file, the logs or exclusions, and returns the manifest")
    func stageInCopiesWhatBelongsToTheJob() throws {
        let f = PhaseFixture()
        defer { f.area.cleanup() }
        f.area.write("input/data/in.txt", "data\n")
        f.area.write("input/job.sh", "echo\n")
        f.area.write("input/job.qqinfo", "x\n")
        f.area.write("input/job.out", "old log\n")
        f.area.write("input/big/skip.bin", "big\n")
        let keeper = f.stateFile()
        keeper.record.excludedFiles = [f.input + "/big"]
        let context = f.context()
        let wd = try WorkDir.prepare(context: context, keeper: keeper, supervisor: f.supervisor)
        let staged = try StageIn.run(context: context, keeper: keeper, workDir: wd, supervisor: f.supervisor, heartbeat: {})
        #expect(Files.read(wd.path + "/data/in.txt") == "data\n")
        #expect(Files.exists(wd.path + "/job.sh"))
        #expect(!Files.exists(wd.path + "/job.qqinfo"))
        #expect(!Files.exists(wd.path + "/job.out"))
        #expect(!Files.exists(wd.path + "/big"))
        #expect(staged.statistics?.files == 2)
        #expect(Files.exists(wd.path + "/.qq-run-manifest"))
    }

    // MARK: Script run

    @Test("The script run writes W3 (running, start time, nodes) and hands on the script's exit code")
    func scriptRunWritesW3AndReturnsTheCode() throws {
        let f = PhaseFixture()
        defer { f.area.cleanup() }
        f.area.write("input/job.sh", "exit 7\n")
        let keeper = f.stateFile()
        let context = f.context(script: f.input + "/job.sh")
        f.supervisor.exitCodeOfScript = 7
        let wd = try WorkDir.prepare(context: context, keeper: keeper, supervisor: f.supervisor)
        let staged = StagedJob(manifest: Manifest(), statistics: StageInStats(files: 1, bytes: 5, seconds: 0.1))
        let (end, _) = try ScriptRun.run(state: f.writer(keeper, context), workDir: wd, staged: staged, supervisor: f.supervisor)
        #expect(end == .exited(code: 7))
        let w3 = try #require(keeper.writes.last)
        #expect(w3.jobState == .running)
        #expect(w3.phase == .running)
        #expect(w3.startTime != nil)
        #expect(w3.allNodes == [context.host])
        #expect(w3.stageIn?.files == 1)
        #expect(f.supervisor.spawned.first?.workDir == wd.path)
        #expect(f.supervisor.spawned.first?.executable.hasSuffix("/bash") == true)
        #expect(Files.exists(wd.path + "/job.out"))
    }

    @Test("A missing interpreter fails the run with an error naming it, before anything is spawned")
    func missingInterpreterIsAnError() throws {
        let f = PhaseFixture()
        defer { f.area.cleanup() }
        let keeper = f.stateFile()
        keeper.record.interpreter = "no-such-interpreter"
        let context = f.context()
        let wd = try WorkDir.prepare(context: context, keeper: keeper, supervisor: f.supervisor)
        do {
            _ = try ScriptRun.run(state: f.writer(keeper, context), workDir: wd, staged: StagedJob(manifest: Manifest(), statistics: nil),
                                  supervisor: f.supervisor)
            Issue.record("the run went on without its interpreter")
        } catch {
            #expect(error.exitStatus.code == 91)
            #expect(error.description.contains("'no-such-interpreter' is not available"))
        }
        #expect(f.supervisor.spawned.isEmpty)
    }

    @Test("A terminating signal while the script runs ends the run as interrupted")
    func signalDuringTheScriptIsAnInterruption() throws {
        let f = PhaseFixture()
        defer { f.area.cleanup() }
        f.area.write("input/job.sh", "sleep 100\n")
        let keeper = f.stateFile(workDir: "input_dir")
        let context = f.context(script: f.input + "/job.sh")
        f.supervisor.signalDuringScript = SIGTERM
        let wd = try WorkDir.prepare(context: context, keeper: keeper, supervisor: f.supervisor)
        let (end, _) = try ScriptRun.run(state: f.writer(keeper, context), workDir: wd, staged: StagedJob(manifest: Manifest(), statistics: nil),
                                    supervisor: f.supervisor)
        #expect(end == .interrupted(signal: SIGTERM))
    }

    // MARK: Stage-out

    @Test("Exit 0: W4, results copied back, work dir removed, outcome finished/0 and synchronized")
    func successfulScriptIsStagedOutAndFinished() throws {
        let f = PhaseFixture()
        defer { f.area.cleanup() }
        f.area.write("input/in.txt", "in\n")
        let (keeper, context, wd, staged) = try f.staged()
        f.scriptWrites("result.txt", "42\n")
        let outcome = StageOut.finish(code: 0, state: f.writer(keeper, context), workDir: wd, staged: staged,
                                      supervisor: f.supervisor, window: f.window)
        #expect(outcome.ending == .completed(jobExitCode: 0))
        #expect(outcome.exitStatus.code == 0)
        #expect(outcome.synchronized == true)
        #expect(outcome.stageOut?.mode == .transfer)
        #expect(Files.read(f.input + "/result.txt") == "42\n")
        #expect(!Files.exists(wd.path))
        #expect(keeper.writes.last?.phase == .stageOut)
        #expect(keeper.writes.last?.usage == f.supervisor.usage)
        #expect(f.supervisor.treeTerminations == 1, "leftovers are terminated before stage-out (R95)")
    }

    @Test("Exit 3 with transfer-mode success: only the logs come back, the work dir is kept, outcome failed/3")
    func failedScriptKeepsItsWorkDir() throws {
        let f = PhaseFixture()
        defer { f.area.cleanup() }
        let (keeper, context, wd, staged) = try f.staged()
        f.scriptWrites("partial.txt", "p\n")
        f.scriptWrites("job.out", "log\n")
        let outcome = StageOut.finish(code: 3, state: f.writer(keeper, context), workDir: wd, staged: staged,
                                      supervisor: f.supervisor, window: f.window)
        #expect(outcome.ending == .completed(jobExitCode: 3))
        #expect(outcome.synchronized == false)
        #expect(outcome.stageOut?.mode == .logsOnly)
        #expect(Files.read(f.input + "/job.out") == "log\n")
        #expect(!Files.exists(f.input + "/partial.txt"))
        #expect(Files.exists(wd.path + "/partial.txt"))
    }

    // MARK: Kill

    @Test("SIGTERM while the script runs: K1 says killed at once, results are rescued, outcome killed/cancelled, 143")
    func signalDuringTheScriptRescuesAndIsKilled() throws {
        let f = PhaseFixture()
        defer { f.area.cleanup() }
        let (keeper, context, wd, staged) = try f.staged()
        f.scriptWrites("ckpt.dat", "step 9\n")
        f.supervisor.terminationSignal = SIGTERM
        f.supervisor.terminationTime = monotonicSeconds()
        let outcome = Kill.duringScript(signal: SIGTERM, state: f.writer(keeper, context), workDir: wd, staged: staged,
                                        supervisor: f.supervisor, window: f.window)
        let k1 = try #require(keeper.writes.last)
        #expect(k1.jobState == .killed)
        #expect(k1.phase == .rescue)
        #expect(k1.killReason == .cancelled)
        #expect(outcome.ending == .killed(signal: SIGTERM, reason: .cancelled))
        #expect(outcome.exitStatus.code == 143)
        #expect(outcome.writesFinalRecord)
        #expect(outcome.stageOut?.mode == .rescue)
        #expect(Files.read(f.input + "/ckpt.dat") == "step 9\n")
        #expect(Files.exists(wd.path), "a killed job's work dir is kept")
    }

    @Test("An early-warning signal that no heartbeat has written yet is recorded by K1")
    func pendingWarningIsRecordedAtTheKill() throws {
        let f = PhaseFixture()
        defer { f.area.cleanup() }
        let (keeper, context, wd, staged) = try f.staged()
        f.supervisor.pendingWarnings = ["USR1 2026-12-04 03:23:18"]
        f.supervisor.terminationSignal = SIGTERM
        f.supervisor.terminationTime = monotonicSeconds()
        _ = Kill.duringScript(signal: SIGTERM, state: f.writer(keeper, context), workDir: wd, staged: staged,
                              supervisor: f.supervisor, window: f.window)
        let k1 = try #require(keeper.writes.first { $0.jobState == .killed })
        #expect(k1.signals == ["USR1 2026-12-04 03:23:18"])
    }

    @Test("A signal within a minute of the time limit is recorded as timeout")
    func signalNearTheTimeLimitIsATimeout() throws {
        let f = PhaseFixture()
        defer { f.area.cleanup() }
        let keeper = f.stateFile(workDir: "input_dir")
        keeper.record.startTime = Timestamp(epochSeconds: Int(time(nil)) - 120)
        keeper.record.resources.walltime = "0:02:00"
        #expect(Kill.provisionalReason(SIGTERM, state: f.writer(keeper, f.context())) == .timeout)
        keeper.record.resources.walltime = "1:00:00"
        #expect(Kill.provisionalReason(SIGTERM, state: f.writer(keeper, f.context())) == .cancelled)
    }

    @Test("K1 refused because someone else killed the job: the final record is not written")
    func foreignKillSkipsTheFinalRecord() throws {
        let f = PhaseFixture()
        defer { f.area.cleanup() }
        let keeper = f.stateFile(workDir: "input_dir")
        keeper.answer = .killedElsewhere
        let context = f.context()
        let wd = try WorkDir.prepare(context: context, keeper: keeper, supervisor: f.supervisor)
        let outcome = Kill.duringScript(signal: SIGTERM, state: f.writer(keeper, context), workDir: wd,
                                        staged: StagedJob(manifest: Manifest(), statistics: nil), supervisor: f.supervisor, window: f.window)
        #expect(!outcome.writesFinalRecord)
    }

    // MARK: Outcome

    @Test("A completed outcome's final write: finished or failed, exit code, completion time, phase done")
    func completedOutcomeWritesW5() {
        var r = sampleRecord()
        let outcome = JobOutcome(ending: .completed(jobExitCode: 91), scriptExitCode: 0, error: "Stage-out failed",
                                 stageOut: StageOutStats(mode: .transfer), usage: Usage(maxRSS: 1, userCPU: 0, sysCPU: 0),
                                 synchronized: false, writesFinalRecord: true)
        outcome.apply(to: &r)
        #expect(r.jobState == .failed)
        #expect(r.jobExitCode == 91)
        #expect(r.scriptExitCode == 0)
        #expect(r.error == "Stage-out failed")
        #expect(r.phase == .done)
        #expect(r.completionTime != nil)
        #expect(r.synchronized == false)
        #expect(outcome.exitStatus.code == 91)
    }

    // MARK: Opening the state file

    func invocation(_ f: PhaseFixture, mode: JobContext.Mode, script: String? = nil, jobID: String? = nil,
                    system: BatchSystemName = .local) -> Invocation {
        let env = Environment(["QQ_SCRATCH_ROOT": f.scratch, "PATH": "/usr/bin:/bin", "USER": "phase-user",
                               "QQ_RETRY_ATTEMPTS": "1"])
        let arguments = (try? RunnerArguments.parse(script.map { [$0] } ?? [])) ?? RunnerArguments()
        return Invocation(arguments: arguments, environment: env, settings: Settings.load(environment: env, system: system),
                          mode: mode, system: system, jobEnv: BatchJobEnvironment(), jobID: jobID ?? f.jobID,
                          host: thisHostName(), initialDirectory: f.input, inheritedInfoIgnored: false,
                          managedInfoPath: mode == .managed ? f.input + "/job.qqinfo" : nil)
    }

    @Test("Plain start claims <input dir>/<script name>.qqinfo with the job queued in phase setup (W1)")
    func plainStartClaimsTheInfoFile() throws {
        let f = PhaseFixture()
        defer { f.area.cleanup() }
        f.area.write("input/job.sh", "#!/bin/bash\n# qq exclude=big/\necho\n")
        let (context, keeper) = try PlainStart(invocation: invocation(f, mode: .plain, script: f.input + "/job.sh"),
                                               supervisor: f.supervisor).open()
        #expect(context.infoPath == f.input + "/job.qqinfo")
        #expect(context.plainOptions?.exclude == ["big/"])
        let onDisk = try InfoFile.load(path: f.input + "/job.qqinfo")
        #expect(onDisk.jobState == .queued)
        #expect(onDisk.phase == .setup)
        #expect(onDisk.inputDir == f.input)
        #expect(onDisk.excludedFiles == [f.input + "/big/"])
        #expect(keeper.record.jobID == f.jobID)
    }

    @Test("Plain start beside the info file of a job that may still run takes job_<id>.qqinfo and leaves the other alone")
    func plainStartAvoidsALiveJobsFile() throws {
        let f = PhaseFixture()
        defer { f.area.cleanup() }
        f.area.write("input/job.sh", "#!/bin/bash\necho\n")
        var other = f.stateFile().record
        other.jobID = "local-0-1"
        other.jobState = .running
        other.phase = .running
        other.heartbeat = Timestamp.now()
        other.heartbeatInterval = 60
        let otherText = InfoFileCodec.encode(other)
        f.area.write("input/job.qqinfo", otherText)
        let (context, _) = try PlainStart(invocation: invocation(f, mode: .plain, script: f.input + "/job.sh"),
                                          supervisor: f.supervisor).open()
        #expect(context.infoPath == f.input + "/job_\(f.jobID).qqinfo")
        #expect(Files.read(f.input + "/job.qqinfo") == otherText)
    }

    @Test("Managed start takes the Python qq's file; a file that says killed is refused as foreign (93)")
    func managedStartRefusesAKilledFile() throws {
        let f = PhaseFixture()
        defer { f.area.cleanup() }
        var r = f.stateFile().record
        r.jobState = .killed
        f.area.write("input/job.qqinfo", InfoFileCodec.encode(r))
        do {
            _ = try ManagedStart.open(invocation(f, mode: .managed), infoPath: f.input + "/job.qqinfo", supervisor: f.supervisor)
            Issue.record("a killed job was started")
        } catch {
            #expect(error.exitStatus == .foreign)
        }
        r.jobState = .queued
        f.area.write("input/job.qqinfo", InfoFileCodec.encode(r))
        let (context, keeper) = try ManagedStart.open(invocation(f, mode: .managed, jobID: "local-99-1"),
                                                      infoPath: f.input + "/job.qqinfo", supervisor: f.supervisor)
        #expect(context.jobID == f.jobID, "a Local managed job takes the file's id")
        #expect(context.plainOptions == nil)
        #expect(keeper.record.jobState == .queued)
    }

    // MARK: Background facts

    @Test("The rescue deadline is t_S + KillWait - 2 s; a budget counts from the rescue's start")
    func rescueWindowDecidesTheDeadline() {
        let known = RescueWindow(budget: nil, killWait: KillWaitSource(known: 30, asked: nil))
        #expect(known.deadline(signalTime: 100, start: 105) == 128)
        #expect(known.grace(killGrace: 10) == 10)
        let short = RescueWindow(budget: nil, killWait: KillWaitSource(known: 6, asked: nil))
        #expect(short.grace(killGrace: 10) == 2)
        let budget = RescueWindow(budget: 5, killWait: KillWaitSource(known: 30, asked: nil))
        #expect(budget.deadline(signalTime: 100, start: 105) == 110)
        let local = RescueWindow(budget: nil, killWait: KillWaitSource(known: 0, asked: nil))
        #expect(local.deadline(signalTime: 100, start: 105) == 165)
    }

    @Test("KillWait is read from slurm.conf; scontrol's answer is used once it arrives")
    func killWaitComesFromTheConfigOrScontrol() {
        #expect(parseKillWait(slurmConf: "SlurmctldPort=6817\nKillWait=5 # seconds\n") == 5)
        #expect(parseKillWait(showConfig: "KillWait                = 30 sec\n") == 30)
        let box = ResultBox<Double?>()
        let source = KillWaitSource(known: nil, asked: box)
        #expect(source.seconds == 30)
        box.set(12)
        #expect(source.seconds == 12)
    }
}
