// Schema-driven decoding of the state file and the marker (R35, R36, R28, R45): the field decides
// the type of a scalar, never YAML's implicit typing.

extension InfoFileCodec {
    /// Top-level keys of §4.2 and §4.5; anything else is an unknown entry, kept verbatim.
    static let infoFileKeys: Set<String> = [
        "batch_system", "qq_version", "username", "job_id", "job_name", "script_name", "queue", "job_type",
        "input_machine", "input_dir", "job_state", "submission_time", "stdout_file", "stderr_file",
        "resources", "excluded_files", "included_files", "transfer_mode", "depend", "loop_info", "account",
        "server", "interpreter", "start_time", "main_node", "all_nodes", "work_dir", "completion_time",
        "job_exit_code",
        "runner", "runner_pid", "cluster", "pid_ns", "phase", "heartbeat", "heartbeat_interval", "restarts",
        "array_job_id", "array_task_id", "kill_reason", "script_exit_code", "error", "signals", "stage_in",
        "stage_out", "usage", "sync", "progress", "synchronized", "wiped", "next_job_id", "resubmit_error",
        "env_script", "env", "container", "container_mounts", "prologue", "prologue_exit_code", "epilogue",
        "epilogue_exit_code",
    ]

    static let markerKeys: Set<String> = [
        "job_id", "info_file", "input_dir", "batch_system", "cluster", "pid_ns", "main_node", "created", "runner",
    ]

    static func parse(_ bytes: [UInt8], path: String, keys: Set<String>) throws(InfoFileError) -> YAMLDocument {
        var parser = YAMLSubsetParser(bytes: bytes)
        do {
            return try parser.parseDocument(isKnown: { keys.contains($0) })
        } catch {
            let doc = YAMLDocument(entries: [], unknown: [], bytes: parser.normalisedBytes)
            throw InfoFileError(path: path, line: doc.lineNumber(at: error.offset), message: error.message)
        }
    }

