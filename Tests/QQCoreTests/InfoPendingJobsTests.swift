// Issue 8, item 12: qq-info shows jobs submitted from the directory that have not started yet
// (no info file), from one listing plus one script check per candidate. The real-Slurm side is in
// SlurmInfoTests.

import Glibc
import Testing
@testable import QQCore

private let now = ts("2026-12-04 02:00:00").epochSeconds
private let slurmEnv = Environment(["QQ_BATCH_SYSTEM": "Slurm", "COLUMNS": "240"])

/// A pending job as the listing gives it.
private func pending(_ id: String, dir: String, reason: String? = "JobHeldUser", start: String? = nil,
                     submitted: String = "2026-12-04 01:00:00") -> BatchJobRecord {
    BatchJobRecord(jobID: id, state: BatchState.fromSlurm("PENDING", reason: reason), rawState: "PENDING",
                   reason: reason, submitTime: ts(submitted), startTime: start.map(ts), workDir: dir,
                   jobName: "job.sh", partition: "debug")
}

private func run(_ args: [String], _ system: CannedBatchSystem, env: Environment = slurmEnv,
                 only: BatchSystemName? = nil) -> (code: Int32, out: String) {
    let ctx = InfoContext(now: { now }, batchSystem: { name in
        if let only, name != only { return batchSystem(named: name) }
        return system
    }, loadInfo: testLoader)
    let (code, out, _) = QQInfoCommand.execute(arguments: args, environment: env, context: ctx)
    return (code.code, out)
}

private let qqShebang = "#!/usr/bin/env -S qq-run"

@Suite(.serialized) struct InfoPendingJobsTests {
    init() { Log.setLevel(.critical) }

    // MARK: Parsing

    @Test func squeueLinesBecomePendingRecords() {
        let us = "\u{1F}"
        let output = [
            ["53", "53", "PENDING", "JobHeldUser", "N/A", "2026-12-04T01:26:49", "debug", "(null)", "job.sh", "/tmp/x"],
            ["55", "55", "PENDING", "BeginTime", "2026-12-04T02:26:49", "2026-12-04T01:26:49", "debug", "node[1-2]", "we|ird name", "/tmp/a|b c"],
            ["56_[1-3]", "56", "PENDING", "Priority", "N/A", "2026-12-04T01:30:02", "long", "(null)", "job.sh", "/tmp/x"],
            ["57", "57", "PENDING"],
        ].map { $0.joined(separator: us) }.joined(separator: "\n") + "\n"
        let records = SlurmQuery.parsePendingJobs(output)
        #expect(records.map(\.jobID) == ["53", "55", "56_[1-3]"])
        #expect(records[0].state == .held && records[0].reason == "JobHeldUser" && records[0].startTime == nil)
        #expect(records[0].submitTime == ts("2026-12-04 01:26:49") && records[0].partition == "debug")
        #expect(records[1].state == .queued && records[1].startTime == ts("2026-12-04 02:26:49"))
        #expect(records[1].estimate?.nodes == "node[1-2]")
        #expect(records[1].jobName == "we|ird name" && records[1].workDir == "/tmp/a|b c")
        #expect(records[2].arrayJobID == "56" && records[2].fields["A"] == "56" && records[2].partition == "long")
    }

    @Test(arguments: [
        "#!/usr/bin/env -S qq-run", "#!/usr/bin/env -S qq run", "#!/usr/bin/env qq-run", "#! /usr/bin/env -S qq-run\r",
        "#!/opt/qq/bin/qq-run", "#!/opt/qq/bin/qq run", "#!/usr/bin/env -Sqq-run", "#!/usr/bin/env -S QQ_DEBUG=1 qq-run",
        "#!/usr/bin/env -i -u X -S qq run --local",
    ])
    func qqRunShebangsAreRecognized(line: String) {
        #expect(PendingJobs.runsQQRun(line))
    }

    @Test(arguments: [
        "#!/bin/bash", "#!/usr/bin/env bash", "#!/usr/bin/env -S qq info", "#!/usr/bin/qq", "# qq-run", "qq-run job.sh",
        "#!/bin/sh -c qq-run", "#!/usr/bin/env", "",
    ])
    func otherFirstLinesAreNot(line: String) {
        #expect(!PendingJobs.runsQQRun(line))
    }

    // MARK: qq-info

