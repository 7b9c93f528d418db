import Synchronization

/// The Slurm family (`Slurm`, `SlurmIT4I`, `SlurmLumi`): the same commands, different names.
package struct SlurmSystem: BatchSystem {
    package let name: BatchSystemName
    package init(name: BatchSystemName = .slurm) { self.name = name }

    package func queryJob(_ jobID: String, record: InfoRecord?, environment: Environment, options: BatchQueryOptions,
                         reaping: any ChildReaping) -> BatchAnswer {
        let runner = CommandRunner(environment: environment, timeout: options.timeout, reaping: reaping)
        return Self.checkingCluster(SlurmQuery.query(jobID, runner: runner, useSacct: options.useSacct),
                                    record: record, runner: runner)
    }

    /// Issue 13, item 5: `scontrol show job` takes one id (22.05 refuses `1,2`), so one listing of
    /// every job the controller keeps answers them all; each answer is then the one `queryJob`
    /// gives (same record selection, `sacct` step, R58). Up to `listingThreshold` jobs, or when
    /// the listing fails, each job is asked on its own as before (the `squeue` fallback and its
    /// reasons stay): that many run in one parallel round, and the listing grows with the queue.
    package func queryJobs(_ jobs: [BatchQueryRequest], environment: Environment, options: BatchQueryOptions,
                          reaping: any ChildReaping) -> [BatchAnswer] {
        let runner = CommandRunner(environment: environment, timeout: options.timeout, reaping: reaping)
        guard jobs.count > Self.listingThreshold, let listing = SlurmQuery.listing(for: jobs.map(\.jobID), runner: runner) else {
            return queryEachJob(jobs, environment: environment, options: options, reaping: reaping)
        }
        return concurrentMap(count: jobs.count, limit: 8) { i in
            let id = jobs[i].jobID
            let controller: SlurmQuery.Controller = SlurmQuery.selectRecord(listing, jobID: id)
                .map { .found(SlurmQuery.jobRecord(fromScontrol: $0)) } ?? .unknownJob
            return Self.checkingCluster(SlurmQuery.finish(controller, id, runner: runner, useSacct: options.useSacct),
                                        record: jobs[i].record, runner: runner)
        }
    }

    /// More jobs than one round of parallel single queries (`queryEachJob` runs 8 at a time).
    static let listingThreshold = 8

    /// R58: "unknown id" from another cluster's controller proves nothing about this job.
    static func checkingCluster(_ answer: BatchAnswer, record: InfoRecord?, runner: CommandRunner) -> BatchAnswer {
        guard case .notFound = answer, let cluster = record?.cluster, !cluster.isEmpty else { return answer }
        let current = SlurmQuery.currentCluster(runner: runner)
        if current == cluster { return answer }
        return .unavailable(reason: "the job belongs to cluster '\(cluster)', but this is "
                            + (current.map { "cluster '\($0)'" } ?? "an unknown cluster"))
    }

    package func pendingJobs(environment: Environment, options: BatchQueryOptions,
                            reaping: any ChildReaping) -> Result<[BatchJobRecord], BatchUnavailableError> {
        SlurmQuery.pendingJobs(runner: CommandRunner(environment: environment, timeout: options.timeout, reaping: reaping))
    }

    package func batchScriptFirstLine(of job: BatchJobRecord, environment: Environment, options: BatchQueryOptions,
                                     reaping: any ChildReaping) -> String? {
        // `%A` is the id the controller keeps the script under (an unsplit array's `12_[1-3]` is `12`).
        let id = job.fields["A"].flatMap { $0.isEmpty ? nil : $0 } ?? job.jobID
        return SlurmQuery.batchScriptFirstLine(id, runner: CommandRunner(environment: environment, timeout: options.timeout,
                                                                         reaping: reaping))
    }
}

