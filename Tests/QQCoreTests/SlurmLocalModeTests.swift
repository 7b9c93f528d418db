// Issue 2 (f): the Local batch system, end to end, with the built binaries and no scheduler:
// `qq-run --local job.sh` in the foreground (the README's first command does the same), and
// `QQ_BATCH_SYSTEM=Local`. Lives beside the Slurm tests because it uses the same support.
//
// Needs only the built binaries (.build/debug). Skipped when they are missing, unless QQ_TEST_FULL=1.

import Glibc
import Testing
@testable import QQCore

@Suite("Local mode (qq-run --local)", .enabled(if: SlurmCluster.shouldRunLocal, "qq-run is not built (.build/debug/qq-run)"))
struct SlurmLocalModeTests {
    let me = TestUser.current

    func runLocal(_ argv: [String], dirs: TestDirs, env: [String: String] = [:]) throws -> CommandResult {
        var environment = try SlurmCluster.baseEnvironment(for: me)
        environment["QQ_SCRATCH_ROOT"] = dirs.scratch
        environment["QQ_IT_PROBE"] = dirs.probe
        for (k, v) in env { environment[k] = v }
        return Command.run(argv, environment: environment, cwd: dirs.input, timeout: 60)
    }

    @Test("(f) qq-run --local: finished/0, staged, result back, work dir removed")
    func localSuccess() throws {
        let dirs = try TestDirs("f-local")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            printf '%s\\n' "$PWD" > "$QQ_IT_PROBE/pwd"
            printf '%s\\n' "$QQ_BATCH_SYSTEM" > "$QQ_IT_PROBE/system"
            wc -w < input.txt | tr -d ' ' > result.txt
            echo "local done"
            """)
        try dirs.put("input.txt", "one two three\n")

        let run = try runLocal(["qq-run", "--local", "job.sh"], dirs: dirs)
        let why = Comment(rawValue: "\(run)\ninput dir: \(Files.list(dirs.input))")
        #expect(run.exitCode == 0, why)

        let info = try StateFiles.load("\(dirs.input)/job.qqinfo")
        #expect(info.batchSystem == .local, why)
        #expect(info.jobID.hasPrefix("local-"), why)
        #expect(info.queue == "local", why)
        #expect(info.jobName == "job.sh", why)
        #expect(info.scriptName == "job.sh", why)
        #expect(info.inputDir == dirs.input, why)
        #expect(info.jobState == .finished, why)
        #expect(info.jobExitCode == 0, why)
        #expect(info.synchronized == true, why)
        let wd = "\(dirs.scratch)/\(me.name)/qq-jobs/job_\(info.jobID)"
        #expect(info.workDir == wd, why)
        #expect(dirs.probeFile("pwd") == wd, why)
        #expect(dirs.probeFile("system") == "Local", why)
        #expect(!Files.exists(wd), why)
        #expect(Files.read("\(dirs.input)/result.txt") == "3\n", why)
        #expect(Files.read("\(dirs.input)/job.out")?.contains("local done") == true, why)
        #expect(run.stderr.contains("Job completed with an exit code of 0."), why)
        // Local files name a pid namespace and the runner's pid (R27, R62).
        #expect(info.runnerPID != nil, why)
        #expect(info.pidNamespace != nil, why)
    }

    @Test("(f) QQ_BATCH_SYSTEM=Local, exit 3: failed/3, qq-run exits 3, work dir kept")
    func localExitThree() throws {
        let dirs = try TestDirs("f-local-exit3")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            echo partial > partial.txt
            exit 3
            """)
        let run = try runLocal(["qq-run", "job.sh"], dirs: dirs, env: ["QQ_BATCH_SYSTEM": "Local"])
        let why = Comment(rawValue: "\(run)")
        #expect(run.exitCode == 3, why)
        let info = try StateFiles.load("\(dirs.input)/job.qqinfo")
        #expect(info.jobState == .failed, why)
        #expect(info.jobExitCode == 3, why)
        let wd = "\(dirs.scratch)/\(me.name)/qq-jobs/job_\(info.jobID)"
        #expect(info.workDir == wd, why)
        #expect(Files.isRegular("\(wd)/partial.txt"), why)
        #expect(!Files.exists("\(dirs.input)/partial.txt"), why)
    }

    @Test("Outside any batch system and without --local, qq-run exits 90 and writes nothing")
    func noBatchEnvironment() throws {
        let dirs = try TestDirs("f-no-batch")
        try dirs.put("job.sh", "#!/usr/bin/env -S qq-run\necho should-not-run\n")
        let run = try runLocal(["qq-run", "job.sh"], dirs: dirs)
        #expect(run.exitCode == 90, Comment(rawValue: "\(run)"))
        #expect(Files.list(dirs.input) == ["job.sh"], Comment(rawValue: "\(run)"))
    }
}
