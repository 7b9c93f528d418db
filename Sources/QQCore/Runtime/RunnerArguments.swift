/// qq-run's command line (R73a): options only before the first argument that does not start with
/// `-`; everything from the script path on goes to the script unchanged.
public struct RunnerArguments: Sendable, Equatable {
    public var local = false
    public var help = false
    public var version = false
    /// The script path (plain mode) or the batch system's spool copy (qq-managed mode, ignored).
    public var script: String?
    public var scriptArguments: [String] = []
    /// The command line as given, for a fallback runner that must see it unchanged (R117).
    public var raw: [String] = []

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case unknownOption(String)
        public var description: String {
            switch self { case .unknownOption(let o): return "Unknown option '\(o)'." }
        }
    }

    public static func parse(_ arguments: [String]) throws(ParseError) -> RunnerArguments {
        var result = RunnerArguments()
        result.raw = arguments
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a == "--" { i += 1; break }
            guard a.hasPrefix("-"), a != "-" else { break }
            switch a {
            case "--local": result.local = true
            case "--help", "-h": result.help = true
            case "--version": result.version = true
            default: throw .unknownOption(a)
            }
            i += 1
        }
        if i < arguments.count {
            result.script = arguments[i]
            result.scriptArguments = Array(arguments[(i + 1)...])
        }
        return result
    }

    public static let usage = """
        usage: qq-run [--local] SCRIPT [ARGS...]
               qq-run --help | --version

        Runs SCRIPT as a qq job: creates the work dir on scratch, stages the input dir in,
        runs the script, stages the results back and keeps <job>.qqinfo up to date.
        Use it as the first line of a batch script:  #!/usr/bin/env -S qq-run
        --local   run SCRIPT here in the foreground, with no scheduler (QQ_BATCH_SYSTEM=Local)
        """
}
