import Glibc
import Testing
@testable import QQCore

private func sweep(_ args: [String], _ world: borrowing CleanupWorld, _ system: CannedBatchSystem,
                   env: [String: String] = [:]) -> (code: Int32, out: String, log: [String]) {
    let t = CleanupTranscript()
    let code = QQWipeCommand.execute(arguments: ["--orphans"] + args, environment: world.environment(env),
                                     context: cleanupContext(system, t))
    return (code.code, t.stdout, t.logLines)
}

/// Scenario 21's mix: a live job, a dead synchronized one, a dead unsynchronized one, a dir
/// without a marker, and one whose scheduler cannot be asked.
private struct Mix: ~Copyable {
    let world = CleanupWorld()
    let live, synced, unsynced, bare, unreachable: String
    let system = slurmAnswers(["1": "RUNNING", "2": "COMPLETED", "3": "FAILED", "5": "unavailable"])

    init() {
        live = world.makeWorkDir("1")
        world.makeInfo("1", state: .running)
        synced = world.makeWorkDir("2")
        world.makeInfo("2", state: .finished) { $0.synchronized = true }
        unsynced = world.makeWorkDir("3")
        world.makeInfo("3", state: .failed)
        bare = world.makeWorkDir("4", marker: false)
        unreachable = world.makeWorkDir("5")
        world.makeInfo("5", state: .failed)
    }
}

@Suite(.serialized) struct WipeOrphansTests {
    init() { Log.setLevel(.critical) }

