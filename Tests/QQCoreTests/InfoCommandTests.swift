import Glibc
import Testing
@testable import QQCore

private let renderNow = ts("2025-03-14 10:00:00").epochSeconds

private func copyFixture(_ name: String, into dir: borrowing TempDir, as target: String? = nil) -> String {
    let path = dir.file(target ?? name)
    writeText(path, readText(TestPaths.fixtures + "/info/" + name) ?? "")
    return path
}

private func context(_ system: CannedBatchSystem? = nil, tty: Bool = false, columns: Int? = nil) -> InfoContext {
    InfoContext(now: { renderNow }, stdoutIsTTY: tty, terminalColumns: columns,
                batchSystem: { name in system ?? batchSystem(named: name) }, loadInfo: testLoader)
}

private func run(_ args: [String], _ env: Environment = Environment(["PATH": "/nonexistent"]),
                 _ ctx: InfoContext = context()) -> (code: Int32, out: String, err: String) {
    let (code, out, err) = QQInfoCommand.execute(arguments: args, environment: env, context: ctx)
    return (code.code, out, err)
}

@Suite(.serialized) struct InfoCommandTests {
    init() { Log.setLevel(.critical) }  // expected ERROR lines would clutter the test output

    @Test func withoutSchedulerTheFileStateIsShownAsUnavailable() {
        let dir = TempDir()
        let fakes = FakeCommands()
        let file = copyFixture("running-slurm.qqinfo", into: dir)
        let r = run([file], fakes.environment(["COLUMNS": "400"], systemPath: false))
        #expect(r.code == 0)
        let lines = normalizePanel(r.out).lines
        #expect(lines.contains("Job state: Job is running"))
        #expect(lines.last == "(batch system unavailable: 'scontrol' not found on PATH; 'squeue' not found on PATH)")
    }

    @Test func fakeScontrolAnswerDrivesTheRealState() {
        let dir = TempDir()
        let fakes = FakeCommands()
        fakes.add("scontrol", "echo 'JobId=812 JobName=run.sh JobState=COMPLETED Reason=None NodeList=node[07-08] BatchHost=node07'")
        let file = copyFixture("running-slurm.qqinfo", into: dir)
        let r = run(["--short", file], fakes.environment())
        #expect(r.out == "812    in an inconsistent state\n")
    }

    @Test func emptyDirectoryIsAnErrorWithExit91() {
        let dir = TempDir()
        let r = run([dir.path])
        #expect(r.code == 91)
        #expect(r.out == "")
    }

    @Test func withoutTargetsTheCurrentDirectoryIsScanned() {
        let dir = TempDir()
        _ = copyFixture("finished-slurm.qqinfo", into: dir)
        let saved = getcwd(nil, 0)
        defer { if let saved { chdir(saved); free(saved) } }
        chdir(dir.path)
        let system = CannedBatchSystem { _ in .notFound }
        let r = run(["-s"], Environment(["PWD": dir.path]), context(system))
        #expect(r.code == 0)
        #expect(r.out == "811    finished\n")
    }

    @Test func shortAndJsonTogetherIsAUsageError() {
        let r = run(["--short", "--json"])
        #expect(r.code == 2)
        #expect(r.err.contains("usage: qq-info"))
        #expect(run(["--bogus"]).code == 2)
    }

    @Test func versionAndHelp() {
        #expect(run(["--version"]).out == "qq-info \(QQVersion.version)\n")
        let help = run(["--help"])
        #expect(help.code == 0)
        #expect(help.out.contains("--no-batch"))
    }

    @Test func directoryFilesAreSortedBySubmissionTime() {
        let dir = TempDir()
        _ = copyFixture("running-slurm.qqinfo", into: dir, as: "a.qqinfo")  // submitted 09:26:53
        _ = copyFixture("finished-slurm.qqinfo", into: dir, as: "b.qqinfo")  // submitted 08:00:00
        writeText(dir.file("notes.txt"), "x")
        let system = CannedBatchSystem { _ in .notFound }
        let r = run(["--short", dir.path], Environment(), context(system))
        #expect(r.out == "811    finished\n812    in an inconsistent state\n")
    }

    @Test func filesOfTheSameJobShareOneQuery() {
        let dir = TempDir()
        let a = copyFixture("running-slurm.qqinfo", into: dir, as: "a.qqinfo")
        let b = copyFixture("running-slurm.qqinfo", into: dir, as: "b.qqinfo")
        let c = copyFixture("finished-slurm.qqinfo", into: dir, as: "c.qqinfo")
        let system = CannedBatchSystem { _ in .found(Examples.slurmRecord("RUNNING")) }
        let r = run(["-s", a, b, c], Environment(), context(system))
        #expect(r.out == "812    running\n812    running\n811    exiting\n")
        #expect(system.calls.sorted() == ["811", "812"])
    }

    @Test func noBatchMakesNoQueryAndSaysSo() {
        let dir = TempDir()
        let file = copyFixture("running-slurm.qqinfo", into: dir)
        let system = CannedBatchSystem { _ in .notFound }
        let r = run(["--no-batch", file], Environment(), context(system))
        #expect(system.calls.isEmpty)
        #expect(normalizePanel(r.out).lines.last == "(batch system not queried)")
    }

