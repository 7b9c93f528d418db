import Glibc
@testable import QQCore

/// Paths, files and processes for the state-file tests, in plain Glibc (no Foundation).
enum StateFileTestSupport {
    /// The repository root: `#filePath` is `<root>/Tests/QQCoreTests/<file>.swift`.
    static func repoRoot(filePath: String = #filePath) -> String {
        var parts = filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }

    static var fixturesDir: String { repoRoot() + "/Tests/Fixtures/qqinfo" }

    /// `../shared/fixtures/qqinfo` relative to the repository root (R148), present in CI.
    static var sharedFixturesDir: String { repoRoot() + "/../shared/fixtures/qqinfo" }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Files under `dir` whose names end in `suffix`, recursively, sorted.
    static func files(under dir: String, suffix: String) -> [String] {
        var out: [String] = []
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        while let entry = readdir(d) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name == "." || name == ".." { continue }
            let path = dir + "/" + name
            if isDirectory(path) {
                out += files(under: path, suffix: suffix)
            } else if name.hasSuffix(suffix) {
                out.append(path)
            }
        }
        return out.sorted()
    }

    static func fixtures() -> [String] { files(under: fixturesDir, suffix: ".qqinfo") }

    static func fixture(_ name: String) -> String { fixturesDir + "/" + name }

    static func readBytes(_ path: String) -> [UInt8] {
        (try? FileSystem.readBytes(path)) ?? []
    }

    static func readText(_ path: String) -> String { String(decoding: readBytes(path), as: UTF8.self) }

    static func writeText(_ text: String, to path: String, mode: mode_t = 0o644) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { return }
        _ = Array(text.utf8).withUnsafeBytes { writeAllBytes(fd, $0) }
        close(fd)
    }

    static func makeTempDir() -> String {
        var template = Array("/tmp/qq-statefile-test-XXXXXX".utf8CString)
        let ok = template.withUnsafeMutableBufferPointer { buf -> Bool in
            guard let base = buf.baseAddress else { return false }
            return mkdtemp(base) != nil
        }
        guard ok else { return "/tmp" }
        return template.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return "/tmp" }
            return String(cString: base)
        }
    }

    /// Names in a directory (no recursion), sorted.
    static func names(in dir: String) -> [String] {
        var out: [String] = []
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        while let entry = readdir(d) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { out.append(name) }
        }
        return out.sorted()
    }

    static func removeTree(_ path: String) {
        guard path.hasPrefix("/tmp/qq-statefile-test-") else { return }
        for name in names(in: path) {
            let p = path + "/" + name
            if isDirectory(p) { removeTree(p) } else { unlink(p) }
        }
        rmdir(path)
    }

    static func environment(_ name: String) -> String? {
        guard let v = getenv(name) else { return nil }
        return String(cString: v)
    }

    /// Runs `argv` (absolute program path first) with stdout to a file; returns exit status and stdout.
    static func run(_ argv: [String], stdoutPath: String) -> (status: Int32, output: String)? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cargs.append(nil)
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        guard let program = argv.first,
              posix_spawn(&pid, program, &actions, nil, cargs, environ) == 0 else { return nil }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return nil }
        }
        let exited = (status & 0x7F) == 0
        return (exited ? (status >> 8) & 0xFF : 128 + (status & 0x7F), readText(stdoutPath))
    }

    /// True when Debian's python3 can import PyYAML (the YAML 1.1 check needs it, R149).
    static let pyYAMLAvailable: Bool = {
        guard access("/usr/bin/python3", X_OK) == 0 else { return false }
        let dir = makeTempDir()
        defer { removeTree(dir) }
        return run(["/usr/bin/python3", "-c", "import yaml"], stdoutPath: dir + "/out")?.status == 0
    }()

    /// CI sets QQ_TEST_FULL=1: then a missing PyYAML is a failure, not a skip.
    static var fullTestRun: Bool { environment("QQ_TEST_FULL") == "1" }
}

/// The record of every example, built in code: all fields and extension fields set.
func sampleRecord() -> InfoRecord {
    var r = InfoRecord(batchSystem: .slurm, qqVersion: "1.0.0", username: "jdoe", jobID: "2345678",
                       jobName: "run.sh", scriptName: "run.sh", queue: "debug", jobType: .standard,
                       inputMachine: "login1", inputDir: "/users/jdoe/sim", jobState: .finished,
                       submissionTime: Timestamp(year: 2025, month: 3, day: 14, hour: 9, minute: 26, second: 53),
                       stdoutFile: "run.out", stderrFile: "run.err",
                       resources: Resources(nnodes: 1, ncpus: 8, mem: Size(kilobytes: 16_777_216),
                                            walltime: "48:00:00", workDir: "scratch",
                                            props: [KeyValue("cl_zia", "true")]))
    r.transferMode = ["success"]
    r.startTime = Timestamp(year: 2025, month: 3, day: 14, hour: 9, minute: 30, second: 0)
    r.mainNode = "node07"
    r.allNodes = ["node07"]
    r.workDir = "/scratch/jdoe/qq-jobs/job_2345678"
    r.completionTime = Timestamp(year: 2025, month: 3, day: 14, hour: 10, minute: 0, second: 0)
    r.jobExitCode = 0
    r.runner = "qq-run 1.0.0"
    r.runnerPID = 4711
    r.phase = .done
    r.stageIn = StageInStats(files: 3, bytes: 4096, seconds: 1.84)
    r.stageOut = StageOutStats(mode: .transfer, files: 2, bytes: 2048, seconds: 12.0)
    r.usage = Usage(maxRSS: 1024, userCPU: 3.5, sysCPU: 0.25)
    r.synchronized = true
    return r
}
