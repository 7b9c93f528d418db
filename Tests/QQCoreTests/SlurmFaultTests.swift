// Fault injection on a real one-host Slurm (issue 4, item 5; SPEC §8, R97, R100, R105, R109,
// R113, R115, R124; scenarios 3, 4, 8, 18, 25, 28). Every case injects one fault into a real job
// and asserts what a user is promised afterwards:
//   - no file of the input dir is lost or truncated (size + content fingerprint, before/after);
//   - the state file parses (with no torn-read retry) and says the right state and reason;
//   - no process of the job is left (every process whose environment has SLURM_JOB_ID=<id>);
//   - qq-run's exit code, as Slurm recorded it.
// The time-limit cases live in SlurmFaultTimeLimitTests.swift (they take ~90 s each and run
// concurrently with each other). This suite is serialized: the node runs two jobs at a time, and the
// cases that inject a fault at a phase poll the state file while the job runs.
//
// Needs root (mount, runuser, reading /proc/<pid>/environ). Run alone:
//   swift build --build-tests && swift test --skip-build --filter SlurmFault

import Foundation
import Glibc
import Testing
@testable import QQCore

/// Exit codes as Slurm records them (`ExitCode=<code>:<signal>`).
private enum SlurmExit {
    static let sigterm = "143:0"     // qq-run ended by itself after SIGTERM (R108)
    static let killedBySlurm = "0:9" // qq-run was SIGKILLed (KillWait exceeded, or by hand)
}

@Suite("Real Slurm faults", .serialized,
       .enabled(if: SlurmCluster.shouldRunAsOtherUser, "needs root and a Slurm cluster (scripts/slurm-harness.sh start)"))
struct SlurmFaultTests {
    let me = TestUser.current

    func workDir(_ dirs: TestDirs, _ id: String, user: String? = nil) -> String {
        "\(dirs.scratch)/\(user ?? me.name)/qq-jobs/job_\(id)"
    }

