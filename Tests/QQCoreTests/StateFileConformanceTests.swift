import Glibc
import Testing
@testable import QQCore

// R148 conformance on the reference fixtures, and R149's "YAML 1.1 check" (scenarios 1, 16, 17a):
// a YAML 1.1 reader (Debian's PyYAML) loads the writer's output and every string stays a string.

private typealias S = StateFileTestSupport

// Skipped unless `<repo>/../shared/fixtures/qqinfo` exists (as in CI); tests read nothing else
// outside the repository (R148).
@Test(.enabled(if: StateFileTestSupport.isDirectory(StateFileTestSupport.sharedFixturesDir),
               "reference fixtures ../shared/fixtures/qqinfo not present"))
func referenceFixturesParseAndRoundTrip() throws {
    let files = S.files(under: S.sharedFixturesDir, suffix: ".qqinfo")
    #expect(!files.isEmpty)
    var records: [(String, InfoRecord)] = []
    for path in files {
        let bytes = S.readBytes(path)
        if bytes.isEmpty {
            // A capture taken between a Python writer's truncate and its write (a torn read,
            // R37): it must read as invalid, which is what triggers the retries.
            #expect(throws: InfoFileError.self, "\(path)") { try InfoFileCodec.decode(bytes: bytes, path: path) }
            continue
        }
        let record = try InfoFileCodec.decode(bytes: bytes, path: path)
        #expect(try InfoFileCodec.decode(InfoFileCodec.encode(record), path: path) == record, "\(path)")
        records.append((path, record))
    }
    if S.pyYAMLAvailable {
        for problem in yaml11Problems(records) { Issue.record("\(problem)") }
    }
}

// Needs /usr/bin/python3 with PyYAML (Debian's python3-yaml). Skipped without it, unless
// QQ_TEST_FULL=1 (CI), where a missing PyYAML fails the test.
@Test(.enabled(if: StateFileTestSupport.pyYAMLAvailable || StateFileTestSupport.fullTestRun,
               "/usr/bin/python3 with PyYAML not available"))
func writerOutputKeepsEveryStringAStringForYAML11() throws {
    try #require(S.pyYAMLAvailable, "QQ_TEST_FULL=1, but /usr/bin/python3 cannot import yaml")
    var records: [(String, InfoRecord)] = [("sample", sampleRecord()), ("nasty strings", nastyRecord())]
    for path in S.fixtures() {
        records.append((path, try InfoFileCodec.decode(bytes: S.readBytes(path), path: path)))
    }
    let problems = yaml11Problems(records)
    for problem in problems { Issue.record("\(problem)") }
    #expect(problems.isEmpty)
}

// R34: the reader accepts what PyYAML emits. PyYAML's own dumpers (pure Python, and libyaml when
// present) write qq-style mappings with tricky strings at narrow widths, so that long strings fold
// and non-ASCII is escaped; the reader must agree with PyYAML's reading of every value.
@Test(.enabled(if: StateFileTestSupport.pyYAMLAvailable || StateFileTestSupport.fullTestRun,
               "/usr/bin/python3 with PyYAML not available"))
func readerAgreesWithPyYAMLOnPyYAMLOutput() throws {
    try #require(S.pyYAMLAvailable, "QQ_TEST_FULL=1, but /usr/bin/python3 cannot import yaml")
    let dir = S.makeTempDir()
    defer { S.removeTree(dir) }
    let dumped = try #require(S.run(["/usr/bin/python3", "-c", pythonDumper, dir], stdoutPath: dir + "/dumped.txt"))
    #expect(dumped.status == 0)
    let files = dumped.output.split(separator: "\n").map(String.init)
    #expect(files.count >= 12)
    var records: [(String, InfoRecord)] = []
    for path in files {
        records.append((path, try InfoFileCodec.decode(bytes: S.readBytes(path), path: path)))
    }
    // Everything PyYAML dumped was a str or an int, so its reading is the reference.
    let problems = yaml11Problems(records, writeWithEncoder: false)
    for problem in problems { Issue.record("\(problem)") }
    #expect(problems.isEmpty)
}

