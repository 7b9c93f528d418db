/// The transfer policy (R98): whether results are copied back for a script exit code.
package struct TransferPolicy: Sendable, Equatable {
    package enum Token: Sendable, Equatable {
        case success, failure, always, never
        case exitCode(Int)
    }

    package var tokens: [Token]
    /// Tokens that were neither a word nor an exit code.
    package var ignored: [String]
    /// The valid tokens as given (lowercase), for the state file; empty when none was valid.
    package var valid: [String]

    /// Reads the tokens of `transfer_mode`; unknown ones are ignored, and no valid token means `[success]`.
    package init(_ texts: [String]) {
        var tokens: [Token] = []
        var ignored: [String] = []
        var valid: [String] = []
        for t in texts {
            let text = t.trimmingBlanks.lowercased()
            guard let token = TransferPolicy.token(text) else { ignored.append(t); continue }
            tokens.append(token)
            valid.append(text)
        }
        self.tokens = tokens.isEmpty ? [.success] : tokens
        self.ignored = ignored
        self.valid = valid
    }

    private static func token(_ text: String) -> Token? {
        switch text {
        case "success": return .success
        case "failure": return .failure
        case "always": return .always
        case "never": return .never
        default:
            guard let n = Int(text) else { return nil }
            if (0...255).contains(n) { return .exitCode(n) }
            if (-127 ... -1).contains(n) { return .exitCode(128 - n) }  // qq recorded signals as negative codes
            return nil
        }
    }

    /// The OR over all tokens; `never` contributes nothing and vetoes nothing.
    package func transfers(exitCode rc: Int) -> Bool {
        tokens.contains { token in
            switch token {
            case .success: return rc == 0
            case .failure: return rc != 0
            case .always: return true
            case .never: return false
            case .exitCode(let n): return rc == n
            }
        }
    }

    /// R113: results are rescued unless the policy is exactly `[never]`.
    package var isExactlyNever: Bool { tokens == [.never] }
}
