// Issue 14 on real Slurm: the job's environment as a user sets it up with `# qq` directives: an env
// script that activates a Python venv, a failing env script, `env=` twice, an interpreter with
// arguments, a real launcher from Debian (bubblewrap) cancelled while its child runs, `container=`
// through an `apptainer` stand-in, and the prologue and epilogue.
//
// Apptainer is not packaged in Debian 12, so the container test puts a stand-in named `apptainer` on
// PATH that records its argument vector and then runs the command after the image, as
// `apptainer exec` would. bubblewrap and python3-venv come from scripts/slurm-harness.sh.
//
// Run alone: swift build --build-tests && QQ_TEST_FULL=1 swift test --skip-build --filter SlurmJobEnvironment

import Foundation
import Glibc
import Testing
@testable import QQCore

@Suite("The job's environment on real Slurm (issue 14)", .serialized,
       .enabled(if: SlurmCluster.shouldRun, "needs a Slurm cluster (scripts/slurm-harness.sh start)"))
struct SlurmJobEnvironmentTests {
    /// Submits `script` as `job.sh`, waits for its end and loads its state file.
    func run(_ dirs: TestDirs, _ script: String, env: [String: String] = [:], scriptArgs: [String] = [],
             timeout: Double = 120) throws -> (SlurmJob, InfoRecord, JobRecord?) {
        try dirs.put("job.sh", script)
        let job = try SlurmCluster.submit("job.sh", dirs: dirs, env: env, scriptArgs: scriptArgs)
        let rec = try SlurmCluster.waitForEnd(job, timeout: timeout).first
        return (job, try StateFiles.load("\(dirs.input)/job.qqinfo", job: job), rec)
    }

    /// Submits `job.sh`, waits for `<probe>/started` (the job wrote its child's pid to `<probe>/child`),
    /// `scancel`s it, and checks what every cancel must give: CANCELLED, no process of the job left
    /// (the child included), `killed`/`cancelled` in the state file.
    func cancelOnceStarted(_ dirs: TestDirs) throws -> (InfoRecord, Comment) {
        let job = try SlurmCluster.submit("job.sh", dirs: dirs)
        try SlurmCluster.waitForFile("\(dirs.probe)/started", job: job, timeout: 120)
        let child = try #require(dirs.probeFile("child").flatMap { Int32($0) })
        #expect(processAlive(child), "the child runs when the job is cancelled")
        SlurmCluster.scancel(job.id)
        let rec = try SlurmCluster.waitForEnd(job, timeout: 60).first
        let why = job.diagnostics()
        #expect(rec?.state == "CANCELLED", why)
        let left = JobProcesses.leftover(jobID: job.id, extra: [child])
        #expect(left.isEmpty, "processes left: \(left)\n\(why.rawValue)")
        let info = try StateFiles.load("\(dirs.input)/job.qqinfo", job: job)
        #expect(info.jobState == .killed && info.killReason == .cancelled, why)
        return (info, why)
    }

    /// qq-info's panel of the job's state file.
    func panelText(_ dirs: TestDirs) throws -> String {
        let r = try QQInfoTool.run(["\(dirs.input)/job.qqinfo"])
        return r.stdout
    }

    @Test("env-script activating a venv the test made: the script runs with the venv's python3 and the exported variable")
    func envScriptActivatesAVenv() throws {
        let dirs = try TestDirs("env-venv")
        let venv = "\(dirs.base)/venv"
        let made = Command.run(["python3", "-m", "venv", "--without-pip", venv], timeout: 120)
        try #require(made.succeeded, "python3 -m venv (python3-venv, installed by scripts/slurm-harness.sh): \(made)")
        try dirs.put("setup.sh", "source '\(venv)/bin/activate'\nexport FROM_SETUP=\"set by setup.sh\"\n")
        let (job, info, rec) = try run(dirs, """
            #!/usr/bin/env -S qq-run
            # qq env-script setup.sh
            command -v python3 > "$QQ_IT_PROBE/python"
            python3 -c 'import sys; print(sys.prefix)' > "$QQ_IT_PROBE/prefix"
            echo "$FROM_SETUP" > "$QQ_IT_PROBE/from_setup"
            """)
        let why = job.diagnostics()
        #expect(rec?.state == "COMPLETED", why)
        #expect(info.jobState == .finished && info.jobExitCode == 0, why)
        #expect(dirs.probeFile("python") == "\(venv)/bin/python3", why)
        #expect(dirs.probeFile("prefix") == venv, why)
        #expect(dirs.probeFile("from_setup") == "set by setup.sh", why)
        #expect(info.envScript == "setup.sh", why)
        let panel = try panelText(dirs)
        #expect(panel.contains("ENVIRONMENT") && panel.contains("Env script:  setup.sh"), "\(panel)")
    }