private let pythonDumper = """
    import sys, yaml
    out = sys.argv[1]
    tricky = ['/users/jdoe/' + 'very long path with spaces ' * 6 + 'end',
              '/storage/jdoe/velmi_dlouhý_název_adresáře/' + 'ýá' * 30,
              'emoji 😀 and \\u00e9 é and tab\\tinside and\\nnewline', ' lead and trail ',
              "it's \\"quoted\\" # not a comment: - x", '', '~', 'null', 'yes', '0123', '48:00:00',
              '0:30:00', '2025-03-14 09:00:00', '1e3', 'a' * 200, 'x\\x85y\\u2028z', 'word ' * 40]
    def record(i, s):
        return {
            'batch_system': 'Slurm', 'qq_version': '0.10.1', 'username': 'jdoe',
            'job_id': ['2345678', '1234567.pbs-m1.example.org', s][i % 3],
            'job_name': 'run.sh', 'script_name': 'run ý.sh', 'queue': s, 'job_type': 'standard',
            'input_machine': s, 'input_dir': s, 'job_state': 'running',
            'submission_time': '2025-03-14 09:26:53', 'stdout_file': 'run.out', 'stderr_file': 'run.err',
            'resources': {} if i % 2 else {'nnodes': 2, 'mem': {'value': 1048576}, 'walltime': s,
                                           'work_dir': 'scratch', 'props': {'yes': 'true', 'cl-x': s}},
            'excluded_files': [s, '/users/jdoe/x'], 'transfer_mode': ['success', '42', s],
            'account': s, 'start_time': '2025-03-14 09:30:00', 'main_node': s, 'all_nodes': [s, 'n2'],
            'work_dir': s, 'job_exit_code': 0, 'error': s, 'signals': [s],
        }
    dumpers = [yaml.Dumper] + ([yaml.CDumper] if hasattr(yaml, 'CDumper') else [])
    n = 0
    for d in dumpers:
        for width in (None, 20):
            for i, s in enumerate(tricky):
                path = '%s/%d.qqinfo' % (out, n); n += 1
                with open(path, 'w', encoding='utf-8') as f:
                    f.write('# qq job info file\\n')
                    yaml.dump(record(i, s), f, Dumper=d, default_flow_style=False, sort_keys=False, width=width)
                    f.write('\\n')
                print(path)
    """

/// Strings a YAML 1.1 reader would turn into something else if they were not quoted.
private func nastyRecord() -> InfoRecord {
    var r = InfoRecord(batchSystem: .slurmLumi, qqVersion: "", username: "~", jobID: "0123",
                       jobName: "yes", scriptName: "on", queue: "true", jobType: .other("No"),
                       inputMachine: "null", inputDir: "/users/jdoe/dlouhý název/it's", jobState: .unknown,
                       submissionTime: Timestamp(year: 2025, month: 3, day: 14, hour: 9, minute: 0, second: 0),
                       stdoutFile: "2025-03-14", stderrFile: "1e3",
                       resources: Resources(walltime: "48:00:00", workDir: "0x1F",
                                            props: [KeyValue("yes", "true"), KeyValue("No", "false"),
                                                    KeyValue("null", "~"), KeyValue("a-b", "1_000"),
                                                    KeyValue("Key", ".inf"), KeyValue("x", "0o17")]))
    r.excludedFiles = ["/users/jdoe/#hash", "- dash", "[x]", "{y}", "a: b", "*star", "&amp", "!tag", "|", ">", "%", "@", "`"]
    r.includedFiles = ["'quoted'", "\"dq\"", " lead", "trail ", "\\back"]
    r.transferMode = ["42", "-1", "success", "+7", "0777"]
    r.depend = ["afterok=1:2:3", "after=11:12"]
    r.account = "it's"
    r.server = "1:30"
    r.interpreter = "3.10"
    r.mainNode = "Off"
    r.allNodes = ["1", "1.5", "-.5", "0b101", "12:34:56", ".NaN", "=", "<<"]
    r.workDir = "2025-03-14 09:26:53"
    r.jobExitCode = -3
    r.runner = "a\nb\tc"
    r.cluster = "\u{85}\u{2028}\u{FEFF}x\u{7F}"
    r.pidNamespace = "\0"
    r.arrayJobID = "3"
    r.arrayTaskID = "007"
    r.error = "line one\nline two\ttabbed, it's \"quoted\" and ünïcødé 😀" + String(repeating: " long", count: 40)
    r.signals = ["USR1 2025-03-14 09:36:30"]
    r.loopInfo = LoopInfo(start: 0, end: 5, archive: "yes", archiveFormat: "md%04d", current: 2, archiveMode: ["0", "never"])
    r.stageOut = StageOutStats(mode: .logsOnly, files: 0, bytes: 0, seconds: 0, notCopiedPaths: ["no", "traj/big.xtc"])
    r.usage = Usage(maxRSS: 0, userCPU: 1e-5, sysCPU: 123456.789)
    r.synchronized = false
    r.wiped = Timestamp(year: 2025, month: 12, day: 31, hour: 23, minute: 59, second: 59)
    return r
}

/// What a YAML 1.1 loader must return for a record: path → (Python type, value).
private struct Leaf: Equatable, CustomStringConvertible {
    var type: String
    var text: String
    var number: Double? = nil

