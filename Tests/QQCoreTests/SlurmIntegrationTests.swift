// Integration tests on a real one-host Slurm (SPEC R148, R149; issue 2 (a)–(e), (g), scenarios 13,
// 15 and 24). Each test writes a job script whose first line is `#!/usr/bin/env -S qq-run` (or
// `qq run`), submits it with `sbatch` from its own input dir, waits until the job has left the queue
// and checks what a user would check: the state file, the files in the input dir, the work dir and
// Slurm's own record.
//
// Run by `scripts/test` (as root), which starts the cluster with scripts/slurm-harness.sh. Without a
// cluster these tests are skipped, unless QQ_TEST_FULL=1, where they fail.
//
// Serialized: the cluster has one node with 2 CPUs, and timing assertions (scenario 24) must not
// compete with queued jobs.

import Glibc
import Testing
@testable import QQCore

private let wordsInput = "alpha beta gamma\ndelta epsilon\nzeta\n"   // 6 words

@Suite("Real Slurm", .serialized, .enabled(if: SlurmCluster.shouldRun, "no Slurm cluster (start it with scripts/slurm-harness.sh)"))
struct SlurmIntegrationTests {
    let me = TestUser.current

    func expectedWorkDir(_ root: String, _ user: String, _ id: String) -> String {
        "\(root)/\(user)/qq-jobs/job_\(id)"
    }

