// Issue 8, item 7, end to end: a stage-out never destroys an input-dir file that changed since
// stage-in (real Slurm: the test edits the input file while the job runs) or that was never staged
// in (`exclude=`, Local mode). The input dir's version is kept as `<name>.qq-kept-<job id>`.
//
// Run alone: swift build --build-tests && QQ_TEST_FULL=1 swift test --skip-build --filter SlurmStageOutKeep

import Foundation
import Glibc
import Testing
@testable import QQCore

@Suite("Stage-out keeps input-dir edits (issue 8, item 7)", .serialized,
       .enabled(if: SlurmCluster.shouldRun, "needs a Slurm cluster (scripts/slurm-harness.sh start)"))
struct SlurmStageOutKeepTests {
    let me = TestUser.current

    @Test("Real Slurm: input.dat edited while the job runs and changed by the job -> job's version + input.dat.qq-kept-<id>, WARNING, kept: 1, qq-info row")
    func editDuringTheJobIsKept() throws {
        let dirs = try TestDirs("k-edit")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            touch "$QQ_IT_PROBE/started"
            for i in $(seq 1 300); do [ -e "$QQ_IT_PROBE/go" ] && break; sleep 0.1; done
            echo "v2 from the job" > input.dat
            """)
        try dirs.put("input.dat", "v1\n")
        let infoPath = "\(dirs.input)/job.qqinfo"

        let job = try SlurmCluster.submit("job.sh", dirs: dirs)
        try SlurmCluster.waitForFile("\(dirs.probe)/started", job: job, timeout: 120)
        try Files.write("\(dirs.input)/input.dat", "edited by the user while the job ran\n")
        try Files.write("\(dirs.probe)/go", "")
        try SlurmCluster.waitForEnd(job, timeout: 60)
        let why = job.diagnostics()

        let info = try StateFiles.load(infoPath, job: job)
        #expect(info.jobState == .finished, why)
        #expect(Files.read("\(dirs.input)/input.dat") == "v2 from the job\n", why)
        let kept = "\(dirs.input)/input.dat.qq-kept-\(job.id)"
        #expect(Files.read(kept) == "edited by the user while the job ran\n", why)
        #expect(info.stageOut?.kept == 1, why)
        #expect(info.synchronized == true, why)
        let log = Files.read(job.outputPath) ?? ""
        #expect(log.contains("WARNING") && log.contains("'\(dirs.input)/input.dat' changed in the input directory since stage-in")
                && log.contains("kept as '\(kept)'"), why)
        let panel = try QQInfoTool.run([infoPath])
        #expect(panel.stdout.contains("Kept:") && panel.stdout.contains("1 input-dir file as *.qq-kept-\(job.id)"), "\(panel)")
    }

    @Test("Local mode, exclude=big_inputs/: the job writes big_inputs/data.bin -> the unstaged original is kept as data.bin.qq-kept-<id>")
    func excludedOriginalIsKept() throws {
        let dirs = try TestDirs("k-excl")
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            # qq exclude=big_inputs/
            test -e big_inputs && { echo "big_inputs was staged in" >&2; exit 7; }
            mkdir -p big_inputs && echo "written by the job" > big_inputs/data.bin
            """)
        try dirs.put("big_inputs/data.bin", "the user's unstaged original\n")
        var environment = try SlurmCluster.baseEnvironment(for: me)
        environment["QQ_SCRATCH_ROOT"] = dirs.scratch
        let run = Command.run(["qq-run", "--local", "job.sh"], environment: environment, cwd: dirs.input, timeout: 60)
        let why = Comment(rawValue: "\(run)\ninput dir: \(Files.list(dirs.input))")
        #expect(run.exitCode == 0, why)

        let info = try StateFiles.load("\(dirs.input)/job.qqinfo")
        #expect(Files.read("\(dirs.input)/big_inputs/data.bin") == "written by the job\n", why)
        let kept = "\(dirs.input)/big_inputs/data.bin.qq-kept-\(info.jobID)"
        #expect(Files.read(kept) == "the user's unstaged original\n", why)
        #expect(info.stageOut?.kept == 1, why)
        #expect(run.stderr.contains("'\(dirs.input)/big_inputs/data.bin' was not staged in") && run.stderr.contains("kept as '\(kept)'"), why)
    }
}