    static func == (a: Leaf, b: Leaf) -> Bool {
        guard a.type == b.type else { return false }
        if let x = a.number ?? Double(a.text), let y = b.number ?? Double(b.text), a.type == "float" {
            return abs(x - y) <= 1e-9 * max(1, abs(x))
        }
        return a.text == b.text
    }

    var description: String { "\(type) \(number.map { "\($0)" } ?? text.debugDescription)" }
}

private func expectedLeaves(_ r: InfoRecord) -> [String: Leaf] {
    var out: [String: Leaf] = [:]
    func key(_ p: [String]) -> String { p.joined(separator: "\u{1}") }
    func str(_ p: [String], _ v: String?) { if let v { out[key(p)] = Leaf(type: "str", text: v) } }
    func int<I: BinaryInteger>(_ p: [String], _ v: I?) { if let v { out[key(p)] = Leaf(type: "int", text: "\(v)") } }
    func float(_ p: [String], _ v: Double?) {
        // §4.6: written with at most 3 decimals.
        if let v { out[key(p)] = Leaf(type: "float", text: "", number: (v * 1000).rounded() / 1000) }
    }
    func bool(_ p: [String], _ v: Bool?) { if let v { out[key(p)] = Leaf(type: "bool", text: v ? "True" : "False") } }
    func list(_ p: [String], _ v: [String]?) { for (i, x) in (v ?? []).enumerated() { str(p + ["\(i)"], x) } }
    func size(_ p: [String], _ v: Size?) { if let v { int(p + ["value"], v.kilobytes) } }
    func time(_ p: [String], _ v: Timestamp?) { str(p, v?.description) }

    str(["batch_system"], r.batchSystem.rawValue)
    str(["qq_version"], r.qqVersion)
    str(["username"], r.username)
    str(["job_id"], r.jobID)
    str(["job_name"], r.jobName)
    str(["script_name"], r.scriptName)
    str(["queue"], r.queue)
    str(["job_type"], r.jobType.text)
    str(["input_machine"], r.inputMachine)
    str(["input_dir"], r.inputDir)
    str(["job_state"], r.jobState.rawValue)
    time(["submission_time"], r.submissionTime)
    str(["stdout_file"], r.stdoutFile)
    str(["stderr_file"], r.stderrFile)
    let res = r.resources
    int(["resources", "nnodes"], res.nnodes)
    int(["resources", "ncpus"], res.ncpus)
    int(["resources", "ncpus_per_node"], res.ncpusPerNode)
    size(["resources", "mem"], res.mem)
    size(["resources", "mem_per_node"], res.memPerNode)
    size(["resources", "mem_per_cpu"], res.memPerCPU)
    int(["resources", "ngpus"], res.ngpus)
    int(["resources", "ngpus_per_node"], res.ngpusPerNode)
    str(["resources", "walltime"], res.walltime)
    str(["resources", "work_dir"], res.workDir)
    size(["resources", "work_size"], res.workSize)
    size(["resources", "work_size_per_node"], res.workSizePerNode)
    size(["resources", "work_size_per_cpu"], res.workSizePerCPU)
    for p in res.props { str(["resources", "props", p.key], p.value) }
    list(["excluded_files"], r.excludedFiles)
    list(["included_files"], r.includedFiles)
    list(["transfer_mode"], r.transferMode)
    list(["depend"], r.depend)
    if let l = r.loopInfo {
        int(["loop_info", "start"], l.start)
        int(["loop_info", "end"], l.end)
        str(["loop_info", "archive"], l.archive)
        str(["loop_info", "archive_format"], l.archiveFormat)
        int(["loop_info", "current"], l.current)
        list(["loop_info", "archive_mode"], l.archiveMode)
    }
    str(["account"], r.account)
    str(["server"], r.server)
    str(["interpreter"], r.interpreter)
    time(["start_time"], r.startTime)
    str(["main_node"], r.mainNode)
    list(["all_nodes"], r.allNodes)
    str(["work_dir"], r.workDir)
    time(["completion_time"], r.completionTime)
    int(["job_exit_code"], r.jobExitCode)
    str(["runner"], r.runner)
    int(["runner_pid"], r.runnerPID)
    str(["cluster"], r.cluster)
    str(["pid_ns"], r.pidNamespace)
    str(["phase"], r.phase?.rawValue)
    time(["heartbeat"], r.heartbeat)
    int(["heartbeat_interval"], r.heartbeatInterval)
    int(["restarts"], r.restarts)
    str(["array_job_id"], r.arrayJobID)
    str(["array_task_id"], r.arrayTaskID)
    str(["kill_reason"], r.killReason?.rawValue)
    int(["script_exit_code"], r.scriptExitCode)
    str(["error"], r.error)
    list(["signals"], r.signals)
    if let s = r.stageIn {
        int(["stage_in", "files"], s.files)
        int(["stage_in", "bytes"], s.bytes)
        float(["stage_in", "seconds"], s.seconds)
    }
    if let s = r.stageOut {
        str(["stage_out", "mode"], s.mode.rawValue)
        int(["stage_out", "files"], s.files)
        int(["stage_out", "bytes"], s.bytes)
        float(["stage_out", "seconds"], s.seconds)
        if s.errors != 0 { int(["stage_out", "errors"], s.errors) }
        if s.deleted != 0 { int(["stage_out", "deleted"], s.deleted) }
        if s.notCopied != 0 { int(["stage_out", "not_copied"], s.notCopied) }
        list(["stage_out", "not_copied_paths"], s.notCopiedPaths)
    }
    if let u = r.usage {
        int(["usage", "max_rss"], u.maxRSS)
        float(["usage", "user_cpu"], u.userCPU)
        float(["usage", "sys_cpu"], u.sysCPU)
    }
    bool(["synchronized"], r.synchronized)
    time(["wiped"], r.wiped)
    return out
}

