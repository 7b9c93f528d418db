/// The settings of §14: every one has an environment variable, which wins over the config file
/// (`qq_run.<name>`, then qq's own per-system keys), which wins over the default (R144–R146).
/// Invalid values log a WARNING and fall back to the default.
package struct Settings: Sendable {
    package var scratchRoot: String?
    package var flashRoot: String?
    package var scratchAttempts = 3
    /// R135: extra known scratch roots for qq-wipe (`QQ_WIPE_ROOTS`, colon-separated, absolute).
    package var wipeRoots: [String] = []
    package var heartbeatInterval = 60
    package var killGrace = 10.0
    /// The scheduler's KillWait when given (`QQ_KILL_WAIT`); otherwise learned (R111).
    package var killWait: Double?
    package var rescue = true
    package var rescueBudget: Double?
    package var forwardSignalsToGroup = false
    package var retryAttempts = 8
    package var retryInitialDelay = 1.0
    package var retryMaxDelay = 60.0
    package var retryTotal = 300.0
    package var batchTimeout = 10.0
    package var copyStreams: Int?
    package var verifyChecksum = false
    package var useSacct = false
    package var clockSkew = 60.0
    package var fallbackRunner: String?
    package var defaultInterpreter = "bash"
    package var defaultTransferMode = "success"
    /// The shortest periodic-sync interval (issue 12): 60 s. `QQ_SYNC_MINIMUM` lowers it for tests
    /// only; a real job gains nothing from syncing more often than once a minute.
    package var syncMinimum = 60.0
    /// How often a long copy's progress is written into the state file (issue 12 item 5): 5 s.
    /// `QQ_PROGRESS_INTERVAL` changes it for tests only.
    package var progressInterval = 5.0

    package init() {}

    /// Reads the environment and the config file (R145) for `system` (for its per-system keys).
    package static func load(environment env: Environment, system: BatchSystemName? = nil,
                            workingDirectory: String? = nil) -> Settings {
        let config = ConfigFile.find(environment: env, workingDirectory: workingDirectory)
        var s = Settings()
        /// The value and where it came from, for a WARNING the user can act on.
        func lookup(_ name: String) -> (text: String, origin: String)? {
            if let v = env.nonEmpty("QQ_" + name.uppercased()) { return (v, "QQ_" + name.uppercased()) }
            guard let config, let v = config.value(table: "qq_run", key: name) else { return nil }
            return (v, "qq_run.\(name) in '\(config.path)'")
        }
        func value(_ name: String) -> String? { lookup(name)?.text }
        func invalid(_ name: String, _ expected: String, _ fallback: String) {
            guard let (text, origin) = lookup(name) else { return }
            Log.warningOnce("Invalid value '\(text)' for \(origin) (expected \(expected)); using the default \(fallback).")
        }
        func number(_ name: String, _ current: Double) -> Double {
            guard let text = value(name) else { return current }
            guard let v = Double(text.trimmingBlanks), v >= 0, v.isFinite else {
                invalid(name, "a number of seconds ≥ 0", formatSeconds(current))
                return current
            }
            return v
        }
        func integer(_ name: String, _ current: Int, minimum: Int = 0) -> Int {
            guard let text = value(name) else { return current }
            guard let v = Int(text.trimmingBlanks), v >= minimum else {
                invalid(name, "a whole number ≥ \(minimum)", String(current))
                return current
            }
            return v
        }
        func flag(_ name: String, _ current: Bool) -> Bool {
            guard let text = value(name) else { return current }
            guard let b = parseBoolean(text) else {
                invalid(name, "true or false", String(current))
                return current
            }
            return b
        }
        func choice(_ name: String, _ allowed: [String], _ fallback: String) -> String {
            guard let text = value(name)?.trimmingBlanks.lowercased() else { return fallback }
            guard allowed.contains(text) else {
                invalid(name, allowed.map { "'\($0)'" }.joined(separator: " or "), "'\(fallback)'")
                return fallback
            }
            return text
        }
        s.scratchRoot = value("scratch_root")
        s.flashRoot = value("flash_root")
        if let system, let perSystem = config?.value(table: system == .slurmIT4I ? "slurm_it4i_options" : system == .slurmLumi ? "slurm_lumi_options" : "", key: "scratch_dir_attempts"), let n = Int(perSystem), n > 0 {
            s.scratchAttempts = n
        }
        s.scratchAttempts = integer("scratch_attempts", s.scratchAttempts, minimum: 1)
        // Relative entries are ignored: a root must not depend on where the tool is started.
        s.wipeRoots = (value("wipe_roots") ?? "").split(separator: ":").map(String.init)
            .filter { $0.hasPrefix("/") }.map { FileSystem.normalizeLexically($0) }
        s.heartbeatInterval = integer("heartbeat_interval", s.heartbeatInterval)
        s.killGrace = number("kill_grace", s.killGrace)
        if value("kill_wait") != nil { s.killWait = number("kill_wait", 30) }
        s.rescue = flag("rescue", s.rescue)
        if value("rescue_budget") != nil { s.rescueBudget = number("rescue_budget", 60) }
        s.forwardSignalsToGroup = choice("forward_signals_to", ["main", "group"], "main") == "group"
        s.retryAttempts = integer("retry_attempts", s.retryAttempts, minimum: 1)
        s.retryInitialDelay = number("retry_initial_delay", s.retryInitialDelay)
        s.retryMaxDelay = number("retry_max_delay", s.retryMaxDelay)
        s.retryTotal = number("retry_total", s.retryTotal)
        // R57: a timeout of 0 would fail every query at once, so it must be positive.
        if let text = value("batch_timeout") {
            if let v = Double(text.trimmingBlanks), v > 0, v.isFinite { s.batchTimeout = v }
            else { invalid("batch_timeout", "a number of seconds > 0", formatSeconds(s.batchTimeout)) }
        }
        if let text = value("copy_streams") {
            if let n = Int(text.trimmingBlanks), n >= 1 {
                s.copyStreams = n
            } else {
                invalid("copy_streams", "a whole number ≥ 1", "of streams adapted to the file systems")
            }
        }
        s.verifyChecksum = choice("verify", ["size", "checksum"], "size") == "checksum"
        s.useSacct = flag("use_sacct", s.useSacct)
        s.clockSkew = number("clock_skew", s.clockSkew)
        s.fallbackRunner = value("fallback_runner")
        s.syncMinimum = number("sync_minimum", s.syncMinimum)
        s.progressInterval = number("progress_interval", s.progressInterval)
        if let i = config?.value(table: "runner", key: "default_interpreter"), !i.isEmpty { s.defaultInterpreter = i }
        if let t = config?.value(table: "transfer_files_options", key: "default_transfer_mode"), !t.isEmpty {
            s.defaultTransferMode = t
        }
        return s
    }
}