    static func decodeInfo(bytes: [UInt8], path: String) throws(InfoFileError) -> InfoRecord {
        let doc = try parse(bytes, path: path, keys: infoFileKeys)
        let r = FieldReader(path: path, doc: doc)
        let f = r.fields

        let batchSystem = try r.batchSystem(f["batch_system"], "batch_system")
        var record = InfoRecord(
            batchSystem: try r.required(batchSystem, "batch_system"),
            qqVersion: try r.required(r.string(f["qq_version"], "qq_version"), "qq_version"),
            username: try r.required(r.string(f["username"], "username"), "username"),
            jobID: try r.required(r.string(f["job_id"], "job_id"), "job_id"),
            jobName: try r.fileName(f["job_name"], "job_name"),
            scriptName: try r.fileName(f["script_name"], "script_name"),
            queue: try r.required(r.string(f["queue"], "queue"), "queue"),
            jobType: JobType(reading: try r.required(r.string(f["job_type"], "job_type"), "job_type")),
            inputMachine: try r.required(r.string(f["input_machine"], "input_machine"), "input_machine"),
            inputDir: try r.required(r.string(f["input_dir"], "input_dir"), "input_dir"),
            jobState: try r.jobState(f["job_state"]),
            submissionTime: try r.required(r.timestamp(f["submission_time"], "submission_time"), "submission_time"),
            stdoutFile: try r.fileName(f["stdout_file"], "stdout_file"),
            stderrFile: try r.fileName(f["stderr_file"], "stderr_file"),
            resources: try r.required(r.resources(f["resources"]), "resources"))

        record.excludedFiles = try r.stringList(f["excluded_files"], "excluded_files") ?? []
        record.includedFiles = try r.stringList(f["included_files"], "included_files") ?? []
        record.transferMode = try r.stringList(f["transfer_mode"], "transfer_mode")
        record.depend = try r.stringList(f["depend"], "depend") ?? []
        record.loopInfo = try r.loopInfo(f["loop_info"])
        record.account = try r.string(f["account"], "account")
        record.server = try r.string(f["server"], "server")
        record.interpreter = try r.string(f["interpreter"], "interpreter")
        record.startTime = try r.timestamp(f["start_time"], "start_time")
        record.mainNode = try r.string(f["main_node"], "main_node")
        record.allNodes = try r.stringList(f["all_nodes"], "all_nodes") ?? []
        record.workDir = try r.string(f["work_dir"], "work_dir")
        record.completionTime = try r.timestamp(f["completion_time"], "completion_time")
        record.jobExitCode = try r.int(f["job_exit_code"], "job_exit_code")

        // §4.5: a malformed extension field is ignored, never fatal (R28).
        record.runner = r.lenient(f["runner"], "runner") { n throws(InfoFileError) in try r.string(n, "runner") }
        record.runnerPID = r.lenient(f["runner_pid"], "runner_pid") { n throws(InfoFileError) in try r.int(n, "runner_pid") }
        record.cluster = r.lenient(f["cluster"], "cluster") { n throws(InfoFileError) in try r.string(n, "cluster") }
        record.pidNamespace = r.lenient(f["pid_ns"], "pid_ns") { n throws(InfoFileError) in try r.string(n, "pid_ns") }
        record.phase = r.lenient(f["phase"], "phase") { n throws(InfoFileError) in try r.enumValue(n, "phase", Phase.self) }
        record.heartbeat = r.lenient(f["heartbeat"], "heartbeat") { n throws(InfoFileError) in try r.timestamp(n, "heartbeat") }
        record.heartbeatInterval = r.lenient(f["heartbeat_interval"], "heartbeat_interval") { n throws(InfoFileError) in
            try r.int(n, "heartbeat_interval")
        }
        record.restarts = r.lenient(f["restarts"], "restarts") { n throws(InfoFileError) in try r.int(n, "restarts") }
        record.arrayJobID = r.lenient(f["array_job_id"], "array_job_id") { n throws(InfoFileError) in try r.string(n, "array_job_id") }
        record.arrayTaskID = r.lenient(f["array_task_id"], "array_task_id") { n throws(InfoFileError) in
            try r.string(n, "array_task_id")
        }
        record.killReason = r.lenient(f["kill_reason"], "kill_reason") { n throws(InfoFileError) in
            try r.enumValue(n, "kill_reason", KillReason.self)
        }
        record.scriptExitCode = r.lenient(f["script_exit_code"], "script_exit_code") { n throws(InfoFileError) in
            try r.int(n, "script_exit_code")
        }
        record.error = r.lenient(f["error"], "error") { n throws(InfoFileError) in try r.string(n, "error") }
        record.signals = r.lenient(f["signals"], "signals") { n throws(InfoFileError) in try r.stringList(n, "signals") } ?? []
        record.stageIn = r.lenient(f["stage_in"], "stage_in") { n throws(InfoFileError) in try r.stageIn(n) }
        record.stageOut = r.lenient(f["stage_out"], "stage_out") { n throws(InfoFileError) in try r.stageOut(n) }
        record.usage = r.lenient(f["usage"], "usage") { n throws(InfoFileError) in try r.usage(n) }
        record.sync = r.lenient(f["sync"], "sync") { n throws(InfoFileError) in try r.syncStats(n) }
        record.progress = r.lenient(f["progress"], "progress") { n throws(InfoFileError) in try r.progress(n) }
        record.synchronized = r.lenient(f["synchronized"], "synchronized") { n throws(InfoFileError) in
            try r.bool(n, "synchronized")
        }
        record.wiped = r.lenient(f["wiped"], "wiped") { n throws(InfoFileError) in try r.timestamp(n, "wiped") }
        record.nextJobID = r.lenient(f["next_job_id"], "next_job_id") { n throws(InfoFileError) in try r.string(n, "next_job_id") }
        record.resubmitError = r.lenient(f["resubmit_error"], "resubmit_error") { n throws(InfoFileError) in
            try r.string(n, "resubmit_error")
        }
        record.envScript = r.lenient(f["env_script"], "env_script") { n throws(InfoFileError) in try r.string(n, "env_script") }
        record.envVariables = r.lenient(f["env"], "env") { n throws(InfoFileError) in try r.stringList(n, "env") } ?? []
        record.container = r.lenient(f["container"], "container") { n throws(InfoFileError) in try r.string(n, "container") }
        record.containerMounts = r.lenient(f["container_mounts"], "container_mounts") { n throws(InfoFileError) in
            try r.stringList(n, "container_mounts")
        } ?? []
        record.prologue = r.lenient(f["prologue"], "prologue") { n throws(InfoFileError) in try r.string(n, "prologue") }
        record.prologueExitCode = r.lenient(f["prologue_exit_code"], "prologue_exit_code") { n throws(InfoFileError) in
            try r.int(n, "prologue_exit_code")
        }
        record.epilogue = r.lenient(f["epilogue"], "epilogue") { n throws(InfoFileError) in try r.string(n, "epilogue") }
        record.epilogueExitCode = r.lenient(f["epilogue_exit_code"], "epilogue_exit_code") { n throws(InfoFileError) in
            try r.int(n, "epilogue_exit_code")
        }

        record.unknownEntries = doc.unknown
        return record
    }

