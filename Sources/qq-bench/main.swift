import CQQSystem
import Glibc
import QQCore

// qq-bench: qq-run's copy engine against rsync -a and cp -a, on trees built on one file system.
// Usage: qq-bench [--dir D] [--runs N] [--keep] [--only abcd] [--qq-run PATH]
// Every copy goes into a fresh directory; trees stay until the end (deleting a big tree right before
// a copy slowed the next copy on ext4, swift-linux.md). `sync` runs before each timed copy, so that
// earlier copies' dirty pages are not written back during a later measurement. The page cache is not
// dropped: the first run is shown apart as the cold-ish one, and the median is of all runs.

let usage = """
    usage: qq-bench [--dir D] [--runs N] [--keep] [--only abcd] [--qq-run PATH]
           qq-bench --stage-in SRC DST | --stage-out WORK INPUT
    Builds trees under D (default: ./qq-bench-tmp-<pid>) and compares qq-run's copy engine with
    rsync -a and cp -a; prints first-run and median times, ratios and the goals.
    """

/// What the command line asks for.
struct BenchOptions {
    var dir: String?
    var runs = 5
    var keep = false
    var only = "abcd"
    var qqRun: String?
    var stageIn: (source: String, destination: String)?
    var stageOut: (work: String, input: String)?
}

/// Every word must be understood: a typo must not start a 2 GB benchmark in the wrong place.
func readOptions(_ arguments: [String]) -> CommandLineRequest<BenchOptions> {
    var o = BenchOptions()
    var scanner = ArgumentScanner(arguments, flags: ["--keep", "--help", "-h"],
                                  valued: ["--dir", "--runs", "--only", "--qq-run", "--stage-in", "--stage-out"])
    do throws(ArgumentScanner.Problem) {
        while let word = try scanner.next() {
            switch word {
            case .flag("--keep"): o.keep = true
            case .flag: return .help  // -h, --help
            case .positional(let w): throw .unexpectedArgument(w)
            case .option("--dir", let v): o.dir = v
            case .option("--runs", let v):
                guard let n = Int(v), n >= 1 else { throw .invalid("--runs needs a whole number of at least 1, not '\(v)'") }
                o.runs = n
            case .option("--only", let v):
                guard !v.isEmpty, v.allSatisfy({ "abcd".contains($0) }) else {
                    throw .invalid("--only takes letters of 'abcd' (the cases to run), not '\(v)'")
                }
                o.only = v
            case .option("--qq-run", let v): o.qqRun = v
            case .option("--stage-in", let v): o.stageIn = (v, try scanner.value(for: "--stage-in"))
            case .option(let name, let v): o.stageOut = (v, try scanner.value(for: name))  // --stage-out
            }
        }
    } catch {
        return .usageError(error)
    }
    return .run(o)
}

let options: BenchOptions
switch readOptions(Array(CommandLine.arguments.dropFirst())) {
case .run(let o): options = o
case .help, .version: print(usage); exit(ExitStatus.success.code)
case .usageError(let problem): StandardError.write(problem.message(tool: "qq-bench", usage: usage)); exit(ExitStatus.usage.code)
}
let runs = options.runs
let only = options.only
let keep = options.keep
let base = options.dir ?? (FileSystem.currentDirectory() + "/qq-bench-tmp-\(getpid())")
let selfPath: String = {
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buf, buf.count - 1)
    return n > 0 ? String(cString: buf) : CommandLine.arguments[0]
}()
let qqRun = options.qqRun ?? (FileSystem.directoryName(selfPath) + "/qq-run")
// The engine as qq-run would build it from the same settings (`QQ_COPY_STREAMS`, `QQ_VERIFY`, the
// config file), passed in explicitly: the engine itself reads no environment.
let settings = Settings.load(environment: Environment.current())
func makeEngine() -> CopyEngine {
    CopyEngine(streams: settings.copyStreams ?? CopyEngine.defaultStreams(), verifyChecksum: settings.verifyChecksum)
}

// Diagnostics: `qq-bench --stage-in SRC DST` / `--stage-out WORK INPUT` time one engine call (for strace/perf).
if let (source, destination) = options.stageIn {
    let t0 = now()
    var manifest = Manifest()
    let stats = makeEngine().stageIn(from: source, to: destination, filter: StageFilter(), manifest: &manifest)
    let t1 = now()
    try? manifest.write(to: destination)
    print("stage-in: \(stats.files) files, \(stats.bytes) bytes, \(stats.failures.count) failures, \(seconds(t1 - t0)) (+ manifest \(seconds(now() - t1)))")
    exit(ExitStatus.success.code)
}
if let (work, input) = options.stageOut {
    let manifest = Manifest.read(from: work)
    let t0 = now()
    let out = makeEngine().stageOut(from: work, to: input, manifest: manifest, controlFiles: [PathBytes(".qq-run-manifest".utf8)], includedNames: [])
    print("stage-out: \(out.stats.files) files, \(out.stats.failures.count) failures, \(out.deleted.count) deleted, \(seconds(now() - t0))")
    exit(ExitStatus.success.code)
}
if FileSystem.lstat(base) != nil && options.dir == nil { fail("'\(base)' exists") }
makeDirectory(base)
let engine = makeEngine()
let control: Set<PathBytes> = [PathBytes(".qq-run-marker".utf8), PathBytes(".qq-run-manifest".utf8), PathBytes(".qq-run-not-copied".utf8)]

