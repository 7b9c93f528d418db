// qq-wipe and qq-clear on a real one-host Slurm (issue 5, item 6; scenarios 18, 20, 21, 27).

import Glibc
import Testing
@testable import QQCore

@Suite("Real Slurm: qq-wipe and qq-clear", .serialized, .enabled(if: SlurmCluster.shouldRun, "no Slurm cluster (start it with scripts/slurm-harness.sh)"))
struct SlurmCleanupTests {
    let me = TestUser.current

    /// A built tool run as `user` (through runuser, with exactly the test environment), in the input dir.
    func runToolAs(_ user: TestUser, _ argv: [String], dirs: TestDirs) throws -> CommandResult {
        var env = try SlurmCluster.baseEnvironment(for: user)
        env["QQ_SCRATCH_ROOT"] = dirs.scratch
        env["QQ_FLASH_ROOT"] = dirs.flash
        env["PWD"] = dirs.input
        let assignments = env.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return Command.run(["runuser", "-u", user.name, "--", "env", "-i"] + assignments + argv,
                           environment: env, cwd: dirs.input, timeout: 60)
    }

    func workDir(_ dirs: TestDirs, _ id: String) -> String { "\(dirs.scratch)/\(me.name)/qq-jobs/job_\(id)" }

    @Test("qq-wipe: a failed job's work dir is deleted once; running and finished jobs are refused; a forged work_dir is refused with --force (scenario 20)")
    func wipeRefusalsAndSuccess() throws {
        try SlurmCluster.require()
        let dirs = try TestDirs("wipe")
        try dirs.put("failed.sh", qqScript("echo partial > partial.txt; exit 3"))
        let failed = try SlurmCluster.submit("failed.sh", dirs: dirs)
        try dirs.put("finished.sh", qqScript("echo ok > ok.txt"))
        let finished = try SlurmCluster.submit("finished.sh", dirs: dirs)
        try dirs.put("running.sh", qqScript("""
            echo started > "$QQ_IT_PROBE/running"
            while [ ! -e "$QQ_IT_PROBE/go" ]; do sleep 0.2; done
            """))
        let running = try SlurmCluster.submit("running.sh", dirs: dirs)
        defer { _ = try? Files.write("\(dirs.probe)/go", ""); SlurmCluster.scancel(running.id) }
        try SlurmCluster.waitForEnd(failed)
        try SlurmCluster.waitForEnd(finished)
        try SlurmCluster.waitForFile("\(dirs.probe)/running", job: running, timeout: 120)

        let wd = workDir(dirs, failed.id)
        let why = failed.diagnostics()
        try #require(Files.isDirectory(wd), why)

        // Without -y and without a terminal: refused, nothing deleted.
        let unconfirmed = try runTool(["qq-wipe", "failed.qqinfo"], dirs: dirs)
        #expect(unconfirmed.exitCode == 91)
        #expect(unconfirmed.stderr.contains("Confirmation required; rerun with -y."), Comment(rawValue: unconfirmed.description))
        #expect(Files.isDirectory(wd))

        let wiped = try runTool(["qq-wipe", "-y", "failed.qqinfo"], dirs: dirs)
        keepSample("qq-wipe-failed.txt", wiped.description)
        #expect(wiped.exitCode == 0, Comment(rawValue: wiped.description))
        #expect(wiped.stdout.contains("Job has failed"))
        #expect(wiped.stderr.contains("Deleted the working directory of the job '\(failed.id)'."))
        #expect(!Files.exists(wd), why)
        #expect(try StateFiles.load("\(dirs.input)/failed.qqinfo").wiped != nil)
        #expect(Files.read("\(dirs.input)/failed.sh") != nil, "the input dir is untouched")

        let again = try runTool(["qq-wipe", "-y", failed.id], dirs: dirs, cwd: "/")
        #expect(again.exitCode == 0, Comment(rawValue: again.description))
        #expect(again.stderr.contains("Working directory was already deleted at "))

        let live = try runTool(["qq-wipe", "--force", "running.qqinfo"], dirs: dirs)
        #expect(live.exitCode == 91)
        #expect(live.stderr.contains("Job '\(running.id)' is still running in the batch system."), Comment(rawValue: live.description))
        #expect(Files.isDirectory(workDir(dirs, running.id)))

        let done = try runTool(["qq-wipe", "-y", "finished.qqinfo"], dirs: dirs)
        #expect(done.exitCode == 91)
        #expect(done.stderr.contains("Job has been completed and was synchronized: working directory no longer exists."),
                Comment(rawValue: done.description))

