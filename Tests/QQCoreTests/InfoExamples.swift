@testable import QQCore

/// State files of SPEC Appendix A, as InfoRecord values (the panel tests must not depend on the
/// codec).

func sampleRecord(system: BatchSystemName = .slurm, state: NaiveState = .queued) -> InfoRecord {
    InfoRecord(batchSystem: system, qqVersion: "1.0.0", username: "jdoe", jobID: "12", jobName: "job.sh",
               scriptName: "job.sh", queue: "debug", inputMachine: "login1", inputDir: "/users/jdoe/sim",
               jobState: state, submissionTime: ts("2025-03-14 09:26:53"), stdoutFile: "job.out",
               stderrFile: "job.err", resources: Resources(nnodes: 1, ncpus: 2, walltime: "0:10:00"))
}

enum Examples {
    /// A.2 "Queued, PBS".
    static var queuedPBS: InfoRecord {
        var r = InfoRecord(
            batchSystem: .pbs, qqVersion: "0.10.1", username: "jdoe", jobID: "1234567.pbs-m1.metacentrum.cz",
            jobName: "run.sh", scriptName: "run.sh", queue: "default", jobType: .standard,
            inputMachine: "perian.metacentrum.cz", inputDir: "/storage/brno2/home/jdoe/sim", jobState: .queued,
            submissionTime: ts("2025-03-14 09:26:53"), stdoutFile: "run.out", stderrFile: "run.err",
            resources: Resources(nnodes: 1, ncpus: 8, mem: Size(kilobytes: 16_777_216), ngpus: 1,
                                 walltime: "48:00:00", workDir: "scratch_local",
                                 workSizePerCPU: Size(kilobytes: 1_048_576),
                                 props: [KeyValue("cl_zia", "true"), KeyValue("cl_two", "false")]))
        r.excludedFiles = ["/storage/brno2/home/jdoe/sim/big_data"]
        r.transferMode = ["success"]
        r.depend = ["afterok=1234560.pbs-m1.metacentrum.cz", "after=11:12"]
        return r
    }

    /// A.2 "failed variant".
    static var failedPBS: InfoRecord {
        var r = queuedPBS
        r.jobState = .failed
        r.startTime = ts("2025-03-14 09:30:00")
        r.mainNode = "zia1.cerit-sc.cz"
        r.allNodes = ["zia1.cerit-sc.cz"]
        r.workDir = "/scratch.ssd/jdoe/job_1234567.pbs-m1.metacentrum.cz/main"
        r.completionTime = ts("2025-03-14 11:02:03")
        r.jobExitCode = 1
        return r
    }

    /// A.2 "killed variant".
    static var killedPBS: InfoRecord {
        var r = failedPBS
        r.jobState = .killed
        r.jobExitCode = nil
        return r
    }

    /// A.2 "Running, SlurmIT4I, loop cycle 3 of 10".
    static var runningLoop: InfoRecord {
        var r = InfoRecord(
            batchSystem: .slurmIT4I, qqVersion: "0.10.1", username: "jdoe", jobID: "2345678",
            jobName: "qq_loop_md+0003", scriptName: "qq_loop_md", queue: "qcpu", jobType: .loop,
            inputMachine: "login1.karolina.it4i.cz", inputDir: "/mnt/proj1/dd-24-1/jdoe/md", jobState: .running,
            submissionTime: ts("2025-03-14 09:26:53"), stdoutFile: "qq_loop_md+0003.out",
            stderrFile: "qq_loop_md+0003.err",
            resources: Resources(nnodes: 2, ncpusPerNode: 128, memPerCPU: Size(kilobytes: 1_048_576),
                                 walltime: "12:00:00", workDir: "scratch"))
        r.transferMode = ["success"]
        r.depend = ["afterok=2345677"]
        r.loopInfo = LoopInfo(start: 1, end: 10, archive: "/mnt/proj1/dd-24-1/jdoe/md/storage",
                              archiveFormat: "md%04d", current: 3, archiveMode: ["success"])
        r.account = "DD-24-1"
        r.startTime = ts("2025-03-14 10:01:02")
        r.mainNode = "cn123.karolina.it4i.cz"
        r.allNodes = ["cn123", "cn124"]
        r.workDir = "/scratch/project/dd-24-1/jdoe/qq-jobs/job_2345678"
        return r
    }

