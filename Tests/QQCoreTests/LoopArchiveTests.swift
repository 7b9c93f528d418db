// SPEC §10 items 2, 3, 5 and issue 11: what the archive of a loop job receives and gives back, on
// real directories (no scheduler). Files move only when they verifiably arrived, and an archive or
// input-dir file in the way is kept as `<name>.qq-kept-<job id>`, never overwritten.

import Glibc
import Testing
@testable import QQCore

private struct LoopWorld: ~Copyable {
    let dir = TempDir()
    var input: String { dir.path + "/input" }
    var archive: String { input + "/storage" }
    var work: String { dir.path + "/work" }

    init() {
        mkdir(dir.path + "/input", 0o755)
        mkdir(dir.path + "/work", 0o755)
    }

    func archiveFor(cycle current: Int) -> LoopArchive {
        LoopArchive(cycle: LoopJob.Cycle(start: 1, end: 10, current: current, archiveDir: archive,
                                         format: ArchiveFormat("md%04d"), archiveMode: TransferPolicy(["success"])),
                    inputDir: input, scriptName: "md.sh", jobID: "77")
    }
}

private let engine = CopyEngine(streams: 1, retry: RetryPolicy(attempts: 1))

@Suite struct LoopArchiveTests {
    @Test func thePreviousCyclesRuntimeFilesMoveIntoTheArchiveUnderTheArchiveNames() throws {
        let w = LoopWorld()
        writeText(w.input + "/md+0002.qqinfo", "info\n")
        writeText(w.input + "/md+0002.out", "out\n")
        writeText(w.input + "/md+0002.err", "")
        writeText(w.input + "/md+0003.qqinfo", "this cycle\n")
        writeText(w.input + "/system.gro", "input\n")
        try w.archiveFor(cycle: 3).archivePreviousCycle(engine: engine)
        #expect(readText(w.archive + "/md0002.qqinfo") == "info\n")
        #expect(readText(w.archive + "/md0002.out") == "out\n")
        #expect(FileSystem.lstat(w.archive + "/md0002.err") != nil)
        #expect(FileSystem.lstat(w.input + "/md+0002.qqinfo") == nil)
        #expect(readText(w.input + "/md+0003.qqinfo") == "this cycle\n")
        #expect(readText(w.input + "/system.gro") == "input\n")
    }

    @Test func anArchivedFileInTheWayOfAPreviousCycleFileIsKeptAside() throws {
        let w = LoopWorld()
        mkdir(w.archive, 0o755)
        writeText(w.archive + "/md0002.out", "written by a person\n")
        writeText(w.input + "/md+0002.out", "cycle 2 log\n")
        try w.archiveFor(cycle: 3).archivePreviousCycle(engine: engine)
        #expect(readText(w.archive + "/md0002.out") == "cycle 2 log\n")
        #expect(readText(w.archive + "/md0002.out.qq-kept-77") == "written by a person\n")
    }

    @Test func anArchivePathThatIsAFileIsAClearError() {
        let w = LoopWorld()
        writeText(w.archive, "not a directory\n")
        #expect(throws: RunFailure.self) { try w.archiveFor(cycle: 2).archivePreviousCycle(engine: engine) }
        #expect(readText(w.archive) == "not a directory\n")
    }

    @Test func restoreCopiesOnlyThisCyclesDataFiles() throws {
        let w = LoopWorld()
        mkdir(w.archive, 0o755)
        writeText(w.archive + "/md0003.cpt", "checkpoint 3\n")
        writeText(w.archive + "/md0003_pf.xvg", "pull\n")
        writeText(w.archive + "/md0003.qqinfo", "a record\n")
        writeText(w.archive + "/md0002.cpt", "older\n")
        writeText(w.work + "/md0003.cpt", "staged copy\n")
        let restored = try w.archiveFor(cycle: 3).restore(into: w.work, replacingStaged: true, engine: engine)
        #expect(readText(w.work + "/md0003.cpt") == "checkpoint 3\n")
        #expect(readText(w.work + "/md0003_pf.xvg") == "pull\n")
        #expect(FileSystem.lstat(w.work + "/md0003.qqinfo") == nil)
        #expect(FileSystem.lstat(w.work + "/md0002.cpt") == nil)
        #expect(Set(restored.files.keys) == ["md0003.cpt", "md0003_pf.xvg"])
    }

