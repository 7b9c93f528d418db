// The state-file writer (R29–R33) and the marker writer (R45): qq's field order, every string
// quoted so that a YAML 1.1 reader keeps it a string, integers/booleans bare, floats per §4.6.

/// Builds the YAML text line by line.
struct YAMLWriter {
    private(set) var text = ""

    init(header: String) {
        text.reserveCapacity(2048)
        text += header
        text += "\n"
    }

    private mutating func key(_ key: String, indent: Int) {
        if indent > 0 { text += String(repeating: " ", count: indent) }
        text += Self.formatKey(key)
        text += ":"
    }

    mutating func string(_ name: String, _ value: String?, indent: Int = 0) {
        guard let value else { return }
        key(name, indent: indent)
        text += " "
        text += Self.quote(value)
        text += "\n"
    }

    mutating func int<I: BinaryInteger>(_ name: String, _ value: I?, indent: Int = 0) {
        guard let value else { return }
        key(name, indent: indent)
        text += " \(value)\n"
    }

    mutating func double(_ name: String, _ value: Double?, indent: Int = 0) {
        guard let value else { return }
        key(name, indent: indent)
        text += " "
        text += Self.formatFloat(value)
        text += "\n"
    }

    mutating func bool(_ name: String, _ value: Bool?, indent: Int = 0) {
        guard let value else { return }
        key(name, indent: indent)
        text += value ? " true\n" : " false\n"
    }

    mutating func timestamp(_ name: String, _ value: Timestamp?, indent: Int = 0) {
        string(name, value?.description, indent: indent)
    }

    /// R31: items at the key's own indentation. Empty lists are omitted (R30).
    mutating func list(_ name: String, _ items: [String], indent: Int = 0) {
        guard !items.isEmpty else { return }
        mapping(name, indent: indent)
        let pad = String(repeating: " ", count: indent)
        for item in items {
            text += pad
            text += "- "
            text += Self.quote(item)
            text += "\n"
        }
    }

    /// A key whose block value follows on the next lines.
    mutating func mapping(_ name: String, indent: Int = 0) {
        key(name, indent: indent)
        text += "\n"
    }

    /// An empty mapping on one line, `resources: {}`.
    mutating func emptyMapping(_ name: String, indent: Int = 0) {
        key(name, indent: indent)
        text += " {}\n"
    }

    /// `key: []`, for a list whose emptiness carries meaning.
    mutating func emptyList(_ name: String, indent: Int = 0) {
        key(name, indent: indent)
        text += " []\n"
    }

    /// R24: a Size as `value: <kB>` one level down.
    mutating func size(_ name: String, _ value: Size?, indent: Int) {
        guard let value else { return }
        mapping(name, indent: indent)
        int("value", value.kilobytes, indent: indent + 2)
    }

    mutating func raw(_ text: String) {
        self.text += text
        if !text.hasSuffix("\n") { self.text += "\n" }
    }

    mutating func endFile(blankLine: Bool) {
        if blankLine { text += "\n" }
    }

    // MARK: - Scalars

    /// R31: bare when `[a-z_][a-z0-9_]*` and not a YAML 1.1 bool/null word; else quoted.
    static func formatKey(_ key: String) -> String {
        var bare = !key.isEmpty
        var first = true
        for c in key.utf8 {
            let ok = (c >= 97 && c <= 122) || c == 95 || (!first && c >= 48 && c <= 57)
            if !ok { bare = false; break }
            first = false
        }
        if bare {
            switch key {
            case "y", "n", "yes", "no", "on", "off", "true", "false", "null": bare = false
            default: break
            }
        }
        return bare ? key : quote(key)
    }

    /// R32: outside YAML's printable set — line breaks (incl. NEL, LS, PS), tab, C0, DEL, C1,
    /// BOM, U+FFFE, U+FFFF.
    static func needsEscape(_ v: UInt32) -> Bool {
        v < 0x20 || (v >= 0x7F && v <= 0x9F) || v == 0x2028 || v == 0x2029 || v == 0xFEFF || v == 0xFFFE || v == 0xFFFF
    }

    /// R32: single quotes with `'` doubled; double quotes with escapes when a character is not
    /// printable. Never folded.
    static func quote(_ s: String) -> String {
        if !s.unicodeScalars.contains(where: { needsEscape($0.value) }) {
            var out = "'"
            for ch in s.unicodeScalars {
                if ch == "'" { out += "''" } else { out.unicodeScalars.append(ch) }
            }
            out += "'"
            return out
        }
        var out = "\""
        for ch in s.unicodeScalars {
            let v = ch.value
            switch v {
            case 0: out += "\\0"
            case 9: out += "\\t"
            case 10: out += "\\n"
            case 13: out += "\\r"
            case 34: out += "\\\""
            case 92: out += "\\\\"
            default:
                if needsEscape(v) {
                    out += v <= 0xFF ? "\\x" + hex(v, digits: 2) : "\\u" + hex(v, digits: 4)
                } else {
                    out.unicodeScalars.append(ch)
                }
            }
        }
        out += "\""
        return out
    }

