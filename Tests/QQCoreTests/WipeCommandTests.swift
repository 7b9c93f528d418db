import Glibc
import Testing
@testable import QQCore

private func wipe(_ args: [String], _ world: borrowing CleanupWorld, _ system: CannedBatchSystem,
                  env: [String: String] = [:], tty: Bool = false, answer: String? = nil, viaFront: Bool = false)
    -> (code: Int32, out: String, log: [String]) {
    let t = CleanupTranscript()
    let code = QQWipeCommand.execute(arguments: args, environment: world.environment(env),
                                     context: cleanupContext(system, t, tty: tty, answer: answer, viaFront: viaFront))
    return (code.code, t.stdout, t.logLines)
}

@Suite(.serialized) struct WipeCommandTests {
    init() { Log.setLevel(.critical) }

    @Test func failedJobIsWipedAndTheWipeIsRecorded() throws {
        let world = CleanupWorld()
        let wd = world.makeWorkDir("44")
        let info = world.makeInfo("44", state: .failed)
        let r = wipe([info, "-y"], world, slurmAnswers(["44": "FAILED"]))
        #expect(r.code == 0)
        #expect(!exists(wd))
        #expect(exists(world.root + "/" + world.user + "/qq-jobs"))
        #expect(r.log.contains("INFO Deleted the working directory of the job '44'."))
        let after = try InfoFile.load(path: info)
        #expect(after.wiped != nil)
        #expect(after.jobState == .failed)
    }

