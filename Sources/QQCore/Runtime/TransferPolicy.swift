/// The transfer policy (R98): whether results are copied back for a script exit code.
public struct TransferPolicy: Sendable, Equatable {
    public enum Token: Sendable, Equatable {
        case success, failure, always, never
        case exitCode(Int)
    }

    public var tokens: [Token]
    /// Tokens that were neither a word nor an integer.
    public var ignored: [String]

    /// Reads the tokens of `transfer_mode`; unknown ones are ignored, and no valid token means `[success]`.
    public init(_ texts: [String]) {
        var tokens: [Token] = []
        var ignored: [String] = []
        for t in texts {
            switch t.trimmingBlanks.lowercased() {
            case "success": tokens.append(.success)
            case "failure": tokens.append(.failure)
            case "always": tokens.append(.always)
            case "never": tokens.append(.never)
            case let s:
                if let n = Int(s) {
                    tokens.append(.exitCode(n < 0 ? 128 - n : n))  // qq recorded signals as negative codes
                } else {
                    ignored.append(t)
                }
            }
        }
        self.tokens = tokens.isEmpty ? [.success] : tokens
        self.ignored = ignored
    }

    /// The OR over all tokens; `never` contributes nothing and vetoes nothing.
    public func transfers(exitCode rc: Int) -> Bool {
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
    public var isExactlyNever: Bool { tokens == [.never] }
}
