// qq-info on a real one-host Slurm (issue 5, item 6): a queued (held), running, finished, failed,
// killed, timed-out and lost job, shown by the built qq-info in short, full and JSON form, and
// found by job id. The renders are kept in <run base>/samples/ for the closing note.

import Foundation
import Glibc
import Testing
@testable import QQCore

/// Runs a built tool with the test environment (PATH with the test binaries first).
func runTool(_ argv: [String], dirs: TestDirs, env: [String: String] = [:], cwd: String? = nil) throws -> CommandResult {
    var e = try SlurmCluster.baseEnvironment(for: .current)
    e["QQ_SCRATCH_ROOT"] = dirs.scratch
    e["QQ_FLASH_ROOT"] = dirs.flash
    e["COLUMNS"] = "240"
    for (k, v) in env { e[k] = v }
    return Command.run(argv, environment: e, cwd: cwd ?? dirs.input, timeout: 60)
}

/// Keeps an output for the closing note: <run base>/samples/<name>, and in $QQ_TEST_SAMPLES if set.
func keepSample(_ name: String, _ text: String) {
    var dirs = [SlurmCluster.runBase + "/samples"]
    if let extra = Command.currentEnvironment()["QQ_TEST_SAMPLES"], !extra.isEmpty { dirs.append(extra) }
    for dir in dirs {
        try? Files.mkdir(dir)
        try? Files.write(dir + "/" + name, text)
    }
}

/// A plain-mode job script that runs under qq-run.
func qqScript(_ body: String) -> String { "#!/usr/bin/env -S qq-run\n" + body + "\n" }

@Suite("Real Slurm: qq-info", .serialized, .enabled(if: SlurmCluster.shouldRun, "no Slurm cluster (start it with scripts/slurm-harness.sh)"))
struct SlurmInfoTests {
    let me = TestUser.current