/// Prints one line per leaf: hex(path joined by \x01), Python type name, hex(str(value)).
/// A non-string key shows up as `!<type>:<value>`, so it can never match an expected path.
private let pythonLoader = """
    import sys, yaml
    def hx(s): return s.encode('utf-8', 'surrogatepass').hex()
    def walk(p, v):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(p + [k if isinstance(k, str) else '!' + type(k).__name__ + ':' + str(k)], x)
        elif isinstance(v, list):
            for i, x in enumerate(v): walk(p + [str(i)], x)
        else:
            print(hx('\\x01'.join(p)) + '\\t' + type(v).__name__ + '\\t' + hx(str(v)))
    for f in sys.argv[1:]:
        print('FILE\\t' + f)
        with open(f, encoding='utf-8') as h: data = yaml.safe_load(h)
        if not isinstance(data, dict): print('NOTDICT'); continue
        walk([], data)
    """

private func unhex(_ s: Substring) -> String {
    var bytes: [UInt8] = []
    var it = s.utf8.makeIterator()
    func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : (c | 0x20) - 87 }
    while let hi = it.next(), let lo = it.next() { bytes.append(nibble(hi) << 4 | nibble(lo)) }
    return String(decoding: bytes, as: UTF8.self)
}

/// Writes each record with the encoder, loads all with PyYAML, and lists every difference.
/// With `writeWithEncoder: false` the records' names are the files to load.
private func yaml11Problems(_ records: [(String, InfoRecord)], writeWithEncoder: Bool = true) -> [String] {
    let dir = S.makeTempDir()
    defer { S.removeTree(dir) }
    var files: [String] = []
    for (i, (name, record)) in records.enumerated() {
        guard writeWithEncoder else { files.append(name); continue }
        let path = "\(dir)/\(i).qqinfo"
        S.writeText(InfoFileCodec.encode(record), to: path)
        files.append(path)
    }
    guard let result = S.run(["/usr/bin/python3", "-c", pythonLoader] + files, stdoutPath: dir + "/loaded.txt"),
          result.status == 0 else {
        return ["PyYAML could not load the writer's output"]
    }
    var loaded: [String: [String: Leaf]] = [:]
    var current = ""
    for line in result.output.split(separator: "\n") {
        let parts = line.split(separator: "\t", omittingEmptySubsequences: false)
        if parts.first == "FILE", parts.count == 2 { current = String(parts[1]); loaded[current] = [:]; continue }
        if parts.first == "NOTDICT" { loaded[current] = nil; continue }
        guard parts.count == 3 else { continue }
        loaded[current, default: [:]][unhex(parts[0])] = Leaf(type: String(parts[1]), text: unhex(parts[2]))
    }
    var problems: [String] = []
    for (i, (name, record)) in records.enumerated() {
        guard var got = loaded[files[i]] else { problems.append("\(name): not loaded as a mapping"); continue }
        let unknown = Set(record.unknownEntries.map(\.key))
        got = got.filter { !unknown.contains(String($0.key.split(separator: "\u{1}").first ?? "")) }
        let want = expectedLeaves(record)
        for (path, leaf) in want where got[path] != leaf {
            problems.append("\(name): \(path.split(separator: "\u{1}").joined(separator: ".")): wrote \(leaf), YAML 1.1 read \(got[path].map(\.description) ?? "nothing")")
        }
        for path in got.keys where want[path] == nil {
            problems.append("\(name): unexpected \(path.split(separator: "\u{1}").joined(separator: ".")) = \(got[path].map(\.description) ?? "")")
        }
    }
    return problems
}
