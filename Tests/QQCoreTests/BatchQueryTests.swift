import Glibc
import Testing
@testable import QQCore

private func fixture(_ name: String) -> String { readText(TestPaths.fixtures + "/" + name) ?? "" }

@Suite struct ScontrolParsingTests {
    @Test func tokenJoiningKeepsCommandArgumentsAndWorkDirWithSpaces() throws {
        let records = SlurmQuery.parseScontrol(fixture("slurm/scontrol-running-spaces.txt"))
        #expect(records.count == 1)
        let r = try #require(records.first)
        #expect(r["Command"] == "/users/jdoe/my sim/run.sh --steps=100 input.dat")
        #expect(r["WorkDir"] == "/users/jdoe/my sim")
        #expect(r["StdOut"] == "/users/jdoe/my sim/run.qqout")
        #expect(r["AllocNode:Sid"] == "login1:4711")
        #expect(r["CPUs/Task"] == "1")
        #expect(r["TRES"] == "cpu=4,node=2,billing=4")
        #expect(r["Power"] == "")
    }

    @Test func recordFieldsAreTakenAndAbsentValuesDropped() throws {
        let f = try #require(SlurmQuery.parseScontrol(fixture("slurm/scontrol-running-spaces.txt")).first)
        let r = SlurmQuery.jobRecord(fromScontrol: f)
        #expect(r.jobID == "812")
        #expect(r.state == .running)
        #expect(r.rawState == "RUNNING")
        #expect(r.reason == nil)  // Reason=None
        #expect(r.batchHost == "node07")
        #expect(r.nodes == ["node07", "node08"])
        #expect(r.startTime == ts("2025-03-14 09:26:54"))
        #expect(r.submitTime == ts("2025-03-14 09:26:53"))
        #expect(r.timeLimit == "01:00:00")
        #expect(r.workDir == "/users/jdoe/my sim")
        #expect(r.jobName == "run.sh")
        #expect(r.estimate == nil)  // no SchedNodeList
    }

    @Test func arrayMasterIdSelectsTheRecordWhoseJobIdMatches() throws {
        let records = SlurmQuery.parseScontrol(fixture("slurm/scontrol-array-master.txt"))
        #expect(records.count == 3)
        let chosen = try #require(SlurmQuery.selectRecord(records, jobID: "3"))
        #expect(chosen["ArrayTaskId"] == "3")
        #expect(chosen["JobState"] == "RUNNING")
    }

    @Test func arrayTaskIdSelectsByArrayJobIdAndTaskId() throws {
        let records = SlurmQuery.parseScontrol(fixture("slurm/scontrol-array-master.txt"))
        #expect(SlurmQuery.selectRecord(records, jobID: "3_2")?["JobId"] == "5")
        #expect(SlurmQuery.selectRecord(records, jobID: "4")?["JobId"] == "4")
        #expect(SlurmQuery.selectRecord(records, jobID: "3_9") == nil)
        #expect(SlurmQuery.selectRecord(records, jobID: "77") == nil)
    }

    @Test func pendingArrayRecordMatchesATaskInItsRange() {
        let records = [["JobId": "10", "ArrayJobId": "10", "ArrayTaskId": "2-5%2", "JobState": "PENDING"]]
        #expect(SlurmQuery.selectRecord(records, jobID: "10_3")?["JobId"] == "10")
        #expect(SlurmQuery.selectRecord(records, jobID: "10_6") == nil)
    }

    @Test func pendingJobHasAPlannedStartFromStartTimeAndSchedNodeList() throws {
        let f = try #require(SlurmQuery.parseScontrol(fixture("slurm/scontrol-pending-estimate.txt")).first)
        let r = SlurmQuery.jobRecord(fromScontrol: f)
        #expect(r.state == .queued)
        #expect(r.reason == "Resources")
        #expect(r.nodes == [])
        #expect(r.estimate == StartEstimate(time: ts("2025-03-14 13:00:00"), nodes: "node[07-08]"))
    }