print("qq-bench: \(runs) runs per case; trees in \(base); \(cqq_online_cpus()) CPUs; engine streams \(engine.streams)" +
      (engine.verifyChecksum ? "; QQ_VERIFY=checksum" : ""))
print("Each line: first run (cold-ish), then the median of all \(runs) runs.")
print("")

func rss(_ kb: Int64?) -> String { kb.map { Size.format(kilobytes: $0) } ?? "n/a" }

/// Times per tool, in the order the tools were given; tool order rotates between runs.
func measure(_ tools: [String], _ run: (String, Int) -> Double) -> [String: [Double]] {
    var times: [String: [Double]] = [:]
    for r in 0..<runs {
        for k in 0..<tools.count {
            let tool = tools[(k + r) % tools.count]
            sync()
            times[tool, default: []].append(run(tool, r))
        }
    }
    return times
}

func show(_ label: String, _ t: [Double]) {
    print("    " + padRight(label, 40) + padLeft(seconds(t[0]), 11) + padLeft(seconds(median(t)), 11))
}

var verdicts: [String] = []

// (a) 10,000 × 4 KiB files in 100 dirs.
if only.contains("a") {
    let src = base + "/a-src"
    makeSmallTree(src)
    let t = measure(["engine", "rsync", "cp"]) { tool, r in
        let dst = base + "/a-\(tool)-\(r)"
        switch tool {
        case "engine":
            makeDirectory(dst)
            let t0 = now()
            var manifest = Manifest()
            let stats = engine.stageIn(from: src, to: dst, filter: StageFilter(), manifest: &manifest)
            do { try manifest.write(to: dst) } catch { fail("manifest: \(error)") }
            let t = now() - t0
            if !stats.failures.isEmpty || stats.files != 10_000 { fail("engine stage-in: \(stats.files) files, \(stats.failures.first.map { "\($0)" } ?? "")") }
            return t
        case "rsync": return runTimed(["rsync", "-a", src + "/", dst + "/"])
        default: return runTimed(["cp", "-a", src, dst])
        }
    }
    // Memory, one untimed run each (the engine as a child: qq-bench --stage-in).
    for d in ["engine", "rsync", "cp"] { makeDirectory(base + "/a-memory-\(d)") }
    let engineRSS = peakRSS([selfPath, "--stage-in", src, base + "/a-memory-engine"])
    let rsyncRSS = peakRSS(["rsync", "-a", src + "/", base + "/a-memory-rsync/"])
    let cpRSS = peakRSS(["cp", "-a", src + "/.", base + "/a-memory-cp"])
    print("(a) stage-in of 10,000 x 4 KiB files in 100 dirs (39mb)")
    show("qq-run engine (with its manifest)", t["engine"]!)
    show("rsync -a", t["rsync"]!)
    show("cp -a", t["cp"]!)
    let vsRsync = median(t["rsync"]!) / median(t["engine"]!)
    let vsCp = median(t["cp"]!) / median(t["engine"]!)
    print("    small files: \(fixed(vsRsync, 1))x faster than rsync -a, \(fixed(vsCp, 1))x faster than cp -a")
    print("    peak RSS: engine \(rss(engineRSS)) (as qq-bench --stage-in), rsync -a \(rss(rsyncRSS)) (main process), cp -a \(rss(cpRSS))")
    verdicts.append("(a) small files vs rsync -a: \(fixed(vsRsync, 1))x (goal >= 3x): " + (vsRsync >= 3 ? "met" : "MISSED"))
    print("")
}