    @Test func aHeldQQRunJobWithoutInfoFileIsShownInPanelShortAndJSON() {
        let dir = TempDir()
        let system = CannedBatchSystem(pending: .success([pending("53", dir: dir.path)]),
                                       scripts: ["53": qqShebang]) { _ in .notFound }
        let short = run(["-s", dir.path], system)
        #expect(short.code == 0)
        #expect(short.out == "53    held    Reason: JobHeldUser\n")

        let panel = normalizePanel(run([dir.path], system).out).lines
        for line in ["JOB: 53", "Job name: job.sh", "Submission queue: debug", "Input directory: \(dir.path)",
                     "Submitted at: 2026-12-04 01:00:00", "Job state: Job is held", "In queue for 01:00:00",
                     "Reason: JobHeldUser"] {
            #expect(panel.contains(line), "missing '\(line)' in \(panel)")
        }

        let json = run(["--json", dir.path], system)
        #expect(json.code == 0)
        #expect(json.out.contains("""
              "jobs": [],
              "pending_jobs": [
                {
                  "job_id": "53",
                  "real_state": "held",
                  "batch_state": "held",
                  "batch_system": "Slurm",
                  "job_name": "job.sh",
                  "queue": "debug",
                  "input_dir": "\(dir.path)",
                  "submission_time": "2026-12-04 01:00:00",
                  "reason": "JobHeldUser",
                  "planned_start": null,
                  "planned_nodes": null
                }
              ],
              "errors": []
            """))
    }

    @Test func aPlannedStartIsShownWithTheReason() {
        let dir = TempDir()
        let job = pending("55", dir: dir.path, reason: "BeginTime", start: "2026-12-04 03:30:00")
        let system = CannedBatchSystem(pending: .success([job]), scripts: ["55": qqShebang]) { _ in .notFound }
        #expect(run(["-s"] + [dir.path], system).out == "55    queued    Reason: BeginTime; planned start at 2026-12-04 03:30:00\n")
        let panel = normalizePanel(run([dir.path], system).out).lines
        #expect(panel.contains("Job state: Job is queued"))
        #expect(panel.contains("Reason: BeginTime"))
        #expect(panel.contains("Planned start within 01:30:00 (at 2026-12-04 03:30:00)"))
        #expect(run(["--json", dir.path], system).out.contains("\"planned_start\": \"2026-12-04 03:30:00\""))
    }

    @Test func aJobWhoseScriptIsNotRunByQQRunIsNotShown() {
        let dir = TempDir()
        let system = CannedBatchSystem(pending: .success([pending("54", dir: dir.path)]),
                                       scripts: ["54": "#!/bin/bash"]) { _ in .notFound }
        let r = run(["-s", dir.path], system)
        #expect(r.code == 91)
        #expect(r.out == "")
        #expect(system.calls == ["list", "script 54"])
    }

    @Test func aJobOfAnotherDirectoryIsNotShownAndItsScriptNotAsked() {
        let dir = TempDir()
        let other = TempDir()
        let system = CannedBatchSystem(pending: .success([pending("60", dir: other.path)]),
                                       scripts: ["60": qqShebang]) { _ in .notFound }
        #expect(run(["-s", dir.path], system).code == 91)
        #expect(system.calls == ["list"])
    }

    @Test func theDirectoryIsComparedByIdentityNotByText() {
        let dir = TempDir()
        let links = TempDir()
        let link = links.file("via-link")
        #expect(symlink(dir.path, link) == 0)
        // Slurm records the physical path; the user stands in the symlinked one.
        let system = CannedBatchSystem(pending: .success([pending("61", dir: dir.path)]),
                                       scripts: ["61": qqShebang]) { _ in .notFound }
        #expect(run(["-s", link], system).out == "61    held    Reason: JobHeldUser\n")
    }

    @Test func aJobWithAnInfoFileIsShownOnlyFromItsFileAndItsScriptNotAsked() {
        let dir = TempDir()
        writeText(dir.file("run.qqinfo"), readText(TestPaths.fixtures + "/info/running-slurm.qqinfo") ?? "")
        let listed = [pending("812", dir: dir.path), pending("813", dir: dir.path)]
        let system = CannedBatchSystem(pending: .success(listed), scripts: ["812": qqShebang, "813": qqShebang]) { _ in
            .found(Examples.slurmRecord("RUNNING"))
        }
        let r = run(["-s", dir.path], system)
        #expect(r.code == 0)
        #expect(r.out == "812    running\n813    held    Reason: JobHeldUser\n")
        #expect(!system.calls.contains("script 812"))
    }

    @Test func everyDirectoryTargetSharesOneListing() {
        let a = TempDir()
        let b = TempDir()
        let system = CannedBatchSystem(pending: .success([pending("70", dir: a.path), pending("71", dir: b.path)]),
                                       scripts: ["70": qqShebang, "71": qqShebang]) { _ in .notFound }
        let r = run(["-s", a.path, b.path], system)
        #expect(r.out == "70    held    Reason: JobHeldUser\n71    held    Reason: JobHeldUser\n")
        #expect(system.calls.filter { $0 == "list" }.count == 1)
    }

    @Test func fileAndJobIDTargetsMakeNoListing() {
        let dir = TempDir()
        let file = dir.file("run.qqinfo")
        writeText(file, readText(TestPaths.fixtures + "/info/finished-slurm.qqinfo") ?? "")
        let system = CannedBatchSystem(pending: .success([pending("72", dir: dir.path)]),
                                       scripts: ["72": qqShebang]) { _ in .notFound }
        _ = run(["-s", file], system)
        #expect(!system.calls.contains("list"))
    }

    @Test func noBatchMakesNoListing() {
        let dir = TempDir()
        let system = CannedBatchSystem(pending: .success([pending("73", dir: dir.path)]),
                                       scripts: ["73": qqShebang]) { _ in .notFound }
        let r = run(["-s", "--no-batch", dir.path], system)
        #expect(r.code == 91)
        #expect(system.calls.isEmpty)
    }

    @Test func withoutSlurmCommandsNothingIsListed() {
        let dir = TempDir()
        let system = CannedBatchSystem(pending: .success([pending("74", dir: dir.path)]),
                                       scripts: ["74": qqShebang]) { _ in .notFound }
        // No sbatch/scontrol on PATH: R49 picks Local, whose listing asks nothing.
        let r = run(["-s", dir.path], system, env: Environment(["PATH": "/nonexistent"]), only: .slurm)
        #expect(r.code == 91)
        #expect(system.calls.isEmpty)
        #expect(LocalSystem().pendingJobs(environment: Environment(), options: BatchQueryOptions(Settings()), reaping: DirectReaping()) == .success([]))
        #expect(PBSSystem().pendingJobs(environment: Environment(["PATH": "/nonexistent"]), options: BatchQueryOptions(Settings()), reaping: DirectReaping()) == .success([]))
    }

    @Test func aFailedListingIsNamedInTheEmptyDirectoryError() {
        let dir = TempDir()
        let system = CannedBatchSystem(pending: .failure(BatchUnavailableError(reason: "'squeue' timed out after 10 s"))) { _ in .notFound }
        let r = run(["--json", dir.path], system)
        #expect(r.code == 91)
        #expect(r.out.contains("\"message\": \"No qq job info file found. Jobs still waiting in the queue could not be listed: 'squeue' timed out after 10 s.\""))
    }

    @Test func scriptChecksAreBoundedAndTheNewestAreChecked() {
        let dir = TempDir()
        let count = PendingJobs.scriptCheckLimit + 5
        let listed = (0..<count).map { i in
            pending("\(1000 + i)", dir: dir.path, submitted: Timestamp(epochSeconds: now - 3600 + i).description)
        }
        let system = CannedBatchSystem(pending: .success(listed)) { _ in .notFound }
        _ = run(["-s", dir.path], system)
        let checked = system.calls.filter { $0.hasPrefix("script ") }
        #expect(checked.count == PendingJobs.scriptCheckLimit)
        #expect(!checked.contains("script 1000") && checked.contains("script \(1000 + count - 1)"))
    }

    @Test func slurmScriptCheckTakesTheFirstLineAndTreatsEmptyOutputAsNone() {
        let fakes = FakeCommands()
        let log = fakes.dir.file("calls.log")
        fakes.add("scontrol", """
            echo "$*" >> '\(log)'
            case "$3" in
              56) printf '#!/usr/bin/env -S qq run\\r\\n# qq ncpus=2\\n' ;;
              *) echo 'job script retrieval failed: Invalid job id specified' >&2 ;;
            esac
            """)
        let slurm = SlurmSystem()
        let array = BatchJobRecord(jobID: "56_[1-3]", state: .held, rawState: "PENDING", fields: ["A": "56"])
        #expect(slurm.batchScriptFirstLine(of: array, environment: fakes.environment(), options: BatchQueryOptions(Settings()), reaping: DirectReaping())
                == "#!/usr/bin/env -S qq run")
        let gone = BatchJobRecord(jobID: "99", state: .held, rawState: "PENDING", fields: ["A": "99"])
        #expect(slurm.batchScriptFirstLine(of: gone, environment: fakes.environment(), options: BatchQueryOptions(Settings()), reaping: DirectReaping()) == nil)
        #expect(readText(log) == "write batch_script 56 -\nwrite batch_script 99 -\n")
    }

    @Test func slurmListingIsOneSqueueCallForTheUsersPendingJobs() {
        let fakes = FakeCommands()
        let log = fakes.dir.file("calls.log")
        fakes.add("squeue", "printf '%s\\n' \"$@\" >> '\(log)'; printf '53\\03753\\037PENDING\\037JobHeldUser\\037N/A\\0372026-12-04T01:26:49\\037debug\\037(null)\\037job.sh\\037/tmp/x\\n'")
        let answer = SlurmSystem().pendingJobs(environment: fakes.environment(), options: BatchQueryOptions(Settings()), reaping: DirectReaping())
        #expect((try? answer.get())?.map(\.jobID) == ["53"])
        let args = (readText(log) ?? "").split(separator: "\n").map(String.init)
        #expect(args.prefix(3) == ["--me", "--noheader", "--states=PENDING"])
        #expect(args.last == "--format=" + ["i", "A", "T", "r", "S", "V", "P", "Y", "j", "Z"].map { "%" + $0 }.joined(separator: "\u{1F}"))
    }
}