    @Test("qq-info shows queued, running, finished, failed, killed, timed-out and lost jobs; --short, panel, --json, by id")
    func mixOfJobs() throws {
        try SlurmCluster.require()
        let dirs = try TestDirs("info-mix")
        let heartbeat = ["QQ_HEARTBEAT_INTERVAL": "1"]

        // The time limit takes longest: submit it first.
        try dirs.put("timeout.sh", qqScript("echo started > \"$QQ_IT_PROBE/timeout\"; sleep 600"))
        let timeout = try SlurmCluster.submit("timeout.sh", dirs: dirs, options: ["--time=1"])
        try dirs.put("finished.sh", qqScript("sleep 1.5; echo ok > result.txt"))
        let finished = try SlurmCluster.submit("finished.sh", dirs: dirs)
        try dirs.put("failed.sh", qqScript("echo bad >&2; exit 3"))
        let failed = try SlurmCluster.submit("failed.sh", dirs: dirs)
        try dirs.put("killed.sh", qqScript("echo started > \"$QQ_IT_PROBE/killed\"; sleep 600"))
        let killed = try SlurmCluster.submit("killed.sh", dirs: dirs)
        try dirs.put("lost.sh", qqScript("echo $PPID > \"$QQ_IT_PROBE/lost-runner\"; sleep 600"))
        let lost = try SlurmCluster.submit("lost.sh", dirs: dirs, env: heartbeat)
        try dirs.put("running.sh", qqScript("""
            echo started > "$QQ_IT_PROBE/running"
            while [ ! -e "$QQ_IT_PROBE/go" ]; do sleep 0.2; done
            """))
        let running = try SlurmCluster.submit("running.sh", dirs: dirs, env: heartbeat)
        defer {
            _ = try? Files.write("\(dirs.probe)/go", "")
            for j in [timeout, killed, lost, running] { SlurmCluster.scancel(j.id) }
        }

        // Queued: a held qq-managed job whose file the "submitter" wrote.
        let queuedInfo = "\(dirs.input)/queued.qqinfo"
        try dirs.put("queued.sh", qqScript("true"))
        let queued = try SlurmCluster.submit("queued.sh", dirs: dirs, options: ["--hold", "-J", "queued.sh"],
                                             env: ["QQ_ENV_SET": "true", "QQ_INFO": queuedInfo, "QQ_BATCH_SYSTEM": "Slurm"])
        defer { SlurmCluster.scancel(queued.id) }
        try Files.write(queuedInfo, """
            # qq job info file
            batch_system: Slurm
            qq_version: 0.10.2
            username: \(me.name)
            job_id: '\(queued.id)'
            job_name: queued.sh
            script_name: queued.sh
            queue: debug
            job_type: standard
            input_machine: \(hostName())
            input_dir: \(dirs.input)
            job_state: queued
            submission_time: '2026-01-02 03:04:05'
            stdout_file: queued.out
            stderr_file: queued.err
            resources:
              nnodes: 1
              ncpus: 1
              work_dir: scratch

            """)

        try SlurmCluster.waitForEnd(finished)
        try SlurmCluster.waitForEnd(failed)
        try SlurmCluster.waitForFile("\(dirs.probe)/killed", job: killed, timeout: 120)
        SlurmCluster.scancel(killed.id)
        try SlurmCluster.waitForEnd(killed)
        try SlurmCluster.waitForFile("\(dirs.probe)/lost-runner", job: lost, timeout: 120)
        let runnerPID = try #require(dirs.probeFile("lost-runner").flatMap { Int32($0) })
        #expect(kill(runnerPID, SIGKILL) == 0, "cannot SIGKILL qq-run (pid \(runnerPID))")
        try SlurmCluster.waitForEnd(lost)
        try SlurmCluster.waitForFile("\(dirs.probe)/running", job: running, timeout: 120)
        try SlurmCluster.waitForEnd(timeout, timeout: 200)
        Clock.sleep(4)   // lost: older than 3 × 1 s + QQ_CLOCK_SKEW (0)

        let files = ["queued", "running", "finished", "failed", "killed", "timeout", "lost"].map { "\(dirs.input)/\($0).qqinfo" }
        let env = ["QQ_CLOCK_SKEW": "0"]
        let short = try runTool(["qq-info", "--short"] + files, dirs: dirs, env: env)
        keepSample("qq-info-short.txt", short.stdout)
        let why = Comment(rawValue: "\(short)\n" + [finished, failed, killed, lost, running, timeout].map { $0.diagnostics().rawValue }.joined(separator: "\n"))
        #expect(short.exitCode == 0, why)
        #expect(short.stdout == """
            \(queued.id)    held
            \(running.id)    running
            \(finished.id)    finished
            \(failed.id)    failed
            \(killed.id)    killed
            \(timeout.id)    killed
            \(lost.id)    lost

            """, why)

        let full = try runTool(["qq-info"] + files, dirs: dirs, env: env)
        keepSample("qq-info-full.txt", full.stdout)
        #expect(full.exitCode == 0, Comment(rawValue: full.description))
        let panels = splitPanels(full.stdout).map { normalizePanel($0).lines }
        try #require(panels.count == 7, Comment(rawValue: full.description))
        func has(_ i: Int, _ line: String) { #expect(panels[i].contains(line), "panel \(i) lacks '\(line)':\n\(panels[i].joined(separator: "\n"))") }
        func hasPrefix(_ i: Int, _ p: String) { #expect(panels[i].contains { $0.hasPrefix(p) }, "panel \(i) lacks '\(p)…':\n\(panels[i].joined(separator: "\n"))") }
        has(0, "Job state: Job is held"); has(0, "Reason: JobHeldUser")
        has(1, "Job state: Job is running"); hasPrefix(1, "Last heartbeat "); has(1, "STAGING"); hasPrefix(1, "Stage in: ")
        has(2, "Job state: Job has finished"); has(2, "Work dir: removed"); has(2, "USAGE"); hasPrefix(2, "CPU efficiency: ")
        has(3, "Job state: Job has failed"); hasPrefix(3, "Failed at "); has(3, "Work dir: kept")
        #expect(panels[3].contains { $0.hasSuffix("[exit code: 3]") })
        has(4, "Job state: Job has been killed"); #expect(panels[4].contains { $0.hasSuffix("[reason: cancelled]") })
        has(5, "Batch system: time limit reached (TIMEOUT)"); #expect(panels[5].contains { $0.hasSuffix("[reason: timeout]") })
        has(6, "Job state: Job has been lost"); hasPrefix(6, "No sign of life from qq-run since ")

        // JSON: R130's shape.
        let json = try runTool(["qq-info", "--json"] + files + ["\(dirs.input)/missing.qqinfo"], dirs: dirs, env: env)
        keepSample("qq-info.json", json.stdout)
        #expect(json.exitCode == 91)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(doc["schema"] as? String == "qq-info/1")
        let jobs = try #require(doc["jobs"] as? [[String: Any]])
        #expect(jobs.map { $0["real_state"] as? String } == ["held", "running", "finished", "failed", "killed", "killed", "lost"])
        #expect(jobs.map { $0["batch_answer"] as? String } == Array(repeating: "found", count: 7))
        #expect(jobs[5]["kill_reason"] as? String == "timeout")
        #expect((jobs[1]["heartbeat_age_s"] as? Int).map { $0 >= 0 } == true)
        #expect(jobs[0]["heartbeat_age_s"] is NSNull)
        #expect((jobs[2]["usage"] as? [String: Any])?["max_rss"] is Int)
        #expect((jobs[2]["resources"] as? [String: Any])?.count == 14)
        let keyOrder = json.stdout.split(separator: "\n").filter { $0.hasPrefix("      \"") }.prefix(6).map { String($0.split(separator: "\"")[1]) }
        #expect(keyOrder == ["info_file", "real_state", "batch_state", "batch_answer", "heartbeat_age_s", "batch_system"])
        let errors = try #require(doc["errors"] as? [[String: String]])
        #expect(errors.count == 1 && errors[0]["target"] == "\(dirs.input)/missing.qqinfo")

        // By job id, from another directory (WorkDir + JobName).
        let byID = try runTool(["qq-info", "-s", failed.id, running.id], dirs: dirs, env: env, cwd: "/")
        #expect(byID.stdout == "\(failed.id)    failed\n\(running.id)    running\n", Comment(rawValue: byID.description))
        let unknown = try runTool(["qq-info", "-s", "999999"], dirs: dirs, cwd: "/")
        #expect(unknown.exitCode == 91)
        #expect(unknown.stderr.contains("Job '999999' does not exist."), Comment(rawValue: unknown.description))
    }

    @Test("qq-info over 100 state files is fast (R5), and measured")
    func hundredFiles() throws {
        try SlurmCluster.require()
        let dirs = try TestDirs("info-100")
        try dirs.put("job.sh", qqScript("echo ok"))
        let job = try SlurmCluster.submit("job.sh", dirs: dirs)
        try SlurmCluster.waitForEnd(job)
        let text = try #require(Files.read("\(dirs.input)/job.qqinfo"), job.diagnostics())
        try Files.mkdir("\(dirs.base)/many")
        for i in 0..<100 { try Files.write("\(dirs.base)/many/job\(i).qqinfo", text) }
        let start = Clock.now
        let r = try runTool(["qq-info", "--short", "\(dirs.base)/many"], dirs: dirs)
        let seconds = Clock.now - start
        keepSample("qq-info-100-files.txt", "\(seconds) s (debug build, files of one job: one query)\n")
        #expect(r.exitCode == 0)
        #expect(r.stdout.split(separator: "\n").count == 100)
        #expect(seconds < 5, "qq-info took \(seconds) s over 100 files")
    }

    /// Issue 8, item 12: right after `sbatch`, before qq-run has written anything.
    @Test("qq-info shows a submitted plain qq-run job that has not started: held with its reason, queued with its planned start")
    func pendingPlainJobs() throws {
        try SlurmCluster.require()
        let dirs = try TestDirs("info-pending")
        try dirs.put("job.sh", qqScript("echo ok"))
        try dirs.put("later.sh", "#!/usr/bin/env -S qq run\necho ok\n")
        try dirs.put("plain-bash.sh", "#!/bin/bash\necho not qq\n")
        let held = try SlurmCluster.submit("job.sh", dirs: dirs, options: ["--hold"])
        let other = try SlurmCluster.submit("plain-bash.sh", dirs: dirs, options: ["--hold"])
        let later = try SlurmCluster.submit("later.sh", dirs: dirs, options: ["--begin=now+1hour"])
        defer { for j in [held, other, later] { SlurmCluster.scancel(j.id) } }

        let short = try runTool(["qq-info", "--short"], dirs: dirs)
        keepSample("qq-info-pending-short.txt", short.stdout)
        #expect(short.exitCode == 0, Comment(rawValue: short.description))
        let lines = short.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 2, Comment(rawValue: short.description))
        #expect(lines[0] == "\(held.id)    held    Reason: JobHeldUser")
        // Slurm relabels a --begin job's reason (BeginTime, or Resources while the node is busy):
        // qq-info must show what Slurm says.
        let laterReasons: Set<String> = ["BeginTime", SlurmCluster.record(later.id)?["Reason"] ?? "BeginTime"]
        #expect(laterReasons.contains { lines[1].hasPrefix("\(later.id)    queued    Reason: \($0); planned start at ") },
                Comment(rawValue: "\(lines[1]) (Slurm: \(laterReasons))"))
        #expect(!short.stdout.contains(other.id))

        let full = try runTool(["qq-info"], dirs: dirs)
        keepSample("qq-info-pending-full.txt", full.stdout)
        let panels = splitPanels(full.stdout).map { normalizePanel($0).lines }
        try #require(panels.count == 2, Comment(rawValue: full.description))
        for line in ["JOB: \(held.id)", "Job name: job.sh", "Input directory: \(dirs.input)", "Job state: Job is held",
                     "Reason: JobHeldUser"] {
            #expect(panels[0].contains(line), "panel lacks '\(line)':\n\(panels[0].joined(separator: "\n"))")
        }
        #expect(panels[1].contains("Job state: Job is queued"))
        #expect(panels[1].contains { $0.hasPrefix("Planned start within 00:59:") || $0.hasPrefix("Planned start within 01:00:00") },
                Comment(rawValue: panels[1].joined(separator: "\n")))

        let json = try runTool(["qq-info", "--json", dirs.input], dirs: dirs, cwd: "/")
        keepSample("qq-info-pending.json", json.stdout)
        #expect(json.exitCode == 0)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let pending = try #require(doc["pending_jobs"] as? [[String: Any]])
        #expect(pending.map { $0["job_id"] as? String } == [held.id, later.id])
        #expect(pending.map { $0["real_state"] as? String } == ["held", "queued"])
        #expect(pending.first?["reason"] as? String == "JobHeldUser")
        let laterNow: Set<String> = laterReasons.union([SlurmCluster.record(later.id)?["Reason"] ?? "BeginTime"])
        #expect(laterNow.contains(pending.last?["reason"] as? String ?? ""), "reason \(pending.last?["reason"] ?? "nil"), Slurm: \(laterNow)")
        #expect(pending[0]["planned_start"] is NSNull && pending[1]["planned_start"] is String)
        #expect((doc["jobs"] as? [Any])?.isEmpty == true)

        // Another user's qq-info in the same directory does not see these jobs.
        let user = try #require(TestUser.lookup(TestUser.unprivilegedName), "run scripts/slurm-harness.sh start")
        let env = try SlurmCluster.baseEnvironment(for: user).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let theirs = Command.run(["runuser", "-u", user.name, "--", "env", "-i"] + env + ["\(try SlurmCluster.binDir())/qq-info", "-s"],
                                 cwd: dirs.input, timeout: 30)
        #expect(theirs.exitCode == 91, Comment(rawValue: theirs.description))
        #expect(theirs.stderr.contains("No qq job info file found."))
    }

    @Test("A directory whose jobs have info files shows them as before; only a job without one is added")
    func pendingBesideInfoFiles() throws {
        try SlurmCluster.require()
        let dirs = try TestDirs("info-pending-beside")
        try dirs.put("done.sh", qqScript("echo ok"))
        let done = try SlurmCluster.submit("done.sh", dirs: dirs)
        try SlurmCluster.waitForEnd(done)
        let before = try runTool(["qq-info", "--short"], dirs: dirs)
        #expect(before.stdout == "\(done.id)    finished\n", Comment(rawValue: before.description))

        try dirs.put("job.sh", qqScript("echo ok"))
        let held = try SlurmCluster.submit("job.sh", dirs: dirs, options: ["--hold"])
        defer { SlurmCluster.scancel(held.id) }
        let after = try runTool(["qq-info", "--short"], dirs: dirs)
        keepSample("qq-info-pending-beside-short.txt", after.stdout)
        #expect(after.exitCode == 0)
        #expect(after.stdout == "\(done.id)    finished\n\(held.id)    held    Reason: JobHeldUser\n", Comment(rawValue: after.description))
        let noBatch = try runTool(["qq-info", "--short", "--no-batch"], dirs: dirs)
        #expect(noBatch.stdout == "\(done.id)    finished\n")
    }
}