/// `true`, `yes`, `on`, `1` / `false`, `no`, `off`, `0`, case-insensitive (R79).
package func parseBoolean(_ text: String) -> Bool? {
    switch text.trimmingBlanks.lowercased() {
    case "true", "yes", "on", "1": return true
    case "false", "no", "off", "0": return false
    default: return nil
    }
}

/// The config file (R145): a TOML subset of `[table]` headers and `key = value` lines with strings,
/// integers and booleans. Anything else is ignored; a file that cannot be read logs a WARNING.
package struct ConfigFile: Sendable {
    package var path: String
    /// "table.key" → value as text.
    package var values: [String: String]

    package func value(table: String, key: String) -> String? { values[table + "." + key] }

    package static func find(environment env: Environment, workingDirectory: String?) -> ConfigFile? {
        var candidates: [String] = []
        if let c = env.nonEmpty("QQ_CONFIG") { candidates.append(c) }
        candidates.append((workingDirectory ?? FileSystem.currentDirectory()) + "/qq_config.toml")
        if let xdg = env.nonEmpty("XDG_CONFIG_HOME") {
            candidates.append(xdg + "/qq/config.toml")
        } else if let home = env.nonEmpty("HOME") {
            candidates.append(home + "/.config/qq/config.toml")
        }
        for path in candidates where FileSystem.stat(path) != nil {
            do {
                return ConfigFile(path: path, values: parse(try FileSystem.readSmallFile(path)))
            } catch {
                Log.warning("Cannot read the config file '\(path)': \(error.reason); using the defaults.")
                return nil
            }
        }
        return nil
    }

    static func parse(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        var table = ""
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingBlanks
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") {
                guard let close = line.firstIndex(of: "]"), !line.hasPrefix("[[") else { continue }
                table = line[line.index(after: line.startIndex)..<close].trimmingBlanks
                continue
            }
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingBlanks
            var value = line[line.index(after: eq)...].trimmingBlanks
            if let q = value.first, q == "\"" || q == "'" {
                guard let end = value.dropFirst().firstIndex(of: q) else { continue }
                value = String(value[value.index(after: value.startIndex)..<end])
            } else if let hash = value.firstIndex(of: "#") {
                value = value[..<hash].trimmingBlanks
            }
            values[table.isEmpty ? key : table + "." + key] = value
        }
        return values
    }
}
