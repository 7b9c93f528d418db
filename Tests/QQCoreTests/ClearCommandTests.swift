import Glibc
import Testing
@testable import QQCore

private func clear(_ args: [String], _ world: borrowing CleanupWorld, _ system: CannedBatchSystem,
                   viaFront: Bool = false) -> (code: Int32, out: String, log: [String]) {
    let t = CleanupTranscript()
    let code = QQClearCommand.execute(arguments: args + [world.input], environment: world.environment(),
                                      context: cleanupContext(system, t, viaFront: viaFront))
    return (code.code, t.stdout, t.logLines)
}

/// The info file plus its .out, .err and .qqout.
private func runtimeFiles(_ world: borrowing CleanupWorld, _ id: String) -> [String] {
    let names = ["job\(id).out", "job\(id).err", "job\(id).qqout"]
    for n in names { writeText(world.input + "/" + n, "log\n") }
    return [world.input + "/job\(id).qqinfo"] + names.map { world.input + "/" + $0 }
}

@Suite(.serialized) struct ClearCommandTests {
    init() { Log.setLevel(.critical) }

    @Test func failedJobsFilesAreRemovedAndAnUnrelatedOutFileIsKept() {
        let world = CleanupWorld()
        world.makeInfo("3", state: .failed) { $0.synchronized = true }
        let files = runtimeFiles(world, "3")
        writeText(world.input + "/notes.out", "mine")
        writeText(world.input + "/other.err", "mine")
        let r = clear([], world, slurmAnswers(["3": "FAILED"]))
        #expect(r.code == 0)
        for f in files { #expect(!exists(f)) }
        #expect(exists(world.input + "/notes.out") && exists(world.input + "/other.err"))
        #expect(r.log == ["INFO Removed 4 qq files."])
    }

    @Test func finishedJobNeedsForce() {
        let world = CleanupWorld()
        world.makeInfo("2", state: .finished) { $0.synchronized = true }
        let files = runtimeFiles(world, "2")
        let refused = clear([], world, slurmAnswers(["2": "COMPLETED"]))
        #expect(refused.log == ["INFO No qq files could be safely cleared. Rerun as 'qq-clear --force' to clear them forcibly."])
        for f in files { #expect(exists(f)) }
        #expect(clear(["--force"], world, slurmAnswers(["2": "COMPLETED"])).log == ["INFO Removed 4 qq files."])
        for f in files { #expect(!exists(f)) }
    }

    @Test func liveJobsFilesAreKeptEvenWithForce() {
        let world = CleanupWorld()
        world.makeInfo("1", state: .running)
        let files = runtimeFiles(world, "1")
        _ = clear(["--force"], world, slurmAnswers(["1": "RUNNING"]))
        for f in files { #expect(exists(f)) }
    }

    @Test func freshHeartbeatProtectsAJobTheSchedulerNoLongerKnows() {
        let world = CleanupWorld()
        world.makeInfo("1", state: .killed) { $0.heartbeat = Timestamp.now(); $0.phase = .rescue }
        let files = runtimeFiles(world, "1")
        _ = clear(["--force"], world, slurmAnswers([:]))
        for f in files { #expect(exists(f)) }
    }

    @Test func nothingToClearInADirectoryWithoutInfoFiles() {
        let world = CleanupWorld()
        writeText(world.input + "/notes.out", "mine")
        #expect(clear([], world, slurmAnswers([:])).log == ["INFO Nothing to clear."])
    }

    @Test func mixedDirectoryCountsTheProtectedFiles() {
        let world = CleanupWorld()
        world.makeInfo("3", state: .failed)
        _ = runtimeFiles(world, "3")
        world.makeInfo("2", state: .finished)
        _ = runtimeFiles(world, "2")
        let r = clear([], world, slurmAnswers(["2": "COMPLETED", "3": "FAILED"]))
        #expect(r.log.contains("INFO Removed 4 qq files."))
        #expect(r.log.contains("INFO 4 qq files could not be safely cleared. Rerun as 'qq-clear --force' to clear them forcibly."))
    }

    @Test func aFileNamedByTwoJobsNeedsBoth() {
        let world = CleanupWorld()
        world.makeInfo("3", state: .failed) { $0.stdoutFile = "shared.out" }
        world.makeInfo("4", state: .running) { $0.stdoutFile = "shared.out" }
        writeText(world.input + "/shared.out", "x")
        _ = clear([], world, slurmAnswers(["3": "FAILED", "4": "RUNNING"]))
        #expect(exists(world.input + "/shared.out"))
        #expect(!exists(world.input + "/job3.qqinfo"))
    }

    @Test func unreadableInfoFileIsKeptWithAWarning() {
        let world = CleanupWorld()
        writeText(world.input + "/broken.qqinfo", "job_id: [\n")
        writeText(world.input + "/broken.out", "x")
        let r = clear(["--force"], world, slurmAnswers([:]))
        #expect(exists(world.input + "/broken.qqinfo") && exists(world.input + "/broken.out"))
        #expect(r.log.contains { $0.hasPrefix("WARNING Skipping unreadable info file '\(world.input)/broken.qqinfo': ") })
    }

    @Test func namesWithSlashesAreNeverFollowedOutOfTheDirectory() {
        let world = CleanupWorld()
        writeText(world.dir.file("outside.out"), "x")
        world.makeInfo("3", state: .failed) { $0.stdoutFile = "../outside.out" }
        _ = clear([], world, slurmAnswers([:]))
        #expect(exists(world.dir.file("outside.out")))
    }

    @Test func dryRunListsAndRemovesNothing() {
        let world = CleanupWorld()
        world.makeInfo("3", state: .failed)
        let files = runtimeFiles(world, "3")
        let r = clear(["--dry-run"], world, slurmAnswers([:]))
        for f in files { #expect(exists(f)); #expect(r.out.contains(f)) }
    }

    @Test func staleTemporaryFilesOfDeletableJobsGoToo() {
        let world = CleanupWorld()
        world.makeInfo("3", state: .failed)
        let tmp = world.input + "/.job3.qqinfo.tmp-1-abc"
        let fresh = world.input + "/.job3.qqinfo.replaced-2"
        let part = world.input + "/.result.dat.qq-part-77"
        for f in [tmp, fresh, part] { writeText(f, "x") }
        age(tmp, by: 7200); age(part, by: 7200)
        _ = clear([], world, slurmAnswers([:]))
        #expect(!exists(tmp) && !exists(part))
        #expect(exists(fresh))
    }

    @Test func remainingWorkDirIsMentionedBeforeItsInfoFileGoes() {
        let world = CleanupWorld()
        let wd = world.makeWorkDir("3")
        world.makeInfo("3", state: .failed)
        let r = clear([], world, slurmAnswers([:]))
        #expect(r.log.contains("INFO Note: the working directory '\(wd)' of job '3' still exists; it can be removed later with 'qq-wipe --orphans --include-unsynced --yes'."))
    }

    @Test func theForceHintNamesTheCommandAsTheUserTypedIt() {
        let world = CleanupWorld()
        world.makeInfo("2", state: .finished) { $0.synchronized = true }
        _ = runtimeFiles(world, "2")
        #expect(clear([], world, slurmAnswers(["2": "COMPLETED"])).log
                == ["INFO No qq files could be safely cleared. Rerun as 'qq-clear --force' to clear them forcibly."])
        #expect(clear([], world, slurmAnswers(["2": "COMPLETED"]), viaFront: true).log
                == ["INFO No qq files could be safely cleared. Rerun as 'qq clear --force' to clear them forcibly."])
    }

    @Test func aNamedFileWithoutALogSuffixIsKeptAndReported() {
        let world = CleanupWorld()
        let info = world.makeInfo("3", state: .failed) { $0.stdoutFile = "precious.dat" }
        writeText(world.input + "/precious.dat", "a year of results")
        writeText(world.input + "/job3.err", "log")
        let r = clear([], world, slurmAnswers(["3": "FAILED"]))
        #expect(r.code == 0)
        #expect(readText(world.input + "/precious.dat") == "a year of results")
        #expect(!exists(info) && !exists(world.input + "/job3.err"))
        #expect(r.log.contains("WARNING Keeping '\(world.input)/precious.dat': the info file '\(info)' names it as stdout_file, but qq-clear removes as logs only files ending in .out, .err or .qqout. Remove it yourself if it is a log you no longer need."))
        #expect(r.log.contains("INFO Removed 2 qq files."))
    }

    @Test func aLogNameThatIsAnotherInfoFileIsNotRemovedAsALog() {
        let world = CleanupWorld()
        writeText(world.input + "/broken.qqinfo", "job_id: [\n")
        world.makeInfo("3", state: .failed) { $0.stderrFile = "broken.qqinfo" }
        let r = clear(["--force"], world, slurmAnswers(["3": "FAILED"]))
        #expect(exists(world.input + "/broken.qqinfo"))
        #expect(r.log.contains { $0.hasPrefix("WARNING Keeping '\(world.input)/broken.qqinfo': ") })
    }

    @Test func lockedInfoFileOfAKilledJobIsRemoved() {
        let world = CleanupWorld()
        let info = world.makeInfo("5", state: .killed)
        chmod(info, 0o444)
        #expect(clear([], world, slurmAnswers([:])).log == ["INFO Removed 1 qq file."])
    }
}