    /// The assertions every fault case shares; returns the state file as read (no torn-read retry).
    @discardableResult
    func checkAftermath(_ job: SlurmJob, infoPath: String, before: [String: FileFingerprint],
                        allowedToChange: Set<String> = [], exitCode: String?, extraPIDs: [Int32] = [],
                        sourceLocation: SourceLocation = #_sourceLocation) throws -> InfoRecord {
        let why = job.diagnostics()
        let damage = InputSnapshot.damage(job.dirs.input, before: before, allowedToChange: allowedToChange)
        #expect(damage.isEmpty, "input files lost or changed: \(damage)\n\(why.rawValue)", sourceLocation: sourceLocation)
        let temporaries = InputSnapshot.leftoverTemporaries(job.dirs.input)
        #expect(temporaries.isEmpty, "temporary files left in the input dir: \(temporaries)", sourceLocation: sourceLocation)
        let left = JobProcesses.leftover(jobID: job.id, extra: extraPIDs)
        #expect(left.isEmpty, "processes of job \(job.id) still alive: \(left)", sourceLocation: sourceLocation)
        if let exitCode, let rec = SlurmCluster.record(job.id) {
            #expect(rec.exitCode == exitCode, "Slurm ExitCode \(rec.exitCode), expected \(exitCode)\n\(why.rawValue)",
                    sourceLocation: sourceLocation)
        }
        let record: InfoRecord
        do {
            record = try InfoFile.load(path: infoPath, tornReadRetries: 0)
        } catch {
            Issue.record("the state file does not parse: \(error)\n\(Files.read(infoPath) ?? "(missing)")\n\(why.rawValue)",
                         sourceLocation: sourceLocation)
            throw error
        }
        return record
    }

    // MARK: scancel during stage-in (R109, scenario 8)

    @Test("scancel during stage-in: killed/cancelled, work dir removed, script never ran, exit 143")
    func scancelDuringStageIn() throws {
        let dirs = try TestDirs("f-stagein")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            echo ran > "$QQ_IT_PROBE/ran"
            sleep 30
            """)
        try dirs.put("small.txt", "small\n")
        // 1 GB in 20 files: about 4 s of stage-in here; the copy stops at the next file boundary.
        for i in 1...20 {
            let r = Command.run(["fallocate", "-l", "50M", "\(dirs.input)/big\(i).dat"])
            try #require(r.succeeded, "\(r)")
        }
        let before = InputSnapshot.take(dirs.input)
        let infoPath = "\(dirs.input)/job.qqinfo"

        let job = try SlurmCluster.submit("job.sh", dirs: dirs, env: ["QQ_DEBUG": "1"])
        try SlurmCluster.waitForStart(job)
        let seen = try SlurmCluster.waitForPhase(infoPath, [.stageIn], job: job, timeout: 60)
        let t0 = Clock.now
        SlurmCluster.scancel(job.id)
        let rec = try #require(try SlurmCluster.waitForEnd(job, timeout: 60).first)
        let took = Clock.now - t0
        let why = job.diagnostics("scancel to end: \(String(format: "%.1f", took)) s")
        #expect(rec.state == "CANCELLED", why)

        let info = try checkAftermath(job, infoPath: infoPath, before: before, exitCode: SlurmExit.sigterm)
        #expect(info.jobState == .killed, why)
        #expect(info.killReason == .cancelled, why)
        #expect(info.phase == .done, why)
        #expect(info.jobExitCode == nil, why)
        #expect(info.stageOut == nil, "no stage_out before the script ran (R109)\n\(why.rawValue)")
        #expect(dirs.probeFile("ran") == nil, "the script must not run after a kill during stage-in")
        let wd = seen.workDir ?? workDir(dirs, job.id)
        #expect(!Files.exists(wd), "the partial work dir \(wd) must be removed (R109)\n\(why.rawValue)")
        // Only the state file and the logs were added to the input dir.
        let added = Set(Files.list(dirs.input)).subtracting(before.keys).subtracting(["job.qqinfo"])
        #expect(added.isSubset(of: ["job.out", "job.err"]), "unexpected files in the input dir: \(added.sorted())")
        let log = Files.read(job.outputPath) ?? ""
        #expect(log.contains("Received SIGTERM, initiating shutdown."), why)
        #expect(log.contains("Execution was terminated by SIGTERM."), why)
        for i in 1...20 { unlink("\(dirs.input)/big\(i).dat") }   // 1 GB: not kept for inspection
    }

    // MARK: scancel during the run (R108, R113; scenarios 6, 9, 25)

    @Test("scancel during the run: group terminated, new and changed results rescued, ckpt.dat.rescued, exit 143")
    func scancelDuringRun() throws {
        let dirs = try TestDirs("f-run")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            echo "output line"
            echo "error line" >&2
            echo new > new_result.txt
            mkdir -p res/sub && echo deep > res/sub/deep.txt
            printf 'rewritten in place, partial' > ckpt.dat
            sleep 300 &
            echo $! >> "$QQ_IT_PROBE/pids"
            setsid sleep 300 &
            echo $! >> "$QQ_IT_PROBE/pids"
            echo $$ >> "$QQ_IT_PROBE/pids"
            echo started > "$QQ_IT_PROBE/started"
            wait
            """)
        try dirs.put("ckpt.dat", "input checkpoint v1\n")
        try dirs.put("data/params.txt", "a=1\n")
        let before = InputSnapshot.take(dirs.input)
        let infoPath = "\(dirs.input)/job.qqinfo"

        let job = try SlurmCluster.submit("job.sh", dirs: dirs)
        try SlurmCluster.waitForStart(job)
        try SlurmCluster.waitForFile("\(dirs.probe)/started", job: job)
        Clock.sleep(0.3)
        let pids = (dirs.probeFile("pids") ?? "").split(separator: "\n").compactMap { Int32($0) }
        let running = try InfoFile.load(path: infoPath, tornReadRetries: 0)
        #expect(running.jobState == .running && running.phase == .running, job.diagnostics())

        SlurmCluster.scancel(job.id)
        let rec = try #require(try SlurmCluster.waitForEnd(job, timeout: 60).first)
        let why = job.diagnostics()
        #expect(rec.state == "CANCELLED", why)

        let info = try checkAftermath(job, infoPath: infoPath, before: before, exitCode: SlurmExit.sigterm,
                                      extraPIDs: pids + (running.runnerPID.map { [Int32($0)] } ?? []))
        #expect(info.jobState == .killed, why)
        #expect(info.killReason == .cancelled, why)
        #expect(info.phase == .done, why)
        #expect(info.jobExitCode == nil, why)
        #expect(info.synchronized == false, why)
        #expect(info.stageOut?.mode == .rescue, why)
        #expect(info.stageOut?.notCopied == 0, why)
        #expect(info.stageOut?.notCopiedPaths == [], why)
        // Logs, new results (nested too) back; the changed staged file next to its input version.
        #expect(Files.read("\(dirs.input)/job.out")?.contains("output line") == true, why)
        #expect(Files.read("\(dirs.input)/job.err")?.contains("error line") == true, why)
        #expect(Files.read("\(dirs.input)/new_result.txt") == "new\n", why)
        #expect(Files.read("\(dirs.input)/res/sub/deep.txt") == "deep\n", why)
        #expect(Files.read("\(dirs.input)/ckpt.dat") == "input checkpoint v1\n", "a rescue never replaces an input file (R113)")
        #expect(Files.read("\(dirs.input)/ckpt.dat.rescued") == "rewritten in place, partial", why)
        let log = Files.read(job.outputPath) ?? ""
        #expect(log.contains("Rescued '\(dirs.input)/ckpt.dat' as '\(dirs.input)/ckpt.dat.rescued'; the input version was kept."), why)
        #expect(log.contains("Cleaning up: terminating subprocess."), why)
        #expect(Files.isDirectory(workDir(dirs, job.id)), "the work dir is kept after a kill\n\(why.rawValue)")
        #expect(pids.count == 3, "pids: \(pids)")
    }

    // MARK: scancel during stage-out (R109)

    @Test("scancel during stage-out: killed/cancelled with script_exit_code 0, no partial result, the rest listed, work dir kept")
    func scancelDuringStageOut() throws {
        let dirs = try TestDirs("f-stageout")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            for i in $(seq 1 20); do fallocate -l 50M "out$i.dat"; done
            echo small > small_result.txt
            echo "results written"
            """)
        try dirs.put("input.txt", "input\n")
        let before = InputSnapshot.take(dirs.input)
        let infoPath = "\(dirs.input)/job.qqinfo"

        let job = try SlurmCluster.submit("job.sh", dirs: dirs, env: ["QQ_DEBUG": "1"])
        try SlurmCluster.waitForStart(job)
        try SlurmCluster.waitForPhase(infoPath, [.stageOut], job: job, timeout: 60)
        let t0 = Clock.now
        SlurmCluster.scancel(job.id)
        let rec = try #require(try SlurmCluster.waitForEnd(job, timeout: 60).first)
        let why = job.diagnostics("scancel to end: \(String(format: "%.1f", Clock.now - t0)) s")
        #expect(rec.state == "CANCELLED", why)

        let info = try checkAftermath(job, infoPath: infoPath, before: before, exitCode: SlurmExit.sigterm)
        #expect(info.jobState == .killed, why)
        #expect(info.killReason == .cancelled, why)
        #expect(info.phase == .done, why)
        #expect(info.scriptExitCode == 0, "the script's code is kept (R109, R110)\n\(why.rawValue)")
        #expect(info.jobExitCode == nil, why)
        #expect(info.synchronized == false, why)
        #expect(info.stageOut?.mode == .rescue, why)
        let wd = workDir(dirs, job.id)
        #expect(Files.isDirectory(wd), "the work dir is kept after a kill during stage-out (R109)\n\(why.rawValue)")
        // Every result is either complete in the input dir or listed as not copied.
        let notCopied = Set(info.stageOut?.notCopiedPaths ?? [])
        let listFile = Set((Files.read("\(wd)/.qq-run-not-copied") ?? "").split(separator: "\n").map(String.init))
        for name in (1...20).map({ "out\($0).dat" }) + ["small_result.txt"] {
            let p = "\(dirs.input)/\(name)"
            if Files.exists(p) {
                let expected: Int64 = name == "small_result.txt" ? 6 : 50 << 20
                #expect(FileFingerprint.of(p)?.size == expected, "partial result '\(name)' in the input dir")
            } else {
                #expect(notCopied.contains(name) || info.stageOut.map { $0.notCopied > 20 } == true,
                        "'\(name)' is neither in the input dir nor in not_copied_paths\n\(why.rawValue)")
                #expect(listFile.contains(name), "'\(name)' is missing from \(wd)/.qq-run-not-copied")
                #expect(Files.exists("\(wd)/\(name)"), "'\(name)' was not copied and is not in the work dir either")
            }
        }
        #expect(Files.read("\(dirs.input)/job.out")?.contains("results written") == true, why)
        for i in 1...20 { unlink("\(dirs.input)/out\(i).dat"); unlink("\(wd)/out\(i).dat") }   // 2 GB
    }

    // MARK: A slow batch system while the job is killed (R108 step 4 runs in parallel with the rescue)

    @Test("scancel while scontrol takes 5 s to answer: the results are still rescued before KillWait, reason cancelled")
    func scancelWithSlowScontrol() throws {
        let dirs = try TestDirs("f-slowctl")
        // A scontrol that answers after 5 s, first on the job's PATH (slurmctld busy, as at a walltime
        // when many jobs end at once).
        let slowBin = "\(dirs.base)/slowbin"
        try Files.mkdir(slowBin)
        let candidates: [String] = ["/usr/bin/scontrol", "/usr/local/bin/scontrol"]
        let real = try #require(candidates.first { path in access(path, X_OK) == 0 })
        try Files.write("\(slowBin)/scontrol", "#!/bin/sh\nsleep 5\nexec \(real) \"$@\"\n", mode: 0o755)
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            mkdir -p results
            for i in $(seq 1 200); do echo "result $i" > "results/r$i.txt"; done
            echo started > "$QQ_IT_PROBE/started"
            sleep 300
            """)
        let before = InputSnapshot.take(dirs.input)
        let infoPath = "\(dirs.input)/job.qqinfo"
        let job = try SlurmCluster.submit("job.sh", dirs: dirs,
                                          env: ["PATH": "\(slowBin):\(try SlurmCluster.jobPath())", "QQ_DEBUG": "1"])
        try SlurmCluster.waitForStart(job)
        try SlurmCluster.waitForFile("\(dirs.probe)/started", job: job)
        SlurmCluster.scancel(job.id)
        let rec = try #require(try SlurmCluster.waitForEnd(job, timeout: 60).first)
        let why = job.diagnostics()
        #expect(rec.state == "CANCELLED", why)

        let info = try checkAftermath(job, infoPath: infoPath, before: before, exitCode: SlurmExit.sigterm)
        #expect(info.jobState == .killed, why)
        #expect(info.killReason == .cancelled, why)
        let missing = (1...200).filter { Files.read("\(dirs.input)/results/r\($0).txt") != "result \($0)\n" }
        #expect(missing.count == 0, "\(missing.count) of 200 results not rescued, e.g. \(missing.prefix(5))\n\(why.rawValue)")
        #expect(info.stageOut?.notCopied == 0, why)
    }

    // MARK: Requeue (preemption) (R112)

    @Test("scontrol requeuehold while running: killed, kill_reason preempted, results rescued, exit 143")
    func requeueHold() throws {
        let dirs = try TestDirs("f-requeue")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            echo partial > partial.txt
            echo started > "$QQ_IT_PROBE/started"
            sleep 300
            """)
        try dirs.put("input.txt", "input\n")
        let before = InputSnapshot.take(dirs.input)
        let infoPath = "\(dirs.input)/job.qqinfo"
        let job = try SlurmCluster.submit("job.sh", dirs: dirs, options: ["--requeue"], env: ["QQ_DEBUG": "1"])
        // Never let the held job start again.
        defer { SlurmCluster.scancel(job.id) }
        try SlurmCluster.waitForStart(job)
        try SlurmCluster.waitForFile("\(dirs.probe)/started", job: job)
        let r = Command.run(["scontrol", "requeuehold", job.id], timeout: 15)
        try #require(r.succeeded, "\(r)")
        // The job goes back to PENDING (held): wait for qq-run to end instead of for a final state.
        let running = try InfoFile.load(path: infoPath, tornReadRetries: 0)
        let runner = try #require(running.runnerPID.map { Int32($0) })
        let deadline = Clock.now + 30
        while processAlive(runner) && Clock.now < deadline { Clock.sleep(0.1) }
        Clock.sleep(0.5)
        let why = job.diagnostics()
        #expect(!processAlive(runner), why)

        let info = try checkAftermath(job, infoPath: infoPath, before: before, exitCode: nil, extraPIDs: [runner])
        #expect(info.jobState == .killed, why)
        #expect(info.killReason == .preempted, "a requeue is recorded as preempted (R112)\n\(Files.read(infoPath) ?? "")\n\(why.rawValue)")
        #expect(Files.read("\(dirs.input)/partial.txt") == "partial\n", why)
        #expect((Files.read(job.outputPath) ?? "").contains("Execution was terminated by SIGTERM."), why)
    }

    // MARK: SIGKILL of qq-run itself (R124, scenario 18)

    @Test("SIGKILL of qq-run: the state file stays valid; qq-info says inconsistent, then lost")
    func sigkillRunner() throws {
        let dirs = try TestDirs("f-sigkill")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            echo "$PPID" > "$QQ_IT_PROBE/runner"
            sleep 300 &
            echo $! > "$QQ_IT_PROBE/child"
            echo started > "$QQ_IT_PROBE/started"
            wait
            """)
        try dirs.put("input.txt", "input\n")
        let before = InputSnapshot.take(dirs.input)
        let infoPath = "\(dirs.input)/job.qqinfo"

        let job = try SlurmCluster.submit("job.sh", dirs: dirs, env: ["QQ_HEARTBEAT_INTERVAL": "1"])
        try SlurmCluster.waitForStart(job)
        try SlurmCluster.waitForFile("\(dirs.probe)/started", job: job)
        let runner = try #require(dirs.probeFile("runner").flatMap { Int32($0) }, job.diagnostics())
        let running = try InfoFile.load(path: infoPath, tornReadRetries: 0)
        #expect(running.runnerPID.map { Int32($0) } == runner, job.diagnostics())
        #expect(running.heartbeatInterval == 1, job.diagnostics())
        Clock.sleep(1.5)   // at least one heartbeat
        #expect(kill(runner, SIGKILL) == 0)
        let rec = try #require(try SlurmCluster.waitForEnd(job, timeout: 60).first)
        let killedAt = Clock.now
        let why = job.diagnostics()
        #expect(rec.state == "FAILED" || rec.state == "CANCELLED", why)

        let info = try checkAftermath(job, infoPath: infoPath, before: before, exitCode: SlurmExit.killedBySlurm,
                                      extraPIDs: [runner] + (dirs.probeFile("child").flatMap { Int32($0) }.map { [$0] } ?? []))
        #expect(info.jobState == .running, "nobody wrote a final state\n\(why.rawValue)")
        #expect(info.heartbeat != nil, why)

        // Within 3 heartbeat intervals the job is inconsistent (JSON's word for "in an inconsistent
        // state", §11.6), or already lost.
        let env = ["QQ_CLOCK_SKEW": "0"]
        let early = try QQInfoTool.run(["--json", infoPath], env: env)
        let earlyState = QQInfoTool.realState(early.stdout)
        #expect(early.exitCode == 0, "\(early)")
        #expect(earlyState == "inconsistent" || earlyState == "lost", "\(early)")
        // Once the file is older than 3 × 1 s + QQ_CLOCK_SKEW=0, it is lost (R124).
        let mtimeAge = Clock.now - killedAt
        if mtimeAge < 4 { Clock.sleep(4 - mtimeAge) }
        let late = try QQInfoTool.run(["--json", infoPath], env: env)
        #expect(QQInfoTool.realState(late.stdout) == "lost", "\(late)")
        let panel = try QQInfoTool.run([infoPath], env: env)
        #expect(panel.stdout.lowercased().contains("lost"), "\(panel)")
        #expect(Files.isDirectory(workDir(dirs, job.id)), "the work dir of a lost job is kept")
    }

    // MARK: Scratch full (R105: ENOSPC is never retried)

    @Test("Scratch full (2 MB tmpfs, 4 MB input): refused by the pre-flight check before stage-in, failed/91, error names both numbers, work dir removed")
    func scratchFull() throws {
        let dirs = try TestDirs("f-scratchfull")
        let mount = try TmpfsMount(at: dirs.scratch, size: "2m")
        defer { mount.unmount() }
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            echo ran > "$QQ_IT_PROBE/ran"
            """)
        try dirs.put("a_small.txt", "small\n")
        let big = Command.run(["dd", "if=/dev/urandom", "of=\(dirs.input)/big.dat", "bs=1M", "count=4", "status=none"])
        try #require(big.succeeded, "\(big)")
        let before = InputSnapshot.take(dirs.input)
        let infoPath = "\(dirs.input)/job.qqinfo"

        let job = try SlurmCluster.submit("job.sh", dirs: dirs)
        let started = try SlurmCluster.waitForStart(job)
        let rec = try #require(try SlurmCluster.waitForEnd(job, timeout: 60).first)
        let why = job.diagnostics()
        #expect(rec.state == "FAILED", why)

        let info = try checkAftermath(job, infoPath: infoPath, before: before, exitCode: "91:0")
        #expect(info.jobState == .failed, why)
        #expect(info.jobExitCode == 91, why)
        #expect(info.phase == .done, why)
        let error = info.error ?? ""
        // Issue 8, item 13: the need (at least the 4 MiB of big.dat) and the free bytes (under 2 MiB).
        #expect(error.contains("Stage-in does not fit") && error.contains("work-dir=input_dir"), "error: '\(error)'\n\(why.rawValue)")
        let numbers = error.matches(of: /\((\d+) bytes/).compactMap { Int64($0.output.1) }
        #expect(numbers.count == 2 && numbers[0] >= 4 << 20 && numbers[1] < 2 << 20 && numbers[1] >= 0, "error: '\(error)'")
        #expect(dirs.probeFile("ran") == nil, "the script must not run")
        let wd = workDir(dirs, job.id)
        #expect(!Files.exists(wd), "the partial work dir must be removed\n\(why.rawValue)")
        let log = Files.read(job.outputPath) ?? ""
        #expect(!log.contains("retrying in"), "ENOSPC is never retried (R105)\n\(log)")
        // "At once": start to end within a few seconds (no backoff).
        if let s = started["StartTime"], let e = rec["EndTime"], let ds = slurmTime(s), let de = slurmTime(e) {
            #expect(de - ds <= 5, "stage-in into a full scratch took \(de - ds) s\n\(why.rawValue)")
        }
    }

    // MARK: Results dir unwritable at stage-out (scenario 28, as qqtest)

    @Test("Results dir read-only at stage-out (qqtest): failed/91, script_exit_code 0, not_copied_paths, work dir kept")
    func resultsDirReadOnly() throws {
        let user = try #require(TestUser.lookup(TestUser.unprivilegedName), "run scripts/slurm-harness.sh start")
        #expect(user.uid != 0, "a permission test must not run as uid 0 (R148)")
        let dirs = try TestDirs("f-rodir", owner: user)
        defer { _ = chmod("\(dirs.input)/out", 0o755) }
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            if [ "$(id -u)" = 0 ]; then echo "running as root" >&2; exit 97; fi
            mkdir -p out
            echo one > out/new1.txt
            echo two > out/new2.txt
            echo top > top.txt
            chmod a-w "$QQ_INPUT_DIR/out"
            echo "made out/ read-only"
            """, owner: user)
        try dirs.put("out/old.txt", "old result\n", owner: user)
        let before = InputSnapshot.take(dirs.input)
        let infoPath = "\(dirs.input)/job.qqinfo"

        let job = try SlurmCluster.submit("job.sh", dirs: dirs, as: user)
        let rec = try #require(try SlurmCluster.waitForEnd(job, timeout: 300).first)
        let why = job.diagnostics()
        #expect(rec.state == "FAILED", why)

        let info = try checkAftermath(job, infoPath: infoPath, before: before, exitCode: "91:0")
        let wd = workDir(dirs, job.id, user: user.name)
        #expect(info.jobState == .failed, why)
        #expect(info.jobExitCode == 91, why)
        #expect(info.scriptExitCode == 0, why)
        #expect(info.synchronized == false, why)
        // R101's text, then the first failing path (R103); failures are listed sorted by path.
        #expect(info.error?.hasPrefix("Stage-out failed for 2 file(s); results remain in \(wd). First failure: ") == true,
                "error: \(info.error ?? "nil")")
        #expect(info.error?.contains("out/new1.txt") == true, "error: \(info.error ?? "nil")")
        #expect(info.stageOut?.notCopied == 2, why)
        #expect(Set(info.stageOut?.notCopiedPaths ?? []) == ["out/new1.txt", "out/new2.txt"], why)
        #expect(Set((Files.read("\(wd)/.qq-run-not-copied") ?? "").split(separator: "\n").map(String.init))
                == ["out/new1.txt", "out/new2.txt"], why)
        #expect(Files.isDirectory(wd), why)
        #expect(Files.read("\(wd)/out/new1.txt") == "one\n", why)
        #expect(Files.read("\(dirs.input)/top.txt") == "top\n", "what could be copied is copied")
        #expect(Files.read("\(dirs.input)/job.out")?.contains("made out/ read-only") == true, why)
        #expect(!Files.exists("\(dirs.input)/out/new1.txt"), why)
    }

    @Test("Input dir read-only at stage-out (qqtest): exit 91 in bounded time, work dir kept, state file valid and names it")
    func inputDirReadOnly() throws {
        let user = try #require(TestUser.lookup(TestUser.unprivilegedName), "run scripts/slurm-harness.sh start")
        #expect(user.uid != 0, "a permission test must not run as uid 0 (R148)")
        let dirs = try TestDirs("f-roinput", owner: user)
        defer { _ = chmod(dirs.input, 0o755) }
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            if [ "$(id -u)" = 0 ]; then echo "running as root" >&2; exit 97; fi
            echo result > result.txt
            chmod a-w "$QQ_INPUT_DIR"
            echo "made the input dir read-only"
            """, owner: user)
        try dirs.put("input.txt", "input\n", owner: user)
        let before = InputSnapshot.take(dirs.input)
        let infoPath = "\(dirs.input)/job.qqinfo"

        // A small retry total keeps a retried write from taking the default 300 s.
        let job = try SlurmCluster.submit("job.sh", dirs: dirs, env: ["QQ_RETRY_TOTAL": "8", "QQ_RETRY_INITIAL_DELAY": "0.5"], as: user)
        try SlurmCluster.waitForStart(job)
        let t0 = Clock.now
        let rec = try #require(try SlurmCluster.waitForEnd(job, timeout: 120).first)
        let took = Clock.now - t0
        let why = job.diagnostics("ran for \(String(format: "%.1f", took)) s")
        #expect(rec.state == "FAILED", why)

        let info = try checkAftermath(job, infoPath: infoPath, before: before, exitCode: "91:0")
        let wd = workDir(dirs, job.id, user: user.name)
        #expect(info.workDir == wd, "the state file names the work dir that holds the results\n\(why.rawValue)")
        #expect(Files.isDirectory(wd), why)
        #expect(Files.read("\(wd)/result.txt") == "result\n", why)
        #expect((Files.read("\(wd)/.qq-run-not-copied") ?? "").split(separator: "\n").contains("result.txt"), why)
        #expect(!Files.exists("\(dirs.input)/result.txt"), why)
        let log = Files.read(job.outputPath) ?? ""
        #expect(log.contains("results remain in \(wd)") || log.contains("Keeping working directory '\(wd)'"), why)
        // EACCES is never retried (R105).
        #expect(!log.contains("Permission denied (attempt"), "EACCES was retried\n\(log)")
        #expect(took < 30, why)
    }

    // MARK: qq-managed mode: missing, corrupt and foreign state files (R67, §9)

    func managedJob(_ dirs: TestDirs, infoPath: String, retry: Bool = true) throws -> SlurmJob {
        var env = ["QQ_ENV_SET": "true", "QQ_INFO": infoPath, "QQ_BATCH_SYSTEM": "Slurm",
                   "QQ_INPUT_MACHINE": hostName(), "QQ_INPUT_DIR": dirs.input]
        if retry { env.merge(["QQ_RETRY_TOTAL": "4", "QQ_RETRY_INITIAL_DELAY": "0.5"]) { $1 } }
        return try SlurmCluster.submit("job.sh", dirs: dirs, options: ["-J", "job.sh"], env: env)
    }

    func managedInfo(jobID: String, dirs: TestDirs) -> String {
        """
        # qq job info file
        batch_system: Slurm
        qq_version: 0.10.2
        username: \(me.name)
        job_id: '\(jobID)'
        job_name: job.sh
        script_name: job.sh
        queue: debug
        job_type: standard
        input_machine: \(hostName())
        input_dir: \(dirs.input)
        job_state: queued
        submission_time: '2026-01-02 03:04:05'
        stdout_file: job.out
        stderr_file: job.err
        resources:
          nnodes: 1
          ncpus: 1
          walltime: 0:10:00
          work_dir: scratch

        """
    }

    func checkManagedRefusal(_ job: SlurmJob, dirs: TestDirs, infoPath: String, before: [String: FileFingerprint],
                             code: Int, message: String) throws {
        let rec = try #require(try SlurmCluster.waitForEnd(job, timeout: 300).first)
        let why = job.diagnostics()
        #expect(rec.state == "FAILED", why)
        let left = JobProcesses.leftover(jobID: job.id)
        #expect(left.isEmpty, "processes left: \(left)")
        #expect(rec.exitCode == "\(code):0", why)
        #expect(InputSnapshot.damage(dirs.input, before: before).isEmpty, "nothing of the input dir is touched\n\(why.rawValue)")
        let added = Set(Files.list(dirs.input)).subtracting(before.keys)
        #expect(added.isEmpty, "nothing is created in the input dir: \(added.sorted())")
        #expect(!Files.exists(workDir(dirs, job.id)), "no work dir is created\n\(why.rawValue)")
        let log = Files.read(job.outputPath) ?? ""
        #expect(log.contains(message), "expected '\(message)'\n\(why.rawValue)")
        #expect(log.contains("retrying in"), "loading is retried (R67)\n\(why.rawValue)")
        #expect(log.contains("Failure state was NOT logged into the job info file."), why)
    }

    @Test("qq-managed, state file missing: exit 92 after retries, nothing created or deleted")
    func managedMissing() throws {
        let dirs = try TestDirs("f-m-missing")
        try dirs.put("job.sh", "#!/usr/bin/env -S qq-run\necho ran > \"$QQ_IT_PROBE/ran\"\n")
        try dirs.put("input.txt", "input\n")
        let before = InputSnapshot.take(dirs.input)
        let infoPath = "\(dirs.input)/job.qqinfo"
        let job = try managedJob(dirs, infoPath: infoPath)
        try checkManagedRefusal(job, dirs: dirs, infoPath: infoPath, before: before, code: 92,
                                message: "Unable to load valid qq info file '\(infoPath)'")
        #expect(!Files.exists(infoPath), "qq-run never creates a managed state file")
        #expect(dirs.probeFile("ran") == nil)
    }

    @Test("qq-managed, state file corrupt: exit 92 after retries, file byte-identical, nothing deleted")
    func managedCorrupt() throws {
        let dirs = try TestDirs("f-m-corrupt")
        try dirs.put("job.sh", "#!/usr/bin/env -S qq-run\necho ran > \"$QQ_IT_PROBE/ran\"\n")
        try dirs.put("input.txt", "input\n")
        let infoPath = "\(dirs.input)/job.qqinfo"
        try Files.write(infoPath, "# qq job info file\nbatch_system: Slurm\njob_id: [unclosed\n  \u{1}garbage: : :\n\tjob_state: \"\n")
        let before = InputSnapshot.take(dirs.input)
        let job = try managedJob(dirs, infoPath: infoPath)
        try checkManagedRefusal(job, dirs: dirs, infoPath: infoPath, before: before, code: 92,
                                message: "Unable to load valid qq info file '\(infoPath)'")
        #expect(dirs.probeFile("ran") == nil)
    }

    @Test("qq-managed, state file of another job: exit 93 after retries, file byte-identical (scenario 4)")
    func managedForeign() throws {
        let dirs = try TestDirs("f-m-foreign")
        try dirs.put("job.sh", "#!/usr/bin/env -S qq-run\necho ran > \"$QQ_IT_PROBE/ran\"\n")
        try dirs.put("input.txt", "input\n")
        let infoPath = "\(dirs.input)/job.qqinfo"
        try Files.write(infoPath, managedInfo(jobID: "999999", dirs: dirs))
        let before = InputSnapshot.take(dirs.input)
        let job = try managedJob(dirs, infoPath: infoPath)
        try checkManagedRefusal(job, dirs: dirs, infoPath: infoPath, before: before, code: 93,
                                message: "Info file '\(infoPath)' does not correspond to job '\(job.id)'.")
        #expect(dirs.probeFile("ran") == nil)
    }

    @Test("qq-managed, state file written 2 s late: retried with WARNINGs, then runs (scenario 3)")
    func managedLate() throws {
        let dirs = try TestDirs("f-m-late")
        try dirs.put("job.sh", "#!/usr/bin/env -S qq-run\necho ran > \"$QQ_IT_PROBE/ran\"\necho ok > result.txt\n")
        let infoPath = "\(dirs.input)/job.qqinfo"
        var env = ["QQ_ENV_SET": "true", "QQ_INFO": infoPath, "QQ_BATCH_SYSTEM": "Slurm",
                   "QQ_INPUT_MACHINE": hostName(), "QQ_INPUT_DIR": dirs.input]
        env["QQ_RETRY_INITIAL_DELAY"] = "0.5"
        let job = try SlurmCluster.submit("job.sh", dirs: dirs, options: ["-J", "job.sh"], env: env)
        try SlurmCluster.waitForStart(job)
        Clock.sleep(2)
        try Files.write(infoPath, managedInfo(jobID: job.id, dirs: dirs))
        let rec = try #require(try SlurmCluster.waitForEnd(job, timeout: 60).first)
        let why = job.diagnostics()
        #expect(rec.state == "COMPLETED", why)
        let info = try InfoFile.load(path: infoPath, tornReadRetries: 0)
        #expect(info.jobState == .finished, why)
        #expect(Files.read("\(dirs.input)/result.txt") == "ok\n", why)
        let log = Files.read(job.outputPath) ?? ""
        #expect(log.contains("WARNING") && log.contains("retrying in"), why)
    }

    // MARK: Readers never see a torn file (R38, scenario 22 on a real job)

    @Test("qq-info reading in a tight loop while qq-run rewrites the file: never a parse error")
    func readerTightLoop() throws {
        let dirs = try TestDirs("f-reader")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            echo started > "$QQ_IT_PROBE/started"
            sleep 6
            echo done > result.txt
            """)
        let infoPath = "\(dirs.input)/job.qqinfo"
        let job = try SlurmCluster.submit("job.sh", dirs: dirs, env: ["QQ_HEARTBEAT_INTERVAL": "1"])
        try SlurmCluster.waitForStart(job)
        let deadline = Clock.now + 120
        var reads = 0, toolRuns = 0
        var failures: [String] = []
        var heartbeats = Set<String>()
        var states = Set<String>()
        var ended = false
        var iteration = 0
        while Clock.now < deadline && !ended {
            iteration += 1
            if Files.exists(infoPath) {
                do {
                    let r = try InfoFile.load(path: infoPath, tornReadRetries: 0)
                    reads += 1
                    if let h = r.heartbeat { heartbeats.insert(h.description) }
                    states.insert(r.jobState.rawValue)
                } catch {
                    if Files.exists(infoPath) { failures.append("\(error)") }
                }
                if iteration % 200 == 0 {
                    let out = try QQInfoTool.run(["--short", infoPath])
                    toolRuns += 1
                    if out.exitCode != 0 || out.stderr.contains("Invalid") { failures.append("qq-info: \(out)") }
                }
            }
            if iteration % 500 == 0, let r = SlurmCluster.record(job.id), r.isFinal { ended = true }
        }
        let why = job.diagnostics("\(reads) reads, \(toolRuns) qq-info runs, \(heartbeats.count) heartbeats, states \(states.sorted())")
        print("tight-loop reader (job \(job.id)): \(reads) reads, \(toolRuns) qq-info runs, \(failures.count) parse errors, \(heartbeats.count) heartbeats")
        #expect(failures.isEmpty, "parse errors while qq-run rewrote the file: \(failures.prefix(5))\n\(why.rawValue)")
        #expect(ended, why)
        #expect(reads >= 1000, why)
        #expect(heartbeats.count >= 4, "the heartbeat is rewritten every second while the script runs (R97)\n\(why.rawValue)")
        let info = try InfoFile.load(path: infoPath, tornReadRetries: 0)
        #expect(info.jobState == .finished, why)
        #expect(InputSnapshot.leftoverTemporaries(dirs.input).isEmpty, why)
    }

    // MARK: Two jobs with the same script name in the same dir (R82 case c)

    @Test("Two jobs with the same script name in one dir: job.qqinfo and job_<id>.qqinfo, both finished, both results back")
    func sameScriptNameTwice() throws {
        let dirs = try TestDirs("f-twins")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            echo "$SLURM_JOB_ID" > "$QQ_IT_PROBE/started_$SLURM_JOB_ID"
            # Wait (at most 120 s) until both jobs run, so that their lives overlap.
            for i in $(seq 1 1200); do
              [ "$(ls "$QQ_IT_PROBE" | grep -c '^started_')" -ge 2 ] && break
              sleep 0.1
            done
            echo "job $SLURM_JOB_ID" > "result_$SLURM_JOB_ID.txt"
            echo "hello from $SLURM_JOB_ID"
            """)
        try dirs.put("input.txt", "shared input\n")
        let before = InputSnapshot.take(dirs.input)
        let first = try SlurmCluster.submit("job.sh", dirs: dirs)
        let second = try SlurmCluster.submit("job.sh", dirs: dirs)
        for job in [first, second] { try SlurmCluster.waitForEnd(job, timeout: 300) }
        let why = first.diagnostics(second.diagnostics().rawValue)

        let infoFiles = Files.list(dirs.input).filter { $0.hasSuffix(".qqinfo") }
        #expect(infoFiles.count == 2, "\(infoFiles)\n\(why.rawValue)")
        var seen = Set<String>()
        for name in infoFiles {
            let info = try InfoFile.load(path: "\(dirs.input)/\(name)", tornReadRetries: 0)
            seen.insert(info.jobID)
            #expect(info.jobState == .finished, "\(name)\n\(why.rawValue)")
            #expect(name == "job.qqinfo" || name == "job_\(info.jobID).qqinfo", "\(name) holds job \(info.jobID)")
            let out = name == "job.qqinfo" ? "job.out" : "job_\(info.jobID).out"
            #expect(Files.read("\(dirs.input)/\(out)")?.contains("hello from \(info.jobID)") == true, "\(out)\n\(why.rawValue)")
        }
        #expect(seen == [first.id, second.id], why)
        for job in [first, second] {
            #expect(Files.read("\(dirs.input)/result_\(job.id).txt") == "job \(job.id)\n", why)
            #expect(SlurmCluster.record(job.id)?.exitCode == "0:0", why)
            #expect(JobProcesses.leftover(jobID: job.id).isEmpty)
        }
        #expect(InputSnapshot.damage(dirs.input, before: before).isEmpty, why)
        let logs = (Files.read(first.outputPath) ?? "") + (Files.read(second.outputPath) ?? "")
        #expect(logs.contains("which may still be running; using"), "R82 case c WARNING\n\(why.rawValue)")
    }
}

/// `2026-11-21T06:27:48` (scontrol) → seconds since the epoch as if UTC (for differences only).
func slurmTime(_ text: String) -> Int? {
    let parts = text.split(whereSeparator: { "-T:".contains($0) }).compactMap { Int($0) }
    guard parts.count == 6 else { return nil }
    var (y, m) = (parts[0], parts[1])
    if m <= 2 { y -= 1; m += 12 }
    let days = 365 * y + y / 4 - y / 100 + y / 400 + (153 * (m - 3) + 2) / 5 + parts[2] - 719469
    return days * 86400 + parts[3] * 3600 + parts[4] * 60 + parts[5]
}
