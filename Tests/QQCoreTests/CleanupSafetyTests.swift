import Glibc
import Testing
@testable import QQCore

/// R134/R135 as a plain function of (work dir, record, environment).
@Suite struct CleanupSafetyTests {
    let env = Environment(["QQ_SCRATCH_ROOT": "/scratch", "USER": "jdoe", "QQ_CONFIG": "/nonexistent"])

    func match(_ wd: String, _ id: String, _ system: BatchSystemName, _ e: Environment? = nil) -> String? {
        ScratchLocation.match(workDir: wd, jobID: id, system: system, environment: e ?? env,
                              settings: Settings.load(environment: e ?? env, system: system))?.root
    }

    @Test func slurmLayoutMatchesUserAndFallbackUsers() {
        #expect(match("/scratch/jdoe/qq-jobs/job_12", "12", .slurm) == "/scratch")
        #expect(match("/scratch/jdoe3/qq-jobs/job_12", "12", .slurm) == "/scratch")
        #expect(match("/scratch/jdoe4/qq-jobs/job_12", "12", .slurm) == nil)
        #expect(match("/scratch/eve/qq-jobs/job_12", "12", .slurm) == nil)
    }

    @Test func jobDirNameMustBeThisJobsWithAnOptionalCounter() {
        #expect(match("/scratch/jdoe/qq-jobs/job_12_2", "12", .slurm) != nil)
        #expect(match("/scratch/jdoe/qq-jobs/job_12_1", "12", .slurm) == nil)
        #expect(match("/scratch/jdoe/qq-jobs/job_13", "12", .slurm) == nil)
        #expect(match("/scratch/jdoe/qq-jobs/job_12/sub", "12", .slurm) == nil)
    }

    @Test func dotComponentsAndRelativePathsNeverMatch() {
        #expect(match("/scratch/jdoe/qq-jobs/../qq-jobs/job_12", "12", .slurm) == nil)
        #expect(match("scratch/jdoe/qq-jobs/job_12", "12", .slurm) == nil)
        #expect(match("/scratch//jdoe/qq-jobs/job_12", "12", .slurm) == nil)
    }

    @Test func forgedHomeDirectoryIsNotAScratchLocation() {
        #expect(match("/users/jdoe", "12", .slurm) == nil)
        #expect(match("/scratch", "12", .slurm) == nil)
    }

    @Test func it4iAndLumiHaveAnAccountComponent() {
        let e = Environment(["USER": "jdoe", "QQ_CONFIG": "/nonexistent"])
        #expect(match("/scratch/project/dd-24-1/jdoe/qq-jobs/job_5", "5", .slurmIT4I, e) == "/scratch/project")
        #expect(match("/scratch/project/jdoe/qq-jobs/job_5", "5", .slurmIT4I, e) == nil)
        #expect(match("/flash/project_1/jdoe/qq-jobs/job_5", "5", .slurmLumi, e) == "/flash")
    }

    @Test func pbsLayoutUsesFullOrShortId() {
        let e = Environment(["USER": "jdoe", "QQ_CONFIG": "/nonexistent"])
        #expect(match("/scratch.ssd/jdoe/job_1234567.pbs-m1.metacentrum.cz/main", "1234567.pbs-m1.metacentrum.cz", .pbs, e) == "/scratch.ssd")
        #expect(match("/scratch/job_1234567/main", "1234567.pbs-m1.metacentrum.cz", .pbs, e) == "/scratch")
        #expect(match("/scratch/jdoe/job_1234567/other", "1234567", .pbs, e) == nil)
    }

    @Test func wipeRootsAddKnownRoots() {
        let e = Environment(["USER": "jdoe", "QQ_WIPE_ROOTS": "/mnt/a:/mnt/b", "QQ_CONFIG": "/nonexistent"])
        #expect(match("/mnt/b/jdoe/qq-jobs/job_3", "3", .slurm, e) == "/mnt/b")
    }

    @Test func idIsSanitizedInTheDirectoryName() {
        #expect(ScratchLocation.isJobDirName("job_a_b", jobID: "a/b"))
        #expect(!ScratchLocation.isJobDirName("job_a/b", jobID: "a/b"))
    }