    static func decodeMarker(bytes: [UInt8], path: String) throws(InfoFileError) -> WorkDirMarker {
        // Unknown keys in a marker are ignored: nothing writes them back.
        let doc = try parse(bytes, path: path, keys: markerKeys)
        let r = FieldReader(path: path, doc: doc)
        let f = r.fields
        return WorkDirMarker(
            jobID: try r.required(r.string(f["job_id"], "job_id"), "job_id"),
            infoFile: try r.required(r.string(f["info_file"], "info_file"), "info_file"),
            inputDir: try r.required(r.string(f["input_dir"], "input_dir"), "input_dir"),
            batchSystem: try r.required(r.batchSystem(f["batch_system"], "batch_system"), "batch_system"),
            cluster: try r.string(f["cluster"], "cluster"),
            pidNamespace: try r.string(f["pid_ns"], "pid_ns"),
            mainNode: try r.required(r.string(f["main_node"], "main_node"), "main_node"),
            created: try r.required(r.timestamp(f["created"], "created"), "created"),
            runner: try r.required(r.string(f["runner"], "runner"), "runner"))
    }
}

/// Turns nodes into typed values, with R36's messages.
struct FieldReader {
    let path: String
    let doc: YAMLDocument
    let fields: [String: YAMLNode]

    init(path: String, doc: YAMLDocument) {
        self.path = path
        self.doc = doc
        var f: [String: YAMLNode] = [:]
        for e in doc.entries { f[e.key] = e.value }
        fields = f
    }

    func fail(_ node: YAMLNode, _ message: String) -> InfoFileError {
        InfoFileError(path: path, line: doc.lineNumber(at: node.offset), message: message)
    }

    func required<T>(_ value: T?, _ name: String) throws(InfoFileError) -> T {
        guard let value else { throw InfoFileError(path: path, line: nil, message: "missing required field '\(name)'") }
        return value
    }

    /// The scalar's text, or nil when the node is absent or null.
    private func scalarText(_ node: YAMLNode?, _ name: String, expected: String) throws(InfoFileError) -> String? {
        guard let node else { return nil }
        guard case .scalar(let s) = node else { throw fail(node, "expected \(expected) for '\(name)'") }
        return s.isNull ? nil : s.text
    }

    func string(_ node: YAMLNode?, _ name: String) throws(InfoFileError) -> String? {
        try scalarText(node, name, expected: "a string")
    }

    /// R36: a single path component — not empty, no `/` or NUL, not `.` or `..`.
    func fileName(_ node: YAMLNode?, _ name: String) throws(InfoFileError) -> String {
        let text = try required(string(node, name), name)
        if text.isEmpty || text == "." || text == ".." || text.utf8.contains(47) || text.utf8.contains(0),
           let node {
            throw fail(node, "expected a single file name for '\(name)'")
        }
        return text
    }

    func int(_ node: YAMLNode?, _ name: String) throws(InfoFileError) -> Int? {
        guard let node, let text = try scalarText(node, name, expected: "an integer") else { return nil }
        guard isInteger(text), let v = Int(text) else { throw fail(node, "expected an integer for '\(name)'") }
        return v
    }

    func int64(_ node: YAMLNode?, _ name: String) throws(InfoFileError) -> Int64? {
        guard let node, let text = try scalarText(node, name, expected: "an integer") else { return nil }
        guard isInteger(text), let v = Int64(text) else { throw fail(node, "expected an integer for '\(name)'") }
        return v
    }

    /// R35 float grammar: `[-+]?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?`.
    func double(_ node: YAMLNode?, _ name: String) throws(InfoFileError) -> Double? {
        guard let node, let text = try scalarText(node, name, expected: "a number") else { return nil }
        guard isFloat(text), let v = Double(text) else { throw fail(node, "expected a number for '\(name)'") }
        return v
    }