    @Test func recordedRealSlurmLineParses() throws {
        // A line as real `scontrol show job -o` prints it (Slurm 22.05), TIMEOUT job.
        let line = "JobId=10 JobName=sigjob.py UserId=jdoe(1000) JobState=TIMEOUT Reason=TimeLimit ExitCode=0:9 TimeLimit=00:01:00 StartTime=2026-11-21T04:23:59 NodeList=vm BatchHost=vm Command=/users/jdoe/slurm-tests/sigjob.py 600 WorkDir=/users/jdoe/slurm-tests Power= "
        let r = SlurmQuery.jobRecord(fromScontrol: try #require(SlurmQuery.parseScontrol(line).first))
        #expect(r.state == .failed)
        #expect(r.rawState == "TIMEOUT")
        #expect(r.fields["Command"] == "/users/jdoe/slurm-tests/sigjob.py 600")
    }

    @Test(arguments: ["None", "Unknown", "N/A", "NONE", "UNLIMITED", "INFINITE", "(null)", ""])
    func slurmAbsentValuesAreAbsent(value: String) {
        #expect(isAbsentSlurmValue(value))
    }

    @Test func clusterNameIsReadFromShowConfig() {
        let config = "Configuration data as of 2026-11-21T04:41:19\nAccountingStorageType   = accounting_storage/none\nClusterName             = localcluster\nCompleteWait            = 0 sec\n"
        #expect(SlurmQuery.clusterName(fromConfig: config) == "localcluster")
    }
}

@Suite struct BatchStateMappingTests {
    /// R63's Slurm table, *ext* rows included.
    @Test(arguments: [
        ("RUNNING", nil, BatchState.running), ("CONFIGURING", nil, .running), ("RESIZING", nil, .running),
        ("SIGNALING", nil, .running),
        ("PENDING", "Resources", .queued), ("PENDING", nil, .queued), ("PENDING", "Dependency", .held),
        ("PENDING", "DependencyNeverSatisfied", .held), ("PENDING", "JobHeldUser", .held),
        ("PENDING", "JobHeldAdmin", .held),
        ("REQUEUED", nil, .queued), ("REQUEUE_FED", nil, .queued),
        ("REQUEUE_HOLD", nil, .held), ("RESV_DEL_HOLD", nil, .held),
        ("COMPLETED", nil, .finished),
        ("BOOT_FAIL", nil, .failed), ("CANCELLED", nil, .failed), ("DEADLINE", nil, .failed),
        ("FAILED", nil, .failed), ("NODE_FAIL", nil, .failed), ("OUT_OF_MEMORY", nil, .failed),
        ("TIMEOUT", nil, .failed), ("SPECIAL_EXIT", nil, .failed),
        ("PREEMPTED", nil, .suspended), ("SUSPENDED", nil, .suspended), ("STOPPED", nil, .suspended),
        ("COMPLETING", nil, .exiting), ("STAGE_OUT", nil, .exiting),
        ("REVOKED", nil, .unknown), ("", nil, .unknown),
    ] as [(String, String?, BatchState)])
    func slurmJobStateMapsPerR63(state: String, reason: String?, expected: BatchState) {
        #expect(BatchState.fromSlurm(state, reason: reason) == expected)
    }

    /// R63's PBS table, *ext* rows included.
    @Test(arguments: [
        ("R", nil, BatchState.running), ("B", nil, .running), ("Q", nil, .queued), ("H", nil, .held),
        ("W", nil, .waiting), ("T", nil, .moving), ("M", nil, .moving), ("S", nil, .suspended),
        ("U", nil, .suspended), ("E", nil, .exiting), ("F", 0, .finished), ("F", 1, .failed),
        ("F", nil, .failed), ("X", 0, .finished), ("X", 271, .failed), ("X", nil, .failed), ("Z", nil, .unknown),
    ] as [(String, Int?, BatchState)])
    func pbsJobStateMapsPerR63(state: String, exitStatus: Int?, expected: BatchState) {
        #expect(BatchState.fromPBS(state, exitStatus: exitStatus) == expected)
    }

