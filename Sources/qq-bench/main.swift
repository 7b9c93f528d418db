import CQQSystem
import Glibc
import QQCore

// qq-bench: qq-run against rsync -a and cp -a, side by side, for pairs of file systems (issue 13):
// the input dir on one, the work dir (scratch) on the other. scripts/benchmark mounts the file
// systems and passes them as --pair; without --pair both sides are directories under --dir.
// Every tool copies into a fresh directory; the tool order rotates between repetitions; `sync` runs
// before each timed step so that earlier writes are not flushed during a later measurement.

let usage = """
    usage: qq-bench [--pair NAME KIND INPUT SCRATCH]... [--dir D] [--runs N] [--qq-run PATH] [--keep]
           qq-bench --stage-in SRC DST | --stage-out WORK INPUT
    For each pair: the whole job (qq-run --local against rsync and cp -a round trips), stage-in,
    stage-out after 1 % changed, and 2 x 512 MiB, with the goals of KIND (shared, local or disk).
    Without --pair: one local pair under D (default ./qq-bench-tmp-<pid>).
    """

/// One file-system pair: the input dir lives on `input`, the work dirs on `scratch`.
struct Pair {
    var name: String
    var kind: Kind
    var input: String
    var scratch: String
    enum Kind: String { case shared, local, disk }
}

/// What the command line asks for.
struct BenchOptions {
    var dir: String?
    var runs = 3
    var keep = false
    var qqRun: String?
    var pairs: [Pair] = []
    var stageIn: (source: String, destination: String)?
    var stageOut: (work: String, input: String)?
}