    func bool(_ node: YAMLNode?, _ name: String) throws(InfoFileError) -> Bool? {
        guard let node, let text = try scalarText(node, name, expected: "true or false") else { return nil }
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: throw fail(node, "expected true or false for '\(name)'")
        }
    }

    func timestamp(_ node: YAMLNode?, _ name: String) throws(InfoFileError) -> Timestamp? {
        let expected = "a timestamp 'YYYY-MM-DD HH:MM:SS'"
        guard let node, let text = try scalarText(node, name, expected: expected) else { return nil }
        guard let t = Timestamp(parsing: text) else { throw fail(node, "expected \(expected) for '\(name)'") }
        return t
    }

    func batchSystem(_ node: YAMLNode?, _ name: String) throws(InfoFileError) -> BatchSystemName? {
        guard let node, let text = try string(node, name) else { return nil }
        guard let b = BatchSystemName(rawValue: text) else {
            let names = BatchSystemName.allCases.map(\.rawValue).joined(separator: ", ")
            throw fail(node, "expected one of \(names) for '\(name)', not '\(text)'")
        }
        return b
    }

    /// Field 11: present but empty or unrecognised reads as `unknown`.
    func jobState(_ node: YAMLNode?) throws(InfoFileError) -> NaiveState {
        let node = try required(node, "job_state")
        return NaiveState(reading: try string(node, "job_state") ?? "")
    }

    func enumValue<E: RawRepresentable>(_ node: YAMLNode?, _ name: String, _: E.Type) throws(InfoFileError) -> E?
        where E.RawValue == String {
        guard let node, let text = try string(node, name) else { return nil }
        guard let v = E(rawValue: text) else { throw fail(node, "expected a known value for '\(name)', not '\(text)'") }
        return v
    }

    func stringList(_ node: YAMLNode?, _ name: String) throws(InfoFileError) -> [String]? {
        guard let node else { return nil }
        switch node {
        case .scalar(let s) where s.isNull: return nil
        case .sequence(let items, _):
            var out: [String] = []
            out.reserveCapacity(items.count)
            for item in items {
                guard case .scalar(let s) = item, !s.isNull else { throw fail(item, "expected a list of strings for '\(name)'") }
                out.append(s.text)
            }
            return out
        default:
            throw fail(node, "expected a list of strings for '\(name)'")
        }
    }

    /// The entries of a mapping; nil when absent or null.
    func mapping(_ node: YAMLNode?, _ name: String) throws(InfoFileError) -> [YAMLEntry]? {
        guard let node else { return nil }
        switch node {
        case .scalar(let s) where s.isNull: return nil
        case .mapping(let entries, _): return entries
        default: throw fail(node, "expected a mapping for '\(name)'")
        }
    }

    /// R24: `{value: N}` with an optional `unit`, or a plain string such as `16gb`.
    func size(_ node: YAMLNode?, _ name: String) throws(InfoFileError) -> Size? {
        guard let node else { return nil }
        switch node {
        case .scalar(let s):
            if s.isNull { return nil }
            guard let size = Size(parsing: s.text) else { throw fail(node, "expected a size for '\(name)'") }
            return size
        case .mapping(let entries, _):
            var value: Int64?
            var unit = "kb"
            for e in entries {
                switch e.key {
                case "value": value = try int64(e.value, "\(name).value")
                case "unit": unit = try string(e.value, "\(name).unit") ?? "kb"
                default: throw fail(e.value, "unknown key '\(e.key)' in '\(name)'")
                }
            }
            guard let value, let kb = Size.kilobytes(value: value, unit: unit) else {
                throw fail(node, "expected a size for '\(name)'")
            }
            return Size(kilobytes: kb)
        case .sequence:
            throw fail(node, "expected a size for '\(name)'")
        }
    }

    func resources(_ node: YAMLNode?) throws(InfoFileError) -> Resources? {
        guard let entries = try mapping(node, "resources") else { return nil }
        var r = Resources()
        for e in entries {
            let v = e.value
            let n = "resources.\(e.key)"
            switch e.key {
            case "nnodes": r.nnodes = try int(v, n)
            case "ncpus": r.ncpus = try int(v, n)
            case "ncpus_per_node": r.ncpusPerNode = try int(v, n)
            case "mem": r.mem = try size(v, n)
            case "mem_per_node": r.memPerNode = try size(v, n)
            case "mem_per_cpu": r.memPerCPU = try size(v, n)
            case "ngpus": r.ngpus = try int(v, n)
            case "ngpus_per_node": r.ngpusPerNode = try int(v, n)
            case "walltime": r.walltime = try string(v, n)
            case "work_dir": r.workDir = try string(v, n)
            case "work_size": r.workSize = try size(v, n)
            case "work_size_per_node": r.workSizePerNode = try size(v, n)
            case "work_size_per_cpu": r.workSizePerCPU = try size(v, n)
            case "props":
                for p in try mapping(v, n) ?? [] {
                    guard let text = try string(p.value, "\(n).\(p.key)") else {
                        throw fail(p.value, "expected a string for '\(n).\(p.key)'")
                    }
                    r.props.append(KeyValue(p.key, text))
                }
            default:
                throw InfoFileError(path: path, line: doc.lineNumber(at: e.keyOffset),
                                    message: "unknown key '\(e.key)' in 'resources'")
            }
        }
        return r
    }

    func loopInfo(_ node: YAMLNode?) throws(InfoFileError) -> LoopInfo? {
        guard let node, let entries = try mapping(node, "loop_info") else { return nil }
        var start: Int?, end: Int?, current: Int?
        var archive: String?, format: String?
        var modes: [String] = []
        for e in entries {
            let n = "loop_info.\(e.key)"
            switch e.key {
            case "start": start = try int(e.value, n)
            case "end": end = try int(e.value, n)
            case "archive": archive = try string(e.value, n)
            case "archive_format": format = try string(e.value, n)
            case "current": current = try int(e.value, n)
            case "archive_mode": modes = try stringList(e.value, n) ?? []
            default:
                throw InfoFileError(path: path, line: doc.lineNumber(at: e.keyOffset),
                                    message: "unknown key '\(e.key)' in 'loop_info'")
            }
        }
        guard let start else { throw fail(node, "missing required field 'loop_info.start'") }
        guard let end else { throw fail(node, "missing required field 'loop_info.end'") }
        return LoopInfo(start: start, end: end, archive: archive, archiveFormat: format, current: current,
                        archiveMode: modes)
    }

    func stageIn(_ node: YAMLNode?) throws(InfoFileError) -> StageInStats? {
        guard let node, let entries = try mapping(node, "stage_in") else { return nil }
        var files: Int?, bytes: Int64?, seconds: Double?, streams: Int?
        for e in entries {
            switch e.key {
            case "files": files = try int(e.value, "stage_in.files")
            case "bytes": bytes = try int64(e.value, "stage_in.bytes")
            case "seconds": seconds = try double(e.value, "stage_in.seconds")
            case "streams": streams = try int(e.value, "stage_in.streams")
            default: Log.debug("Ignoring unknown key '\(e.key)' in 'stage_in' of '\(path)'.")
            }
        }
        guard let files, let bytes, let seconds else { throw fail(node, "expected files, bytes and seconds in 'stage_in'") }
        return StageInStats(files: files, bytes: bytes, seconds: seconds, streams: streams)
    }

    func syncStats(_ node: YAMLNode?) throws(InfoFileError) -> SyncStats? {
        guard let node, let entries = try mapping(node, "sync") else { return nil }
        var count: Int?, last: Timestamp?, files: Int?, bytes: Int64?, seconds: Double?, skipped = 0
        for e in entries {
            switch e.key {
            case "count": count = try int(e.value, "sync.count")
            case "last": last = try timestamp(e.value, "sync.last")
            case "files": files = try int(e.value, "sync.files")
            case "bytes": bytes = try int64(e.value, "sync.bytes")
            case "seconds": seconds = try double(e.value, "sync.seconds")
            case "skipped": skipped = try int(e.value, "sync.skipped") ?? 0
            default: Log.debug("Ignoring unknown key '\(e.key)' in 'sync' of '\(path)'.")
            }
        }
        guard let count, let last, let files, let bytes, let seconds else {
            throw fail(node, "expected count, last, files, bytes and seconds in 'sync'")
        }
        return SyncStats(count: count, last: last, files: files, bytes: bytes, seconds: seconds, skipped: skipped)
    }

    func progress(_ node: YAMLNode?) throws(InfoFileError) -> CopyProgressStats? {
        guard let node, let entries = try mapping(node, "progress") else { return nil }
        var phase: String?, files: Int?, filesTotal: Int?, bytes: Int64?, bytesTotal: Int64?, rate: Double?, started: Timestamp?
        for e in entries {
            switch e.key {
            case "phase": phase = try string(e.value, "progress.phase")
            case "files": files = try int(e.value, "progress.files")
            case "files_total": filesTotal = try int(e.value, "progress.files_total")
            case "bytes": bytes = try int64(e.value, "progress.bytes")
            case "bytes_total": bytesTotal = try int64(e.value, "progress.bytes_total")
            case "rate": rate = try double(e.value, "progress.rate")
            case "started": started = try timestamp(e.value, "progress.started")
            default: Log.debug("Ignoring unknown key '\(e.key)' in 'progress' of '\(path)'.")
            }
        }
        guard let phase, let files, let bytes, let rate, let started else {
            throw fail(node, "expected phase, files, bytes, rate and started in 'progress'")
        }
        return CopyProgressStats(phase: phase, files: files, filesTotal: filesTotal, bytes: bytes, bytesTotal: bytesTotal,
                                 rate: rate, started: started)
    }

    func stageOut(_ node: YAMLNode?) throws(InfoFileError) -> StageOutStats? {
        guard let node, let entries = try mapping(node, "stage_out") else { return nil }
        var mode: StageOutMode?
        var s = StageOutStats(mode: .transfer)
        for e in entries {
            let n = "stage_out.\(e.key)"
            switch e.key {
            case "mode": mode = try enumValue(e.value, n, StageOutMode.self)
            case "files": s.files = try int(e.value, n) ?? 0
            case "bytes": s.bytes = try int64(e.value, n) ?? 0
            case "seconds": s.seconds = try double(e.value, n) ?? 0
            case "errors": s.errors = try int(e.value, n) ?? 0
            case "deleted": s.deleted = try int(e.value, n) ?? 0
            case "kept": s.kept = try int(e.value, n) ?? 0
            case "not_copied": s.notCopied = try int(e.value, n) ?? 0
            case "not_copied_paths": s.notCopiedPaths = try stringList(e.value, n) ?? []
            case "streams": s.streams = try int(e.value, n)
            default: Log.debug("Ignoring unknown key '\(e.key)' in 'stage_out' of '\(path)'.")
            }
        }
        guard let mode else { throw fail(node, "missing 'mode' in 'stage_out'") }
        s.mode = mode
        return s
    }

    func usage(_ node: YAMLNode?) throws(InfoFileError) -> Usage? {
        guard let node, let entries = try mapping(node, "usage") else { return nil }
        var rss: Int64?, user: Double?, sys: Double?
        for e in entries {
            switch e.key {
            case "max_rss": rss = try int64(e.value, "usage.max_rss")
            case "user_cpu": user = try double(e.value, "usage.user_cpu")
            case "sys_cpu": sys = try double(e.value, "usage.sys_cpu")
            default: Log.debug("Ignoring unknown key '\(e.key)' in 'usage' of '\(path)'.")
            }
        }
        guard let rss, let user, let sys else { throw fail(node, "expected max_rss, user_cpu and sys_cpu in 'usage'") }
        return Usage(maxRSS: rss, userCPU: user, sysCPU: sys)
    }

    /// R28: an extension field that does not decode is dropped with a DEBUG line.
    func lenient<T>(_ node: YAMLNode?, _ name: String, _ decode: (YAMLNode) throws(InfoFileError) -> T?) -> T? {
        guard let node else { return nil }
        do {
            return try decode(node)
        } catch {
            Log.debug("Ignoring malformed field '\(name)': \(error.description)")
            return nil
        }
    }
}

/// R35: `[-+]?[0-9]+`.
func isInteger(_ text: String) -> Bool {
    var u = Substring(text).utf8[...]
    if let f = u.first, f == UInt8(ascii: "-") || f == UInt8(ascii: "+") { u = u.dropFirst() }
    return !u.isEmpty && u.allSatisfy { $0 >= 48 && $0 <= 57 }
}

/// R35: `[-+]?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?`.
func isFloat(_ text: String) -> Bool {
    let u = Array(text.utf8)
    var i = 0
    func digits() -> Int {
        let s = i
        while i < u.count, u[i] >= 48, u[i] <= 57 { i += 1 }
        return i - s
    }
    if i < u.count, u[i] == UInt8(ascii: "-") || u[i] == UInt8(ascii: "+") { i += 1 }
    guard digits() > 0 else { return false }
    if i < u.count, u[i] == UInt8(ascii: ".") { i += 1; _ = digits() }
    if i < u.count, u[i] == UInt8(ascii: "e") || u[i] == UInt8(ascii: "E") {
        i += 1
        if i < u.count, u[i] == UInt8(ascii: "-") || u[i] == UInt8(ascii: "+") { i += 1 }
        guard digits() > 0 else { return false }
    }
    return i == u.count
}