    @Test("A failing env script: failed 91 with the error, its stderr in job.err, the script not run, earlier results untouched")
    func failingEnvScriptStopsTheJob() throws {
        let dirs = try TestDirs("env-fail")
        try dirs.put("setup.sh", "echo 'module: python/3.99 not found' >&2\nreturn 3\n")
        try dirs.put("results.dat", "results of cycle 1\n")
        let before = FileFingerprint.of("\(dirs.input)/results.dat")
        let (job, info, rec) = try run(dirs, """
            #!/usr/bin/env -S qq-run
            # qq env-script=setup.sh
            touch "$QQ_IT_PROBE/script-ran"
            echo overwritten > results.dat
            """)
        let why = job.diagnostics()
        #expect(rec?.state == "FAILED" && rec?.exitCode == "91:0", why)
        #expect(info.jobState == .failed && info.jobExitCode == 91, why)
        #expect(info.error?.contains("Env script 'setup.sh' failed with exit code 3; the script was not run") == true, why)
        #expect(dirs.probeFile("script-ran") == nil, "the script must not run\n\(why.rawValue)")
        #expect(Files.read("\(dirs.input)/job.err")?.contains("module: python/3.99 not found") == true, why)
        #expect(FileFingerprint.of("\(dirs.input)/results.dat") == before, why)
        #expect((Files.read(job.outputPath) ?? "").contains("ERROR    Env script 'setup.sh' failed with exit code 3"), why)
    }

    @Test("env= twice (both forms) and QQ_OPT_ENV: every variable reaches the script; the state file lists them")
    func envTwice() throws {
        let dirs = try TestDirs("env-vars")
        let (job, info, rec) = try run(dirs, """
            #!/usr/bin/env -S qq-run
            # qq env=STEP_SIZE=0.5
            # qq env MESSAGE="hello world"
            printf '%s|%s|%s\\n' "$STEP_SIZE" "$MESSAGE" "$FROM_SBATCH" > "$QQ_IT_PROBE/vars"
            """, env: ["QQ_OPT_ENV": "FROM_SBATCH=yes"])
        let why = job.diagnostics()
        #expect(rec?.state == "COMPLETED", why)
        #expect(dirs.probeFile("vars") == "0.5|hello world|yes", why)
        #expect(info.envVariables == ["STEP_SIZE=0.5", "MESSAGE=hello world", "FROM_SBATCH=yes"], why)
        let json = try QQInfoTool.run(["--json", "\(dirs.input)/job.qqinfo"])
        let top = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let first = (top?["jobs"] as? [[String: Any]])?.first
        #expect(first?["env"] as? [String] == ["STEP_SIZE=0.5", "MESSAGE=hello world", "FROM_SBATCH=yes"], "\(json)")
    }