/// Every word must be understood: a typo must not start a long benchmark in the wrong place.
func readOptions(_ arguments: [String]) -> CommandLineRequest<BenchOptions> {
    var o = BenchOptions()
    var scanner = ArgumentScanner(arguments, flags: ["--keep", "--help", "-h"],
                                  valued: ["--dir", "--runs", "--pair", "--qq-run", "--stage-in", "--stage-out"])
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
            case .option("--pair", let name):
                let kindWord = try scanner.value(for: "--pair")
                guard let kind = Pair.Kind(rawValue: kindWord) else {
                    throw .invalid("--pair \(name): the kind is shared, local or disk, not '\(kindWord)'")
                }
                let input = try scanner.value(for: "--pair"), scratch = try scanner.value(for: "--pair")
                o.pairs.append(Pair(name: name, kind: kind, input: input, scratch: scratch))
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
let selfPath: String = FileSystem.readLink("/proc/self/exe") ?? CommandLine.arguments[0]
let qqRun = options.qqRun ?? (FileSystem.directoryName(selfPath) + "/qq-run")
// The engine as qq-run builds it from the same settings (`QQ_COPY_STREAMS`, `QQ_VERIFY`, the config
// file): without QQ_COPY_STREAMS its streams adapt to the file systems.
let settings = Settings.load(environment: Environment.current())
func makeEngine() -> CopyEngine { CopyEngine(streams: settings.copyStreams, verifyChecksum: settings.verifyChecksum) }
let control: Set<PathBytes> = [PathBytes(".qq-run-marker".utf8), PathBytes(".qq-run-manifest".utf8), PathBytes(".qq-run-not-copied".utf8)]

// Diagnostics: `qq-bench --stage-in SRC DST` / `--stage-out WORK INPUT` time one engine call (for strace/perf).
if let (source, destination) = options.stageIn {
    let t0 = now()
    var manifest = Manifest()
    let stats = makeEngine().stageIn(from: source, to: destination, filter: StageFilter(), manifest: &manifest)
    let t1 = now()
    try? manifest.write(to: destination)
    print("stage-in: \(stats.files) files, \(stats.bytes) bytes, \(stats.failures.count) failures, \(stats.streams) streams, \(seconds(t1 - t0)) (+ manifest \(seconds(now() - t1)))")
    exit(ExitStatus.success.code)
}
if let (work, input) = options.stageOut {
    let manifest = Manifest.read(from: work)
    let t0 = now()
    let out = makeEngine().stageOut(from: work, to: input, manifest: manifest, controlFiles: control, includedNames: [])
    print("stage-out: \(out.stats.files) files, \(out.stats.streams) streams, \(out.stats.failures.count) failures, \(out.deleted.count) deleted, \(seconds(now() - t0))")
    exit(ExitStatus.success.code)
}
if access(qqRun, X_OK) != 0 { fail("no qq-run at '\(qqRun)' (use --qq-run)") }

var pairs = options.pairs
var ownBase: String?
if pairs.isEmpty {
    let base = options.dir ?? (FileSystem.currentDirectory() + "/qq-bench-tmp-\(getpid())")
    if FileSystem.lstat(base) != nil && options.dir == nil { fail("'\(base)' exists") }
    makeDirectory(base)
    makeDirectory(base + "/input")
    makeDirectory(base + "/scratch")
    ownBase = base
    pairs = [Pair(name: "\(base) -> same", kind: .local, input: base + "/input", scratch: base + "/scratch")]
}

let engine = makeEngine()
print("qq-bench: 10,000 x 4 KiB files in 100 dirs (39mb) and 2 x 512 MiB per pair; medians of \(runs) runs, tool order rotated;")
print("  \(cqq_online_cpus()) CPUs; engine streams " + (engine.adaptive ? "adaptive (up to \(engine.streams))" : "fixed at \(engine.streams) (QQ_COPY_STREAMS)")
      + (engine.verifyChecksum ? "; QQ_VERIFY=checksum" : "") + "; load average at start \(loadAverage())")
print("")

/// The engine's stage-in of `source` into a new `destination` with its manifest, as qq-run makes it:
/// the statistics, the manifest and the seconds both took. Any failure ends the benchmark.
func engineStageIn(_ source: String, _ destination: String) -> (CopyStatistics, Manifest, Double) {
    makeDirectory(destination)
    let t0 = now()
    var manifest = Manifest()
    let stats = engine.stageIn(from: source, to: destination, filter: StageFilter(), manifest: &manifest)
    do { try manifest.write(to: destination) } catch { fail("manifest: \(error)") }
    let t = now() - t0
    if let first = stats.failures.first { fail("engine stage-in of '\(source)': \(first)") }
    return (stats, manifest, t)
}

/// Removes the copies `<root>/<prefix>*` a row made (after the row: see the whole job).
func removeCopies(_ root: String, prefix: String) {
    runTimed(["/bin/sh", "-c", "rm -rf \"$1\"/\"$2\"*", "sh", root, prefix])
    sync()
}

/// Times per tool; the order of the tools rotates between runs. `reps` overrides `runs` per tool.
func measure(_ tools: [String], reps: [String: Int] = [:], _ run: (String, Int) -> Double) -> [String: [Double]] {
    var times: [String: [Double]] = [:]
    for r in 0..<runs {
        for k in 0..<tools.count {
            let tool = tools[(k + r) % tools.count]
            if r >= reps[tool, default: runs] { continue }
            sync()
            times[tool, default: []].append(run(tool, r))
        }
    }
    return times
}

/// One line of the table.
struct Row {
    var pair: String
    var label: String
    var qq: Double
    var rsync: Double?
    var cp: Double?
    var cpRuns: Int
    /// "rsync" or "cp": what the ratio and the goal compare with.
    var against: String
    var goal: Double?
    var streams: String
    var ratio: Double { (against == "rsync" ? rsync ?? .nan : cp ?? .nan) / qq }
    var met: String { goal.map { ratio >= $0 ? "yes" : "NO" } ?? "-" }
}
var rows: [Row] = []
var rssLines: [String] = []

func rss(_ kb: Int64?) -> String { kb.map { Size.format(kilobytes: $0) } ?? "n/a" }

for pair in pairs {
    let tag = "qq-bench-\(getpid())"
    let inRoot = pair.input + "/" + tag + "-in", workRoot = pair.scratch + "/" + tag + "-work"
    makeDirectory(inRoot)
    makeDirectory(workRoot)
    let small = inRoot + "/small", big = inRoot + "/big", scratchRoot = workRoot + "/scratch"
    makeDirectory(scratchRoot)
    // The tree is made on the work side and copied in with 16 fixed streams: writing 10,000 files
    // one by one into a network file system would take longer than the benchmark.
    let seed = workRoot + "/seed"
    makeSmallTree(seed)
    makeDirectory(small)
    var seedManifest = Manifest()
    let seeded = CopyEngine(streams: 16).stageIn(from: seed, to: small, filter: StageFilter(), manifest: &seedManifest)
    if !seeded.failures.isEmpty { fail("cannot copy the tree into '\(small)': \(seeded.failures[0])") }
    let script = Array("#!/bin/bash\ntrue\n".utf8)
    script.withUnsafeBytes { writeFile(small + "/job.sh", $0, count: script.count) }
    makeLargeFiles(big)
    sync()
    print("\(pair.name): trees ready in \(inRoot); work dirs in \(workRoot)")
    fflush(nil)  // progress shows at once when the output is a file

    let firstRow = rows.count
    // Stage-in only: the engine in this process against rsync -a. The copies are removed after the
    // row, not between runs, for the same reason as the whole job is measured last.
    var inStreams = Set<Int>()
    let inTimes = measure(["engine", "rsync"]) { tool, r in
        let w = workRoot + "/in-\(tool)-\(r)"
        var t = 0.0
        if tool == "engine" {
            let (stats, _, seconds) = engineStageIn(small, w)
            t = seconds
            inStreams.insert(stats.streams)
        } else {
            t = runTimed(["rsync", "-a", small + "/", w + "/"])
        }
        return t
    }
    removeCopies(workRoot, prefix: "in-")
    rows.append(Row(pair: pair.name, label: "stage-in", qq: median(inTimes["engine"]!), rsync: median(inTimes["rsync"]!), cp: nil,
                    cpRuns: 0, against: "rsync", goal: pair.kind == .shared ? 3 : nil, streams: streamText(inStreams)))

    // Stage-out after the job changed 1 % of the files (new content in 100 of them).
    var outStreams = Set<Int>()
    let outTimes = measure(["engine", "rsync"]) { tool, r in
        let w = workRoot + "/out-\(tool)-\(r)"
        var t = 0.0
        if tool == "engine" {
            let (_, manifest, _) = engineStageIn(small, w)
            let changed = changeOnePercent(w, seed: UInt64(r + 1))
            sync()
            let t0 = now()
            let out = engine.stageOut(from: w, to: small, manifest: manifest, controlFiles: control, includedNames: [])
            t = now() - t0
            if !out.stats.failures.isEmpty || out.stats.files != changed {
                fail("engine stage-out copied \(out.stats.files) of \(changed) files, \(out.stats.failures.first.map { "\($0)" } ?? "")")
            }
            outStreams.insert(out.stats.streams)
        } else {
            runTimed(["rsync", "-a", small + "/", w + "/"])
            _ = changeOnePercent(w, seed: UInt64(r + 101))
            sync()
            t = runTimed(["rsync", "-a", w + "/", small + "/"])
        }
        return t
    }
    removeCopies(workRoot, prefix: "out-")
    rows.append(Row(pair: pair.name, label: "stage-out, 1 % changed", qq: median(outTimes["engine"]!), rsync: median(outTimes["rsync"]!),
                    cp: nil, cpRuns: 0, against: "rsync", goal: pair.kind == .shared ? 20 : nil, streams: streamText(outStreams)))

    // Two 512 MiB files, stage-in against cp -a.
    var bigStreams = Set<Int>()
    let bigTimes = measure(["engine", "cp"]) { tool, r in
        let w = workRoot + "/big-\(tool)-\(r)"
        var t = 0.0
        if tool == "engine" {
            let (stats, _, seconds) = engineStageIn(big, w)
            if stats.bytes != 1 << 30 { fail("engine stage-in of '\(big)': \(stats.bytes) bytes") }
            t = seconds
            bigStreams.insert(stats.streams)
        } else {
            t = runTimed(["cp", "-a", big, w])
        }
        runTimed(["rm", "-rf", w])
        return t
    }
    rows.append(Row(pair: pair.name, label: "2 x 512 MiB", qq: median(bigTimes["engine"]!), rsync: nil, cp: median(bigTimes["cp"]!),
                    cpRuns: bigTimes["cp"]!.count, against: "cp", goal: 1.0, streams: streamText(bigStreams)))

    // Whole job: stage-in, the empty script, stage-out, removal. Measured last: its removals (part of
    // every tool's job) leave recently freed inodes that slow creates on ext4 without a journal
    // (notes/filesystems.md), which would weigh on whichever tool ran first in the rows after it.
    // cp -a into a network file system copies every xattr with a round trip each: on `shared` pairs
    // it runs once.
    var rssOf: [String: Int64] = [:]
    var jobStreams = "-"
    let jobTimes = measure(["qq-run", "rsync", "cp"], reps: pair.kind == .shared ? ["cp": 1] : [:]) { tool, r in
        let (t, kb): (Double, Int64?)
        switch tool {
        case "qq-run":
            (t, kb) = runMeasured([qqRun, "--local", "job.sh"], in: small, extraEnvironment: ["QQ_SCRATCH_ROOT=" + scratchRoot])
            if let record = try? InfoFile.load(path: small + "/job.qqinfo") {
                guard record.jobState == .finished, record.stageOut?.files ?? 0 >= 2 else {
                    fail("qq-run --local in '\(small)' ended \(record.jobState.rawValue): \(record.error ?? "see job.err")")
                }
                jobStreams = "\(record.stageIn?.streams.map(String.init) ?? "?")/\(record.stageOut?.streams.map(String.init) ?? "?")"
            }
        case "rsync":
            let w = workRoot + "/job-rsync-\(r)"
            (t, kb) = runMeasured(["/bin/sh", "-c", "rsync -a \"$1/\" \"$2/\" && (cd \"$2\" && bash job.sh) && rsync -a \"$2/\" \"$1/\" && rm -rf \"$2\"",
                                   "sh", small, w])
        default:
            let w = workRoot + "/job-cp-\(r)"
            (t, kb) = runMeasured(["/bin/sh", "-c", "cp -a \"$1\" \"$2\" && (cd \"$2\" && bash job.sh) && cp -a \"$2/.\" \"$1/\" && rm -rf \"$2\"",
                                   "sh", small, w])
        }
        if let kb { rssOf[tool] = max(rssOf[tool] ?? 0, kb) }
        return t
    }
    let jobGoal: Double = pair.kind == .shared ? 5 : pair.kind == .local ? 3 : 1
    rows.insert(Row(pair: pair.name, label: "whole job", qq: median(jobTimes["qq-run"]!), rsync: median(jobTimes["rsync"]!),
                    cp: median(jobTimes["cp"]!), cpRuns: jobTimes["cp"]!.count, against: "rsync", goal: jobGoal, streams: jobStreams), at: firstRow)
    rssLines.append("\(pair.name): qq-run \(rss(rssOf["qq-run"])) (with the script), rsync -a \(rss(rssOf["rsync"])), cp -a \(rss(rssOf["cp"]))")

    if !options.keep {
        sync()
        runTimed(["rm", "-rf", inRoot])
        runTimed(["rm", "-rf", workRoot])
    }
    print("\(pair.name): done (load average \(loadAverage()))")
    fflush(nil)
}

// Wrapper overhead: qq-run --local around an empty script in a fresh directory (no stage-in).
let overheadDir = (ownBase ?? pairs[0].scratch) + "/qq-bench-overhead-\(getpid())"
makeDirectory(overheadDir)
let overhead = measure(["qq-run", "bash"]) { tool, r in
    let dir = overheadDir + "/\(tool)-\(r)"
    makeDirectory(dir)
    let script = Array("#!/bin/bash\n".utf8)
    script.withUnsafeBytes { writeFile(dir + "/job.sh", $0, count: script.count) }
    if tool == "bash" { return runTimed(["bash", "job.sh"], in: dir) }
    return runTimed([qqRun, "--local", "job.sh"], in: dir)
}
runTimed(["rm", "-rf", overheadDir])
if let ownBase, !options.keep { runTimed(["rm", "-rf", ownBase]) }

// The table.
print("")
let header = [padRight("where (input dir -> work dir)", 34), padRight("case", 23), padLeft("qq-run", 9), padLeft("rsync -a", 9),
              padLeft("cp -a", 11), padLeft("ratio", 13), padLeft("goal", 14), padLeft("met", 4), padLeft("streams", 9)]
print(header.joined(separator: " "))
var lastPair = ""
for row in rows {
    let cp = row.cp.map { seconds($0) + (row.cpRuns == 1 && runs > 1 ? "¹" : " ") } ?? "-"
    let cells = [padRight(row.pair == lastPair ? "" : row.pair, 34), padRight(row.label, 23), padLeft(seconds(row.qq), 9),
                 padLeft(row.rsync.map(seconds) ?? "-", 9), padLeft(cp, 11),
                 padLeft("\(fixed(row.ratio, row.against == "rsync" ? 1 : 2))x \(row.against == "rsync" ? "rsync" : "cp")", 13),
                 padLeft(row.goal.map { ">= \(fixed($0, 1))x" } ?? "-", 14), padLeft(row.met, 4), padLeft(row.streams, 9)]
    print(cells.joined(separator: " "))
    lastPair = row.pair
}
if rows.contains(where: { $0.cpRuns == 1 }) && runs > 1 { print("¹ one run (cp -a into a network file system takes tens of seconds)") }
print("ratio: the other tool's median time / qq-run's; whole job: qq-run --local (stage-in, empty script, stage-out,")
print("work-dir removal) against rsync -a in + rsync -a back + rm -rf (and cp -a the same way); streams: stage-in/stage-out")
print("streams qq-run recorded in job.qqinfo, or the engine's (stage-in, stage-out and 2 x 512 MiB rows).")
print("")
print("Peak RSS (whole job, largest process):")
for line in rssLines { print("    " + line) }
let extra = median(overhead["qq-run"]!) - median(overhead["bash"]!)
print("qq-run overhead over bash, an empty script without stage-in: \(fixed(extra * 1000, 1)) ms (goal <= 10 ms: \(extra <= 0.010 ? "yes" : "NO"))")
let missed = rows.filter { $0.met == "NO" }.count
print("Goals: \(rows.filter { $0.goal != nil }.count - missed) met, \(missed) not met; load average at the end \(loadAverage())")