    @Test func restoringIntoTheInputDirKeepsAPersonsFileOfTheSameName() throws {
        let w = LoopWorld()
        mkdir(w.archive, 0o755)
        writeText(w.archive + "/md0003.cpt", "checkpoint 3\n")
        writeText(w.input + "/md0003.cpt", "edited by hand\n")
        _ = try w.archiveFor(cycle: 3).restore(into: w.input, replacingStaged: false, engine: engine)
        #expect(readText(w.input + "/md0003.cpt") == "checkpoint 3\n")
        #expect(readText(w.input + "/md0003.cpt.qq-kept-77") == "edited by hand\n")
    }

    @Test func theCyclesResultsLeaveTheWorkDirForTheArchive() {
        let w = LoopWorld()
        writeText(w.work + "/md0003.dat", "results\n")
        writeText(w.work + "/md0004.cpt", "next checkpoint\n")
        writeText(w.work + "/md0003.out", "a log\n")
        writeText(w.work + "/notes.txt", "not a cycle file\n")
        let done = w.archiveFor(cycle: 3).archiveResults(from: w.work, scratch: true, manifest: Manifest(),
                                                         restored: .init(), excluding: [], engine: engine)
        #expect(done.files == 2 && done.failed.isEmpty)
        #expect(readText(w.archive + "/md0003.dat") == "results\n")
        #expect(readText(w.archive + "/md0004.cpt") == "next checkpoint\n")
        #expect(FileSystem.lstat(w.work + "/md0003.dat") == nil)
        #expect(readText(w.work + "/md0003.out") == "a log\n")
        #expect(readText(w.work + "/notes.txt") == "not a cycle file\n")
    }

    @Test func anArchivedFileThisCycleDidNotRestoreIsKeptAsideNotOverwritten() {
        let w = LoopWorld()
        mkdir(w.archive, 0o755)
        writeText(w.archive + "/md0003.dat", "an older result\n")
        writeText(w.work + "/md0003.dat", "this cycle's result\n")
        _ = w.archiveFor(cycle: 3).archiveResults(from: w.work, scratch: true, manifest: Manifest(),
                                                  restored: .init(), excluding: [], engine: engine)
        #expect(readText(w.archive + "/md0003.dat") == "this cycle's result\n")
        #expect(readText(w.archive + "/md0003.dat.qq-kept-77") == "an older result\n")
    }

    @Test func aCheckpointTheCycleRestoredAndChangedReplacesItsArchivedVersion() throws {
        let w = LoopWorld()
        mkdir(w.archive, 0o755)
        writeText(w.archive + "/md0003.cpt", "checkpoint 3\n")
        let a = w.archiveFor(cycle: 3)
        let restored = try a.restore(into: w.work, replacingStaged: true, engine: engine)
        writeText(w.work + "/md0003.cpt", "checkpoint 3, appended to\n")
        _ = a.archiveResults(from: w.work, scratch: true, manifest: Manifest(), restored: restored, excluding: [], engine: engine)
        #expect(readText(w.archive + "/md0003.cpt") == "checkpoint 3, appended to\n")
        #expect(FileSystem.lstat(w.archive + "/md0003.cpt.qq-kept-77") == nil)
    }

    @Test func anUntouchedRestoredCopyIsNotCopiedBackAndLeavesTheWorkDir() throws {
        let w = LoopWorld()
        mkdir(w.archive, 0o755)
        writeText(w.archive + "/md0003.cpt", "checkpoint 3\n")
        let a = w.archiveFor(cycle: 3)
        let restored = try a.restore(into: w.work, replacingStaged: true, engine: engine)
        let before = FileSystem.lstat(w.archive + "/md0003.cpt")
        let done = a.archiveResults(from: w.work, scratch: true, manifest: Manifest(), restored: restored, excluding: [], engine: engine)
        #expect(done.files == 0)
        #expect(FileSystem.lstat(w.archive + "/md0003.cpt")?.inode == before?.inode)
        #expect(FileSystem.lstat(w.work + "/md0003.cpt") == nil, "a copy of the archive is not a result to stage out")
    }

    @Test func inAnInputDirJobTheResultsAreMovedNotCopied() {
        let w = LoopWorld()
        writeText(w.input + "/md0003.dat", "results\n")
        let inode = FileSystem.lstat(w.input + "/md0003.dat")?.inode
        _ = w.archiveFor(cycle: 3).archiveResults(from: w.input, scratch: false, manifest: Manifest(),
                                                  restored: .init(), excluding: [], engine: engine)
        #expect(FileSystem.lstat(w.archive + "/md0003.dat")?.inode == inode)
        #expect(FileSystem.lstat(w.input + "/md0003.dat") == nil)
    }
}

