import Glibc

/// The `qq` front command (§3): `qq run|info|wipe|clear …` execs `qq-<sub>` without forking, so the
/// batch system's process stays qq-run (R13, R17); any other sub-command goes to another qq (R15).
package enum FrontCommand {
    package static let ownSubcommands = ["run", "info", "wipe", "clear", "sync"]

    package static let usage = """
        usage: qq <command> [args...]

        Commands provided by this installation:
          run     run a job script (used in the shebang: #!/usr/bin/env -S qq run)
          info    show the state of jobs from their .qqinfo files
          wipe    delete a job's working directory on scratch
          clear   remove runtime files of finished jobs
          sync    copy a running job's results into its input directory now

        Other commands (submit, kill, ...) are passed to the Python qq (QQ_DELEGATE, or the next
        'qq' on PATH).
        """

    /// R4: the commands that stay with the Python qq. Only these are suggested as "use the Python
    /// qq"; anything else is not a qq command at all.
    package static let pythonSubcommands = ["submit", "kill", "go", "cd", "jobs", "stat", "nodes", "queues",
                                           "shebang", "respawn"]

    /// What `qq <sub>` passes as argv[0] to `qq-<sub>`: the words the user typed. R13 keeps the
    /// arguments and the environment unchanged, so argv[0] is the one place to say it; the tools'
    /// "rerun as …" hints then name the command the user knows.
    package static func argv0(for sub: String) -> String { "qq " + sub }

    /// True when this process was started by the front command (`qq clear`, not `qq-clear`).
    package static func ranThroughFront(argv0: String? = CommandLine.arguments.first) -> Bool {
        argv0.map { $0.hasPrefix("qq ") && ownSubcommands.contains(String($0.dropFirst(3))) } ?? false
    }

    /// Returns only when it could not exec.
    package static func main(arguments: [String], environment env: Environment) -> ExitStatus {
        // Only the words before the sub-command are the front's; an option it does not know is
        // the Python qq's (R15), so the whole command line goes there unchanged.
        var scanner = ArgumentScanner(arguments, flags: ["--help", "-h", "--version"], optionsEndAtFirstPositional: true)
        let sub: String
        do {
            switch try scanner.next() {
            case nil:
                writeError(usage + "\n")
                return .usage
            case .flag("--version"):
                print("qq \(QQVersion.version)")
                return .success
            case .flag, .option:  // -h, --help; the front has no option with a value
                print(usage)
                return .success
            case .positional(let word):
                sub = word
            }
        } catch {
            return delegate(sub: arguments[0], arguments: arguments, environment: env)
        }
        let rest = scanner.rest
        guard ownSubcommands.contains(sub) else { return delegate(sub: sub, arguments: arguments, environment: env) }
        let tool = "qq-" + sub
        var candidates: [String] = []
        if let dir = ownDirectory(environment: env) { candidates.append(dir + "/" + tool) }
        if let onPath = findExecutable(tool, path: env["PATH"]) { candidates.append(onPath) }
        guard let path = candidates.first(where: { access($0, X_OK) == 0 }) else {
            writeError("qq: cannot execute '\(tool)': not found in the directory of qq or on PATH\n")
            return .cannotExecute
        }
        exec(path, [argv0(for: sub)] + rest, env)
        writeError("qq: cannot execute '\(tool)': \(String(cString: strerror(errno)))\n")
        return .cannotExecute
    }

    /// R15: `QQ_DELEGATE`, else the next `qq` on PATH that is not this file; pid-guarded.
    static func delegate(sub: String, arguments: [String], environment env: Environment) -> ExitStatus {
        if env["QQ_FRONT_DELEGATED"] == String(getpid()) {
            writeError(notDelegated(sub, why: "delegating it would run this qq again (QQ_DELEGATE or the next 'qq' on PATH leads back here)"))
            return .usage
        }
        var target: String?
        if let d = env.nonEmpty("QQ_DELEGATE") {
            target = findExecutable(d, path: env["PATH"])
            if target == nil {
                writeError(notDelegated(sub, why: "QQ_DELEGATE='\(d)' is not an executable program"))
                return .usage
            }
        } else {
            let me = FileSystem.stat("/proc/self/exe")
            for dir in (env["PATH"] ?? "").split(separator: ":") {
                let candidate = String(dir) + "/qq"
                guard let st = FileSystem.stat(candidate), st.isRegular, access(candidate, X_OK) == 0 else { continue }
                if let me, me.device == st.device, me.inode == st.inode { continue }
                target = candidate
                break
            }
        }
        guard let target else {
            writeError(notDelegated(sub, why: "no Python qq was found (QQ_DELEGATE is not set and there is no other 'qq' on PATH)"))
            return .usage
        }
        var childEnv = env
        childEnv["QQ_FRONT_DELEGATED"] = String(getpid())
        exec(target, [target] + arguments, childEnv)
        writeError("qq: cannot execute '\(target)': \(String(cString: strerror(errno)))\n")
        return .cannotExecute
    }

    /// Why `sub` could not be run, and what to do: a Python qq command needs the Python qq; any
    /// other word is not a qq command, whatever qq is installed.
    static func notDelegated(_ sub: String, why: String) -> String {
        let own = ownSubcommands.joined(separator: ", ")
        if pythonSubcommands.contains(sub) {
            return "qq: '\(sub)' is a command of the Python qq, and \(why). "
                + "Install the Python qq after this qq on PATH, or set QQ_DELEGATE to its path. "
                + "This installation provides: \(own).\n"
        }
        return "qq: '\(sub)' is not a qq command. Commands of this installation: \(own); "
            + "of the Python qq: \(pythonSubcommands.joined(separator: ", ")). See 'qq --help'.\n"
    }

    /// The directory of the running executable: /proc/self/exe, else argv[0] on PATH (R14).
    static func ownDirectory(environment env: Environment) -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        if n > 0 { return FileSystem.directoryName(String(cString: buf)) }
        let argv0 = CommandLine.arguments.first ?? ""
        if argv0.contains("/") { return FileSystem.directoryName(argv0) }
        return findExecutable(argv0, path: env["PATH"]).map(FileSystem.directoryName)
    }

    private static func exec(_ path: String, _ argv: [String], _ env: Environment) {
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.entries.map { strdup($0) } + [nil]
        execve(path, cArgs, cEnv)
        cArgs.forEach { free($0) }
        cEnv.forEach { free($0) }
    }

    private static func writeError(_ s: String) { StandardError.write(s) }
}