    private static func hex(_ v: UInt32, digits: Int) -> String {
        var s = String(v, radix: 16, uppercase: true)
        while s.count < digits { s = "0" + s }
        return s
    }

    /// §4.6: at least one digit after the point, at most 3 decimals (`1.84`, `12.0`).
    static func formatFloat(_ x: Double) -> String {
        guard x.isFinite else { return "0.0" }
        let scaled = (x.magnitude * 1000).rounded()
        if scaled < 9.0e15 {
            let n = Int64(scaled)
            if n == 0 { return "0.0" }
            var frac = String(n % 1000)
            while frac.count < 3 { frac = "0" + frac }
            while frac.count > 1, frac.hasSuffix("0") { frac.removeLast() }
            return (x < 0 ? "-" : "") + "\(n / 1000).\(frac)"
        }
        // Huge values: Swift's shortest form, with a point so YAML 1.1 reads a float.
        var s = "\(x)"
        if !s.contains("."), let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            s.insert(contentsOf: ".0", at: e)
        } else if !s.contains(".") {
            s += ".0"
        }
        if let e = s.firstIndex(of: "e"), s.index(after: e) < s.endIndex, s[s.index(after: e)] != "-",
           s[s.index(after: e)] != "+" {
            s.insert("+", at: s.index(after: e))
        }
        return s
    }
}

extension InfoFileCodec {
    static func encodeInfo(_ r: InfoRecord) -> String {
        var w = YAMLWriter(header: "# qq job info file")
        // §4.2, in table order.
        w.string("batch_system", r.batchSystem.rawValue)
        w.string("qq_version", r.qqVersion)
        w.string("username", r.username)
        w.string("job_id", r.jobID)
        w.string("job_name", r.jobName)
        w.string("script_name", r.scriptName)
        w.string("queue", r.queue)
        w.string("job_type", r.jobType.text)
        w.string("input_machine", r.inputMachine)
        w.string("input_dir", r.inputDir)
        w.string("job_state", r.jobState.rawValue)
        w.timestamp("submission_time", r.submissionTime)
        w.string("stdout_file", r.stdoutFile)
        w.string("stderr_file", r.stderrFile)
        writeResources(r.resources, into: &w)
        w.list("excluded_files", r.excludedFiles)
        w.list("included_files", r.includedFiles)
        if let modes = r.transferMode {
            // An explicitly empty policy means "never transfer", unlike an absent one ([success]),
            // so it is kept as `[]` rather than omitted.
            if modes.isEmpty { w.emptyList("transfer_mode") } else { w.list("transfer_mode", modes) }
        }
        w.list("depend", r.depend)
        if let loop = r.loopInfo {
            w.mapping("loop_info")
            w.int("start", loop.start, indent: 2)
            w.int("end", loop.end, indent: 2)
            w.string("archive", loop.archive, indent: 2)
            w.string("archive_format", loop.archiveFormat, indent: 2)
            w.int("current", loop.current, indent: 2)
            w.list("archive_mode", loop.archiveMode, indent: 2)
        }
        w.string("account", r.account)
        w.string("server", r.server)
        w.string("interpreter", r.interpreter)
        w.timestamp("start_time", r.startTime)
        w.string("main_node", r.mainNode)
        w.list("all_nodes", r.allNodes)
        w.string("work_dir", r.workDir)
        w.timestamp("completion_time", r.completionTime)
        w.int("job_exit_code", r.jobExitCode)

        // §4.5, in table order.
        w.string("runner", r.runner)
        w.int("runner_pid", r.runnerPID)
        w.string("cluster", r.cluster)
        w.string("pid_ns", r.pidNamespace)
        w.string("phase", r.phase?.rawValue)
        w.timestamp("heartbeat", r.heartbeat)
        w.int("heartbeat_interval", r.heartbeatInterval)
        w.int("restarts", r.restarts)
        w.string("array_job_id", r.arrayJobID)
        w.string("array_task_id", r.arrayTaskID)
        w.string("kill_reason", r.killReason?.rawValue)
        w.int("script_exit_code", r.scriptExitCode)
        w.string("error", r.error)
        w.list("signals", r.signals)
        if let s = r.stageIn {
            w.mapping("stage_in")
            w.int("files", s.files, indent: 2)
            w.int("bytes", s.bytes, indent: 2)
            w.double("seconds", s.seconds, indent: 2)
            w.int("streams", s.streams, indent: 2)
        }
        if let s = r.stageOut {
            w.mapping("stage_out")
            w.string("mode", s.mode.rawValue, indent: 2)
            w.int("files", s.files, indent: 2)
            w.int("bytes", s.bytes, indent: 2)
            w.double("seconds", s.seconds, indent: 2)
            if s.errors != 0 { w.int("errors", s.errors, indent: 2) }
            if s.deleted != 0 { w.int("deleted", s.deleted, indent: 2) }
            if s.kept != 0 { w.int("kept", s.kept, indent: 2) }
            if s.notCopied != 0 { w.int("not_copied", s.notCopied, indent: 2) }
            w.list("not_copied_paths", s.notCopiedPaths, indent: 2)
            w.int("streams", s.streams, indent: 2)
        }
        if let u = r.usage {
            w.mapping("usage")
            w.int("max_rss", u.maxRSS, indent: 2)
            w.double("user_cpu", u.userCPU, indent: 2)
            w.double("sys_cpu", u.sysCPU, indent: 2)
        }
        if let s = r.sync {
            w.mapping("sync")
            w.int("count", s.count, indent: 2)
            w.timestamp("last", s.last, indent: 2)
            w.int("files", s.files, indent: 2)
            w.int("bytes", s.bytes, indent: 2)
            w.double("seconds", s.seconds, indent: 2)
            w.int("skipped", s.skipped, indent: 2)
        }
        if let p = r.progress {
            w.mapping("progress")
            w.string("phase", p.phase, indent: 2)
            w.int("files", p.files, indent: 2)
            w.int("files_total", p.filesTotal, indent: 2)
            w.int("bytes", p.bytes, indent: 2)
            w.int("bytes_total", p.bytesTotal, indent: 2)
            w.double("rate", p.rate, indent: 2)
            w.timestamp("started", p.started, indent: 2)
        }
        w.bool("synchronized", r.synchronized)
        w.timestamp("wiped", r.wiped)
        w.string("next_job_id", r.nextJobID)
        w.string("resubmit_error", r.resubmitError)
        w.string("env_script", r.envScript)
        w.list("env", r.envVariables)
        w.string("container", r.container)
        w.list("container_mounts", r.containerMounts)
        w.string("prologue", r.prologue)
        w.int("prologue_exit_code", r.prologueExitCode)
        w.string("epilogue", r.epilogue)
        w.int("epilogue_exit_code", r.epilogueExitCode)

        // Unknown keys, verbatim, in their original order (R29).
        for e in r.unknownEntries { w.raw(e.text) }
        w.endFile(blankLine: true)
        return w.text
    }

