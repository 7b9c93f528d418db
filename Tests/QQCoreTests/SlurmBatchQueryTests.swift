// Issue 13, item 5: qq-info over many jobs asks Slurm once (`scontrol --all show job -o`, every
// job) instead of once per job, and each job's answer is the one the single query gives.

import Glibc
import Testing
@testable import QQCore

private func fixture(_ name: String) -> String { readText(TestPaths.fixtures + "/" + name) ?? "" }

@Suite struct SlurmListingTests {
    /// A listing of every job: the array of master id 3 (tasks 3, 4, 5), a running job 812 and a pending one.
    private var listing: String {
        ["slurm/scontrol-array-master.txt", "slurm/scontrol-running-spaces.txt", "slurm/scontrol-pending-estimate.txt"]
            .map(fixture).joined(separator: "\n")
    }

    @Test func theListingGivesEachIdTheRecordItsOwnQueryGives() {
        let all = SlurmQuery.parseScontrol(listing)
        let ids = ["3", "3_2", "4", "812", "3_9", "77"]
        let kept = SlurmQuery.relevantRecords(listing, ids: ids)
        for id in ids {
            #expect(SlurmQuery.selectRecord(kept, jobID: id) == SlurmQuery.selectRecord(all, jobID: id), "id \(id)")
        }
        #expect(SlurmQuery.selectRecord(kept, jobID: "812")?["WorkDir"] == "/users/jdoe/my sim")
    }

    @Test func recordsOfJobsNotAskedForAreNotKept() {
        let kept = SlurmQuery.relevantRecords(listing, ids: ["812"])
        #expect(kept.map { $0["JobId"] } == ["812"])
    }
}

@Suite("Real Slurm: one query for many jobs", .serialized,
       .enabled(if: SlurmCluster.shouldRun, "no Slurm cluster (start it with scripts/slurm-harness.sh)"))
struct SlurmBatchQueryTests {
    /// What may change between two queries a moment apart.
    private func stable(_ a: BatchAnswer) -> BatchAnswer {
        guard case .found(var r) = a else { return a }
        for k in ["RunTime", "Priority", "LastSchedEval", "StartTime", "EndTime"] { r.fields[k] = nil }
        r.startTime = nil; r.estimate = nil
        return .found(r)
    }

    @Test("one listing answers a mix of running, held, finished, array and unknown jobs as each single query does")
    func batchAnswersEqualSingleAnswers() throws {
        try SlurmCluster.require()
        let dirs = try TestDirs("batch-query")
        try dirs.put("sleep.sh", "#!/bin/bash\nsleep 60\n")
        try dirs.put("done.sh", "#!/bin/bash\ntrue\n")
        let finished = try SlurmCluster.submit("done.sh", dirs: dirs)
        let array = try SlurmCluster.submit("done.sh", dirs: dirs, options: ["--array=1-3"])
        let held = try SlurmCluster.submit("sleep.sh", dirs: dirs, options: ["--hold"])
        let running = try SlurmCluster.submit("sleep.sh", dirs: dirs)
        defer { for j in [held, running] { SlurmCluster.scancel(j.id) } }
        try SlurmCluster.waitForEnd(finished)
        try SlurmCluster.waitForEnd(array)

        var otherCluster = InfoRecord(batchSystem: .slurm, qqVersion: "1.0.0", username: TestUser.current.name,
                                      jobID: "99999998", jobName: "x", scriptName: "x", queue: "debug",
                                      inputMachine: "vm", inputDir: dirs.input, jobState: .finished,
                                      submissionTime: ts("2025-03-14 09:26:53"), stdoutFile: "x.out", stderrFile: "x.err")
        otherCluster.cluster = "elsewhere"
        let requests = [finished.id, array.id, "\(array.id)_1", "\(array.id)_2", "\(array.id)_3", "\(array.id)_9",
                        held.id, running.id, "99999999"]
            .map { BatchQueryRequest($0, record: nil) } + [BatchQueryRequest("99999998", record: otherCluster)]
        let environment = Environment(try SlurmCluster.baseEnvironment(for: .current))
        let options = BatchQueryOptions(timeout: 15, useSacct: false)
        let system = SlurmSystem()
        let batch = system.queryJobs(requests, environment: environment, options: options, reaping: DirectReaping())
        let single = requests.map { system.queryJob($0.jobID, record: $0.record, environment: environment, options: options) }
        #expect(batch.count == requests.count)
        for (i, request) in requests.enumerated() {
            #expect(stable(batch[i]) == stable(single[i]), "job \(request.jobID)")
        }
        if case .found(let r) = batch[3] { #expect(r.arrayTaskID == "2") } else { Issue.record("array task not found: \(batch[3])") }
        #expect(requests.count > SlurmSystem.listingThreshold, "the listing is used")
        #expect(batch[8] == .notFound)
        if case .unavailable = batch[9] {} else { Issue.record("R58: another cluster's job must be unavailable, got \(batch[9])") }
    }

    @Test("qq-info --short over 100 state files of 100 different jobs shows each job after one scontrol call, and is measured")
    func hundredJobs() throws {
        try SlurmCluster.require()
        let dirs = try TestDirs("info-100-jobs")
        try dirs.put("job.sh", qqScript("echo ok"))
        try dirs.put("done.sh", "#!/bin/bash\ntrue\n")
        let job = try SlurmCluster.submit("job.sh", dirs: dirs)
        let array = try SlurmCluster.submit("done.sh", dirs: dirs, options: ["--array=1-99"])
        try SlurmCluster.waitForEnd(job)
        try SlurmCluster.waitForEnd(array, timeout: 120)
        let text = try #require(Files.read("\(dirs.input)/job.qqinfo"), job.diagnostics())
        let ids = [job.id] + SlurmCluster.records(array.id).map(\.jobID).filter { $0 != job.id }
        try #require(ids.count == 100, "array tasks: \(ids.count - 1)")
        try Files.mkdir("\(dirs.base)/many")
        for (i, id) in ids.enumerated() {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.hasPrefix("job_id:") ? "job_id: \(id)" : String($0) }
            try Files.write("\(dirs.base)/many/job\(i).qqinfo", lines.joined(separator: "\n"))
        }
        // The real scontrol, behind a wrapper that notes each call.
        try Files.mkdir("\(dirs.base)/bin")
        let calls = "\(dirs.base)/scontrol-calls"
        try Files.write("\(dirs.base)/bin/scontrol", "#!/bin/sh\necho \"$*\" >> '\(calls)'\nexec /usr/bin/scontrol \"$@\"\n", mode: 0o755)
        let path = "\(dirs.base)/bin:" + (try SlurmCluster.jobPath())
        let start = Clock.now
        let r = try runTool(["qq-info", "--short", "\(dirs.base)/many"], dirs: dirs, env: ["PATH": path])
        let seconds = Clock.now - start
        keepSample("qq-info-100-jobs.txt", "\(seconds) s (debug build, 100 different jobs)\n")
        #expect(r.exitCode == 0, Comment(rawValue: r.description))
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 100)
        #expect(Set(lines.compactMap { $0.split(separator: " ").first.map(String.init) }) == Set(ids))
        let jobQueries = (Files.read(calls) ?? "").split(separator: "\n").filter { $0.hasPrefix("--all show job") || $0.hasPrefix("show job") }
        #expect(jobQueries.count == 1, "scontrol calls: \(jobQueries.count)")
    }
}