@Suite struct ResubmissionCommandTests {
    @Test func resourcesBecomeQQSubmitOptionsInQQsOrder() {
        var r = Resources(nnodes: 2, ncpusPerNode: 128, memPerCPU: Size(kilobytes: 1048576), walltime: "12:00:00", workDir: "scratch")
        r.props = [KeyValue("avx2", "true"), KeyValue("gpu", "false"), KeyValue("cl", "zia")]
        #expect(Resubmission.resourceArguments(r) == ["--nnodes", "2", "--ncpus-per-node", "128", "--mem-per-cpu", "1048576kb",
                                                       "--walltime", "12:00:00", "--work-dir", "scratch", "--props", "avx2,^gpu,cl=zia"])
    }

    @Test func theSubmissionEnvironmentHasNoVariablesOfThisJob() {
        let env = Environment(["SLURM_JOB_ID": "5", "SLURM_CPUS_PER_TASK": "2", "SBATCH_PARTITION": "x", "SLURM_CONF": "/etc/slurm/slurm.conf",
                               "QQ_INFO": "/a/job.qqinfo", "QQ_LOOP_CURRENT": "3", "QQ_OPT_WORK_DIR": "input_dir", "PATH": "/bin", "HOME": "/h"])
        let out = Resubmission.submissionEnvironment(env)
        #expect(out.values.keys.sorted() == ["HOME", "PATH", "QQ_OPT_WORK_DIR", "SLURM_CONF"])
    }

    @Test func slurmsExpandedLogNamesBecomePatternsAgain() {
        #expect(SlurmResubmitOptions.pattern(of: "/d/run2/out-12.log", jobID: "12", jobName: nil) == ("/d/run2/out-%j.log", true))
        #expect(SlurmResubmitOptions.pattern(of: "/d/md+0001.sh-120.log", jobID: "12", jobName: "md+0001.sh") == ("/d/%x-120.log", true))
        #expect(SlurmResubmitOptions.pattern(of: "/d/fixed.log", jobID: "12", jobName: "md.sh") == ("/d/fixed.log", false))
    }

    @Test func theNextCycleGetsThisJobsOptionsFromSlurmsRecord() {
        let fields = ["Partition": "debug", "Account": "proj_1", "TimeLimit": "00:05:00", "NumNodes": "1", "NumTasks": "1",
                      "CPUs/Task": "2", "MinMemoryNode": "100M", "QOS": "(null)", "Features": "(null)", "TresPerNode": "gres:gpu:1",
                      "WorkDir": "/d", "StdOut": "/d/logs/slurm-7.out", "StdErr": "/d/logs/slurm-7.out"]
        let o = SlurmResubmitOptions(fields: fields, jobID: "7", jobName: "md.sh", scriptText: "#!/bin/bash\n").options
        #expect(o == ["--partition=debug", "--account=proj_1", "--time=00:05:00", "--nodes=1", "--ntasks=1", "--cpus-per-task=2",
                      "--mem=100M", "--gres=gpu:1", "--output=/d/logs/slurm-%j.out"])
    }

    @Test func outputFilesTheScriptNamesItselfAreLeftToTheScript() {
        let fields = ["WorkDir": "/d", "StdOut": "/d/my-7.log", "StdErr": "/d/my-7.err"]
        let o = SlurmResubmitOptions(fields: fields, jobID: "7", jobName: nil, scriptText: "#!/bin/bash\n#SBATCH -o my-%j.log\n#SBATCH --error=my-%j.err\n").options
        #expect(o.isEmpty)
        let byDefault = SlurmResubmitOptions(fields: ["WorkDir": "/d", "StdOut": "/d/slurm-7.out", "StdErr": "/d/slurm-7.out"],
                                             jobID: "7", jobName: nil, scriptText: "").options
        #expect(byDefault.isEmpty)
    }

    @Test func aFixedLogNameIsAppendedToSoNoCycleOverwritesAnother() {
        let o = SlurmResubmitOptions(fields: ["WorkDir": "/d", "StdOut": "/d/md.log", "StdErr": "/d/md.log"],
                                     jobID: "7", jobName: nil, scriptText: "").options
        #expect(o == ["--output=/d/md.log", "--open-mode=append"])
    }

    @Test func theHandCommandIsQuotedForAShell() {
        #expect(shellQuoted("my md.sh") == "'my md.sh'")
        #expect(shellQuoted("it's") == "'it'\\''s'")
        #expect(shellQuoted("--depend=afterok:5") == "--depend=afterok:5")
    }

    @Test func onlyAnUnreachableSchedulerIsRetried() {
        #expect(Resubmission.isTransient("sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)"))
        #expect(!Resubmission.isTransient("sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified"))
    }
}
