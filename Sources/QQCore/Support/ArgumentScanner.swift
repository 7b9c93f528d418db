/// Reads a command line word by word, the one way every qq tool takes its options: long and short
/// flags, options with a value (`--older-than 7d` or `--older-than=7d`), positional words, and
/// `--`, after which every word is positional. A lone `-` is positional (a path). Short flags do
/// not combine (`-sy` is unknown): no tool has two short flags a user would join.
///
/// The tool says which words are flags and which take a value; everything else starting with `-`
/// is an unknown option. The tool handles the words in order, so the first of `--help` and an
/// error wins, as with getopt.
package struct ArgumentScanner {
    package enum Word: Sendable, Equatable {
        /// A flag, as typed (`-s` or `--short`).
        case flag(String)
        /// An option and its value.
        case option(String, value: String)
        case positional(String)
    }

    /// What is wrong with the command line. The description is the sentence after `<tool>: error: `.
    package enum Problem: Error, Sendable, Equatable, CustomStringConvertible {
        case unknownOption(String)
        case missingValue(option: String)
        /// `--yes=no`: a flag given a value; refused rather than read as `--yes`.
        case unexpectedValue(option: String, value: String)
        case unexpectedArgument(String)
        /// A rule of the tool's own (two options that exclude each other, a bad value…).
        case invalid(String)

        package var description: String {
            switch self {
            case .unknownOption(let word): return "unrecognized option '\(word)'"
            case .missingValue(let option): return "\(option) needs a value"
            case .unexpectedValue(let option, let value): return "\(option) takes no value (got '\(option)=\(value)')"
            case .unexpectedArgument(let word): return "unexpected argument '\(word)'"
            case .invalid(let message): return message
            }
        }
    }

    private let flags: Set<String>
    private let valued: Set<String>
    /// Flags that also take `--name=value` (qq-info's `--tail[=N]`).
    private let optionallyValued: Set<String>
    private let optionsEndAtFirstPositional: Bool
    private var words: ArraySlice<String>
    private var optionsEnded = false

    /// `optionsEndAtFirstPositional`: options only before the first positional word (qq-run, whose
    /// script arguments follow the script path; the `qq` front command, whose sub-command does).
    package init(_ arguments: [String], flags: Set<String>, valued: Set<String> = [],
                 optionallyValued: Set<String> = [], optionsEndAtFirstPositional: Bool = false) {
        self.words = arguments[...]
        self.flags = flags.union(optionallyValued)
        self.valued = valued
        self.optionallyValued = optionallyValued
        self.optionsEndAtFirstPositional = optionsEndAtFirstPositional
    }

    /// The words not read yet, unchanged (after the first positional word: its arguments).
    package var rest: [String] { Array(words) }

    /// The next word, or nil at the end.
    package mutating func next() throws(Problem) -> Word? {
        guard let word = words.popFirst() else { return nil }
        if optionsEnded || !word.hasPrefix("-") || word == "-" {
            if optionsEndAtFirstPositional { optionsEnded = true }
            return .positional(word)
        }
        if word == "--" {
            optionsEnded = true
            return try next()
        }
        if word.hasPrefix("--"), let eq = word.firstIndex(of: "=") {
            let name = String(word[..<eq]), value = String(word[word.index(after: eq)...])
            if valued.contains(name) || optionallyValued.contains(name) { return .option(name, value: value) }
            if flags.contains(name) { throw .unexpectedValue(option: name, value: value) }
            throw .unknownOption(word)
        }
        if valued.contains(word) { return .option(word, value: try value(for: word)) }
        if flags.contains(word) { return .flag(word) }
        throw .unknownOption(word)
    }

    /// A whole command line of a tool that takes options anywhere: `-h`/`--help` and `--version`
    /// are answered here (the first of them, or of the errors, wins); every other word goes to
    /// `take` in order, then `check` tests the rules that need all of them.
    package static func request<Options>(
        _ arguments: [String], flags: Set<String>, valued: Set<String> = [], optionallyValued: Set<String> = [],
        into options: Options,
        take: (inout Options, Word) throws(Problem) -> Void,
        check: (Options) throws(Problem) -> Void = { _ in }
    ) -> CommandLineRequest<Options> {
        var options = options
        var scanner = ArgumentScanner(arguments, flags: flags.union(["-h", "--help", "--version"]), valued: valued,
                                      optionallyValued: optionallyValued)
        do throws(Problem) {
            while let word = try scanner.next() {
                switch word {
                case .flag("-h"), .flag("--help"): return .help
                case .flag("--version"): return .version
                default: try take(&options, word)
                }
            }
            try check(options)
        } catch {
            return .usageError(error)
        }
        return .run(options)
    }

    /// The next word as a value of `option`, whatever it looks like (`--older-than -1d` reaches the
    /// duration check, which names the problem); for options that take two values, the second.
    package mutating func value(for option: String) throws(Problem) -> String {
        guard let value = words.popFirst() else { throw .missingValue(option: option) }
        return value
    }
}

extension ArgumentScanner.Problem {
    /// What the tools print on stderr before exiting 2: the problem, then the usage to fix it.
    package func message(tool: String, usage: String) -> String { "\(tool): error: \(self)\n\(usage)\n" }
}

/// What a command line asks a tool to do, once read.
package enum CommandLineRequest<Options> {
    case run(Options)
    case help
    case version
    case usageError(ArgumentScanner.Problem)
}