// (b) Stage-out after the job changed 1 % of those files.
if only.contains("b") {
    let src = base + "/a-src"
    if FileSystem.lstat(src) == nil { makeSmallTree(src) }
    var changed = 0
    let t = measure(["engine", "rsync"]) { tool, r in
        let input = base + "/b-in-\(tool)-\(r)", work = base + "/b-work-\(tool)-\(r)"
        runTimed(["cp", "-a", src, input])
        if tool == "engine" {
            makeDirectory(work)
            var manifest = Manifest()
            let s = engine.stageIn(from: input, to: work, filter: StageFilter(), manifest: &manifest)
            if !s.failures.isEmpty { fail("engine stage-in failed") }
            do { try manifest.write(to: work) } catch { fail("manifest: \(error)") }
            changed = changeOnePercent(work)
            sync()
            let t0 = now()
            let out = engine.stageOut(from: work, to: input, manifest: manifest, controlFiles: control, includedNames: [])
            let t = now() - t0
            if !out.stats.failures.isEmpty || out.stats.files != changed { fail("engine stage-out copied \(out.stats.files) files, \(out.stats.failures.count) failures") }
            return t
        }
        runTimed(["rsync", "-a", input + "/", work + "/"])
        _ = changeOnePercent(work)
        sync()
        return runTimed(["rsync", "-a", work + "/", input + "/"])
    }
    print("(b) stage-out after the job changed \(changed) of 10,000 files")
    show("qq-run engine (copies the \(changed) changed)", t["engine"]!)
    show("rsync -a of the whole tree back", t["rsync"]!)
    let ratio = median(t["rsync"]!) / median(t["engine"]!)
    print("    stage-out: \(fixed(ratio, 1))x faster than rsync -a")
    verdicts.append("(b) stage-out vs rsync -a: \(fixed(ratio, 1))x (goal >= 20x): " + (ratio >= 20 ? "met" : "MISSED"))
    print("")
}

// (c) Two 512 MiB files.
if only.contains("c") {
    let src = base + "/c-src"
    makeLargeFiles(src)
    let t = measure(["engine", "cp"]) { tool, r in
        let dst = base + "/c-\(tool)-\(r)"
        var t = 0.0
        if tool == "engine" {
            makeDirectory(dst)
            let t0 = now()
            var manifest = Manifest()
            let stats = engine.stageIn(from: src, to: dst, filter: StageFilter(), manifest: &manifest)
            t = now() - t0
            if !stats.failures.isEmpty || stats.bytes != 1 << 30 { fail("engine: \(stats.bytes) bytes, \(stats.failures.first.map { "\($0)" } ?? "")") }
        } else {
            t = runTimed(["cp", "-a", src, dst])
        }
        // Big files are cheap to delete (two inodes); it keeps dirty pages and disk use down.
        for i in 0..<2 { unlink(dst + "/big\(i).dat") }
        rmdir(dst)
        return t
    }
    print("(c) stage-in of 2 x 512 MiB files")
    show("qq-run engine", t["engine"]!)
    show("cp -a", t["cp"]!)
    let ratio = median(t["cp"]!) / median(t["engine"]!)
    print("    large files: \(fixed(ratio, 2))x the speed of cp -a")
    verdicts.append("(c) large files vs cp -a: \(fixed(ratio, 2))x (goal >= 0.9x): " + (ratio >= 0.9 ? "met" : "MISSED"))
    print("")
}

// (d) Wrapper overhead: qq-run --local around an empty script, alone in a fresh directory.
if only.contains("d") {
    if access(qqRun, X_OK) != 0 { fail("no qq-run at '\(qqRun)' (use --qq-run)") }
    let t = measure(["qq-run", "bash"]) { tool, r in
        let dir = base + "/d-\(tool)-\(r)"
        makeDirectory(dir)
        let script = Array("#!/bin/bash\n".utf8)
        script.withUnsafeBytes { writeFile(dir + "/job.sh", $0, count: script.count) }
        if tool == "bash" { return runTimed(["bash", "job.sh"], in: dir) }
        return runTimed([qqRun, "--local", "job.sh"], in: dir)
    }
    print("(d) wrapper overhead: an empty script, alone in a fresh directory")
    show("qq-run --local job.sh", t["qq-run"]!)
    show("bash job.sh", t["bash"]!)
    let overhead = median(t["qq-run"]!) - median(t["bash"]!)
    print("    overhead: \(fixed(overhead * 1000, 1)) ms (median qq-run - median bash)")
    let memDir = base + "/d-memory"
    makeDirectory(memDir)
    let empty = Array("#!/bin/bash\n".utf8)
    empty.withUnsafeBytes { writeFile(memDir + "/job.sh", $0, count: empty.count) }
    let qqRSS = peakRSS([qqRun, "--local", "job.sh"], in: memDir)
    let bashRSS = peakRSS(["bash", "job.sh"], in: memDir)
    print("    peak RSS: qq-run \(rss(qqRSS)), bash \(rss(bashRSS))")
    verdicts.append("(d) wrapper overhead: \(fixed(overhead * 1000, 1)) ms (goal <= 10 ms): " + (overhead <= 0.010 ? "met" : "MISSED"))
    print("")
}

print("Goals:")
for v in verdicts { print("    " + v) }

if !keep {
    sync()
    runTimed(["rm", "-rf", base])
}