    @Test func notFoundAndUnavailableMapToUnknown() {
        #expect(BatchAnswer.notFound.state == .unknown)
        #expect(BatchAnswer.unavailable(reason: "x").state == .unknown)
    }

    @Test func batchLiveStatesFollowR58() {
        let live = BatchState.allCases.filter(\.isBatchLive)
        #expect(Set(live) == [.queued, .held, .waiting, .running, .suspended, .exiting, .moving])
    }
}

@Suite struct PBSParsingTests {
    @Test func queuedRecordHasCommentEstimateAndVariables() throws {
        let r = try #require(PBSQuery.parse(fixture("pbs/qstat-queued.txt")))
        #expect(r.jobID == "1234567.pbs-m1.metacentrum.cz")
        #expect(r.state == .queued)
        #expect(r.comment == "Not Running: Insufficient amount of resource: ncpus")
        #expect(r.estimate == StartEstimate(time: ts("2025-03-14 13:00:00"), nodes: "zia1 + zia2"))
        #expect(r.variables["QQ_INFO"] == "/storage/brno2/home/jdoe/sim/run.qqinfo")
        #expect(r.workDir == "/storage/brno2/home/jdoe/sim")
        #expect(r.jobName == "run.sh")
        #expect(r.submitTime == ts("2025-03-14 09:26:53"))
    }

    @Test func runningRecordNodesComeCleanedFromExecHost2() throws {
        let r = try #require(PBSQuery.parse(fixture("pbs/qstat-running.txt")))
        #expect(r.state == .running)
        #expect(r.nodes == ["zia1.cerit-sc.cz", "zia2.cerit-sc.cz"])
        #expect(r.mainNode == "zia1.cerit-sc.cz")
        #expect(r.startTime == ts("2025-03-14 09:30:00"))
    }

    @Test func finishedRecordWithNonZeroExitStatusIsFailed() throws {
        let r = try #require(PBSQuery.parse(fixture("pbs/qstat-finished.txt")))
        #expect(r.state == .failed)
        #expect(r.exitStatus == 1)
    }

    @Test func pbsTimeFormatParses() {
        #expect(PBSQuery.parseTime("Fri Mar 14 09:26:53 2025") == ts("2025-03-14 09:26:53"))
        #expect(PBSQuery.parseTime("Tue Apr  1 07:05:00 2025") == ts("2025-04-01 07:05:00"))
        #expect(PBSQuery.parseTime("2025-03-14") == nil)
    }
}

/// R59's fallbacks, with fake `scontrol`, `squeue` and `sacct` first on PATH (R148).
@Suite struct SlurmFallbackTests {
    static let invalidID = "echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1"
    static let noController = "echo 'slurm_load_jobs error: Unable to contact slurm controller (connect failure)' >&2; exit 1"

    @Test func invalidJobIdIsNotFound() {
        let fakes = FakeCommands()
        fakes.add("scontrol", Self.invalidID)
        fakes.add("squeue", "echo squeue must not run >&2; exit 7")
        #expect(SlurmSystem().queryJob("999999", record: nil, environment: fakes.environment(), options: BatchQueryOptions(Settings())) == .notFound)
    }

    @Test func scontrolSuccessIsFound() {
        let fakes = FakeCommands()
        fakes.add("scontrol", "cat '\(TestPaths.fixtures)/slurm/scontrol-array-master.txt'")
        let answer = SlurmSystem().queryJob("3_2", record: nil, environment: fakes.environment(), options: BatchQueryOptions(Settings()))
        #expect(answer.record?.jobID == "5")
        #expect(answer.state == .failed)
        #expect(answer.record?.rawState == "TIMEOUT")
    }

    @Test func scontrolSuccessWithoutMatchingRecordIsNotFound() {
        let fakes = FakeCommands()
        fakes.add("scontrol", "cat '\(TestPaths.fixtures)/slurm/scontrol-array-master.txt'")
        #expect(SlurmSystem().queryJob("3_7", record: nil, environment: fakes.environment(), options: BatchQueryOptions(Settings())) == .notFound)
    }