    /// A.1 first file: finished on LUMI, written by qq-run (extension fields included).
    static var finishedLumi: InfoRecord {
        var r = InfoRecord(
            batchSystem: .slurmLumi, qqVersion: "0.10.1", username: "jdoe", jobID: "9876543", jobName: "job.py",
            scriptName: "job.py", queue: "small", jobType: .continuous, inputMachine: "uan01.lumi.csc",
            inputDir: "/projappl/project_465000001/jdoe/test", jobState: .finished,
            submissionTime: ts("2025-03-14 09:00:00"), stdoutFile: "job.out", stderrFile: "job.err",
            resources: Resources(nnodes: 1, ncpusPerNode: 64, memPerNode: Size(kilobytes: 104_857_600),
                                 walltime: "0:30:00", workDir: "flash"))
        r.transferMode = ["success", "42"]
        r.account = "project_465000001"
        r.interpreter = "python3"
        r.startTime = ts("2025-03-14 09:05:00")
        r.mainNode = "nid001234"
        r.allNodes = ["nid001234"]
        r.workDir = "/flash/project_465000001/jdoe/qq-jobs/job_9876543"
        r.completionTime = ts("2025-03-14 09:25:13")
        r.jobExitCode = 0
        return r
    }

    /// A.1 second file: plain-mode array task killed by its time limit after a partial rescue.
    static var killedArrayTask: InfoRecord {
        var r = InfoRecord(
            batchSystem: .slurm, qqVersion: "1.0.0", username: "jdoe", jobID: "4", jobName: "job_3_1.sh",
            scriptName: "job.sh", queue: "debug", jobType: .standard, inputMachine: "login1",
            inputDir: "/users/jdoe/sim", jobState: .killed, submissionTime: ts("2025-03-14 09:26:53"),
            stdoutFile: "job_3_1.out", stderrFile: "job_3_1.err",
            resources: Resources(nnodes: 1, ncpus: 2, memPerNode: Size(kilobytes: 2_048_000), walltime: "0:10:00",
                                 workDir: "scratch"))
        r.transferMode = ["success"]
        r.account = "proj123"
        r.startTime = ts("2025-03-14 09:26:54")
        r.mainNode = "node07.cluster.example.org"
        r.allNodes = ["node07"]
        r.workDir = "/scratch/jdoe/qq-jobs/job_4"
        r.completionTime = ts("2025-03-14 09:38:05")
        r.runner = "qq-run 1.0.0"
        r.runnerPID = 7312
        r.cluster = "example"
        r.phase = .done
        r.heartbeat = ts("2025-03-14 09:38:21")
        r.heartbeatInterval = 60
        r.arrayJobID = "3"
        r.arrayTaskID = "1"
        r.killReason = .timeout
        r.signals = ["USR1 2025-03-14 09:36:30"]
        r.stageIn = StageInStats(files: 12, bytes: 40960, seconds: 0.01)
        r.stageOut = StageOutStats(mode: .rescue, files: 2, bytes: 18432, seconds: 0.02, notCopied: 1,
                                   notCopiedPaths: ["traj/big.xtc"])
        r.usage = Usage(maxRSS: 524_288, userCPU: 1190.4, sysCPU: 3.1)
        r.synchronized = false
        return r
    }

    /// The moment Appendix B's renders were taken: `In queue for 02:33:07` after 09:26:53.
    static let renderTime = ts("2025-03-14 12:00:00").epochSeconds

    static func slurmRecord(_ state: String, reason: String? = nil, batchHost: String? = nil) -> BatchJobRecord {
        BatchJobRecord(jobID: "x", state: BatchState.fromSlurm(state, reason: reason), rawState: state,
                       reason: reason, batchHost: batchHost)
    }
}