    @Test func aFailingTargetIsReportedAndTheOthersAreStillShown() {
        let dir = TempDir()
        let good = copyFixture("finished-slurm.qqinfo", into: dir)
        let bad = copyFixture("broken.qqinfo", into: dir)
        let system = CannedBatchSystem { _ in .notFound }
        let r = run(["-s", bad, good, "no-such-job"], Environment(["QQ_BATCH_SYSTEM": "Local"]), context(system))
        #expect(r.code == 91)
        #expect(r.out == "811    finished\n")
    }

    @Test func jsonListsJobsAndErrors() {
        let dir = TempDir()
        let good = copyFixture("finished-slurm.qqinfo", into: dir)
        let system = CannedBatchSystem { _ in .notFound }
        let r = run(["--json", good, dir.file("missing.qqinfo")], Environment(["QQ_BATCH_SYSTEM": "Local"]), context(system))
        #expect(r.code == 91)
        #expect(r.out.hasPrefix("{\n  \"schema\": \"qq-info/1\",\n  \"jobs\": [\n    {\n      \"info_file\": \"\(good)\",\n      \"real_state\": \"finished\",\n      \"batch_state\": \"unknown\",\n      \"batch_answer\": \"not_found\",\n      \"heartbeat_age_s\": null,\n      \"batch_system\": \"Slurm\","))
        #expect(r.out.contains("\"mem\": null"))
        #expect(r.out.contains("\"transfer_mode\": [\n        \"success\"\n      ]"))
        #expect(r.out.contains("\"target\": \"\(dir.file("missing.qqinfo"))\""))
        #expect(r.out.contains("\"message\": \"'\(dir.file("missing.qqinfo"))' does not exist. Give an info file (*.qqinfo), a directory or a job id.\""))
        #expect(!r.out.contains("\u{1B}"))
    }

    @Test func slurmJobIdIsResolvedThroughWorkDirAndJobName() {
        let dir = TempDir()
        _ = copyFixture("running-slurm.qqinfo", into: dir, as: "run.qqinfo")
        let fakes = FakeCommands()
        let log = fakes.dir.file("calls.log")
        fakes.add("sbatch", "exit 0")
        fakes.add("scontrol", "echo \"$*\" >> '\(log)'; echo 'JobId=812 JobName=run.sh JobState=RUNNING Reason=None NodeList=node[07-08] BatchHost=node07 WorkDir=\(dir.path)'")
        let r = run(["-s", "812"], fakes.environment(), context())
        #expect(r.code == 0)
        #expect(r.out == "812    running\n")
        #expect(readText(log) == "show job 812 -o\n")  // the resolving answer is reused
    }

    @Test func slurmJobIdFindsARenamedArrayFileByScanning() {
        let dir = TempDir()
        _ = copyFixture("running-slurm.qqinfo", into: dir, as: "job_812.qqinfo")
        _ = copyFixture("finished-slurm.qqinfo", into: dir, as: "run.qqinfo")  // another job's file
        let fakes = FakeCommands()
        fakes.add("sbatch", "exit 0")
        fakes.add("scontrol", "echo 'JobId=812 JobName=run.sh JobState=RUNNING Reason=None WorkDir=\(dir.path)'")
        #expect(run(["-s", "812"], fakes.environment(), context()).out == "812    running\n")
    }

    @Test(arguments: [
        ("echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1", "Job '5' does not exist."),
        ("echo 'JobId=5 JobName=x.sh JobState=RUNNING WorkDir=/nonexistent'", "Job '5' is not a valid qq job."),
    ])
    func slurmJobIdFailuresExitWith91(script: String, message: String) {
        let fakes = FakeCommands()
        fakes.add("sbatch", "exit 0")
        fakes.add("scontrol", script)
        let r = run(["--json", "5"], fakes.environment(), context())
        #expect(r.code == 91)
        #expect(r.out.contains("\"message\": \"\(message)\""))
    }

    @Test func unknownBatchSystemNameIsReported() {
        let r = run(["--json", "5"], Environment(["QQ_BATCH_SYSTEM": "Torque"]), context())
        #expect(r.code == 91)
        #expect(r.out.contains("No batch system registered as 'Torque'."))
    }

    @Test func colorsOnlyOnATerminalWithoutNO_COLOR() {
        let dir = TempDir()
        let file = copyFixture("finished-slurm.qqinfo", into: dir)
        let system = CannedBatchSystem { _ in .notFound }
        #expect(run(["-s", file], Environment(), context(system, tty: true)).out.contains("\u{1B}[92m"))
        #expect(!run(["-s", file], Environment(["NO_COLOR": "1"]), context(system, tty: true)).out.contains("\u{1B}"))
        #expect(run(["-s", file], Environment(["NO_COLOR": ""]), context(system, tty: true)).out.contains("\u{1B}"))
        #expect(!run(["-s", file], Environment(), context(system, tty: false)).out.contains("\u{1B}"))
    }

    @Test func widthComesFromTheTerminalOrCOLUMNS() {
        let dir = TempDir()
        let file = copyFixture("finished-slurm.qqinfo", into: dir)
        let system = CannedBatchSystem { _ in .notFound }
        func width(_ env: Environment, _ ctx: InfoContext) -> Int? {
            run([file], env, ctx).out.split(separator: "\n").first.map { $0.count }
        }
        #expect(width(Environment(), context(system)) == 80)
        #expect(width(Environment(["COLUMNS": "360"]), context(system)) == 120)
        #expect(width(Environment(["COLUMNS": "x"]), context(system)) == 80)
        #expect(width(Environment(["COLUMNS": "360", "NO_COLOR": "1"]), context(system, tty: true, columns: 300)) == 100)
    }
}
