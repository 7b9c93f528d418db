/// PBS Pro queries (R61): `qstat -fxw <id>`.
package struct PBSSystem: BatchSystem {
    package var name: BatchSystemName { .pbs }
    package init() {}

    package func queryJob(_ jobID: String, record: InfoRecord?, environment: Environment, options: BatchQueryOptions,
                         reaping: any ChildReaping) -> BatchAnswer {
        let runner = CommandRunner(environment: environment, timeout: options.timeout, reaping: reaping)
        let result = runner.run(["qstat", "-fxw", jobID])
        if result.succeeded {
            guard let r = PBSQuery.parse(result.stdout) else { return .notFound }
            return .found(r)
        }
        if result.spawnError == nil, !result.timedOut, result.combinedOutput.contains("Unknown Job Id") {
            return .notFound
        }
        return .unavailable(reason: result.failureDescription(timeout: runner.timeout))
    }
}

package enum PBSQuery {
    /// Parses one `qstat -f` record: `Job Id: <id>`, then `key = value` lines split at the first
    /// ` = `. A line starting with a tab continues the previous value (qstat's wrapping).
    package static func parseFields(_ output: String) -> (jobID: String, fields: [String: String])? {
        var jobID: String?
        var fields: [String: String] = [:]
        var lastKey: String?
        for rawLine in output.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let line = String(rawLine)
            if line.hasPrefix("Job Id:") {
                if jobID != nil { break }  // one record only
                jobID = String(line.dropFirst("Job Id:".count)).trimmingBlanks
                continue
            }
            if line.hasPrefix("\t"), let key = lastKey, !line.contains(" = ") {
                fields[key, default: ""] += line.trimmingBlanks
                continue
            }
            guard let sep = line.firstRange(of: " = ") else { continue }
            let key = line[..<sep.lowerBound].trimmingBlanks
            fields[key] = line[sep.upperBound...].trimmingBlanks
            lastKey = key
        }
        guard let jobID else { return nil }
        return (jobID, fields)
    }

    package static func parse(_ output: String) -> BatchJobRecord? {
        guard let (jobID, f) = parseFields(output) else { return nil }
        let rawState = f["job_state"] ?? ""
        let exitStatus = f["Exit_status"].flatMap { Int($0) }
        var estimate: StartEstimate?
        if let start = f["estimated.start_time"].flatMap(parseTime),
           let vnodes = f["estimated.exec_vnode"] {
            let nodes = cleanNodes(vnodes)
            if !nodes.isEmpty { estimate = StartEstimate(time: start, nodes: nodes.joined(separator: " + ")) }
        }
        let variables = parseVariableList(f["Variable_List"] ?? "")
        return BatchJobRecord(
            jobID: jobID, state: BatchState.fromPBS(rawState, exitStatus: exitStatus), rawState: rawState,
            comment: f["comment"], nodes: cleanNodes(f["exec_host2"] ?? f["exec_host"] ?? ""),
            estimate: estimate, submitTime: f["qtime"].flatMap(parseTime), startTime: f["stime"].flatMap(parseTime),
            timeLimit: f["Resource_List.walltime"], workDir: variables["PBS_O_WORKDIR"], jobName: f["Job_Name"],
            exitStatus: exitStatus, variables: variables, fields: f)
    }

    /// R61: nodes split at `+`, each cut at the first `:`, then at the first `/`, parentheses removed.
    package static func cleanNodes(_ text: String) -> [String] {
        var out: [String] = []
        for part in text.split(separator: "+") {
            var name = Substring(part)
            if let c = name.firstIndex(of: ":") { name = name[..<c] }
            if let s = name.firstIndex(of: "/") { name = name[..<s] }
            let cleaned = String(name.filter { $0 != "(" && $0 != ")" }).trimmingBlanks
            if !cleaned.isEmpty { out.append(cleaned) }
        }
        return out
    }

    /// `Variable_List`: comma-separated `K=V`.
    static func parseVariableList(_ text: String) -> [String: String] {
        var vars: [String: String] = [:]
        for item in text.split(separator: ",") {
            guard let eq = item.firstIndex(of: "=") else { continue }
            vars[String(item[..<eq])] = String(item[item.index(after: eq)...])
        }
        return vars
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Fri Mar 14 09:26:53 2025`.
    package static func parseTime(_ text: String) -> Timestamp? {
        let p = text.split(separator: " ")
        guard p.count == 5, let mi = months.firstIndex(of: String(p[1])), let day = Int(p[2]),
              let year = Int(p[4]) else { return nil }
        let hms = p[3].split(separator: ":").compactMap { Int($0) }
        guard hms.count == 3 else { return nil }
        return Timestamp(year: year, month: mi + 1, day: day, hour: hms[0], minute: hms[1], second: hms[2])
    }
}
