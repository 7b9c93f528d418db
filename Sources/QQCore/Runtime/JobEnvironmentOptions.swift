/// Issue 14: what the job's environment needs before the user's code runs: an env script sourced by
/// the shell that then runs the script, extra variables, a container image and its mounts, and a
/// prologue and an epilogue. Plain mode reads them from `# qq` directives and `QQ_OPT_<NAME>`
/// (environment > directive > default, R79); qq-managed mode only from `QQ_OPT_<NAME>`, because the
/// Python qq that wrote the state file knows none of these keys.
struct JobEnvironmentOptions: Sendable, Equatable {
    /// Sourced before the script, relative to the work dir.
    var envScript: String?
    /// `NAME=VALUE`, in the order given; a later entry for the same name replaces an earlier one.
    var variables: [String] = []
    /// An Apptainer/Singularity image; the script runs inside it.
    var container: String?
    /// Extra `--bind` entries besides the work dir (`src[:dst[:opts]]`).
    var containerMounts: [String] = []
    /// The launcher's name or path; nil: `apptainer`, else `singularity`, whichever is installed.
    var containerRuntime: String?
    /// Command lines run by bash in the work dir before and after the script.
    var prologue: String?
    var epilogue: String?

    /// Directive keys (after R78's normalisation) that this file owns.
    static let directiveKeys: Set<String> = ["env_script", "env", "container", "container_mounts", "container_runtime",
                                             "prologue", "epilogue"]

    /// R79's precedence for each option; `directives` is empty in qq-managed mode.
    static func read(directives d: Directives, environment env: Environment) -> JobEnvironmentOptions {
        func value(_ key: String) -> String? { env.nonEmpty(envName(key)) ?? d[key]?.trimmingBlanks }
        var o = JobEnvironmentOptions()
        o.envScript = value("env_script")
        o.container = value("container")
        o.containerRuntime = value("container_runtime")
        o.prologue = value("prologue")
        o.epilogue = value("epilogue")
        if let mounts = value("container_mounts") {
            // `:` separates source, destination and options inside one bind entry, so it is no separator here.
            o.containerMounts = mounts.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map(String.init)
        }
        // Every `env` directive counts, then QQ_OPT_ENV: per name, the environment wins.
        var entries: [(String, String)] = []
        func add(_ text: String, origin: String) {
            let words: [String]
            do { words = try ShellWords.split(text) } catch {
                Log.warningOnce("Invalid value '\(text)' for \(origin): \(error.description); ignored.")
                return
            }
            for word in words {
                guard let eq = word.firstIndex(of: "="), isVariableName(word[..<eq]) else {
                    Log.warningOnce("Invalid value '\(word)' for \(origin) (expected NAME=VALUE with a name of letters, digits and '_'); ignored.")
                    continue
                }
                let name = String(word[..<eq])
                guard !reservedNames.contains(name) else {
                    Log.warningOnce("Ignoring \(origin) entry '\(name)': qq-run sets \(name) itself (R91).")
                    continue
                }
                entries.removeAll { $0.0 == name }
                entries.append((name, String(word[word.index(after: eq)...])))
            }
        }
        for text in d.all["env"] ?? [] { add(text, origin: "directive 'env'") }
        if let text = env.nonEmpty("QQ_OPT_ENV") { add(text, origin: "QQ_OPT_ENV") }
        o.variables = entries.map { "\($0.0)=\($0.1)" }
        return o
    }

    /// `env_script` → `QQ_OPT_ENV_SCRIPT`.
    static func envName(_ key: String) -> String { "QQ_OPT_" + key.uppercased() }

    /// The variables R91 sets; an `env` entry must not change what the job's tools rely on.
    static let reservedNames: Set<String> = ["QQ_ENV_SET", "QQ_INFO", "QQ_BATCH_SYSTEM", "QQ_JOB_ID", "QQ_JOB_NAME",
                                             "QQ_INPUT_DIR", "QQ_INPUT_MACHINE", "QQ_WORK_DIR", "QQ_NNODES", "QQ_NCPUS",
                                             "QQ_NGPUS", "QQ_WALLTIME", "QQ_NODELIST", "QQ_ARRAY_INDEX", "PWD"]

    private static func isVariableName(_ s: Substring) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return s.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    /// The qq-run extension fields that record these options (W3). Exit codes are cleared: they
    /// belong to this run (a requeued job starts again).
    func record(into r: inout InfoRecord) {
        r.envScript = envScript
        r.envVariables = variables
        r.container = container
        r.containerMounts = container == nil ? [] : containerMounts
        r.prologue = prologue
        r.prologueExitCode = nil
        r.epilogue = epilogue
        r.epilogueExitCode = nil
    }
}

/// Splits a command line into words the way a POSIX shell does, without running one: blanks
/// separate words; single quotes keep everything literally; double quotes keep everything but `\`
/// before `"`, `\`, `$` or `` ` ``; an unquoted `\` keeps the next character. No expansion happens:
/// `$HOME` and `*` stay as they are.
enum ShellWords {
    struct SplitError: Error, Sendable, Equatable, CustomStringConvertible {
        let description: String
    }

    static func split(_ text: String) throws(SplitError) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var chars = Array(text)[...]
        while let c = chars.popFirst() {
            switch c {
            case " ", "\t", "\n":
                if inWord { words.append(current); current = ""; inWord = false }
            case "'":
                inWord = true
                guard let end = chars.firstIndex(of: "'") else { throw SplitError(description: "unterminated single quote") }
                current += String(chars[..<end])
                chars = chars[(end + 1)...]
            case "\"":
                inWord = true
                var closed = false
                while let d = chars.popFirst() {
                    if d == "\"" { closed = true; break }
                    if d == "\\", let next = chars.first, "\"\\$`".contains(next) {
                        current.append(next)
                        chars = chars.dropFirst()
                    } else if d == "\\", chars.first == "\n" {
                        chars = chars.dropFirst()
                    } else {
                        current.append(d)
                    }
                }
                if !closed { throw SplitError(description: "unterminated double quote") }
            case "\\":
                inWord = true
                guard let next = chars.popFirst() else { throw SplitError(description: "a '\\' at the end") }
                if next != "\n" { current.append(next) }
            default:
                inWord = true
                current.append(c)
            }
        }
        if inWord { words.append(current) }
        return words
    }
}
