// Walltime faults on a real one-host Slurm (issue 4, items 1 and 5; SPEC R112–R114, §8.6).
// A 1-minute time limit kills 66–85 s after the start (Slurm checks limits about every 30 s), so
// each case takes ~90 s of wall clock. The two cases are NOT serialized: they run at the same time
// (one CPU each) to keep the test command short.
//
//   - without a warning signal: 1,000 result files written early; all of them must be in the input
//     dir afterwards (the walltime rescue), `kill_reason: timeout`; the rescue's duration is printed;
//   - with `#SBATCH --signal=B:USR1@30`: qq-run forwards USR1 to the script, which writes a
//     checkpoint; USR1 is recorded in `signals`; the checkpoint is rescued.

import Foundation
import Glibc
import Testing
@testable import QQCore

@Suite("Real Slurm faults: time limits",
       .enabled(if: SlurmCluster.shouldRunAsOtherUser, "needs root and a Slurm cluster (scripts/slurm-harness.sh start)"))
struct SlurmFaultTimeLimitTests {
    let me = TestUser.current

    func workDir(_ dirs: TestDirs, _ id: String) -> String { "\(dirs.scratch)/\(me.name)/qq-jobs/job_\(id)" }

    func checkTimeout(_ job: SlurmJob, before: [String: FileFingerprint], infoPath: String) throws -> InfoRecord {
        let rec = try #require(try SlurmCluster.waitForEnd(job, timeout: 400).first)
        let why = job.diagnostics()
        #expect(rec.state == "TIMEOUT", why)
        #expect(rec["Reason"] == "TimeLimit", why)
        // qq-run ended by itself (143) before Slurm's SIGKILL (KillWait=5).
        #expect(rec.exitCode == "143:0", why)
        #expect(InputSnapshot.damage(job.dirs.input, before: before).isEmpty, why)
        #expect(InputSnapshot.leftoverTemporaries(job.dirs.input).isEmpty, why)
        let left = JobProcesses.leftover(jobID: job.id)
        #expect(left.isEmpty, "processes of job \(job.id) still alive: \(left)")
        let info = try InfoFile.load(path: infoPath, tornReadRetries: 0)
        #expect(info.jobState == .killed, why)
        #expect(info.killReason == .timeout, "a time limit is recorded as timeout (R112)\n\(why.rawValue)")
        #expect(info.phase == .done, why)
        #expect(info.jobExitCode == nil, why)
        #expect(info.synchronized == false, why)
        #expect(info.stageOut?.mode == .rescue, why)
        #expect(Files.isDirectory(workDir(job.dirs, job.id)), "the work dir is kept after a kill")
        return info
    }

    @Test("Time limit without a warning signal: 1,000 results rescued into the input dir, kill_reason timeout")
    func timeLimitRescue() throws {
        let dirs = try TestDirs("f-walltime")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            mkdir -p results
            for i in $(seq 1 1000); do echo "result $i" > "results/r$i.txt"; done
            echo "1000 results written"
            echo started > "$QQ_IT_PROBE/started"
            sleep 600
            """)
        try dirs.put("input.txt", "input\n")
        let before = InputSnapshot.take(dirs.input)
        let infoPath = "\(dirs.input)/job.qqinfo"
        let job = try SlurmCluster.submit("job.sh", dirs: dirs, options: ["--time=1"], env: ["QQ_DEBUG": "1"])
        let info = try checkTimeout(job, before: before, infoPath: infoPath)
        let why = job.diagnostics()

        var missing: [Int] = []
        for i in 1...1000 where Files.read("\(dirs.input)/results/r\(i).txt") != "result \(i)\n" { missing.append(i) }
        #expect(missing.count == 0, "\(missing.count) of 1,000 results missing from the input dir, e.g. \(missing.prefix(5))\n\(why.rawValue)")
        #expect(info.stageOut?.notCopied == 0, why)
        #expect((info.stageOut?.files ?? 0) >= 1000, why)
        #expect(Files.read("\(dirs.input)/job.out")?.contains("1000 results written") == true, why)
        let log = Files.read(job.outputPath) ?? ""
        #expect(log.contains("Rescued 1002 files"), why)
        #expect(!log.contains("not copied"), "nothing ran out, so no 'not copied' claim\n\(why.rawValue)")
        // The closing note asks for this number.
        print("walltime rescue of 1,000 result files (job \(job.id)): stage_out.seconds = \(info.stageOut?.seconds ?? -1), files = \(info.stageOut?.files ?? -1)")
    }

    @Test("Time limit with --signal=B:USR1@30: USR1 forwarded and recorded, the checkpoint rescued, kill_reason timeout")
    func timeLimitWarningSignal() throws {
        let dirs = try TestDirs("f-walltime-usr1")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            #SBATCH --signal=B:USR1@30
            trap 'echo "checkpoint written on USR1" > checkpoint.txt; echo usr1 > "$QQ_IT_PROBE/usr1"' USR1
            echo started > "$QQ_IT_PROBE/started"
            while :; do sleep 1; done
            """)
        try dirs.put("input.txt", "input\n")
        let before = InputSnapshot.take(dirs.input)
        let infoPath = "\(dirs.input)/job.qqinfo"
        let job = try SlurmCluster.submit("job.sh", dirs: dirs, options: ["--time=1"], env: ["QQ_DEBUG": "1"])
        let info = try checkTimeout(job, before: before, infoPath: infoPath)
        let why = job.diagnostics()

        #expect(dirs.probeFile("usr1") == "usr1", "the script received USR1\n\(why.rawValue)")
        #expect(Files.read("\(dirs.input)/checkpoint.txt") == "checkpoint written on USR1\n", why)
        #expect(info.signals.contains { $0.hasPrefix("USR1 ") }, "signals: \(info.signals)\n\(why.rawValue)")
        let log = Files.read(job.outputPath) ?? ""
        #expect(log.contains("Received SIGUSR1; forwarded to the script (pid"), why)
    }
}