    @Test func scontrolFailureFallsBackToSqueue() {
        let fakes = FakeCommands()
        fakes.add("scontrol", Self.noController)
        fakes.add("squeue", "echo '8|3_1|RUNNING|None|node07|node[07-08]|2025-03-14T09:26:54'; echo '12|12|RUNNING|None|vm|vm|2025-03-14T09:26:54'")
        let answer = SlurmSystem().queryJob("12", record: nil, environment: fakes.environment(), options: BatchQueryOptions(Settings()))
        #expect(answer.state == .running)
        #expect(answer.record?.batchHost == "vm")
        let byArrayID = SlurmSystem().queryJob("3_1", record: nil, environment: fakes.environment(), options: BatchQueryOptions(Settings()))
        #expect(byArrayID.record?.nodes == ["node07", "node08"])
    }

    @Test func squeueWithoutMatchingLineIsNotFound() {
        let fakes = FakeCommands()
        fakes.add("scontrol", Self.noController)
        fakes.add("squeue", "exit 0")
        #expect(SlurmSystem().queryJob("12", record: nil, environment: fakes.environment(), options: BatchQueryOptions(Settings())) == .notFound)
    }

    @Test func bothFailingIsUnavailableWithBothReasons() {
        let fakes = FakeCommands()
        fakes.add("scontrol", Self.noController)
        fakes.add("squeue", "echo 'squeue: error: Unable to contact slurm controller' >&2; exit 1")
        let answer = SlurmSystem().queryJob("12", record: nil, environment: fakes.environment(), options: BatchQueryOptions(Settings()))
        guard case .unavailable(let reason) = answer else { Issue.record("got \(answer)"); return }
        #expect(reason.contains("'scontrol' exited with code 1"))
        #expect(reason.contains("'squeue' exited with code 1"))
    }

    @Test func noSchedulerInstalledIsUnavailable() {
        let fakes = FakeCommands()
        let answer = SlurmSystem().queryJob("12", record: nil, environment: fakes.environment(systemPath: false), options: BatchQueryOptions(Settings()))
        #expect(answer == .unavailable(reason: "'scontrol' not found on PATH; 'squeue' not found on PATH"))
    }

    @Test func notFoundForAnotherClusterIsNotAuthoritative() {
        let fakes = FakeCommands()
        fakes.add("scontrol", Self.invalidID)
        var record = sampleRecord()
        record.cluster = "lumi"
        let answer = SlurmSystem().queryJob("12", record: record,
                                            environment: fakes.environment(["SLURM_CLUSTER_NAME": "karolina"]), options: BatchQueryOptions(Settings()))
        guard case .unavailable(let reason) = answer else { Issue.record("got \(answer)"); return }
        #expect(reason.contains("'lumi'"))
        #expect(reason.contains("'karolina'"))
    }

    @Test func notFoundForTheSameClusterFromShowConfigIsAuthoritative() {
        let fakes = FakeCommands()
        fakes.add("scontrol", """
            if [ "$1" = show ] && [ "$2" = config ]; then echo 'ClusterName             = localcluster'; exit 0; fi
            \(Self.invalidID)
            """)
        var record = sampleRecord()
        record.cluster = "localcluster"
        #expect(SlurmSystem().queryJob("12", record: record, environment: fakes.environment(), options: BatchQueryOptions(Settings())) == .notFound)
    }