    @Test func missingWorkDirOrMainNodeIsRefused() {
        var r = sampleRecord(state: .failed)
        r.workDir = "/scratch/jdoe/qq-jobs/job_12"
        #expect(WorkDirSafety.check(workDir: r.workDir, record: r, environment: env, settings: Settings.load(environment: env)) == .failure(.noWorkDir))
    }

    @Test func inputDirContainmentIsCheckedBothWays() {
        #expect(WorkDirSafety.overlapsInputDir(workDir: "/a/b", inputDir: "/a/b"))
        #expect(WorkDirSafety.overlapsInputDir(workDir: "/a", inputDir: "/a/b"))
        #expect(WorkDirSafety.overlapsInputDir(workDir: "/a/b/c", inputDir: "/a/b"))
        #expect(!WorkDirSafety.overlapsInputDir(workDir: "/a/bc", inputDir: "/a/b"))
    }

    @Test func inputDirReachedThroughASymlinkIsFoundByInode() {
        let dir = TempDir()
        mkdir(dir.file("real"), 0o755)
        mkdir(dir.file("real/input"), 0o755)
        symlink(dir.file("real"), dir.file("alias"))
        #expect(WorkDirSafety.overlapsInputDir(workDir: dir.file("real"), inputDir: dir.file("alias/input")))
        #expect(WorkDirSafety.overlapsInputDir(workDir: dir.file("alias/input"), inputDir: dir.file("real")))
    }

    @Test func existingWorkDirPassesAndAMissingOneIsGone() {
        let world = CleanupWorld()
        let wd = world.makeWorkDir("12")
        var r = sampleRecord(state: .failed)
        r.jobID = "12"; r.workDir = wd; r.mainNode = "n1"; r.inputDir = world.input
        let env = world.environment()
        guard case .success(let v) = WorkDirSafety.check(workDir: wd, record: r, environment: env, settings: Settings.load(environment: env)) else {
            Issue.record("refused"); return
        }
        #expect(v.exists && v.location.root == world.root)
        let missing = world.workDir("13")
        r.jobID = "13"
        guard case .success(let gone) = WorkDirSafety.check(workDir: missing, record: r, environment: env, settings: Settings.load(environment: env)) else {
            Issue.record("refused"); return
        }
        #expect(!gone.exists)
    }

    @Test func onlyENOENTMeansGone() {
        let world = CleanupWorld()
        _ = loopQQJobs(world)
        var r = sampleRecord(state: .failed)
        r.jobID = "12"; r.workDir = world.workDir("12"); r.mainNode = "n1"; r.inputDir = world.input
        guard case .failure(.cannotExamine(let wd, let error, _)) =
                WorkDirSafety.check(workDir: world.workDir("12"), record: r, environment: world.environment(),
                                    settings: Settings.load(environment: world.environment())) else {
            Issue.record("a work dir behind ELOOP must not count as gone"); return
        }
        #expect(wd == world.workDir("12") && error.code == ELOOP)
        #expect(WorkDirSafety.presence(of: world.dir.file("never-created")).isGone)
    }

    @Test func localWorkDirOnAnotherNodeIsRefused() {
        let world = CleanupWorld()
        let wd = world.makeWorkDir("local-1-2")
        var r = sampleRecord(system: .local, state: .failed)
        r.jobID = "local-1-2"; r.workDir = wd; r.mainNode = "elsewhere.example.org"; r.inputDir = world.input
        #expect(WorkDirSafety.check(workDir: wd, record: r, environment: world.environment(),
                                   settings: Settings.load(environment: world.environment()), host: "here.example.org")
                == .failure(.otherNode(workDir: wd, node: "elsewhere.example.org")))
    }

    @Test func markerThatIsASymlinkIsRefused() {
        let world = CleanupWorld()
        let wd = world.makeWorkDir("12", marker: false)
        writeText(world.dir.file("m"), "x")
        symlink(world.dir.file("m"), wd + "/.qq-run-marker")
        guard case .markerUnreadable = WorkDirSafety.markerRefusal(workDir: wd, jobID: "12") else {
            Issue.record("a symlinked marker must refuse"); return
        }
    }

    @Test func deletionReportsEntriesAndBytes() throws {
        let world = CleanupWorld()
        let wd = world.makeWorkDir("12", marker: false)
        let outcome = try SafeDelete.deleteDirectory(wd, under: world.root)
        #expect(outcome.gone && outcome.entriesRemoved == 2 && outcome.bytesRemoved == 13)
    }
}