    @Test func withoutYesNothingIsDeletedAndTheDeadAreListed() {
        let mix = Mix()
        let r = sweep([], mix.world, mix.system)
        #expect(r.code == 0)
        for d in [mix.live, mix.synced, mix.unsynced, mix.bare, mix.unreachable] { #expect(exists(d)) }
        let rows = r.out.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        #expect(rows.first == "JOB ID STATE SYNCED SIZE AGE WORKING DIRECTORY")
        #expect(!r.out.contains(mix.live))
        #expect(rows.contains { $0.hasPrefix("2 finished yes ") && $0.hasSuffix(mix.synced) })
        #expect(rows.contains { $0.hasPrefix("3 failed no ") && $0.hasSuffix(mix.unsynced) })
        #expect(rows.contains { $0.hasPrefix("4 gone ? ") && $0.hasSuffix(mix.bare) })
        #expect(rows.contains { $0.hasPrefix("5 unknown (skipped) no ") && $0.hasSuffix(mix.unreachable) })
        #expect(rows.last == "1 orphaned working directory would be deleted.")
    }

    @Test func yesDeletesOnlyTheSynchronizedOrphan() throws {
        let mix = Mix()
        let r = sweep(["--yes"], mix.world, mix.system)
        #expect(r.code == 0)
        #expect(!exists(mix.synced))
        for d in [mix.live, mix.unsynced, mix.bare, mix.unreachable] { #expect(exists(d)) }
        #expect(r.log.last == "INFO Deleted 1 orphaned working directory; 2 kept because their results may not have been copied back (SYNCED 'no' or '?'). Rerun as 'qq-wipe --orphans --yes --include-unsynced' to delete them too.")
        #expect(try InfoFile.load(path: mix.world.input + "/job2.qqinfo").wiped != nil)
    }

    @Test func includeUnsyncedDeletesEveryDeadOrphanButNeverTheLiveOrUnconfirmedOne() {
        let mix = Mix()
        let listing = sweep(["--include-unsynced"], mix.world, mix.system)
        #expect(listing.out.hasSuffix("3 orphaned working directories would be deleted.\n"))
        let r = sweep(["--yes", "--include-unsynced"], mix.world, mix.system)
        #expect(r.code == 0)
        for d in [mix.synced, mix.unsynced, mix.bare] { #expect(!exists(d)) }
        #expect(exists(mix.live) && exists(mix.unreachable))
    }

    @Test func withIncludeUnsyncedTheSummaryDoesNotSuggestTheFlagAgain() {
        let mix = Mix()
        let r = sweep(["--yes", "--include-unsynced"], mix.world, mix.system)
        #expect(r.log.last == "INFO Deleted 3 orphaned working directories.")
        #expect(!r.log.contains { $0.contains("rerun with --include-unsynced") || $0.contains("kept") })
    }

    @Test func aJobsDirThatCannotBeListedIsReportedWithExit91() {
        let world = CleanupWorld()
        let jobs = loopQQJobs(world)
        let r = sweep(["--yes"], world, slurmAnswers([:]))
        #expect(r.code == 91)
        #expect(r.log.contains("ERROR Cannot list '\(jobs)': \(String(cString: strerror(ELOOP))); the job directories in it are not listed and none of them is deleted. Restore its permissions (e.g. chmod u+rwx '\(jobs)') and rerun."),
                Comment(rawValue: r.log.joined(separator: "\n")))
    }

    @Test func dryRunChangesNothing() {
        let mix = Mix()
        let r = sweep(["--yes", "--include-unsynced", "--dry-run"], mix.world, mix.system)
        #expect(r.code == 0)
        for d in [mix.live, mix.synced, mix.unsynced, mix.bare, mix.unreachable] { #expect(exists(d)) }
    }

    @Test func freshHeartbeatKeepsADirEvenWhenTheSchedulerForgotTheJob() {
        let world = CleanupWorld()
        let wd = world.makeWorkDir("6")
        world.makeInfo("6", state: .running) { $0.heartbeat = Timestamp.now(); $0.heartbeatInterval = 60; $0.phase = .running }
        let r = sweep(["--yes", "--include-unsynced"], world, slurmAnswers([:]))
        #expect(exists(wd))
        #expect(!r.out.contains(wd))
    }

    @Test func olderThanHidesYoungDirs() {
        let world = CleanupWorld()
        let old = world.makeWorkDir("7", marker: false)
        let young = world.makeWorkDir("8", marker: false)
        age(old, by: 8 * 86400)
        let r = sweep(["--older-than", "7d"], world, slurmAnswers([:]))
        #expect(r.out.contains(old))
        #expect(!r.out.contains(young))
    }

    @Test func olderThanAlsoTakesItsValueAfterAnEqualsSign() {
        let world = CleanupWorld()
        let old = world.makeWorkDir("7", marker: false)
        let young = world.makeWorkDir("8", marker: false)
        age(old, by: 8 * 86400)
        let r = sweep(["--older-than=7d"], world, slurmAnswers([:]))
        #expect(r.out.contains(old))
        #expect(!r.out.contains(young))
    }

    @Test func markerNamingAnotherJobThanTheDirectoryIsNeverConsidered() {
        let world = CleanupWorld()
        let wd = world.makeWorkDir("9", markerJobID: "99")
        let r = sweep(["--yes", "--include-unsynced"], world, slurmAnswers([:]))
        #expect(exists(wd))
        #expect(!r.out.contains(wd))
    }

    @Test func symlinksAndOtherUsersDirsAreSkipped() {
        let world = CleanupWorld()
        let target = world.makeWorkDir("10", path: world.dir.path + "/target")
        world.makeDirectories(world.root + "/" + world.user + "/qq-jobs")
        symlink(target, world.workDir("10"))
        let r = sweep(["--yes", "--include-unsynced"], world, slurmAnswers([:]))
        #expect(exists(target + "/result.txt"))
        #expect(!r.out.contains("job_10"))
    }

    @Test func fallbackUserDirsAreSearchedToo() {
        let world = CleanupWorld()
        let wd = world.makeWorkDir("11", path: world.workDir("11", user: world.user + "2"), marker: false)
        let r = sweep([], world, slurmAnswers([:]))
        #expect(r.out.contains(wd))
    }

    @Test func pbsIsNotSupported() {
        let world = CleanupWorld()
        let r = sweep([], world, slurmAnswers([:]), env: ["QQ_BATCH_SYSTEM": "PBS"])
        #expect(r.code == 0)
        #expect(r.log == ["INFO Orphan sweep is not supported for PBS."])
    }

    @Test func directoryNameGivesTheJobIdWithoutItsCounter() {
        #expect(OrphanSweep.jobIDFromDirectoryName("job_2345678") == "2345678")
        #expect(OrphanSweep.jobIDFromDirectoryName("job_2345678_2") == "2345678")
        #expect(OrphanSweep.jobIDFromDirectoryName("job_local-17-4") == "local-17-4")
    }
}