    @Test func fileWithoutClusterTakesNotFoundAsAuthoritative() {
        let fakes = FakeCommands()
        fakes.add("scontrol", Self.invalidID)
        #expect(SlurmSystem().queryJob("12", record: sampleRecord(),
                                       environment: fakes.environment(["SLURM_CLUSTER_NAME": "x"]), options: BatchQueryOptions(Settings())) == .notFound)
    }

    @Test func sacctIsAskedOnlyWithQQ_USE_SACCT() {
        let fakes = FakeCommands()
        fakes.add("scontrol", Self.invalidID)
        fakes.add("sacct", "echo '12|proj123|COMPLETED|jdoe|job.sh|debug|/users/jdoe/sim|vm|None|0:0|2025-03-14T09:26:53|2025-03-14T09:26:54|2025-03-14T09:30:00|00:10:00'")
        #expect(SlurmSystem().queryJob("12", record: nil, environment: fakes.environment(), options: BatchQueryOptions(Settings())) == .notFound)
        let answer = SlurmSystem().queryJob("12", record: nil, environment: fakes.environment(), options: BatchQueryOptions(timeout: 10, useSacct: true))
        #expect(answer.state == .finished)
        #expect(answer.record?.workDir == "/users/jdoe/sim")
    }

    @Test func sacctWithAccountingDisabledKeepsTheControllerAnswer() {
        let fakes = FakeCommands()
        fakes.add("scontrol", Self.noController)
        fakes.add("squeue", "exit 1")
        fakes.add("sacct", "echo 'Slurm accounting storage is disabled' >&2; exit 1")
        let answer = SlurmSystem().queryJob("12", record: nil, environment: fakes.environment(), options: BatchQueryOptions(timeout: 10, useSacct: true))
        guard case .unavailable = answer else { Issue.record("got \(answer)"); return }
    }

    @Test func sacctWithNoRowIsNotFound() {
        let fakes = FakeCommands()
        fakes.add("scontrol", Self.noController)
        fakes.add("squeue", "exit 1")
        fakes.add("sacct", "exit 0")
        #expect(SlurmSystem().queryJob("12", record: nil, environment: fakes.environment(), options: BatchQueryOptions(timeout: 10, useSacct: true)) == .notFound)
    }

    @Test func timedOutQueryIsUnavailable() {
        let fakes = FakeCommands()
        fakes.add("scontrol", "exec sleep 10")
        fakes.add("squeue", "exec sleep 10")
        let start = monotonicSeconds()
        let answer = SlurmSystem().queryJob("12", record: nil, environment: fakes.environment(), options: BatchQueryOptions(timeout: 0.2, useSacct: false))
        #expect(monotonicSeconds() - start < 4)
        #expect(answer == .unavailable(reason: "'scontrol' timed out after 0.2 s; 'squeue' timed out after 0.2 s"))
    }
}

@Suite struct PBSQueryTests {
    @Test func unknownJobIdIsNotFound() {
        let fakes = FakeCommands()
        fakes.add("qstat", "echo 'qstat: Unknown Job Id 42.pbs' >&2; exit 153")
        #expect(PBSSystem().queryJob("42.pbs", record: nil, environment: fakes.environment(), options: BatchQueryOptions(Settings())) == .notFound)
    }

    @Test func qstatOutputIsFound() {
        let fakes = FakeCommands()
        fakes.add("qstat", "cat '\(TestPaths.fixtures)/pbs/qstat-running.txt'")
        #expect(PBSSystem().queryJob("1234568", record: nil, environment: fakes.environment(), options: BatchQueryOptions(Settings())).state == .running)
    }

    @Test func otherQstatFailureIsUnavailable() {
        let fakes = FakeCommands()
        fakes.add("qstat", "echo 'Connection refused' >&2; exit 1")
        let answer = PBSSystem().queryJob("1", record: nil, environment: fakes.environment(), options: BatchQueryOptions(Settings()))
        #expect(answer == .unavailable(reason: "'qstat' exited with code 1: Connection refused"))
    }
}

@Suite struct LocalQueryTests {
    func system(host: String = "node07.example.org", runner: Bool, ns: String? = "pid:[1]") -> LocalSystem {
        var s = LocalSystem()
        s.host = { host }
        s.processIsRunner = { _ in runner }
        s.ownPIDNamespace = { ns }
        return s
    }