package enum SlurmQuery {
    /// Where the controller stands after steps 1 and 2 of R59.
    enum Controller {
        case found(BatchJobRecord)
        /// The controller answered and does not know the job.
        case unknownJob
        case unavailable(String)
    }

    /// R59, steps 1–3.
    package static func query(_ jobID: String, runner: CommandRunner, useSacct: Bool) -> BatchAnswer {
        var controller = scontrolStep(jobID, runner: runner)
        if case .unavailable(let scontrolReason) = controller {
            controller = squeueStep(jobID, runner: runner)
            if case .unavailable(let squeueReason) = controller {
                controller = .unavailable("\(scontrolReason); \(squeueReason)")
            }
        }
        return finish(controller, jobID, runner: runner, useSacct: useSacct)
    }

    /// R59 step 3 after the controller's answer.
    static func finish(_ controller: Controller, _ jobID: String, runner: CommandRunner, useSacct: Bool) -> BatchAnswer {
        switch controller {
        case .found(let r): return .found(r)
        case .unknownJob, .unavailable:
            if useSacct, let viaSacct = sacctStep(jobID, runner: runner) { return viaSacct }
            if case .unavailable(let reason) = controller { return .unavailable(reason: reason) }
            return .notFound
        }
    }

    static func scontrolStep(_ jobID: String, runner: CommandRunner) -> Controller {
        let result = runner.run(["scontrol", "show", "job", jobID, "-o"])
        if result.succeeded {
            let records = parseScontrol(result.stdout)
            if let chosen = selectRecord(records, jobID: jobID) { return .found(jobRecord(fromScontrol: chosen)) }
            return .unknownJob
        }
        if result.combinedOutput.contains("Invalid job id specified") { return .unknownJob }
        return .unavailable(result.failureDescription(timeout: runner.timeout))
    }

    /// Every job the controller keeps, in one call (`--all`: jobs in hidden partitions too, as a
    /// query by id shows them), reduced to the records that can match `ids` (their `JobId`, or
    /// the `ArrayJobId` of an `A_T` or master id). nil when the call fails.
    static func listing(for ids: [String], runner: CommandRunner) -> [[String: String]]? {
        let result = runner.run(["scontrol", "--all", "show", "job", "-o"])
        guard result.succeeded else { return nil }
        return relevantRecords(result.stdout, ids: ids)
    }

    package static func relevantRecords(_ output: String, ids: [String]) -> [[String: String]] {
        var wanted = Set(ids)
        for id in ids { if let (array, _) = splitArrayID(id) { wanted.insert(array) } }
        var kept: [[String: String]] = []
        var text = output
        // Bytes, not Characters: the listing holds every job the controller keeps (1 MB for 1,000
        // jobs), and `-o` lines start `JobId=… [ArrayJobId=…]`, so most are skipped unparsed.
        text.withUTF8 { bytes in
            var start = 0
            while start < bytes.count {
                var end = start
                while end < bytes.count, bytes[end] != 0x0A, bytes[end] != 0x0D { end += 1 }
                let line = UnsafeBufferPointer(rebasing: bytes[start..<end])
                start = end + 1
                var at = 0
                let jobID = headValue(line, "JobId=", at: &at)
                let arrayID = headValue(line, "ArrayJobId=", at: &at)
                guard jobID.map(wanted.contains) == true || arrayID.map(wanted.contains) == true,
                      let fields = parseScontrol(String(decoding: line, as: UTF8.self)).first else { continue }
                kept.append(fields)
            }
        }
        return kept
    }

    /// The value of `key` when the line continues with it at `at` (then `at` moves past it).
    private static func headValue(_ line: UnsafeBufferPointer<UInt8>, _ key: StaticString, at: inout Int) -> String? {
        let k = UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
        guard line.count - at > k.count, line[at..<(at + k.count)].elementsEqual(k) else { return nil }
        var end = at + k.count
        while end < line.count, line[end] != 0x20, line[end] != 0x09 { end += 1 }
        let value = String(decoding: UnsafeBufferPointer(rebasing: line[(at + k.count)..<end]), as: UTF8.self)
        at = end + 1
        return value
    }

    static func squeueStep(_ jobID: String, runner: CommandRunner) -> Controller {
        let result = runner.run(["squeue", "-h", "-j", jobID, "-o", "%A|%i|%T|%r|%B|%N|%S"])
        if result.succeeded {
            for line in result.stdout.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
                if let r = parseSqueueLine(line), r.jobID == jobID || r.fields["i"] == jobID { return .found(r) }
            }
            return .unknownJob
        }
        // squeue answers a purged id the same way as scontrol.
        if result.combinedOutput.contains("Invalid job id specified") { return .unknownJob }
        return .unavailable(result.failureDescription(timeout: runner.timeout))
    }

    /// Step 3: nil when sacct gives no usable answer (failed, or accounting disabled).
    static func sacctStep(_ jobID: String, runner: CommandRunner) -> BatchAnswer? {
        let result = runner.run(["sacct", "--allocations", "--noheader", "--parsable2", "-j", jobID,
                                 "--format=JobID,Account,State,User,JobName,Partition,WorkDir,NodeList,Reason,ExitCode,Submit,Start,End,TimeLimit"])
        guard result.succeeded, !result.combinedOutput.contains("accounting storage is disabled") else { return nil }
        let rows = result.stdout.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).compactMap(parseSacctLine)
        guard let row = rows.first(where: { $0.jobID == jobID }) ?? rows.first else { return .notFound }
        return .found(row)
    }

    // MARK: Parsing

    /// Splits `scontrol show job -o` output into records, one per non-empty line, by R59's token
    /// rule: a token without `=`, or whose key is not plausible, joins the previous value with one
    /// space (keeps `Command=/path/run.sh arg` and `WorkDir=/a b` whole).
    package static func parseScontrol(_ output: String) -> [[String: String]] {
        var records: [[String: String]] = []
        for line in output.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            var fields: [String: String] = [:]
            var lastKey: String?
            for token in line.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                if let eq = token.firstIndex(of: "="), isPlausibleKey(token[..<eq]) {
                    let key = String(token[..<eq])
                    fields[key] = String(token[token.index(after: eq)...])
                    lastKey = key
                } else if let key = lastKey {
                    fields[key, default: ""] += " " + token
                }
            }
            if !fields.isEmpty { records.append(fields) }
        }
        return records
    }

    static func isPlausibleKey(_ key: Substring) -> Bool {
        !key.isEmpty && key.allSatisfy { c in
            c.isASCII && (c.isLetter || c.isNumber || c == "_" || c == "/" || c == ":")
        }
    }

    /// R59 record selection: `JobId` equal to the id, or for `A_T` the record with
    /// `ArrayJobId`=A and `ArrayTaskId`=T. A pending array's unsplit record (`ArrayTaskId=1-3`)
    /// also matches a task it contains.
    package static func selectRecord(_ records: [[String: String]], jobID: String) -> [String: String]? {
        if let exact = records.first(where: { $0["JobId"] == jobID }) { return exact }
        guard let (array, task) = splitArrayID(jobID) else { return nil }
        let sameArray = records.filter { $0["ArrayJobId"] == array }
        if let exact = sameArray.first(where: { $0["ArrayTaskId"] == task }) { return exact }
        guard let taskNumber = Int(task) else { return nil }
        return sameArray.first { taskSet($0["ArrayTaskId"] ?? "", contains: taskNumber) }
    }

    /// `3_1` → (`3`, `1`).
    static func splitArrayID(_ id: String) -> (String, String)? {
        guard let u = id.firstIndex(of: "_") else { return nil }
        let a = id[..<u], t = id[id.index(after: u)...]
        guard !a.isEmpty, !t.isEmpty else { return nil }
        return (String(a), String(t))
    }

    /// Does an `ArrayTaskId` expression such as `2-5,7%2` or `1-9:2` include `n`?
    static func taskSet(_ expression: String, contains n: Int) -> Bool {
        let body = expression.split(separator: "%").first ?? ""
        for part in body.split(separator: ",") {
            let stepParts = part.split(separator: ":")
            let step = stepParts.count > 1 ? Int(stepParts[1]) ?? 1 : 1
            let bounds = (stepParts.first ?? "").split(separator: "-")
            guard let low = bounds.first.flatMap({ Int($0) }) else { continue }
            let high = bounds.count > 1 ? Int(bounds[1]) ?? low : low
            if n >= low, n <= high, step > 0, (n - low) % step == 0 { return true }
        }
        return false
    }

    static func value(_ fields: [String: String], _ key: String) -> String? {
        guard let v = fields[key], !isAbsentSlurmValue(v) else { return nil }
        return v
    }

    static func expandedNodes(_ list: String?) -> [String] {
        guard let list else { return [] }
        return (try? Hostlist.expand(list)) ?? [list]
    }

    package static func jobRecord(fromScontrol f: [String: String]) -> BatchJobRecord {
        let rawState = String((f["JobState"] ?? "").split(separator: " ").first ?? "")
        let reason = value(f, "Reason")
        var estimate: StartEstimate?
        if let start = value(f, "StartTime").flatMap({ Timestamp(parsing: $0) }),
           let nodes = value(f, "SchedNodeList") {
            estimate = StartEstimate(time: start, nodes: nodes)
        }
        return BatchJobRecord(
            jobID: f["JobId"] ?? "", state: BatchState.fromSlurm(rawState, reason: reason), rawState: rawState,
            reason: reason, batchHost: value(f, "BatchHost"), nodes: expandedNodes(value(f, "NodeList")),
            estimate: estimate, submitTime: value(f, "SubmitTime").flatMap { Timestamp(parsing: $0) },
            startTime: value(f, "StartTime").flatMap { Timestamp(parsing: $0) },
            timeLimit: value(f, "TimeLimit"), workDir: value(f, "WorkDir"), jobName: value(f, "JobName"),
            arrayJobID: value(f, "ArrayJobId"), arrayTaskID: value(f, "ArrayTaskId"), fields: f)
    }

    /// One line of `squeue -o '%A|%i|%T|%r|%B|%N|%S'`. The fields are kept under their letters.
    static func parseSqueueLine(_ line: Substring) -> BatchJobRecord? {
        let c = line.split(separator: "|", omittingEmptySubsequences: false).map { String($0).trimmingBlanks }
        guard c.count >= 7 else { return nil }
        let fields = ["A": c[0], "i": c[1], "T": c[2], "r": c[3], "B": c[4], "N": c[5], "S": c[6]]
        func v(_ s: String) -> String? { isAbsentSlurmValue(s) ? nil : s }
        let rawState = String(c[2].split(separator: " ").first ?? "")
        let reason = v(c[3])
        return BatchJobRecord(jobID: c[0], state: BatchState.fromSlurm(rawState, reason: reason),
                              rawState: rawState, reason: reason, batchHost: v(c[4]),
                              nodes: expandedNodes(v(c[5])), startTime: v(c[6]).flatMap { Timestamp(parsing: $0) },
                              fields: fields)
    }

    /// One `--parsable2` row in R59's `--format` order.
    static func parseSacctLine(_ line: Substring) -> BatchJobRecord? {
        let c = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard c.count >= 14 else { return nil }
        let names = ["JobID", "Account", "State", "User", "JobName", "Partition", "WorkDir", "NodeList",
                     "Reason", "ExitCode", "Submit", "Start", "End", "TimeLimit"]
        var fields: [String: String] = [:]
        for (i, n) in names.enumerated() { fields[n] = c[i] }
        let rawState = String(c[2].split(separator: " ").first ?? "")
        let reason = value(fields, "Reason")
        return BatchJobRecord(jobID: c[0], state: BatchState.fromSlurm(rawState, reason: reason),
                              rawState: rawState, reason: reason, nodes: expandedNodes(value(fields, "NodeList")),
                              submitTime: value(fields, "Submit").flatMap { Timestamp(parsing: $0) },
                              startTime: value(fields, "Start").flatMap { Timestamp(parsing: $0) },
                              timeLimit: value(fields, "TimeLimit"), workDir: value(fields, "WorkDir"),
                              jobName: value(fields, "JobName"), fields: fields)
    }

    // MARK: Pending jobs (issue 8, item 12)

    /// The `squeue` fields of the listing, in output order. Job name and working directory are
    /// free text, so the separator is the ASCII unit separator, which neither holds in practice.
    static let pendingFields = ["i", "A", "T", "r", "S", "V", "P", "Y", "j", "Z"]
    static let pendingSeparator: Character = "\u{1F}"

    /// One `squeue` call: the user's pending jobs (arrays not split into tasks).
    static func pendingJobs(runner: CommandRunner) -> Result<[BatchJobRecord], BatchUnavailableError> {
        let format = pendingFields.map { "%" + $0 }.joined(separator: String(pendingSeparator))
        let result = runner.run(["squeue", "--me", "--noheader", "--states=PENDING", "--format=" + format])
        guard result.succeeded else {
            return .failure(BatchUnavailableError(reason: result.failureDescription(timeout: runner.timeout)))
        }
        return .success(parsePendingJobs(result.stdout))
    }

    /// Lines that do not have every field are skipped.
    package static func parsePendingJobs(_ output: String) -> [BatchJobRecord] {
        output.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).compactMap(parsePendingLine)
    }

    static func parsePendingLine(_ line: Substring) -> BatchJobRecord? {
        let c = line.split(separator: pendingSeparator, omittingEmptySubsequences: false).map(String.init)
        guard c.count == pendingFields.count, !c[0].trimmingBlanks.isEmpty else { return nil }
        var fields: [String: String] = [:]
        for (key, text) in zip(pendingFields, c) { fields[key] = text }
        func v(_ s: String) -> String? { isAbsentSlurmValue(s.trimmingBlanks) ? nil : s.trimmingBlanks }
        let jobID = c[0].trimmingBlanks
        let rawState = String(c[2].split(separator: " ").first ?? "")
        let reason = v(c[3])
        let start = v(c[4]).flatMap { Timestamp(parsing: $0) }
        var estimate: StartEstimate?
        if let start, let nodes = v(c[7]) { estimate = StartEstimate(time: start, nodes: nodes) }
        let array = splitArrayID(jobID)
        return BatchJobRecord(
            jobID: jobID, state: BatchState.fromSlurm(rawState, reason: reason), rawState: rawState, reason: reason,
            estimate: estimate, submitTime: v(c[5]).flatMap { Timestamp(parsing: $0) }, startTime: start,
            workDir: c[9].isEmpty ? nil : c[9], jobName: c[8].isEmpty ? nil : c[8], partition: v(c[6]),
            arrayJobID: array?.0, arrayTaskID: array?.1, fields: fields)
    }

    /// `scontrol write batch_script <id> -` prints the script the controller keeps. It exits 0
    /// even when it cannot ("job script retrieval failed: …" on stderr), so empty output means
    /// no script.
    static func batchScriptFirstLine(_ jobID: String, runner: CommandRunner) -> String? {
        let result = runner.run(["scontrol", "write", "batch_script", jobID, "-"])
        guard result.succeeded, !result.stdout.isEmpty else { return nil }
        let line = result.stdout.prefix { $0 != "\n" && $0 != "\r\n" }
        return String(line.hasSuffix("\r") ? line.dropLast() : line)
    }

    // MARK: Cluster (R58)

    private static let clusterCache = Mutex<[String: String?]>([:])

    /// `SLURM_CLUSTER_NAME`, else `ClusterName` from `scontrol show config` (asked once per PATH
    /// per process); nil when neither is known.
    package static func currentCluster(runner: CommandRunner) -> String? {
        if let name = runner.environment.nonEmpty("SLURM_CLUSTER_NAME") { return name }
        let key = runner.environment["PATH"] ?? ""
        if let cached = clusterCache.withLock({ $0[key] }) { return cached }
        let result = runner.run(["scontrol", "show", "config"])
        var name: String?
        if result.succeeded { name = clusterName(fromConfig: result.stdout) }
        clusterCache.withLock { $0[key] = .some(name) }
        return name
    }

    /// The value of the `ClusterName = x` line of `scontrol show config`.
    static func clusterName(fromConfig text: String) -> String? {
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            if line[..<eq].trimmingBlanks == "ClusterName" {
                let v = line[line.index(after: eq)...].trimmingBlanks
                return v.isEmpty ? nil : v
            }
        }
        return nil
    }
}
