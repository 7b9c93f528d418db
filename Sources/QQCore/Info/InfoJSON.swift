/// `qq-info --json` (R130): one document, keys in a fixed order, no colors.

/// A JSON value whose objects keep their key order.
indirect enum JSONValue {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    static func str(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
    static func int(_ i: Int?) -> JSONValue { i.map { .int(Int64($0)) } ?? .null }
    static func size(_ s: Size?) -> JSONValue { s.map { .int($0.kilobytes) } ?? .null }
    static func time(_ t: Timestamp?) -> JSONValue { t.map { .string($0.description) } ?? .null }
    static func strings(_ a: [String]) -> JSONValue { .array(a.map { .string($0) }) }

    func serialized(indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent + 1)
        let close = String(repeating: "  ", count: indent)
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return d.isFinite ? String(d) : "null"
        case .string(let s): return JSONValue.quote(s)
        case .array(let items):
            if items.isEmpty { return "[]" }
            return "[\n" + items.map { pad + $0.serialized(indent: indent + 1) }.joined(separator: ",\n") + "\n\(close)]"
        case .object(let pairs):
            if pairs.isEmpty { return "{}" }
            return "{\n" + pairs.map { pad + JSONValue.quote($0.0) + ": " + $0.1.serialized(indent: indent + 1) }
                .joined(separator: ",\n") + "\n\(close)}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

enum InfoJSON {
    /// `loops`: each job's loop history (`LoopHistory.gather`), parallel to `jobs`; `now` for the
    /// run time of a cycle that has not completed.
    static func document(jobs: [(LoadedInfo, JobStatus)], loops: [LoopHistory?] = [], pending: [PendingJob] = [],
                         errors: [(target: String, message: String)], baseDirectory: String, now: Int = 0) -> String {
        let doc = JSONValue.object([
            ("schema", .string("qq-info/1")),
            ("jobs", .array(jobs.enumerated().map { i, j in
                job(info: j.0, status: j.1, loop: i < loops.count ? loops[i] : nil, baseDirectory: baseDirectory, now: now)
            })),
            ("pending_jobs", .array(pending.map(pendingJob))),
            ("errors", .array(errors.map { .object([("target", .string($0.target)), ("message", .string($0.message))]) })),
        ])
        return doc.serialized() + "\n"
    }

    static func job(info: LoadedInfo, status: JobStatus, loop history: LoopHistory? = nil, baseDirectory: String,
                    now: Int = 0) -> JSONValue {
        let r = info.record
        let res = r.resources
        var pairs: [(String, JSONValue)] = [
            ("info_file", .string(FileSystem.normalizeLexically(info.path, relativeTo: baseDirectory))),
            ("real_state", .string(status.realState.jsonName)),
            ("batch_state", status.answer.map { .string($0.state.rawValue) } ?? .null),
            ("batch_answer", status.answer.map { .string($0.kindName) } ?? .null),
            ("heartbeat_age_s", .int(status.heartbeatAge)),
        ]
        let resources = JSONValue.object([
            ("nnodes", .int(res.nnodes)), ("ncpus", .int(res.ncpus)), ("ncpus_per_node", .int(res.ncpusPerNode)),
            ("mem", .size(res.mem)), ("mem_per_node", .size(res.memPerNode)), ("mem_per_cpu", .size(res.memPerCPU)),
            ("ngpus", .int(res.ngpus)), ("ngpus_per_node", .int(res.ngpusPerNode)), ("walltime", .str(res.walltime)),
            ("work_dir", .str(res.workDir)), ("work_size", .size(res.workSize)),
            ("work_size_per_node", .size(res.workSizePerNode)), ("work_size_per_cpu", .size(res.workSizePerCPU)),
            ("props", .object(res.props.map { ($0.key, .string($0.value)) })),
        ])
        let sync: JSONValue = r.sync.map { s in
            .object([("count", .int(s.count)), ("last", .time(s.last)), ("files", .int(s.files)), ("bytes", .int(s.bytes)),
                     ("seconds", .double(s.seconds)), ("skipped", .int(s.skipped))])
        } ?? .null
        let progress: JSONValue = r.progress.map { p in
            let filesTotal: JSONValue = p.filesTotal.map { .int(Int64($0)) } ?? .null
            let bytesTotal: JSONValue = p.bytesTotal.map { .int($0) } ?? .null
            return .object([("phase", .string(p.phase)), ("files", .int(Int64(p.files))), ("files_total", filesTotal),
                            ("bytes", .int(p.bytes)), ("bytes_total", bytesTotal), ("rate", .double(p.rate)),
                            ("started", .time(p.started))])
        } ?? .null
        let loop: JSONValue = r.loopInfo.map { l in
            .object([("start", .int(l.start)), ("end", .int(l.end)), ("archive", .str(l.archive)),
                     ("archive_format", .str(l.archiveFormat)), ("current", .int(l.current)),
                     ("archive_mode", .strings(l.archiveMode))])
        } ?? .null
        pairs += [
            ("batch_system", .string(r.batchSystem.rawValue)), ("qq_version", .string(r.qqVersion)),
            ("username", .string(r.username)), ("job_id", .string(r.jobID)), ("job_name", .string(r.jobName)),
            ("script_name", .string(r.scriptName)), ("queue", .string(r.queue)), ("job_type", .string(r.jobType.text)),
            ("input_machine", .string(r.inputMachine)), ("input_dir", .string(r.inputDir)),
            ("job_state", .string(r.jobState.rawValue)), ("submission_time", .time(r.submissionTime)),
            ("stdout_file", .string(r.stdoutFile)), ("stderr_file", .string(r.stderrFile)),
            ("resources", resources), ("excluded_files", .strings(r.excludedFiles)),
            ("included_files", .strings(r.includedFiles)), ("transfer_mode", .strings(r.effectiveTransferMode)),
            ("depend", .strings(r.depend)), ("loop_info", loop), ("account", .str(r.account)),
            ("server", .str(r.server)), ("interpreter", .str(r.interpreter)), ("start_time", .time(r.startTime)),
            ("main_node", .str(r.mainNode)), ("all_nodes", .strings(r.allNodes)), ("work_dir", .str(r.workDir)),
            ("completion_time", .time(r.completionTime)), ("job_exit_code", .int(r.jobExitCode)),
            // §4.5
            ("runner", .str(r.runner)), ("runner_pid", .int(r.runnerPID)), ("cluster", .str(r.cluster)),
            ("pid_ns", .str(r.pidNamespace)), ("phase", .str(r.phase?.rawValue)), ("heartbeat", .time(r.heartbeat)),
            ("heartbeat_interval", .int(r.heartbeatInterval)), ("restarts", .int(r.restarts)),
            ("array_job_id", .str(r.arrayJobID)), ("array_task_id", .str(r.arrayTaskID)),
            ("kill_reason", .str(r.killReason?.rawValue)), ("script_exit_code", .int(r.scriptExitCode)),
            ("error", .str(r.error)), ("signals", .strings(r.signals)),
            ("stage_in", r.stageIn.map { s in
                .object([("files", .int(s.files)), ("bytes", .int(s.bytes)), ("seconds", .double(s.seconds))])
            } ?? .null),
            ("stage_out", r.stageOut.map { s in
                .object([("mode", .string(s.mode.rawValue)), ("files", .int(s.files)), ("bytes", .int(s.bytes)),
                         ("seconds", .double(s.seconds)), ("errors", .int(s.errors)), ("deleted", .int(s.deleted)),
                         ("kept", .int(s.kept)),
                         ("not_copied", .int(s.notCopied)), ("not_copied_paths", .strings(s.notCopiedPaths))])
            } ?? .null),
            ("usage", r.usage.map { u in
                .object([("max_rss", .int(u.maxRSS)), ("user_cpu", .double(u.userCPU)), ("sys_cpu", .double(u.sysCPU))])
            } ?? .null),
            ("sync", sync), ("progress", progress),
            ("synchronized", r.synchronized.map { .bool($0) } ?? .null), ("wiped", .time(r.wiped)),
            ("next_job_id", .str(r.nextJobID)), ("resubmit_error", .str(r.resubmitError)),
            // Computed for loop jobs (issue 11 item 4): every cycle found, the archived ones as their files say.
            ("loop_cycles", history.map { h in .array(h.cycles.map { loopCycle($0, baseDirectory: baseDirectory, now: now) }) } ?? .null),
            ("loop_archive_error", .str(history?.archiveError)),
            // Issue 14
            ("env_script", .str(r.envScript)), ("env", .strings(r.envVariables)), ("container", .str(r.container)),
            ("container_mounts", .strings(r.containerMounts)), ("prologue", .str(r.prologue)),
            ("prologue_exit_code", .int(r.prologueExitCode)), ("epilogue", .str(r.epilogue)),
            ("epilogue_exit_code", .int(r.epilogueExitCode)),
        ]
        return .object(pairs)
    }

    static func loopCycle(_ c: CycleRecord, baseDirectory: String, now: Int) -> JSONValue {
        let r = c.record
        return .object([
            ("cycle", .int(c.cycle)), ("archived", .bool(c.archived)),
            ("info_file", .string(FileSystem.normalizeLexically(c.path, relativeTo: baseDirectory))),
            ("job_id", .str(r?.jobID)), ("job_name", .str(r?.jobName)),
            ("real_state", c.state.map { .string($0.jsonName) } ?? .null), ("job_state", .str(r?.jobState.rawValue)),
            ("submission_time", .time(r?.submissionTime)), ("start_time", .time(r?.startTime)),
            ("completion_time", .time(r?.completionTime)), ("run_time_s", .int(c.runSeconds(now: now))),
            ("job_exit_code", .int(r?.jobExitCode)), ("error", .str(c.error)),
        ])
    }
}