    private static func writeResources(_ res: Resources, into w: inout YAMLWriter) {
        if res == Resources() {
            w.emptyMapping("resources")
            return
        }
        w.mapping("resources")
        w.int("nnodes", res.nnodes, indent: 2)
        w.int("ncpus", res.ncpus, indent: 2)
        w.int("ncpus_per_node", res.ncpusPerNode, indent: 2)
        w.size("mem", res.mem, indent: 2)
        w.size("mem_per_node", res.memPerNode, indent: 2)
        w.size("mem_per_cpu", res.memPerCPU, indent: 2)
        w.int("ngpus", res.ngpus, indent: 2)
        w.int("ngpus_per_node", res.ngpusPerNode, indent: 2)
        w.string("walltime", res.walltime, indent: 2)
        w.string("work_dir", res.workDir, indent: 2)
        w.size("work_size", res.workSize, indent: 2)
        w.size("work_size_per_node", res.workSizePerNode, indent: 2)
        w.size("work_size_per_cpu", res.workSizePerCPU, indent: 2)
        if !res.props.isEmpty {
            w.mapping("props", indent: 2)
            for p in res.props { w.string(p.key, p.value, indent: 4) }
        }
    }

    static func encodeMarkerText(_ m: WorkDirMarker) -> String {
        var w = YAMLWriter(header: "# qq-run work directory marker")
        w.string("job_id", m.jobID)
        w.string("info_file", m.infoFile)
        w.string("input_dir", m.inputDir)
        w.string("batch_system", m.batchSystem.rawValue)
        w.string("cluster", m.cluster)
        w.string("pid_ns", m.pidNamespace)
        w.string("main_node", m.mainNode)
        w.timestamp("created", m.created)
        w.string("runner", m.runner)
        // The marker ends in a single newline (R45's example); only info files carry qq's blank line.
        w.endFile(blankLine: false)
        return w.text
    }
}
