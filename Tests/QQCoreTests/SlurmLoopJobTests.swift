// Loop and continuous jobs on a real one-host Slurm (issue 11 item 5; SPEC §10): plain-mode cycles
// resubmitted with sbatch, exit code 95, a failing cycle, the submission options carried over, a
// cycle continued after its time limit, and the exact `qq submit` command of a qq-managed cycle.
// Each cycle is a real Slurm job that depends on the one before.

import Foundation
import Glibc
import Testing
@testable import QQCore

@Suite("Real Slurm: loop and continuous jobs",
       .enabled(if: SlurmCluster.shouldRunAsOtherUser, "needs root and a Slurm cluster (scripts/slurm-harness.sh start)"))
struct SlurmLoopJobTests {
    let me = TestUser.current

    /// A loop script in the style of qq's `qq_loop_md`: cycle N writes `mdN.dat` from the checkpoint
    /// the cycle before left (`mdN.cpt`) and leaves `md<N+1>.cpt` for the next one.
    func loopScript(end: Int, extra: String = "", body: String = "") -> String {
        """
        #!/usr/bin/env -S qq-run
        # qq job-type=loop
        # qq loop-end \(end)
        # qq archive storage
        # qq archive-format md%04d
        \(extra)
        printf -v CURR "$QQ_ARCHIVE_FORMAT" "$QQ_LOOP_CURRENT"
        printf -v NEXT "$QQ_ARCHIVE_FORMAT" "$((QQ_LOOP_CURRENT + 1))"
        \(body)
        { echo "cycle $QQ_LOOP_CURRENT of $QQ_LOOP_START-$QQ_LOOP_END"; cat "$CURR.cpt" 2>/dev/null || echo "no checkpoint"; } > "$CURR.dat"
        echo "state after cycle $QQ_LOOP_CURRENT" > "$NEXT.cpt"
        echo "ran cycle $QQ_LOOP_CURRENT"
        """
    }

    /// Follows a chain of cycles: waits for each job, then reads the next one's id from the cycle's
    /// state file (in the input dir, or already archived by the next cycle).
    func followCycles(_ first: SlurmJob, infoFiles: [String], timeout: Double = 120) throws -> [(id: String, record: JobRecord)] {
        var chain: [(String, JobRecord)] = []
        var job = first
        for (index, candidates) in infoFiles.enumerated() {
            let rec = try #require(try SlurmCluster.waitForEnd(job, timeout: timeout).first, job.diagnostics())
            chain.append((job.id, rec))
            guard index + 1 < infoFiles.count else { break }
            let paths = candidates.split(separator: "|").map { "\(first.dirs.input)/\($0)" }
            var next: String?
            let deadline = Clock.now + 30
            while next == nil && Clock.now < deadline {
                for p in paths { if let r = try? InfoFile.load(path: p, tornReadRetries: 0), let n = r.nextJobID { next = n } }
                if next == nil { Clock.sleep(0.3) }
            }
            let id = try #require(next, "cycle \(index + 1) (job \(job.id)) named no next job\n\(job.diagnostics().rawValue)")
            job = SlurmJob(id: id, dirs: first.dirs, user: first.user, outputPath: "\(first.dirs.logs)/slurm-\(id).out")
        }
        return chain
    }

    /// Jobs still in the queue whose working directory is this test's input dir (other tests'
    /// jobs run at the same time, under the same script names).
    func queuedJobs(in dir: String) -> [String] {
        let r = Command.run(["squeue", "-h", "-o", "%i %Z"], timeout: 15)
        return r.stdout.split(separator: "\n").filter { $0.hasSuffix(" " + dir) }.map(String.init)
    }

