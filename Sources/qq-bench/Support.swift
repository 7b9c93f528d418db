import CQQSystem
import Glibc
import QQCore

// Helpers of the staging benchmark: trees, timing, child processes.

func now() -> Double { monotonicSeconds() }

func fail(_ message: String) -> Never {
    StandardError.write("qq-bench: \(message)\n")
    exit(2)
}

func makeDirectory(_ path: String) {
    if mkdir(path, 0o755) != 0 && errno != EEXIST { fail("cannot create '\(path)': \(String(cString: strerror(errno)))") }
}

/// Writes `count` bytes from `buffer` to a new file.
func writeFile(_ path: String, _ buffer: UnsafeRawBufferPointer, count: Int) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    if fd < 0 { fail("cannot create '\(path)': \(String(cString: strerror(errno)))") }
    var left = count
    while left > 0 {
        let n = write(fd, buffer.baseAddress!, min(left, buffer.count))
        if n <= 0 { fail("cannot write '\(path)'") }
        left -= n
    }
    close(fd)
}

/// Pseudo-random bytes (xorshift), so the files are not all alike.
func randomBuffer(_ size: Int, seed: UInt64) -> UnsafeMutableRawBufferPointer {
    let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
    var x = seed | 1
    for i in stride(from: 0, to: size, by: 8) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17
        buf.storeBytes(of: x, toByteOffset: i, as: UInt64.self)
    }
    return buf
}

/// 100 directories × 100 files × 4 KiB under `root`.
func makeSmallTree(_ root: String, dirs: Int = 100, filesPerDir: Int = 100, size: Int = 4096) {
    makeDirectory(root)
    let buf = randomBuffer(size, seed: 42)
    defer { buf.deallocate() }
    for d in 0..<dirs {
        let dir = root + "/d" + pad(d)
        makeDirectory(dir)
        for f in 0..<filesPerDir {
            buf.storeBytes(of: UInt64(d * 1000 + f), toByteOffset: 0, as: UInt64.self)
            writeFile(dir + "/f" + pad(f), UnsafeRawBufferPointer(buf), count: size)
        }
    }
}

/// The job's edit before a stage-out: new content in the first file of every directory (1 %).
func changeOnePercent(_ root: String, seed: UInt64, dirs: Int = 100, size: Int = 4096) -> Int {
    let buf = randomBuffer(size, seed: seed &+ 7)
    defer { buf.deallocate() }
    for d in 0..<dirs { writeFile(root + "/d" + pad(d) + "/f000", UnsafeRawBufferPointer(buf), count: size) }
    return dirs
}

func makeLargeFiles(_ root: String, count: Int = 2, size: Int = 512 << 20) {
    makeDirectory(root)
    let buf = randomBuffer(1 << 20, seed: 99)
    defer { buf.deallocate() }
    for i in 0..<count { writeFile(root + "/big\(i).dat", UnsafeRawBufferPointer(buf), count: size) }
}

func pad(_ n: Int) -> String { n < 10 ? "00\(n)" : n < 100 ? "0\(n)" : "\(n)" }

/// Runs `argv` once, timed, and its peak RSS in kB from GNU time (nil without /usr/bin/time; the
/// wrapper adds about a millisecond). `extraEnvironment` entries are added to this process's.
func runMeasured(_ argv: [String], in directory: String? = nil, extraEnvironment: [String] = []) -> (Double, Int64?) {
    var environment: [String]? = nil
    if !extraEnvironment.isEmpty {
        var env: [String] = []
        var p = environ
        while let entry = p.pointee { env.append(String(cString: entry)); p += 1 }
        environment = env + extraEnvironment
    }
    guard access("/usr/bin/time", X_OK) == 0 else { return (runTimed(argv, in: directory, environment: environment), nil) }
    let out = "/tmp/.qq-bench-rss-\(getpid())"
    defer { unlink(out) }
    let t = runTimed(["/usr/bin/time", "-f", "%M", "-o", out] + argv, in: directory, environment: environment)
    guard let text = try? FileSystem.readSmallFile(out) else { return (t, nil) }
    return (t, Int64(text.split(separator: "\n").last.map { String($0).trimmingBlanks } ?? ""))
}

/// The 1-minute load average (other engines' builds show here).
func loadAverage() -> String {
    (try? FileSystem.readSmallFile("/proc/loadavg")).flatMap { $0.split(separator: " ").first.map(String.init) } ?? "?"
}

/// The engine's stream counts over the runs: "8", or "4-8" when the tuner chose differently.
func streamText(_ counts: Set<Int>) -> String {
    guard let lo = counts.min(), let hi = counts.max() else { return "-" }
    return lo == hi ? "\(lo)" : "\(lo)-\(hi)"
}

/// Runs a program (no shell), output to /dev/null, optionally in `directory`; returns seconds.
@discardableResult
func runTimed(_ argv: [String], in directory: String? = nil, environment: [String]? = nil) -> Double {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    if let directory { _ = cqq_spawn_addchdir(&actions, directory) }
    let args: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    defer { args.forEach { free($0) } }
    let env: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup($0) } + [nil] }
    defer { env?.forEach { free($0) } }
    var pid: pid_t = 0
    let t0 = now()
    let rc = env.map { e in posix_spawnp(&pid, argv[0], &actions, nil, args, e) }
        ?? posix_spawnp(&pid, argv[0], &actions, nil, args, environ)
    if rc != 0 { fail("cannot run \(argv[0]): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let t = now() - t0
    if cqq_wifexited(status) == 0 || cqq_wexitstatus(status) != 0 { fail("\(argv.joined(separator: " ")) failed (status \(status))") }
    return t
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    if s.isEmpty { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func seconds(_ t: Double) -> String {
    if t < 0.1 { return fixed(t * 1000, 1) + " ms" }
    return fixed(t, 3) + " s"
}

func fixed(_ x: Double, _ digits: Int) -> String {
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let v = (x * p).rounded() / p
    var s = "\(v)"
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
    } else if digits > 0 {
        s += "." + String(repeating: "0", count: digits)
    }
    return s
}

func padRight(_ s: String, _ width: Int) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }
func padLeft(_ s: String, _ width: Int) -> String { s.count >= width ? s : String(repeating: " ", count: width - s.count) + s }
