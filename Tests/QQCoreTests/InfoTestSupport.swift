import Glibc
@testable import QQCore

/// Shared helpers for the batch-query and qq-info tests: temp dirs, fake commands on PATH (R148),
/// fixture paths, and R126's relaxed panel comparison.

enum TestPaths {
    /// `<repo>/Tests/QQCoreTests/InfoTestSupport.swift` → `<repo>`.
    static let repoRoot: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()
    static let fixtures = repoRoot + "/Tests/Fixtures"
    /// The reference fixtures of the conformance test (R148): `<repo>/../shared/fixtures`.
    static let sharedFixtures = FileSystem.normalizeLexically(repoRoot + "/../shared/fixtures")
}

func readText(_ path: String) -> String? { (try? FileSystem.readSmallFile(path)) }

func writeText(_ path: String, _ text: String, mode: mode_t = 0o644) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    precondition(fd >= 0, "cannot create \(path)")
    _ = Array(text.utf8).withUnsafeBytes { writeAllBytes(fd, $0) }
    fchmod(fd, mode)
    close(fd)
}

/// A fresh directory under $TMPDIR (or /tmp), removed by `remove()`.
struct TempDir: ~Copyable {
    let path: String
    init() {
        var template = Array("/tmp/qq-info-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(p != nil, "mkdtemp failed")
        path = String(cString: p!)
    }
    func file(_ name: String) -> String { path + "/" + name }
    deinit { removeTree(path) }
}

func removeTree(_ path: String) {
    if let dir = opendir(path) {
        var names: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafePointer(to: e.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(dir)
        for n in names {
            let child = path + "/" + n
            var st = stat()
            if lstat(child, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { removeTree(child) } else { unlink(child) }
        }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// Fake scheduler commands: executable `/bin/sh` scripts in a directory that is put first on
/// PATH (R148). `/usr/bin:/bin` stay after it so the scripts can use `cat`, `sleep`, ….
struct FakeCommands: ~Copyable {
    let dir = TempDir()
    func add(_ name: String, _ body: String) {
        writeText(dir.file(name), "#!/bin/sh\n" + body + "\n", mode: 0o755)
    }
    /// An environment whose PATH finds the fakes first; with `systemPath: false`, only the fakes.
    func environment(_ extra: [String: String] = [:], systemPath: Bool = true) -> Environment {
        var env = Environment(extra)
        env["PATH"] = systemPath ? dir.path + ":/usr/bin:/bin" : dir.path
        return env
    }
}

/// Every test that needs a state file parsed goes through here, to the real codec.
func decodeInfoText(_ text: String, path: String) throws(InfoFileError) -> InfoRecord {
    try InfoFileCodec.decode(text, path: path)
}

/// An `InfoLoader` over `decodeInfoText`, without torn-read delays.
let testLoader: InfoLoader = { path, _ in
    guard let text = readText(path) else {
        return .failure(.unreadable(SystemError(code: ENOENT, operation: "read", path: path)))
    }
    do throws(InfoFileError) { return .success(try decodeInfoText(text, path: path)) } catch {
        return .failure(.invalid(error))
    }
}

/// A batch system that returns a fixed answer and counts how often it was asked.
final class CannedBatchSystem: BatchSystem, @unchecked Sendable {
    let name: BatchSystemName
    let answer: @Sendable (String) -> BatchAnswer
    /// What `pendingJobs` answers, and the first script line per job id.
    let pending: Result<[BatchJobRecord], BatchUnavailableError>
    let scripts: [String: String]
    private var lock = pthread_mutex_t()
    private var _calls: [String] = []
    private var _options: [BatchQueryOptions] = []
    init(_ name: BatchSystemName = .slurm, pending: Result<[BatchJobRecord], BatchUnavailableError> = .success([]),
         scripts: [String: String] = [:], answer: @escaping @Sendable (String) -> BatchAnswer) {
        self.name = name; self.answer = answer; self.pending = pending; self.scripts = scripts
        pthread_mutex_init(&lock, nil)
    }
    /// Every call: job ids for `queryJob`, `list` for `pendingJobs`, `script <id>` for scripts.
    var calls: [String] { pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }; return _calls }
    private func record(_ call: String) { pthread_mutex_lock(&lock); _calls.append(call); pthread_mutex_unlock(&lock) }
    /// The options of every query, in order (the settings a tool handed down).
    var options: [BatchQueryOptions] { pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }; return _options }
    func queryJob(_ jobID: String, record: InfoRecord?, environment: Environment, options: BatchQueryOptions,
                  reaping: any ChildReaping) -> BatchAnswer {
        pthread_mutex_lock(&lock); _options.append(options); pthread_mutex_unlock(&lock)
        self.record(jobID)
        return answer(jobID)
    }
    func pendingJobs(environment: Environment, options: BatchQueryOptions, reaping: any ChildReaping) -> Result<[BatchJobRecord], BatchUnavailableError> {
        record("list")
        return pending
    }
    func batchScriptFirstLine(of job: BatchJobRecord, environment: Environment, options: BatchQueryOptions,
                              reaping: any ChildReaping) -> String? {
        record("script \(job.jobID)")
        return scripts[job.jobID]
    }
}

func ts(_ text: String) -> Timestamp { Timestamp(parsing: text)! }

// MARK: R126's relaxed comparison

/// A panel reduced as R126 says tests compare it: borders and rules stripped, runs of spaces
/// collapsed, empty lines dropped; RESOURCES lines become a set of `key: value` pairs.
struct NormalizedPanel: Equatable, CustomStringConvertible {
    var lines: [String]
    var resources: Set<String>
    var description: String { lines.joined(separator: "\n") + "\nRESOURCES: \(resources.sorted())" }
}

func collapse(_ line: Substring) -> String {
    let stripped = line.filter { !"│╭╮╰╯─".contains($0) }
    return stripped.split(separator: " ").joined(separator: " ")
}

/// Splits `nnodes: 1 ncpus: 8` into `["nnodes: 1", "ncpus: 8"]`.
func resourcePairs(_ line: String) -> [String] {
    var pairs: [String] = []
    var current: [Substring] = []
    for token in line.split(separator: " ") {
        if token.hasSuffix(":"), !current.isEmpty, current.count >= 2 {
            pairs.append(current.joined(separator: " ")); current = []
        }
        current.append(token)
    }
    if !current.isEmpty { pairs.append(current.joined(separator: " ")) }
    return pairs
}

let sectionTitles: Set<String> = ["RESOURCES", "HISTORY", "STAGING", "USAGE", "STATE", "STEPS"]

func normalizePanel(_ text: String) -> NormalizedPanel {
    var lines: [String] = []
    var resources = Set<String>()
    var inResources = false
    for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
        let line = collapse(raw)
        if line.isEmpty { continue }
        if sectionTitles.contains(line) { inResources = line == "RESOURCES"; lines.append(line); continue }
        if inResources { resources.formUnion(resourcePairs(line)) } else { lines.append(line) }
    }
    return NormalizedPanel(lines: lines, resources: resources)
}

/// Splits a multi-panel text (as `qq info` prints several jobs) into panels.
func splitPanels(_ text: String) -> [String] {
    var panels: [String] = []
    var current: [Substring] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("╭") { current = [] }
        current.append(line)
        if line.hasPrefix("╰") { panels.append(current.joined(separator: "\n")) }
    }
    return panels
}

/// True when every `...`-separated piece of `fragment` appears, in order and contiguous, in the
/// normalized lines of `panel`.
func panel(_ panel: String, containsFragment fragment: String) -> Bool {
    let rendered = panel.split(separator: "\n").map(collapse).filter { !$0.isEmpty }
    var from = 0
    for piece in fragment.split(separator: "...\n") {
        let want = piece.split(separator: "\n").map(collapse).filter { !$0.isEmpty && $0 != "..." }
        guard !want.isEmpty else { continue }
        var found = false
        var i = from
        while i + want.count <= rendered.count {
            if Array(rendered[i..<(i + want.count)]) == want { found = true; from = i + want.count; break }
            i += 1
        }
        if !found { return false }
    }
    return true
}