    @Test("(a) A plain loop job with loop-end=3 runs three dependent cycles, archives each under qq's names, and stops")
    func plainLoopRunsThreeCycles() throws {
        let dirs = try TestDirs("loop-a")
        try dirs.put("md.sh", loopScript(end: 3))
        let first = try SlurmCluster.submit("md.sh", dirs: dirs)
        let chain = try followCycles(first, infoFiles: ["md+0001.qqinfo|storage/md0001.qqinfo",
                                                         "md+0002.qqinfo|storage/md0002.qqinfo", "md+0003.qqinfo"])
        try #require(chain.count == 3)
        let why = first.diagnostics("chain: \(chain.map(\.id))")
        for (_, rec) in chain { #expect(rec.state == "COMPLETED", why) }
        // Each cycle was queued while the one before ran, and started after it had ended.
        for k in 1..<chain.count {
            let before = chain[k - 1].record, after = chain[k].record
            #expect(after["JobName"] == "md+000\(k + 1).sh", why)
            #expect((after["SubmitTime"] ?? "") <= (before["EndTime"] ?? ""), why)
            #expect((after["StartTime"] ?? "") >= (before["EndTime"] ?? ""), why)
        }
        let archive = "\(dirs.input)/storage"
        let archived = Set(Files.list(archive))
        for name in ["md0001.qqinfo", "md0001.out", "md0001.err", "md0002.qqinfo", "md0002.out", "md0002.err",
                     "md0001.dat", "md0002.dat", "md0003.dat", "md0002.cpt", "md0003.cpt", "md0004.cpt"] {
            #expect(archived.contains(name), "\(name) is in the archive: \(archived.sorted())")
        }
        // The third cycle continued from what the second left.
        #expect(Files.read("\(archive)/md0003.dat") == "cycle 3 of 1-3\nstate after cycle 2\n", why)
        #expect(Files.read("\(archive)/md0001.dat") == "cycle 1 of 1-3\nno checkpoint\n", why)
        // Archived records are the cycles' own state files.
        let cycle1 = try InfoFile.load(path: "\(archive)/md0001.qqinfo")
        #expect(cycle1.jobID == chain[0].id && cycle1.jobState == .finished && cycle1.jobName == "md+0001.sh", why)
        #expect(Files.read("\(archive)/md0002.out")?.contains("ran cycle 2") == true, why)
        // The last cycle is in the input dir, finished, and submitted nothing.
        let last = try InfoFile.load(path: "\(dirs.input)/md+0003.qqinfo")
        #expect(last.jobState == .finished && last.jobType == .loop && last.loopInfo?.current == 3, why)
        #expect(last.nextJobID == nil, why)
        let log = Files.read("\(dirs.logs)/slurm-\(chain[2].id).out") ?? ""
        #expect(log.contains("This was the final cycle of the loop job. Not resubmitting."), "\(log)")
        #expect(queuedJobs(in: dirs.input).isEmpty, "no fourth cycle: \(queuedJobs(in: dirs.input))")
        #expect(!Files.exists("\(dirs.input)/md0001.dat"), "cycle files live in the archive, not the input dir")
    }

    @Test("(b) A continuous job whose script exits 95 in its second cycle ends finished, with no third job")
    func continuousJobStopsOn95() throws {
        let dirs = try TestDirs("loop-b")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            # qq job-type continuous
            if [ -f round1.done ]; then echo "second round, done"; exit "$QQ_NO_RESUBMIT"; fi
            echo "first round" > round1.done
            """)
        let first = try SlurmCluster.submit("job.sh", dirs: dirs)
        let chain = try followCycles(first, infoFiles: ["job.qqinfo", "job.qqinfo"])
        try #require(chain.count == 2)
        let why = first.diagnostics("chain: \(chain.map(\.id))")
        #expect(chain[1].record.state == "COMPLETED" && chain[1].record.exitCode == "0:0", why)
        let info = try InfoFile.load(path: "\(dirs.input)/job.qqinfo")
        #expect(info.jobID == chain[1].id, "each cycle takes over the same info file\n\(why.rawValue)")
        #expect(info.jobState == .finished && info.jobExitCode == 0 && info.jobType == .continuous, why)
        #expect(info.nextJobID == nil && info.resubmitError == nil, why)
        let log = Files.read("\(dirs.logs)/slurm-\(chain[1].id).out") ?? ""
        #expect(log.contains("exit code of '95' indicating that the next cycle of the job should not be submitted. Not resubmitting."), "\(log)")
        #expect(queuedJobs(in: dirs.input).isEmpty, "no third job: \(queuedJobs(in: dirs.input))")
    }

    @Test("(c) A loop cycle that fails (exit 3) is recorded failed and not resubmitted")
    func failedCycleIsNotResubmitted() throws {
        let dirs = try TestDirs("loop-c")
        try dirs.put("md.sh", loopScript(end: 3, body: "echo partial > \"$CURR.dat\"; echo \"state\" > \"$NEXT.cpt\"; exit 3"))
        let job = try SlurmCluster.submit("md.sh", dirs: dirs)
        let rec = try #require(try SlurmCluster.waitForEnd(job).first)
        let why = job.diagnostics()
        #expect(rec.exitCode == "3:0", why)
        let info = try InfoFile.load(path: "\(dirs.input)/md+0001.qqinfo")
        #expect(info.jobState == .failed && info.jobExitCode == 3, why)
        #expect(info.nextJobID == nil, why)
        #expect((Files.read(job.outputPath) ?? "").contains("Not resubmitting: this cycle failed (exit code 3)."), why)
        #expect(queuedJobs(in: dirs.input).isEmpty, "no next cycle: \(queuedJobs(in: dirs.input))")
        // archive-mode success: a failed cycle's files are not archived.
        #expect(!Files.exists("\(dirs.input)/storage/md0001.dat"), why)
    }

    @Test("(d) The next cycle is submitted with this job's partition, time limit, account and CPUs per task")
    func nextCycleKeepsTheSubmissionOptions() throws {
        let dirs = try TestDirs("loop-d")
        try dirs.put("md.sh", loopScript(end: 2))
        let first = try SlurmCluster.submit("md.sh", dirs: dirs, options: ["-p", "debug", "-t", "5", "--account=Proj_1", "-c", "2"])
        let chain = try followCycles(first, infoFiles: ["md+0001.qqinfo|storage/md0001.qqinfo", "md+0002.qqinfo"])
        try #require(chain.count == 2)
        let why = first.diagnostics("chain: \(chain.map(\.id))")
        let (one, two) = (chain[0].record, chain[1].record)
        #expect(one["Partition"] == "debug" && one["TimeLimit"] == "00:05:00" && one["CPUs/Task"] == "2", why)
        #expect(one["Account"]?.lowercased() == "proj_1", why)
        for key in ["Partition", "TimeLimit", "Account", "CPUs/Task", "NumNodes", "NumTasks", "MinMemoryNode"] {
            #expect(two[key] == one[key], "\(key): \(one[key] ?? "-") then \(two[key] ?? "-")\n\(why.rawValue)")
        }
        #expect(two.state == "COMPLETED", why)
    }

    @Test("(e) resubmit-on=timeout: a cycle killed at its time limit is rescued under real names, archived, and continued")
    func timeoutCycleIsContinued() throws {
        let dirs = try TestDirs("loop-e")
        try dirs.put("md.sh", loopScript(end: 2, extra: "# qq resubmit-on=timeout", body: """
            if [ "$QQ_LOOP_CURRENT" = 1 ]; then
              echo "checkpoint written before the limit" > "$NEXT.cpt"
              echo "partial" > "$CURR.dat"
              sleep 600
            fi
            """))
        let first = try SlurmCluster.submit("md.sh", dirs: dirs, options: ["--time=1"])
        let chain = try followCycles(first, infoFiles: ["md+0001.qqinfo|storage/md0001.qqinfo", "md+0002.qqinfo"], timeout: 400)
        try #require(chain.count == 2)
        let why = first.diagnostics("chain: \(chain.map(\.id))")
        #expect(chain[0].record.state == "TIMEOUT", why)
        #expect(chain[1].record.state == "COMPLETED", why)
        let cycle1 = try InfoFile.load(path: "\(dirs.input)/storage/md0001.qqinfo")
        #expect(cycle1.jobState == .killed && cycle1.killReason == .timeout, why)
        #expect(cycle1.nextJobID == chain[1].id, why)
        // The rescued checkpoint took its real name (no `.rescued`) and the next cycle started from it.
        #expect(Files.read("\(dirs.input)/storage/md0002.dat") == "cycle 2 of 1-2\ncheckpoint written before the limit\n", why)
        #expect(Files.read("\(dirs.input)/storage/md0001.dat") == "partial\n", why)
        #expect(!Files.list(dirs.input).contains { $0.hasSuffix(".rescued") }, why)
        let last = try InfoFile.load(path: "\(dirs.input)/md+0002.qqinfo")
        #expect(last.jobState == .finished, why)
    }

    @Test("(f) qq-managed loop cycle: qq submit is called as an argument vector, with --interpreter and a quoted name")
    func managedLoopCallsQQSubmit() throws {
        let dirs = try TestDirs("loop-f")
        let script = "my md.sh"
        try dirs.put(script, """
            #!/usr/bin/env -S qq-run
            printf -v NEXT "$QQ_ARCHIVE_FORMAT" "$((QQ_LOOP_CURRENT + 1))"
            echo next > "$NEXT.cpt"
            printf '%s\\n' "$QQ_LOOP_CURRENT $QQ_LOOP_START $QQ_LOOP_END $QQ_ARCHIVE_FORMAT $QQ_NO_RESUBMIT" > "$QQ_IT_PROBE/vars"
            """)
        // The stand-in for the Python qq: records its arguments, one per line.
        try Files.write("\(dirs.probe)/python-qq", """
            #!/bin/bash
            printf '%s\\n' "$PWD" > "\(dirs.probe)/submit-cwd"
            printf '%s\\n' "$@" > "\(dirs.probe)/submit-argv"
            env > "\(dirs.probe)/submit-env"
            echo "Job submitted."
            """, mode: 0o755)
        let infoPath = "\(dirs.input)/my+0003 md.qqinfo"
        let host = hostName()
        let job = try SlurmCluster.submit(script, dirs: dirs, options: ["--hold", "-J", "my+0003 md.sh", "-o", "\(dirs.logs)/managed.log"],
                                          env: ["QQ_ENV_SET": "true", "QQ_INFO": infoPath, "QQ_BATCH_SYSTEM": "Slurm",
                                                "QQ_INPUT_MACHINE": host, "QQ_INPUT_DIR": dirs.input,
                                                "QQ_DELEGATE": "\(dirs.probe)/python-qq"])
        let managed = SlurmJob(id: job.id, dirs: dirs, user: job.user, outputPath: "\(dirs.logs)/managed.log")
        try Files.write(infoPath, """
            # qq job info file
            batch_system: Slurm
            qq_version: 0.10.2
            username: \(me.name)
            job_id: '\(job.id)'
            job_name: my+0003 md.sh
            script_name: my md.sh
            queue: debug
            job_type: loop
            input_machine: \(host)
            input_dir: \(dirs.input)
            job_state: queued
            submission_time: '2026-01-02 03:04:05'
            stdout_file: my+0003 md.out
            stderr_file: my+0003 md.err
            resources:
              nnodes: 1
              ncpus: 2
              mem:
                value: 204800
              walltime: 0:10:00
              work_dir: scratch
              props:
                avx2: 'true'
                gpu: 'false'
            transfer_mode:
            - success
            - '42'
            depend:
            - afterok=1
            loop_info:
              start: 1
              end: 5
              archive: \(dirs.input)/storage
              archive_format: md%04d
              current: 3
              archive_mode:
              - success
            account: proj_1
            interpreter: bash

            """)
        try SlurmCluster.release(job.id)
        let rec = try #require(try SlurmCluster.waitForEnd(job).first)
        let why = managed.diagnostics()
        #expect(rec.state == "COMPLETED", why)
        #expect(dirs.probeFile("vars") == "3 1 5 md%04d 95", why)
        let argv = (Files.read("\(dirs.probe)/submit-argv") ?? "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let expected = ["submit", "my md.sh", "--queue", "debug", "--job-type", "loop", "--batch-system", "Slurm",
                        "--depend", "afterok=\(job.id)", "--nnodes", "1", "--ncpus", "2", "--mem", "204800kb",
                        "--walltime", "0:10:00", "--work-dir", "scratch", "--props", "avx2,^gpu",
                        "--account", "proj_1", "--loop-start", "1", "--loop-end", "5", "--archive", "storage",
                        "--archive-format", "md%04d", "--archive-mode", "success", "--transfer-mode", "success:42",
                        "--interpreter", "bash", ""]
        #expect(argv == expected, why)
        #expect(dirs.probeFile("submit-cwd") == dirs.input, "qq submit runs in the input dir\n\(why.rawValue)")
        let env = Files.read("\(dirs.probe)/submit-env") ?? ""
        #expect(!env.split(separator: "\n").contains { $0.hasPrefix("SLURM_JOB_ID=") || $0.hasPrefix("QQ_INFO=") },
                "qq submit gets no variables of this job\n\(env)")
        // Finished is written before qq submit runs, and stays.
        let info = try InfoFile.load(path: infoPath)
        #expect(info.jobState == .finished && info.resubmitError == nil, why)
        #expect(Files.exists("\(dirs.input)/storage/md0004.cpt"), why)
    }
}

extension SlurmLoopJobTests {
    /// An `sbatch` in front of the real one: after the test's own submission, it fails `failures`
    /// times with `message` (counting its calls in the probe dir), then hands over to /usr/bin/sbatch.
    func sbatchStandIn(_ dirs: TestDirs, failures: Int, message: String) throws -> String {
        let bin = "\(dirs.base)/standin-bin"
        try Files.mkdir(bin)
        try Files.write("\(bin)/sbatch", """
            #!/bin/bash
            # The test's own submission (not from inside a job) goes straight through.
            [ -z "$SLURM_JOB_ID" ] && [ ! -f "\(dirs.probe)/submitted" ] && { touch "\(dirs.probe)/submitted"; exec /usr/bin/sbatch "$@"; }
            n=$(( $(cat "\(dirs.probe)/sbatch-calls" 2>/dev/null || echo 0) + 1 ))
            echo "$n" > "\(dirs.probe)/sbatch-calls"
            if [ "$n" -le \(failures) ]; then echo "\(message)" >&2; exit 1; fi
            exec /usr/bin/sbatch "$@"
            """, mode: 0o755)
        return "\(bin):\(try SlurmCluster.jobPath())"
    }

    @Test("(g) A resubmission that fails while the controller is unreachable is retried, then the next cycle runs")
    func unreachableControllerIsRetried() throws {
        let dirs = try TestDirs("loop-g")
        try dirs.put("md.sh", loopScript(end: 2))
        let path = try sbatchStandIn(dirs, failures: 2, message: "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)")
        let first = try SlurmCluster.submit("md.sh", dirs: dirs, env: ["PATH": path])
        let chain = try followCycles(first, infoFiles: ["md+0001.qqinfo|storage/md0001.qqinfo", "md+0002.qqinfo"])
        let why = first.diagnostics()
        #expect(chain.count == 2 && chain[1].record.state == "COMPLETED", why)
        #expect(dirs.probeFile("sbatch-calls") == "3", why)
        let log = Files.read(first.outputPath) ?? ""
        #expect(log.contains("(attempt 1 of 8; retrying in"), "\(log)")
    }

    @Test("(h) A refused resubmission is an ERROR with the command to run by hand; the cycle stays finished")
    func refusedResubmissionIsRecordedNotFailed() throws {
        let dirs = try TestDirs("loop-h")
        try dirs.put("md.sh", loopScript(end: 3))
        let path = try sbatchStandIn(dirs, failures: 99, message: "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified")
        let job = try SlurmCluster.submit("md.sh", dirs: dirs, env: ["PATH": path])
        let rec = try #require(try SlurmCluster.waitForEnd(job).first)
        let why = job.diagnostics()
        #expect(rec.state == "COMPLETED" && rec.exitCode == "0:0", why)
        #expect(dirs.probeFile("sbatch-calls") == "1", "a refusal is not retried\n\(why.rawValue)")
        let info = try InfoFile.load(path: "\(dirs.input)/md+0001.qqinfo")
        #expect(info.jobState == .finished && info.jobExitCode == 0, why)
        let error = info.resubmitError ?? ""
        #expect(error.contains("Invalid account"), why)
        #expect(error.contains("Submit it by hand: cd \(dirs.input) && sbatch --parsable --job-name=md+0002.sh"), "\(error)")
        #expect((Files.read(job.outputPath) ?? "").contains("ERROR    Could not submit the next cycle of 'md+0001.sh'"), why)
    }
}

extension SlurmLoopJobTests {
    @Test("(i) With periodic sync, a cycle's synced copies leave the input dir once the cycle's files are archived")
    func syncedCopiesOfArchivedFilesLeaveTheInputDir() throws {
        let dirs = try TestDirs("loop-i")
        try dirs.put("md.sh", loopScript(end: 2, extra: "# qq sync-interval=2s", body: "echo early > \"$CURR.part\"; sleep 3.5"))
        let first = try SlurmCluster.submit("md.sh", dirs: dirs, env: ["QQ_SYNC_MINIMUM": "1"])
        let chain = try followCycles(first, infoFiles: ["md+0001.qqinfo|storage/md0001.qqinfo", "md+0002.qqinfo"])
        let why = first.diagnostics("input dir: \(Files.list(dirs.input))")
        #expect(chain.count == 2 && chain.allSatisfy { $0.record.state == "COMPLETED" }, why)
        let cycle1 = try InfoFile.load(path: "\(dirs.input)/storage/md0001.qqinfo")
        #expect((cycle1.sync?.count ?? 0) >= 1, "a round ran in cycle 1\n\(why.rawValue)")
        for name in ["md0001.part", "md0002.part", "md0001.dat", "md0002.dat"] {
            #expect(!Files.exists("\(dirs.input)/\(name)"), "\(name) is only in the archive\n\(why.rawValue)")
            #expect(Files.exists("\(dirs.input)/storage/\(name)"), "\(name) is in the archive\n\(why.rawValue)")
        }
        #expect(Files.read("\(dirs.input)/storage/md0002.dat") == "cycle 2 of 1-2\nstate after cycle 1\n", why)
    }
}

/// A Local loop job has no queue: `qq-run --local` runs its cycles one after another itself.
@Suite("Local loop jobs")
struct LocalLoopJobTests {
    let me = TestUser.current

    func runLocal(_ argv: [String], dirs: TestDirs) throws -> CommandResult {
        var environment = try SlurmCluster.baseEnvironment(for: me)
        environment["QQ_SCRATCH_ROOT"] = dirs.scratch
        return Command.run(argv, environment: environment, cwd: dirs.input, timeout: 60)
    }

    @Test("qq-run --local runs every cycle of a loop job, each with its own job id")
    func localLoopRunsEveryCycle() throws {
        let dirs = try TestDirs("loop-local")
        try dirs.put("md.sh", SlurmLoopJobTests().loopScript(end: 2).replacingOccurrences(of: "#!/usr/bin/env -S qq-run", with: "#!/bin/bash"))
        let run = try runLocal(["qq-run", "--local", "md.sh"], dirs: dirs)
        #expect(run.exitCode == 0, "\(run)")
        let first = try InfoFile.load(path: "\(dirs.input)/storage/md0001.qqinfo")
        let second = try InfoFile.load(path: "\(dirs.input)/md+0002.qqinfo")
        #expect(first.jobState == .finished && second.jobState == .finished, "\(run)")
        #expect(first.jobID != second.jobID, "\(run)")
        #expect(Files.read("\(dirs.input)/storage/md0002.dat") == "cycle 2 of 1-2\nstate after cycle 1\n", "\(run)")
        #expect(run.stderr.contains("This was the final cycle of the loop job. Not resubmitting."), "\(run)")
    }

    @Test("A cycle that leaves no files for the next one is not resubmitted, and the record says why")
    func cycleWithoutSuccessorFilesStops() throws {
        let dirs = try TestDirs("loop-nonext")
        try dirs.put("md.sh", "#!/bin/bash\n# qq job-type loop\n# qq loop-end 3\n# qq archive-format md%04d\necho r > md0001.dat\n")
        let run = try runLocal(["qq-run", "--local", "md.sh"], dirs: dirs)
        #expect(run.exitCode == 0, "\(run)")
        let info = try InfoFile.load(path: "\(dirs.input)/md+0001.qqinfo")
        #expect(info.jobState == .finished, "\(run)")
        #expect(info.resubmitError?.contains("holds no files for cycle 2 (such as 'md0002.cpt')") == true, "\(run)")
        #expect(!Files.exists("\(dirs.input)/md+0002.qqinfo"), "no second run of cycle 1 or 2\n\(run)")
        #expect(Files.read("\(dirs.input)/storage/md0001.dat") == "r\n", "\(run)")
    }

    @Test("A loop job without loop-end is refused before anything is created")
    func loopWithoutEndIsRefused() throws {
        let dirs = try TestDirs("loop-noend")
        try dirs.put("md.sh", "#!/bin/bash\n# qq job-type loop\necho hi\n")
        let run = try runLocal(["qq-run", "--local", "md.sh"], dirs: dirs)
        #expect(run.exitCode == 92, "\(run)")
        #expect(run.stderr.contains("A loop job needs its last cycle: add '# qq loop-end <N>' to the script"), "\(run)")
        #expect(Files.list(dirs.input) == ["md.sh"], "\(run)")
    }
}