    // The harness itself: a job without qq-run, so that a broken cluster is not mistaken for a
    // qq-run bug. Runs as the current user and as the unprivileged test user.
    @Test("Harness: plain bash jobs run, as the current user and as qqtest, with the test env")
    func harnessPlainJob() throws {
        try SlurmCluster.require()
        var users = [me]
        if getuid() == 0 {
            users.append(try #require(TestUser.lookup(TestUser.unprivilegedName),
                                      "user '\(TestUser.unprivilegedName)' is missing: run scripts/slurm-harness.sh start"))
        }
        for user in users {
            let dirs = try TestDirs("harness-\(user.name)", owner: user)
            try dirs.put("plain.sh", """
                #!/bin/bash
                echo "uid=$(id -u) user=$USER pwd=$PWD scratch=$QQ_SCRATCH_ROOT"
                command -v qq-run > "$QQ_IT_PROBE/qq-run-path"
                echo "$SLURM_JOB_ID" > "$QQ_IT_PROBE/job_id"
                """, owner: user)
            let job = try SlurmCluster.submit("plain.sh", dirs: dirs, as: user)
            let rec = try #require(try SlurmCluster.waitForEnd(job, timeout: 30).first)
            let why = job.diagnostics()
            #expect(rec.state == "COMPLETED", why)
            #expect(rec.exitCode == "0:0", why)
            #expect(rec["UserId"]?.hasPrefix("\(user.name)(") == true, why)
            #expect(rec["WorkDir"] == dirs.input, why)
            #expect(dirs.probeFile("job_id") == job.id, why)
            #expect(dirs.probeFile("qq-run-path") == "\(try SlurmCluster.binDir())/qq-run", why)
            #expect(Files.read(job.outputPath) == "uid=\(user.uid) user=\(user.name) pwd=\(dirs.input) scratch=\(dirs.scratch)\n", why)
        }
    }

    // (a) plain sbatch, success
    @Test("(a) plain sbatch, success: staged in, result back, work dir removed, finished/0")
    func plainSuccess() throws {
        let dirs = try TestDirs("a-success")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            # qq transfer-mode success
            echo "running in $PWD"
            printf '%s\\n' "$PWD" > "$QQ_IT_PROBE/pwd"
            test -f input.txt || { echo "input.txt was not staged in" >&2; exit 7; }
            test -f data/nested.txt || { echo "data/nested.txt was not staged in" >&2; exit 8; }
            wc -w < input.txt | tr -d ' ' > result.txt
            mkdir -p out && echo nested-result > out/r.txt
            echo done
            """)
        try dirs.put("input.txt", wordsInput)
        try dirs.put("data/nested.txt", "nested\n")

        // Slurm's default output file (slurm-<id>.out) stays in the input dir here, as for most users.
        let job = try SlurmCluster.submit("job.sh", dirs: dirs, outputInInputDir: true)
        let rec = try #require(try SlurmCluster.waitForEnd(job).first)
        let why = job.diagnostics()

        #expect(rec.state == "COMPLETED", why)
        #expect(rec.exitCode == "0:0", why)

        let info = try StateFiles.load("\(dirs.input)/job.qqinfo", job: job)
        let wd = expectedWorkDir(dirs.scratch, me.name, job.id)
        #expect(info.batchSystem == .slurm, why)
        #expect(info.jobID == job.id, why)
        #expect(info.jobName == "job.sh", why)
        #expect(info.username == me.name, why)
        #expect(info.inputDir == dirs.input, why)
        #expect(info.jobState == .finished, why)
        #expect(info.jobExitCode == 0, why)
        #expect(info.queue == "debug", why)
        #expect(info.workDir == wd, why)
        #expect(info.synchronized == true, why)
        #expect(info.startTime != nil && info.completionTime != nil, why)
        #expect(info.allNodes == [hostName()] || info.allNodes.count == 1, why)
        #expect(info.cluster == "qqtest", why)

        // The script ran in the scratch work dir, which is gone now.
        #expect(dirs.probeFile("pwd") == wd, why)
        #expect(!Files.exists(wd), "work dir \(wd) should have been removed")
        #expect(Files.isDirectory("\(dirs.scratch)/\(me.name)/qq-jobs"), why)

        // Results back, inputs intact, logs in the input dir.
        #expect(Files.read("\(dirs.input)/result.txt") == "6\n", why)
        #expect(Files.read("\(dirs.input)/out/r.txt") == "nested-result\n", why)
        #expect(Files.read("\(dirs.input)/input.txt") == wordsInput, why)
        #expect(Files.read("\(dirs.input)/data/nested.txt") == "nested\n", why)
        #expect(Files.read("\(dirs.input)/job.out")?.contains("done") == true, why)
        #expect(Files.isRegular("\(dirs.input)/job.err"), why)
        #expect(!Files.exists("\(dirs.input)/.qq-run-marker"), why)

        // qq-run's log is the batch output (plain mode).
        let log = Files.read(job.outputPath) ?? ""
        #expect(log.contains("Initializing job '\(job.id)'"), why)
        #expect(log.contains("Job completed with an exit code of 0."), why)

        // The YAML 1.1 check (R149).
        let problems = try StateFiles.yaml11Problems("\(dirs.input)/job.qqinfo")
        #expect(problems.isEmpty, "YAML 1.1 check: \(problems)\n\(Files.read("\(dirs.input)/job.qqinfo") ?? "")")
    }

    // (b) exit 3
    @Test("(b) exit 3: failed, job_exit_code 3, only logs back, work dir kept with marker")
    func exitThree() throws {
        let dirs = try TestDirs("b-exit3")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            echo "about to fail"
            echo "partial" > partial.txt
            echo "something went wrong" >&2
            exit 3
            """)
        try dirs.put("input.txt", wordsInput)

        let job = try SlurmCluster.submit("job.sh", dirs: dirs)
        let rec = try #require(try SlurmCluster.waitForEnd(job).first)
        let why = job.diagnostics()

        #expect(rec.state == "FAILED", why)
        #expect(rec.exitCode == "3:0", why)

        let info = try StateFiles.load("\(dirs.input)/job.qqinfo", job: job)
        let wd = expectedWorkDir(dirs.scratch, me.name, job.id)
        #expect(info.jobState == .failed, why)
        #expect(info.jobExitCode == 3, why)
        #expect(info.workDir == wd, why)
        #expect(info.synchronized == false, why)
        #expect(info.stageOut?.mode == .logsOnly, why)
        #expect(info.error == nil, "a script's own exit code carries no 'error'")

        // Only stdout/stderr came back.
        #expect(Files.read("\(dirs.input)/job.out")?.contains("about to fail") == true, why)
        #expect(Files.read("\(dirs.input)/job.err")?.contains("something went wrong") == true, why)
        #expect(!Files.exists("\(dirs.input)/partial.txt"), why)

        // The work dir is kept (default policy), with the marker and the job's files.
        #expect(Files.isDirectory(wd), why)
        #expect(Files.isRegular("\(wd)/.qq-run-marker"), why)
        #expect(Files.mode("\(wd)/.qq-run-marker") == 0o600, why)
        #expect(Files.mode(wd) == 0o700, why)
        #expect(Files.read("\(wd)/partial.txt") == "partial\n", why)
        #expect(Files.read("\(wd)/input.txt") == wordsInput, why)
        if Files.isRegular("\(wd)/.qq-run-marker") {
            let marker = try InfoFile.loadMarker(path: "\(wd)/.qq-run-marker")
            #expect(marker.jobID == job.id, why)
            #expect(marker.infoFile == "\(dirs.input)/job.qqinfo", why)
            #expect(marker.inputDir == dirs.input, why)
            #expect(marker.batchSystem == .slurm, why)
        }
        #expect((Files.read(job.outputPath) ?? "").contains("Job completed with an exit code of 3."), why)
    }

    // (c) scancel while running
    @Test("(c) scancel while running: killed, logs back, no process of the job left")
    func scancelRunning() throws {
        let dirs = try TestDirs("c-scancel")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            echo "working"
            echo "partial result" > result.txt
            sleep 300 &
            echo $! >> "$QQ_IT_PROBE/pids"
            ( sleep 300; echo never ) &
            echo $! >> "$QQ_IT_PROBE/pids"
            setsid sleep 300 &
            echo $! >> "$QQ_IT_PROBE/pids"
            echo $$ >> "$QQ_IT_PROBE/pids"
            echo started > "$QQ_IT_PROBE/started"
            wait
            """)
        try dirs.put("input.txt", wordsInput)

        let job = try SlurmCluster.submit("job.sh", dirs: dirs)
        try SlurmCluster.waitForFile("\(dirs.probe)/started", job: job)
        Clock.sleep(0.3)   // let the setsid child finish its exec

        // While the script runs, the state file says so.
        let running = try StateFiles.load("\(dirs.input)/job.qqinfo", job: job)
        #expect(running.jobState == .running, job.diagnostics())
        #expect(running.phase == .running, job.diagnostics())
        let runnerPID = running.runnerPID

        let pids = (dirs.probeFile("pids") ?? "").split(separator: "\n").compactMap { Int32($0) }
        #expect(pids.count == 4, job.diagnostics("pids: \(pids)"))

        SlurmCluster.scancel(job.id)
        let rec = try #require(try SlurmCluster.waitForEnd(job).first)
        let why = job.diagnostics()

        #expect(rec.state == "CANCELLED", why)
        #expect(rec.exitCode == "143:0", why)

        let info = try StateFiles.load("\(dirs.input)/job.qqinfo", job: job)
        #expect(info.jobState == .killed, why)
        #expect(info.killReason == .cancelled, why)
        #expect(info.jobExitCode == nil, why)
        #expect(info.completionTime != nil, why)
        #expect(info.phase == .done, why)
        #expect(info.synchronized == false, why)
        let text = Files.read("\(dirs.input)/job.qqinfo") ?? ""
        #expect(!StateFiles.hasKey(text, "job_exit_code"), why)

        #expect(Files.read("\(dirs.input)/job.out")?.contains("working") == true, why)
        #expect(Files.isRegular("\(dirs.input)/job.err"), why)
        // A new result is rescued (R113).
        #expect(Files.read("\(dirs.input)/result.txt") == "partial result\n", why)
        // The work dir is kept after a kill.
        #expect(Files.isDirectory(expectedWorkDir(dirs.scratch, me.name, job.id)), why)

        // No process of the job is left: the script, its children, the setsid orphan, qq-run.
        Clock.sleep(0.2)
        for pid in pids { #expect(!processAlive(pid), "process \(pid) of the job is still alive") }
        if let runnerPID { #expect(!processAlive(Int32(runnerPID)), "qq-run (pid \(runnerPID)) is still alive") }
        #expect((Files.read(job.outputPath) ?? "").contains("Received SIGTERM, initiating shutdown."), why)
    }

    // (d) SlurmLumi, flash
    @Test("(d) SlurmLumi, --account=Proj_1, flash: work dir <flash>/proj_1/<user>/qq-jobs/job_<id>")
    func lumiFlash() throws {
        let dirs = try TestDirs("d-lumi-flash")
        try Files.mkdir("\(dirs.flash)/proj_1", mode: 0o755)   // as the site would (qq-run never creates it)
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            printf '%s\\n' "$PWD" > "$QQ_IT_PROBE/pwd"
            printf '%s\\n' "$SLURM_JOB_ACCOUNT" > "$QQ_IT_PROBE/account"
            wc -l < input.txt | tr -d ' ' > lines.txt
            """)
        try dirs.put("input.txt", wordsInput)

        let job = try SlurmCluster.submit("job.sh", dirs: dirs, options: ["--account=Proj_1"],
                                          env: ["QQ_BATCH_SYSTEM": "SlurmLumi", "LUMI_SCRATCH_TYPE": "flash"])
        let rec = try #require(try SlurmCluster.waitForEnd(job).first)
        let why = job.diagnostics()
        #expect(rec.state == "COMPLETED", why)

        let info = try StateFiles.load("\(dirs.input)/job.qqinfo", job: job)
        let wd = "\(dirs.flash)/proj_1/\(me.name)/qq-jobs/job_\(job.id)"
        #expect(info.batchSystem == .slurmLumi, why)
        // Slurm itself stores account names in lowercase; `account` records what it exported (R76).
        #expect(info.account == dirs.probeFile("account"), why)
        #expect(info.account?.lowercased() == "proj_1", why)
        #expect(info.jobState == .finished, why)
        #expect(info.jobExitCode == 0, why)
        #expect(info.workDir == wd, why)
        #expect(info.resources.workDir == "flash", why)
        #expect(dirs.probeFile("pwd") == wd, why)
        #expect(!Files.exists(wd), why)
        #expect(Files.mode("\(dirs.flash)/proj_1/\(me.name)") == 0o700, why)
        #expect(Files.read("\(dirs.input)/lines.txt") == "3\n", why)
        // Nothing on the scratch root.
        #expect(Files.list(dirs.scratch).isEmpty, why)
    }

    @Test("(d) SlurmLumi flash: <root>/proj_1/<user> is a plain file -> <user>2")
    func lumiFlashFallbackUser() throws {
        let dirs = try TestDirs("d-lumi-fallback")
        try Files.mkdir("\(dirs.flash)/proj_1", mode: 0o755)
        try Files.write("\(dirs.flash)/proj_1/\(me.name)", "not a directory\n")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            # qq work-dir=flash
            printf '%s\\n' "$PWD" > "$QQ_IT_PROBE/pwd"
            echo ok > ok.txt
            """)

        let job = try SlurmCluster.submit("job.sh", dirs: dirs, options: ["--account=Proj_1"],
                                          env: ["QQ_BATCH_SYSTEM": "SlurmLumi"])
        try SlurmCluster.waitForEnd(job)
        let why = job.diagnostics()

        let info = try StateFiles.load("\(dirs.input)/job.qqinfo", job: job)
        let wd = "\(dirs.flash)/proj_1/\(me.name)2/qq-jobs/job_\(job.id)"
        #expect(info.jobState == .finished, why)
        #expect(info.workDir == wd, why)
        #expect(dirs.probeFile("pwd") == wd, why)
        #expect(Files.read("\(dirs.flash)/proj_1/\(me.name)") == "not a directory\n", "the blocking file is untouched")
        #expect(Files.read("\(dirs.input)/ok.txt") == "ok\n", why)
    }

    // (e) qq-managed
    @Test("(e) qq-managed: state file written by a submitter, QQ_* exported")
    func qqManaged() throws {
        let dirs = try TestDirs("e-managed")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            printf '%s\\n' "$0" > "$QQ_IT_PROBE/script"
            printf '%s\\n' "$PWD" > "$QQ_IT_PROBE/pwd"
            printf '%s\\n' "$QQ_INFO" > "$QQ_IT_PROBE/qq_info"
            wc -w < input.txt | tr -d ' ' > result.txt
            echo managed
            """)
        try dirs.put("input.txt", wordsInput)
        let infoPath = "\(dirs.input)/job.qqinfo"
        let host = hostName()

        // As qq submit does: the job is submitted with the QQ_* variables, and the state file is
        // written once the id is known. --hold keeps it from starting before the file exists.
        let job = try SlurmCluster.submit("job.sh", dirs: dirs,
                                          options: ["--hold", "-J", "job.sh", "-o", "job.qqout", "-e", "job.qqout"],
                                          env: ["QQ_ENV_SET": "true", "QQ_INFO": infoPath, "QQ_BATCH_SYSTEM": "Slurm",
                                                "QQ_INPUT_MACHINE": host, "QQ_INPUT_DIR": dirs.input])
        let managedJob = SlurmJob(id: job.id, dirs: dirs, user: job.user, outputPath: "\(dirs.input)/job.qqout")
        // Python qq's style: unquoted strings, an unquoted walltime, `- item` lists at key level.
        let written = """
            # qq job info file
            batch_system: Slurm
            qq_version: 0.10.2
            username: \(me.name)
            job_id: '\(job.id)'
            job_name: job.sh
            script_name: job.sh
            queue: debug
            job_type: standard
            input_machine: \(host)
            input_dir: \(dirs.input)
            job_state: queued
            submission_time: '2026-01-02 03:04:05'
            stdout_file: job.out
            stderr_file: job.err
            resources:
              nnodes: 1
              ncpus: 1
              mem:
                value: 204800
              walltime: 0:10:00
              work_dir: scratch
            transfer_mode:
            - success
            x_future_field: kept as it is

            """
        try Files.write(infoPath, written)
        try SlurmCluster.release(job.id)
        let rec = try #require(try SlurmCluster.waitForEnd(job).first)
        let why = managedJob.diagnostics()
        #expect(rec.state == "COMPLETED", why)
        #expect(rec.exitCode == "0:0", why)

        try #require(Files.read(infoPath) != written, "qq-run never updated the state file\n\(why.rawValue)")
        let info = try StateFiles.load(infoPath, job: managedJob)
        let wd = expectedWorkDir(dirs.scratch, me.name, job.id)
        #expect(info.jobState == .finished, why)
        #expect(info.jobExitCode == 0, why)
        #expect(info.workDir == wd, why)
        // R72: the submitter's fields are kept.
        #expect(info.qqVersion == "0.10.2", why)
        #expect(info.submissionTime.description == "2026-01-02 03:04:05", why)
        #expect(info.resources.walltime == "0:10:00", why)
        #expect(info.resources.mem?.kilobytes == 204800, why)
        #expect(info.inputMachine == host, why)
        #expect(info.transferMode == ["success"], why)
        let text = Files.read(infoPath) ?? ""
        #expect(text.contains("x_future_field: kept as it is"), "unknown keys are kept (R29)\n\(text)")

        // The script ran from the work dir (R71), with QQ_INFO as given.
        #expect(dirs.probeFile("script") == "\(wd)/job.sh", why)
        #expect(dirs.probeFile("pwd") == wd, why)
        #expect(dirs.probeFile("qq_info") == infoPath, why)
        #expect(Files.read("\(dirs.input)/result.txt") == "6\n", why)
        #expect(Files.read("\(dirs.input)/job.out")?.contains("managed") == true, why)
        #expect(!Files.exists(wd), why)
        #expect((Files.read("\(dirs.input)/job.qqout") ?? "").contains("Job completed with an exit code of 0."), why)
    }

    // (g) input-dir job
    @Test("(g) work-dir=input_dir: input dir intact, nothing removed, no synchronized field")
    func inputDirJob() throws {
        let dirs = try TestDirs("g-inputdir")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            # qq work-dir=input_dir
            printf '%s\\n' "$PWD" > "$QQ_IT_PROBE/pwd"
            wc -w < input.txt | tr -d ' ' > result.txt
            echo "in place"
            """)
        try dirs.put("input.txt", wordsInput)
        try dirs.put("sub/keep.dat", "keep me\n")
        let before = Files.snapshot(dirs.input)

        let job = try SlurmCluster.submit("job.sh", dirs: dirs)
        let rec = try #require(try SlurmCluster.waitForEnd(job).first)
        let why = job.diagnostics()
        #expect(rec.state == "COMPLETED", why)

        let info = try StateFiles.load("\(dirs.input)/job.qqinfo", job: job)
        #expect(info.jobState == .finished, why)
        #expect(info.jobExitCode == 0, why)
        #expect(info.workDir == dirs.input, why)
        #expect(info.resources.workDir == "input_dir", why)
        #expect(info.synchronized == nil, why)
        let text = Files.read("\(dirs.input)/job.qqinfo") ?? ""
        #expect(!StateFiles.hasKey(text, "synchronized"), "no 'synchronized' for input-dir jobs (R100)\n\(text)")

        #expect(dirs.probeFile("pwd") == dirs.input, why)
        let after = Files.snapshot(dirs.input)
        for (path, content) in before {
            #expect(after[path] == content, "input file '\(path)' changed or removed")
        }
        #expect(after["result.txt"] == "6\n", why)
        #expect(after["job.out"]?.contains("in place") == true, why)
        #expect(Files.list(dirs.scratch).isEmpty, "nothing is created on scratch for an input-dir job")
    }

    // Scenario 13: array tasks
    @Test("Scenario 13: array tasks in one dir get job_<A>_<T>.qqinfo and their own work dirs")
    func arrayTasks() throws {
        let dirs = try TestDirs("13-array")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            echo "task $SLURM_ARRAY_TASK_ID index ${QQ_ARRAY_INDEX:-}" > "result_$SLURM_ARRAY_TASK_ID.txt"
            printf '%s\\n' "$PWD" > "$QQ_IT_PROBE/pwd_$SLURM_ARRAY_TASK_ID"
            """)
        let job = try SlurmCluster.submit("job.sh", dirs: dirs, options: ["--array=1-2"])
        let records = try SlurmCluster.waitForEnd(job)
        let why = job.diagnostics()
        #expect(records.count == 2, why)

        let arrayID = job.id
        var workDirs = Set<String>()
        for rec in records {
            let task = try #require(rec["ArrayTaskId"], why)
            #expect(rec["ArrayJobId"] == arrayID, why)
            #expect(rec.state == "COMPLETED", why)
            let info = try StateFiles.load("\(dirs.input)/job_\(arrayID)_\(task).qqinfo", job: job)
            let wd = expectedWorkDir(dirs.scratch, me.name, rec.jobID)
            #expect(info.jobID == rec.jobID, why)
            #expect(info.jobName == "job_\(arrayID)_\(task).sh", why)
            #expect(info.arrayJobID == arrayID, why)
            #expect(info.arrayTaskID == task, why)
            #expect(info.jobState == .finished, why)
            #expect(info.stdoutFile == "job_\(arrayID)_\(task).out", why)
            #expect(info.workDir == wd, why)
            #expect(dirs.probeFile("pwd_\(task)") == wd, why)
            #expect(Files.read("\(dirs.input)/result_\(task).txt") == "task \(task) index \(task)\n", why)
            #expect(Files.isRegular("\(dirs.input)/job_\(arrayID)_\(task).out"), why)
            workDirs.insert(wd)
        }
        #expect(workDirs.count == 2, why)
        #expect(!Files.exists("\(dirs.input)/job.qqinfo"), why)
    }

    // Scenario 15, as the unprivileged user
    @Test("Scenario 15 as qqtest: <root>/<user> owned by another uid -> <user>2",
          .enabled(if: SlurmCluster.shouldRunAsOtherUser, "submitting as qqtest needs root"))
    func fallbackUserUnprivileged() throws {
        try SlurmCluster.require()
        let user = try #require(TestUser.lookup(TestUser.unprivilegedName),
                                "user '\(TestUser.unprivilegedName)' is missing: run scripts/slurm-harness.sh start")
        #expect(user.uid != 0)
        try #require(getuid() == 0, "submitting as another user needs root (runuser)")
        let dirs = try TestDirs("15-fallback-user", owner: user)
        // <root>/qqtest exists and belongs to root: unusable for qqtest.
        try Files.mkdir("\(dirs.scratch)/\(user.name)", mode: 0o755)
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            # A permission test must not run as uid 0 (R148).
            if [ "$(id -u)" = 0 ]; then echo "running as root" >&2; exit 97; fi
            id -u > "$QQ_IT_PROBE/uid"
            printf '%s\\n' "$PWD" > "$QQ_IT_PROBE/pwd"
            echo ok > ok.txt
            """, owner: user)

        let job = try SlurmCluster.submit("job.sh", dirs: dirs, as: user)
        let rec = try #require(try SlurmCluster.waitForEnd(job).first)
        let why = job.diagnostics()
        #expect(rec.state == "COMPLETED", why)
        #expect(dirs.probeFile("uid") == String(user.uid), "the job must run as \(user.name), not root")

        let info = try StateFiles.load("\(dirs.input)/job.qqinfo", job: job)
        let wd = expectedWorkDir(dirs.scratch, "\(user.name)2", job.id)
        #expect(info.username == user.name, why)
        #expect(info.jobState == .finished, why)
        #expect(info.workDir == wd, why)
        #expect(dirs.probeFile("pwd") == wd, why)
        #expect(Files.owner("\(dirs.scratch)/\(user.name)2") == user.uid, why)
        #expect(Files.mode("\(dirs.scratch)/\(user.name)2") == 0o700, why)
        #expect(Files.list("\(dirs.scratch)/\(user.name)").isEmpty, "the other uid's dir is untouched")
        #expect(Files.read("\(dirs.input)/ok.txt") == "ok\n", why)
        #expect(Files.owner("\(dirs.input)/job.qqinfo") == user.uid, why)
    }

    // Scenario 24: `qq run` shebang; qq-run is the batch process; KillWait learned; scancel -> 143
    @Test("Scenario 24: #!/usr/bin/env -S qq run; same pid as Slurm's batch process; scancel -> 143 within KillWait")
    func qqRunShebangScancel() throws {
        let killWait = 5.0   // scripts/slurm-harness.sh: KillWait=5; the job gets no QQ_KILL_WAIT
        let dirs = try TestDirs("24-qq-run")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq run
            echo "ppid=$PPID task_pid=${SLURM_TASK_PID:-unset}"
            echo "$PPID" > "$QQ_IT_PROBE/ppid"
            echo "${SLURM_TASK_PID:-unset}" > "$QQ_IT_PROBE/task_pid"
            cat "/proc/$PPID/comm" > "$QQ_IT_PROBE/parent_comm"
            echo "checkpoint 1" > result.txt
            trap '' TERM          # ignore SIGTERM: only qq-run's SIGKILL after its grace ends this
            echo started > "$QQ_IT_PROBE/started"
            while :; do sleep 1; done
            """)
        let job = try SlurmCluster.submit("job.sh", dirs: dirs, env: ["QQ_DEBUG": "1"])
        try SlurmCluster.waitForFile("\(dirs.probe)/started", job: job)

        // qq-run is the process Slurm started (env -> qq -> qq-run exec'd, no fork): the script's
        // parent is qq-run and has the batch task's pid.
        let taskPID = dirs.probeFile("task_pid")
        #expect(taskPID != nil && taskPID != "unset", job.diagnostics())
        #expect(dirs.probeFile("ppid") == taskPID, job.diagnostics())
        #expect(dirs.probeFile("parent_comm")?.hasPrefix("qq-run") == true, job.diagnostics())
        let running = try StateFiles.load("\(dirs.input)/job.qqinfo", job: job)
        #expect(running.runnerPID.map(String.init) == taskPID, job.diagnostics())

        let t0 = Clock.now
        SlurmCluster.scancel(job.id)
        let rec = try #require(try SlurmCluster.waitForEnd(job, timeout: 30).first)
        let took = Clock.now - t0
        let why = job.diagnostics("scancel to end: \(took) s")

        // Exit 143 recorded by Slurm means qq-run ended by itself, before Slurm's SIGKILL (0:9):
        // it learned KillWait=5 and used a grace below it.
        #expect(rec.exitCode == "143:0", why)
        #expect(took < killWait + 3, why)   // + Slurm's own completion

        let info = try StateFiles.load("\(dirs.input)/job.qqinfo", job: job)
        #expect(info.jobState == .killed, why)
        #expect(info.killReason == .cancelled, why)
        #expect(info.jobExitCode == nil, why)
        #expect(info.stageOut?.mode == .rescue, why)
        #expect(info.synchronized == false, why)
        #expect(Files.read("\(dirs.input)/job.out")?.contains("ppid=") == true, why)
        #expect(Files.read("\(dirs.input)/result.txt") == "checkpoint 1\n", why)
        #expect(Files.isDirectory(expectedWorkDir(dirs.scratch, me.name, job.id)), why)
        let log = Files.read(job.outputPath) ?? ""
        #expect(log.contains("Execution was terminated by SIGTERM."), why)
    }
}
