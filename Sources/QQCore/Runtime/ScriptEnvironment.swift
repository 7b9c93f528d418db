/// The script's environment (R91): qq-run's own plus the `QQ_*` variables, mirroring clusterjob's.
enum ScriptEnvironment {
    static func build(base: Environment, record: InfoRecord, infoPath: String, workDir: String,
                      walltimeSeconds: Int?, inheritedInfoIgnored: Bool) -> Environment {
        var env = base
        func keepOrSet(_ name: String, _ value: String) {
            if inheritedInfoIgnored || env.nonEmpty(name) == nil { env[name] = value }
        }
        if env.nonEmpty("QQ_ENV_SET") == nil || inheritedInfoIgnored { env["QQ_ENV_SET"] = "true" }
        env["QQ_INFO"] = infoPath
        env["QQ_BATCH_SYSTEM"] = record.batchSystem.rawValue
        env["QQ_JOB_ID"] = record.jobID
        env["QQ_JOB_NAME"] = record.jobName
        keepOrSet("QQ_INPUT_DIR", record.inputDir)
        keepOrSet("QQ_INPUT_MACHINE", record.inputMachine)
        env["QQ_WORK_DIR"] = workDir
        let r = record.resources
        let nnodes = r.nnodes ?? 1
        keepOrSet("QQ_NNODES", String(nnodes))
        keepOrSet("QQ_NCPUS", String(r.ncpus ?? r.ncpusPerNode.map { $0 * nnodes } ?? 1))
        keepOrSet("QQ_NGPUS", String(r.ngpus ?? r.ngpusPerNode.map { $0 * nnodes } ?? 0))
        let walltime = walltimeSeconds ?? r.walltime.flatMap(parseWalltime)
        if let w = walltime {
            keepOrSet("QQ_WALLTIME", pythonFloat(Double(w) / 3600))
        } else if inheritedInfoIgnored {
            env["QQ_WALLTIME"] = nil
        }
        env["QQ_NODELIST"] = record.allNodes.joined(separator: " ")
        if let task = record.arrayTaskID { env["QQ_ARRAY_INDEX"] = task } else { env["QQ_ARRAY_INDEX"] = nil }
        for (name, value) in LoopJob.scriptVariables(record: record) { env[name] = value }
        env["PWD"] = workDir
        return env
    }

    /// A float as Python prints it: shortest round-trip form with at least one decimal (`48.0`).
    static func pythonFloat(_ v: Double) -> String {
        let s = "\(v)"
        return s.contains(".") || s.contains("e") ? s : s + ".0"
    }
}