    func localRecord(mainNode: String? = "node07", pid: Int? = 4711, ns: String? = "pid:[1]") -> InfoRecord {
        var r = sampleRecord(system: .local)
        r.mainNode = mainNode
        r.runnerPID = pid
        r.pidNamespace = ns
        return r
    }

    @Test func liveRunnerOnThisHostIsFoundRunning() {
        let answer = system(runner: true).queryJob("local-1-2", record: localRecord(), environment: Environment(), options: BatchQueryOptions(Settings()))
        #expect(answer.state == .running)
    }

    @Test func noRunnerOnThisHostIsNotFound() {
        #expect(system(runner: false).queryJob("l", record: localRecord(), environment: Environment(), options: BatchQueryOptions(Settings())) == .notFound)
        #expect(system(runner: true).queryJob("l", record: localRecord(pid: nil), environment: Environment(), options: BatchQueryOptions(Settings())) == .notFound)
    }

    @Test func anotherPIDNamespaceIsUnavailable() {
        let answer = system(runner: false).queryJob("l", record: localRecord(ns: "pid:[2]"), environment: Environment(), options: BatchQueryOptions(Settings()))
        guard case .unavailable = answer else { Issue.record("got \(answer)"); return }
    }

    @Test func anotherHostIsUnavailable() {
        let answer = system(runner: false).queryJob("l", record: localRecord(mainNode: "node08"), environment: Environment(), options: BatchQueryOptions(Settings()))
        guard case .unavailable(let reason) = answer else { Issue.record("got \(answer)"); return }
        #expect(reason.contains("node08"))
    }

    @Test func inputMachineIsUsedWithoutMainNode() {
        var r = localRecord(mainNode: nil)
        r.inputMachine = "node07.example.org"
        #expect(system(runner: false).queryJob("l", record: r, environment: Environment(), options: BatchQueryOptions(Settings())) == .notFound)
    }

    @Test func realProcessCheckRejectsAProcessThatIsNotQQRun() {
        // (The test binary itself is `qq-runPackageTests`, so its own pid would match.)
        if let comm = (try? FileSystem.readSmallFile("/proc/1/comm")), !comm.hasPrefix("qq-run") {
            #expect(!localProcessIsRunner(pid: 1))
        }
        let ownComm = (try? FileSystem.readSmallFile("/proc/self/comm")) ?? ""
        #expect(localProcessIsRunner(pid: Int(getpid())) == ownComm.hasPrefix("qq-run"))
        #expect(!localProcessIsRunner(pid: 0))
        #expect(!localProcessIsRunner(pid: Int(Int32.max)))
        #expect(readOwnPIDNamespace()?.hasPrefix("pid:[") == true)
    }
}

@Suite struct SystemSelectionTests {
    @Test func explicitQQ_BATCH_SYSTEMWins() throws {
        #expect(try batchSystemOutsideJob(environment: Environment(["QQ_BATCH_SYSTEM": "PBS", "PATH": ""])) == .pbs)
        #expect(throws: UnknownBatchSystemError.self) {
            try batchSystemOutsideJob(environment: Environment(["QQ_BATCH_SYSTEM": "slurm"]))
        }
    }

    @Test func slurmIsCheckedBeforePBS() throws {
        let fakes = FakeCommands()
        for c in ["sbatch", "scontrol", "qsub", "qstat"] { fakes.add(c, "exit 0") }
        #expect(try batchSystemOutsideJob(environment: fakes.environment(systemPath: false)) == .slurm)
        fakes.add("lumi-allocations", "exit 0")
        #expect(try batchSystemOutsideJob(environment: fakes.environment(systemPath: false)) == .slurmLumi)
    }

    @Test func pbsThenLocal() throws {
        let fakes = FakeCommands()
        #expect(try batchSystemOutsideJob(environment: fakes.environment(systemPath: false)) == .local)
        fakes.add("qsub", "exit 0"); fakes.add("qstat", "exit 0")
        #expect(try batchSystemOutsideJob(environment: fakes.environment(systemPath: false)) == .pbs)
    }
}