    @Test("interpreter with arguments and quotes: env \"GREETING=a b\" python3 -u runs the Python script unbuffered")
    func interpreterWithArguments() throws {
        let dirs = try TestDirs("env-interp")
        let (job, info, rec) = try run(dirs, """
            #!/usr/bin/env -S qq-run
            # qq interpreter env "GREETING=a b" python3 -u
            import os, sys
            with open(os.environ["QQ_IT_PROBE"] + "/python", "w") as f:
                f.write("%d|%s|%s\\n" % (int(sys.stdout.write_through), os.environ["GREETING"], " ".join(sys.argv[1:])))
            """, scriptArgs: ["first arg", "2"])
        let why = job.diagnostics()
        #expect(rec?.state == "COMPLETED", why)
        #expect(dirs.probeFile("python") == "1|a b|first arg 2", why)
        #expect(info.interpreter == #"env "GREETING=a b" python3 -u"#, why)
    }

    @Test("bubblewrap as the interpreter, scancel while its child runs: no process left, results rescued, killed/cancelled")
    func bubblewrapCancelled() throws {
        let dirs = try TestDirs("env-bwrap")
        let bwrap = Command.run(["bwrap", "--version"], timeout: 10)
        try #require(bwrap.succeeded, "bubblewrap (Debian package, installed by scripts/slurm-harness.sh): \(bwrap)")
        // The work dir lies under the scratch root, which is bound writable; bwrap keeps the cwd.
        let interpreter = "bwrap --ro-bind / / --bind \(dirs.scratch) \(dirs.scratch) --bind \(dirs.probe) \(dirs.probe) --dev /dev --proc /proc bash"
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            # qq interpreter=\(interpreter)
            echo "partial result" > result.dat
            sleep 300 &
            echo $! > "$QQ_IT_PROBE/child"
            touch "$QQ_IT_PROBE/started"
            wait
            """)
        let (info, why) = try cancelOnceStarted(dirs)
        #expect(info.stageOut?.mode == .rescue, why)
        #expect(Files.read("\(dirs.input)/result.dat") == "partial result\n", why)
    }

    @Test("container=image.sif with container-mounts: the apptainer stand-in gets exactly exec --bind <wd>,/cvmfs,/project,<script> image.sif bash <script> <args>")
    func containerArgumentVector() throws {
        let dirs = try TestDirs("env-container")
        // Apptainer is not packaged in Debian 12: this stand-in records its argv and runs the command.
        let bin = "\(dirs.base)/bin"
        try Files.mkdir(bin)
        try Files.write("\(bin)/apptainer", """
            #!/bin/bash
            printf '%s\\n' "$@" > "$QQ_IT_PROBE/argv"
            pwd > "$QQ_IT_PROBE/cwd"
            shift 4
            exec "$@"
            """, mode: 0o755)
        try dirs.put("image.sif", "not really an image\n")
        let path = try "\(bin):" + SlurmCluster.jobPath()
        let (job, info, rec) = try run(dirs, """
            #!/usr/bin/env -S qq-run
            # qq container=image.sif
            # qq container-mounts=/cvmfs,/project
            printf '%s\\n' "$0" > "$QQ_IT_PROBE/script"
            printf '%s\\n' "$QQ_WORK_DIR" > "$QQ_IT_PROBE/wd"
            echo "inside" > "$QQ_IT_PROBE/ran"
            """, env: ["PATH": path], scriptArgs: ["one arg", "two"])
        let why = job.diagnostics()
        #expect(rec?.state == "COMPLETED", why)
        let script = try #require(dirs.probeFile("script"), why)
        let wd = try #require(dirs.probeFile("wd"), why)
        let argv = Files.read("\(dirs.probe)/argv")?.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(argv == ["exec", "--bind", "\(wd),/cvmfs,/project,\(script)", "image.sif", "bash", script, "one arg", "two", ""], why)
        #expect(dirs.probeFile("cwd") == wd, why)
        #expect(dirs.probeFile("ran") == "inside", why)
        #expect(info.container == "image.sif" && info.containerMounts == ["/cvmfs", "/project"], why)
        #expect(try panelText(dirs).contains("Container:  image.sif (mounts /cvmfs,/project)"))
    }

    @Test("prologue, script, epilogue run in this order in the work dir; their file comes back; epilogue 4 recorded, the job keeps the script's 3")
    func prologueAndEpilogue() throws {
        let dirs = try TestDirs("env-steps")
        let (job, info, rec) = try run(dirs, """
            #!/usr/bin/env -S qq-run
            # qq transfer-mode=always
            # qq prologue=echo "prologue in $PWD" >> order.txt; echo prologue-output
            # qq epilogue echo "epilogue $QQ_JOB_ID" >> order.txt; exit 4
            echo "script in $PWD" >> order.txt
            exit 3
            """)
        let why = job.diagnostics()
        let wd = try #require(info.workDir, why)
        #expect(rec?.exitCode == "3:0", why)
        #expect(info.jobState == .failed && info.jobExitCode == 3, why)
        #expect(Files.read("\(dirs.input)/order.txt") == "prologue in \(wd)\nscript in \(wd)\nepilogue \(job.id)\n", why)
        #expect(info.prologueExitCode == 0 && info.epilogueExitCode == 4, why)
        #expect(info.error == nil, why)
        #expect(Files.read("\(dirs.input)/job.out")?.hasPrefix("prologue-output\n") == true, why)
        #expect(try panelText(dirs).contains("Epilogue:  echo \"epilogue $QQ_JOB_ID\" >> order.txt; exit 4 (exit code 4)"))
    }

    @Test("An epilogue failing after a successful script fails the job: 91, script_exit_code 0, the error names the epilogue")
    func failingEpilogueFailsASuccessfulJob() throws {
        let dirs = try TestDirs("env-epi-fail")
        let (job, info, rec) = try run(dirs, """
            #!/usr/bin/env -S qq-run
            # qq epilogue=echo 'cannot pack results' >&2; exit 2
            echo done > result.dat
            """)
        let why = job.diagnostics()
        #expect(rec?.exitCode == "91:0", why)
        #expect(info.jobState == .failed && info.jobExitCode == 91 && info.scriptExitCode == 0, why)
        #expect(info.epilogueExitCode == 2, why)
        #expect(info.error?.contains("Epilogue 'echo 'cannot pack results' >&2; exit 2' exited with code 2 after the script succeeded") == true, why)
        #expect(Files.read("\(dirs.input)/job.err")?.contains("cannot pack results") == true, why)
    }

    @Test("A failing prologue stops the job before the script: 91, prologue_exit_code 6, its stderr in job.err, the script not run")
    func failingPrologueStopsTheJob() throws {
        let dirs = try TestDirs("env-pro-fail")
        let (job, info, rec) = try run(dirs, """
            #!/usr/bin/env -S qq-run
            # qq prologue=echo 'input archive missing' >&2; exit 6
            # qq epilogue=touch "$QQ_IT_PROBE/epilogue-ran"
            touch "$QQ_IT_PROBE/script-ran"
            """)
        let why = job.diagnostics()
        #expect(rec?.exitCode == "91:0", why)
        #expect(info.jobState == .failed && info.jobExitCode == 91 && info.prologueExitCode == 6, why)
        #expect(info.error?.contains("exited with code 6; the script was not run") == true, why)
        #expect(dirs.probeFile("script-ran") == nil && dirs.probeFile("epilogue-ran") == nil, why)
        #expect(Files.read("\(dirs.input)/job.err")?.contains("input archive missing") == true, why)
    }

    @Test("scancel while the prologue runs: the prologue's processes are ended, what it wrote is rescued, the script never runs")
    func scancelDuringThePrologue() throws {
        let dirs = try TestDirs("env-pro-kill")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            # qq prologue=echo unpacked > unpacked.dat; sleep 300 & echo $! > "$QQ_IT_PROBE/child"; touch "$QQ_IT_PROBE/started"; wait
            touch "$QQ_IT_PROBE/script-ran"
            """)
        let (info, why) = try cancelOnceStarted(dirs)
        #expect(info.stageOut?.mode == .rescue && info.prologueExitCode == nil, why)
        #expect(Files.read("\(dirs.input)/unpacked.dat") == "unpacked\n", why)
        #expect(dirs.probeFile("script-ran") == nil, why)
    }
}
