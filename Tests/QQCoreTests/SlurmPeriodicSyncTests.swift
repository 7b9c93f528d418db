// Periodic sync on a real one-host Slurm (issue 12 items 1 and 6a/6b): results reach the input dir
// while the script runs, so a SIGKILL of the whole job (node failure, `scancel --signal=KILL`)
// loses nothing synced, and the final stage-out copies only what changed since the last round.
// `QQ_SYNC_MINIMUM=1` (a test-only setting) allows rounds every 2 s instead of at least 60 s.

import Foundation
import Glibc
import Testing
@testable import QQCore

@Suite("Real Slurm: periodic sync",
       .enabled(if: SlurmCluster.shouldRunAsOtherUser, "needs root and a Slurm cluster (scripts/slurm-harness.sh start)"))
struct SlurmPeriodicSyncTests {
    @Test("(a) A result synced before the whole job is SIGKILLed is in the input dir, intact; the state file stays valid")
    func syncedResultSurvivesSIGKILL() throws {
        let dirs = try TestDirs("sync-a")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            # qq sync-interval=2s
            echo "result written at the start" > r1.dat
            touch "$QQ_IT_PROBE/written"
            sleep 600
            """)
        let infoPath = "\(dirs.input)/job.qqinfo"
        let job = try SlurmCluster.submit("job.sh", dirs: dirs, env: ["QQ_SYNC_MINIMUM": "1"])
        try SlurmCluster.waitForFile("\(dirs.probe)/written", job: job)
        // Wait for a round that ended after the file was written.
        let deadline = Clock.now + 30
        var synced = false
        while !synced && Clock.now < deadline {
            if let r = try? InfoFile.load(path: infoPath, tornReadRetries: 0), let s = r.sync, s.count >= 1,
               Files.read("\(dirs.input)/r1.dat") != nil {
                synced = true
            } else {
                Clock.sleep(0.3)
            }
        }
        try #require(synced, "no sync round brought r1.dat home\n\(job.diagnostics().rawValue)")
        let r = Command.run(["scancel", "--signal=KILL", "--full", job.id], timeout: 15)
        #expect(r.succeeded, "\(r)")
        let rec = try #require(try SlurmCluster.waitForEnd(job).first)
        let why = job.diagnostics()
        #expect(rec.state == "CANCELLED" || rec.state == "FAILED", why)
        #expect(Files.read("\(dirs.input)/r1.dat") == "result written at the start\n", why)
        #expect(InputSnapshot.leftoverTemporaries(dirs.input).isEmpty, why)
        let info = try InfoFile.load(path: infoPath, tornReadRetries: 0)
        #expect((info.sync?.count ?? 0) >= 1 && (info.sync?.files ?? 0) >= 1, why)
    }

    @Test("(b) After three rounds, the final stage-out copies only what changed since the last one")
    func stageOutCopiesOnlyWhatChangedSinceTheLastSync() throws {
        let dirs = try TestDirs("sync-b")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            # qq sync-interval=2
            head -c 1000000 /dev/urandom > big.dat
            md5sum big.dat | cut -d' ' -f1 > "$QQ_IT_PROBE/big.md5"
            for i in $(seq 1 18); do echo "line $i" >> log.txt; sleep 0.5; done
            """)
        let job = try SlurmCluster.submit("job.sh", dirs: dirs, env: ["QQ_SYNC_MINIMUM": "1"])
        let rec = try #require(try SlurmCluster.waitForEnd(job).first)
        let why = job.diagnostics()
        #expect(rec.state == "COMPLETED", why)
        let info = try InfoFile.load(path: "\(dirs.input)/job.qqinfo")
        let sync = try #require(info.sync, why)
        #expect(sync.count >= 3, why)
        #expect(sync.bytes >= 1_000_000, "big.dat went home during the run\n\(why.rawValue)")
        let out = try #require(info.stageOut, why)
        // Only log.txt (and the script's logs) changed after the last round; big.dat is not copied again.
        #expect(out.bytes < 1_000_000 && out.files <= 3, "stage_out: \(out)\n\(why.rawValue)")
        #expect(info.synchronized == true, why)
        let lines = (Files.read("\(dirs.input)/log.txt") ?? "").split(separator: "\n")
        #expect(lines.count == 18 && lines.last == "line 18", why)
        let md5 = Command.run(["md5sum", "\(dirs.input)/big.dat"], timeout: 15).stdout.split(separator: " ").first.map(String.init)
        #expect(md5 == dirs.probeFile("big.md5"), why)
    }

    @Test("(c) qq-sync copies a named file from a running job, stage-out later replaces it cleanly, and a finished job is refused")
    func qqSyncCopiesANamedFileAndRefusesAFinishedJob() throws {
        let dirs = try TestDirs("sync-c")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            echo "partial result" > r.dat
            echo "not asked for" > other.dat
            touch "$QQ_IT_PROBE/written"
            while [ ! -f "$QQ_IT_PROBE/go" ]; do sleep 0.2; done
            echo "final result" > r.dat
            """)
        let job = try SlurmCluster.submit("job.sh", dirs: dirs)
        try SlurmCluster.waitForFile("\(dirs.probe)/written", job: job)
        var env = try SlurmCluster.baseEnvironment(for: TestUser.current)
        env["QQ_SCRATCH_ROOT"] = dirs.scratch
        let during = Command.run(["qq-sync", job.id, "r.dat"], environment: env, cwd: dirs.input, timeout: 30)
        let why = job.diagnostics("qq-sync:\n\(during)")
        #expect(during.exitCode == 0, why)
        #expect(during.stderr.contains("Copied 1 file(s)") && during.stderr.contains("r.dat"), why)
        #expect(Files.read("\(dirs.input)/r.dat") == "partial result\n", why)
        #expect(!Files.exists("\(dirs.input)/other.dat"), "only the named file is copied\n\(why.rawValue)")
        try Files.write("\(dirs.probe)/go", "")
        let rec = try #require(try SlurmCluster.waitForEnd(job).first)
        #expect(rec.state == "COMPLETED", why)
        #expect(Files.read("\(dirs.input)/r.dat") == "final result\n", why)
        #expect(Files.read("\(dirs.input)/other.dat") == "not asked for\n", why)
        #expect(!Files.list(dirs.input).contains { $0.contains(".qq-kept-") }, "the synced copy is the job's own, not kept aside\n\(why.rawValue)")
        let info = try InfoFile.load(path: "\(dirs.input)/job.qqinfo")
        #expect(info.sync == nil, "qq-sync never writes the state file\n\(why.rawValue)")
        let after = Command.run(["qq-sync", job.id], environment: env, cwd: dirs.input, timeout: 30)
        #expect(after.exitCode == 91, "\(after)")
        #expect(after.stderr.contains("is finished: qq-sync copies from the working directory of a running job. Its results came back when it ended."), "\(after)")
    }

    @Test("(e) During a stage-in of 50,000 files, the state file and qq-info show progress that grows")
    func stageInProgressGrows() throws {
        let dirs = try TestDirs("sync-e")
        try dirs.put("job.sh", "#!/usr/bin/env -S qq-run\necho done\n")
        let made = Command.run(["bash", "-c", "mkdir -p many && cd many && for i in $(seq 1 50000); do echo $i > f$i; done"],
                               cwd: dirs.input, timeout: 120)
        try #require(made.succeeded, "\(made)")
        let infoPath = "\(dirs.input)/job.qqinfo"
        // One stream and a 0.2 s progress interval (a test-only setting): a slow enough copy to watch.
        let job = try SlurmCluster.submit("job.sh", dirs: dirs, env: ["QQ_PROGRESS_INTERVAL": "0.2", "QQ_COPY_STREAMS": "1"])
        var seen: [Int] = []
        var panel = ""
        let deadline = Clock.now + 120
        while Clock.now < deadline {
            if let r = try? InfoFile.load(path: infoPath, tornReadRetries: 0) {
                if let p = r.progress, p.phase == "stage_in" {
                    if seen.last != p.files { seen.append(p.files) }
                    if panel.isEmpty {
                        panel = Command.run(["qq-info", infoPath], environment: try SlurmCluster.baseEnvironment(for: TestUser.current),
                                            cwd: dirs.input, timeout: 30).stdout
                    }
                }
                if r.phase == .running || r.phase == .done { break }
            }
            Clock.sleep(0.05)
        }
        let rec = try #require(try SlurmCluster.waitForEnd(job).first)
        let why = job.diagnostics("progress files seen: \(seen)\npanel:\n\(panel)")
        #expect(rec.state == "COMPLETED", why)
        #expect(seen.count >= 2 && seen == seen.sorted() && (seen.last ?? 0) > (seen.first ?? 0), why)
        #expect(panel.contains("Staging in:") && panel.contains("/50,001 files"), why)
        let info = try InfoFile.load(path: infoPath)
        #expect(info.progress == nil, "progress is gone once the copy is done\n\(why.rawValue)")
    }

    @Test("(f) With a time limit, one more round runs about a minute before it, so the rescue at the limit has little left")
    func lastRoundBeforeTheTimeLimit() throws {
        let dirs = try TestDirs("sync-f")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            # qq sync-interval=1h
            head -c 5000000 /dev/urandom > big.dat
            sleep 600
            """)
        let job = try SlurmCluster.submit("job.sh", dirs: dirs, options: ["--time=2"])
        let rec = try #require(try SlurmCluster.waitForEnd(job, timeout: 400).first)
        let why = job.diagnostics()
        #expect(rec.state == "TIMEOUT", why)
        #expect((Files.read(job.outputPath) ?? "").contains("Syncing once more before the time limit."), why)
        let info = try InfoFile.load(path: "\(dirs.input)/job.qqinfo", tornReadRetries: 0)
        #expect(info.killReason == .timeout, why)
        #expect(info.sync?.count == 1 && (info.sync?.bytes ?? 0) >= 5_000_000, why)
        // The rescue found only the logs: big.dat was home already.
        #expect(info.stageOut?.mode == .rescue && (info.stageOut?.bytes ?? .max) < 5_000_000, why)
        #expect(Files.exists("\(dirs.input)/big.dat"), why)
    }
}