        // Scenario 20: a forged work_dir (a home-like directory outside every scratch root).
        let home = "\(dirs.base)/home-jdoe"
        try Files.mkdir(home)
        try Files.write("\(home)/thesis.tex", "precious\n")
        var forged = try StateFiles.load("\(dirs.input)/failed.qqinfo")
        forged.workDir = home
        forged.wiped = nil
        try InfoFile.writeRecord(forged, to: "\(dirs.input)/forged.qqinfo")
        let refused = try runTool(["qq-wipe", "--force", "forged.qqinfo"], dirs: dirs)
        #expect(refused.exitCode == 91)
        #expect(refused.stderr.contains("Working directory '\(home)' is not inside a known scratch location; refusing to delete it."),
                Comment(rawValue: refused.description))
        #expect(Files.read("\(home)/thesis.tex") == "precious\n")
    }

    @Test("Scenario 18: qq-run SIGKILLed; qq-info says lost; qq-wipe wipes and records killed/lost/wiped")
    func lostJob() throws {
        try SlurmCluster.require()
        let dirs = try TestDirs("wipe-lost")
        try dirs.put("lost.sh", qqScript("echo $PPID > \"$QQ_IT_PROBE/runner\"; sleep 600"))
        let job = try SlurmCluster.submit("lost.sh", dirs: dirs, env: ["QQ_HEARTBEAT_INTERVAL": "1"])
        defer { SlurmCluster.scancel(job.id) }
        try SlurmCluster.waitForFile("\(dirs.probe)/runner", job: job, timeout: 120)
        let pid = try #require(dirs.probeFile("runner").flatMap { Int32($0) })
        #expect(kill(pid, SIGKILL) == 0)
        try SlurmCluster.waitForEnd(job)
        Clock.sleep(4)
        let why = job.diagnostics()
        let wd = workDir(dirs, job.id)
        try #require(Files.isDirectory(wd), why)

        let env = ["QQ_CLOCK_SKEW": "0"]
        let info = try runTool(["qq-info", "-s"], dirs: dirs, env: env)
        #expect(info.stdout == "\(job.id)    lost\n", Comment(rawValue: info.description))
        let wipe = try runTool(["qq-wipe", "-y"], dirs: dirs, env: env)
        keepSample("qq-wipe-lost.txt", wipe.description)
        #expect(wipe.exitCode == 0, Comment(rawValue: wipe.description))
        #expect(wipe.stdout.contains("Job has been lost"))
        #expect(!Files.exists(wd), why)
        let after = try StateFiles.load("\(dirs.input)/lost.qqinfo")
        #expect(after.jobState == .killed, why)
        #expect(after.killReason == .lost, why)
        #expect(after.wiped != nil, why)
        #expect(after.completionTime != nil && after.completionTime == after.heartbeat, why)
        let shown = try runTool(["qq-info"], dirs: dirs, env: env)
        #expect(shown.stdout.contains("[reason: lost]"), Comment(rawValue: shown.description))
    }

    @Test("Scenario 27: --array=1-3, queries by the master id while task 3 runs; qq-wipe and qq-clear refuse it")
    func arrayMasterID() throws {
        try SlurmCluster.require()
        let dirs = try TestDirs("array-master")
        try dirs.put("job.sh", qqScript("""
            if [ "$SLURM_ARRAY_TASK_ID" = 3 ]; then
              echo started > "$QQ_IT_PROBE/task3"
              while [ ! -e "$QQ_IT_PROBE/go" ]; do sleep 0.2; done
            fi
            """))
        let job = try SlurmCluster.submit("job.sh", dirs: dirs, options: ["--array=1-3"])
        defer { _ = try? Files.write("\(dirs.probe)/go", ""); SlurmCluster.scancel(job.id) }
        try SlurmCluster.waitForFile("\(dirs.probe)/task3", job: job, timeout: 120)
        // Tasks 1 and 2 end on their own.
        let deadline = Clock.now + 60
        while Clock.now < deadline {
            let others = SlurmCluster.records(job.id).filter { $0["ArrayTaskId"] != "3" }
            if others.count == 2 && others.allSatisfy(\.isFinal) { break }
            Clock.sleep(0.3)
        }
        let task3 = try #require(SlurmCluster.records(job.id).first { $0["ArrayTaskId"] == "3" }, job.diagnostics())
        let why = job.diagnostics()

        let info = try runTool(["qq-info", "-s", job.id], dirs: dirs, cwd: "/")
        #expect(info.stdout == "\(task3.jobID)    running\n", Comment(rawValue: info.description + why.rawValue))
        let byTask = try runTool(["qq-info", "-s", "\(job.id)_1"], dirs: dirs, cwd: "/")
        #expect(byTask.stdout.hasSuffix("    finished\n"), Comment(rawValue: byTask.description))

        let wipe = try runTool(["qq-wipe", "--force", job.id], dirs: dirs, cwd: "/")
        #expect(wipe.exitCode == 91)
        #expect(wipe.stderr.contains("is still running in the batch system."), Comment(rawValue: wipe.description))
        #expect(Files.isDirectory(workDir(dirs, task3.jobID)), why)

        let task3Info = "\(dirs.input)/job_\(job.id)_3.qqinfo"
        let clear = try runTool(["qq-clear", "--force"], dirs: dirs)
        #expect(clear.exitCode == 0, Comment(rawValue: clear.description))
        #expect(Files.isRegular(task3Info), Comment(rawValue: clear.description))
        #expect(!Files.exists("\(dirs.input)/job_\(job.id)_1.qqinfo"), Comment(rawValue: clear.description))
    }

    @Test("Scenario 21 on Slurm: --orphans lists live/finished/failed/killed dirs; nothing live or unsynchronized goes without the flags")
    func orphanSweep() throws {
        try SlurmCluster.require()
        let dirs = try TestDirs("orphans")
        try dirs.put("live.sh", qqScript("""
            echo started > "$QQ_IT_PROBE/live"
            while [ ! -e "$QQ_IT_PROBE/go" ]; do sleep 0.2; done
            """))
        let live = try SlurmCluster.submit("live.sh", dirs: dirs)
        defer { _ = try? Files.write("\(dirs.probe)/go", ""); SlurmCluster.scancel(live.id) }
        try dirs.put("fin.sh", qqScript("echo ok > ok.txt"))
        let fin = try SlurmCluster.submit("fin.sh", dirs: dirs)
        try dirs.put("fail.sh", qqScript("exit 3"))
        let fail = try SlurmCluster.submit("fail.sh", dirs: dirs)
        try dirs.put("kill.sh", qqScript("echo started > \"$QQ_IT_PROBE/kill\"; sleep 600"))
        let killed = try SlurmCluster.submit("kill.sh", dirs: dirs)
        try SlurmCluster.waitForEnd(fin)
        try SlurmCluster.waitForEnd(fail)
        try SlurmCluster.waitForFile("\(dirs.probe)/kill", job: killed, timeout: 120)
        SlurmCluster.scancel(killed.id)
        try SlurmCluster.waitForEnd(killed)
        try SlurmCluster.waitForFile("\(dirs.probe)/live", job: live, timeout: 120)

        // The finished job's dir is gone (synchronized); put one back as a leftover with its marker.
        let finDir = workDir(dirs, fin.id)
        try #require(!Files.exists(finDir), fin.diagnostics())
        try Files.mkdir(finDir, mode: 0o700)
        try Files.write("\(finDir)/leftover.dat", String(repeating: "x", count: 5000))
        try InfoFile.writeMarker(WorkDirMarker(jobID: fin.id, infoFile: "\(dirs.input)/fin.qqinfo", inputDir: dirs.input,
                                               batchSystem: .slurm, cluster: "qqtest", mainNode: hostName(),
                                               created: Timestamp.now(), runner: "test"), to: "\(finDir)/.qq-run-marker")
        let all = [live, fin, fail, killed].map { workDir(dirs, $0.id) }
        for d in all { try #require(Files.isDirectory(d), "missing \(d)") }
        let why = Comment(rawValue: [live, fin, fail, killed].map { $0.diagnostics().rawValue }.joined(separator: "\n"))

        let listing = try runTool(["qq-wipe", "--orphans"], dirs: dirs)
        keepSample("qq-wipe-orphans.txt", listing.stdout)
        #expect(listing.exitCode == 0, Comment(rawValue: listing.description))
        let rows = listing.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(rows.first == "JOB ID STATE SYNCED SIZE AGE WORKING DIRECTORY", Comment(rawValue: listing.stdout))
        #expect(!listing.stdout.contains(all[0]), "the live job's dir is not an orphan")
        #expect(rows.contains { $0.hasPrefix("\(fin.id) finished yes ") && $0.hasSuffix(all[1]) }, Comment(rawValue: listing.stdout))
        #expect(rows.contains { $0.hasPrefix("\(fail.id) failed no ") && $0.hasSuffix(all[2]) }, Comment(rawValue: listing.stdout))
        #expect(rows.contains { $0.hasPrefix("\(killed.id) killed no ") && $0.hasSuffix(all[3]) }, Comment(rawValue: listing.stdout))
        #expect(rows.last == "1 orphaned working directory would be deleted.")
        for d in all { #expect(Files.isDirectory(d), why) }

        let yes = try runTool(["qq-wipe", "--orphans", "--yes"], dirs: dirs)
        #expect(yes.exitCode == 0, Comment(rawValue: yes.description))
        #expect(yes.stderr.contains("Deleted 1 orphaned working directory; 2 kept because their results may not have been copied back (SYNCED 'no' or '?'). Rerun as 'qq-wipe --orphans --yes --include-unsynced' to delete them too."),
                Comment(rawValue: yes.description))
        #expect(!Files.exists(all[1]))
        for d in [all[0], all[2], all[3]] { #expect(Files.isDirectory(d), why) }

        let everything = try runTool(["qq-wipe", "--orphans", "--yes", "--include-unsynced"], dirs: dirs)
        #expect(everything.exitCode == 0, Comment(rawValue: everything.description))
        #expect(!Files.exists(all[2]) && !Files.exists(all[3]), Comment(rawValue: everything.description))
        #expect(Files.isDirectory(all[0]), "the live job's dir is never deleted")
        #expect(try StateFiles.load("\(dirs.input)/fail.qqinfo").wiped != nil)
    }

    @Test("Issue 8 item 5 (qqtest): qq-wipe behind an unsearchable qq-jobs dir exits 91 with the reason, keeps the dir and records nothing",
          .enabled(if: SlurmCluster.shouldRunAsOtherUser, "running as qqtest needs root (runuser)"))
    func wipeThatCannotExamineTheWorkDir() throws {
        try SlurmCluster.require()
        let user = try #require(TestUser.lookup(TestUser.unprivilegedName), "run scripts/slurm-harness.sh start")
        #expect(user.uid != 0, "a permission test must not run as uid 0 (R148)")
        let dirs = try TestDirs("wipe-eacces", owner: user)
        try dirs.put("failed.sh", qqScript("echo partial > partial.txt; exit 3"), owner: user)
        let job = try SlurmCluster.submit("failed.sh", dirs: dirs, as: user)
        try SlurmCluster.waitForEnd(job)
        let why = job.diagnostics()
        let jobs = "\(dirs.scratch)/\(user.name)/qq-jobs"
        let wd = "\(jobs)/job_\(job.id)"
        try #require(Files.isDirectory(wd), why)
        let infoPath = "\(dirs.input)/failed.qqinfo"
        let before = try #require(Files.read(infoPath), why)

        #expect(chmod(jobs, 0o000) == 0)
        defer { _ = chmod(jobs, 0o755) }
        let wipe = try runToolAs(user, ["qq-wipe", "-y"], dirs: dirs)
        keepSample("qq-wipe-eacces.txt", wipe.description)
        #expect(wipe.exitCode == 91, Comment(rawValue: wipe.description))
        #expect(wipe.stderr.contains("Cannot examine the working directory '\(wd)': Permission denied. It may still exist, so it is neither deleted nor taken as deleted. '\(jobs)' cannot be searched by you: restore its permissions (e.g. chmod u+rwx '\(jobs)') and try again."),
                Comment(rawValue: wipe.description))
        #expect(!wipe.stderr.contains("Deleted"), Comment(rawValue: wipe.description))
        #expect(Files.read(infoPath) == before, "nothing is recorded in the state file")

        let sweep = try runToolAs(user, ["qq-wipe", "--orphans", "--yes", "--include-unsynced"], dirs: dirs)
        keepSample("qq-wipe-orphans-eacces.txt", sweep.description)
        #expect(sweep.exitCode == 91, Comment(rawValue: sweep.description))
        #expect(sweep.stderr.contains("Cannot list '\(jobs)': Permission denied; the job directories in it are not listed and none of them is deleted."),
                Comment(rawValue: sweep.description))
        #expect(Files.read(infoPath) == before)

        _ = chmod(jobs, 0o755)
        #expect(Files.read("\(wd)/partial.txt") == "partial\n", "the work dir is still there")
        let retried = try runToolAs(user, ["qq-wipe", "-y"], dirs: dirs)
        #expect(retried.exitCode == 0, Comment(rawValue: retried.description))
        #expect(!Files.exists(wd))
        #expect(try StateFiles.load(infoPath).wiped != nil)
    }

    @Test("Scenario 19 on Slurm: qq-clear removes a failed job's runtime files and keeps an unrelated notes.out")
    func clearKeepsUnrelatedFiles() throws {
        try SlurmCluster.require()
        let dirs = try TestDirs("clear")
        try dirs.put("job.sh", qqScript("echo out; echo err >&2; exit 2"))
        try dirs.put("notes.out", "my notes\n")
        let job = try SlurmCluster.submit("job.sh", dirs: dirs, outputInInputDir: true)
        try SlurmCluster.waitForEnd(job)
        let why = job.diagnostics()
        for f in ["job.qqinfo", "job.out", "job.err"] { try #require(Files.isRegular("\(dirs.input)/\(f)"), why) }
        let r = try runTool(["qq-clear"], dirs: dirs)
        #expect(r.exitCode == 0, Comment(rawValue: r.description))
        #expect(r.stderr.contains("Removed 3 qq files."), Comment(rawValue: r.description))
        #expect(r.stderr.contains("Note: the working directory '\(workDir(dirs, job.id))' of job '\(job.id)' still exists"))
        for f in ["job.qqinfo", "job.out", "job.err"] { #expect(!Files.exists("\(dirs.input)/\(f)"), why) }
        #expect(Files.read("\(dirs.input)/notes.out") == "my notes\n")
        #expect(Files.isRegular("\(dirs.input)/job.sh"))
    }
}