    @Test func statusPanelHasTheReferenceTexts() {
        let world = CleanupWorld()
        world.makeWorkDir("44")
        let info = world.makeInfo("44", state: .failed)
        let r = wipe([info, "-y"], world, slurmAnswers(["44": "FAILED"]))
        let lines = r.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "")
        #expect(lines[1] == "╭───────────────────────────── JOB: 44 ──────────────────────────────╮")
        #expect(lines[3] == "│   Job state:  Job has failed                                       │")
        #expect(lines[4] == "│               Failed at 2025-03-14 11:02:03 [exit code: 3]         │")
        #expect(lines[6] == "╰────────────────────────────────────────────────────────────────────╯")
    }

    @Test func secondWipeSaysItIsAlreadyGone() {
        let world = CleanupWorld()
        world.makeWorkDir("44")
        let info = world.makeInfo("44", state: .failed)
        let system = slurmAnswers(["44": "FAILED"])
        #expect(wipe([info, "-y"], world, system).code == 0)
        let again = wipe([info, "-y"], world, system)
        #expect(again.code == 0)
        #expect(again.log.contains { $0.hasPrefix("INFO Working directory was already deleted at ") })
    }

    @Test func forgedWorkDirIsRefusedEvenWithForce() {
        let world = CleanupWorld()
        let forged = world.dir.path + "/users/jdoe"
        world.makeDirectories(forged)
        writeText(forged + "/thesis.tex", "precious")
        let info = world.makeInfo("20", state: .failed, workDir: forged)
        let r = wipe([info, "--force"], world, slurmAnswers(["20": "FAILED"]))
        #expect(r.code == 91)
        #expect(r.log.contains("ERROR Working directory '\(forged)' is not inside a known scratch location; refusing to delete it."))
        #expect(exists(forged + "/thesis.tex"))
    }

    @Test func finishedJobNeedsForce() {
        let world = CleanupWorld()
        let wd = world.makeWorkDir("42")
        let info = world.makeInfo("42", state: .finished) { $0.synchronized = false }
        let system = slurmAnswers(["42": "COMPLETED"])
        let refused = wipe([info, "-y"], world, system)
        #expect(refused.code == 91)
        #expect(refused.log.contains("ERROR It may not be safe to delete the working directory of a successfully finished job. Rerun as 'qq-wipe --force' if sure."))
        #expect(exists(wd))
        #expect(wipe([info, "--force"], world, system).code == 0)
        #expect(!exists(wd))
    }

    @Test func theForceHintThroughTheFrontCommandSaysQqWipe() {
        let world = CleanupWorld()
        world.makeWorkDir("42")
        let info = world.makeInfo("42", state: .finished) { $0.synchronized = false }
        let r = wipe([info, "-y"], world, slurmAnswers(["42": "COMPLETED"]), viaFront: true)
        #expect(r.log.contains("ERROR It may not be safe to delete the working directory of a successfully finished job. Rerun as 'qq wipe --force' if sure."))
    }

    @Test func aWorkDirThatCannotBeExaminedIsNeitherDeletedNorRecorded() throws {
        let world = CleanupWorld()
        let jobs = loopQQJobs(world)
        let wd = world.workDir("44")
        let info = world.makeInfo("44", state: .failed)
        let r = wipe([info, "-y"], world, slurmAnswers(["44": "FAILED"]))
        #expect(r.code == 91)
        #expect(r.log.contains("ERROR Cannot examine the working directory '\(wd)': \(String(cString: strerror(ELOOP))). It may still exist, so it is neither deleted nor taken as deleted. Fix the cause and try again."),
                Comment(rawValue: r.log.joined(separator: "\n")))
        #expect(!r.log.contains { $0.contains("Deleted") || $0.contains("no longer exists") })
        #expect(try InfoFile.load(path: info).wiped == nil)
        #expect(FileSystem.lstat(jobs)?.isSymlink == true)
    }

    @Test func anAlreadyWipedJobWhoseDirCannotBeExaminedIsNotCalledDeleted() {
        let world = CleanupWorld()
        _ = loopQQJobs(world)
        let info = world.makeInfo("44", state: .failed) { $0.wiped = ts("2025-03-14 12:00:00") }
        let r = wipe([info, "-y"], world, slurmAnswers(["44": "FAILED"]))
        #expect(r.code == 91)
        #expect(!r.log.contains { $0.hasPrefix("INFO Working directory was already deleted") })
    }

    @Test func synchronizedJobIsRefused() {
        let world = CleanupWorld()
        let info = world.makeInfo("42", state: .finished) { $0.synchronized = true }
        let r = wipe([info, "-y"], world, slurmAnswers(["42": "COMPLETED"]))
        #expect(r.code == 91)
        #expect(r.log.contains("ERROR Job has been completed and was synchronized: working directory no longer exists."))
    }

    @Test func liveJobIsRefusedEvenWithForce() {
        let world = CleanupWorld()
        let wd = world.makeWorkDir("7")
        let info = world.makeInfo("7", state: .failed)
        let r = wipe([info, "--force"], world, slurmAnswers(["7": "RUNNING"]))
        #expect(r.code == 91)
        #expect(r.log.contains("ERROR Job '7' is still running in the batch system."))
        #expect(exists(wd))
    }

    @Test func freshHeartbeatIsRefused() {
        let world = CleanupWorld()
        let wd = world.makeWorkDir("8")
        let info = world.makeInfo("8", state: .running) {
            $0.heartbeat = Timestamp.now(); $0.heartbeatInterval = 60; $0.phase = .running
        }
        let r = wipe([info, "--force"], world, slurmAnswers([:]))
        #expect(r.code == 91)
        #expect(r.log.contains { $0.hasPrefix("ERROR Job '8' wrote a heartbeat ") && $0.hasSuffix(" ago and may still be active.") })
        #expect(exists(wd))
    }

    @Test func lostJobIsWipedAndRecordedAsKilledLost() throws {
        let world = CleanupWorld()
        let wd = world.makeWorkDir("18")
        let info = world.makeInfo("18", state: .running) {
            $0.heartbeat = ts("2025-03-14 09:40:00"); $0.heartbeatInterval = 1; $0.phase = .running
        }
        age(info, by: 30)
        let r = wipe([info, "-y"], world, slurmAnswers([:]), env: ["QQ_CLOCK_SKEW": "0"])
        #expect(r.code == 0, "\(r.log)")
        #expect(r.out.contains("Job has been lost"))
        #expect(!exists(wd))
        let after = try InfoFile.load(path: info)
        #expect(after.jobState == .killed)
        #expect(after.killReason == .lost)
        #expect(after.completionTime == ts("2025-03-14 09:40:00"))
        #expect(after.wiped != nil)
    }

    @Test func runningAndQueuedJobsAreRefusedWithQqsMessages() {
        let world = CleanupWorld()
        let running = world.makeInfo("1", state: .running)
        let queued = world.makeInfo("2", state: .queued)
        let system = slurmAnswers(["1": "RUNNING", "2": "PENDING"])
        // Live jobs never reach R133's state rows; an unavailable scheduler shows the naive state.
        let offline = slurmAnswers(["1": "unavailable", "2": "unavailable"])
        #expect(wipe([running, "-y"], world, offline).log.contains("ERROR Job is running. It is not safe to delete the working directory."))
        #expect(wipe([queued, "-y"], world, offline).log.contains("ERROR Job is queued and does not have a working directory yet."))
        #expect(wipe([running, "-y"], world, system).log.contains("ERROR Job '1' is still running in the batch system."))
    }

    @Test func killedJobStillExitingIsRefused() {
        let world = CleanupWorld()
        let wd = world.makeWorkDir("15")
        let info = world.makeInfo("15", state: .killed)
        // A scheduler that no longer lists it as live but says COMPLETING is batch-live (exiting).
        let r = wipe([info, "--force"], world, slurmAnswers(["15": "COMPLETING"]))
        #expect(r.code == 91)
        #expect(exists(wd))
    }

    @Test func unknownStateNeedsAnAuthoritativeAnswer() {
        let world = CleanupWorld()
        world.makeWorkDir("9")
        let info = world.makeInfo("9", state: .unknown)
        let r = wipe([info, "-y"], world, slurmAnswers(["9": "unavailable"]))
        #expect(r.log.contains("ERROR The batch system could not confirm that job '9' has ended."))
        #expect(wipe([info, "-y"], world, slurmAnswers(["9": "notfound"])).code == 0)
    }

    @Test func markerOfAnotherJobIsRefusedEvenWithForce() {
        let world = CleanupWorld()
        let wd = world.makeWorkDir("44", markerJobID: "4400")
        let info = world.makeInfo("44", state: .failed)
        let r = wipe([info, "--force"], world, slurmAnswers([:]))
        #expect(r.log.contains("ERROR Working directory '\(wd)' belongs to job '4400' according to its marker; refusing to delete it."))
        #expect(exists(wd))
    }

    @Test func symlinkedWorkDirIsRefused() {
        let world = CleanupWorld()
        let target = world.makeWorkDir("45", path: world.dir.path + "/elsewhere")
        world.makeDirectories(world.root + "/" + world.user + "/qq-jobs")
        symlink(target, world.workDir("45"))
        let info = world.makeInfo("45", state: .failed)
        let r = wipe([info, "--force"], world, slurmAnswers([:]))
        #expect(r.log.contains("ERROR Working directory '\(world.workDir("45"))' is a symbolic link; refusing to delete it."))
        #expect(exists(target + "/result.txt"))
    }

    @Test func workDirEqualToInputDirIsRefused() {
        let world = CleanupWorld()
        let info = world.makeInfo("46", state: .failed, workDir: world.input) { $0.resources.workDir = "input_dir" }
        let r = wipe([info, "--force"], world, slurmAnswers([:]))
        #expect(r.log.contains("ERROR Working directory of the job is the input directory of the job. Cannot delete the input directory."))
        #expect(exists(info))
    }

    @Test func withoutYesAndWithoutATerminalConfirmationIsRequired() {
        let world = CleanupWorld()
        let wd = world.makeWorkDir("44")
        let info = world.makeInfo("44", state: .failed)
        let r = wipe([info], world, slurmAnswers([:]))
        #expect(r.code == 91)
        #expect(r.log.contains("ERROR Confirmation required; rerun with -y."))
        #expect(exists(wd))
    }

    @Test(arguments: [("y", false), ("YES", false), ("n", true), ("", true)])
    func promptAnswerDecides(answer: String, kept: Bool) {
        let world = CleanupWorld()
        let wd = world.makeWorkDir("44")
        let info = world.makeInfo("44", state: .failed)
        let r = wipe([info], world, slurmAnswers([:]), tty: true, answer: answer)
        #expect(r.code == 0)
        #expect(exists(wd) == kept)
        #expect(r.log.contains("INFO Operation aborted.") == kept)
    }

    @Test func severalJobsSomeUnsuitableGiveInfoAndExit0() {
        let world = CleanupWorld()
        world.makeWorkDir("1")
        world.makeInfo("1", state: .failed)
        world.makeInfo("2", state: .queued)
        let r = wipe(["-y", world.input], world, slurmAnswers(["2": "unavailable"]))
        #expect(r.code == 0)
        #expect(r.log.contains("INFO Job is queued and does not have a working directory yet."))
    }

    @Test func severalJobsAllUnsuitableIsNoSuitableJob() {
        let world = CleanupWorld()
        world.makeInfo("1", state: .queued)
        world.makeInfo("2", state: .queued)
        let r = wipe(["-y", world.input], world, slurmAnswers(["1": "PENDING", "2": "PENDING"]))
        #expect(r.code == 91)
        #expect(r.log.last == "ERROR No suitable qq job.")
    }

    @Test func fallbackUserDirectoriesAreKnownLocations() {
        let world = CleanupWorld()
        let wd = world.makeWorkDir("47", path: world.workDir("47", user: world.user + "2"))
        let info = world.makeInfo("47", state: .failed, workDir: wd)
        #expect(wipe([info, "-y"], world, slurmAnswers([:])).code == 0)
        #expect(!exists(wd))
    }

    // `--yes=no` used to be read as `--yes`, and deleted without asking.
    @Test func aValueOnAFlagIsAUsageErrorAndNothingIsWiped() {
        let world = CleanupWorld()
        let wd = world.makeWorkDir("48")
        let info = world.makeInfo("48", state: .failed)
        let t = CleanupTranscript()
        let code = QQWipeCommand.execute(arguments: [info, "--yes=no"], environment: world.environment(),
                                         context: cleanupContext(slurmAnswers(["48": "FAILED"]), t))
        #expect(code == .usage)
        #expect(exists(wd))
        #expect(t.all.contains(.err("qq-wipe: error: --yes takes no value (got '--yes=no')\n\(QQWipeCommand.usage)\n")))
    }

    @Test(arguments: [["--older-than", "7d"], ["--orphans", "--older-than", "soon"], ["--orphans", "x"], ["--bogus"]])
    func usageErrorsExitWith2(args: [String]) {
        let world = CleanupWorld()
        #expect(wipe(args, world, slurmAnswers([:])).code == 2)
    }
}
