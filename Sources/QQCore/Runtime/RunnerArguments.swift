/// qq-run's command line (R73a): options only before the first argument that does not start with
/// `-`; everything from the script path on goes to the script unchanged.
package struct RunnerArguments: Sendable, Equatable {
    package var local = false
    package var help = false
    package var version = false
    /// The script path (plain mode) or the batch system's spool copy (qq-managed mode, ignored).
    package var script: String?
    package var scriptArguments: [String] = []
    /// The command line as given, for a fallback runner that must see it unchanged (R117).
    package var raw: [String] = []

    /// R73a: `--local`, `--help`/`-h`, `--version`, then the script path and its arguments.
    package static func parse(_ arguments: [String]) throws(ArgumentScanner.Problem) -> RunnerArguments {
        var result = RunnerArguments()
        result.raw = arguments
        var scanner = ArgumentScanner(arguments, flags: ["--local", "--help", "-h", "--version"],
                                      optionsEndAtFirstPositional: true)
        while let word = try scanner.next() {
            switch word {
            case .flag("--local"): result.local = true
            case .flag("--version"): result.version = true
            case .flag: result.help = true  // -h, --help
            case .positional(let script):
                result.script = script
                result.scriptArguments = scanner.rest
                return result
            case .option: break  // qq-run has no option with a value
            }
        }
        return result
    }

    /// R73a's message for a command line qq-run cannot read (exit 92), with the usage line.
    package static func message(for problem: ArgumentScanner.Problem) -> String {
        let what: String
        switch problem {
        case .unknownOption(let word): what = "Unknown option '\(word)'."
        default: what = problem.description.prefix(1).uppercased() + problem.description.dropFirst() + "."
        }
        return what + " Usage: \(synopsis) (options go before the script path)."
    }

    static let synopsis = "qq-run [--local] SCRIPT [ARGS...]"

    package static let usage = """
        usage: \(synopsis)
               qq-run --help | --version

        Runs SCRIPT as a qq job: creates the work dir on scratch, stages the input dir in,
        runs the script, stages the results back and keeps <job>.qqinfo up to date.
        Use it as the first line of a batch script:  #!/usr/bin/env -S qq-run
        --local   run SCRIPT here in the foreground, with no scheduler (QQ_BATCH_SYSTEM=Local)
        """
}
